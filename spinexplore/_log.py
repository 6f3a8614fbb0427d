"""Messages through :mod:`logging`: the ``spinexplore`` logger and the command line's handler.

The library never prints. Every message (``Point 23: SKYRMION (conf=0.95, E=-3.2617)``,
``Checkpoint saved (100/500 completed)``, round summaries, the note after Ctrl+C) goes to the
logger ``spinexplore`` or one of its children, with a :class:`logging.NullHandler` attached as
the logging HOWTO asks of libraries. So, in a script or a notebook:

- nothing is configured: INFO messages are dropped and warnings reach stderr through Python's
  last-resort handler; the progress bar (tqdm) is unaffected;
- ``logging.basicConfig(level=logging.INFO)`` shows every message;
- ``logging.getLogger("spinexplore").setLevel(logging.CRITICAL)`` silences the package.

Only the ``spinexplore`` command installs a handler (:func:`cli_logging`): INFO lines on
stdout, warnings and errors on stderr, written through ``tqdm.write`` so that they appear
above a progress bar instead of breaking it.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import warnings
from collections.abc import Iterator

__all__ = ["LOGGER_NAME", "get_logger", "cli_logging"]

LOGGER_NAME = "spinexplore"

logging.getLogger(LOGGER_NAME).addHandler(logging.NullHandler())


def get_logger(name: str = "") -> logging.Logger:
    """The package logger, or its child ``spinexplore.<name>``."""
    return logging.getLogger(f"{LOGGER_NAME}.{name}" if name else LOGGER_NAME)


class _ConsoleHandler(logging.Handler):
    """INFO and below to the current ``sys.stdout``, WARNING and above to ``sys.stderr``.

    The streams are looked up at each record (pytest's capture and Jupyter replace them), and
    lines go through ``tqdm.write`` so that a live bar is redrawn below them.
    """

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = sys.stderr if record.levelno >= logging.WARNING else sys.stdout
            text = self.format(record)
            try:
                from tqdm import tqdm
            except ImportError:  # pragma: no cover - tqdm is a dependency
                stream.write(text + "\n")
            else:
                tqdm.write(text, file=stream)
            stream.flush()
        except RecursionError:  # pragma: no cover - the logging module's own convention
            raise
        except BrokenPipeError:
            raise
        except Exception:  # pragma: no cover
            self.handleError(record)


@contextlib.contextmanager
def cli_logging(level: int = logging.INFO, *, command: str = "spinexplore") -> Iterator[logging.Handler]:
    """Show the package's messages on the console for the duration of one command.

    The handler is removed and the logger's level restored on exit, so that calling
    :func:`spinexplore.cli.main` twice in one interpreter (tests, notebooks) does not print
    every line twice. Python warnings (``warnings.warn``) show as one line,
    ``<command>: warning: <message>``, without the source line. A user's own configuration of the ``spinexplore`` logger is kept: the
    level is lowered to ``level`` only if the logger had none set.
    """
    logger = logging.getLogger(LOGGER_NAME)
    handler = _ConsoleHandler(level)
    handler.setFormatter(logging.Formatter("%(message)s"))
    old_level = logger.level
    if old_level == logging.NOTSET:
        logger.setLevel(level)
    logger.addHandler(handler)

    def show(message: Warning | str, category: type[Warning], *args: object, **kwargs: object) -> None:
        # one line on stderr, like the command's errors: no source file, no line of code
        logger.warning(f"{command}: warning: {' '.join(str(message).split())}")

    try:
        with warnings.catch_warnings():
            warnings.showwarning = show
            yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
