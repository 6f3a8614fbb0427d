"""The active-learning loop: propose points, run simulations, record, learn, repeat.

The explorer orchestrates only. It asks a sampler or a strategy where to simulate, hands the
points to an :class:`~spinexplore.execution.Executor`, turns the outcomes into
:class:`~spinexplore.results.PointRecord` objects, checkpoints them through a
:class:`~spinexplore.store.CheckpointStore` and refits a surrogate. It never simulates, pickles
or writes HDF5 itself.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spinexplore._validation import check_choice, check_int, check_n_jobs, check_real
from spinexplore.results import (
    PhaseType,
    PointRecord,
    PointStatus,
    SimulationResult,
    coerce_result,
)
from spinexplore.space import ParameterSpace

__all__ = ["ActiveLearningExplorer"]

STATE_VERSION = 1
_MIN_WEIGHT = 0.05


def _describe(obj: Any) -> Any:
    """A JSON-friendly description of a user object (simulation, surrogate spec...)."""
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    describe = getattr(obj, "describe", None)
    if callable(describe):
        try:
            return describe()
        except Exception:  # a user's describe() must not break a checkpoint
            pass
    name = getattr(obj, "__qualname__", None) or type(obj).__qualname__
    module = getattr(obj, "__module__", None) or type(obj).__module__
    return f"{module}.{name}"


class ActiveLearningExplorer:
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
        an existing file unless ``overwrite=True``); ``None`` keeps everything in memory.
    overwrite : bool
        Allow ``store`` to replace an existing file.
    save_spins : bool
        Ask the HDF5 store to keep the spin configurations that simulations return.
    verbose : bool
        Print a one-line summary after each iteration.

    Examples
    --------
    >>> space = ParameterSpace({"x": (0.0, 1.0), "y": (0.0, 1.0)})
    >>> ex = ActiveLearningExplorer(space, seed=1)
    >>> def sim(p):
    ...     return PhaseType.FERROMAGNET if p["x"] > p["y"] else PhaseType.SINGLE_Q
    >>> ex.run(n_iterations=2, n_per_iteration=5, simulation=sim, n_initial=10, progress=False)
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
    ) -> None:
        from spinexplore.strategies import check_strategy
        from spinexplore.surrogates import make_surrogate

        if not isinstance(space, ParameterSpace):
            raise TypeError(f"space must be a ParameterSpace; got {type(space).__name__}")
        self.space = space
        self.strategy = check_strategy(strategy)
        self.surrogate_spec = surrogate
        self.verbose = bool(verbose)

        if isinstance(seed, np.random.Generator):
            self.seed: int | None = None
            self._rng = seed
            surrogate_seed = int(seed.integers(2**31 - 1))
        elif seed is None or (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)):
            if seed is not None and seed < 0:
                raise ValueError(f"seed must be a non-negative integer, a Generator or None; got {seed!r}")
            self.seed = int(np.random.SeedSequence().entropy) if seed is None else int(seed)
            ss = np.random.SeedSequence(self.seed)
            rng_ss, sur_ss = ss.spawn(2)
            self._rng = np.random.default_rng(rng_ss)
            surrogate_seed = int(sur_ss.generate_state(1)[0] & 0x7FFFFFFF)
        else:
            raise TypeError(f"seed must be an int, a numpy Generator or None; got {seed!r}")
        self._surrogate_seed = surrogate_seed
        # Build (and so validate) the surrogate before any work starts.
        self._surrogate = make_surrogate(surrogate, random_state=surrogate_seed)

        self._records: list[PointRecord] = []
        self._dirty: set[int] = set()
        self.iteration = 0
        self.n_completed_iterations = 0
        self.history: list[dict[str, Any]] = []
        self._fitted_on: int | None = None  # number of labeled points of the last fit
        self._reference_labels: np.ndarray | None = None
        self._simulation_description: Any = None

        self.store = self._open_store(store, overwrite=overwrite, save_spins=save_spins)

    # ------------------------------------------------------------------ configuration
    def _config(self) -> dict[str, Any]:
        strategy = self.strategy if isinstance(self.strategy, str) else _describe(self.strategy)
        surrogate = self.surrogate_spec
        if surrogate is not None and not isinstance(surrogate, str):
            surrogate = _describe(surrogate)
        return {"seed": self.seed, "strategy": strategy, "surrogate": surrogate}

    def _open_store(self, store: Any, *, overwrite: bool, save_spins: bool) -> Any:
        from spinexplore.store import ExplorationStore, MemoryStore

        if store is None:
            return MemoryStore(self.space, self._config())
        if isinstance(store, (str, os.PathLike)):
            return ExplorationStore.create(
                Path(store), space=self.space, config=self._config(), overwrite=overwrite,
                save_spins=save_spins,
            )
        for attr in ("write", "read"):
            if not callable(getattr(store, attr, None)):
                raise TypeError(
                    f"store must be a path, None or an object with write() and read(); got {store!r}"
                )
        return store

    # ------------------------------------------------------------------ read access
    @property
    def records(self) -> list[PointRecord]:
        """Every point of the exploration, in index order (a copy of the list)."""
        return list(self._records)

    @property
    def n_points(self) -> int:
        return len(self._records)

    @property
    def X(self) -> np.ndarray:
        """ndarray of shape (n_points, n_dims): physical coordinates of every point."""
        if not self._records:
            return np.empty((0, self.space.n_dims))
        return np.array([r.params for r in self._records])

    @property
    def status(self) -> np.ndarray:
        """ndarray of shape (n_points,): the ``PointStatus`` value of every point."""
        return np.array([int(r.status) for r in self._records], dtype=int)

    @property
    def phases(self) -> np.ndarray:
        """ndarray of shape (n_points,): ``PhaseType`` value per point, -1 without a result."""
        return np.array([-1 if r.result is None else int(r.result.phase) for r in self._records], dtype=int)

    @property
    def confidences(self) -> np.ndarray:
        return np.array([np.nan if r.result is None else r.result.confidence for r in self._records])

    @property
    def energies(self) -> np.ndarray:
        return np.array([np.nan if r.result is None else r.result.energy for r in self._records])

    @property
    def iterations(self) -> np.ndarray:
        return np.array([r.iteration for r in self._records], dtype=int)

    @property
    def pending_points(self) -> np.ndarray:
        """Physical coordinates of the points still to be simulated."""
        idx = self._pending_indices()
        return self.X[idx] if idx else np.empty((0, self.space.n_dims))

    @property
    def classes_(self) -> np.ndarray:
        """``PhaseType`` values of the surrogate's probability columns (after a fit)."""
        self._ensure_fitted()
        return np.asarray(self._surrogate.classes_, dtype=int)

    def counts(self) -> dict[str, int]:
        """Number of points per status and per phase, e.g. ``{"DONE": 38, "SKYRMION": 12, ...}``."""
        out: dict[str, int] = {}
        for r in self._records:
            out[r.status.name] = out.get(r.status.name, 0) + 1
            if r.status == PointStatus.DONE and r.result is not None:
                out[r.result.phase.name] = out.get(r.result.phase.name, 0) + 1
        return out

    def __repr__(self) -> str:
        c = self.counts()
        return (
            f"ActiveLearningExplorer({self.space!r}, n_points={self.n_points}, "
            f"done={c.get('DONE', 0)}, pending={c.get('PENDING', 0) + c.get('CANCELLED', 0)}, "
            f"iteration={self.iteration})"
        )

    # ------------------------------------------------------------------ adding points
    def _append(self, X: np.ndarray, iteration: int) -> np.ndarray:
        start = len(self._records)
        for k, row in enumerate(X):
            self._records.append(
                PointRecord(index=start + k, params=row, status=PointStatus.PENDING, iteration=iteration)
            )
            self._dirty.add(start + k)
        return X

    def add_points(self, points: Any) -> np.ndarray:
        """Queue user-chosen physical points (shape (n, n_dims)) as pending."""
        X = self.space.validate_points(points)
        return self._append(X, self.iteration)

    def add_initial_samples(self, n: int, method: str = "lhs") -> np.ndarray:
        """Queue an initial design of ``n`` points.

        Parameters
        ----------
        n : int
            Number of points, >= 1.
        method : {"lhs", "sobol", "grid", "random"}
            Space-filling design (``spinexplore.samplers``).

        Returns
        -------
        ndarray of shape (n, n_dims)
            The new points in physical units.
        """
        from spinexplore.samplers import SAMPLERS, sample

        n = check_int("n", n, minimum=1)
        check_choice("method", method, SAMPLERS)
        seed = int(self._rng.integers(2**63 - 1))
        X = sample(self.space, n, method=method, seed=seed)
        return self._append(np.asarray(X, dtype=float), self.iteration)

    def propose(self, n: int, strategy: str | Callable[..., Any] | None = None) -> np.ndarray:
        """Choose ``n`` new points with an acquisition strategy and queue them as pending.

        Before any point has a result the strategy falls back to space filling.

        Returns
        -------
        ndarray of shape (n, n_dims)
            The proposed points in physical units.
        """
        from spinexplore.strategies import check_strategy, select_batch

        n = check_int("n", n, minimum=1)
        strategy = self.strategy if strategy is None else check_strategy(strategy)
        surrogate = self._ensure_fitted(required=False)
        X_lab, y, _ = self._labeled()
        U = select_batch(
            strategy,
            n,
            n_dims=self.space.n_dims,
            surrogate=surrogate,
            X_labeled=self.space.to_unit(X_lab) if len(X_lab) else np.empty((0, self.space.n_dims)),
            y=y,
            X_pending=self._unit_of(self._pending_indices()),
            X_failed=self._unit_of(self._failed_indices()),
            # a fresh Generator per call: its whole state derives from self._rng, whereas
            # self._rng's SeedSequence carries a spawn counter that the checkpointed
            # bit-generator state does not (scipy's qmc spawns from it).
            rng=np.random.default_rng(int(self._rng.integers(2**63 - 1))),
        )
        X = self.space.from_unit(np.asarray(U, dtype=float).reshape(-1, self.space.n_dims))
        return self._append(X, self.iteration)

    def ask(self, n: int, strategy: str | Callable[..., Any] | None = None) -> list[dict[str, float]]:
        """Propose ``n`` points and return them as parameter dicts (adaptive's verb)."""
        start = self.n_points
        self.propose(n, strategy)
        return self.space.to_dicts(self.X[start:])

    def tell(self, params: Mapping[str, float] | Sequence[float], result: Any) -> PointRecord:
        """Record the result of a point computed outside :meth:`classify_pending_points`.

        ``params`` is a parameter dict or physical point; a matching pending point is completed,
        otherwise a new point is added. ``result`` is anything a simulation may return.
        """
        x = self.space.to_point(params) if isinstance(params, Mapping) else np.asarray(params, float)
        x = self.space.validate_points(x)[0]
        match = [i for i in self._pending_indices() if np.allclose(self._records[i].params, x, rtol=0, atol=1e-12)]
        if match:
            index = match[0]
        else:
            index = self.n_points
            self._append(x.reshape(1, -1), self.iteration)
        try:
            res = coerce_result(result)
        except (TypeError, ValueError) as exc:
            res = SimulationResult(phase=PhaseType.FAILED, confidence=0.0, error=str(exc))
        self._set_result(index, res, worker="tell")
        return self._records[index]

    # ------------------------------------------------------------------ bookkeeping
    def _pending_indices(self) -> list[int]:
        return [r.index for r in self._records if r.status in (PointStatus.PENDING, PointStatus.CANCELLED)]

    def _failed_indices(self) -> list[int]:
        return [r.index for r in self._records if r.status in (PointStatus.FAILED, PointStatus.TIMEOUT)]

    def _unit_of(self, indices: Sequence[int]) -> np.ndarray:
        if not indices:
            return np.empty((0, self.space.n_dims))
        return self.space.to_unit(np.array([self._records[i].params for i in indices]))

    def _labeled(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        done = [
            r for r in self._records
            if r.status == PointStatus.DONE and r.result is not None and r.result.phase.is_physical
        ]
        if not done:
            return np.empty((0, self.space.n_dims)), np.empty(0, dtype=int), np.empty(0)
        X = np.array([r.params for r in done])
        y = np.array([int(r.result.phase) for r in done], dtype=int)
        w = np.array([max(r.result.confidence, _MIN_WEIGHT) for r in done])
        return X, y, w

    def _set_result(self, index: int, result: SimulationResult, worker: str = "") -> None:
        if result.phase == PhaseType.TIMEOUT:
            status = PointStatus.TIMEOUT
        elif result.phase == PhaseType.FAILED:
            status = PointStatus.FAILED
        else:
            status = PointStatus.DONE
        old = self._records[index]
        self._records[index] = PointRecord(
            index=index, params=old.params, status=status, iteration=old.iteration,
            result=result, worker=worker,
        )
        self._dirty.add(index)

    def _ensure_fitted(self, required: bool = True) -> Any:
        X, y, w = self._labeled()
        if len(y) == 0:
            if required:
                raise RuntimeError(
                    "no finished point with a physical phase yet; run classify_pending_points() first"
                )
            return None
        if self._fitted_on != len(y):
            self._surrogate.fit(self.space.to_unit(X), y, sample_weight=w)
            self._fitted_on = len(y)
        return self._surrogate

    # ------------------------------------------------------------------ prediction
    def predict(self, points: Any) -> tuple[np.ndarray, np.ndarray]:
        """Predicted phase and class probabilities at physical points.

        Parameters
        ----------
        points : array-like of shape (m, n_dims)

        Returns
        -------
        phases : ndarray of shape (m,)
            ``PhaseType`` values.
        proba : ndarray of shape (m, n_classes)
            Probabilities; columns follow :attr:`classes_`.
        """
        surrogate = self._ensure_fitted()
        X = self.space._as_matrix(points, "points")
        proba = np.asarray(surrogate.predict_proba(self.space.to_unit(X)))
        classes = np.asarray(surrogate.classes_, dtype=int)
        return classes[np.argmax(proba, axis=1)], proba

    def predict_phases(self, points: Any) -> list[PhaseType]:
        """Like :meth:`predict` but returns ``PhaseType`` members only."""
        return [PhaseType(int(p)) for p in self.predict(points)[0]]

    def _update_model(self) -> dict[str, Any]:
        """Refit the surrogate and record this iteration's convergence metrics."""
        from spinexplore.strategies import convergence_metrics

        c = self.counts()
        entry: dict[str, Any] = {
            "iteration": self.iteration,
            "n_points": self.n_points,
            "n_done": c.get("DONE", 0),
            "n_failed": c.get("FAILED", 0) + c.get("TIMEOUT", 0),
            "changed_fraction": math.nan,
            "mean_uncertainty": math.nan,
        }
        surrogate = self._ensure_fitted(required=False)
        if surrogate is not None:
            metrics, labels = convergence_metrics(
                surrogate, self._reference_labels, n_dims=self.space.n_dims
            )
            self._reference_labels = np.asarray(labels, dtype=int)
            entry["changed_fraction"] = float(metrics["changed_fraction"])
            entry["mean_uncertainty"] = float(metrics["mean_uncertainty"])
        # one entry per iteration: a resumed iteration replaces its partial entry
        self.history = [h for h in self.history if h["iteration"] != self.iteration] + [entry]
        self.n_completed_iterations = self.iteration + 1
        return entry

    # ------------------------------------------------------------------ persistence
    def _state(self) -> dict[str, Any]:
        return {
            "state_version": STATE_VERSION,
            "seed": self.seed,
            "rng": self._rng.bit_generator.state,
            "rng_class": type(self._rng.bit_generator).__name__,
            "surrogate_seed": self._surrogate_seed,
            "iteration": self.iteration,
            "n_completed_iterations": self.n_completed_iterations,
            "history": self.history,
            "reference_labels": None if self._reference_labels is None else self._reference_labels.tolist(),
            "simulation": self._simulation_description,
            "config": self._config(),
        }

    def checkpoint(self) -> None:
        """Write every new or changed point and the explorer state to the store (durably)."""
        dirty = sorted(self._dirty)
        self.store.write([self._records[i] for i in dirty], self._state())
        self._dirty.difference_update(dirty)

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
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        space: ParameterSpace | None = None,
        read_only: bool = False,
        verbose: bool = True,
    ) -> ActiveLearningExplorer:
        """Restore an exploration from its HDF5 store, exactly as it was last checkpointed.

        Pending points (and points cancelled by Ctrl+C) are rerun by the next
        :meth:`classify_pending_points`; finished points never are.

        Parameters
        ----------
        path : path
            An ``exploration.h5`` file, or the directory that holds one.
        space : ParameterSpace, optional
            If given, the stored space must equal it (a guard against resuming the wrong run).
        read_only : bool
            Open without taking the write lock (for plotting or inspection).
        """
        from spinexplore.store import ExplorationStore

        p = Path(path)
        if p.is_dir():
            p = p / "exploration.h5"
        store = ExplorationStore.open(p, mode="r" if read_only else "a")
        try:
            if space is not None and store.space != space:
                raise ValueError(
                    f"the store {str(p)!r} explores {store.space!r}, not the space passed to load(): {space!r}"
                )
            records, state = store.read(spins=False)  # spins stay on disk: store.read_spins(i)
            config = dict(state.get("config") or store.config or {})
            strategy = config.get("strategy") or "balanced"
            surrogate = config.get("surrogate")
            from spinexplore.strategies import STRATEGIES

            if not isinstance(strategy, str) or strategy not in STRATEGIES:
                strategy = "balanced"  # custom callables cannot be restored; pass one to propose()
            if surrogate is not None and not isinstance(surrogate, str):
                surrogate = None
            ex = cls.__new__(cls)
            seed = state.get("seed")
            ActiveLearningExplorer.__init__(
                ex, store.space, seed=seed, strategy=strategy, surrogate=surrogate,
                store=store, verbose=verbose,
            )
            if state.get("rng") is not None:
                ex._rng.bit_generator.state = state["rng"]
            if state.get("surrogate_seed") is not None:
                ex._surrogate_seed = int(state["surrogate_seed"])
                from spinexplore.surrogates import make_surrogate

                ex._surrogate = make_surrogate(surrogate, random_state=ex._surrogate_seed)
            ex._records = list(records)
            ex.iteration = int(state.get("iteration", 0))
            ex.n_completed_iterations = int(state.get("n_completed_iterations", 0))
            ex.history = list(state.get("history") or [])
            ref = state.get("reference_labels")
            ex._reference_labels = None if ref is None else np.asarray(ref, dtype=int)
            ex._simulation_description = state.get("simulation")
            return ex
        except BaseException:
            store.close()
            raise

    # ------------------------------------------------------------------ running
    def classify_pending_points(
        self,
        simulation_func: Callable[[dict[str, float]], Any],
        n_jobs: int = 1,
        checkpoint_interval: int = 10,
        *,
        timeout: float | None = None,
        executor: Any = None,
        backend: str | None = None,
        progress: bool = True,
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
            Checkpoint the store every this many completed simulations.
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
        KeyboardInterrupt
            After Ctrl+C: every finished result is checkpointed first; the unfinished points
            stay pending and the next call reruns them.
        """
        from spinexplore.execution import get_executor, make_progress
        from spinexplore.execution.progress import Progress

        if not callable(simulation_func):
            raise TypeError(f"simulation_func must be callable; got {simulation_func!r}")
        n_jobs = check_n_jobs(n_jobs)
        checkpoint_interval = check_int("checkpoint_interval", checkpoint_interval, minimum=1)
        timeout = check_real("timeout", timeout, minimum=0.0, strict_min=True, allow_none=True)
        validate = getattr(simulation_func, "check_parameters", None)
        if callable(validate):
            validate(self.space.names + list(self.space.fixed))

        indices = self._pending_indices()
        self._simulation_description = _describe(simulation_func)
        if not indices:
            return []
        own_executor = executor is None or isinstance(executor, str)
        ex = get_executor(n_jobs, backend if executor is None else executor)
        items = self.space.to_dicts(np.array([self._records[i].params for i in indices]))
        if progress or not self.verbose:
            # a tqdm bar on a terminal or in Jupyter, plain lines otherwise; silent when
            # neither a bar nor a log was asked for
            bar = make_progress(len(items), enabled=progress, desc="Classifying")
        else:  # progress=False, verbose: the old tool's plain log, on stdout
            bar = Progress(len(items), "plain", "Classifying", sys.stdout)
        finished: list[PointRecord] = []
        since_checkpoint = 0
        try:
            if self.verbose and not progress:
                print(f"Classifying {len(items)} points using {ex.n_workers} worker(s)...")
            for outcome in ex.map_unordered(simulation_func, items, timeout=timeout):
                index = indices[outcome.index]
                result = self._outcome_to_result(outcome)
                if result is None:  # cancelled: stays pending
                    continue
                self._set_result(index, result, worker=str(outcome.worker or ""))
                finished.append(self._records[index])
                if result.ok:
                    bar.record(index, result.phase.name, ok=True,
                               confidence=result.confidence, energy=result.energy)
                else:  # "Point 7: TIMEOUT (timed out after 2.0 s)"
                    reason = (result.error or "no result").strip().splitlines()[0][:120]
                    bar.record(index, f"{result.phase.name} ({reason})", ok=False)
                since_checkpoint += 1
                if since_checkpoint >= checkpoint_interval:
                    self.checkpoint()
                    since_checkpoint = 0
                    n_fin = sum(r.status.is_finished for r in self._records)
                    bar.message(f"Checkpoint saved ({n_fin}/{self.n_points} completed)")
        except KeyboardInterrupt:
            self.checkpoint()
            n_fin = sum(r.status.is_finished for r in self._records)
            bar.message(
                f"Interrupted: {n_fin}/{self.n_points} points finished and saved; "
                f"{len(self._pending_indices())} pending points will rerun on resume"
            )
            raise
        finally:
            bar.close()
            if own_executor:
                ex.shutdown(cancel_pending=True)
        self.checkpoint()
        return finished

    @staticmethod
    def _outcome_to_result(outcome: Any) -> SimulationResult | None:
        status = getattr(outcome.status, "value", outcome.status)
        duration = float(outcome.duration or 0.0)
        if status == "ok":
            try:
                return coerce_result(outcome.value, duration=duration)
            except (TypeError, ValueError) as exc:
                return SimulationResult(
                    phase=PhaseType.FAILED, confidence=0.0, duration=duration,
                    error=f"invalid return value: {exc}",
                )
        if status == "timeout":
            return SimulationResult(
                phase=PhaseType.TIMEOUT, confidence=0.0, duration=duration,
                error=outcome.error or "timed out",
            )
        if status == "failed":
            return SimulationResult(
                phase=PhaseType.FAILED, confidence=0.0, duration=duration,
                error=outcome.error or "failed",
            )
        return None

    def run(
        self,
        n_iterations: int,
        n_per_iteration: int,
        simulation: Callable[[dict[str, float]], Any] | None = None,
        *,
        n_initial: int | None = None,
        initial_method: str = "lhs",
        strategy: str | Callable[..., Any] | None = None,
        n_jobs: int = 1,
        checkpoint_interval: int = 10,
        timeout: float | None = None,
        executor: Any = None,
        backend: str | None = None,
        progress: bool = True,
    ) -> ActiveLearningExplorer:
        """Run the whole loop: initial design, then ``n_iterations`` rounds of propose + simulate.

        Resumable: pending points left by an interruption are finished first, and the
        iterations already completed count towards ``n_iterations`` (the total, including the
        initial design's round 0 not counted).

        Parameters
        ----------
        n_iterations : int
            Total number of active-learning rounds after the initial design.
        n_per_iteration : int
            Points proposed per round (the parallel batch).
        simulation : callable, optional
            Defaults to the built-in ``SpinSimulation()`` on the default model.
        n_initial : int, optional
            Size of the initial design (default ``2 * n_per_iteration``); ignored when points
            already exist.
        """
        n_iterations = check_int("n_iterations", n_iterations, minimum=0)
        n_per_iteration = check_int("n_per_iteration", n_per_iteration, minimum=1)
        if n_initial is not None:
            n_initial = check_int("n_initial", n_initial, minimum=1)
        from spinexplore.samplers import SAMPLERS
        from spinexplore.strategies import check_strategy

        check_choice("initial_method", initial_method, SAMPLERS)
        if strategy is not None:
            strategy = check_strategy(strategy)
        check_n_jobs(n_jobs)
        check_int("checkpoint_interval", checkpoint_interval, minimum=1)
        check_real("timeout", timeout, minimum=0.0, strict_min=True, allow_none=True)
        if simulation is None:
            from spinexplore.simulation import SpinSimulation

            simulation = SpinSimulation()
        kwargs = dict(
            n_jobs=n_jobs, checkpoint_interval=checkpoint_interval, timeout=timeout,
            executor=executor, backend=backend, progress=progress,
        )
        if self.n_points == 0:
            self.add_initial_samples(n_initial or 2 * n_per_iteration, method=initial_method)
        # finish whatever round is open (fresh initial design, or an interrupted round)
        if self._pending_indices() or self.n_completed_iterations <= self.iteration:
            self.classify_pending_points(simulation, **kwargs)
            self._end_iteration()
        while self.iteration < n_iterations:
            self.iteration += 1
            self.propose(n_per_iteration, strategy)
            self.checkpoint()
            self.classify_pending_points(simulation, **kwargs)
            self._end_iteration()
        return self

    def _end_iteration(self) -> None:
        entry = self._update_model()
        self.checkpoint()
        if self.verbose:
            cf, mu = entry["changed_fraction"], entry["mean_uncertainty"]
            cf_text = "n/a" if math.isnan(cf) else f"{100 * cf:.1f}%"
            mu_text = "n/a" if math.isnan(mu) else f"{mu:.3f}"
            print(
                f"Iteration {self.iteration}: {entry['n_done']} done, {entry['n_failed']} failed; "
                f"predicted phase changed on {cf_text} of the box; mean uncertainty {mu_text}"
            )

    def summary(self) -> str:
        """A few lines: counts by status and phase, the last iterations' convergence metrics."""
        c = self.counts()
        lines = [repr(self)]
        phases = {k: v for k, v in c.items() if k in PhaseType.__members__}
        statuses = {k: v for k, v in c.items() if k in PointStatus.__members__}
        lines.append("status: " + ", ".join(f"{k}={v}" for k, v in sorted(statuses.items())))
        if phases:
            lines.append("phases: " + ", ".join(f"{k}={v}" for k, v in sorted(phases.items())))
        for h in self.history[-5:]:
            lines.append(
                f"iteration {h['iteration']}: done={h['n_done']} changed={h['changed_fraction']:.3f} "
                f"uncertainty={h['mean_uncertainty']:.3f}"
            )
        return "\n".join(lines)
