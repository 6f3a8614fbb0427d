"""The runner: one executor for a whole run, two schedules, stopping goals, checkpoints, signals.

:class:`Runner` drives a :class:`~spinexplore.learner.PhaseLearner` with a simulation, as
python-adaptive's runner drives its learners. It owns what the learner must not know: the
executor (created once, warmed once, shut down once), the store writes (by count and by time,
in a background thread), the progress display, the stopping goal, and SIGINT/SIGTERM.

Two schedules:

``"async"`` (the default with more than one worker)
    The moment a worker finishes, it gets the next point: the executor pulls points lazily
    from a generator that serves a small queue of ready proposals, refilled with the newest
    surrogate that is fitted. The surrogate is refitted in a background thread, so a free
    worker never waits for a fit. Every point in flight is pending for the strategy, so
    nothing is proposed twice. Proposals depend on timing; a resumed run keeps every finished
    point and reruns the ones that were in flight.
``"batch"``
    Rounds: propose ``n_per_iteration`` points, run them all, refit, repeat. Deterministic
    for a seed and exactly resumable (the same points as an uninterrupted run).
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from spinexplore._background import Checkpointer, FitProcess, Refitter
from spinexplore._log import get_logger
from spinexplore.errors import Interrupted, SimulationFailingError
from spinexplore.learner import PhaseLearner, reference_metrics
from spinexplore.results import PhaseType, PointRecord, SimulationResult, coerce_result
from spinexplore.strategies import install_context

__all__ = ["Runner", "SCHEDULES", "format_round", "format_stats", "open_runner", "outcome_to_result"]

_LOG = get_logger("runner")

#: A run stops (SimulationFailingError) when its first this many results all FAILED with the same
#: error: a simulation that fails the same way every time would otherwise spend the whole budget.
FAIL_FAST_AFTER = 5
#: Failures logged (WARNING) per distinct error message; all of them show in the status counts.
FAILURES_LOGGED_PER_ERROR = 3

SCHEDULES = ("async", "batch")
#: Seconds between checkpoints at most (besides every ``checkpoint_interval`` results).
CHECKPOINT_SECONDS = 5.0
#: A warm-up task lasts at least this long, so that every worker gets one.
_WARMUP_SECONDS = 0.3


def outcome_to_result(outcome: Any) -> SimulationResult | None:
    """The :class:`SimulationResult` of an executor outcome; None when it was cancelled."""
    duration = float(outcome.duration or 0.0)
    if outcome.ok:
        try:
            return coerce_result(outcome.value, duration=duration)
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


class _WarmUp:
    """Calls ``simulation.warmup()`` in a worker (loads compiled kernels) and lasts >= 0.3 s."""

    def __init__(self, simulation: Any) -> None:
        self.simulation = simulation

    def __call__(self, _: int) -> None:
        t0 = time.perf_counter()
        self.simulation.warmup()
        time.sleep(max(0.0, _WARMUP_SECONDS - (time.perf_counter() - t0)))


@contextlib.contextmanager
def _deferred_signals() -> Iterator[list[int]]:
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


class Runner:
    """Run simulations for a learner on one executor, checkpointing to a store.

    Parameters
    ----------
    learner : PhaseLearner
    simulation : callable
        ``simulation(params: dict) -> SimulationResult | PhaseType | dict | None``.
    store : object with ``write(records, state)``
    state : callable
        ``state() -> dict``: the full state to checkpoint (the learner's and the caller's).
    executor : Executor
        Used for the whole run; shut down by :meth:`close` only if ``own_executor``.
    timeout : float or None
        Hard per-simulation limit in seconds.
    checkpoint_interval : int
        Checkpoint every this many results, and at least every :data:`CHECKPOINT_SECONDS`.
    progress : Progress-like
        ``record(...)`` and ``close()``: the per-point display.
    verbose : bool, default=True
        Log ``Checkpoint saved (n/N completed)`` at INFO level (logger ``spinexplore.runner``).
        Warnings (an interrupted run, a broken fit process) are logged either way.
    """

    def __init__(self, learner: PhaseLearner, simulation: Callable[[dict[str, float]], Any], *, store: Any,
                 state: Callable[[], dict[str, Any]], executor: Any, own_executor: bool,
                 timeout: float | None, checkpoint_interval: int, progress: Any, verbose: bool = True) -> None:
        self.learner, self.simulation, self.executor = learner, simulation, executor
        self.own_executor, self.timeout, self.progress, self.verbose = own_executor, timeout, progress, verbose
        self.n_workers = int(executor.n_workers)
        self.checkpointer = Checkpointer(
            store, lambda: (learner.pop_dirty(), state()), learner.mark_dirty,
            every=checkpoint_interval, seconds=CHECKPOINT_SECONDS, background=self.n_workers > 1)
        self._on_disk = getattr(store, "path", None) is not None
        self._t0 = time.monotonic()
        self.simulation_time = 0.0
        self.n_finished = 0
        self.stopped_by: str | None = None
        self._launched: list[int] = []  # points handed to a worker in the current map
        self._warm = False
        self._fit_process: FitProcess | None = None
        self._finished: list[PointRecord] = []
        self.fail_fast = FAIL_FAST_AFTER
        self._first_failures: list[str | None] = []  # the error of each of the first results (None: ok)
        self._failures_logged: dict[str, int] = {}

    # ------------------------------------------------------------------ what goals read
    @property
    def elapsed(self) -> float:
        """Wall seconds since the runner started (executor start and warm-up included)."""
        return time.monotonic() - self._t0

    def stats(self, schedule: str) -> dict[str, Any]:
        """End-to-end figures of this run: efficiency = simulation time / (workers x wall time)."""
        wall = self.elapsed
        return {
            "schedule": schedule, "n_workers": self.n_workers, "n_simulations": self.n_finished,
            "wall_time": wall, "simulation_time": self.simulation_time,
            "efficiency": self.simulation_time / (self.n_workers * wall) if wall > 0 else math.nan,
            "n_checkpoints": self.checkpointer.n_written, "checkpoint_time": self.checkpointer.write_time,
            "stopped_by": self.stopped_by,
        }

    # ------------------------------------------------------------------ lifecycle
    def warm_up(self, needed: bool = True) -> None:
        """Run ``simulation.warmup()`` once per worker, if the simulation has one (compiled
        kernels load there, not in the first timed simulation); not when nothing will run."""
        if self._warm or not needed or not callable(getattr(self.simulation, "warmup", None)):
            return
        self._warm = True
        # the run's own timeout: a loky map with a timeout would warm its fallback pool instead
        for _ in self.executor.map_unordered(_WarmUp(self.simulation), range(self.n_workers), timeout=self.timeout):
            pass

    def close(self) -> None:
        """Wait for the last checkpoint write, stop the executor if it is ours."""
        try:
            self.checkpointer.close()
        finally:
            if self.own_executor:
                self.executor.shutdown(cancel_pending=True)

    @contextlib.contextmanager
    def _handling_signals(self) -> Iterator[None]:
        """SIGTERM behaves as Ctrl+C: stop, save every finished result, raise Interrupted."""
        main = threading.current_thread() is threading.main_thread()

        def on_term(signum: int, frame: Any) -> None:
            raise Interrupted(signum)

        old = signal.signal(signal.SIGTERM, on_term) if main else None
        try:
            yield
        except KeyboardInterrupt as exc:
            if getattr(exc, "saved", False):  # an inner block already saved and reported
                raise
            signum = getattr(exc, "signum", int(signal.SIGINT))
            self.learner.cancel(self._launched)  # started, stopped: CANCELLED, rerun on resume
            with _deferred_signals():
                self.checkpointer.flush()
            n_fin = self.learner.n_finished
            _LOG.warning(
                f"Interrupted ({signal.Signals(signum).name}): {n_fin}/{self.learner.n_points} points finished "
                f"and saved; {len(self.learner.pending_indices())} pending points will rerun on resume")
            error = Interrupted(signum)
            error.saved = True
            raise error from None
        finally:
            if main:
                signal.signal(signal.SIGTERM, old)

    # ------------------------------------------------------------------ one outcome
    def _record(self, index: int, outcome: Any) -> PointRecord | None:
        result = outcome_to_result(outcome)
        if result is None:  # cancelled: the point stays pending
            return None
        record = self.learner.tell_index(index, result, worker=str(outcome.worker or ""))
        self.simulation_time += result.duration
        self.n_finished += 1
        self._finished.append(record)
        if result.ok:
            self.progress.record(index, result.phase.name, ok=True, confidence=result.confidence,
                                 energy=result.energy)
        else:  # "Point 7: TIMEOUT (timed out after 2.0 s)"
            reason = (result.error or "no result").strip().splitlines()[0][:120]
            self.progress.record(index, f"{result.phase.name} ({reason})", ok=False)
            self._log_failure(index, result)
        if self.checkpointer.note() and self._on_disk and self.verbose:
            _LOG.info("Checkpoint saved (%d/%d completed)", self.learner.n_finished, self.learner.n_points)
        self._check_fail_fast(result)
        return record

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
            with _deferred_signals():
                self.checkpointer.flush()
            self.stopped_by = "failing simulation"
            raise SimulationFailingError(
                f"stopped: the first {self.fail_fast} simulations all failed with the same error: "
                f"{errors.pop()[:500]} (every failure is saved with its error: to_dataframe()['error'], and "
                "`spinexplore status DIR --points --status FAILED` lists them; fix the simulation, then resume)")

    # ------------------------------------------------------------------ batch schedule
    def run_points(self, indices: Sequence[int]) -> list[PointRecord]:
        """Run the given pending points (one map), checkpoint, return the finished records."""
        self._finished = []
        if not indices:
            return []
        items = self.learner.space.to_dicts(self.learner.points(indices))
        self._launched = []

        def feed() -> Iterator[dict[str, float]]:  # notes which points reached a worker
            for index, item in zip(indices, items):
                self._launched.append(index)
                yield item

        with self._handling_signals():
            for outcome in self.executor.map_unordered(self.simulation, feed(), timeout=self.timeout):
                self._record(indices[outcome.index], outcome)
            self.checkpointer.flush()
        return list(self._finished)

    def run_rounds(self, n_iterations: int, n_per_iteration: int, *, strategy: Any = None,
                   goal: Callable[[Any], bool] | None = None,
                   on_round: Callable[[dict[str, Any]], None] | None = None) -> None:
        """The batch schedule: finish the open round, then propose-run-refit rounds."""
        learner = self.learner
        with self._handling_signals():
            self.checkpointer.write()  # `spinexplore status` shows the queued points from the start
            self.warm_up(bool(learner.pending_indices()) or learner.iteration < n_iterations)
            if learner.pending_indices() or learner.n_completed_iterations <= learner.iteration:
                self.run_points(learner.pending_indices())
                self._end_round(on_round)
            while learner.iteration < n_iterations:
                if goal is not None and goal(self):
                    self.stopped_by = repr(goal)
                    break
                learner.iteration += 1
                learner.propose(n_per_iteration, strategy)
                self.checkpointer.flush()
                self.run_points(learner.pending_indices())
                self._end_round(on_round)

    def _end_round(self, on_round: Callable[[dict[str, Any]], None] | None) -> None:
        self.learner.fit()
        entry = self.learner.update_metrics(end_iteration=True)
        self.checkpointer.flush()
        if on_round is not None:
            on_round(entry)

    # ------------------------------------------------------------------ asynchronous schedule
    def run_async(self, budget: int, n_initial: int, n_per_iteration: int, *, strategy: Any = None,
                  goal: Callable[[Any], bool] | None = None, queue_size: int | None = None) -> None:
        """The asynchronous schedule: every free worker gets the next point at once.

        Parameters
        ----------
        budget : int
            Total number of points of the exploration (finished, failed and pending).
        n_initial, n_per_iteration : int
            Only to number the points: point ``k`` past the initial design belongs to
            "iteration" ``1 + (k - n_initial) // n_per_iteration``, as in the batch schedule.
        queue_size : int or None
            Ready proposals kept for a burst of completions (default: a quarter of the
            workers, at least 2).
        """
        learner = self.learner
        queue_size = queue_size or max(2, self.n_workers // 4)
        self._fit_process = FitProcess() if self.n_workers > 1 else None
        refitter = Refitter(self._fit_job, lambda n: max(1, math.ceil(0.02 * n)))
        ready: deque[int] = deque(learner.pending_indices())  # the initial design, or what was in flight
        launched = self._launched = []

        def install() -> None:
            fitted = refitter.poll()
            if fitted is not None:
                surrogate, n_fitted, labels, uncertainty, context = fitted
                if context is not None:  # the proposal cache built in the fit process
                    install_context(surrogate, context)
                learner.install(surrogate, n_fitted)
                learner.record_metrics(labels, uncertainty)

        def feed() -> Iterator[dict[str, float]]:
            while True:
                if not ready:
                    if learner.n_points >= budget:
                        return
                    if goal is not None and goal(self):
                        self.stopped_by = repr(goal)
                        return
                    install()
                    n = min(queue_size, budget - learner.n_points)
                    learner.iteration = max(learner.iteration, 1 + (learner.n_points - n_initial) // n_per_iteration)
                    ready.extend(learner.propose(n, strategy, refit=False))
                index = ready.popleft()
                launched.append(index)
                yield learner.space.to_dicts(learner.points([index]))[0]

        self._finished = []
        try:
            with self._handling_signals():
                self.checkpointer.write()  # `spinexplore status` shows the queued points from the start
                self.warm_up(bool(ready) or learner.n_points < budget)
                for outcome in self.executor.map_unordered(self.simulation, feed(), timeout=self.timeout):
                    self._record(launched[outcome.index], outcome)
                    refitter.maybe_start(learner.n_labeled)
                    install()
                refitter.close(wait=0.0)
                install()
                # the history keeps the background fits; when none landed for the last round (short
                # simulations), fit once now, after the last simulation, so that every run records
                # its convergence entry (predict() would fit anyway)
                last = learner.history[-1] if learner.history else {}
                if learner.n_labeled and (last.get("iteration") != learner.iteration
                                          or last.get("n_done") != learner.counts(by="status").get("DONE", 0)):
                    learner.fit()
                    learner.update_metrics()
                learner.n_completed_iterations = learner.iteration + 1
                self.checkpointer.flush()
        finally:
            refitter.close()
            if self._fit_process is not None:
                self._fit_process.close()

    def _fit_job(self) -> tuple[int, Callable[[], Any]]:
        """A refit of a fresh surrogate on a snapshot of the labels: in the fit process (no GIL
        shared with the thread that feeds the workers), in this process if that fails."""
        import cloudpickle

        U, y, w = self.learner.training_set()
        surrogate, n_dims = self.learner.new_surrogate(), self.learner.space.n_dims
        try:
            job = (cloudpickle.dumps(surrogate), U, y, w, n_dims)
        except Exception:  # an unpicklable surrogate of the user's: fit it here
            job = None
        process = self._fit_process

        def run() -> tuple[Any, int, Any, float, Any]:
            if job is not None and process is not None and process.broken is None:
                try:
                    return process.fit(job)
                except RuntimeError as exc:
                    if process.closed:  # the run ended during this fit: nothing to report
                        raise
                    process.broken = str(exc)
                    _LOG.warning("surrogate fits continue in this process (%s)", exc.args[0][:200])
            from spinexplore.strategies import prepare

            surrogate.fit(U, y, sample_weight=w)
            labels, uncertainty = reference_metrics(surrogate, n_dims)
            prepare(surrogate)  # the proposal context, cached in this process
            return surrogate, len(y), labels, uncertainty, None

        return len(y), run


@contextlib.contextmanager
def open_runner(learner: PhaseLearner, simulation: Any, *, store: Any, state: Callable[[], dict[str, Any]],
                total: int, n_jobs: int, checkpoint_interval: int, timeout: float | None, executor: Any,
                backend: str | None, progress: bool, verbose: bool) -> Iterator[Runner]:
    """A :class:`Runner` with its executor (``executor``, or a new one for ``n_jobs`` and
    ``backend``) and its progress display for ``total`` simulations; both closed at exit."""
    from spinexplore.execution import get_executor, make_progress
    from spinexplore.execution.progress import Progress

    own = executor is None or isinstance(executor, str)
    ex = get_executor(n_jobs, backend if executor is None else executor)
    if own:
        warn_oversubscribed(ex.n_workers, backend if executor is None else executor)
    if progress or not verbose:  # a bar (or log lines where no bar can show), or silence
        bar = make_progress(total, enabled=progress, desc="Classifying")
    else:  # progress=False, verbose: the old tool's line per point, through logging
        bar = Progress(total, "log", "Classifying", sys.stderr)
    if verbose:
        _LOG.info("Classifying %d points using %d worker(s)...", total, ex.n_workers)
    runner = Runner(learner, simulation, store=store, state=state, executor=ex, own_executor=own,
                    timeout=timeout, checkpoint_interval=checkpoint_interval, progress=bar, verbose=verbose)
    try:
        yield runner
    finally:
        try:
            bar.close()
        finally:
            runner.close()


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, e.g. a batch job's share), else all."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def warn_oversubscribed(n_workers: int, backend: str | None) -> bool:
    """Log a warning when more local workers than usable cores were asked for; True if so."""
    if backend not in (None, "process", "loky", "sequential"):  # cluster workers bring their own cores
        return False
    cores = usable_cores()
    if n_workers <= cores:
        return False
    _LOG.warning(
        "n_jobs=%d starts %d workers on %d usable cores: they share the cores, so the run is no faster than "
        "with %d workers (end-to-end efficiency at most about %.0f %%); use n_jobs=-1 for one worker per core",
        n_workers, n_workers, cores, cores, 100 * cores / n_workers)
    return True


def format_round(entry: dict[str, Any]) -> str:
    """``Iteration 2: 40 done, 0 failed; predicted phase changed on 4.5% of the box; ...``"""
    cf, mu = entry["changed_fraction"], entry["mean_uncertainty"]
    cf_text = "n/a" if math.isnan(cf) else f"{100 * cf:.1f}%"
    mu_text = "n/a" if math.isnan(mu) else f"{mu:.3f}"
    return (f"Iteration {entry['iteration']}: {entry['n_done']} done, {entry['n_failed']} failed; "
            f"predicted phase changed on {cf_text} of the box; mean uncertainty {mu_text}")


def format_stats(stats: dict[str, Any] | None) -> str:
    """One line on a run's wall time, simulation time and end-to-end efficiency."""
    if not stats:
        return "no run yet"
    eff = stats.get("efficiency")
    eff_text = "n/a" if eff is None or math.isnan(eff) else f"{100 * eff:.0f}%"
    text = (f"Run ({stats['schedule']}, {stats['n_workers']} worker(s)): {stats['n_simulations']} simulations "
            f"in {stats['wall_time']:.1f} s wall, {stats['simulation_time']:.1f} s of simulation; "
            f"efficiency {eff_text} (simulation time / (workers x wall time))")
    return text + (f"; stopped by {stats['stopped_by']}" if stats.get("stopped_by") else "")
