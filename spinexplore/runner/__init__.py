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
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from spinexplore.runner._background import Checkpointer, FitProcess, FitProcessStarting, Refitter
from spinexplore._log import get_logger
from spinexplore.runner._support import (FAILURES_LOGGED_PER_ERROR, Indices, RunnerBookkeeping,  # noqa: F401
                                         fidelity_hooks, format_round, format_stats, outcome_to_result, timeout_of)
from spinexplore.execution._worker import WarmUp
from spinexplore.learner import PhaseLearner, reference_metrics
from spinexplore.results import PointRecord
from spinexplore.settings import SCHEDULES, RunSettings
from spinexplore.simulation import point_label
from spinexplore.strategies import install_context

__all__ = ["Runner", "SCHEDULES", "format_round", "format_stats", "open_runner", "outcome_to_result"]

_LOG = get_logger("runner")

#: A run stops (SimulationFailingError) when its first this many results all FAILED with the same
#: error: a simulation that fails the same way every time would otherwise spend the whole budget.
FAIL_FAST_AFTER = 5
#: Seconds between checkpoints at most (besides every ``checkpoint_interval`` results).
CHECKPOINT_SECONDS = 5.0
#: Seconds a worker's ``simulation.warmup()`` may take (the run's timeout never applies to it).
WARMUP_SECONDS = 300.0


class Runner(RunnerBookkeeping):
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
        self.n_by_phase: dict[str, int] = {}  # "DONE", "FAILED", "TIMEOUT" of this run's results
        self.cancelled: list[tuple[int, str]] = []  # (point, why): a signal stopped its worker
        self.n_retried = 0
        self.first_error: str | None = None
        self.stopped_by: str | None = None
        self._launched: list[int] = []  # points handed to a worker in the current map
        self._warm = False
        self._fit_process: FitProcess | None = None
        self._finished: list[PointRecord] = []
        self.fail_fast = FAIL_FAST_AFTER
        self._first_failures: list[str | None] = []  # the error of each of the first results (None: ok)
        self._failures_logged: dict[str, int] = {}
        self.ladder, self.policy = fidelity_hooks(learner, simulation)
        self._promoting: dict[int, int] = {}  # points being re-simulated at a higher rung -> rung
        self.n_promoted = 0  # promotions finished in this run

    # ------------------------------------------------------------------ what goals read
    @property
    def elapsed(self) -> float:
        """Wall seconds since the runner started (executor start and warm-up included)."""
        return time.monotonic() - self._t0

    # ------------------------------------------------------------------ lifecycle
    def warm_up(self, needed: bool = True) -> None:
        """Run ``simulation.warmup()`` once per worker, if the simulation has one (compiled
        kernels load there, not in the first timed simulation); not when nothing will run."""
        if self._warm or not needed or not callable(getattr(self.simulation, "warmup", None)):
            return
        self._warm = True
        # never the run's timeout: that is for one simulation, and a warm-up killed there leaves
        # a cold replacement worker. A timeout all the same: a loky map without one would warm
        # loky's workers, and the run's map (with a timeout) goes to its fallback pool.
        limit = None if self.timeout is None else max(self.timeout, WARMUP_SECONDS)
        for _ in self.executor.map_unordered(WarmUp(self.simulation), range(self.n_workers), timeout=limit):
            pass

    def close(self) -> None:
        """Wait for the last checkpoint write, stop the executor if it is ours."""
        try:
            self.checkpointer.close()
        finally:
            if self.own_executor:
                self.executor.shutdown(cancel_pending=True)

    # ------------------------------------------------------------------ one outcome
    def _item(self, index: int, rung: int) -> Any:
        """What the executor gets for point ``index`` at ``rung``: its parameter dict, or
        ``(rung, params)`` for a ladder's :meth:`~spinexplore.fidelity.Ladder.run_rung`."""
        params = self.learner.space.to_dicts(self.learner.points([index]))[0]
        return (rung, params) if self.ladder is not None else params

    @property
    def _function(self) -> Any:
        return self.ladder.run_rung if self.ladder is not None else self.simulation

    def _record(self, index: int, outcome: Any, rung: int = 0) -> PointRecord | None:
        if rung:
            self._promoting.pop(index, None)
        result = outcome_to_result(outcome, self.learner.vocabulary)
        if result is None:  # cancelled (its worker was stopped by SIGTERM...): rerun on resume
            if not rung:  # a promotion keeps the point's cheaper result (decided again on resume)
                self.learner.cancel([index])
                self.cancelled.append((index, str(outcome.error or "cancelled")))
            return None
        self.simulation_time += result.duration
        raw = result  # this simulation's own outcome: what the counts, the log and fail-fast see
        if self.ladder is not None:  # keep every rung's record, the best result on top
            from spinexplore.fidelity import merge_result

            self.n_promoted += bool(rung)
            old = self.learner.records[index].result if rung else None
            result = merge_result(old, rung, result, self.learner.vocabulary,
                                  unknown_as_phase=self.learner.unknown_as_phase)
        record = self.learner.tell_index(index, result, worker=str(outcome.worker or ""))
        if self.policy is not None:
            self.policy.observe(record, self.learner.unit_of([index])[0])
        self.n_finished += 1
        key = "DONE" if raw.ok else raw.phase.name  # a failed promotion leaves its point DONE
        self.n_by_phase[key] = self.n_by_phase.get(key, 0) + 1
        if self.first_error is None and key == "FAILED":
            self.first_error = raw.error
        self._finished.append(record)
        where = f" [{self.ladder.names[rung]}]" if self.ladder is not None and rung else ""
        # the line of simulation.format_point: "Point 7: TIMEOUT (timed out after 2.0 s)"
        self.progress.record(index, point_label(raw, where), ok=raw.ok, confidence=raw.confidence if raw.ok else None,
                             energy=raw.energy if raw.ok else None)
        if not raw.ok:
            self._log_failure(index, raw)
        if self.checkpointer.note() and self._on_disk and self.verbose:
            _LOG.info("Checkpoint saved (%d/%d completed)", self.learner.n_finished, self.learner.n_points)
        self._check_fail_fast(raw)
        return record

    # ------------------------------------------------------------------ before and after a schedule
    # ------------------------------------------------------------------ batch schedule
    def run_points(self, indices: Sequence[int], promotions: Sequence[tuple[int, int]] = ()) -> list[PointRecord]:
        """Run the given pending points (one map), checkpoint, return the finished records.

        ``promotions``: ``(index, rung)`` of finished points to re-simulate at a higher rung of
        a ladder, in the same map."""
        self._finished = []
        work = [(int(i), 0) for i in indices] + [(int(i), int(r)) for i, r in promotions]
        if not work:
            return []
        self._launched = []

        def feed() -> Iterator[Any]:  # notes which points reached a worker
            for index, rung in work:
                self._launched.append(index)
                if rung:
                    self._promoting[index] = rung
                yield self._item(index, rung)

        with self._handling_signals():
            for outcome in self.executor.map_unordered(self._function, feed(), timeout=self.timeout):
                index, rung = work[outcome.index]
                self._record(index, outcome, rung)
            self.checkpointer.flush()
        return list(self._finished)

    def _surrogate(self) -> Any:
        """The installed surrogate, None before any fit."""
        return self.learner._surrogate if self.learner.n_fitted else None

    def run_rounds(self, n_iterations: int, n_per_iteration: int, *, strategy: Any = None,
                   goal: Callable[[Any], bool] | None = None,
                   on_round: Callable[[dict[str, Any]], None] | None = None) -> None:
        """The batch schedule: finish the open round, then propose-run-refit rounds."""
        learner = self.learner
        with self._handling_signals():
            self.retry_timed_out()
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
                new = learner.pending_indices()
                promotions = (self.policy.plan_round(self._surrogate(), len(new), self._changed())
                              if self.policy else [])
                self.run_points(new, promotions)
                self._end_round(on_round)
        self.report_outcomes()

    def _changed(self) -> float:
        """Share of the box whose predicted phase changed over the policy's settle window (NaN: unknown)."""
        return self.learner.changed_since(self.policy.settle_window) if self.policy is not None else float("nan")

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
        refitter = Refitter(self._fit_job, lambda n: max(1, math.ceil(0.02 * n)))
        ready: deque[int] = deque()  # the initial design, or what was in flight: filled below
        initial: set[int] = set()
        cheap_running: set[int] = set()
        launched: list[tuple[int, int]] = []
        self._launched = Indices(launched)

        def install() -> None:
            fitted = refitter.poll()
            if fitted is not None:
                surrogate, n_fitted, labels, uncertainty, context = fitted
                if context is not None:  # the proposal cache built in the fit process
                    install_context(surrogate, context)
                learner.install(surrogate, n_fitted)
                learner.record_metrics(labels, uncertainty)

        def promotion(budget_left: bool) -> tuple[int, int] | None:
            if self.policy is None or learner.n_fitted == 0:
                return None
            return self.policy.next_promotion(self._surrogate(), self._promoting, len(cheap_running),
                                              budget_left=budget_left, changed=self._changed())

        def feed() -> Iterator[Any]:
            while True:
                if self.policy is not None and not (ready and ready[0] in initial):  # initial design first
                    if goal is not None and goal(self):
                        if not ready:
                            self.stopped_by = repr(goal)
                            return
                    else:
                        nxt = promotion(bool(ready) or learner.n_points < budget)
                        if nxt is not None:  # a finished point, at the next rung of the ladder
                            self._promoting[nxt[0]] = nxt[1]
                            launched.append(nxt)
                            yield self._item(*nxt)
                            continue
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
                launched.append((index, 0))
                cheap_running.add(index)
                yield self._item(index, 0)

        self._finished = []
        try:
            with self._handling_signals():
                self.retry_timed_out()
                ready.extend(learner.pending_indices())
                initial.update(ready)
                self._fit_process = FitProcess() if self.n_workers > 1 else None
                self.checkpointer.write()  # `spinexplore status` shows the queued points from the start
                self.warm_up(bool(ready) or learner.n_points < budget)
                for outcome in self.executor.map_unordered(self._function, feed(), timeout=self.timeout):
                    index, rung = launched[outcome.index]
                    if not rung:
                        cheap_running.discard(index)
                    self._record(index, outcome, rung)
                    refitter.maybe_start(learner.n_labeled + self.n_promoted)
                    install()
                refitter.close(wait=0.0)
                install()
                # the history keeps the background fits; when none landed for the last round (short
                # simulations), fit once now, after the last simulation, so that every run records
                # its convergence entry (predict() would fit anyway)
                last = learner.history[-1] if learner.history else {}
                if learner.n_labeled and (last.get("iteration") != learner.iteration or learner.stale
                                          or last.get("n_done") != learner.counts(by="status").get("DONE", 0)):
                    learner.fit()
                    learner.update_metrics()
                learner.n_completed_iterations = learner.iteration + 1
                self.checkpointer.flush()
            self.report_outcomes()
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
                except FitProcessStarting:
                    pass  # not ready yet: this one fit runs here
                except RuntimeError as exc:
                    if process.closed:  # the run ended during this fit: nothing to report
                        raise
                    process.broken = str(exc)
                    _LOG.warning("The background fit process is given up (%s); surrogate fits continue in "
                                 "this process", str(exc)[:200])
            from spinexplore.strategies import prepare

            surrogate.fit(U, y, sample_weight=w)
            labels, uncertainty = reference_metrics(surrogate, n_dims)
            prepare(surrogate)  # the proposal context, cached in this process
            return surrogate, len(y), labels, uncertainty, None

        return len(y) + self.n_promoted, run  # a promotion may change a label, not the count



@contextlib.contextmanager
def open_runner(learner: PhaseLearner, simulation: Any, settings: RunSettings, *, store: Any,
                state: Callable[[], dict[str, Any]], total: int) -> Iterator[Runner]:
    """A :class:`Runner` for checked ``settings``, with its executor (the settings' own, or one
    built once from their ``n_jobs`` and ``backend``) and its progress display for ``total``
    simulations; both closed at exit."""
    from spinexplore.execution import make_progress
    from spinexplore.execution.progress import Progress

    ex, own = settings.make_executor()
    if own:
        warn_oversubscribed(ex.n_workers, settings.backend if settings.executor is None else settings.executor)
    if settings.progress or not settings.verbose:  # a bar (or log lines where no bar can show), or silence
        bar = make_progress(total, enabled=settings.progress, desc="Classifying")
    else:  # progress=False, verbose: the old tool's line per point, through logging
        bar = Progress(total, "log", "Classifying", sys.stderr)
    if settings.verbose:
        _LOG.info("Classifying %d points using %d worker(s)...", total, ex.n_workers)
    runner = Runner(learner, simulation, store=store, state=state, executor=ex, own_executor=own,
                    timeout=settings.timeout, checkpoint_interval=settings.checkpoint_interval, progress=bar,
                    verbose=settings.verbose)
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
