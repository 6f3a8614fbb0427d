"""The strategy registry (``STRATEGIES``, ``register_strategy``) and ``select_batch``.

``select_batch`` validates its arguments, builds what every strategy shares (the proposal
context of the surrogate, the distances to every known point) into a
:class:`~spinexplore.strategies.base.Proposal`, and calls the strategy registered under
the requested name; a function passed instead of a name is a scoring function
(:class:`~spinexplore.strategies._builtin.ScoringStrategy`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from spinexplore._registry import Registry
from spinexplore._validation import InputTypeError, check_int, check_real
from spinexplore.strategies._builtin import (
    ScoringStrategy,
    UncertaintySampling,
    boundary,
    exploration,
    uniform,
)
from spinexplore.strategies._context import context_for, is_cacheable, split_failed
from spinexplore.strategies.base import Proposal
from spinexplore.strategies._select import Distances
from spinexplore.strategies.balanced import balanced
from spinexplore.strategies.batch import spacing

__all__ = ["DEFAULT_STRATEGY", "STRATEGIES", "check_strategy", "register_strategy",
           "select_batch"]

#: Strategy names and the strategies they run, ``strategy(proposal) -> batch``.
STRATEGIES = Registry("strategy", {
    "balanced": balanced,
    "uncertainty": UncertaintySampling("entropy"),
    "entropy": UncertaintySampling("entropy"),
    "margin": UncertaintySampling("margin"),
    "least_confidence": UncertaintySampling("least_confidence"),
    "boundary": boundary,
    "exploration": exploration,
    "random": uniform,
})
DEFAULT_STRATEGY = "balanced"

#: The end of the error message for a bad strategy: what else is accepted.
_OR_FUNCTION = " or a function fn(candidates, proba, *, n, rng) -> scores or indices"


def register_strategy(name: str, function: Callable[..., Any]) -> None:
    """Make ``name`` a strategy, as good as a built-in one.

    The name is then accepted by :func:`select_batch`, by ``ActiveLearningExplorer(...,
    strategy=name)``, by ``propose`` and ``run``, by the command line's ``--strategy`` and
    in a stored run's configuration, and listed by :data:`STRATEGIES`. Registering an
    existing name replaces it. Register in every process that resumes the run.

    Parameters
    ----------
    name : str
        The strategy's name.
    function : callable
        A scoring function ``fn(candidates, proba, *, n, rng)``, as a custom strategy passed
        by value (see :func:`check_strategy`).

    Raises
    ------
    InputError
        For a name that is not a non-empty string or a function that is not callable.

    Examples
    --------
    >>> def least_sure(candidates, proba, *, n, rng):
    ...     return 1.0 - proba.max(axis=1)
    >>> register_strategy("least_sure", least_sure)
    >>> check_strategy("least_sure")
    'least_sure'
    >>> del STRATEGIES["least_sure"]
    """
    if not callable(function):
        raise InputTypeError(
            f"function of strategy {name!r} must be callable, fn(candidates, proba, *, n, rng) "
            f"-> scores or indices; got {function!r} ({type(function).__name__})"
        )
    STRATEGIES.register(name, ScoringStrategy(function))


def check_strategy(strategy: Any) -> str | Callable[..., Any]:
    """Return ``strategy`` if it is a registered name or a callable, else raise ``InputError``.

    Names (:data:`STRATEGIES`; :func:`register_strategy` adds more):

    ``"balanced"`` (default)
        Most of the batch goes where the surrogate is least sure (margin between the two
        most probable phases), among random candidates and points between differently
        labelled neighbours; a share (``explore_fraction``, 30 %) goes to the places
        farthest from every known point, so that small phase islands are found
        (:mod:`.balanced`).
    ``"uncertainty"`` (the same as ``"entropy"``), ``"margin"``, ``"least_confidence"``
        Pure uncertainty sampling with that measure (:mod:`.uncertainty`).
    ``"boundary"``
        Midpoints (and jittered copies) of neighbouring labelled points with different
        phases, longest gaps first; needs labels, not the surrogate.
    ``"exploration"``
        Space filling: greedy maximin distance to every finished, pending or failed point.
    ``"random"``
        Uniform random points.

    A custom strategy is a plain function::

        def my_strategy(candidates, proba, *, n, rng):
            # candidates: ndarray (c, d) in the unit cube; proba: ndarray (c, k) of the
            # surrogate's phase probabilities; n: batch size; rng: numpy Generator.
            # Return either scores (c,) floats, higher = more wanted, or integer indices.
            return 1.0 - proba.max(axis=1)

    Scores go through the same spread-out batch selection as the built-in strategies;
    returned indices are taken as they are (too-close points dropped, gaps filled by
    exploration). Before the first surrogate exists, every strategy but ``"random"`` and
    ``"exploration"`` explores.

    Raises
    ------
    InputError
        A ``ValueError`` whose message lists :data:`STRATEGIES`.

    Examples
    --------
    >>> check_strategy("balanced")
    'balanced'
    >>> def top_entropy(candidates, proba, *, n, rng):
    ...     return -(proba * np.log(proba + 1e-12)).sum(axis=1)
    >>> check_strategy(top_entropy) is top_entropy
    True
    """
    if callable(strategy):
        return strategy
    return STRATEGIES.check(strategy, extra=_OR_FUNCTION)


def _points(name: str, X: Any, n_dims: int) -> np.ndarray:
    if X is None:
        return np.empty((0, n_dims))
    arr = np.asarray(X, dtype=float)
    if arr.size == 0:
        return np.empty((0, n_dims))
    if arr.ndim != 2 or arr.shape[1] != n_dims:
        raise ValueError(f"{name} must have shape (n_points, {n_dims}); got shape {arr.shape}")
    if not np.isfinite(arr.sum()) and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return arr


def select_batch(
    strategy: str | Callable[..., Any],
    n: int,
    *,
    n_dims: int,
    surrogate: Any = None,
    X_labeled: Any = None,
    y: Any = None,
    X_pending: Any = None,
    X_failed: Any = None,
    rng: np.random.Generator | int | None = None,
    explore_fraction: float | None = None,
    island_volume: float = 0.01,
) -> np.ndarray:
    """Choose ``n`` new points of the unit cube to simulate next.

    Parameters
    ----------
    strategy : str or callable
        A name from :data:`STRATEGIES` or a custom function (see :func:`check_strategy`).
    n : int
        Batch size, ``n >= 1``.
    n_dims : int
        Dimension of the unit cube.
    surrogate : Surrogate or None
        Fitted on the finished points; ``None`` before any label (then every strategy
        except ``"random"`` and ``"exploration"`` explores).
    X_labeled : ndarray of shape (m, n_dims) or None
        Finished points with a phase, in the unit cube.
    y : ndarray of shape (m,) or None
        Their phase labels (points labelled ``PhaseType.FAILED`` / ``TIMEOUT`` are treated
        as ``X_failed``).
    X_pending : ndarray of shape (p, n_dims) or None
        Points in flight: never proposed again, and counted as members of the batch (new
        points keep the batch spacing from them, so that proposals made one at a time as
        workers finish are as spread out as one batch).
    X_failed : ndarray of shape (f, n_dims) or None
        Failed or timed-out points (never proposed again, and kept at a distance).
    rng : numpy Generator, int or None
        Randomness of the batch (share of exploration, random points).
    explore_fraction : float or None, default=None
        Share of a ``"balanced"`` batch spent on space filling. ``None``: it follows the
        ratio of the fill distance (the largest distance from a candidate to the nearest
        known point) to the radius of a ball of volume ``island_volume``: 0.5 while the
        ratio is >= 2, falling linearly to 0.1 when it reaches 1, when no such ball can
        be empty any more.
    island_volume : float, default=0.01
        Volume fraction of the box of the smallest island ``"balanced"`` must not miss
        (see ``explore_fraction``).

    Returns
    -------
    ndarray of shape (n, n_dims)
        New points in ``[0, 1]^n_dims``: no two closer than ``1e-6``, none closer than
        ``1e-6`` to a labelled, pending or failed point, and in practice spread at a
        fraction of the mean spacing.

    Raises
    ------
    InputError
        A ``ValueError``, for an unknown strategy (the message lists :data:`STRATEGIES`),
        ``n < 1``, ``n_dims < 1`` or arrays of the wrong shape.

    Notes
    -----
    The candidates (a scrambled Sobol pool of 2048 points in 1-2 D, 4096 in 3-6 D, plus
    up to 2048 jittered midpoints of differently labelled neighbours), the surrogate's
    probabilities on them and their distances to the labelled points form a *proposal
    context* that is built once per fitted surrogate (see :func:`prepare`) and seeded by
    the data, not by ``rng``. Each call then accounts only for the points the context does
    not cover (labelled since the fit, pending, failed) and evaluates candidates lazily,
    best bound first: at 10^5 labelled points a call for a few points costs milliseconds
    (``benchmarks/proposal_latency.py``). The result is a function of the arguments and
    the surrogate: the same call gives the same batch, whether or not the context was
    cached. Pass ``X_labeled`` with the points the surrogate was fitted on in the same
    order (new points appended or inserted near the end) for the fast path.
    """
    strategy = check_strategy(strategy)
    run = ScoringStrategy(strategy) if callable(strategy) else STRATEGIES[strategy]
    n = check_int("n", n, minimum=1)
    n_dims = check_int("n_dims", n_dims, minimum=1)
    if explore_fraction is not None:
        explore_fraction = float(check_real("explore_fraction", explore_fraction, minimum=0.0,
                                            maximum=1.0))
    island_volume = float(check_real("island_volume", island_volume, minimum=0.0, maximum=1.0,
                                     strict_min=True))
    X_lab = _points("X_labeled", X_labeled, n_dims)
    y_arr = np.empty(0, int) if y is None else np.asarray(y).reshape(-1)
    if y_arr.shape[0] != X_lab.shape[0]:
        raise ValueError(
            f"y must have one label per row of X_labeled ({X_lab.shape[0]}); got {y_arr.shape[0]}"
        )
    X_pend = _points("X_pending", X_pending, n_dims)
    X_fail = _points("X_failed", X_failed, n_dims)
    X_lab, y_arr, X_bad = split_failed(X_lab, y_arr)
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)

    n_known = X_lab.shape[0] + X_bad.shape[0] + X_pend.shape[0] + X_fail.shape[0]
    space_filling = getattr(run, "space_filling", False)
    # a cached context serves every strategy; an uncached one needs no probabilities here
    use = None if space_filling and not is_cacheable(surrogate, n_dims) else surrogate
    ctx = context_for(use, n_dims, X_lab, y_arr)
    delta = [a for a in (ctx.new_labelled(X_lab), X_bad, X_pend, X_fail) if a.shape[0]]
    dist = Distances(ctx, np.vstack(delta) if delta else np.empty((0, n_dims)), X_pend)
    proposal = Proposal(dist, n, spacing(n_known + n, n_dims), rng, explore_fraction,
                        island_volume)
    if ctx.proba is None and not space_filling:  # nothing learned yet
        return proposal.explore()
    return run(proposal)
