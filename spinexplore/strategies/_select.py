"""Lazy batch selection over a proposal context: cost bounded by the batch, not the data.

Every candidate's distance to the labelled points the context was built on (``d_base``) is
an upper bound of its distance to everything known now (those points plus the ones labelled
since, the points in flight and the failed ones: the *delta*, a few hundred at most). The
selections below walk the candidates in the order of that bound and compute exact
distances chunk by chunk, stopping as soon as no unvisited candidate can beat what was
found: the result is the one the full computation would give, at a fraction of the cost.
"""

from __future__ import annotations

import heapq

import numpy as np
from scipy.spatial import cKDTree

from spinexplore.strategies._context import ProposalContext
from spinexplore.strategies.batch import MIN_SEPARATION

__all__ = ["Distances", "lazy_spread", "lazy_farthest", "fill_distance", "random_points"]

#: Candidates evaluated per step of the lazy walks.
CHUNK = 256
#: Below this many point pairs, nearest distances are computed by brute force.
BRUTE_PAIRS = 200_000


def _nearest(points: np.ndarray, others: np.ndarray, tree: cKDTree | None = None) -> np.ndarray:
    """Nearest distance from each of ``points`` to ``others`` (inf when none)."""
    if others.shape[0] == 0 or points.shape[0] == 0:
        return np.full(points.shape[0], np.inf)
    if tree is None and points.shape[0] * others.shape[0] <= BRUTE_PAIRS:
        d2 = ((points[:, None, :] - others[None, :, :]) ** 2).sum(axis=2)
        return np.sqrt(d2.min(axis=1))
    tree = cKDTree(others) if tree is None else tree
    return np.asarray(tree.query(points, k=1)[0], dtype=float)


class Distances:
    """Exact distances of candidates (or any points) to everything known, on demand.

    Parameters
    ----------
    ctx : ProposalContext
        Candidates and their distances to the context's points.
    delta : ndarray of shape (q, d)
        Known points the context does not cover (pending ones included).
    pending : ndarray of shape (p, d) or None
        The points in flight among them: they count as members of the batch, so a
        candidate must keep the batch spacing from them (:meth:`pending_of`).
    """

    def __init__(self, ctx: ProposalContext, delta: np.ndarray,
                 pending: np.ndarray | None = None) -> None:
        self.ctx = ctx
        self.delta = delta
        self.delta_tree = cKDTree(delta) if delta.shape[0] > 64 else None
        self._d = np.full(ctx.cand.shape[0], np.nan)
        self.pending = np.empty((0, ctx.n_dims)) if pending is None else pending
        self.pending_tree = cKDTree(self.pending) if self.pending.shape[0] > 64 else None

    def pending_of(self, idx: np.ndarray) -> np.ndarray:
        """Distance of candidates ``idx`` to the nearest point in flight (inf when none)."""
        return _nearest(self.ctx.cand[idx], self.pending, self.pending_tree)

    def of(self, idx: np.ndarray) -> np.ndarray:
        """Distance of candidates ``idx`` to the nearest known point."""
        todo = idx[np.isnan(self._d[idx])]
        if todo.size:
            d = self.ctx.d_base[todo]
            if self.delta.shape[0]:
                d = np.minimum(d, _nearest(self.ctx.cand[todo], self.delta, self.delta_tree))
            self._d[todo] = d
        return self._d[idx]

    def points(self, X: np.ndarray) -> np.ndarray:
        """Distance of arbitrary points ``X`` to the nearest known point."""
        d = (np.asarray(self.ctx.tree.query(X, k=1)[0], dtype=float) if self.ctx.tree is not None
             else np.full(X.shape[0], np.inf))
        if self.delta.shape[0]:
            d = np.minimum(d, _nearest(X, self.delta, self.delta_tree))
        return d


def _by_bound(members: np.ndarray, ub: np.ndarray):
    """Chunks of ``members`` by decreasing ``ub``, each with the largest ``ub`` after it.

    Only the head of the order is sorted at first (the rest is rarely needed); the last
    chunk comes with ``-inf``.
    """
    head = min(members.size, 4 * CHUNK)
    if head < members.size:
        part = np.argpartition(-ub, head - 1)
        segments = [part[:head], part[head:]]
    else:
        segments = [np.arange(members.size)]
    for k, seg in enumerate(segments):
        seg = seg[np.argsort(-ub[seg], kind="stable")]
        after = float(ub[segments[k + 1]].max()) if k + 1 < len(segments) else -np.inf
        for pos in range(0, seg.size, CHUNK):
            nxt = float(ub[seg[pos + CHUNK]]) if pos + CHUNK < seg.size else after
            yield members[seg[pos:pos + CHUNK]], nxt


def lazy_spread(dist: Distances, members: np.ndarray, u: np.ndarray, h: float, n: int,
                r_known: float, r_batch: float, picked: list[np.ndarray]) -> list[int]:
    """Up to ``n`` candidates by decreasing ``u + 0.05 min(d / h, 1)``, spread out.

    ``members``: candidate indices eligible; ``u``: their base score (aligned with the
    context's candidates). A candidate closer than ``r_known`` to a known point, or than
    ``r_batch`` to a point of ``picked`` (extended in place) or to a point in flight, is
    skipped. Same result as sorting every candidate by its exact score, but the exact
    score is computed only for candidates whose upper bound (with ``d_base`` for ``d``) can
    still win.
    """
    ctx = dist.ctx
    if members.size == 0 or n <= 0:
        return []
    ub = u[members] + 0.05 * np.minimum(ctx.d_base[members] / h, 1.0)
    r_known = max(r_known, MIN_SEPARATION)
    r2 = max(r_batch, MIN_SEPARATION) ** 2
    heap: list[tuple[float, int]] = []
    taken: list[int] = []
    chunks = _by_bound(members, ub)
    bound = np.inf
    while len(taken) < n and (bound > -np.inf or heap):
        if bound > -np.inf:
            chunk, bound = next(chunks)
            d = dist.of(chunk)
            score = u[chunk] + 0.05 * np.minimum(d / h, 1.0)
            ok = d >= r_known
            if dist.pending.shape[0] and ok.any():  # points in flight belong to the batch
                ok[ok] = dist.pending_of(chunk[ok]) >= np.sqrt(r2)
            for c, s in zip(chunk[ok].tolist(), score[ok].tolist()):
                heapq.heappush(heap, (-s, c))
        while heap and -heap[0][0] > bound and len(taken) < n:
            _, c = heapq.heappop(heap)
            x = ctx.cand[c]
            if picked and np.min(np.sum((np.asarray(picked) - x) ** 2, axis=1)) < r2:
                continue
            taken.append(c)
            picked.append(x)
    return taken


def _farthest_one(dist: Distances, picked: list[np.ndarray], r_min: float) -> int | None:
    """The pool candidate farthest from every known and picked point (None below ``r_min``)."""
    ctx = dist.ctx
    order = ctx.far_order
    best, best_d = None, -np.inf
    P = np.asarray(picked) if picked else None
    for pos in range(0, order.size, CHUNK):
        chunk = order[pos:pos + CHUNK]
        if ctx.d_base[chunk[0]] <= best_d:
            break
        d = dist.of(chunk)
        if P is not None:
            d = np.minimum(d, _nearest(ctx.cand[chunk], P))
        j = int(np.argmax(d))
        if d[j] > best_d or best is None:
            best, best_d = int(chunk[j]), float(d[j])
    if best is None:
        return None
    if np.isinf(best_d):  # an empty cube: any candidate will do
        return best
    return best if best_d >= max(r_min, MIN_SEPARATION) else None


def lazy_farthest(dist: Distances, n: int, picked: list[np.ndarray],
                  r_min: float = MIN_SEPARATION) -> list[int]:
    """Greedy maximin over the pool: up to ``n`` candidates, each farthest from all so far."""
    taken: list[int] = []
    for _ in range(n):
        c = _farthest_one(dist, picked, r_min)
        if c is None:
            break
        taken.append(c)
        picked.append(dist.ctx.cand[c])
    return taken


def fill_distance(dist: Distances) -> float:
    """The largest distance from a pool candidate to the nearest known point."""
    ctx = dist.ctx
    best = -np.inf
    for pos in range(0, ctx.far_order.size, CHUNK):
        chunk = ctx.far_order[pos:pos + CHUNK]
        if ctx.d_base[chunk[0]] <= best:
            break
        best = max(best, float(np.max(dist.of(chunk))))
    return best


def random_points(dist: Distances, n: int, picked: list[np.ndarray],
                  rng: np.random.Generator) -> list[np.ndarray]:
    """Uniform points of the cube, none within ``MIN_SEPARATION`` of a known or picked point."""
    out: list[np.ndarray] = []
    d = dist.ctx.n_dims
    while len(out) < n:
        x = rng.random((n - len(out), d))
        far = dist.points(x) >= MIN_SEPARATION
        for row in x[far]:
            if picked and np.min(np.linalg.norm(np.asarray(picked) - row, axis=1)) \
                    < MIN_SEPARATION:
                continue
            out.append(row)
            picked.append(row)
    return out
