"""The exceptions spinexplore raises on purpose.

A user's mistake is an :class:`InputError` (a ``ValueError``), raised before any work starts;
the command line turns it into one line and exit code 2. Store problems are
``spinexplore.store.StoreError`` (an ``OSError``; ``StoreLockedError`` when another process
holds the run). :class:`Interrupted` is what a run raises after SIGINT or SIGTERM once every
finished result is saved. :class:`SimulationFailingError` stops a run whose first results all
failed the same way (a simulation that cannot work). Anything else that escapes is a bug.
"""

from __future__ import annotations

import signal
from typing import Any

# defined next to the checks that raise them, so that worker processes need no scikit-learn
from spinexplore._validation import InputError, InputTypeError

__all__ = ["InputError", "InputTypeError", "Interrupted", "NotFittedError", "SimulationFailingError"]


class SimulationFailingError(RuntimeError):
    """A run stopped because its first results all failed with the same error.

    Raised after those results were checkpointed (they stay FAILED in the store; the points in
    flight are CANCELLED and rerun on resume). The message gives the error; the command line
    prints it and exits with code 2, as for other bad input.
    """


class Interrupted(KeyboardInterrupt):
    """A run stopped by a signal (SIGINT = Ctrl+C, or SIGTERM from a batch scheduler).

    Every finished result was checkpointed before it was raised. ``signum`` is the signal;
    the conventional exit code is ``128 + signum`` (130 for Ctrl+C, 143 for SIGTERM).
    """

    def __init__(self, signum: int = int(signal.SIGINT)) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def _not_fitted_error() -> type:
    from sklearn.exceptions import NotFittedError as SklearnNotFittedError

    class NotFittedError(SklearnNotFittedError, RuntimeError):
        """A prediction was asked for before any point had a physical phase.

        Also a ``RuntimeError``, which is what spinexplore 0.1 raised there, and scikit-learn's
        ``NotFittedError``.
        """

    NotFittedError.__module__ = __name__
    NotFittedError.__qualname__ = "NotFittedError"
    return NotFittedError


def __getattr__(name: str) -> Any:
    # NotFittedError derives from scikit-learn's, whose import takes about a second: it is
    # defined when first asked for, so `spinexplore --version`, the command line's error
    # handling and worker processes do not pay for it.
    if name == "NotFittedError":
        cls = globals()["NotFittedError"] = _not_fitted_error()
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
