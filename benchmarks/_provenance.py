"""What every results JSON records: the commit, the machine and the load it was measured with.

``provenance()`` is called by a benchmark when it writes its JSON (key ``"provenance"``);
``describe(p)`` is the one line the README prints under the figures (used by render functions,
so it is standard library only and copied into no other module: ``report.py`` runs render
functions without the module body, hence the scripts import it inside their render functions).
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _commit() -> str:
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no", "--",
                                "spinexplore"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (head or "unknown") + ("+local changes" if dirty else "")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def provenance(load_start: list[float] | None = None) -> dict:
    """Commit, machine and load (1/5/15-min load averages at the start and at the end) of a run."""
    return {
        "commit": _commit(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpu": _cpu_model(), "cores": os.cpu_count(), "platform": platform.platform(),
                    "python": sys.version.split()[0]},
        "load": {"start": load_start if load_start is not None else load(), "end": load()},
    }


def describe(p: dict | None) -> str:
    """One line: 'commit X, N-core CPU, load a-b' (what a render function prints under a table)."""
    if not p:
        return "commit, machine and load not recorded"
    m = p.get("machine", {})
    cores = m.get("cores")
    cpu = m.get("cpu") or "machine"
    where = f"{cores}-core {cpu}" if cores else cpu
    ld = p.get("load", {})
    if isinstance(ld, dict):
        vals = [v[0] for v in (ld.get("start"), ld.get("end")) if v]
        text = ld.get("note")
        if vals:
            lo, hi = min(vals), max(vals)
            load_s = f"load average {lo:.1f}" if abs(hi - lo) < 0.05 else f"load average {lo:.1f}-{hi:.1f}"
            if text:
                load_s += f" ({text})"
        else:
            load_s = f"load {text}" if text else "load not recorded"
    else:
        load_s = str(ld)
    return f"commit {p.get('commit', 'unknown')}, {where}, {load_s}"
