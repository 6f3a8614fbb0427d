"""Cost and reliability of the built-in ground-state search (issue 20) at L = 24 on one core.

Measures, per preset (``screening``, ``fast``, ``accurate``) on points of both presets' default
boxes (h/u in [0, 1.2], K/u in [-0.5, 2.0], physics.md 1.6):

* the CPU seconds per ``simulate`` call (best of ``--repeats`` warm calls per point; the median
  over the points of a box is the figure), for this tree and, with ``--compare REV [REV ...]``,
  for other revisions side by side in the same run (each in its own subprocess with
  ``PYTHONPATH`` at a checkout of that revision, numba kernels compiled and warmed up first);
* where the time goes (this tree only, from ``GroundState.stats``): the share in anneals, coarse
  relaxations of the ansatz states, full relaxations and classification, and how many
  candidates were relaxed fully;
* whether anything was lost: per point and preset the energy and label of every revision, and
  ``fast`` / ``screening`` against ``accurate`` (same label);
* Metropolis spin updates per second of the ``mc_sweeps`` kernel.

A revision is a directory (a checkout) or anything ``git archive`` accepts; the latter is
unpacked once under the system's temporary directory, where numba keeps its compiled kernels
between runs.

Usage: ``python benchmarks/solver.py [--quick] [--repeats 3] [--compare REV ...]``.
Writes ``benchmarks/results/solver.json`` (``--quick``: ``solver_quick.json``);
:func:`render_readme` turns it into the README's solver section.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MODES = ("screening", "fast", "accurate")
PRESETS = ("triangular-chiral", "square-chiral")
TARGETS = {"ratio_vs_eae91a8": 0.5, "ratio_stretch": 0.35, "square_accurate_s": 6.0,
           "updates_per_s": 5e6}
#: (h/u, K/u): the points of the issue's table, then four more spread over each box (helix,
#: skyrmion or meron crystal, cone, polarized FM); ``--quick``: the issue's two only.
ISSUE_POINTS = {"triangular-chiral": [(0.127, 0.0), (0.1, 0.3)],
                "square-chiral": [(0.2, 0.6), (0.1, 0.9)]}
GRID = [(0.4, -0.2), (1.0, 0.3), (0.5, 1.2), (0.3, 1.7)]
STAGES = ("anneal", "coarse", "refine", "classify")


def points(quick: bool) -> list[tuple[str, float, float]]:
    out = []
    for preset in PRESETS:
        pts = ISSUE_POINTS[preset] + ([] if quick else GRID)
        out += [(preset, h, K) for h, K in pts]
    return out


# ------------------------------------------------------------------ worker (any revision) ----


def worker(task_file: str, out_file: str) -> None:
    """Run the tasks of ``task_file`` with the ``spinexplore`` on ``sys.path`` (any revision:
    only ``SpinModel.preset``, ``natural_unit``, ``with_params`` and ``simulate`` are used)."""
    import spinexplore
    from spinexplore.physics.model import SpinModel
    from spinexplore.physics.solver import simulate

    task = json.loads(Path(task_file).read_text())
    repeats = task["repeats"]
    for preset in PRESETS:  # compile or load the kernels and fill the per-process caches
        for mode in MODES:
            simulate(SpinModel.preset(preset, h=0.1), 24, mode, seed=0)
    rows = []
    for preset, h_u, K_u in task["points"]:
        m0 = SpinModel.preset(preset)
        u = m0.natural_unit
        model = m0.with_params({"h": h_u * u, "K": K_u * u})
        for mode in MODES:
            cpu = []
            for _ in range(repeats):
                c0 = time.process_time()
                gs = simulate(model, 24, mode, seed=0)
                cpu.append(time.process_time() - c0)
            label = getattr(gs, "label", None)
            if label is None:
                from spinexplore.physics.classify import classify

                label = classify(gs.spins, gs.lattice).phase.name
            rows.append({"preset": preset, "h_over_u": h_u, "K_over_u": K_u, "mode": mode,
                         "cpu_s": min(cpu), "cpu_all_s": cpu, "energy": gs.energy, "label": label,
                         "family": gs.best, "gap": gs.gap,
                         "label_gap": getattr(gs, "label_gap", None),
                         "stats": getattr(gs, "stats", None) or None})
    Path(out_file).write_text(json.dumps({"spinexplore": spinexplore.__file__, "rows": rows},
                                         default=float))


def metropolis_rate(repeats: int, sweeps: int = 2000) -> dict:
    from spinexplore.physics import _kernels
    from spinexplore.physics.energy import couplings
    from spinexplore.physics.model import SpinModel

    model = SpinModel.preset(h=0.2)
    nbr, mats = couplings(model, 24)
    s = np.random.default_rng(0).normal(size=(576, 3))
    s /= np.linalg.norm(s, axis=1, keepdims=True)
    state = np.array([1, 2, 3, 4], dtype=np.uint64)
    _kernels.mc_sweeps(s, nbr, mats, 0.0, 0.2, np.full(10, 0.1), 0.5, state, 0, 0.45)
    rates = []
    for _ in range(repeats):
        c0 = time.process_time()
        _kernels.mc_sweeps(s, nbr, mats, 0.0, 0.2, np.full(sweeps, 0.1), 0.5, state, 0, 0.45)
        rates.append(sweeps * 576 / max(time.process_time() - c0, 1e-9))
    return {"T": 0.1, "cpu_best": max(rates), "cpu_median": statistics.median(rates)}


# ------------------------------------------------------------------ revisions ----------------


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def checkout(rev: str) -> tuple[Path, str]:
    """A directory holding revision ``rev`` and its commit hash."""
    path = Path(rev)
    if path.is_dir():
        commit = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True,
                                text=True).stdout.strip() or "unknown"
        return path.resolve(), commit
    commit = _git("rev-parse", "--verify", f"{rev}^{{commit}}")
    target = Path(tempfile.gettempdir()) / f"spinexplore-rev-{commit[:12]}"
    if not (target / "spinexplore").is_dir():
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target, commit


def run_revision(tree: Path, pts: list, repeats: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        task, out = Path(tmp) / "task.json", Path(tmp) / "out.json"
        task.write_text(json.dumps({"points": pts, "repeats": repeats}))
        env = {**os.environ, "PYTHONPATH": str(tree)}
        subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", str(task),
                        str(out)], check=True, env=env, cwd=tmp)
        return json.loads(out.read_text())


# ------------------------------------------------------------------ summary ------------------


def summarize(rows: list[dict]) -> dict:
    out = {}
    for preset in PRESETS:
        for mode in MODES:
            sel = [r for r in rows if r["preset"] == preset and r["mode"] == mode]
            if not sel:
                continue
            entry = {"cpu_median": statistics.median(r["cpu_s"] for r in sel),
                     "cpu_max": max(r["cpu_s"] for r in sel), "n_points": len(sel)}
            stats = [r["stats"] for r in sel if r.get("stats")]
            if stats:
                total = {st: sum(s["seconds"].get(st, 0.0) for s in stats) for st in STAGES}
                whole = sum(total.values()) or 1.0
                entry["share"] = {st: total[st] / whole for st in STAGES}
                entry["refined_median"] = statistics.median(s["refined"] for s in stats)
                entry["candidates_median"] = statistics.median(s["candidates"] for s in stats)
            out[f"{preset}|{mode}"] = entry
    return out


def agreement(rows: list[dict]) -> dict:
    """Share of points where ``fast`` / ``screening`` give the label of ``accurate``."""
    acc = {(r["preset"], r["h_over_u"], r["K_over_u"]): r["label"] for r in rows
           if r["mode"] == "accurate"}
    out = {}
    for mode in ("fast", "screening"):
        same = [r["label"] == acc[(r["preset"], r["h_over_u"], r["K_over_u"])] for r in rows
                if r["mode"] == mode]
        out[mode] = float(np.mean(same)) if same else None
    return out


def lost(new: list[dict], old: list[dict], tol: float = 1e-7) -> dict:
    """Points where this tree's energy is above ``old``'s by more than ``tol`` or the label differs."""
    ref = {(r["preset"], r["h_over_u"], r["K_over_u"], r["mode"]): r for r in old}
    higher, relabelled, lower = [], [], 0
    for r in new:
        o = ref.get((r["preset"], r["h_over_u"], r["K_over_u"], r["mode"]))
        if o is None:
            continue
        key = {"preset": r["preset"], "h_over_u": r["h_over_u"], "K_over_u": r["K_over_u"],
               "mode": r["mode"], "dE": r["energy"] - o["energy"], "label": r["label"],
               "old_label": o["label"]}
        if r["energy"] > o["energy"] + tol:
            higher.append(key)
        elif r["energy"] < o["energy"] - tol:
            lower += 1
        if r["label"] != o["label"]:
            relabelled.append(key)
    return {"n": len(new), "higher": higher, "relabelled": relabelled, "lower": lower,
            "tolerance": tol}


def main(argv: list[str] | None = None) -> dict | None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the issue's 2 points per box only")
    ap.add_argument("--repeats", type=int, default=3, help="warm calls per point (best is kept)")
    ap.add_argument("--compare", nargs="+", default=[], metavar="REV",
                    help="revisions (checkouts or git revisions) to measure side by side")
    ap.add_argument("--worker", nargs=2, metavar=("TASK", "OUT"), help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args(argv)
    if a.worker:
        worker(*a.worker)
        return None
    if a.repeats < 1:
        raise ValueError(f"--repeats must be a positive integer; got {a.repeats}")
    pts = points(a.quick)
    load_before = os.getloadavg()
    t0 = time.time()
    revisions = {}
    here = run_revision(ROOT, pts, a.repeats)
    head = _git("rev-parse", "HEAD")
    dirty = bool(_git("status", "--porcelain", "--", "spinexplore"))
    revisions["this tree"] = {"commit": head, "dirty": dirty, "rows": here["rows"]}
    for rev in a.compare:
        tree, commit = checkout(rev)
        revisions[rev] = {"commit": commit, "dirty": False,
                          "rows": run_revision(tree, pts, a.repeats)["rows"]}
    for entry in revisions.values():
        entry["summary"] = summarize(entry["rows"])
        entry["agreement_with_accurate"] = agreement(entry["rows"])
    new = revisions["this tree"]
    ratios, checks = {}, {}
    for rev in a.compare:
        old = revisions[rev]
        ratios[rev] = {k: new["summary"][k]["cpu_median"] / old["summary"][k]["cpu_median"]
                       for k in new["summary"] if k in old["summary"]}
        checks[rev] = lost(new["rows"], old["rows"])
    result = {
        "conditions": {"L": 24, "machine": platform.processor() or platform.machine(),
                       "node": platform.node(), "cpus": os.cpu_count(), "python": sys.version.split()[0],
                       "load_avg_before": load_before, "load_avg_after": os.getloadavg(),
                       "repeats": a.repeats, "quick": a.quick, "wall_s": time.time() - t0,
                       "note": "CPU seconds of one core (process_time), best of the repeats per "
                               "point; ratios are measured side by side in this one run"},
        "commit": head, "dirty": dirty,
        "targets": TARGETS,
        "points": pts,
        "metropolis_updates_per_s": metropolis_rate(max(a.repeats, 2)),
        "revisions": revisions,
        "ratio_to": ratios,
        "nothing_lost": checks,
    }
    out = a.out or ROOT / "benchmarks" / "results" / ("solver_quick.json" if a.quick else "solver.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, default=float))
    print(render_readme(result))
    print(f"wrote {out}")
    return result


# ------------------------------------------------------------------ README -------------------


def _name(rev: str, data: dict) -> str:
    return data["revisions"][rev]["commit"][:7]


def render_readme(data: dict) -> str:
    """The README's solver section (between the ``report:solver`` markers) from ``data``."""
    new = data["revisions"]["this tree"]
    olds = [r for r in data["revisions"] if r != "this tree"]
    c = data["conditions"]
    lines = [
        f"Measured by `python benchmarks/solver.py{' --quick' if c['quick'] else ''}"
        + (f" --compare {' '.join(_name(r, data) for r in olds)}`" if olds else "`")
        + f" at commit {data['commit'][:7]}{' (modified)' if data['dirty'] else ''}: L = 24, CPU "
        f"seconds of one core per `simulate` call, best of {c['repeats']} warm calls, median over "
        f"{len(data['points']) // len(PRESETS)} points of each preset's box; every revision in the "
        f"same run on this {c['cpus']}-core machine (load {c['load_avg_before'][0]:.1f} before, "
        f"{c['load_avg_after'][0]:.1f} after).",
        "",
        "| preset, box | " + " | ".join(
            [f"{_name(r, data)}" for r in olds] + ["now"]
            + [f"now / {_name(r, data)}" for r in olds]) + " |",
        "|---|" + "---|" * (2 * len(olds) + 1),
    ]
    for preset in PRESETS:
        for mode in MODES:
            k = f"{preset}|{mode}"
            cells = [f"{data['revisions'][r]['summary'][k]['cpu_median']:.3f} s" for r in olds]
            cells.append(f"**{new['summary'][k]['cpu_median']:.3f} s**")
            cells += [f"{data['ratio_to'][r][k]:.2f}x" for r in olds]
            lines.append(f"| `{mode}`, {preset.split('-')[0]} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Where the time goes now (share of the CPU time over the same points) and how many "
        "candidates are relaxed fully (median per simulation, of all candidates relaxed):",
        "",
        "| preset, box | anneals | coarse relaxations | full relaxations | classification | "
        "relaxed fully |",
        "|---|---|---|---|---|---|",
    ]
    for preset in PRESETS:
        for mode in MODES:
            e = new["summary"][f"{preset}|{mode}"]
            sh = e.get("share", {})
            lines.append(f"| `{mode}`, {preset.split('-')[0]} | "
                         + " | ".join(f"{100 * sh.get(st, 0.0):.0f} %" for st in STAGES)
                         + f" | {e.get('refined_median', 0):.0f} of {e.get('candidates_median', 0):.0f} |")
    agree = new["agreement_with_accurate"]
    lines += ["", f"Same label as `accurate` at these points: `fast` {100 * agree['fast']:.0f} %, "
              f"`screening` {100 * agree['screening']:.0f} %"
              + "".join(f" ({_name(r, data)}: {100 * data['revisions'][r]['agreement_with_accurate']['fast']:.0f} % / "
                        f"{100 * data['revisions'][r]['agreement_with_accurate']['screening']:.0f} %)"
                        for r in olds) + "."]
    for r in olds:
        chk = data["nothing_lost"][r]
        lines.append(f"Against {_name(r, data)}: {len(chk['higher'])} of {chk['n']} simulations "
                     f"higher in energy by more than {chk['tolerance']:g} J per spin, "
                     f"{len(chk['relabelled'])} with another label, {chk['lower']} lower.")
    rate = data["metropolis_updates_per_s"]
    lines += ["", f"Metropolis kernel: {rate['cpu_median'] / 1e6:.1f} M spin updates per CPU second "
              f"(median; target >= {TARGETS['updates_per_s'] / 1e6:.0f} M)."]

    def cost(mode: str) -> str:
        return " / ".join(f"{new['summary'][f'{p}|{mode}']['cpu_median']:.2f} s" for p in PRESETS)

    lines += [
        "",
        "Which preset (cost per simulation, triangular / square box):",
        "",
        f"- `screening` ({cost('screening')}): first maps of a wide box and quick looks; no anneals,",
        "  the smallest ansatz set (it misses the edge of the square meron-antimeron crystal, see",
        "  \"How far to trust the ground states\").",
        f"- `fast` ({cost('fast')}): the default for phase diagrams; within 1e-3 J per spin and with",
        "  the label of the best known state at every audited point.",
        f"- `accurate` ({cost('accurate')}): points near boundaries, figures for a paper, and checks",
        "  of `fast`; the most anneals and ansatz states (every cone axis, two cone weights, soliton",
        "  phases).",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
