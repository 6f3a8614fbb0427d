"""Progress output for a batch of simulations: a tqdm bar or plain log lines.

The rule (:func:`make_progress`):

- ``enabled=False``: silent.
- a tqdm bar (``tqdm.auto``, a widget in Jupyter) when tqdm imports and either the output
  ``file`` is a terminal or the code runs in a Jupyter kernel; the postfix shows
  ``completed``, ``failed`` and ``success_rate``;
- otherwise (a log file, a pipe, CI, no tqdm) one plain line per point,
  ``Point 23: SKYRMION (conf=0.95, E=-3.2617)``, and messages such as
  ``Checkpoint saved (100/500 completed)`` as lines of their own: written to ``file`` when
  one is given (mode ``"plain"``), otherwise sent at INFO level to the logger
  ``spinexplore.progress`` (mode ``"log"``; see :mod:`spinexplore._log`), which shows them
  only where a handler is configured (the ``spinexplore`` command installs one).
"""

from __future__ import annotations

import sys
from typing import IO, Any

from spinexplore._log import get_logger
from spinexplore._validation import check_int

__all__ = ["Progress", "make_progress", "format_point"]

_LOG = get_logger("progress")


def format_point(index: int, label: str, *, confidence: float | None = None, energy: float | None = None) -> str:
    """Return ``"Point 23: SKYRMION (conf=0.95, E=-3.2617)"`` (the parenthesis only with values)."""
    details = []
    if confidence is not None:
        details.append(f"conf={confidence:.2f}")
    if energy is not None:
        details.append(f"E={energy:.4f}")
    text = f"Point {index}: {label}"
    return f"{text} ({', '.join(details)})" if details else text


def _in_jupyter() -> bool:
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:
        return False
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def _has_widgets() -> bool:
    """ipywidgets is importable (tqdm's notebook bar needs it: ``pip install spinexplore[notebook]``)."""
    import importlib.util

    return importlib.util.find_spec("ipywidgets") is not None


def _isatty(file: Any) -> bool:
    try:
        return bool(file.isatty())
    except Exception:
        return False


class Progress:
    """Counts finished points and reports them as a bar, as lines, or not at all.

    Use :func:`make_progress` to build one. ``mode`` is ``"bar"``, ``"plain"`` (lines to
    ``file``), ``"log"`` (lines to the ``spinexplore.progress`` logger) or ``"off"``.

    Attributes
    ----------
    completed : int
        Points recorded with ``ok=True``.
    failed : int
        Points recorded with ``ok=False``.
    """

    def __init__(self, total: int, mode: str, desc: str, file: IO[str]) -> None:
        self.total, self.mode, self.desc, self.file = total, mode, desc, file
        self.completed = 0
        self.failed = 0
        self._bar = None
        if mode == "bar":
            if _in_jupyter() and not _has_widgets():
                from tqdm import tqdm  # a text bar: tqdm.auto would warn "IProgress not found"
            else:
                from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=desc, file=file, unit="sim", dynamic_ncols=True)

    @property
    def success_rate(self) -> float:
        """Share of recorded points that succeeded (1.0 before any)."""
        done = self.completed + self.failed
        return self.completed / done if done else 1.0

    def record(self, index: int, label: str, *, ok: bool, confidence: float | None = None,
               energy: float | None = None) -> None:
        """Count one finished point and show it.

        Parameters
        ----------
        index : int
            The point's number, as shown in ``Point <index>: ...``.
        label : str
            Its phase name (``SKYRMION``) or ``FAILED`` / ``TIMEOUT``.
        ok : bool
            Whether the simulation succeeded.
        confidence, energy : float or None
            Shown in plain lines when given.
        """
        if ok:
            self.completed += 1
        else:
            self.failed += 1
        if self._bar is not None:
            self._bar.set_postfix(completed=self.completed, failed=self.failed,
                                  success_rate=f"{100 * self.success_rate:.1f}%", refresh=False)
            self._bar.update(1)
        elif self.mode in ("plain", "log"):
            self._line(format_point(index, label, confidence=confidence, energy=energy))

    def add_total(self, n: int) -> None:
        """``n`` more points to run than announced (a resume reruns points that timed out)."""
        self.total += int(n)
        if self._bar is not None:
            self._bar.total = self.total
            self._bar.refresh()

    def message(self, text: str) -> None:
        """Show a line such as ``Checkpoint saved (100/500 completed)`` without breaking the bar."""
        if self._bar is not None:
            self._bar.write(text, file=self.file)
        elif self.mode in ("plain", "log"):
            self._line(text)

    def _line(self, text: str) -> None:
        if self.mode == "log":
            _LOG.info(text)
        else:
            print(text, file=self.file, flush=True)

    def close(self) -> None:
        """Finish the bar (harmless to call twice)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_progress(total: int, *, enabled: bool = True, desc: str = "Classifying", file: IO[str] | None = None) -> Progress:
    """Return a :class:`Progress` for ``total`` points, choosing bar, plain lines or silence.

    Parameters
    ----------
    total : int
        Number of points expected (>= 0).
    enabled : bool, default=True
        False makes it silent.
    desc : str, default="Classifying"
        The bar's label.
    file : file-like or None, default=None
        Where to draw the bar; None means ``sys.stderr``. Whether it is a terminal (or the code
        runs in Jupyter) decides between a bar and lines; the lines go to ``file`` when it is
        given and to the ``spinexplore.progress`` logger when it is None.

    Returns
    -------
    Progress
    """
    total = check_int("total", total, minimum=0)
    to_log = file is None
    file = sys.stderr if file is None else file
    if not enabled:
        mode = "off"
    else:
        try:
            import tqdm  # noqa: F401

            has_tqdm = True
        except ImportError:  # pragma: no cover - tqdm is a dependency
            has_tqdm = False
        if has_tqdm and (_isatty(file) or _in_jupyter()):
            mode = "bar"
        else:
            mode = "log" if to_log else "plain"
    return Progress(total, mode, desc, file)
