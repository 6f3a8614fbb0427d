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
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from spinexplore._background import Checkpointer, FitProcess, Refitter
from spinexplore._log import get_logger
from spinexplore.errors import Interrupted
from spinexplore.learner import PhaseLearner, reference_metrics
from spinexplore.results import PhaseType, PointRecord, SimulationResult, coerce_result
from spinexplore.strategies import install_context

__all__ = ["Runner", "SCHEDULES", "format_round", "format_stats", "open_runner", "outcome_to_result"]

_LOG = get_logger("runner")

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
        self.ladder, self.policy = _fidelity_hooks(learner, simulation)
        self._promoting: dict[int, int] = {}  # points being re-simulated at a higher rung -> rung
        self.n_promoted = 0  # promotions finished in this run

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
            **({"fidelity": self.policy.summary()} if self.policy is not None else {}),
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
        result = outcome_to_result(outcome)
        if result is None:  # cancelled: the point stays pending (a promotion keeps its cheaper result)
            return None
        self.simulation_time += result.duration
        if self.ladder is not None:  # keep every rung's record, the best result on top
            from spinexplore.fidelity import merge_result

            self.n_promoted += bool(rung)
            old = self.learner.records[index].result if rung else None
            result = merge_result(old, rung, result)
        record = self.learner.tell_index(index, result, worker=str(outcome.worker or ""))
        if self.policy is not None:
            self.policy.observe(record, self.learner.unit_of([index])[0])
        self.n_finished += 1
        self._finished.append(record)
        where = f" [{self.ladder.names[rung]}]" if self.ladder is not None and rung else ""
        if result.ok:
            self.progress.record(index, result.phase.name + where, ok=True, confidence=result.confidence,
                                 energy=result.energy)
        else:  # "Point 7: TIMEOUT (timed out after 2.0 s)"
            reason = (result.error or "no result").strip().splitlines()[0][:120]
            self.progress.record(index, f"{result.phase.name}{where} ({reason})", ok=False)
        if self.checkpointer.note() and self._on_disk and self.verbose:
            _LOG.info("Checkpoint saved (%d/%d completed)", self.learner.n_finished, self.learner.n_points)
        return record

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
                promotions = self.policy.plan_round(self._surrogate(), len(new)) if self.policy else []
                self.run_points(new, promotions)
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
        initial = set(ready)
        cheap_running: set[int] = set()
        launched: list[tuple[int, int]] = []
        self._launched = _Indices(launched)

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
                                              budget_left=budget_left)

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
                # no final fit on the critical path: predict() refits once if the installed
                # surrogate missed the last points; the history keeps the background fits
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

        return len(y) + self.n_promoted, run  # a promotion may change a label, not the count


class _Indices(Sequence):
    """The point indices of a list of launched ``(index, rung)`` items (what ``cancel`` takes)."""

    def __init__(self, items: list[tuple[int, int]]) -> None:
        self._items = items

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, k: Any) -> Any:
        if isinstance(k, slice):
            return [i for i, _ in self._items[k]]
        return self._items[k][0]


def _fidelity_hooks(learner: PhaseLearner, simulation: Any) -> tuple[Any, Any]:
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
