"""The learner: points, their results, the surrogate and the strategy; no executor, file or terminal.

:class:`PhaseLearner` is to spinexplore what a learner is to python-adaptive: it knows where
it has asked for simulations (:meth:`~PhaseLearner.ask`), takes results
(:meth:`~PhaseLearner.tell`), fits a surrogate and predicts phases
(:meth:`~PhaseLearner.predict`). It runs nothing and writes nothing: the
:class:`~spinexplore.runner.Runner` feeds it from an executor and checkpoints its
:meth:`~PhaseLearner.state` to a store.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from spinexplore._validation import check_choice, check_new_points
from spinexplore.errors import NotFittedError
from spinexplore.labels import Vocabulary
from spinexplore.results import PhaseType, PointRecord, PointStatus, SimulationResult, coerce_result
from spinexplore._text import describe
from spinexplore.learner._batch import next_batch
from spinexplore.learner._convergence import Convergence
from spinexplore.learner._points import Columns, count_points, reference_metrics, seeds
from spinexplore.space import ParameterSpace

__all__ = ["PhaseLearner", "describe", "reference_metrics"]


class PhaseLearner:
    """Points of a parameter space, their results, a surrogate and an acquisition strategy.

    Parameters
    ----------
    space : ParameterSpace
        The box to explore.
    seed : int, numpy.random.Generator or None
        Seeds the initial design, the candidate pools and the surrogate; ``None`` draws fresh
        entropy, recorded in :meth:`state`.
    strategy : str or callable, default "balanced"
        Acquisition strategy (``spinexplore.strategies``).
    surrogate : str, scikit-learn classifier, Surrogate or None
        Phase classifier between samples; ``None`` is the benchmarked default.
    phases : optional
        Phase labels declared up front (names, display names, colours, order, integer codes;
        see :class:`~spinexplore.labels.Vocabulary`). Labels not declared are added as results
        arrive.
    unknown_as_phase : bool, default False
        Learn UNKNOWN ("the simulation ran and could not decide") as a phase of its own. By
        default it is not a class: the surrogate does not learn it, and proposals sample
        around such points instead (something happens there).

    Notes
    -----
    Every point is a :class:`~spinexplore.results.PointRecord`. A point handed out by
    :meth:`ask` stays PENDING until :meth:`tell_index` (or :meth:`tell`) records its result, and
    every PENDING point is kept out of later proposals, so nothing is proposed twice.
    """

    def __init__(
        self,
        space: ParameterSpace,
        *,
        seed: int | np.random.Generator | None = None,
        strategy: str | Callable[..., Any] = "balanced",
        surrogate: Any = None,
        phases: Any = None,
        unknown_as_phase: bool = False,
    ) -> None:
        from spinexplore.strategies import check_strategy
        from spinexplore.surrogates import make_surrogate

        if not isinstance(space, ParameterSpace):
            raise TypeError(f"space must be a ParameterSpace; got {type(space).__name__}")
        self.space = space
        self.strategy = check_strategy(strategy)
        self.surrogate_spec = surrogate
        self.seed, self._rng, self._surrogate_seed = seeds(seed)
        self._surrogate = make_surrogate(surrogate, random_state=self._surrogate_seed)  # validates it
        self._fitted_on: int | None = None  # labelled points behind the installed fit
        self._label_version = 0  # results told so far: a promotion changes a label, not the count
        self._fitted_version: int | None = None
        self._records: list[PointRecord] = []
        self._dirty: set[int] = set()
        if not isinstance(unknown_as_phase, (bool, np.bool_)):
            raise TypeError(f"unknown_as_phase must be True or False; got {unknown_as_phase!r}")
        self.vocabulary = phases.copy() if isinstance(phases, Vocabulary) else Vocabulary(phases)
        self.unknown_as_phase = bool(unknown_as_phase)
        self._cols = Columns(space.n_dims, self.vocabulary, self.unknown_as_phase)
        self.iteration = 0
        self.n_completed_iterations = 0
        self.convergence = Convergence()  # history, reference labels, changed_since
        #: ``label_weights(indices) -> factors`` scales the training weights of labelled points
        #: (a fidelity ladder's :meth:`~spinexplore.promotion.PromotionPolicy.weight_factors`).
        self.label_weights: Callable[[np.ndarray], np.ndarray] | None = None

    # ------------------------------------------------------------------ read access
    @property
    def records(self) -> list[PointRecord]:
        """Every point, in index order (a copy of the list)."""
        return list(self._records)

    @property
    def n_points(self) -> int:
        return len(self._records)

    @property
    def n_labeled(self) -> int:
        """Finished points with a physical phase (what the surrogate learns from)."""
        return int(self._cols.labeled_mask().sum())

    def column(self, name: str) -> np.ndarray:
        """One value per point: ``status``, ``phase`` (label id, -1 without a label: pending,
        failed or timed out), ``confidence``, ``energy`` (NaN without a result) or ``iteration``."""
        return self._cols.values(name, self._records)

    def counts(self, by: str | None = None) -> dict[str, int]:
        """Number of points per status (``by="status"``) or per phase of the DONE points (``by="phase"``,
        as :meth:`phase_counts`: label names in the vocabulary's order).

        Without ``by``, both in one dict as in version 0.1 (``{"DONE": 38, "SKYRMION": 12, ...}``;
        a status and a phase can share a name, e.g. FAILED, so prefer ``by``).
        """
        if by not in (None, "status", "phase"):
            raise ValueError(f"by must be 'status', 'phase' or None; got {by!r}")
        if by == "phase":
            return self.phase_counts()
        return count_points(self._records, with_phases=by is None)

    def phase_counts(self) -> dict[str, int]:
        """Finished points per label name, in the vocabulary's order (UNKNOWN included)."""
        ph = self._cols.phase[: self._cols.n]
        ids, n = np.unique(ph[ph >= 0], return_counts=True)
        found = dict(zip(ids.tolist(), n.tolist()))
        return {self.vocabulary.name_of(i): int(found[i]) for i in sorted(found, key=self.vocabulary.order_key)}

    @property
    def n_finished(self) -> int:
        """Points with an outcome that is never recomputed (DONE, FAILED, TIMEOUT)."""
        return len(self._cols.where(*(s for s in PointStatus if s.is_finished)))

    def pending_indices(self) -> list[int]:
        return self._cols.where(PointStatus.PENDING, PointStatus.CANCELLED).tolist()

    def failed_indices(self) -> list[int]:
        return self._cols.where(PointStatus.FAILED, PointStatus.TIMEOUT).tolist()

    def unknown_indices(self) -> list[int]:
        """Points that ran and could not decide (UNKNOWN), when UNKNOWN is not learned."""
        return np.flatnonzero(self._cols.unknown_mask()).tolist()

    def unit_of(self, indices: Sequence[int]) -> np.ndarray:
        if not len(indices):
            return np.empty((0, self.space.n_dims))
        return self.space.to_unit(self.points(indices))

    def labeled(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Physical coordinates, phase labels and weights (confidences) of the labelled points."""
        mask = self._cols.labeled_mask()
        n = len(mask)
        return self._cols.X[:n][mask], self._cols.label[:n][mask], self._cols.weight[:n][mask]

    # ------------------------------------------------------------------ asking
    def _append(self, X: np.ndarray) -> list[int]:
        start = len(self._records)
        for k, row in enumerate(X):
            record = PointRecord(index=start + k, params=row, status=PointStatus.PENDING, iteration=self.iteration)
            self._records.append(record)
            self._cols.set(record)
            self._dirty.add(start + k)
        return list(range(start, start + len(X)))

    def add_points(self, points: Any) -> list[int]:
        """Queue user-chosen physical points (shape (n, n_dims)); return their indices.

        At most :data:`~spinexplore._validation.MAX_POINTS` points per exploration, and no more
        than the memory holds (about 5 kB a point): checked before any is added.
        """
        X = self.space.validate_points(points)
        check_new_points("points", len(X), self.n_points, call="add_points")
        return self._append(X)

    def add_initial_samples(self, n: int, method: str = "lhs") -> list[int]:
        """Queue a space-filling design of ``n`` points (``lhs``, ``sobol``, ``grid``, ``random``).

        ``n`` is checked before any work: at least 1, and at most what keeps the exploration
        within :data:`~spinexplore._validation.MAX_POINTS` (1,000,000) points and within the
        available memory (about 5 kB a point); ``InputError`` names the allowed range.
        """
        from spinexplore.samplers import SAMPLERS, sample

        n = check_new_points("n", n, self.n_points, call="add_initial_samples")
        check_choice("method", method, SAMPLERS)
        seed = int(self._rng.integers(2**63 - 1))
        return self._append(np.asarray(sample(self.space, n, method=method, seed=seed), dtype=float))

    def propose(self, n: int, strategy: str | Callable[..., Any] | None = None, *, refit: bool = True) -> list[int]:
        """Choose ``n`` new points with the strategy, queue them as pending, return their indices.

        Every pending point (in flight or queued) and every failed point is kept out of the
        batch. ``refit=False`` uses the surrogate as last installed (the asynchronous runner
        refits in the background); before any fit the strategy falls back to space filling.
        ``n`` is checked before any work, as for :meth:`add_initial_samples`.
        Points that ran and could not decide (UNKNOWN, when it is not learned) are
        informative: a quarter of the batch on average goes next to the least surrounded of
        them (``strategies.batch.around_undecided``), the rest to the strategy.
        """
        from spinexplore.strategies import check_strategy

        n = check_new_points("n", n, self.n_points, call="propose")
        strategy = self.strategy if strategy is None else check_strategy(strategy)
        surrogate = self.fit() if refit else (self._surrogate if self._fitted_on else None)
        X_lab, y, _ = self.labeled()
        done = self._cols.where(PointStatus.DONE, PointStatus.FAILED, PointStatus.TIMEOUT)
        U = next_batch(n, strategy, n_dims=self.space.n_dims, surrogate=surrogate,
                       X_labeled=self.space.to_unit(X_lab) if len(X_lab) else np.empty((0, self.space.n_dims)),
                       y=y, X_pending=self.unit_of(self.pending_indices()),
                       X_failed=self.unit_of(self.failed_indices() + self.unknown_indices()),
                       X_undecided=self.unit_of(self.unknown_indices()), X_done=self.unit_of(done), rng=self._rng)
        return self._append(self.space.from_unit(U))

    def ask(self, n: int, strategy: str | Callable[..., Any] | None = None) -> list[dict[str, float]]:
        """Propose ``n`` points and return them as parameter dicts (they stay pending)."""
        return self.space.to_dicts(self.points(self.propose(n, strategy)))

    def points(self, indices: Sequence[int]) -> np.ndarray:
        """Physical coordinates of the given points, shape (len(indices), n_dims)."""
        return self._cols.X[np.asarray(indices, dtype=int)].copy()

    # ------------------------------------------------------------------ telling
    def tell_index(self, index: int, result: SimulationResult, worker: str = "") -> PointRecord:
        """Record the result of point ``index`` (DONE, or FAILED / TIMEOUT for a failure); a new
        label joins the vocabulary."""
        status = result.status
        old = self._records[index]
        record = PointRecord(index=index, params=old.params, status=status, iteration=old.iteration,
                             result=result, worker=worker)
        self._records[index] = record
        self._cols.set(record)
        self._dirty.add(index)
        self._label_version += 1
        return record

    def cancel(self, indices: Sequence[int]) -> list[int]:
        """Mark the PENDING points among ``indices`` CANCELLED: their simulation was started and
        stopped by an interrupt. They stay in :meth:`pending_indices` and rerun on resume."""
        cancelled = []
        for i in indices:
            old = self._records[i]
            if old.status == PointStatus.PENDING:
                record = PointRecord(index=i, params=old.params, status=PointStatus.CANCELLED,
                                     iteration=old.iteration)
                self._records[i] = record
                self._cols.set(record)
                self._dirty.add(i)
                cancelled.append(i)
        return cancelled

    def retry(self, indices: Sequence[int]) -> list[int]:
        """Make the TIMEOUT points among ``indices`` PENDING again, their result dropped (a run
        with a larger timeout reruns them). Returns their indices."""
        retried = []
        for i in indices:
            old = self._records[i]
            if old.status == PointStatus.TIMEOUT:
                record = PointRecord(index=i, params=old.params, status=PointStatus.PENDING, iteration=old.iteration)
                self._records[i] = record
                self._cols.set(record)
                self._dirty.add(i)
                retried.append(i)
        return retried

    def tell(self, params: Mapping[str, float] | Sequence[float], result: Any) -> PointRecord:
        """Record a result computed elsewhere; a matching pending point is completed, else added.

        ``result`` is anything a simulation may return (see ``coerce_result``); what cannot be
        read as a result is recorded as FAILED with the reason.
        """
        x = self.space.to_point(params) if isinstance(params, Mapping) else np.asarray(params, float)
        x = self.space.validate_points(x)[0]
        match = [i for i in self.pending_indices()
                 if np.allclose(self._records[i].params, x, rtol=0, atol=1e-12)]
        index = match[0] if match else self._append(x.reshape(1, -1))[0]
        try:
            res = coerce_result(result, vocabulary=self.vocabulary)
        except (TypeError, ValueError) as exc:
            res = SimulationResult(phase=PhaseType.FAILED, confidence=0.0, error=str(exc))
        return self.tell_index(index, res, worker="tell")

    # ------------------------------------------------------------------ the surrogate
    def new_surrogate(self) -> Any:
        """An unfitted surrogate with this learner's settings (to fit off the main thread)."""
        from spinexplore.surrogates import make_surrogate

        if self.surrogate_spec is None or isinstance(self.surrogate_spec, str):
            return make_surrogate(self.surrogate_spec, random_state=self._surrogate_seed)
        try:
            from sklearn.base import clone

            return make_surrogate(clone(self.surrogate_spec), random_state=self._surrogate_seed)
        except Exception:  # not a scikit-learn estimator: a Surrogate object of the user's
            return copy.deepcopy(self._surrogate)

    def training_set(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(unit-cube points, labels, weights) of the labelled points: what a fit sees."""
        X, y, w = self.labeled()
        if self.label_weights is not None and len(w):
            w = w * self.label_weights(np.flatnonzero(self._cols.labeled_mask()))
        return (self.space.to_unit(X) if len(X) else X), y, w

    def install(self, surrogate: Any, n_fitted: int) -> None:
        """Use ``surrogate``, fitted on ``n_fitted`` labelled points, for proposals and predictions."""
        self._surrogate, self._fitted_on = surrogate, int(n_fitted)
        self._fitted_version = self._label_version if self._fitted_on == self.n_labeled else None

    @property
    def n_fitted(self) -> int:
        """Labelled points behind the installed surrogate (0 before any fit)."""
        return self._fitted_on or 0

    @property
    def stale(self) -> bool:
        """Whether labels arrived or changed (a promotion) since the installed surrogate's fit."""
        return self._fitted_on != self.n_labeled or self._fitted_version != self._label_version

    def fit(self, required: bool = False) -> Any:
        """Refit the surrogate if new labels arrived; return it (None before any label)."""
        n_labeled = self.n_labeled
        if n_labeled == 0:
            if required:
                raise NotFittedError(
                    "no finished point with a physical phase yet; run classify_pending_points() first")
            return None
        if self.stale:
            U, y, w = self.training_set()
            self._surrogate.fit(U, y, sample_weight=w)
            self._fitted_on, self._fitted_version = len(y), self._label_version
        return self._surrogate

    @property
    def classes_(self) -> np.ndarray:
        """Label ids of the probability columns of :meth:`predict` (``PhaseType`` values for
        built-in labels)."""
        return np.asarray(self.fit(required=True).classes_, dtype=int)

    @property
    def class_names(self) -> list[str]:
        """Names of the probability columns of :meth:`predict` (``"SKYRMION"``, ``"q0"``)."""
        return [self.vocabulary.name_of(c) for c in self.classes_]

    def predict(self, points: Any, *, names: bool = False) -> tuple[np.ndarray, Any]:
        """Predicted phases and probabilities at physical points.

        ``points``: array-like of shape (m, n_dims), one parameter dict, or a list of dicts.
        Returns ``(label ids, proba)`` (ids are ``PhaseType`` values for built-in labels;
        ``proba`` columns follow :attr:`classes_`), or with ``names=True`` ``(names, {name:
        probabilities})``: an array of label names and one probability array per label.
        """
        surrogate = self.fit(required=True)  # refits once if points arrived since the last fit
        if isinstance(points, Mapping):
            points = [points]
        if isinstance(points, (list, tuple)) and points and isinstance(points[0], Mapping):
            points = np.array([self.space.to_point(p) for p in points])
        X = self.space._as_matrix(points, "points")
        proba = np.asarray(surrogate.predict_proba(self.space.to_unit(X)))
        classes = np.asarray(surrogate.classes_, dtype=int)
        ids = classes[np.argmax(proba, axis=1)]
        if not names:
            return ids, proba
        label_names = [self.vocabulary.name_of(c) for c in classes]
        return (np.array([label_names[k] for k in np.argmax(proba, axis=1)], dtype=object),
                {name: proba[:, k].copy() for k, name in enumerate(label_names)})

    # ------------------------------------------------------------------ convergence
    def update_metrics(self, *, end_iteration: bool = False) -> dict[str, Any]:
        """Evaluate the installed surrogate on the reference set; record and return the entry.

        The batch schedule calls it once per round (``end_iteration=True``): "changed" is the
        share of the box whose predicted phase changed since the previous round.
        """
        return self.record_metrics(*reference_metrics(self._surrogate if self._fitted_on else None,
                                                      self.space.n_dims), end_iteration=end_iteration)

    def record_metrics(self, labels: np.ndarray | None, mean_uncertainty: float, *,
                       end_iteration: bool = False) -> dict[str, Any]:
        """Record the installed fit's reference labels (from :func:`reference_metrics`, which a
        background thread may compute) in this iteration's history entry; return the entry."""
        entry = self.convergence.record(self.iteration, self.counts(by="status"), mean_uncertainty, labels,
                                        self.n_fitted)
        if end_iteration:
            self.n_completed_iterations = self.iteration + 1
        return entry

    def changed_since(self, n_points: int) -> float:
        """Share of the box whose predicted phase changed over the last ``n_points`` labels
        (:meth:`Convergence.changed_since`)."""
        return self.convergence.changed_since(n_points)

    history = property(lambda self: self.convergence.history,
                       doc="One entry per iteration: counts, changed_fraction, mean_uncertainty.")

    # ------------------------------------------------------------------ persistence
    def pop_dirty(self) -> list[PointRecord]:
        """The points changed since the last call (to checkpoint), in index order."""
        dirty = sorted(self._dirty)
        self._dirty.difference_update(dirty)
        return [self._records[i] for i in dirty]

    def mark_dirty(self, records: Sequence[PointRecord]) -> None:
        """Put records back after a checkpoint that failed."""
        self._dirty.update(r.index for r in records)

    def state(self) -> dict[str, Any]:
        """Everything needed to continue exactly (JSON-friendly), for the store."""
        return {
            "seed": self.seed,
            "rng": self._rng.bit_generator.state,
            "rng_class": type(self._rng.bit_generator).__name__,
            "surrogate_seed": self._surrogate_seed,
            "iteration": self.iteration,
            "n_completed_iterations": self.n_completed_iterations,
            **self.convergence.state(),
            "vocabulary": self.vocabulary.to_json(),
            "unknown_as_phase": self.unknown_as_phase,
        }

    def restore(self, records: Sequence[PointRecord], state: Mapping[str, Any]) -> None:
        """Take the records and the :meth:`state` written by a checkpoint."""
        if state.get("rng") is not None:
            self._rng.bit_generator.state = state["rng"]
        if state.get("surrogate_seed") is not None:
            self._surrogate_seed = int(state["surrogate_seed"])
            self._surrogate, self._fitted_on = self.new_surrogate(), None
        if state.get("vocabulary") is not None:  # ids as stored; declared labels keep theirs
            self.vocabulary = Vocabulary.from_state(state).declare(self.vocabulary)
        if state.get("unknown_as_phase") is not None:
            self.unknown_as_phase = bool(state["unknown_as_phase"])
        self._records = list(records)
        self._cols = Columns(self.space.n_dims, self.vocabulary, self.unknown_as_phase)
        for record in self._records:
            self._cols.set(record)
        self.iteration = int(state.get("iteration", 0))
        self.n_completed_iterations = int(state.get("n_completed_iterations", 0))
        self.convergence.restore(state)
