"""Your own phases: the classical J1-J2 Heisenberg model on the square lattice, in numpy.

A simulation of the user's that names its phases with strings ("FM", "Neel", "stripe"), to
show spinexplore's open label vocabulary. The classical ground state of

    H = J1 sum_<ij> S_i . S_j + J2 sum_<<ij>> S_i . S_j      (|S| = 1)

is the spiral whose wavevector Q minimises J(q) = J1 (cos qx + cos qy) + 2 J2 cos qx cos qy
(the energy per spin). On an L x L torus that is a minimum over L^2 wavevectors. Three phases
meet: FM (Q = 0, E = 2 J1 + 2 J2), Neel (Q = (pi, pi), E = -2 J1 + 2 J2) and stripe
(Q = (pi, 0), E = -2 J2). The exact boundaries are J2 = |J1| / 2 (stripe above) and J1 = 0
below it (FM for J1 < 0, Neel for J1 > 0). When the best two wavevector families are closer
than ``tol`` in energy the function says "UNKNOWN": it ran and could not decide.

Use it from Python::

    from spinexplore import ActiveLearningExplorer, ParameterSpace
    from j1j2_square import PHASES, j1j2_square
    ex = ActiveLearningExplorer(ParameterSpace({"J1": (-1, 1), "J2": (-1, 1)}), seed=0, phases=PHASES)
    ex.run(n_iterations=4, n_per_iteration=10, simulation=j1j2_square, n_initial=20)

or as the external command of ``spinexplore run --config j1j2.toml``, with
``command = "python examples/j1j2_square.py {params_file}"`` (it prints a JSON result).
"""

from __future__ import annotations

import json
import sys

import numpy as np

#: Display names (LaTeX allowed) and colours of the three phases, in legend order.
PHASES = {
    "FM": {"display": "FM", "color": "#4477AA"},
    "Neel": {"display": r"Néel $(\pi,\pi)$", "color": "#EE6677"},
    "stripe": {"display": r"stripe $(\pi,0)$", "color": "#228833"},
}


def exact_phase(J1: float, J2: float) -> str:
    """The exact classical ground state (the reference the tests compare with)."""
    if J2 > abs(J1) / 2:
        return "stripe"
    return "FM" if J1 < 0 else "Neel"


def j1j2_square(params: dict, L: int = 16, tol: float = 1e-3) -> dict:
    """Phase, confidence and energy per spin at ``params["J1"]``, ``params["J2"]``."""
    J1, J2 = float(params["J1"]), float(params["J2"])
    q = 2 * np.pi * np.arange(L) / L
    cx, cy = np.cos(q)[:, None], np.cos(q)[None, :]
    energy = J1 * (cx + cy) + 2 * J2 * cx * cy  # J(q) on the torus' wavevectors
    # the family of each wavevector: 0 -> FM, (pi, pi) -> Neel, (pi, 0) or (0, pi) -> stripe
    at_pi = np.isclose(np.abs(np.cos(q)), 1.0) & (np.cos(q) < 0)
    at_0 = np.isclose(np.cos(q), 1.0)
    family = np.full((L, L), "spiral", dtype=object)
    family[np.ix_(at_0, at_0)] = "FM"
    family[np.ix_(at_pi, at_pi)] = "Neel"
    family[np.ix_(at_pi, at_0)] = family[np.ix_(at_0, at_pi)] = "stripe"
    best = np.unravel_index(np.argmin(energy), energy.shape)
    label = family[best]
    others = energy[family != label]
    gap = float(others.min() - energy[best]) if others.size else np.inf
    if gap < tol:
        label = "UNKNOWN"  # degenerate within tol: the simulation could not decide
    return {"phase": label, "confidence": float(min(1.0, gap / 0.2)), "energy": float(energy[best]),
            "gap": gap}


if __name__ == "__main__":  # the external-command protocol: read params.json, print the result
    with open(sys.argv[1], encoding="utf-8") as fh:
        print(json.dumps(j1j2_square(json.load(fh))))
