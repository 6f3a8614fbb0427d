"""``ActiveLearningExplorer``: the backward-compatible facade over the learner and the runner.

The explorer holds a :class:`~spinexplore.learner.PhaseLearner` (points, results, surrogate,
strategy) and a store, and hands both to a :class:`~spinexplore.runner.Runner` (one executor
for the whole run, the schedules, goals, checkpoints, signals) when asked to run. It never
simulates, pickles or writes HDF5 itself.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from spinexplore._log import get_logger
from spinexplore._validation import check_n_points
from spinexplore.learner import PhaseLearner, describe
from spinexplore.explorer._checks import check_simulation, check_store_writable, run_simulation, with_phases
from spinexplore.explorer._views import ExplorerViews
from spinexplore.runner import format_round, open_runner
from spinexplore.runner.goals import make_goal
from spinexplore.results import PhaseType, PointRecord, PointStatus  # noqa: F401 - the docstring example
from spinexplore.settings import RunSettings, record
from spinexplore.space import ParameterSpace

__all__ = ["ActiveLearningExplorer"]

_LOG = get_logger("explorer")

#: Version of the explorer state in the store; load() refuses newer ones.
STATE_VERSION = 2


class ActiveLearningExplorer(ExplorerViews):
    """Map a phase diagram by parallel active learning.

    Parameters
    ----------
    space : ParameterSpace
        The box to explore (1 to 6 free dimensions).
    seed : int, numpy.random.Generator or None
        Seeds every random choice (initial design, candidate points, surrogate). ``None`` draws
        fresh entropy, which is recorded so that the run can be reproduced.
    strategy : str or callable, default "balanced"
        Acquisition strategy used by :meth:`propose` (see ``spinexplore.strategies``).
    surrogate : str, scikit-learn classifier, Surrogate or None
        The classifier that predicts phases between samples; ``None`` uses the default chosen
        by ``benchmarks/active_learning.py``.
    store : str, path, CheckpointStore or None
        Where checkpoints go. A path creates an HDF5 ``ExplorationStore`` (refusing to overwrite
        an existing file unless ``overwrite=True``); ``None`` keeps everything in memory. A new
        store receives the seed and ``settings`` at once, before any simulation.
    overwrite : bool
        Allow ``store`` to replace an existing file.
    save_spins : bool
        Ask the HDF5 store to keep the spin configurations that simulations return.
    phases : optional
        Phase labels declared up front, for fixed names, display names (LaTeX allowed),
        colours and legend order: a list of names, a mapping ``name -> display name`` or
        ``name -> {"display", "color", "code"}``, a mapping ``code -> name`` for a simulation
        returning integers, or an Enum class (see :class:`~spinexplore.labels.Vocabulary`).
        A simulation may return any label; undeclared ones are added as they arrive.
    unknown_as_phase : bool, default False
        Learn UNKNOWN (the simulation ran and could not decide) as a phase. By default it is
        not a class: no region is learned or drawn for it, its points are marked in figures and
        proposals sample around them.
    verbose : bool
        Log a line per finished point (when no progress bar shows), per checkpoint and per
        round, at INFO level on the ``spinexplore`` logger. Nothing is printed unless logging
        is configured (``logging.basicConfig(level=logging.INFO)``; the ``spinexplore``
        command does it); ``logging.getLogger("spinexplore").setLevel(logging.CRITICAL)``
        silences every message. The progress bar is controlled by ``progress=``.
    settings : dict, optional
        JSON-able settings of the run (the command line records model, lattice size, mode,
        budget...); written to the store and restored by :meth:`load` as :attr:`settings`.

    Examples
    --------
    >>> space = ParameterSpace({"x": (0.0, 1.0), "y": (0.0, 1.0)})
    >>> ex = ActiveLearningExplorer(space, seed=1, verbose=False)
    >>> def sim(p):
    ...     return PhaseType.FERROMAGNET if p["x"] > p["y"] else PhaseType.SINGLE_Q
    >>> _ = ex.run(n_iterations=2, n_per_iteration=5, simulation=sim, n_initial=10, progress=False)
    >>> int((ex.status == PointStatus.DONE).sum())
    20
    """

    def __init__(
        self,
        space: ParameterSpace,
        *,
        seed: int | np.random.Generator | None = None,
        strategy: str | Callable[..., Any] = "balanced",
        surrogate: Any = None,
        store: Any = None,
        overwrite: bool = False,
        save_spins: bool = False,
        verbose: bool = True,
        settings: Mapping[str, Any] | None = None,
        phases: Any = None,
        unknown_as_phase: bool = False,
    ) -> None:
        self._learner = PhaseLearner(space, seed=seed, strategy=strategy, surrogate=surrogate, phases=phases,
                                     unknown_as_phase=unknown_as_phase)
        self.verbose = bool(verbose)
        self.settings: dict[str, Any] = record(settings)
        self.run_stats: dict[str, Any] | None = None
        self._n_initial: int | None = None
        self._simulation_description: Any = None
        self._boundaries: dict[str, Any] | None = None  # the last boundaries(save=True)
        new_store = store is None or isinstance(store, (str, os.PathLike))
        self.store = self._open_store(store, overwrite=overwrite, save_spins=save_spins)
        if new_store:  # the seed and settings are on disk before the first simulation
            try:
                self.checkpoint()
            except BaseException:  # disk full, a signal: release the new store (its lock) at once
                close = getattr(self.store, "close", None)
                if callable(close):
                    close()
                raise

    # ------------------------------------------------------------------ configuration
    space = property(lambda self: self._learner.space, doc="The explored ParameterSpace.")
    strategy = property(lambda self: self._learner.strategy, doc="The acquisition strategy.")
    surrogate_spec = property(lambda self: self._learner.surrogate_spec, doc="The surrogate as given.")
    seed = property(lambda self: self._learner.seed, doc="The run's seed (None if a Generator was given).")
    learner = property(lambda self: self._learner,
                       doc="The PhaseLearner (points, results, surrogate, strategy) behind this explorer.")

    def _config(self) -> dict[str, Any]:
        strategy = self.strategy if isinstance(self.strategy, str) else describe(self.strategy)
        surrogate = self.surrogate_spec
        if surrogate is not None and not isinstance(surrogate, str):
            surrogate = describe(surrogate)
        return {"seed": self.seed, "strategy": strategy, "surrogate": surrogate, "settings": self.settings}

    def _open_store(self, store: Any, *, overwrite: bool, save_spins: bool) -> Any:
        from spinexplore.store import ExplorationStore, MemoryStore

        if store is None:
            return MemoryStore(self.space, self._config())
        if isinstance(store, (str, os.PathLike)):
            return ExplorationStore.create(Path(store), space=self.space, config=self._config(),
                                           overwrite=overwrite, save_spins=save_spins)
        for attr in ("write", "read"):
            if not callable(getattr(store, attr, None)):
                raise TypeError(f"store must be a path, None or an object with write() and read(); got {store!r}")
        return store

    # ------------------------------------------------------------------ points and results
    def add_points(self, points: Any) -> np.ndarray:
        """Queue user-chosen physical points (shape (n, n_dims)) as pending; return them."""
        return self._learner.points(self._learner.add_points(points))

    def add_initial_samples(self, n: int, method: str = "lhs") -> np.ndarray:
        """Queue a space-filling design of ``n`` points (``lhs``, ``sobol``, ``grid``, ``random``).

        Returns
        -------
        ndarray of shape (n, n_dims)
            The new points in physical units.
        """
        indices = self._learner.add_initial_samples(n, method)
        if self._n_initial is None:
            self._n_initial = len(indices)
        return self._learner.points(indices)

    def propose(self, n: int, strategy: str | Callable[..., Any] | None = None) -> np.ndarray:
        """Choose ``n`` new points with an acquisition strategy, queue them as pending, return them."""
        return self._learner.points(self._learner.propose(n, strategy))

    def ask(self, n: int, strategy: str | Callable[..., Any] | None = None) -> list[dict[str, float]]:
        """Propose ``n`` points and return them as parameter dicts (adaptive's verb)."""
        return self._learner.ask(n, strategy)

    def tell(self, params: Mapping[str, float] | Sequence[float], result: Any) -> PointRecord:
        """Record the result of a point computed outside :meth:`classify_pending_points`."""
        return self._learner.tell(params, result)

    def predict(self, points: Any, *, names: bool = False) -> tuple[np.ndarray, Any]:
        """Predicted phase and class probabilities at physical points.

        Parameters
        ----------
        points : array-like of shape (m, n_dims), a parameter dict or a list of them
        names : bool, default False
            Return label names and a probability array per name instead of ids.

        Returns
        -------
        phases : ndarray of shape (m,)
            Label ids (``PhaseType`` values for built-in labels), or names with ``names=True``.
        proba : ndarray of shape (m, n_classes), or dict of name -> ndarray of shape (m,)
            Probabilities; columns follow :attr:`classes_` (:attr:`class_names`).
        """
        return self._learner.predict(points, names=names)

    # ------------------------------------------------------------------ persistence
    def _state(self) -> dict[str, Any]:
        state = self._learner.state()
        state.update(state_version=STATE_VERSION, simulation=self._simulation_description,
                     config=self._config(), settings=self.settings, run_stats=self.run_stats,
                     n_initial=self._n_initial)
        if self._boundaries is not None:
            state["boundaries"] = self._boundaries
        return state

    def checkpoint(self) -> None:
        """Write every new or changed point and the explorer state to the store (durably)."""
        records = self._learner.pop_dirty()
        try:
            self.store.write(records, self._state())
        except BaseException:
            self._learner.mark_dirty(records)
            raise

    def close(self) -> None:
        """Checkpoint (unless the store is read-only) and release the store (its lock)."""
        try:
            if not getattr(self.store, "read_only", False):
                self.checkpoint()
        finally:
            close = getattr(self.store, "close", None)
            if callable(close):
                close()

    def __enter__(self) -> ActiveLearningExplorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, space: ParameterSpace | None = None,
             read_only: bool = False, verbose: bool = True) -> ActiveLearningExplorer:
        """Restore an exploration from its HDF5 store, exactly as it was last checkpointed.

        Pending points are rerun by the next :meth:`run` or :meth:`classify_pending_points`;
        finished points never are.

        Parameters
        ----------
        path : path
            An ``exploration.h5`` file, or the directory that holds one.
        space : ParameterSpace, optional
            If given, the stored space must equal it (a guard against resuming the wrong run).
        read_only : bool
            Open without taking the write lock (for plotting or inspection).
        """
        from spinexplore.store import DEFAULT_FILENAME, ExplorationStore
        from spinexplore.strategies import STRATEGIES

        p = Path(path)
        if p.is_dir():
            p = p / DEFAULT_FILENAME
        store = ExplorationStore.open(p, mode="r" if read_only else "a")
        try:
            if space is not None and store.space != space:
                raise ValueError(f"the store {str(p)!r} explores {store.space!r}, "
                                 f"not the space passed to load(): {space!r}")
            records, state = store.read(spins=False)  # spins stay on disk: store.read_spins(i)
            version = int(state.get("state_version", 1))
            if version > STATE_VERSION:
                from spinexplore.store import StoreError

                raise StoreError(f"the store {str(p)!r} was written by a newer spinexplore (state version "
                                 f"{version}; this one reads up to {STATE_VERSION}); upgrade spinexplore")
            config = dict(state.get("config") or store.config or {})
            strategy, surrogate = config.get("strategy") or "balanced", config.get("surrogate")
            if not isinstance(strategy, str) or strategy not in STRATEGIES:
                strategy = "balanced"  # custom callables cannot be restored; pass one to propose()
            if surrogate is not None and not isinstance(surrogate, str):
                surrogate = None
            ex = cls(store.space, seed=state.get("seed"), strategy=strategy, surrogate=surrogate,
                     store=store, verbose=verbose, settings=state.get("settings") or config.get("settings"))
            ex._learner.restore(records, state)
            ex._simulation_description = state.get("simulation")
            ex.run_stats = state.get("run_stats")
            ex._n_initial = state.get("n_initial")
            ex._boundaries = state.get("boundaries")
            return ex
        except BaseException:
            store.close()
            raise

    def boundaries(self, *, save: bool = False, **kwargs: Any) -> list[Any]:
        """Phase boundaries of a 2-D slice with uncertainty bands
        (:func:`spinexplore.analysis.phase_boundaries`: ``x=``, ``y=``, ``at=``, ``resolution=``).

        ``save=True`` also writes them into the run's store (the explorer state, checkpointed at
        once), where :meth:`stored_boundaries` finds them after ``load()``; one set is kept,
        the last one saved. It needs a writable store (not ``read_only=True``).
        """
        from spinexplore.analysis import phase_boundaries

        if save and getattr(self.store, "read_only", False):
            from spinexplore.errors import InputError

            raise InputError("boundaries(save=True) needs a writable store; this explorer was loaded "
                             "with read_only=True (save_boundaries(b, 'file.json') writes a file instead)")
        found = phase_boundaries(self, **kwargs)
        if save:
            from spinexplore.analysis._boundaries import DEFINITION

            self._boundaries = {"n_finished": int(self._learner.n_finished), "n_points": int(self.n_points),
                                "options": {k: v for k, v in kwargs.items() if k != "at"},
                                "at": {k: float(v) for k, v in (kwargs.get("at") or {}).items()},
                                "definition": DEFINITION, "boundaries": [b.to_dict() for b in found]}
            self.checkpoint()
        return found

    # ------------------------------------------------------------------ running
    def classify_pending_points(
        self, simulation_func: Callable[[dict[str, float]], Any], n_jobs: int = 1, checkpoint_interval: int = 10,
        *, timeout: float | None = None, executor: Any = None, backend: str | None = None, progress: bool = True,
    ) -> list[PointRecord]:
        """Run the simulation at every pending point and record the results.

        Parameters
        ----------
        simulation_func : callable
            ``simulation_func(params: dict) -> SimulationResult | PhaseType | dict | None``.
            ``None`` is recorded as TIMEOUT (the old tool's convention); an exception or a
            worker crash as FAILED with its error text. It is sent with cloudpickle, so a
            function defined in a notebook works with ``n_jobs > 1``.
        n_jobs : int, default 1
            Parallel workers, joblib style: -1 = all cores.
        checkpoint_interval : int, default 10
            Checkpoint the store every this many completed simulations (and every 5 s).
        timeout : float, optional
            Hard per-simulation limit in seconds (enforced by killing the worker).
        executor : Executor, concurrent.futures.Executor or str, optional
            Overrides ``n_jobs``/``backend``; a given executor is not shut down.
        backend : str, optional
            ``"sequential"``, ``"process"``, ``"loky"``, ``"dask"`` or ``"mpi"``.
        progress : bool, default True
            A tqdm bar on a terminal or in Jupyter; plain log lines otherwise.

        Returns
        -------
        list of PointRecord
            The points finished by this call.

        Raises
        ------
        spinexplore.errors.Interrupted
            After Ctrl+C or SIGTERM (a ``KeyboardInterrupt``): every finished result is
            checkpointed first; the unfinished points stay pending and the next call reruns them.
        """
        check_store_writable(self.store)
        settings = RunSettings.checked(n_jobs=n_jobs, checkpoint_interval=checkpoint_interval, timeout=timeout,
                                       executor=executor, backend=backend, progress=progress, verbose=self.verbose)
        simulation_func = self._prepare(with_phases(simulation_func, self._learner.vocabulary), "simulation_func")
        indices = self._learner.pending_indices()
        if not indices:
            return []
        with open_runner(self._learner, simulation_func, settings, store=self.store, state=self._state,
                         total=len(indices)) as runner:
            return runner.run_points(indices)

    def run(
        self, n_iterations: int, n_per_iteration: int, simulation: Callable[[dict[str, float]], Any] | None = None,
        *, n_initial: int | None = None, initial_method: str = "lhs", strategy: str | Callable[..., Any] | None = None,
        n_jobs: int = 1, checkpoint_interval: int = 10, timeout: float | None = None, executor: Any = None,
        backend: str | None = None, progress: bool = True, schedule: str | None = None,
        max_time: float | None = None, max_cpu_time: float | None = None, converge: float | None = None,
        converge_window: int | None = None, goal: Callable[[Any], bool] | None = None,
    ) -> ActiveLearningExplorer:
        """Run the whole exploration: initial design, then active learning up to the budget.

        The budget is ``n_initial + n_iterations * n_per_iteration`` points. Resumable:
        pending points left by an interruption are run first and finished points count.

        Parameters
        ----------
        n_iterations : int
            Rounds after the initial design (the total, including rounds already done).
        n_per_iteration : int
            Points per round (the batch schedule's parallel batch).
        simulation : callable or list of callables, optional
            Defaults to the built-in ``SpinSimulation()`` on the default model. A list (or a
            :class:`~spinexplore.fidelity.Ladder`) is a fidelity ladder, cheapest first: every
            point runs at the cheapest rung and is re-simulated at a higher one where the
            :class:`~spinexplore.promotion.PromotionPolicy` expects that to change its label.
        n_initial : int, optional
            Size of the initial design (default ``2 * n_per_iteration``); ignored when points
            already exist.
        schedule : {"async", "batch"}, optional
            ``"async"`` (default with more than one worker): a free worker gets the next point
            at once, proposals use the newest surrogate fitted in the background.
            ``"batch"`` (default with one worker): rounds, deterministic and exactly resumable.
        max_time, max_cpu_time : float, optional
            Stop handing out points after this many seconds of wall time, or of summed
            simulation time (the points in flight finish).
        converge : float, optional
            Stop when the predicted diagram changed on less than this fraction of the box over
            the last ``converge_window`` (default 50) labelled points.
        goal : callable, optional
            Any ``goal(runner) -> bool`` (see :mod:`spinexplore.goals`); True stops the run.
        n_jobs, checkpoint_interval, timeout, executor, backend, progress
            As for :meth:`classify_pending_points`; one executor serves the whole run.
        """
        return self._run_checked(simulation, RunSettings.checked(
            n_iterations=n_iterations, n_per_iteration=n_per_iteration, n_initial=n_initial,
            initial_method=initial_method, strategy=strategy, n_jobs=n_jobs, checkpoint_interval=checkpoint_interval,
            timeout=timeout, executor=executor, backend=backend, progress=progress, schedule=schedule,
            max_time=max_time, max_cpu_time=max_cpu_time, converge=converge, converge_window=converge_window,
            goal=goal))

    def _run_checked(self, simulation: Any, settings: RunSettings) -> ActiveLearningExplorer:
        """:meth:`run` with settings already checked against the table, not checked again: the
        command line checks each value once, at its edge, and comes in here (``cli._run.drive``)."""
        check_store_writable(self.store)
        settings = replace(settings, verbose=self.verbose)  # the display is the explorer's
        stop = make_goal(max_time=settings.max_time, max_cpu_time=settings.max_cpu_time,
                         converge=settings.converge, converge_window=settings.converge_window, goal=settings.goal)
        simulation = self._prepare(run_simulation(simulation, self._learner.vocabulary), "simulation")
        if self._n_initial is None and self.n_points:  # points added by hand, or a 0.1 store
            self._n_initial = int((self.iterations == 0).sum())
        n0 = self._n_initial or settings.n_initial or 2 * settings.n_per_iteration
        budget = check_n_points(settings.total_points(n0),
                                what=f"n_initial + n_iterations * n_per_iteration = {n0} + {settings.n_iterations} "
                                     f"* {settings.n_per_iteration}")
        if self.n_points == 0:
            self.add_initial_samples(n0, method=settings.initial_method)
        to_run = max(0, budget - self._learner.n_finished)
        with open_runner(self._learner, simulation, settings, store=self.store, state=self._state,
                         total=to_run) as runner:
            chosen = settings.schedule or ("async" if runner.n_workers > 1 else "batch")
            try:
                if chosen == "batch":
                    runner.run_rounds(settings.n_iterations, settings.n_per_iteration, strategy=settings.strategy,
                                      goal=stop,
                                      on_round=(lambda e: _LOG.info(format_round(e))) if self.verbose else None)
                else:
                    runner.run_async(budget, n0, settings.n_per_iteration, strategy=settings.strategy, goal=stop)
            finally:
                self.run_stats = runner.stats(chosen)
        return self

    # ------------------------------------------------------------------ helpers of the two above
    def _prepare(self, simulation: Any, name: str) -> Any:
        """A callable simulation whose parameters fit the space; its description is recorded."""
        check_simulation(simulation, name, self.space)
        self._simulation_description = describe(simulation)
        return simulation
