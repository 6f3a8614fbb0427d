"""The simple built-in strategies, and the adapter that runs a user's scoring function.

Each strategy is a callable ``strategy(proposal) -> ndarray (n, n_dims)`` (see
:class:`~spinexplore.strategies.base.Proposal`). One with ``space_filling = True``
needs no surrogate: it runs before the first fit too, and an uncached surrogate is not
evaluated for it. Every other strategy is called only once the surrogate has seen two
phases; before that the dispatcher explores.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from spinexplore.strategies.base import Proposal
from spinexplore.strategies.batch import MIN_SEPARATION, greedy_spread

__all__ = ["ScoringStrategy", "UncertaintySampling", "boundary", "exploration", "uniform"]


def uniform(p: Proposal) -> np.ndarray:
    """``"random"``: uniform random points of the cube."""
    return p.finish([], fill_pool=False)


def exploration(p: Proposal) -> np.ndarray:
    """``"exploration"``: greedy maximin distance to every finished, pending or failed point."""
    return p.explore()


uniform.space_filling = True  # type: ignore[attr-defined]
exploration.space_filling = True  # type: ignore[attr-defined]


def boundary(p: Proposal) -> np.ndarray:
    """``"boundary"``: midpoints of differently labelled neighbours, longest gaps first."""
    ctx = p.ctx
    local = np.arange(ctx.n_pool, ctx.cand.shape[0])
    if local.size == 0:
        return p.explore()
    u = np.zeros(ctx.cand.shape[0])
    u[local] = ctx.lengths / ctx.lengths.max()
    return p.finish(p.spread(local, u))


@dataclass(frozen=True)
class UncertaintySampling:
    """Pure uncertainty sampling with one measure of :mod:`.uncertainty`, spread out.

    Parameters
    ----------
    measure : {"entropy", "margin", "least_confidence"}
        The uncertainty of the surrogate's probabilities that ranks the candidates.
    """

    measure: str

    def __call__(self, p: Proposal) -> np.ndarray:
        u = p.ctx.measure(self.measure)
        return p.finish(p.spread(np.arange(p.ctx.cand.shape[0]), u))


@dataclass(frozen=True)
class ScoringStrategy:
    """A user's function ``fn(candidates, proba, *, n, rng)`` run as a strategy.

    The function gets the candidates (ndarray (c, d) in the unit cube), the surrogate's
    phase probabilities on them (ndarray (c, k)), the batch size ``n`` and a numpy
    Generator, and returns either scores (c,) floats, higher = more wanted, which go
    through the same spread-out selection as the built-in strategies, or integer indices,
    taken as they are (too-close points dropped, gaps filled by exploration).

    Parameters
    ----------
    function : callable
        The scoring function.
    """

    function: Callable[..., Any]

    def __call__(self, p: Proposal) -> np.ndarray:
        fn, cand = self.function, p.ctx.cand
        out = np.asarray(fn(cand, p.ctx.proba, n=p.n, rng=p.rng))
        if out.ndim != 1:
            raise ValueError(
                f"a custom strategy must return scores of shape ({cand.shape[0]},) or integer "
                f"indices; {fn!r} returned shape {out.shape}"
            )
        if out.dtype.kind in "iu":
            if out.size and (out.min() < 0 or out.max() >= cand.shape[0]):
                raise ValueError(
                    f"indices returned by {fn!r} must lie in [0, {cand.shape[0]}); got "
                    f"min {out.min()}, max {out.max()}"
                )
            idx = greedy_spread(cand[out], np.linspace(1.0, 0.0, out.size), p.n, None,
                                MIN_SEPARATION, MIN_SEPARATION, d_known=p.dist.of(out))
            taken = out[idx].tolist()
        else:
            if out.shape[0] != cand.shape[0] or not np.all(np.isfinite(out)):
                raise ValueError(
                    f"a custom strategy must return finite scores of shape ({cand.shape[0]},); "
                    f"{fn!r} returned shape {out.shape}"
                )
            every = np.arange(cand.shape[0])
            taken = greedy_spread(cand, out.astype(float), p.n, None, p.r_known, p.r_batch,
                                  d_known=p.dist.of(every)).tolist()
        p.picked.extend(cand[taken])
        return p.finish(taken)
