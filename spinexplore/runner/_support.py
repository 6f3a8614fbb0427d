"""The runner's bookkeeping around its outcomes, beside :mod:`spinexplore.runner`.

What a :class:`~spinexplore.runner.Runner` does besides scheduling: turning an executor's
outcome into a result (:func:`outcome_to_result`), SIGINT/SIGTERM while it runs and while it
saves, the failures it logs, the fail-fast stop, the end-of-run warning, the points an earlier
run's shorter timeout stopped, the hooks of a fidelity ladder, and the one-line reports.
:class:`RunnerBookkeeping` is the runner's base class; the functions are re-exported by
:mod:`spinexplore.runner`.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from spinexplore._log import get_logger
from spinexplore._text import number, percent
from spinexplore.errors import Interrupted, SimulationFailingError
from spinexplore.results import PhaseType, PointStatus, SimulationResult, coerce_result

if TYPE_CHECKING:
    from spinexplore.learner import PhaseLearner

__all__ = ["RunnerBookkeeping", "fidelity_hooks", "format_round", "format_stats", "outcome_to_result",
           "timeout_of"]

_LOG = get_logger("runner")

#: Failures logged (WARNING) per distinct error message; all of them show in the status counts.
FAILURES_LOGGED_PER_ERROR = 3

_TIMED_OUT = re.compile(r"timed out after ([0-9][0-9.eE+-]*) s")


def timeout_of(error: str | None) -> float | None:
    """The timeout that stopped a point, read from its error (``"timed out after 1.0 s"``, the
    executor's :func:`~spinexplore.execution.timeout_error`); None for any other error."""
    match = _TIMED_OUT.match(error or "")
    if match is None:
        return None
    try:
        return float(match.group(1))
    except ValueError:
        return None


def outcome_to_result(outcome: Any, vocabulary: Any = None) -> SimulationResult | None:
    """The :class:`SimulationResult` of an executor outcome; None when it was cancelled.
    ``vocabulary`` reads the declared names and integer codes of the labels."""
    duration = float(outcome.duration or 0.0)
    if outcome.ok:
        try:
            return coerce_result(outcome.value, duration=duration, vocabulary=vocabulary)
        except (TypeError, ValueError) as exc:
            return SimulationResult(phase=PhaseType.FAILED, confidence=0.0, duration=duration,
                                    error=f"invalid return value: {exc}")
    from spinexplore.execution import OutcomeStatus

    status = OutcomeStatus(getattr(outcome.status, "value", outcome.status))
    if status in (OutcomeStatus.TIMEOUT, OutcomeStatus.FAILED):
        timed_out = status is OutcomeStatus.TIMEOUT
        return SimulationResult(phase=PhaseType.TIMEOUT if timed_out else PhaseType.FAILED, confidence=0.0,
                                duration=duration, error=outcome.error or ("timed out" if timed_out else "failed"))
    return None


@contextlib.contextmanager
def deferred_signals() -> Iterator[list[int]]:
    """While saving: SIGINT/SIGTERM do not interrupt the write; they are noted instead."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def note(signum: int, frame: Any) -> None:
        received.append(signum)
        _LOG.warning("Still saving the finished results; the run stops right after.")

    old = {s: signal.signal(s, note) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)

class RunnerBookkeeping:
    """Signals, failures and timeouts: the part of :class:`~spinexplore.runner.Runner` around
    its outcomes. It reads the runner's ``learner``, ``checkpointer``, ``progress``,
    ``timeout``, counters and the points in flight (``_launched``)."""

    def stats(self, schedule: str) -> dict[str, Any]:
        """End-to-end figures of this run: efficiency = simulation time / (workers x wall time);
        None when simulations ran and none succeeded (time spent on timeouts is no efficiency)."""
        wall = self.elapsed
        n_ok = self.n_by_phase.get("DONE", 0)
        efficiency = self.simulation_time / (self.n_workers * wall) if wall > 0 else math.nan
        return {
            "schedule": schedule, "n_workers": self.n_workers, "n_simulations": self.n_finished,
            "n_ok": n_ok, "n_timeout": self.n_by_phase.get("TIMEOUT", 0), "n_failed": self.n_by_phase.get("FAILED", 0),
            "wall_time": wall, "simulation_time": self.simulation_time,
            "efficiency": None if self.n_finished and not n_ok else efficiency,
            "n_checkpoints": self.checkpointer.n_written, "checkpoint_time": self.checkpointer.write_time,
            "stopped_by": self.stopped_by,
            **({"fidelity": self.policy.summary()} if self.policy is not None else {}),
        }

    @contextlib.contextmanager
    def _handling_signals(self) -> Iterator[None]:
        """SIGTERM behaves as Ctrl+C: stop, save every finished result, raise Interrupted."""
        main = threading.current_thread() is threading.main_thread()
        # A signal's exception can be swallowed where it is raised (C code that ignores
        # exceptions: scipy's Sobol tables print "Exception ignored in ..."): the signal is
        # then noted here, sent again every 0.5 s until the stop has begun, and raised at the
        # end of the block at the latest. Never lost, never acted on twice.
        state: dict[str, Any] = {"signum": None, "stopping": False}

        def redeliver(signum: int) -> None:
            for _ in range(20):
                time.sleep(0.5)
                if state["stopping"]:
                    return
                os.kill(os.getpid(), signum)

        def on_signal(signum: int, frame: Any) -> None:
            if state["stopping"]:
                return  # already stopping (a second signal, or a redelivered one)
            if state["signum"] is None:
                state["signum"] = signum
                threading.Thread(target=redeliver, args=(signum,), name="spinexplore-signal", daemon=True).start()
            raise Interrupted(signum)

        old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)} if main else {}
        try:
            yield
            if state["signum"] is not None:  # raised and swallowed somewhere in the block
                raise Interrupted(state["signum"])
        except KeyboardInterrupt as exc:
            state["stopping"] = True
            if getattr(exc, "saved", False):  # an inner block already saved and reported
                raise
            signum = getattr(exc, "signum", int(signal.SIGINT))
            self.learner.cancel(self._launched)  # started, stopped: CANCELLED, rerun on resume
            with deferred_signals():
                self.checkpointer.flush()
            n_fin = self.learner.n_finished
            _LOG.warning(
                f"Interrupted ({signal.Signals(signum).name}): {n_fin}/{self.learner.n_points} points finished "
                f"and saved; {len(self.learner.pending_indices())} pending points will rerun on resume")
            error = Interrupted(signum)
            error.saved = True
            raise error from None
        finally:
            state["stopping"] = True
            for s, handler in old.items():
                signal.signal(s, handler)


    def retry_timed_out(self) -> list[int]:
        """Make the points that this run's timeout would give more time PENDING again.

        A point the executor stopped at an earlier run's timeout (its error reads ``"timed out
        after 1.0 s"``) reruns when this run has no timeout or a larger one: ``spinexplore
        resume DIR --timeout 30`` retries the points that timed out at 1 s. A TIMEOUT that the
        simulation reported itself (``None``, or an external solver's own limit) stays.
        """
        failed = self.learner.failed_indices()
        if not failed:
            return []
        records = self.learner.records
        retry = []
        for i in failed:
            record = records[i]
            if record.status is not PointStatus.TIMEOUT or record.result is None:
                continue
            limit = timeout_of(record.result.error)
            if limit is not None and (self.timeout is None or self.timeout > limit * (1 + 1e-9)):
                retry.append(i)
        retried = self.learner.retry(retry)
        if retried:
            self.n_retried += len(retried)
            add_total = getattr(self.progress, "add_total", None)
            if callable(add_total):
                add_total(len(retried))
            _LOG.warning("%d point(s) that timed out at an earlier, shorter timeout rerun now (timeout=%s)",
                         len(retried), "none" if self.timeout is None else f"{self.timeout:g} s")
        return retried

    def report_outcomes(self) -> None:
        """Warn at the end of a run when none of its simulations succeeded, and about the points
        a signal to their worker stopped (they stay pending and rerun on resume)."""
        if self.cancelled:
            whys = sorted({why for _, why in self.cancelled})
            _LOG.warning("%d point(s) stopped when a signal reached their worker (%s); they stay pending and "
                         "rerun on resume", len(self.cancelled), "; ".join(whys)[:200])
        n_ok = self.n_by_phase.get("DONE", 0)
        if self.n_finished == 0 or n_ok:
            return
        n_to, n_fail = self.n_by_phase.get("TIMEOUT", 0), self.n_by_phase.get("FAILED", 0)
        if n_to == self.n_finished:
            limit = "the timeout" if self.timeout is None else f"timeout={self.timeout:g} s"
            _LOG.warning(
                "No result: all %d simulations of this run timed out (%s), so nothing was learned. Give "
                "each simulation more time (--timeout, or timeout= in the Python API); a resume with a "
                "larger timeout reruns the points that timed out.", self.n_finished, limit)
        elif n_fail == self.n_finished:
            first = (self.first_error or "no error text").strip().splitlines()[0][:300]
            _LOG.warning("No result: all %d simulations of this run failed; the first error: %s",
                         self.n_finished, first)
        else:
            _LOG.warning("No result: none of the %d simulations of this run succeeded (%d timed out, %d failed)",
                         self.n_finished, n_to, n_fail)

    @staticmethod
    def _error_key(result: SimulationResult) -> str:
        lines = [ln.strip() for ln in (result.error or "no result").strip().splitlines() if ln.strip()]
        return lines[0] if lines else "no result"  # "ValueError: ...", the traceback follows

    def _log_failure(self, index: int, result: SimulationResult) -> None:
        """Failures show as they happen (logger ``spinexplore.runner``), a few per distinct error."""
        key = self._error_key(result)
        seen = self._failures_logged.get(key, 0)
        self._failures_logged[key] = seen + 1
        if seen < FAILURES_LOGGED_PER_ERROR:
            more = " (further failures with this error are not logged)" if seen + 1 == FAILURES_LOGGED_PER_ERROR else ""
            _LOG.warning("Point %d %s: %s%s", index, result.phase.name, key[:300], more)

    def _check_fail_fast(self, result: SimulationResult) -> None:
        if not self.fail_fast or len(self._first_failures) >= self.fail_fast:
            return
        failed = result.phase == PhaseType.FAILED
        self._first_failures.append(self._error_key(result) if failed else None)
        errors = set(self._first_failures)
        if len(self._first_failures) == self.fail_fast and len(errors) == 1 and None not in errors:
            self.learner.cancel(self._launched)  # in flight: CANCELLED, rerun on resume
            with deferred_signals():
                self.checkpointer.flush()
            self.stopped_by = "failing simulation"
            raise SimulationFailingError(
                f"stopped: the first {self.fail_fast} simulations all failed with the same error: "
                f"{errors.pop()[:500]} (every failure is saved with its error: to_dataframe()['error'], and "
                "`spinexplore status DIR --points --status FAILED` lists them; fix the simulation, then resume)")



class Indices(Sequence):
    """The point indices of a list of launched ``(index, rung)`` items (what ``cancel`` takes)."""

    def __init__(self, items: list[tuple[int, int]]) -> None:
        self._items = items

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, k: Any) -> Any:
        if isinstance(k, slice):
            return [i for i, _ in self._items[k]]
        return self._items[k][0]


def fidelity_hooks(learner: PhaseLearner, simulation: Any) -> tuple[Any, Any]:
    """(ladder, promotion policy) of a multi-fidelity run, (None, None) otherwise; the policy
    sees every finished record and scales the training weights of cheap labels."""
    from spinexplore.fidelity import Ladder

    if not isinstance(simulation, Ladder):
        learner.label_weights = None
        return None, None
    from spinexplore.promotion import PromotionPolicy

    policy = PromotionPolicy(simulation.n_rungs, **simulation.promotion)
    records = learner.records
    policy.rebuild(records, learner.unit_of([r.index for r in records]))
    learner.label_weights = policy.weight_factors
    return simulation, policy



def format_round(entry: dict[str, Any]) -> str:
    """``Iteration 2: 40 done, 0 failed; predicted phase changed on 4.5% of the box; ...``"""
    return (f"Iteration {entry['iteration']}: {entry['n_done']} done, {entry['n_failed']} failed; "
            f"predicted phase changed on {percent(entry['changed_fraction'])} of the box; "
            f"mean uncertainty {number(entry['mean_uncertainty'])}")


def format_stats(stats: dict[str, Any] | None) -> str:
    """One line on a run's wall time, simulation time and end-to-end efficiency."""
    if not stats:
        return "no run yet"
    eff = stats.get("efficiency")
    eff_text = percent(eff, 0)
    n_sim, n_ok = stats["n_simulations"], stats.get("n_ok")
    what = f"{n_sim} simulations"
    if n_ok is not None and n_ok < n_sim:  # "32 simulations (none succeeded: 32 TIMEOUT)"
        bad = ", ".join(f"{stats.get(k, 0)} {name}" for k, name in (("n_timeout", "TIMEOUT"), ("n_failed", "FAILED"))
                        if stats.get(k))
        what += f" ({'none' if n_ok == 0 else n_ok} succeeded: {bad})" if bad else f" ({n_ok} succeeded)"
    text = (f"Run ({stats['schedule']}, {stats['n_workers']} worker(s)): {what} "
            f"in {stats['wall_time']:.1f} s wall, {stats['simulation_time']:.1f} s of simulation; "
            f"efficiency {eff_text} (simulation time / (workers x wall time))")
    return text + (f"; stopped by {stats['stopped_by']}" if stats.get("stopped_by") else "")
