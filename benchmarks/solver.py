"""Cost and reliability of the built-in ground-state search (issue 20) at L = 24 on one core.

Measures, per preset (``screening``, ``fast``, ``accurate``) on points of both presets' default
boxes (h/u in [0, 1.2], K/u in [-0.5, 2.0], physics.md 1.6):

* the CPU seconds per ``simulate`` call for this tree and, with ``--compare REV [REV ...]``, for
  other revisions in the same run. Each revision has one persistent worker process
  (``benchmarks/_solver_worker.py``, ``PYTHONPATH`` at a checkout of that revision), started and
  warmed up (numba kernels compiled) before any timing. The revisions are then interleaved: in
  each of ``--repeats`` rounds every (point, mode) is simulated once by each revision, one call
  at a time, the revisions' order rotated by one each round, so all revisions see the same
  machine within seconds. Per point the best round counts; the median over the points of a box
  is the figure, and the JSON also has each round's ratio (``ratio_by_round``) to show the
  spread;
* where the time goes (this tree only, from ``GroundState.stats``): the share in anneals, coarse
  relaxations of the ansatz states, full relaxations and classification, and how many
  candidates were relaxed fully;
* whether anything was lost: per point and preset the energy and label of every revision, and
  ``fast`` / ``screening`` against ``accurate`` (same label); whether every round gave the same
  energy and label (``repeatable``);
* Metropolis spin updates per second of the ``mc_sweeps`` kernel.

A revision is a directory (a checkout) or anything ``git archive`` accepts; the latter is
unpacked once under the system's temporary directory, where numba keeps its compiled kernels
between runs.

Usage: ``python benchmarks/solver.py [--quick] [--repeats 5] [--compare REV ...] [--out FILE]``.
Writes ``benchmarks/results/solver.json`` (``--quick``: ``solver_quick.json``);
:func:`render_readme` turns it into the README's solver section.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _solver_worker import pool

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


# ------------------------------------------------------------------ interleaved timing -------


def rotation(names: list[str], r: int) -> list[str]:
    """The order of the revisions in round ``r``: ``names`` rotated left by ``r``."""
    k = r % len(names)
    return names[k:] + names[:k]


def measure(trees: dict[str, Path], pts: list, repeats: int) -> dict[str, dict]:
    """Per revision ``{"spinexplore": FILE, "rows": [...]}``, timed call by call in turns.

    Every worker is started and warmed up first. Then, ``repeats`` rounds: each (point, mode)
    is simulated once by each revision, in the order :func:`rotation` gives for that round, one
    worker computing at a time.
    """
    names = list(trees)
    calls: dict[tuple, list[dict]] = {(n, i, m): [] for n in names for i in range(len(pts))
                                      for m in MODES}
    with pool(trees, {"presets": PRESETS, "modes": MODES, "L": 24}) as workers:
        for r in range(repeats):
            t0 = time.time()
            for i, (preset, h_u, K_u) in enumerate(pts):
                for mode in MODES:
                    for n in rotation(names, r):
                        calls[(n, i, mode)].append(workers[n].call(
                            preset=preset, h_over_u=h_u, K_over_u=K_u, mode=mode))
            print(f"round {r + 1}/{repeats}: {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
        files = {n: w.spinexplore for n, w in workers.items()}
    return {n: {"spinexplore": files[n],
                "rows": [_row(pt, mode, calls[(n, i, mode)]) for i, pt in enumerate(pts)
                         for mode in MODES]} for n in names}


def _row(pt: tuple, mode: str, cs: list[dict]) -> dict:
    """One point and mode of one revision: the best CPU time of the rounds, every round's time,
    the result of the first round, and whether every round gave its energy and label."""
    cpu = [c["cpu_s"] for c in cs]
    first, best = cs[0], cs[cpu.index(min(cpu))]
    row = {"preset": pt[0], "h_over_u": pt[1], "K_over_u": pt[2], "mode": mode,
           "cpu_s": min(cpu), "cpu_all_s": cpu,
           **{k: first[k] for k in ("energy", "label", "family", "gap", "label_gap")},
           "stats": best["stats"],
           "repeatable": all(c["energy"] == first["energy"] and c["label"] == first["label"]
                             for c in cs)}
    if not row["repeatable"]:
        row["energy_all"] = [c["energy"] for c in cs]
        row["label_all"] = [c["label"] for c in cs]
    return row


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


def round_ratios(new: list[dict], old: list[dict]) -> dict:
    """Per ``preset|mode``: this tree's median over the points / ``old``'s, round by round."""
    out = {}
    for preset in PRESETS:
        for mode in MODES:
            a, b = ([r["cpu_all_s"] for r in rows if r["preset"] == preset and r["mode"] == mode]
                    for rows in (new, old))
            if a and b:
                out[f"{preset}|{mode}"] = [
                    statistics.median(x[k] for x in a) / statistics.median(y[k] for y in b)
                    for k in range(min(len(a[0]), len(b[0])))]
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the issue's 2 points per box only")
    ap.add_argument("--repeats", type=int, default=5,
                    help="rounds: warm calls per point, revision and mode (best is kept)")
    ap.add_argument("--compare", nargs="+", default=[], metavar="REV",
                    help="revisions (checkouts or git revisions) to measure side by side")
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args(argv)
    if a.repeats < 1:
        ap.error(f"--repeats must be a positive integer; got {a.repeats}")
    pts = points(a.quick)
    head = _git("rev-parse", "HEAD")
    dirty = bool(_git("status", "--porcelain", "--", "spinexplore"))
    trees, commits = {"this tree": ROOT}, {"this tree": (head, dirty)}
    for rev in a.compare:
        trees[rev], commit = checkout(rev)
        commits[rev] = (commit, False)
    load_before = os.getloadavg()
    t0 = time.time()
    measured = measure(trees, pts, a.repeats)
    wall = time.time() - t0
    load_after = os.getloadavg()
    revisions = {}
    for rev, m in measured.items():
        revisions[rev] = {"commit": commits[rev][0], "dirty": commits[rev][1],
                          "spinexplore": m["spinexplore"], "rows": m["rows"],
                          "summary": summarize(m["rows"]),
                          "agreement_with_accurate": agreement(m["rows"]),
                          "repeatable": all(r["repeatable"] for r in m["rows"])}
    new = revisions["this tree"]
    ratios, by_round, checks = {}, {}, {}
    for rev in a.compare:
        old = revisions[rev]
        ratios[rev] = {k: new["summary"][k]["cpu_median"] / old["summary"][k]["cpu_median"]
                       for k in new["summary"] if k in old["summary"]}
        by_round[rev] = round_ratios(new["rows"], old["rows"])
        checks[rev] = lost(new["rows"], old["rows"])
    result = {
        "conditions": {"L": 24, "machine": platform.processor() or platform.machine(),
                       "node": platform.node(), "cpus": os.cpu_count(), "python": sys.version.split()[0],
                       "load_avg_before": load_before, "load_avg_after": load_after,
                       "repeats": a.repeats, "quick": a.quick, "wall_s": wall,
                       "interleaved": True,
                       "rotation": "one persistent warm worker per revision; in each of the "
                                   "`repeats` rounds every (point, mode) runs once per revision, "
                                   "one call at a time, in the order [this tree, --compare ...] "
                                   "rotated left by the round's index",
                       "note": "CPU seconds of one core (process_time), best of the rounds per "
                               "point; ratios are measured side by side in this one run; "
                               "ratio_by_round: the ratio of the medians within each round"},
        "commit": head, "dirty": dirty,
        "targets": TARGETS,
        "points": pts,
        "metropolis_updates_per_s": metropolis_rate(max(a.repeats, 2)),
        "revisions": revisions,
        "ratio_to": ratios,
        "ratio_by_round": by_round,
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
    spread = data.get("ratio_by_round", {})  # older JSON: no rounds, no ranges
    how = (f"best of {c['repeats']} rounds in which the revisions take turns call by call (the "
           "order rotated each round)" if c.get("interleaved") else f"best of {c['repeats']} warm calls")
    lines = [
        f"Measured by `python benchmarks/solver.py{' --quick' if c['quick'] else ''}"
        + (f" --compare {' '.join(_name(r, data) for r in olds)}`" if olds else "`")
        + f" at commit {data['commit'][:7]}{' (modified)' if data['dirty'] else ''}: L = 24, CPU "
        f"seconds of one core per `simulate` call, {how}, median over "
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
            cells += [f"{data['ratio_to'][r][k]:.2f}x" + (
                f" ({min(spread[r][k]):.2f}-{max(spread[r][k]):.2f})" if spread.get(r, {}).get(k)
                else "") for r in olds]
            lines.append(f"| `{mode}`, {preset.split('-')[0]} | " + " | ".join(cells) + " |")
    if spread:
        lines += ["", "In brackets: the ratio range over rounds (the ratio of the medians over the "
                  "points, each round on its own); the ratio before it takes each point's best "
                  "round, so it may lie outside."]
    unsteady = [r for r, e in data["revisions"].items() if e.get("repeatable") is False]
    if unsteady:
        lines += ["", "Energy or label changed from round to round for: "
                  + ", ".join("now" if r == "this tree" else _name(r, data) for r in unsteady)
                  + " (`repeatable` in the JSON)."]
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
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # end the workers on the way out
    main()
