"""Checkpoint cost of ExplorationStore against store size: journal (schema 2) vs whole-file rewrite (schema 1).

For each n in 10^4, 10^5 (and 10^6 with ``--full``) a store is filled with n finished points
(4 observables, 16 workers, one error text in 50), folded into its main file, and then:

* ``--checkpoints`` (200) checkpoints of 10 records each, as the explorer writes them
  (the 5 points proposed at the previous checkpoint finish, 5 new pending ones are added;
  the state holds a PCG64 state and a 100-entry history): wall and CPU time per checkpoint,
  journal bytes per checkpoint. The journal is not folded during these (it is timed apart:
  ``compact_s``, one fold of all n points, which happens once every ``compact_frames``
  checkpoints; ``amortized_ms`` adds its share to the mean);
* what ``spinexplore status`` needs, with a full journal pending (the worst case for a
  reader): open read-only + ``counts()`` + ``read_state()``; and ``read(spins=False)``, which
  builds every ``PointRecord``;
* the old layout (schema 1: every checkpoint rebuilds the whole file in memory, writes it to
  ``.tmp``, fsyncs, renames; variable-length strings per point), a few checkpoints of 10.

Every checkpoint is durable on return (fdatasync of the journal): ``fsync_ms`` measures one
fdatasync of a 2 kB append on the same disk, the floor of any durable checkpoint there.

Usage: ``python benchmarks/store.py [--full] [--checkpoints 200] [--quick]``.
Writes ``benchmarks/results/store.json`` (``store_quick.json`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

from _provenance import load as _load_now  # noqa: E402
from _provenance import provenance  # noqa: E402
from spinexplore import ParameterSpace, PhaseType, PointRecord, PointStatus, SimulationResult
from spinexplore.store import ExplorationStore
from spinexplore.store._table import NUMERIC_COLUMNS, Batch, PointTable
from spinexplore.store._writer import file_image, fsync_dir, write_durably

SPACE = ParameterSpace({"h": (0.0, 1.0), "K": (0.0, 1.0), "J2": (0.0, 0.5), "T": (0.01, 1.0)})
OBS = ["m_z", "Q_total", "chirality", "gap"]


def _filled_table(n: int, rng: np.random.Generator) -> Batch:
    """n finished points as one batch (the layout is the same as n records written one by one)."""
    cols = {"status": np.full(n, int(PointStatus.DONE), np.int8),
            "phase": rng.integers(0, 6, n).astype(np.int8),
            "iteration": (np.arange(n) // 100).astype(np.int64),
            "confidence": rng.random(n), "energy": -rng.random(n), "duration": np.ones(n),
            "spin_ref": np.full(n, -1, np.int32)}
    assert set(cols) == set(NUMERIC_COLUMNS)
    return Batch(np.arange(n, dtype=np.int64), rng.random((n, SPACE.n_dims)), cols,
                 [f"pid:{1000 + i % 16}" for i in range(n)],
                 ["RuntimeError: did not converge" if i % 50 == 0 else "" for i in range(n)],
                 list(OBS), rng.random((n, len(OBS))))


def _record(i: int, rng: np.random.Generator, done: bool) -> PointRecord:
    if not done:
        return PointRecord(index=i, params=rng.random(SPACE.n_dims), status=PointStatus.PENDING, iteration=i // 100)
    result = SimulationResult(phase=PhaseType(int(rng.integers(0, 6))), confidence=float(rng.random()),
                              energy=float(-rng.random()), duration=1.0,
                              observables={k: float(rng.random()) for k in OBS})
    return PointRecord(index=i, params=rng.random(SPACE.n_dims), status=PointStatus.DONE, iteration=i // 100,
                       result=result, worker=f"pid:{1000 + i % 16}")


def _state(rng: np.random.Generator) -> dict:
    history = [{"iteration": j, "n_done": 100 * j, "changed_fraction": 0.01, "mean_uncertainty": 0.2}
               for j in range(100)]
    return {"iteration": 100, "rng": rng.bit_generator.state, "history": history}


def _fsync_ms(directory: Path) -> float:
    fd = os.open(directory / "probe", os.O_WRONLY | os.O_CREAT)
    times = []
    try:
        for i in range(50):
            t0 = time.perf_counter()
            os.pwrite(fd, b"x" * 2048, 2048 * i)
            os.fdatasync(fd)
            times.append(time.perf_counter() - t0)
    finally:
        os.close(fd)
    return 1e3 * float(np.median(times))


def bench_new(n: int, n_checkpoints: int, tmp: Path, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    path = tmp / "exploration.h5"
    store = ExplorationStore.create(path, space=SPACE, config={"seed": seed})
    store.compact_frames = 10**9  # fold only where timed below
    store._table.apply_batch(_filled_table(n, rng))  # fill (internal: n records in one go)
    t0 = time.perf_counter()
    store._compact()
    compact_s = time.perf_counter() - t0
    main_bytes = path.stat().st_size
    wall, cpu = [], []
    pending: list[int] = []
    state = _state(rng)
    for c in range(n_checkpoints):
        m = store.n_points
        recs = [_record(i, rng, True) for i in pending] + [_record(m + j, rng, False) for j in range(5)]
        pending = list(range(m, m + 5))
        t0, c0 = time.perf_counter(), time.process_time()
        store.write(recs, state)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    journal_bytes = path.with_name(path.name + ".journal").stat().st_size
    # a reader with the whole journal pending (the most a reader ever replays is compact_frames)
    t0 = time.perf_counter()
    with ExplorationStore.open(path) as reader:
        counts = reader.counts()
        reader.read_state()
    status_s = time.perf_counter() - t0
    assert counts["n_points"] == store.n_points
    t0 = time.perf_counter()
    with ExplorationStore.open(path) as reader:
        reader.read(spins=False)
    read_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    store.close()
    close_s = time.perf_counter() - t0
    w, c = 1e3 * np.array(wall), 1e3 * np.array(cpu)
    return {
        "n_points": n, "n_checkpoints": n_checkpoints,
        "checkpoint_ms": {"median": float(np.median(w)), "mean": float(w.mean()), "p99": float(np.percentile(w, 99)),
                          "max": float(w.max())},
        "checkpoint_cpu_ms": {"median": float(np.median(c)), "mean": float(c.mean())},
        "journal_bytes_per_checkpoint": journal_bytes / n_checkpoints,
        "compact_s": compact_s, "compact_frames": ExplorationStore.compact_frames,
        "amortized_ms": float(w.mean()) + 1e3 * compact_s / ExplorationStore.compact_frames,
        "main_file_bytes": main_bytes, "bytes_per_point": main_bytes / n,
        "status_s_with_journal": status_s, "status_journal_frames": n_checkpoints,
        "read_records_s": read_s, "close_s": close_s,
    }


def _old_fill(f, table: PointTable, state_json: str) -> None:
    """The schema-1 layout (spinexplore <= 0.1): one vlen string per point for worker and error."""
    n, text = table.n, h5py.string_dtype()
    a = table.arrays()
    f.attrs.update({"format": "spinexplore.exploration", "schema_version": 1, "n_points": n})
    for name, value in (("space", json.dumps(SPACE.to_dict())), ("config", "{}"), ("state", state_json)):
        f.create_dataset(name, data=value, dtype=text)
    g = f.create_group("points")
    for name in ("params", "status", "phase", "iteration", "confidence", "energy", "duration", "observables"):
        g.create_dataset(name, data=a[name], chunks=a[name].shape, fletcher32=True)
    g.create_dataset("spins_file", data=a["spin_ref"], chunks=(n,), fletcher32=True)
    g.create_dataset("observable_names", data=np.array(table.obs_names, dtype=object), dtype=text)
    g.create_dataset("worker", data=a["worker"], dtype=text)
    g.create_dataset("error", data=a["error"], dtype=text)


def bench_old(n: int, n_checkpoints: int, tmp: Path, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    table = PointTable(SPACE.n_dims)
    table.apply_batch(_filled_table(n, rng))
    path, state_json = tmp / "old.h5", json.dumps(_state(rng))
    times = []
    for c in range(n_checkpoints):
        recs = [_record(table.n + j, rng, True) for j in range(10)]
        t0 = time.perf_counter()
        table.apply(recs, {})
        write_durably(path.with_suffix(".tmp"), file_image(lambda f: _old_fill(f, table, state_json)))
        os.replace(path.with_suffix(".tmp"), path)
        fsync_dir(tmp)
        times.append(time.perf_counter() - t0)
    w = 1e3 * np.array(times)
    return {"n_points": n, "n_checkpoints": n_checkpoints, "checkpoint_ms": {"median": float(np.median(w)),
            "mean": float(w.mean()), "max": float(w.max())}, "file_bytes": path.stat().st_size,
            "bytes_per_point": path.stat().st_size / n}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="also 10^6 points")
    ap.add_argument("--checkpoints", type=int, default=200, help="checkpoints of 10 records timed per n")
    ap.add_argument("--old-checkpoints", type=int, default=5, help="checkpoints timed with the old layout")
    ap.add_argument("--quick", action="store_true", help="10^3 and 10^4 points, 50 checkpoints (smoke run)")
    args = ap.parse_args()
    sizes = [10**4, 10**5] + ([10**6] if args.full else [])
    if args.quick:
        sizes, args.checkpoints, args.old_checkpoints = [10**3, 10**4], 50, 2
    load0 = _load_now()
    rows = []
    for n in sizes:
        tmp = Path(tempfile.mkdtemp(prefix="bench-store-"))
        try:
            fsync = _fsync_ms(tmp)
            new = bench_new(n, args.checkpoints, tmp, seed=n)
            old = bench_old(n, args.old_checkpoints if n < 10**6 else min(args.old_checkpoints, 3), tmp, seed=n)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        rows.append({"n_points": n, "fsync_ms": fsync, "new": new, "old": old})
        cm, om = new["checkpoint_ms"], old["checkpoint_ms"]
        print(f"n={n:>8}: new {cm['median']:6.2f} ms median, {cm['mean']:6.2f} mean, {cm['p99']:6.2f} p99 "
              f"(CPU {new['checkpoint_cpu_ms']['median']:.2f} ms; fdatasync alone {fsync:.2f} ms); "
              f"fold {new['compact_s']:.2f} s -> amortized {new['amortized_ms']:.2f} ms | old {om['median']:8.1f} ms")
        print(f"            main file {new['main_file_bytes'] / 1e6:7.1f} MB ({new['bytes_per_point']:.0f} B/point; "
              f"old {old['bytes_per_point']:.0f} B/point); journal {new['journal_bytes_per_checkpoint']:.0f} B/checkpoint; "
              f"status {1e3 * new['status_s_with_journal']:.0f} ms with {args.checkpoints} frames pending; "
              f"read all records {new['read_records_s']:.2f} s")
    out = {
        "provenance": provenance(load0),
        "conditions": {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
                       "hdf5": h5py.version.hdf5_version, "tmpdir": tempfile.gettempdir(),
                       "note": ("wall time per checkpoint of 10 records (5 finished, 5 new), durable on return; "
                                "measured on a 2-core VM shared with other CPU-heavy jobs")},
        "checkpoints_per_n": args.checkpoints, "compact_frames": ExplorationStore.compact_frames,
        "issue_16_old_figures_ms": {"1e4": 39, "1e5": 215}, "rows": rows,
    }
    dest = Path(__file__).with_name("results") / ("store_quick.json" if args.quick else "store.json")
    dest.parent.mkdir(exist_ok=True)
    dest.write_text(json.dumps(out, indent=2))
    print(f"written {dest}")


def render_readme(data: dict) -> str:
    """The README's checkpoint figures, from results/store.json (``benchmarks/report.py`` writes them)."""
    from _provenance import describe

    rows = data["rows"]

    def n_label(n: int) -> str:
        e = len(str(n)) - 1
        return f"10^{e}" if n == 10 ** e else str(n)

    def join(fmt, key) -> str:
        return " / ".join(fmt.format(key(r)) for r in rows)

    bpp = [r["new"]["bytes_per_point"] for r in rows]
    big = rows[-1]
    return (f"Figures (`python benchmarks/store.py --full`; {describe(data.get('provenance'))}): checkpoint of 10 "
            f"records {join('{:.1f}', lambda r: r['new']['checkpoint_ms']['median'])} ms wall (median) at "
            f"{' / '.join(n_label(r['n_points']) for r in rows)} points, of which "
            f"{join('{:.2f}', lambda r: r['new']['checkpoint_cpu_ms']['median'])} ms CPU and the rest the disk's "
            f"`fdatasync` ({join('{:.1f}', lambda r: r['fsync_ms'])} ms alone on that disk); the old whole-file "
            f"rewrite took {join('{:.0f}', lambda r: r['old']['checkpoint_ms']['median'])} ms. File size "
            f"{min(bpp):.0f}-{max(bpp):.0f} bytes per point (4 observables), linear in n. Opening a "
            f"{n_label(big['n_points'])}-point store read-only and counting its points by status and phase "
            f"with {big['new']['status_journal_frames']} checkpoints still in the journal: "
            f"{big['new']['status_s_with_journal']:.2f} s.")


if __name__ == "__main__":
    main()
