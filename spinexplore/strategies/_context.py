"""What ``select_batch`` reuses between calls: a proposal context per fitted surrogate.

Building the candidate set of a proposal is the costly part: a KD-tree of the labelled
points, the discordant neighbour pairs (boundary candidates), the surrogate's
probabilities on every candidate, and every candidate's distance to the labelled points.
None of it depends on the points in flight, so for one fitted surrogate it is built once
(:func:`prepare`, or the first :func:`select_batch` call after the fit) and reused; each call
then only accounts for what changed since the fit (points labelled since, points in flight,
failed points), whose number is bounded by the number of workers.

A context is cached only for surrogates that remember their training set (attributes
``fit_id_``, ``X_seen_`` and ``y_seen_``, as :class:`~spinexplore.surrogates.SklearnSurrogate`
has): the context is then a function of the surrogate alone, so a proposal is the same
whichever call built it. For other surrogates it is built from the call's arguments at
every call (correct and bounded, only slower).
"""

from __future__ import annotations

import threading
import weakref
import zlib
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from spinexplore.results import PhaseType
from spinexplore.strategies.batch import MIN_SEPARATION, local_candidates, sobol_pool
from spinexplore.strategies.uncertainty import UNCERTAINTY_MEASURES

__all__ = ["ProposalContext", "prepare", "cached_context", "install_context", "context_for",
           "IGNORED_LABELS"]

#: Labels that carry no phase (the points are avoided, not learned from).
IGNORED_LABELS = (int(PhaseType.FAILED), int(PhaseType.TIMEOUT))
#: At most this many labelled points look for differently labelled neighbours per context.
MAX_PAIR_QUERIES = 16384
#: Beyond this many unmatched rows, the labelled points are matched to the context by tree.
MAX_MERGE_ROWS = 4096

_LOCK = threading.Lock()
_CACHE: weakref.WeakKeyDictionary[Any, ProposalContext] = weakref.WeakKeyDictionary()


def _seed(X: np.ndarray, y: np.ndarray) -> int:
    """A reproducible seed from the data (same points and labels, same candidates)."""
    crc = zlib.crc32(np.ascontiguousarray(X, dtype=float).tobytes())
    codes = y if y.dtype.kind in "biu" else np.unique(y, return_inverse=True)[1]
    return int(zlib.crc32(np.ascontiguousarray(codes, dtype=np.int64).tobytes(), crc))


def split_failed(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(X_phase, y_phase, X_failed)``: rows labelled FAILED / TIMEOUT split off."""
    if y.dtype.kind in "iu" and y.size:
        bad = (y == IGNORED_LABELS[0]) | (y == IGNORED_LABELS[1])
        if bad.any():
            return X[~bad], y[~bad], X[bad]
    return X, y, X[:0]


class ProposalContext:
    """Candidates, their probabilities and distances for one fitted surrogate and data set.

    Parameters
    ----------
    surrogate : Surrogate or None
        The fitted surrogate (None or fewer than two phases: no probabilities).
    X : ndarray of shape (m, d)
        The labelled points it was fitted on (phase labels only), in order.
    y : ndarray of shape (m,)
        Their labels.
    X_other : ndarray of shape (f, d)
        Further known points to keep away from (failed points seen in the fit).
    n_dims : int
        Dimension of the unit cube.
    """

    def __init__(self, surrogate: Any, X: np.ndarray, y: np.ndarray, X_other: np.ndarray,
                 n_dims: int) -> None:
        self.n_dims = n_dims
        self.X_lab = X
        base = np.vstack([X, X_other]) if X_other.shape[0] else X
        self.n_base = base.shape[0]
        self.tree = cKDTree(base) if base.shape[0] else None
        rng = np.random.default_rng(_seed(base, y))
        pool = sobol_pool(n_dims, rng)
        self.n_pool = pool.shape[0]
        self.proba = _predict(surrogate, pool)
        if self.proba is not None and X.shape[0]:
            tree = cKDTree(X) if X_other.shape[0] else self.tree
            local, self.lengths = local_candidates(X, y, rng, tree=tree,
                                                   max_queries=MAX_PAIR_QUERIES)
        else:
            local, self.lengths = np.empty((0, n_dims)), np.empty(0)
        if local.shape[0] and self.proba is not None:
            p_local = _predict(surrogate, local)
            if p_local is None:
                local, self.lengths = local[:0], self.lengths[:0]
            else:
                self.proba = np.vstack([self.proba, p_local])
        self.cand = np.vstack([pool, local]) if local.shape[0] else pool
        self.d_base = (self.tree.query(self.cand, k=1)[0] if self.tree is not None
                       else np.full(self.cand.shape[0], np.inf))
        #: pool candidates by decreasing distance to the labelled points (for maximin)
        self.far_order = np.argsort(-self.d_base[: self.n_pool], kind="stable")
        self._measures: dict[str, np.ndarray] = {}
        self.token: Any = None

    def measure(self, name: str) -> np.ndarray:
        """An uncertainty measure of every candidate (cached)."""
        if name not in self._measures:
            self._measures[name] = UNCERTAINTY_MEASURES[name](self.proba)
        return self._measures[name]

    def new_labelled(self, X_lab: np.ndarray) -> np.ndarray:
        """Rows of ``X_lab`` that the context does not cover (labelled since it was built).

        Fast when ``X_lab`` holds the context's points in the same order with new rows
        inserted (appended, or inserted near the end as points finish out of order): one
        vectorised comparison and a merge of the rows after the first difference.
        Otherwise the rows are matched to the context's points through the KD-tree.
        """
        ref = self.X_lab
        nb = ref.shape[0]
        if nb == 0:
            return X_lab
        m = X_lab.shape[0]
        head = min(nb, m)
        neq = (X_lab[:head] != ref[:head]).ravel()
        p = int(np.argmax(neq)) // self.n_dims if neq.any() else head
        if p == nb:
            return X_lab[nb:]
        if m - p <= MAX_MERGE_ROWS and m >= nb:
            rows, want = X_lab[p:].tolist(), ref[p:].tolist()
            new, j = [], 0
            for i, row in enumerate(rows):
                if j < len(want) and row == want[j]:
                    j += 1
                else:
                    new.append(p + i)
            if j == len(want):
                return X_lab[new]
        d, _ = self.tree.query(X_lab, k=1, distance_upper_bound=MIN_SEPARATION * 1e-3)
        return X_lab[~(d == 0.0)]


def _predict(surrogate: Any, X: np.ndarray) -> np.ndarray | None:
    if surrogate is None or X.shape[0] == 0:
        return None
    classes = getattr(surrogate, "classes_", None)
    if classes is None or len(classes) < 2:
        return None
    proba = np.asarray(surrogate.predict_proba(X), dtype=float)
    if proba.ndim != 2 or proba.shape[0] != X.shape[0] or proba.shape[1] < 2:
        return None
    return proba


def _seen(surrogate: Any, n_dims: int) -> tuple[Any, np.ndarray, np.ndarray] | None:
    """``(token, X, y)`` of a surrogate that remembers its training set, else None."""
    token = getattr(surrogate, "fit_id_", None)
    X = getattr(surrogate, "X_seen_", None)
    y = getattr(surrogate, "y_seen_", None)
    if token is None or X is None or y is None:
        return None
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != n_dims:
        return None
    return token, X, np.asarray(y)


def is_cacheable(surrogate: Any, n_dims: int) -> bool:
    """Whether proposals with ``surrogate`` reuse a context (it remembers its training set)."""
    return surrogate is not None and _seen(surrogate, n_dims) is not None


def context_for(surrogate: Any, n_dims: int, X_lab: np.ndarray,
                y: np.ndarray) -> ProposalContext:
    """The cached context of ``surrogate`` (built now if missing), or one from the arguments.

    ``X_lab``/``y``: the call's labelled points with phase labels, used only when the
    surrogate does not remember its training set.
    """
    seen = _seen(surrogate, n_dims) if surrogate is not None else None
    if seen is None:
        return ProposalContext(surrogate, X_lab, y, X_lab[:0], n_dims)
    token = seen[0]
    try:
        with _LOCK:
            ctx = _CACHE.get(surrogate)
    except TypeError:  # unhashable or not weakly referenceable: no cache
        ctx = None
    if ctx is not None and ctx.token == token:
        return ctx
    Xs, ys, Xf = split_failed(seen[1], seen[2])
    ctx = ProposalContext(surrogate, Xs, ys, Xf, n_dims)
    ctx.token = token
    try:
        with _LOCK:
            _CACHE[surrogate] = ctx
    except TypeError:
        pass
    return ctx


def prepare(surrogate: Any) -> bool:
    """Build the proposal context of a freshly fitted surrogate now (e.g. in a background thread).

    :func:`~spinexplore.strategies.select_batch` builds it at its first call with a newly
    fitted surrogate; calling ``prepare`` right after ``fit``, in the thread that fitted,
    takes that cost (tens to a few hundred milliseconds at 10^5 points) off the first
    proposal. Safe to call from another thread than the one proposing with an *other*
    surrogate instance.

    Parameters
    ----------
    surrogate : Surrogate
        A fitted surrogate.

    Returns
    -------
    bool
        True when a context was built and cached; False for a surrogate that does not
        remember its training set (``fit_id_``, ``X_seen_``, ``y_seen_``), whose
        proposals build what they need at every call.
    """
    X = getattr(surrogate, "X_seen_", None)
    if X is None or _seen(surrogate, np.asarray(X).shape[-1]) is None:
        return False
    n_dims = int(np.asarray(X).shape[1])
    context_for(surrogate, n_dims, np.empty((0, n_dims)), np.empty(0, int))
    return True


def cached_context(surrogate: Any) -> ProposalContext | None:
    """The proposal context cached for this fitted surrogate, or None.

    With :func:`install_context`, this lets a context built where the surrogate was
    fitted (another process) travel with it: both pickle.
    """
    token = getattr(surrogate, "fit_id_", None)
    try:
        with _LOCK:
            ctx = _CACHE.get(surrogate)
    except TypeError:
        return None
    return ctx if ctx is not None and token is not None and ctx.token == token else None


def install_context(surrogate: Any, context: ProposalContext | None) -> bool:
    """Cache ``context`` (from :func:`cached_context`, e.g. in another process) for ``surrogate``.

    Returns False, and caches nothing, unless ``context`` was built for this very fit of
    this surrogate (same ``fit_id_``); then proposals with ``surrogate`` use it at once.
    """
    token = getattr(surrogate, "fit_id_", None)
    if not isinstance(context, ProposalContext) or token is None or context.token != token:
        return False
    try:
        with _LOCK:
            _CACHE[surrogate] = context
    except TypeError:
        return False
    return True
