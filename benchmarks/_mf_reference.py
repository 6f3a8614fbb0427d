"""Dense reference of a preset's default box for benchmarks/multi_fidelity.py.

``python benchmarks/_mf_reference.py --preset square-chiral --grid 16 --jobs 2`` simulates an
n x n grid of the preset's default box (h/u in [0, 1.2], K/u in [-0.5, 2.0], u the preset's
natural unit) at L = 24 with the ``accurate`` and ``screening`` presets (the built-in
``SpinSimulation``, seed 0) and keeps every finished point in
``benchmarks/results/multi_fidelity_reference_<preset>.json``, written after each point, so an
interrupted computation resumes where it stopped. Run it once, under ``nice``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "results"
MODES = ("screening", "accurate")


def reference_path(preset: str) -> Path:
    return OUT / f"multi_fidelity_reference_{preset}.json"


def default_box(preset: str) -> dict[str, tuple[float, float]]:
    from spinexplore.physics.model import SpinModel

    u = SpinModel.preset(preset).natural_unit
    return {"h": (0.0, round(1.2 * u, 6)), "K": (round(-0.5 * u, 6), round(2.0 * u, 6))}


def grid_points(preset: str, n: int) -> list[dict[str, float]]:
    box = default_box(preset)
    hs = np.linspace(*box["h"], n)
    ks = np.linspace(*box["K"], n)
    return [{"h": float(h), "K": float(k)} for k in ks for h in hs]


def _one(args):
    preset, mode, key, params = args
    from spinexplore.simulation import SpinSimulation

    sim = SpinSimulation(preset, lattice_size=24, mode=mode, seed=0)
    t0 = time.process_time()
    r = sim(params)
    return key, mode, {"phase": r.phase.name, "confidence": float(r.confidence), "energy": float(r.energy),
                       "label_gap": float(r.observables.get("label_gap", float("nan"))),
                       "cpu_s": time.process_time() - t0, "wall_s": float(r.duration)}


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=HERE, check=False).stdout.strip()
    except OSError:
        return ""


def compute(preset: str, n: int, jobs: int) -> dict:
    path = reference_path(preset)
    data = json.loads(path.read_text()) if path.exists() else {}
    if data.get("grid") != n:
        data = {"preset": preset, "grid": n, "box": default_box(preset), "lattice_size": 24, "seed": 0,
                "points": {}, "started": time.strftime("%Y-%m-%d %H:%M:%S"), "commit": _commit(),
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                            "platform": platform.platform()}, "load_avg_start": list(os.getloadavg())}
    pts = grid_points(preset, n)
    todo = []
    for i, p in enumerate(pts):
        row = data["points"].setdefault(str(i), {"h": p["h"], "K": p["K"]})
        for mode in MODES:
            if mode not in row:
                todo.append((preset, mode, str(i), p))
    # the cheap rung first, then the accurate rung in a coarse-to-fine order (a prefix is usable)
    todo.sort(key=lambda t: (t[1] != "screening", _coarse_order(int(t[2]), n)))
    last = time.monotonic()
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futs = [pool.submit(_one, t) for t in todo]
        for fut in as_completed(futs):
            key, mode, rec = fut.result()
            data["points"][key][mode] = rec
            if time.monotonic() - last > 10 or fut is futs[-1]:
                _save(path, data)
                last = time.monotonic()
    data["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    data["load_avg_end"] = list(os.getloadavg())
    _save(path, data)
    return data


def _coarse_order(i: int, n: int) -> tuple[int, int]:
    r, c = divmod(i, n)
    for level, step in enumerate((8, 4, 2, 1)):
        if r % step == 0 and c % step == 0:
            return level, i
    return 4, i  # pragma: no cover


def _save(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=0))
    os.replace(tmp, path)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", action="append", required=True)
    ap.add_argument("--grid", type=int, default=16)
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args(argv)
    for preset in a.preset:
        compute(preset, a.grid, a.jobs)


if __name__ == "__main__":
    sys.exit(main())
