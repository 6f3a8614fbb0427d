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

from spinexplore._validation import (
    InputError,
    InputTypeError,
    available_memory,
    check_choice,
    check_int,
    check_real,
)
from spinexplore.results import PhaseType, SimulationResult

from spinexplore.simulation._external import ExternalSimulation  # a user's solver command

__all__ = ["ExternalSimulation", "SpinSimulation", "format_point", "point_label", "point_seed"]

_N_LISTED_PEAKS = 3
#: Largest linear lattice size ``L`` (a million spins; one point then needs about 2 GB).
MAX_LATTICE_SIZE = 1024
#: Every model parameter (J1, J2, J3, D, K, h, T) must satisfy ``|value| <= PARAMETER_LIMIT``
#: (units of J1): far beyond every phase boundary of these models, and small enough that the
#: solver's energy scale and time step stay meaningful.
PARAMETER_LIMIT = 1000.0
#: Peak memory of one point per lattice site (spins, solver work arrays, S(q)), measured.
_BYTES_PER_SITE = 2_000


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


def format_point(index: int, result: SimulationResult, where: str = "") -> str:
    """One console line per finished point: ``Point 23: MERON_ANTIMERON (conf=0.95, E=-0.8234)``.

    FAILED and TIMEOUT results show their error text instead of the energy (see
    :func:`point_label`); ``where`` follows the phase name (a rung: ``" [accurate]"``).
    """
    from spinexplore.execution.progress import format_point as _line

    if not result.ok:
        return _line(index, point_label(result, where))
    return _line(index, point_label(result, where), confidence=result.confidence, energy=result.energy)


def point_label(result: SimulationResult, where: str = "") -> str:
    """What a console line says of a finished point: its phase name then ``where``
    (``SKYRMION [accurate]``), or, for a FAILED or TIMEOUT result, the outcome and the first
    line of its error, at most 120 characters: ``TIMEOUT (timed out after 2.0 s)``."""
    if result.ok:
        return f"{result.phase.name}{where}"
    reason = (result.error or "no result").strip().splitlines()[0][:120]
    return f"{result.phase.name}{where} ({reason})"


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
    spinexplore.errors.InputError
        From :meth:`validate`, called by ``__init__``, before any work: unknown model, bad
        lattice size (odd, below 6, above :data:`MAX_LATTICE_SIZE` or too large for the free
        memory), unknown mode, bad seed or timeout. A ``ValueError``; the wrong-type cases are
        ``InputTypeError``, also a ``TypeError``.

    Notes
    -----
    Parameter values must be finite with ``|value| <= PARAMETER_LIMIT`` (1000 J1). A point whose
    solver ends with a non-finite energy is recorded FAILED with that reason, never DONE.

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
        from spinexplore.physics.solver import MODES

        if isinstance(self.model, str):
            if self.model not in PRESETS:
                raise InputError(f"model must be one of {list(PRESETS)} or a SpinModel; got {self.model!r}")
            self.model_name = self.model
            self.model = SpinModel.preset(self.model)
        elif not isinstance(self.model, SpinModel):
            raise InputTypeError(
                f"model must be a preset name {list(PRESETS)} or a SpinModel; got {self.model!r} "
                f"({type(self.model).__name__})"
            )
        self.lattice_size = check_int("lattice_size", self.lattice_size, minimum=6, maximum=MAX_LATTICE_SIZE)
        try:
            make_lattice(self.model.lattice, self.lattice_size)  # even, >= 6
        except ValueError as exc:
            raise InputError(str(exc)) from None
        free = available_memory()
        if free is not None and self.memory_estimate > free:
            raise InputError(
                f"lattice_size={self.lattice_size} needs about {self.memory_estimate / 1e9:.1f} GB per "
                f"simulation but only {free / 1e9:.1f} GB of memory is available; choose a smaller lattice"
            )
        check_choice("mode", self.mode, MODES)
        if not isinstance(self.keep_spins, (bool, np.bool_)):
            raise InputTypeError(f"keep_spins must be True or False; got {self.keep_spins!r}")
        if self.seed is not None:
            self.seed = check_int("seed", self.seed, minimum=0)
        self.timeout = check_real("timeout", self.timeout, minimum=0.0, strict_min=True, allow_none=True)

    @property
    def memory_estimate(self) -> int:
        """Peak memory of one simulation in bytes (measured: about 2 kB per lattice site)."""
        return _BYTES_PER_SITE * self.lattice_size**2 + 50_000_000

    # ------------------------------------------------------------------ parameters
    @property
    def parameter_names(self) -> tuple[str, ...]:
        """Names a parameter dict may use (the numeric fields of :class:`SpinModel`)."""
        from spinexplore.physics.model import MODEL_PARAMETERS

        return tuple(MODEL_PARAMETERS)

    def check_parameters(self, names: Iterable[str]) -> None:
        """Raise ``InputError`` when a name is not a model parameter (the explorer calls it early)."""
        allowed = self.parameter_names
        unknown = [str(n) for n in names if n not in allowed]
        if unknown:
            raise InputError(
                f"unknown parameter name(s) {unknown} for SpinSimulation; allowed: {list(allowed)}"
            )

    def check_space(self, space: Any) -> None:
        """Check a :class:`~spinexplore.space.ParameterSpace` before any work: parameter names,
        bounds and fixed values within ``+-PARAMETER_LIMIT``, and ``T >= 0`` on the whole box.

        Raises
        ------
        spinexplore.errors.InputError
            Naming the parameter, its bound and the allowed range.
        """
        self.check_parameters(list(space.names) + list(space.fixed))
        ranges = {d.name: (d.low, d.high) for d in space.dimensions}
        ranges.update({k: (v, v) for k, v in space.fixed.items()})
        for name, (low, high) in ranges.items():
            for value in (low, high):
                if abs(value) > PARAMETER_LIMIT:
                    raise InputError(
                        f"parameter {name!r} must lie within +-{PARAMETER_LIMIT:g} (units of J1); "
                        f"the space reaches {value!r}"
                    )
            if name == "T" and low < 0:
                raise InputError(f"the temperature T must be >= 0 (units of J1); the space reaches T = {low!r}")

    def _checked_params(self, params: Any) -> dict[str, float]:
        if not isinstance(params, Mapping):
            raise InputTypeError(f"params must be a mapping of parameter names to numbers; got {params!r}")
        self.check_parameters(params)
        out: dict[str, float] = {}
        for key, value in params.items():
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
                raise InputError(f"parameter {key!r} must be a finite real number; got {value!r}")
            if abs(float(value)) > PARAMETER_LIMIT:
                raise InputError(
                    f"parameter {key!r} must lie within +-{PARAMETER_LIMIT:g} (units of J1); got {value!r}"
                )
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
        if not math.isfinite(gs.energy):
            return SimulationResult(
                phase=PhaseType.FAILED, confidence=0.0, duration=time.perf_counter() - t0,
                error=(f"the solver ended with a non-finite energy ({gs.energy!r}): the spin "
                       "configuration diverged, so no phase can be assigned"),
            )
        obs = measure(gs.spins, gs.lattice, gs.samples)
        # confidence uses the gap to the best state with a different label (not texture)
        label_gap = getattr(gs, "label_gap", gs.gap)
        gap = label_gap if math.isfinite(label_gap) else None
        phase, confidence, evidence = classify(
            gs.spins, gs.lattice, obs, energy_gap=gap, temperature=gs.T
        )
        scalars = self.observables_from(obs, evidence)
        scalars.update(
            energy_gap=float(gs.gap), label_gap=float(label_gap), max_torque=float(gs.max_torque), seed=float(gs.seed),
        )
        if gs.T > 0:  # thermal averages: their standard errors (binned over the snapshots)
            scalars["energy_err"] = float(getattr(gs, "energy_error", math.nan))
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
        ``q{k}_y``, ``q{k}_weight`` (NaN when absent); ``sub_label`` (a string) for FM. At
        ``T > 0`` (averages over Monte Carlo snapshots) also the standard errors ``m_x_err``,
        ``m_y_err``, ``m_z_err``, ``m_xy_err``, ``m_abs_err`` (and, from ``__call__``,
        ``energy_err``).
        """
        keys = ("m_x", "m_y", "m_z", "m_xy", "m_abs", "sq_max", "sq_modulated", "Q_total",
                "Q_plus", "Q_minus", "n_vortices", "n_antivortices", "n_peaks")
        out: dict[str, Any] = {k: float(obs[k]) for k in keys}
        out.update({f"{k}_err": float(obs[f"{k}_err"]) for k in keys if f"{k}_err" in obs})
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

    def warmup(self) -> None:
        """Load the compiled solver kernels in this process (numba's on-disk cache, compiled
        the first time): one tiny screening simulation of this model at L = 6. The runner
        calls it once per worker, so that no timed simulation pays for it."""
        type(self)(model=self.model, lattice_size=6, mode="screening")({})

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

    @classmethod
    def from_description(cls, description: Mapping[str, Any]) -> SpinSimulation:
        """Rebuild the simulation that :meth:`describe` described (what a store records).

        Raises
        ------
        spinexplore.errors.InputError
            When ``description`` is not a ``SpinSimulation``'s, or its settings are invalid.
        """
        from spinexplore.physics.model import SpinModel

        if not isinstance(description, Mapping) or description.get("simulation") != "SpinSimulation":
            kind = description.get("simulation") if isinstance(description, Mapping) else description
            raise InputError(f"not the description of a SpinSimulation; got {kind!r}")
        model: Any = description.get("model", "triangular-chiral")
        if model == "custom" or not isinstance(model, str):
            params = description.get("model_params")
            if not isinstance(params, Mapping):
                raise InputError(f"the description of a custom model has no model_params; got {params!r}")
            try:
                model = SpinModel(**dict(params))
            except (TypeError, ValueError) as exc:
                raise InputError(f"model_params {dict(params)!r} do not describe a SpinModel: {exc}") from None
        return cls(
            model, lattice_size=description.get("lattice_size", 24), mode=description.get("mode", "fast"),
            keep_spins=bool(description.get("keep_spins", False)), seed=description.get("seed"),
            timeout=description.get("timeout"),
        )

    def __repr__(self) -> str:
        return (
            f"SpinSimulation(model={self.model_name!r}, lattice_size={self.lattice_size}, "
            f"mode={self.mode!r}, keep_spins={self.keep_spins}, seed={self.seed}, timeout={self.timeout})"
        )
