"""Fidelity ladders: several simulations of one point, cheapest first, and the record of each rung.

A :class:`Ladder` is an ordered list of simulations of the same physics at increasing cost
(``screening`` then ``accurate``, L = 24 then L = 48, a short then a long anneal, a coarse then a
converged DFT+U run). Every point is first simulated at the cheapest rung (rung 0); the
:class:`~spinexplore.promotion.PromotionPolicy` re-simulates a point at the next rung when that is
the best use of the next second of compute. The runner maps :meth:`Ladder.run_rung` over
``(rung, params)`` items, so one executor runs a mix of rungs.

The record of every rung rides in the point's result (so every store, old or new, keeps it with no
change of layout): the point's ``result`` is its best result (the highest rung with a physical
phase) and its observables carry, as reserved scalar columns,

``fidelity``
    the rung of the best result (0 for a point that was never promoted);
``fidelity{k}_phase``, ``fidelity{k}_confidence``, ``fidelity{k}_energy``, ``fidelity{k}_cost``
    label (``PhaseType`` value; FAILED/TIMEOUT when the rung failed), confidence, energy per spin
    and simulation time in seconds of rung ``k``, for every rung a promoted point ran at
    (absent, NaN in a table, for a point that ran at rung 0 only: its rung-0 values are the
    point's own columns).

:func:`rung_results` reads them back; :func:`merge_result` writes them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from spinexplore._rungs import FIDELITY_KEY, RungResult, decided, decode_label, encode_label, merge_result, rung_of, rung_results
from spinexplore._validation import InputError, InputTypeError

__all__ = ["FIDELITY_KEY", "Ladder", "RungResult", "decided", "decode_label", "encode_label", "fidelity_summary", "format_fidelity", "format_policy",
           "is_ladder_spec", "merge_result", "parse_ladder_spec", "rung_of", "rung_results"]

#: Most rungs a ladder may have.
MAX_RUNGS = 8


def fidelity_summary(records: Sequence[Any], names: Sequence[str] | None = None) -> dict[str, Any]:
    """Points, simulation time and disagreements per rung, from finished records.

    Returns ``{"rungs": [{"rung", "name", "n_points", "simulation_time", "mean_cost"}...],
    "pairs": [{"from", "to", "n_pairs", "n_disagree", "disagreement"}...], "n_promoted"}``.
    """
    per: dict[int, list[float]] = {}
    pairs: dict[int, list[int]] = {}
    n_promoted = 0
    for r in records:
        if r.result is None:
            continue
        entries = rung_results(r.result)
        if len(entries) > 1:
            n_promoted += 1
        for k, e in entries.items():
            per.setdefault(k, []).append(e.cost)
            up = entries.get(k + 1)
            if up is not None and decided(e.phase) and decided(up.phase):  # UNKNOWN: no verdict
                pairs.setdefault(k, []).append(int(e.phase != up.phase))
    n_rungs = max(len(names or ()), max(per, default=-1) + 1)
    rungs = []
    for k in range(n_rungs):
        costs = per.get(k, [])
        rungs.append({"rung": k, "name": names[k] if names and k < len(names) else f"rung {k}",
                      "n_points": len(costs), "simulation_time": float(sum(costs)),
                      "mean_cost": float(np.mean(costs)) if costs else math.nan})
    out_pairs = []
    for k in sorted(pairs):
        d = pairs[k]
        out_pairs.append({"from": k, "to": k + 1, "n_pairs": len(d), "n_disagree": int(sum(d)),
                          "disagreement": float(np.mean(d)) if d else math.nan})
    return {"rungs": rungs, "pairs": out_pairs, "n_promoted": n_promoted}


def format_fidelity(summary: Mapping[str, Any]) -> str:
    """``Fidelities: screening 120 points (24.1 s), accurate 18 points (110.3 s); ...`` (one line)."""
    parts = [f"{r['name']} {r['n_points']} points ({r['simulation_time']:.1f} s)" for r in summary["rungs"]]
    text = "Fidelities: " + ", ".join(parts)
    for p in summary["pairs"]:
        lo = summary["rungs"][p["from"]]["name"]
        hi = summary["rungs"][p["to"]]["name"]
        text += f"; {lo}->{hi} disagreed on {p['n_disagree']}/{p['n_pairs']} promoted points"
    return text


def format_policy(summary: Mapping[str, Any], names: Sequence[str] | None = None) -> str:
    """One line from a run's ``run_stats["fidelity"]`` (:meth:`PromotionPolicy.summary`)."""
    rows = summary.get("rungs") or []

    def name(k: int) -> str:
        return names[k] if names and k < len(names) else f"rung {k}"

    text = "Fidelities: " + ", ".join(
        f"{name(r['rung'])} {r['n_points']} points ({r['simulation_time']:.1f} s)" for r in rows)
    for r in rows:
        if "n_pairs" in r:
            text += (f"; {name(r['rung'])}->{name(r['rung'] + 1)} disagreement {100 * r['disagreement']:.0f} % "
                     f"(estimated from {r['n_pairs']} promoted points), promotions "
                     + ("on" if r.get("active") else "stopped"))
    return text


# ---------------------------------------------------------------------------------- the ladder
class Ladder:
    """An ordered list of simulations of one point, cheapest first: a multi-fidelity simulation.

    Parameters
    ----------
    rungs : sequence of callables
        ``rung(params) -> SimulationResult | PhaseType | dict | None``, each a simulation as
        :meth:`~spinexplore.explorer.ActiveLearningExplorer.run` accepts it (a Python function,
        a :class:`~spinexplore.simulation.SpinSimulation`, an ``ExternalSimulation``...),
        cheapest first. Each rung's cost is learned from its own run times.
    promotion : mapping, optional
        Options of the :class:`~spinexplore.promotion.PromotionPolicy` (``calibration``,
        ``min_disagreement``, ``max_share``, ``gain``, ``bandwidth``, ``probe_factor``, ``start_after``,
        ``calibration_share``, ``min_weight``, ``settle_window``, ``settle_tol``).
    names : sequence of str, optional
        One name per rung (shown by ``status``, ``summary`` and the plots); default: the
        rungs' ``mode`` (with ``@L`` when lattice sizes differ) or ``rung 0``, ``rung 1``...

    Calling the ladder runs the cheapest rung, so it also works where a plain simulation is
    expected. The runner maps :meth:`run_rung` over ``(rung, params)`` items.

    Examples
    --------
    >>> def cheap(p): return "FERROMAGNET" if p["h"] > 0.5 else "SINGLE_Q"
    >>> def costly(p): return "FERROMAGNET" if p["h"] > 0.45 else "SINGLE_Q"
    >>> ladder = Ladder([cheap, costly], names=["cheap", "costly"])
    >>> ladder.run_rung((1, {"h": 0.48}))
    'FERROMAGNET'
    """

    def __init__(self, rungs: Sequence[Any], names: Sequence[str] | None = None, *,
                 promotion: Mapping[str, Any] | None = None) -> None:
        if isinstance(rungs, (str, bytes)) or not isinstance(rungs, Sequence):
            raise InputTypeError(f"rungs must be a list of simulations, cheapest first; got {rungs!r}")
        rungs = list(rungs)
        if not 2 <= len(rungs) <= MAX_RUNGS:
            raise InputError(f"a ladder needs 2 to {MAX_RUNGS} simulations (rungs), cheapest first; got {len(rungs)}")
        for k, r in enumerate(rungs):
            if isinstance(r, Ladder) or not callable(r):
                raise InputTypeError(f"rung {k} of the ladder must be a simulation (a callable); got {r!r}")
        self.rungs = tuple(rungs)
        if names is None:
            names = _default_names(self.rungs)
        names = [str(n) for n in names]
        if len(names) != len(self.rungs) or len(set(names)) != len(names) or not all(n.strip() for n in names):
            raise InputError(f"names must be {len(self.rungs)} distinct non-empty names, one per rung; got {names!r}")
        self.names = tuple(names)
        from spinexplore.promotion import PromotionPolicy

        self.promotion = dict(promotion or {})
        try:
            PromotionPolicy(len(self.rungs), **self.promotion)  # checks the options before any work
        except TypeError as exc:
            raise InputTypeError(f"promotion: {exc}; allowed options: calibration, min_disagreement, "
                                 "max_share, gain, bandwidth, probe_factor, start_after, calibration_share, "
                                 "min_weight, settle_window, settle_tol") from None

    # --------------------------------------------------------------- running
    @property
    def n_rungs(self) -> int:
        return len(self.rungs)

    def __call__(self, params: Mapping[str, float]) -> Any:
        """Simulate at the cheapest rung."""
        return self.rungs[0](params)

    def run_rung(self, item: tuple[int, Mapping[str, float]]) -> Any:
        """Simulate ``item = (rung, params)`` (what the executor maps)."""
        rung, params = item
        return self.rungs[int(rung)](params)

    def warmup(self) -> None:
        """Each rung's ``warmup()``, where it has one (once per worker, before timing)."""
        for r in self.rungs:
            fn = getattr(r, "warmup", None)
            if callable(fn):
                fn()

    # --------------------------------------------------------------- checks
    def check_parameters(self, names: Sequence[str]) -> None:
        for r in self.rungs:
            fn = getattr(r, "check_parameters", None)
            if callable(fn):
                fn(names)

    def check_space(self, space: Any) -> None:
        for r in self.rungs:
            fn = getattr(r, "check_space", None)
            if callable(fn):
                fn(space)

    @property
    def memory_estimate(self) -> int:
        """The largest rung's peak memory (one simulation runs at a time in a worker)."""
        return max((int(getattr(r, "memory_estimate", 0)) for r in self.rungs), default=0)

    # --------------------------------------------------------------- the built-in solver's view
    @property
    def mode(self) -> str:
        """The ladder as a ``--mode`` value (``screening,accurate@48``) when every rung is a
        ``SpinSimulation``; else the rung names joined by commas."""
        return ",".join(self.names)

    @property
    def model_name(self) -> str:
        return getattr(self.rungs[0], "model_name", "custom")

    @property
    def lattice_size(self) -> int | None:
        return getattr(self.rungs[0], "lattice_size", None)

    @property
    def seed(self) -> Any:
        return getattr(self.rungs[0], "seed", None)

    # --------------------------------------------------------------- record
    def describe(self) -> dict[str, Any]:
        from spinexplore._text import describe

        return {"simulation": "Ladder", "names": list(self.names), "rungs": [describe(r) for r in self.rungs],
                "promotion": dict(self.promotion)}

    @classmethod
    def from_description(cls, description: Mapping[str, Any]) -> Ladder:
        """Rebuild a ladder of built-in ``SpinSimulation`` rungs from :meth:`describe`'s output.

        Raises
        ------
        spinexplore.errors.InputError
            When a rung is not a ``SpinSimulation`` (continue such a run in Python, passing the ladder).
        """
        from spinexplore.simulation import SpinSimulation

        if not isinstance(description, Mapping) or description.get("simulation") != "Ladder":
            raise InputError(f"not the description of a Ladder; got {description!r:.200}")
        rungs = [SpinSimulation.from_description(d) for d in description.get("rungs") or []]
        return cls(rungs, names=description.get("names"), promotion=description.get("promotion"))

    @classmethod
    def from_modes(cls, spec: str, *, model: Any = "triangular-chiral", lattice_size: int = 24,
                   seed: int | None = None, timeout: float | None = None) -> Ladder:
        """A ladder of the built-in solver from ``--mode`` text: ``"screening,accurate"``,
        ``"screening,fast,accurate"``, ``"accurate,accurate@48"`` (``@L``: that rung's lattice size)."""
        from spinexplore.simulation import SpinSimulation

        rungs = [SpinSimulation(model, lattice_size=size or lattice_size, mode=mode, seed=seed, timeout=timeout)
                 for mode, size in parse_ladder_spec(spec)]
        return cls(rungs, names=[_rung_name(mode, size) for mode, size in parse_ladder_spec(spec)])

    def __repr__(self) -> str:
        return f"Ladder({', '.join(self.names)})"


def _rung_name(mode: str, size: int | None) -> str:
    return mode if size is None else f"{mode}@{size}"


def _default_names(rungs: Sequence[Any]) -> list[str]:
    modes = [getattr(r, "mode", None) for r in rungs]
    sizes = [getattr(r, "lattice_size", None) for r in rungs]
    if all(isinstance(m, str) for m in modes):
        names = [m if len(set(sizes)) == 1 else f"{m}@{s}" for m, s in zip(modes, sizes)]
        if len(set(names)) == len(names):
            return names
    out = []
    for k, r in enumerate(rungs):
        name = getattr(r, "__name__", None)
        out.append(name if isinstance(name, str) and name != "<lambda>" else f"rung {k}")
    return out if len(set(out)) == len(out) else [f"rung {k}" for k in range(len(rungs))]


def is_ladder_spec(spec: Any) -> bool:
    """True for ``--mode`` text naming a ladder (a comma) or a lattice size (``@``)."""
    return isinstance(spec, str) and ("," in spec or "@" in spec)


def parse_ladder_spec(spec: str) -> list[tuple[str, int | None]]:
    """``"screening,accurate@48"`` -> ``[("screening", None), ("accurate", 48)]``.

    Raises
    ------
    spinexplore.errors.InputError
        Naming the bad rung and what is allowed.
    """
    from spinexplore.physics.solver import MODES
    from spinexplore.simulation import MAX_LATTICE_SIZE

    if not isinstance(spec, str) or not spec.strip():
        raise InputError(f"mode must be a solver preset {list(MODES)} or a ladder such as "
                         f"'screening,accurate' or 'accurate,accurate@48'; got {spec!r}")
    out: list[tuple[str, int | None]] = []
    for part in spec.split(","):
        text = part.strip()
        mode, _, size_text = text.partition("@")
        if mode not in MODES:
            raise InputError(f"mode {spec!r}: rung {text!r} must be one of {list(MODES)}, optionally with "
                             "@L for its lattice size (e.g. accurate@48)")
        size: int | None = None
        if size_text:
            if not size_text.isdigit() or not 6 <= int(size_text) <= MAX_LATTICE_SIZE or int(size_text) % 2:
                raise InputError(f"mode {spec!r}: the lattice size of rung {text!r} must be an even integer "
                                 f"in [6, {MAX_LATTICE_SIZE}]; got {size_text!r}")
            size = int(size_text)
        out.append((mode, size))
    names = [_rung_name(m, s) for m, s in out]
    if len(set(names)) != len(names):
        raise InputError(f"mode {spec!r}: a ladder's rungs must differ; got {names}")
    if len(out) > MAX_RUNGS:
        raise InputError(f"mode {spec!r}: a ladder has at most {MAX_RUNGS} rungs; got {len(out)}")
    return out
