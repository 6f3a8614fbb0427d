"""Writer process for the kill -9 tests: checkpoints an imitation exploration in a loop.

Usage: ``python _kill_child.py PATH N_TOTAL BATCH SAVE_SPINS [COMPACT_FRAMES]``

Each write marks the previous batch DONE (with results that are a pure function of the
index, see :func:`expected_result`) and adds ``BATCH`` new PENDING points, exactly like an
explorer that checkpoints every ``BATCH`` completions. The state holds ``n`` (points written)
and the state of a PCG64 generator that has drawn one number per checkpoint. After each
write returns the process prints ``committed <checkpoints> <n> <final>``. COMPACT_FRAMES (default
5) sets how many checkpoints the journal holds before it is folded into the main file, so
kills land in appends and in compactions alike. When PATH exists, it resumes:
pending points are redone, finished ones are left alone (checked).
"""

from __future__ import annotations

import os
import sys

import numpy as np

from spinexplore import ParameterSpace, PhaseType, PointRecord, PointStatus, SimulationResult
from spinexplore.store import ExplorationStore

SPACE = ParameterSpace({"h": (0.0, 1.0), "K": (-1.0, 1.0)})
N_SPINS = 48
COMPACT_FRAMES = 5  #: journal frames before a compaction, unless argv says otherwise


def expected_params(i: int) -> np.ndarray:
    return np.array([(i * 0.618034) % 1.0, ((i * 0.414214) % 2.0) - 1.0])


def expected_result(i: int, with_spins: bool) -> SimulationResult:
    spins = None
    if with_spins:
        angle = 0.1 * i + np.arange(N_SPINS)
        spins = np.stack([np.cos(angle), np.sin(angle), np.zeros(N_SPINS)], axis=1)
    return SimulationResult(
        phase=PhaseType(i % 6), confidence=(i % 97) / 96, energy=-1.0 - i / 1000,
        observables={"m_z": i / 7, **({"late": float(i)} if i > 50 else {})},
        duration=0.5 + i, error=f"warning {i}" if i % 11 == 0 else None, spins=spins,
    )


def expected_rng_state(n_checkpoints: int) -> dict:
    rng = np.random.Generator(np.random.PCG64(12345))
    rng.random(n_checkpoints)
    return rng.bit_generator.state


def done(i: int, with_spins: bool) -> PointRecord:
    return PointRecord(index=i, params=expected_params(i), status=PointStatus.DONE, iteration=i // 10,
                       result=expected_result(i, with_spins), worker=f"pid:{os.getpid()}")


def pending(i: int) -> PointRecord:
    return PointRecord(index=i, params=expected_params(i), status=PointStatus.PENDING, iteration=i // 10)


def main() -> None:
    path, n_total, batch, spins = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
    ExplorationStore.compact_frames = int(sys.argv[5]) if len(sys.argv) > 5 else COMPACT_FRAMES
    if os.path.exists(path):
        store = ExplorationStore.open(path, "a", space=SPACE)
        records, state = store.read(spins=False)
        todo = [r.index for r in records if not r.status.is_finished]
        if any(r.status is not PointStatus.DONE for r in records[: len(records) - len(todo)]):
            raise SystemExit("a finished point sits after a pending one")
        n, k = len(records), state["checkpoints"]
    else:
        store = ExplorationStore.create(path, space=SPACE, config={"seed": 12345}, save_spins=spins)
        todo, n, k = [], 0, 0
    rng = np.random.Generator(np.random.PCG64(12345))
    rng.random(k)
    print("ready", flush=True)
    while True:
        new = list(range(n, min(n + batch, n_total)))
        recs = [done(i, spins) for i in todo] + [pending(i) for i in new]
        rng.random()
        k += 1
        n += len(new)
        final = not new
        store.write(recs, {"n": n, "checkpoints": k, "rng": rng.bit_generator.state, "final": final})
        print(f"committed {k} {n} {int(final)}", flush=True)
        if final:
            break
        todo = new
    store.close()


if __name__ == "__main__":
    main()
