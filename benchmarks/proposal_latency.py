"""Proposal latency and surrogate refit time against the number of labelled points.

Run ``python benchmarks/proposal_latency.py`` (~5 min on 2 cores; ``--quick`` for 10^3 and
10^4 points only). Writes ``benchmarks/results/proposal_latency.json``.

What an asynchronous runner does is replayed with synthetic labels (the 2-D diagram
``four_phases_2d`` and the 4-D ``four_phases_4d`` of ``benchmarks/active_learning.py``):
``m`` labelled points (half uniform, half within ~0.02 of a phase boundary, as an
active-learning run concentrates them), ``--pending`` points in flight, the default
surrogate fitted on the labelled points (timed: the refit, with BLAS on one thread as it
should be beside busy workers; more threads oversubscribe the cores), then repeated calls of
``select_batch(DEFAULT_STRATEGY, n, ...)`` for ``n`` = 1, 4, 16, each followed by what a
runner sees: the proposed points join the pending set and as many of the oldest pending
points finish (labelled, appended to ``X_labeled``). The surrogate is not refitted during
the calls (the runner refits in the background). Reported per ``(d, m, n)``: the first call
after the refit (``first_ms``; it includes the proposal context unless ``prepare`` ran in
the background), then the median, 95th percentile and maximum of the later calls, and
the median per proposed point (and the median CPU time of a call, ``median_cpu_ms``, which
a loaded machine disturbs less; refits report ``fit_cpu_s`` too); and the latency of single proposals while a clone of the
surrogate is refitted (and prepared) in a background thread, as the asynchronous runner
does (``during_refit``; the new code only).

Each run is stored under ``--label`` (default ``current``) next to the labels stored
before, so that two versions of the code can be compared side by side (``old`` is the code
before the large-n proposals of issue 16).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from active_learning import DIAGRAMS, four_d, four_phases  # noqa: E402
from active_learning import labelled_points as _labelled  # noqa: E402

from _provenance import load as _load_now  # noqa: E402
from _provenance import provenance  # noqa: E402
from spinexplore.strategies import DEFAULT_STRATEGY, select_batch  # noqa: E402
from spinexplore.surrogates import DEFAULT_SURROGATE, make_surrogate  # noqa: E402

OUT = HERE / "results" / "proposal_latency.json"
TRUTH = {2: four_phases, 4: four_d}
DIAGRAM = {2: DIAGRAMS["four_phases_2d"], 4: DIAGRAMS["four_phases_4d"]}


def labelled_points(d: int, m: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``m`` points, half uniform and half near a boundary, with their synthetic labels."""
    return _labelled(DIAGRAM[d], m, rng)


def _prepare():
    try:
        from spinexplore.strategies import prepare
    except ImportError:  # the code before issue 16 has no prepare()
        return None
    return prepare


def measure(d: int, m: int, ns, n_calls: int, n_pending: int, seed: int,
            use_prepare: bool) -> dict:
    rng = np.random.default_rng(seed)
    X, y = labelled_points(d, m, rng)
    truth = TRUTH[d]
    with threadpool_limits(1):
        t, c = time.perf_counter(), time.process_time()
        sur = make_surrogate(DEFAULT_SURROGATE, random_state=seed).fit(X, y)
        fit_s, fit_cpu = time.perf_counter() - t, time.process_time() - c
        prepare = _prepare() if use_prepare else None
        prep_s = prep_cpu = None
        if prepare is not None:
            t, c = time.perf_counter(), time.process_time()
            prepare(sur)
            prep_s, prep_cpu = time.perf_counter() - t, time.process_time() - c
    out = {"d": d, "m": m, "fit_s": fit_s, "fit_cpu_s": fit_cpu, "prepare_s": prep_s,
           "prepare_cpu_s": prep_cpu, "pending": n_pending, "calls": {}}
    for n in ns:
        Xl, yl = X.copy(), y.copy()
        pend = rng.random((n_pending, d))
        times, cpu = [], []
        for _ in range(n_calls):
            t, c = time.perf_counter(), time.process_time()
            B = select_batch(DEFAULT_STRATEGY, n, n_dims=d, surrogate=sur, X_labeled=Xl, y=yl,
                             X_pending=pend, rng=rng)
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
            done, pend = pend[:n], np.vstack([pend[n:], B])
            Xl, yl = np.vstack([Xl, done]), np.concatenate([yl, truth(done)])
        later = np.asarray(times[1:]) * 1e3
        out["calls"][str(n)] = {
            "first_ms": times[0] * 1e3, "median_ms": float(np.median(later)),
            "p95_ms": float(np.percentile(later, 95)), "max_ms": float(later.max()),
            "median_ms_per_point": float(np.median(later)) / n, "n_calls": n_calls,
            "median_cpu_ms": float(np.median(cpu[1:])) * 1e3,
        }
        c = out["calls"][str(n)]
        print(f"d={d} m={m:6d} n={n:2d}: first {c['first_ms']:8.1f} ms, median "
              f"{c['median_ms']:7.2f} ms, p95 {c['p95_ms']:7.2f}, max {c['max_ms']:7.2f} "
              f"-> {c['median_ms_per_point']:.2f} ms/point", flush=True)
    if prepare is not None:
        out["during_refit"] = during_refit(sur, X, y, d, n_pending, rng, prepare)
        c = out["during_refit"]
        print(f"d={d} m={m:6d} n= 1 during a background refit ({c['refit_s']:.2f} s, "
              f"{c['n_calls']} calls): median {c['median_ms']:.2f} ms, p95 {c['p95_ms']:.2f}, "
              f"max {c['max_ms']:.2f}", flush=True)
    print(f"d={d} m={m:6d}: fit {fit_s:.2f} s ({fit_cpu:.2f} s CPU)"
          + (f", prepare {prep_s:.2f} s ({prep_cpu:.2f} s CPU)" if prep_s is not None else ""),
          flush=True)
    return out


def during_refit(sur, X: np.ndarray, y: np.ndarray, d: int, n_pending: int,
                 rng: np.random.Generator, prepare) -> dict:
    """Latency of single proposals while a clone of ``sur`` is fitted in a background thread.

    What the asynchronous runner does: the thread competes for the interpreter lock with
    the proposals (numpy and LAPACK release it, Python code does not).
    """
    from sklearn.base import clone

    fresh = clone(sur)
    pend = rng.random((n_pending, d))
    times: list[float] = []
    box: dict = {}

    def refit():
        with threadpool_limits(1):
            t = time.perf_counter()
            fresh.fit(X, y)
            prepare(fresh)
            box["refit_s"] = time.perf_counter() - t

    worker = threading.Thread(target=refit)
    worker.start()
    while worker.is_alive():
        t = time.perf_counter()
        B = select_batch(DEFAULT_STRATEGY, 1, n_dims=d, surrogate=sur, X_labeled=X, y=y,
                         X_pending=pend, rng=rng)
        times.append(time.perf_counter() - t)
        pend = np.vstack([pend[1:], B])
        time.sleep(0.002)  # completions arrive now and then, not back to back
    worker.join()
    ms = np.asarray(times) * 1e3
    return {"refit_s": box["refit_s"], "n_calls": int(ms.size),
            "median_ms": float(np.median(ms)), "p95_ms": float(np.percentile(ms, 95)),
            "max_ms": float(ms.max())}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10^3 and 10^4 points only")
    ap.add_argument("--label", default="current", help="name under which the run is stored")
    ap.add_argument("--calls", type=int, default=30, help="calls per (d, m, n)")
    ap.add_argument("--pending", type=int, default=256, help="points in flight")
    ap.add_argument("--sizes", type=int, nargs="*", default=None)
    ap.add_argument("--dims", type=int, nargs="*", default=[2, 4])
    ap.add_argument("--no-prepare", action="store_true",
                    help="do not call strategies.prepare after the fit (first call pays it)")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    load0 = _load_now()
    sizes = args.sizes or ([1000, 10_000] if args.quick else [1000, 10_000, 100_000])
    rows = []
    for d in args.dims:
        for m in sizes:
            rows.append(measure(d, m, (1, 4, 16), args.calls, args.pending, 0,
                                not args.no_prepare))
    data = json.loads(OUT.read_text()) if OUT.exists() else {"runs": {}}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=HERE).stdout.strip()
    data["runs"][args.label] = {
        "commit": commit, "strategy": DEFAULT_STRATEGY, "surrogate": DEFAULT_SURROGATE,
        "platform": platform.platform(), "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0], "results": rows, "provenance": provenance(load0),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(data, indent=1))
    return 0


def _pow10(m: int) -> str:
    e = len(str(m)) - 1
    return f"10^{e}" if m == 10 ** e else str(m)


def render_readme(data: dict) -> str:
    """The README's 'Long runs' latency table, from the ``new`` and ``old`` runs of results/proposal_latency.json."""
    from _provenance import describe

    new, old = data["runs"]["new"], data["runs"].get("old")
    cell = {(r["d"], r["m"]): r for r in new["results"]}
    ocell = {(r["d"], r["m"]): r for r in old["results"]} if old else {}
    sizes = sorted({m for _, m in cell})
    pending = new["results"][0]["pending"]
    lines = [f"Default strategy and surrogate, synthetic labels, {pending} points in flight, median of "
             f"{new['results'][0]['calls']['1']['n_calls']} calls" + ("; version 0.1 in brackets" if old else "")
             + ":", "",
             "| labelled points | 2-D, 1 point | 2-D, 16 points | 4-D, 1 point | 4-D, 16 points | refit, 4-D |",
             "|---|---|---|---|---|---|"]
    for m in sizes:
        cells = []
        for d in (2, 4):
            for k in ("1", "16"):
                v = f"{cell[(d, m)]['calls'][k]['median_ms']:.1f} ms"
                if (d, m) in ocell:
                    v += f" ({ocell[(d, m)]['calls'][k]['median_ms']:.0f} ms)"
                cells.append(v)
        cells.append(f"{cell[(4, m)]['fit_s']:.2f} s")
        lines.append(f"| {_pow10(m)} | " + " | ".join(cells) + " |")
    during = [r["during_refit"] for r in new["results"] if r.get("during_refit")]
    if during:
        lo, hi = min(x["median_ms"] for x in during), max(x["median_ms"] for x in during)
        p95 = max(x["p95_ms"] for x in during)
        lines += ["", f"While a fresh surrogate is fitted in a background thread, single proposals take "
                      f"{lo:.1f}-{hi:.1f} ms (median; 95th percentile at most {p95:.1f} ms)."]
    note = new.get("note", "")
    lines += ["", f"Measured at {describe(data.get('provenance'))}" + (f"; {note}" if note else "") + "."]
    return "\n".join(lines)


def render_readme_summary(data: dict) -> str:
    """The one-sentence summary in the README's benchmark list."""
    new, old = data["runs"]["new"], data["runs"].get("old")
    cell = {(r["d"], r["m"]): r for r in new["results"]}
    ocell = {(r["d"], r["m"]): r for r in old["results"]} if old else {}
    big = max(m for _, m in cell)
    a, b = cell[(2, 10_000)], cell[(4, big)]
    text = (f"{a['calls']['1']['median_ms']:.2f} ms for one point at 10^4 labelled points in 2-D, "
            f"{b['calls']['1']['median_ms']:.2f} ms at {_pow10(big)} in 4-D with {b['pending']} points in flight "
            "(target <= 5 ms per point")
    if ocell:
        text += (f"; 0.1: {ocell[(2, 10_000)]['calls']['1']['median_ms']:.0f} ms and "
                 f"{ocell[(4, big)]['calls']['1']['median_ms']:.0f} ms")
    return text + ")"


if __name__ == "__main__":
    raise SystemExit(main())
