"""Writes ``schema1.h5``, the committed fixture of store schema 1 (run once; keep the file).

The test ``test_schema.py`` checks this file against the values below, written out again there,
so a future change of layout that stops reading schema-1 files fails the tests.

It was run with spinexplore 0.1, whose store wrote schema 1; today's ``ExplorationStore``
writes schema 2 (``make_schema2.py``), so running this script again would not reproduce it.

Usage: ``python tests/store/data/make_schema1.py``
"""

from __future__ import annotations

import math
from pathlib import Path

from spinexplore import ParameterSpace, PhaseType, PointRecord, PointStatus, SimulationResult
from spinexplore.store import ExplorationStore


def main() -> None:
    path = Path(__file__).with_name("schema1.h5")
    space = ParameterSpace({"h": (0.0, 0.57), "K": (-0.24, 0.95)}, fixed={"T": 0.0})
    config = {"model": "triangular-chiral", "seed": 42, "strategy": "balanced"}
    records = [
        PointRecord(index=0, params=[0.1, 0.2], status=PointStatus.DONE, iteration=0, worker="pid:7",
                    result=SimulationResult(phase=PhaseType.SKYRMION, confidence=0.75, energy=-1.5,
                                            observables={"Q_total": -1.0}, duration=2.5)),
        PointRecord(index=1, params=[0.3, 0.4], status=PointStatus.FAILED, iteration=0, worker="pid:8",
                    result=SimulationResult(phase=PhaseType.FAILED, confidence=0.0, energy=math.nan,
                                            duration=0.25, error="ZeroDivisionError: boom")),
        PointRecord(index=2, params=[0.5, 0.9], status=PointStatus.PENDING, iteration=1),
    ]
    state = {"iteration": 1, "rng": {"bit_generator": "PCG64",
                                     "state": {"state": 2**127 + 1, "inc": 2**64 + 3},
                                     "has_uint32": 0, "uinteger": 0}}
    with ExplorationStore.create(path, space=space, config=config, overwrite=True) as store:
        store.write(records, state)
    path.with_name(path.name + ".lock").unlink(missing_ok=True)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
