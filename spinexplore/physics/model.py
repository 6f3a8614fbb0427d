"""The classical spin Hamiltonian (``physics.md`` 1.1) as a frozen dataclass.

    H = - J1 sum_<ij>_1 S_i.S_j - J2 sum_<ij>_2 S_i.S_j - J3 sum_<ij>_3 S_i.S_j
        + D sum_<ij>_1 d_ij.(S_i x S_j) + K sum_i (S_i^z)^2 - h sum_i S_i^z

Every bond is counted once, oriented along a forward bond vector ``delta`` of its shell
(:meth:`spinexplore.physics.lattice.Lattice.shell_offsets`). ``J > 0`` is ferromagnetic,
``K > 0`` is easy-plane, ``h > 0`` points along ``+z``. The DMI vector of a nearest-neighbour bond
is ``z x delta_hat`` for ``dmi="interfacial"`` (Neel) and ``delta_hat`` for ``dmi="bulk"`` (Bloch).
All couplings, fields and the temperature ``T`` are in units of ``|J1|`` by convention.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from types import MappingProxyType
from typing import Any

from spinexplore._validation import check_choice
from spinexplore.physics.lattice import LATTICE_KINDS

__all__ = ["SpinModel", "PRESETS", "MODEL_PARAMETERS", "DMI_TYPES"]

#: Names of the numeric model parameters a simulation's parameter dict may override.
MODEL_PARAMETERS = ("J1", "J2", "J3", "D", "K", "h", "T")
DMI_TYPES = ("interfacial", "bulk")

#: Named models. ``triangular-chiral`` is physics.md option A (helix period 12 on a 24 torus);
#: ``square-chiral`` is option B (diagonal helix, square meron-antimeron crystal at easy-plane K).
PRESETS: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {
        "triangular-chiral": MappingProxyType(
            {"lattice": "triangular", "J1": 1.0, "D": 0.5625, "dmi": "interfacial"}
        ),
        "square-chiral": MappingProxyType(
            {"lattice": "square", "J1": 1.0, "D": 0.8165, "dmi": "interfacial"}
        ),
    }
)


def _check_coupling(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {value!r} ({type(value).__name__})")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite real number; got {value!r}")
    return value


@dataclass(frozen=True)
class SpinModel:
    """Couplings of the classical spin model on a triangular or square lattice.

    Parameters
    ----------
    lattice : {"triangular", "square"}
    J1, J2, J3 : float
        Exchange on the first, second and third neighbour shells (``> 0`` ferromagnetic).
    D : float
        Nearest-neighbour Dzyaloshinskii-Moriya constant.
    dmi : {"interfacial", "bulk"}
        DMI vector ``z x delta_hat`` (Neel, cycloids) or ``delta_hat`` (Bloch, helices).
    K : float
        Single-ion anisotropy ``K (S^z)^2``; ``K > 0`` is easy-plane.
    h : float
        Field along ``z``.
    T : float
        Temperature (``>= 0``); ``T > 0`` makes :func:`~spinexplore.physics.solver.simulate`
        sample equilibrium at ``T`` instead of searching the ground state.

    Raises
    ------
    ValueError
        For an unknown lattice or DMI type, a non-finite coupling, a negative ``T``, or
        ``J1 = J2 = J3 = D = 0``.
    """

    lattice: str = "triangular"
    J1: float = 1.0
    J2: float = 0.0
    J3: float = 0.0
    D: float = 0.0
    dmi: str = "interfacial"
    K: float = 0.0
    h: float = 0.0
    T: float = 0.0

    def __post_init__(self) -> None:
        check_choice("lattice", self.lattice, LATTICE_KINDS)
        check_choice("dmi", self.dmi, DMI_TYPES)
        for name in MODEL_PARAMETERS:
            object.__setattr__(self, name, _check_coupling(name, getattr(self, name)))
        if self.T < 0:
            raise ValueError(f"T must be >= 0 (a temperature in units of J1); got {self.T!r}")
        if self.J1 == 0 and self.J2 == 0 and self.J3 == 0 and self.D == 0:
            raise ValueError(
                "the model needs at least one non-zero coupling among J1, J2, J3, D; got all 0"
            )

    @classmethod
    def preset(cls, name: str = "triangular-chiral", **overrides: Any) -> SpinModel:
        """Build a named model (see :data:`PRESETS`), optionally overriding fields.

        Raises
        ------
        ValueError
            For an unknown preset name (the message lists :data:`PRESETS`) or bad overrides.
        """
        if not isinstance(name, str) or name not in PRESETS:
            raise ValueError(f"model preset must be one of {list(PRESETS)}; got {name!r}")
        allowed = ("lattice", "dmi", *MODEL_PARAMETERS)
        unknown = sorted(set(overrides) - set(allowed))
        if unknown:
            raise ValueError(
                f"unknown SpinModel field(s) {unknown}; allowed: {list(allowed)}"
            )
        return cls(**{**PRESETS[name], **overrides})

    def with_params(self, params: Mapping[str, float]) -> SpinModel:
        """Return a copy with numeric parameters overridden, e.g. ``{"h": 0.2, "K": 0.4}``.

        Raises
        ------
        ValueError
            For a key outside :data:`MODEL_PARAMETERS` or a non-finite value.
        """
        if not isinstance(params, Mapping):
            raise TypeError(f"params must be a mapping of parameter names to numbers; got {params!r}")
        unknown = sorted(str(k) for k in params if k not in MODEL_PARAMETERS)
        if unknown:
            raise ValueError(
                f"unknown model parameter(s) {unknown}; allowed: {list(MODEL_PARAMETERS)}"
            )
        values = {k: _check_coupling(k, v) for k, v in params.items()}
        return replace(self, **values)

    @property
    def natural_unit(self) -> float:
        """The unit ``u`` of ``h`` and ``K`` (physics.md 1.2): ``D^2/J1`` (square) or ``1.5 D^2/J1``.

        Raises
        ------
        ValueError
            When ``J1 <= 0`` or ``D = 0``: the continuum scale is then undefined.
        """
        if self.J1 <= 0 or self.D == 0:
            raise ValueError(
                f"natural_unit needs J1 > 0 and D != 0; got J1={self.J1!r}, D={self.D!r}"
            )
        factor = 1.5 if self.lattice == "triangular" else 1.0
        return factor * self.D**2 / self.J1

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of all fields (JSON/HDF5 friendly)."""
        return asdict(self)
