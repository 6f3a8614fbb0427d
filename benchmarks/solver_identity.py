"""Check that ``simulate`` gives bit-identical results to an earlier commit's solver.

A refactor of ``physics/solver.py`` (issue 25: the ground-state search as named stages) must
change no energy, no label and no spin. This script runs the same cases with the package as it
is and with the package as it was at ``--ref`` (``git archive`` into a temporary folder, run in
a subprocess whose ``PYTHONPATH`` points there), and compares, per case, the ``repr`` of:
``energy``, ``label``, the classifier's ``confidence`` (as ``SpinSimulation`` computes it, from
``label_gap``), ``gap``, ``label_gap``, ``best`` (the winning family), ``max_torque``,
``energy_error``, the candidate list (names and energies), the ``stats`` counts (not the
times), and SHA-256 hashes of the spins and of the ``T > 0`` samples. ``repr`` of a float
round-trips, so a changed last bit counts as a difference.

Cases: every mode, both presets (``triangular-chiral``, ``square-chiral``), ``T = 0`` and
``T > 0``, four ``(h, K)`` points in natural units (physics.md 1.6) at ``L = 12``, and one point
per mode and preset at ``L = 24`` (``T = 0``). The reference records are cached under
``/tmp`` by the reference commit, so a second run costs only the current side.

Writes ``benchmarks/results/solver_identity.json`` (number of cases and of differences, the
first differences, provenance) and exits 1 on any difference.

Usage: ``python benchmarks/solver_identity.py [--ref main] [--costs STAT ...] [--record PATH]``
(``--record`` is the worker: run the cases with whatever ``spinexplore`` imports and write them
to PATH). ``--costs`` names ``stats`` counts that measure work, not results, and may differ
(e.g. ``iterations.anneal_quench`` when a quench is cut short without changing any result);
they are left out of the comparison and listed in the JSON.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "solver_identity.json"
PRESETS = ("triangular-chiral", "square-chiral")
#: (h, K) in natural units: helix, skyrmion crystal, meron / dilute region, canted FM.
POINTS = ((0.05, 0.0), (0.45, 0.0), (0.5, 1.15), (0.3, 2.0))
LARGE_POINT = (0.45, 0.6)  # the one point at L = 24
TEMPERATURE = 0.25  # J1 units: ordered, with thermal noise
SEED = 11


def cases() -> list[tuple[str, str, float, float, float, int]]:
    """(mode, preset, h, K, T, L) of every case."""
    from spinexplore.physics.solver import MODES

    out = []
    for mode in MODES:
        for preset in PRESETS:
            for h, k in POINTS:
                for T in (0.0, TEMPERATURE):
                    out.append((mode, preset, h, k, T, 12))
            out.append((mode, preset, *LARGE_POINT, 0.0, 24))
    return out


def _hash(a) -> str | None:
    import numpy as np

    if a is None:
        return None
    a = np.ascontiguousarray(a, dtype=np.float64)
    return hashlib.sha256(a.tobytes()).hexdigest() + f" {a.shape}"


def record(path: Path) -> None:
    """Run every case with the importable ``spinexplore`` and write the records to ``path``."""
    import spinexplore
    from spinexplore.physics.classify import classify
    from spinexplore.physics.model import SpinModel
    from spinexplore.physics.solver import simulate

    records = []
    for mode, preset, h, k, T, L in cases():
        base = SpinModel.preset(preset)
        u = base.natural_unit
        model = base.with_params({"h": h * u, "K": k * u, "T": T})
        gs = simulate(model, L, mode, seed=SEED)
        gap = gs.label_gap if math.isfinite(gs.label_gap) else None
        label, confidence, _ = classify(gs.spins, gs.lattice, energy_gap=gap, temperature=gs.T)
        counts = {key: v for key, v in gs.stats.items() if key != "seconds"}
        records.append({
            "case": f"{mode} {preset} h={h} K={k} T={T} L={L}",
            "energy": repr(gs.energy), "label": repr(gs.label), "phase": repr(label),
            "confidence": repr(confidence), "gap": repr(gs.gap), "label_gap": repr(gs.label_gap),
            "best": gs.best, "max_torque": repr(gs.max_torque), "energy_error": repr(gs.energy_error),
            "candidates": repr(gs.candidates), "stats": repr(counts), "seed": gs.seed,
            "spins": _hash(gs.spins), "samples": _hash(gs.samples),
        })
        print(records[-1]["case"], gs.best, gs.label, flush=True)
    path.write_text(json.dumps({"package": spinexplore.__file__, "records": records}))


def _without(stats: str, keys: list[str]) -> dict:
    """The ``repr`` of a ``stats`` dict, read back, without the counts ``keys`` (``KEY`` or
    ``KEY.SUBKEY``)."""
    counts = ast.literal_eval(stats)
    for key in keys:
        top, _, sub = key.partition(".")
        if sub:
            counts.get(top, {}).pop(sub, None)
        else:
            counts.pop(top, None)
    return counts


def _run_side(src: Path, out: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(src))
    subprocess.run([sys.executable, str(Path(__file__).resolve()), "--record", str(out)], env=env,
                   check=True, cwd=str(src))
    return json.loads(out.read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", default="main")
    parser.add_argument("--costs", nargs="+", default=[], metavar="STAT",
                        help="stats counts (KEY or KEY.SUBKEY) that may differ: costs, not results")
    parser.add_argument("--record", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.record is not None:
        record(args.record)
        return 0

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from _provenance import load as _load_now
    from _provenance import provenance

    load_start = _load_now()
    t0 = time.perf_counter()
    ref = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", args.ref], capture_output=True,
                         text=True, check=True).stdout.strip()
    cache = Path(tempfile.gettempdir()) / f"solver_identity_ref_{ref}.json"
    if cache.exists():
        old = json.loads(cache.read_text())
    else:
        with tempfile.TemporaryDirectory(prefix="solver_identity_") as tmp:
            archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "spinexplore"],
                                     capture_output=True, check=True).stdout
            subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
            old = _run_side(Path(tmp), Path(tmp) / "records.json")
        cache.write_text(json.dumps(old))
    with tempfile.TemporaryDirectory(prefix="solver_identity_") as tmp:
        new = _run_side(ROOT, Path(tmp) / "records.json")

    differences = []
    for a, b in zip(old["records"], new["records"], strict=True):
        for key in a:
            if key == "stats" and args.costs:
                if _without(a[key], args.costs) != _without(b[key], args.costs):
                    differences.append({"case": a["case"], "field": key, "ref": a[key],
                                        "current": b[key]})
            elif a[key] != b[key]:
                differences.append({"case": a["case"], "field": key, "ref": a[key], "current": b[key]})
    result = {
        "ref": ref, "cases": len(new["records"]), "fields_per_case": len(new["records"][0]),
        "differences": len(differences), "first_differences": differences[:20],
        "costs_not_compared": args.costs,
        "modes": sorted({r["case"].split()[0] for r in new["records"]}), "presets": list(PRESETS),
        "points": [list(p) for p in POINTS], "large_point": list(LARGE_POINT),
        "temperatures": [0.0, TEMPERATURE], "seed": SEED,
        "wall_seconds": round(time.perf_counter() - t0, 1), "provenance": provenance(load_start),
    }
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    print(f"{result['cases']} cases against {ref}: {len(differences)} differences")
    for d in differences[:10]:
        print(" ", d)
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
