"""Which lattice sizes L suit each model preset: the finite-size (commensurability) cost.

An L x L torus only holds wavevectors Q = (n1 b1 + n2 b2) / L. A spiral, a skyrmion crystal or
a meron-antimeron crystal whose natural wavevector is not among them is squeezed or stretched,
which raises its energy and can change which phase wins. This script runs the built-in solver
(``SpinSimulation``, ``--mode``, default ``fast``) on a list of L at a few points of each
preset and reports, per L:

* at h = K = 0, the helix energy per spin minus the exact infinite-lattice optimum
  (physics.md section 2: along a bond on the triangular lattice,
  E(q) = -J[cos q + 2 cos(q/2)] - D[sin q + sin(q/2)] minimised over q; along the diagonal on
  the square lattice, E = -2 sqrt(J^2 + D^2/2)), which is zero only when the optimal spiral
  fits the torus;
* the phase label and energy at a skyrmion-crystal point and (square preset) at a
  meron-antimeron point of the preset's box, so that one sees at which L the phase survives.

Usage: ``python benchmarks/commensurability.py [--sizes 12 16 ...] [--mode fast]``.
Writes ``benchmarks/results/commensurability.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from pathlib import Path

from scipy.optimize import minimize_scalar

from _provenance import load as _load_now  # noqa: E402
from _provenance import provenance  # noqa: E402
from spinexplore import SpinSimulation
from spinexplore.physics.model import SpinModel

SIZES = (12, 16, 18, 20, 24, 30, 32, 36, 48)
#: (preset, point name, parameters in units of J1). The SkX and MAX points lie inside the
#: regions the README reads off each preset's phase diagram.
POINTS = (
    ("triangular-chiral", "helix", {"h": 0.0, "K": 0.0}),
    ("triangular-chiral", "skyrmion", {"h": 0.25, "K": 0.0}),
    ("square-chiral", "helix", {"h": 0.0, "K": 0.0}),
    ("square-chiral", "skyrmion", {"h": 0.3, "K": 0.0}),
    ("square-chiral", "meron_antimeron", {"h": 0.2, "K": 0.6}),
)


def helix_optimum(preset: str) -> float:
    """Exact energy per spin (units of J1) of the best infinite-lattice spiral at h = K = 0."""
    model = SpinModel.preset(preset)
    J, D = float(model.J1), float(model.D)
    if model.lattice == "triangular":
        res = minimize_scalar(lambda q: -J * (math.cos(q) + 2 * math.cos(q / 2)) - D * (math.sin(q) + math.sin(q / 2)),
                              bounds=(0.0, math.pi), method="bounded", options={"xatol": 1e-12})
        return float(res.fun)
    return -2.0 * math.sqrt(J * J + D * D / 2.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--mode", default="fast")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "commensurability.json"))
    args = parser.parse_args()
    load0 = _load_now()
    rows = []
    for preset, name, params in POINTS:
        exact = helix_optimum(preset) if name == "helix" else None
        for L in args.sizes:
            sim = SpinSimulation(preset, lattice_size=L, mode=args.mode, seed=0)
            t0 = time.perf_counter()
            r = sim(params)
            row = {"preset": preset, "point": name, "params": params, "L": L, "phase": r.phase.name,
                   "confidence": round(float(r.confidence), 3), "energy": float(r.energy),
                   "seconds": round(time.perf_counter() - t0, 2)}
            if exact is not None:
                row["exact_infinite"] = exact
                row["excess"] = float(r.energy) - exact
            rows.append(row)
            extra = f" excess {row['excess']:+.2e}" if exact is not None else ""
            print(f"{preset:18s} {name:16s} L={L:3d} {r.phase.name:16s} E={r.energy:.6f}{extra}", flush=True)
    out = {"provenance": provenance(load0), "mode": args.mode, "sizes": args.sizes, "rows": rows,
           "machine": {"python": platform.python_version(), "platform": platform.platform()}}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))
    print(f"wrote {args.out}")


SHORT = {"SINGLE_Q": "helix", "SKYRMION": "SkX", "MERON_ANTIMERON": "MAX", "FERROMAGNET": "FM"}


def _e(x: float) -> str:
    """2.0e-2 style; below 1e-8 (exact up to rounding) in bold with one digit."""
    m, e = f"{x:.1e}".split("e")
    if x >= 1e-8:
        return f"{m}e{int(e)}"
    m, e = f"{x:.0e}".split("e")
    return f"**{m}e{int(e)}**"


def render_readme(data: dict) -> str:
    """The README's "Which L" table, from results/commensurability.json (``benchmarks/report.py``)."""
    from _provenance import describe

    sizes = data["sizes"]
    rows = {(r["preset"], r["point"], r["L"]): r for r in data["rows"]}
    lines = ["| L | " + " | ".join(str(L) for L in sizes) + " |", "|---" * (len(sizes) + 1) + "|"]
    for preset, label in (("triangular-chiral", "triangular helix, E above the exact optimum (J1/spin)"),
                          ("square-chiral", "square helix, E above the exact optimum")):
        lines.append(f"| {label} | " + " | ".join(_e(rows[(preset, "helix", L)]["excess"]) for L in sizes) + " |")
    maxrows = [rows[k] for k in rows if k[1] == "meron_antimeron"]
    if maxrows:
        p = maxrows[0]["params"]
        best = min(r["energy"] for r in maxrows)
        cells = []
        for L in sizes:
            r = rows[("square-chiral", "meron_antimeron", L)]
            name = SHORT.get(r["phase"], r["phase"])
            cells.append(f"**{name}**" if r["energy"] - best < 1e-9 else name)
        lines.append(f"| square, h = {p['h']}, K = {p['K']} (J1): label (bold: lowest energy) | " + " | ".join(cells) + " |")
    tri = [rows[k] for k in rows if k[:2] == ("triangular-chiral", "skyrmion")]
    text = ""
    if tri:
        best = min(r["energy"] for r in tri)
        phases = {r["phase"] for r in tri}
        gap = max(r["energy"] - best for r in tri if r["L"] in (24, 48))
        text = (f"At the triangular skyrmion point (h = {tri[0]['params']['h']}, K = {tri[0]['params']['K']}) the "
                f"label is {'SKYRMION at every L tried' if phases == {'SKYRMION'} else ', '.join(sorted(phases))}; "
                f"the energy at L = 24 and 48 is within {_e(gap).strip('*')} J1 per spin of the best of all sizes.")
    return "\n".join(lines + ["", text, "", f"(`{data['mode']}` mode; {describe(data.get('provenance'))}.)"])


if __name__ == "__main__":
    main()
