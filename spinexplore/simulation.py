"""The callables the explorer runs: the built-in ``SpinSimulation``.

``SpinSimulation`` ties the solver (:func:`spinexplore.physics.solver.simulate`), the
observables and the classifier together: ``params -> SimulationResult``. It is a plain,
picklable object, cheap to send to a worker process.
"""

from __future__ import annotations

import hashlib
import math
import numbers
import time
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from spinexplore._validation import check_choice, check_int, check_real
from spinexplore.results import PhaseType, SimulationResult

from spinexplore._external import ExternalSimulation  # a user's solver command

__all__ = ["ExternalSimulation", "SpinSimulation", "format_point", "point_seed"]

_MODES = ("screening", "fast", "accurate")
_N_LISTED_PEAKS = 3


def point_seed(seed: int, params: Mapping[str, float]) -> int:
    """Deterministic per-point seed from a base ``seed`` and the parameter values.

    The values are rounded to 12 significant digits and hashed with SHA-256 together with
    their names (sorted), so the same point gets the same seed in any process and run.

    Returns
    -------
    int
        A non-negative integer below ``2**53`` (exact as a float, so the store keeps it).
    """
    text = ";".join(f"{k}={float(params[k]):.12g}" for k in sorted(params))
    digest = hashlib.sha256(text.encode()).digest()
    ss = np.random.SeedSequence([int(seed), int.from_bytes(digest[:8], "little")])
    return int(ss.generate_state(1, np.uint64)[0] >> np.uint64(11))


def format_point(index: int, result: SimulationResult) -> str:
    """One console line per finished point: ``Point 23: MERON_ANTIMERON (conf=0.95, E=-0.8234)``.

    FAILED and TIMEOUT results show their error text instead of the energy.
    """
    from spinexplore.execution.progress import format_point as _line

    if result.phase in (PhaseType.FAILED, PhaseType.TIMEOUT):
        detail = f"{result.error}" if result.error else "no result"
        return _line(index, f"{result.phase.name} ({detail})")
    return _line(index, result.phase.name, confidence=result.confidence, energy=result.energy)


class SpinSimulation:
    """The built-in simulation: ground state (or thermal state), observables and phase label.

    Parameters
    ----------
    model : str or SpinModel, default "triangular-chiral"
        A preset name of :data:`spinexplore.physics.model.PRESETS` or a ``SpinModel``; the
        parameters of each call override its fields.
    lattice_size : int, default 24
        Linear size ``L`` of the periodic lattice (even, ``>= 6``).
    mode : {"screening", "fast", "accurate"}, default "fast"
        Solver budget (:data:`spinexplore.physics.solver.PRESET_BUDGETS`).
    keep_spins : bool, default False
        Return the final spin configuration in ``SimulationResult.spins``.
    seed : int or None, default None
        Base seed. Each point's solver seed is :func:`point_seed` ``(seed, params)``, so a point
        gives the same result in any process; ``None`` behaves as 0 (results are always
        reproducible; pass other integers for independent repeats).
    timeout : float or None
        Seconds for one point; past it the solver stops between stages and the result is
        TIMEOUT (the executor's hard timeout still applies on top).

    Attributes
    ----------
    model : SpinModel
        The resolved base model (set by :meth:`validate`).
    model_name : str
        The preset name, or ``"custom"`` for a ``SpinModel`` argument.

    Raises
    ------
    ValueError, TypeError
        From :meth:`validate`, called by ``__init__``, before any work: unknown model, bad
        lattice size, unknown mode, bad seed or timeout.

    Examples
    --------
    >>> sim = SpinSimulation("triangular-chiral", lattice_size=24, mode="fast")
    >>> result = sim({"h": 0.2, "K": 0.0})              # doctest: +SKIP
    >>> format_point(23, result)                        # doctest: +SKIP
    'Point 23: SKYRMION (conf=1.00, E=-3.2721)'
    """

    def __init__(
        self,
        model: Any = "triangular-chiral",
        lattice_size: int = 24,
        mode: str = "fast",
        *,
        keep_spins: bool = False,
        seed: int | None = None,
        timeout: float | None = None,
    ) -> None:
        self.model = model
        self.lattice_size = lattice_size
        self.mode = mode
        self.keep_spins = keep_spins
        self.seed = seed
        self.timeout = timeout
        self.model_name = "custom"
        self.validate()

    def validate(self) -> None:
        """Check every setting and resolve the model; raises before any simulation runs."""
        from spinexplore.physics.lattice import make_lattice
        from spinexplore.physics.model import PRESETS, SpinModel

        if isinstance(self.model, str):
            if self.model not in PRESETS:
                raise ValueError(f"model must be one of {list(PRESETS)} or a SpinModel; got {self.model!r}")
            self.model_name = self.model
            self.model = SpinModel.preset(self.model)
        elif not isinstance(self.model, SpinModel):
            raise TypeError(
                f"model must be a preset name {list(PRESETS)} or a SpinModel; got {self.model!r} "
                f"({type(self.model).__name__})"
            )
        self.lattice_size = check_int("lattice_size", self.lattice_size, minimum=6)
        make_lattice(self.model.lattice, self.lattice_size)  # even, >= 6
        check_choice("mode", self.mode, _MODES)
        if not isinstance(self.keep_spins, (bool, np.bool_)):
            raise TypeError(f"keep_spins must be True or False; got {self.keep_spins!r}")
        if self.seed is not None:
            self.seed = check_int("seed", self.seed, minimum=0)
        self.timeout = check_real("timeout", self.timeout, minimum=0.0, strict_min=True, allow_none=True)

    # ------------------------------------------------------------------ parameters
    @property
    def parameter_names(self) -> tuple[str, ...]:
        """Names a parameter dict may use (the numeric fields of :class:`SpinModel`)."""
        from spinexplore.physics.model import MODEL_PARAMETERS

        return tuple(MODEL_PARAMETERS)

    def check_parameters(self, names: Iterable[str]) -> None:
        """Raise ``ValueError`` when a name is not a model parameter (the explorer calls it early)."""
        allowed = self.parameter_names
        unknown = [str(n) for n in names if n not in allowed]
        if unknown:
            raise ValueError(
                f"unknown parameter name(s) {unknown} for SpinSimulation; allowed: {list(allowed)}"
            )

    def _checked_params(self, params: Any) -> dict[str, float]:
        if not isinstance(params, Mapping):
            raise TypeError(f"params must be a mapping of parameter names to numbers; got {params!r}")
        self.check_parameters(params)
        out: dict[str, float] = {}
        for key, value in params.items():
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
                raise ValueError(f"parameter {key!r} must be a finite real number; got {value!r}")
            out[str(key)] = float(value)
        return out

    # ------------------------------------------------------------------ running
    def __call__(self, params: Mapping[str, float]) -> SimulationResult:
        """Simulate one point.

        Parameters
        ----------
        params : mapping of str to float
            Overrides of the model parameters, e.g. ``{"h": 0.2, "K": 0.1}`` (units of J1).

        Returns
        -------
        SimulationResult
            ``phase``, ``confidence``, ``energy`` (per spin, units of J1), ``observables``
            (scalar floats only, see :meth:`observables_from`), ``duration`` and, with
            ``keep_spins``, ``spins``. A solver timeout gives a TIMEOUT result.

        Raises
        ------
        ValueError, TypeError
            For an unknown parameter name or a non-finite value.
        """
        from spinexplore.physics.classify import classify
        from spinexplore.physics.observables import measure
        from spinexplore.physics.solver import simulate

        values = self._checked_params(params)
        model = self.model.with_params(values)
        seed = point_seed(0 if self.seed is None else self.seed, values)
        t0 = time.perf_counter()
        try:
            gs = simulate(model, self.lattice_size, self.mode, seed=seed, timeout=self.timeout)
        except TimeoutError as exc:
            return SimulationResult(
                phase=PhaseType.TIMEOUT, confidence=0.0, duration=time.perf_counter() - t0,
                error=str(exc),
            )
        obs = measure(gs.spins, gs.lattice, gs.samples)
        gap = gs.gap if math.isfinite(gs.gap) else None
        phase, confidence, evidence = classify(
            gs.spins, gs.lattice, obs, energy_gap=gap, temperature=gs.T
        )
        scalars = self.observables_from(obs, evidence)
        scalars.update(
            energy_gap=float(gs.gap), max_torque=float(gs.max_torque), seed=float(gs.seed),
        )
        return SimulationResult(
            phase=phase,
            confidence=confidence,
            energy=gs.energy,
            observables=scalars,
            duration=time.perf_counter() - t0,
            spins=gs.spins if self.keep_spins else None,
        )

    @staticmethod
    def observables_from(obs: Mapping[str, Any], evidence: Mapping[str, Any]) -> dict[str, Any]:
        """The scalar observables a result carries (what the store saves).

        ``m_x, m_y, m_z, m_xy, m_abs, sq_max, sq_modulated, Q_total, Q_plus, Q_minus,
        n_vortices, n_antivortices, n_peaks, n_cells, Q_per_cell, Q_inplane_ratio,
        minority_fraction`` and, for the three strongest peaks ``k = 1, 2, 3``, ``q{k}_x``,
        ``q{k}_y``, ``q{k}_weight`` (NaN when absent); ``sub_label`` (a string) for FM.
        """
        keys = ("m_x", "m_y", "m_z", "m_xy", "m_abs", "sq_max", "sq_modulated", "Q_total",
                "Q_plus", "Q_minus", "n_vortices", "n_antivortices", "n_peaks")
        out: dict[str, Any] = {k: float(obs[k]) for k in keys}
        for k in ("n_cells", "Q_per_cell", "Q_inplane_ratio", "minority_fraction"):
            v = evidence.get(k)
            out[k] = math.nan if v is None else float(v)
        peaks = list(obs["peaks"])
        for k in range(_N_LISTED_PEAKS):
            if k < len(peaks):
                out[f"q{k + 1}_x"], out[f"q{k + 1}_y"] = (float(x) for x in peaks[k]["q"])
                out[f"q{k + 1}_weight"] = float(peaks[k]["weight"])
            else:
                out[f"q{k + 1}_x"] = out[f"q{k + 1}_y"] = out[f"q{k + 1}_weight"] = math.nan
        if "sub_label" in evidence:
            out["sub_label"] = str(evidence["sub_label"])
        return out

    def describe(self) -> dict[str, Any]:
        """Settings for the store's metadata (JSON-friendly)."""
        return {
            "simulation": "SpinSimulation",
            "model": self.model_name,
            "model_params": self.model.to_dict(),
            "lattice_size": self.lattice_size,
            "mode": self.mode,
            "keep_spins": bool(self.keep_spins),
            "seed": self.seed,
            "timeout": self.timeout,
        }

    def __repr__(self) -> str:
        return (
            f"SpinSimulation(model={self.model_name!r}, lattice_size={self.lattice_size}, "
            f"mode={self.mode!r}, keep_spins={self.keep_spins}, seed={self.seed}, timeout={self.timeout})"
        )
