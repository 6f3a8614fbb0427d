"""Persistent worker processes for ``benchmarks/solver.py``: one per revision, a JSON line protocol.

Child side (``python benchmarks/_solver_worker.py CONFIG`` with ``PYTHONPATH`` at a revision's
tree): import that ``spinexplore`` and warm up its kernels (one ``simulate`` call per preset and
mode, so numba compiles or loads them and the per-process caches are filled), answer
``{"ready": true, "spinexplore": FILE}``, then for each request line
``{"preset", "h_over_u", "K_over_u", "mode"}`` run one ``simulate(model, L, mode, seed=0)``
timed with ``process_time`` and answer one line (or ``{"error": TRACEBACK}``). Only
``SpinModel.preset``, ``natural_unit``, ``with_params``, ``simulate`` and ``classify`` are used,
so the worker runs on revisions from before issue 20. The protocol is a duplicate of the real
stdout; file descriptor 1 is pointed at stderr, so stray prints (numba, warnings) cannot corrupt
it. The worker ignores SIGINT (its parent shuts it down), exits when its stdin closes, and on
Linux is killed when its parent dies.

Parent side: :class:`Worker` and :func:`pool`, which starts every worker before waiting for any
to be ready and terminates them all when the ``with`` block ends by an exception (Ctrl+C too).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path


class WorkerError(RuntimeError):
    """A worker failed, or exited, or imported ``spinexplore`` from somewhere else than its tree."""


# ------------------------------------------------------------------ child --------------------


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


def _call(req: dict, L: int) -> dict:
    from spinexplore.physics.model import SpinModel
    from spinexplore.physics.solver import simulate

    m0 = SpinModel.preset(req["preset"])
    u = m0.natural_unit
    model = m0.with_params({"h": req["h_over_u"] * u, "K": req["K_over_u"] * u})
    c0 = time.process_time()
    gs = simulate(model, L, req["mode"], seed=0)
    cpu = time.process_time() - c0
    label = getattr(gs, "label", None)
    if label is None:  # revisions whose GroundState carries no label
        from spinexplore.physics.classify import classify

        label = classify(gs.spins, gs.lattice).phase.name
    return {"cpu_s": cpu, "energy": gs.energy, "label": label, "family": gs.best, "gap": gs.gap,
            "label_gap": getattr(gs, "label_gap", None), "stats": getattr(gs, "stats", None) or None}


def serve(config: dict) -> int:
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # print() and C-level writes to fd 1 now land on stderr
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()

    def send(msg: dict) -> None:
        proto.write(json.dumps(msg, default=float) + "\n")
        proto.flush()

    L = config["L"]
    try:
        import spinexplore
        from spinexplore.physics.model import SpinModel
        from spinexplore.physics.solver import simulate

        for preset in config["presets"]:
            for mode in config["modes"]:
                simulate(SpinModel.preset(preset, h=0.1), L, mode, seed=0)
    except Exception:
        send({"error": traceback.format_exc()})
        return 1
    send({"ready": True, "spinexplore": spinexplore.__file__})
    for line in sys.stdin:
        try:
            reply = _call(json.loads(line), L)
        except Exception:
            reply = {"error": traceback.format_exc()}
        send(reply)
    return 0


# ------------------------------------------------------------------ parent -------------------


class Worker:
    """One worker process running the ``spinexplore`` of ``tree``."""

    def __init__(self, name: str, tree: Path, config: dict) -> None:
        self.name, self.tree, self.spinexplore = name, Path(tree).resolve(), None
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), json.dumps(config)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
            env={**os.environ, "PYTHONPATH": str(self.tree)}, cwd=tempfile.gettempdir())

    def _read(self, doing: str) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise WorkerError(f"the worker of revision {self.name!r} ({self.tree}) exited with "
                              f"status {self.proc.wait()} {doing} (its stderr is above)")
        msg = json.loads(line)
        if "error" in msg:
            raise WorkerError(f"revision {self.name!r} ({self.tree}) failed {doing}:\n{msg['error']}")
        return msg

    def ready(self) -> None:
        """Wait until the worker has imported ``spinexplore`` and warmed up its kernels."""
        msg = self._read("while importing spinexplore and warming up its kernels")
        found = Path(msg["spinexplore"]).resolve()
        if not found.is_relative_to(self.tree):
            raise WorkerError(f"the worker of revision {self.name!r} imported spinexplore from "
                              f"{found}, not from {self.tree} (an installed copy shadows PYTHONPATH)")
        self.spinexplore = str(found)

    def call(self, **request) -> dict:
        """One timed ``simulate`` call in the worker: its CPU seconds, energy, label, ..."""
        try:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass  # the worker is gone: _read says how it ended
        return self._read(f"on {request}")

    def close(self, kill: bool = False) -> None:
        """End the worker: close its stdin and wait (``kill``: terminate it at once)."""
        if self.proc.poll() is None:
            if kill:
                self.proc.terminate()
            else:
                with contextlib.suppress(BrokenPipeError):
                    self.proc.stdin.close()
            try:
                self.proc.wait(timeout=5 if kill else 60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(BrokenPipeError):
                stream.close()


@contextlib.contextmanager
def pool(trees: dict, config: dict):
    """``{name: Worker}``, one per ``{name: tree}``, all warmed up; every worker ends with the block."""
    workers, clean = {}, False
    try:
        for name, tree in trees.items():
            workers[name] = Worker(name, tree, config)
        for w in workers.values():
            w.ready()
        yield workers
        clean = True
    finally:
        for w in workers.values():
            w.close(kill=not clean)


if __name__ == "__main__":
    sys.exit(serve(json.loads(sys.argv[1])))
