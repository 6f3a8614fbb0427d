"""The README's h-T table: the built-in solver's phase and confidence on a small field x
temperature grid of the triangular preset (``SpinSimulation(mode="fast")``, L = 24).

Usage::

    python benchmarks/h_T_table.py             # 3 x 7 points, about a minute on one core
    python benchmarks/h_T_table.py --out /tmp/hT.json

Writes ``benchmarks/results/h_T_table.json`` (with the commit, machine and load); the README's
section ``report:h_T_table`` is rendered from it by :func:`render_readme`
(``python benchmarks/report.py --write``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
H_OVER_U = (0.1, 0.45, 1.0)
T_J = (0.05, 0.2, 0.4, 0.7, 1.0, 1.5, 2.5)
PRESET, L, MODE, SEED = "triangular-chiral", 24, "fast", 0


def measure() -> dict:
    sys.path.insert(0, str(HERE))
    from _provenance import load, provenance

    from spinexplore import SpinSimulation
    from spinexplore.physics.model import SpinModel

    start = load()
    u = SpinModel.preset(PRESET).natural_unit
    sim = SpinSimulation(PRESET, lattice_size=L, mode=MODE, seed=SEED)
    rows = []
    for h_u in H_OVER_U:
        for T in T_J:
            t0 = time.process_time()
            r = sim({"h": h_u * u, "K": 0.0, "T": T})
            rows.append({"h_over_u": h_u, "T": T, "phase": r.phase.name, "confidence": float(r.confidence),
                         "cpu_seconds": time.process_time() - t0})
            print(f"h/u={h_u:<5} T={T:<5} {r.phase.name:<12} {r.confidence:.2f}", flush=True)
    return {"preset": PRESET, "L": L, "mode": MODE, "seed": SEED, "natural_unit": u,
            "h_over_u": list(H_OVER_U), "T": list(T_J), "rows": rows, "provenance": provenance(start)}


def render_readme(data: dict) -> str:
    """The README's table (between the ``report:h_T_table`` markers)."""
    from _provenance import describe

    cell = {(r["h_over_u"], r["T"]): f"{r['phase']}/{r['confidence']:.2f}" for r in data["rows"]}
    lines = [f"Triangular preset, `{data['mode']}`, L = {data['L']}, K = 0, one point each (phase/confidence; "
             f"`python benchmarks/h_T_table.py`, {describe(data.get('provenance'))}):", "",
             "| h/u \\ T (J) | " + " | ".join(f"{T:g}" for T in data["T"]) + " |",
             "|---|" + "---|" * len(data["T"])]
    for h in data["h_over_u"]:
        lines.append(f"| {h:g} | " + " | ".join(cell[(h, T)] for T in data["T"]) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=str(HERE / "results" / "h_T_table.json"))
    args = p.parse_args(argv)
    data = measure()
    Path(args.out).write_text(json.dumps(data, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
