"""Which point to re-simulate at a higher rung of a fidelity ladder, and when to stop paying for it.

:class:`PromotionPolicy` watches every finished result (:meth:`~PromotionPolicy.observe`) and,
when the runner has a free worker (:meth:`~PromotionPolicy.next_promotion`) or plans a round
(:meth:`~PromotionPolicy.plan_round`), says whether the next simulation should re-run an
already labelled point at the next rung instead of a new point at the cheapest rung.

The method (``docs/architecture.md``, "Fidelities"):

* **Cost** of each rung: the mean simulation time of its finished results (learned, never given).
* **Disagreement** between rung ``r`` and ``r + 1``: every promoted point whose two labels are
  physical is a pair; ``p_r = (d + 1/2) / (n + 1)`` (``d`` of the ``n`` pairs disagree). Near a
  point with cheap label ``l`` the estimate is kernel-weighted over the pairs whose cheap label is
  also ``l`` (Gaussian, width ``bandwidth`` in the unit cube) and shrunk towards ``p_r``
  (:meth:`~PromotionPolicy.local_disagreement`): the cheap rung is trusted where it agreed and
  distrusted where the same cheap label was wrong before (the easy-plane corner of the square
  box), while the other side of that boundary keeps its trust.
* **Value** of promoting point ``i``: ``p_i x (1/4 + 3/4 u_i)`` with ``u_i`` its uncertainty
  (the larger of ``1 - confidence`` and the installed surrogate's ``1 - (p_first - p_second)``
  there), so promotions go first to points near a predicted boundary where the cheap rung is
  likely wrong. The first ``calibration`` promotions of a rung go to the most uncertain points,
  once ``start_after`` points are labelled (before that, "uncertain" means "far from any sample").
* **When**: the share of simulation time spent above rung 0 may reach
  ``min(max_share, gain x p_r)``; a free worker runs the best promotion while the share (in-flight
  promotions counted at their learned cost) stays below it, a new cheap point otherwise.
* **Calibration, paid as it goes**: until a rung has ``calibration`` pairs or a first
  disagreement, its promotions may only take ``calibration_share`` of the simulation time, so
  learning that the rungs agree (the triangular box) costs a bounded share of the run, not its
  first seconds; the first disagreement ends the calibration at once (the square box), and the
  share becomes ``min(max_share, gain x p_r)``.
* **Stop**: once ``calibration`` pairs exist and ``p_r < min_disagreement``, promotions from rung
  ``r`` stop (as on the triangular box, where the rungs agree). One *probe* promotion is made each
  time the number of labelled points has grown ``probe_factor``-fold since the last one, so a
  disagreement that only shows up later is still noticed, at a logarithmic cost.
* **Settled**: once the predicted diagram has settled (the runner says so: it changed on at most
  ``settle_tol`` of the box over the last ``settle_window`` labels), a new cheap point teaches
  little, so a stopped rung is promoted again while ``p_r >= min_disagreement / 4``, within a
  share ``min(max_share, 2 gain p_r)``: on the square box the cheap diagram stops improving at
  ``screening``'s own accuracy and only promotions can go beyond it; where the rungs agree each
  agreeing pair lowers ``p_r`` until it stops for good.

The surrogate learns from each point's best label; a label of rung ``r`` below the top weighs
``max(min_weight, 1 - q_i)**2`` times its confidence, ``q_i`` the local disagreement there
(:meth:`~PromotionPolicy.weight_factors`): cheap labels next to a cheap label that the costly rung
overturned barely pull, so the costly label moves the predicted boundary.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from spinexplore._validation import check_int, check_real
from spinexplore._rungs import best_of, decided, rung_results
from spinexplore.results import PointRecord, PointStatus

__all__ = ["PromotionPolicy"]


class PromotionPolicy:
    """Decides promotions for a ladder of ``n_rungs`` simulations (see the module docstring).

    Parameters
    ----------
    n_rungs : int
        Rungs of the ladder (>= 2).
    calibration : int, default 4
        Promotions of each rung made before its disagreement rate may stop them.
    min_disagreement : float, default 0.15
        Promotions from a rung stop while its disagreement estimate is below this.
    max_share : float, default 0.6
        Largest share of the simulation time spent on promotions.
    calibration_share : float, default 0.2
        Largest share of the simulation time spent on a rung's promotions while it calibrates
        (fewer than ``calibration`` pairs, none of them disagreeing).
    min_weight : float, default 0.1
        Floor of ``1 - q`` in the training weight of a cheap label (see the module docstring).
    settle_window : int, default 100
        Labels over which the runner measures whether the predicted diagram has settled.
    settle_tol : float, default 0.05
        Share of the box that may still change over ``settle_window`` labels for "settled".
    gain : float, default 2.0
        The share is ``min(max_share, gain x disagreement)``.
    bandwidth : float, default 0.1
        Width of the local disagreement kernel, in the unit cube.
    probe_factor : float, default 4.0
        A stopped rung is probed again when the labelled points grew this many times.
    start_after : int, default 50
        Labelled points before the first promotion: until the cheap rung has drawn a first
        diagram, "uncertain" means "far from any sample", not "near a boundary".
    """

    def __init__(self, n_rungs: int, *, calibration: int = 4, min_disagreement: float = 0.15,
                 max_share: float = 0.6, gain: float = 2.0, bandwidth: float = 0.1,
                 probe_factor: float = 4.0, start_after: int = 50, calibration_share: float = 0.2,
                 min_weight: float = 0.1, settle_window: int = 100, settle_tol: float = 0.05) -> None:
        self.n_rungs = check_int("n_rungs", n_rungs, minimum=2)
        self.calibration = check_int("calibration", calibration, minimum=0)
        self.min_disagreement = check_real("min_disagreement", min_disagreement, minimum=0.0, maximum=1.0)
        self.max_share = check_real("max_share", max_share, minimum=0.0, maximum=0.99)
        self.gain = check_real("gain", gain, minimum=0.0)
        self.bandwidth = check_real("bandwidth", bandwidth, minimum=0.0, strict_min=True)
        self.probe_factor = check_real("probe_factor", probe_factor, minimum=1.0, strict_min=True)
        self.start_after = check_int("start_after", start_after, minimum=0)
        self.calibration_share = check_real("calibration_share", calibration_share, minimum=0.0, maximum=0.99)
        self.min_weight = check_real("min_weight", min_weight, minimum=0.0, maximum=1.0)
        self.settle_window = check_int("settle_window", settle_window, minimum=1)
        self.settle_tol = check_real("settle_tol", settle_tol, minimum=0.0, maximum=1.0)
        self._entries: dict[int, dict[int, Any]] = {}  # index -> {rung: RungResult}, finished points
        self._unit: dict[int, np.ndarray] = {}
        self._status: dict[int, PointStatus] = {}
        self._confidence: dict[int, float] = {}
        self._pairs: list[dict[int, float]] = [{} for _ in range(n_rungs - 1)]  # rung -> {index: flag}
        self._pair_label: list[dict[int, Any]] = [{} for _ in range(n_rungs - 1)]  # rung -> {index: cheap label}
        self._probe_at = [0] * n_rungs  # labelled points at the last promotion of each rung
        self.n_probes = 0

    # ------------------------------------------------------------------ what it has seen
    def observe(self, record: PointRecord, unit: np.ndarray) -> None:
        """Take one (new or changed) record; ``unit`` is its point in the unit cube."""
        i = record.index
        for pairs, labels in zip(self._pairs, self._pair_label):
            pairs.pop(i, None)
            labels.pop(i, None)
        if record.result is None:
            self._entries.pop(i, None)
            self._status.pop(i, None)
            return
        entries = self._entries[i] = rung_results(record.result)
        self._unit[i] = np.asarray(unit, dtype=float)
        self._status[i] = record.status
        self._confidence[i] = float(record.result.confidence)
        for r, pairs in enumerate(self._pairs):
            lo, hi = entries.get(r), entries.get(r + 1)
            if lo is not None and hi is not None and decided(lo.phase) and decided(hi.phase):  # UNKNOWN: no verdict
                pairs[i] = float(lo.phase != hi.phase)
                self._pair_label[r][i] = lo.phase

    def rebuild(self, records: Sequence[PointRecord], units: np.ndarray) -> None:
        """Take every record (a restored learner)."""
        for record, u in zip(records, units):
            self.observe(record, u)
        n_lab = self.n_labeled
        for r in range(self.n_rungs - 1):
            if self._pairs[r]:
                self._probe_at[r] = n_lab

    @property
    def n_labeled(self) -> int:
        return sum(1 for i, s in self._status.items() if s == PointStatus.DONE)

    def best_rung(self, index: int) -> int:
        """The rung of a point's best result (as ``merge_result`` picks it), 0 when it has none yet."""
        return best_of(self._entries.get(index) or {})

    def cost(self, rung: int) -> float:
        """Mean simulation time of rung ``rung`` (learned); before any result of it, ten times the
        rung below (or 1 s for rung 0)."""
        costs = [e[rung].cost for e in self._entries.values() if rung in e and e[rung].cost > 0]
        if costs:
            return float(np.mean(costs))
        return 1.0 if rung == 0 else 10.0 * self.cost(rung - 1)

    def time_per_rung(self) -> list[float]:
        """Summed simulation time of the finished results of each rung."""
        out = [0.0] * self.n_rungs
        for entries in self._entries.values():
            for k, e in entries.items():
                if k < self.n_rungs:
                    out[k] += e.cost
        return out

    def pairs(self, rung: int) -> tuple[np.ndarray, np.ndarray]:
        """Unit points and disagreement flags (1: the labels of ``rung`` and ``rung + 1`` differ)."""
        pairs = self._pairs[rung]
        if not pairs:
            return np.empty((0, 0)), np.empty(0)
        return np.asarray([self._unit[i] for i in pairs]), np.fromiter(pairs.values(), float, len(pairs))

    def disagreement(self, rung: int) -> float:
        """``(d + 1/2) / (n + 1)``: the estimated share of points whose label changes from
        ``rung`` to ``rung + 1`` (1/2 before any pair)."""
        d = self._pairs[rung].values()
        return float((sum(d) + 0.5) / (len(d) + 1))

    def calibrating(self, rung: int) -> bool:
        """Fewer than ``calibration`` pairs, none of them disagreeing: the rate is still unknown."""
        return len(self._pairs[rung]) < self.calibration and not any(self._pairs[rung].values())

    def active(self, rung: int) -> bool:
        """Whether promotions from ``rung`` are paid for now (calibrating, or disagreeing)."""
        return self.calibrating(rung) or self.disagreement(rung) >= self.min_disagreement

    def share(self, rung: int, settled: bool = False) -> float:
        """Largest share of simulation time promotions from ``rung`` may take (``settled``: the
        predicted diagram no longer changes with new cheap points)."""
        if self.calibrating(rung):
            return self.calibration_share
        return min(self.max_share, (2.0 if settled else 1.0) * self.gain * self.disagreement(rung))

    def settled_active(self, rung: int) -> bool:
        """Whether a settled diagram still pays promotions from ``rung`` (``p_r >= min_disagreement / 4``)."""
        return not self.calibrating(rung) and self.disagreement(rung) >= self.min_disagreement / 4

    def local_disagreement(self, rung: int, indices: np.ndarray) -> np.ndarray:
        """Estimated chance that the label of ``rung`` at each point changes at ``rung + 1``: the
        kernel-weighted disagreement of the pairs with the same cheap label, shrunk towards
        :meth:`disagreement` with the weight of one pair."""
        indices = np.asarray(indices, dtype=int)
        p0 = self.disagreement(rung)
        if not len(indices):
            return np.empty(0)
        pairs = self._pairs[rung]
        if not pairs:
            return np.full(len(indices), p0)
        idx = list(pairs)
        Xp = np.asarray([self._unit[i] for i in idx])
        d = np.fromiter((pairs[i] for i in idx), float, len(idx))
        codes: dict[Any, int] = {}  # labels (a PhaseType or a user's Label) -> small ints
        lp = np.array([codes.setdefault(self._pair_label[rung][i], len(codes)) for i in idx])
        U = np.asarray([self._unit[int(i)] for i in indices])
        own = np.array([codes.get(self._entries[int(i)][rung].phase, -1) if rung in self._entries.get(int(i), {})
                        else -1 for i in indices])
        d2 = ((U[:, None, :] - Xp[None, :, :]) ** 2).sum(axis=2)
        k = np.exp(-0.5 * d2 / self.bandwidth**2) * (own[:, None] == lp[None, :])
        return (k @ d + p0) / (k.sum(axis=1) + 1.0)

    def weight_factors(self, indices: np.ndarray) -> np.ndarray:
        """Training-weight factors of labelled points: 1 at the top rung, ``max(min_weight,
        1 - q)**2`` for a label of rung ``r`` below it, ``q`` its :meth:`local_disagreement`."""
        indices = np.asarray(indices, dtype=int)
        top = self.n_rungs - 1
        rungs = np.array([self.best_rung(int(i)) for i in indices], dtype=int)
        out = np.ones(len(indices))
        for r in range(top):
            sel = rungs == r
            if sel.any():
                q = self.local_disagreement(r, indices[sel])
                out[sel] = np.maximum(self.min_weight, 1.0 - q) ** 2
        return out

    def summary(self) -> dict[str, Any]:
        """Per rung: points, simulation time, mean cost, disagreement with the next rung, active."""
        times = self.time_per_rung()
        out = []
        for r in range(self.n_rungs):
            row = {"rung": r, "n_points": sum(1 for e in self._entries.values() if r in e),
                   "simulation_time": times[r], "cost": self.cost(r)}
            if r < self.n_rungs - 1:
                row.update(n_pairs=int(self.pairs(r)[1].size), disagreement=self.disagreement(r),
                           active=self.active(r))
            out.append(row)
        return {"rungs": out, "n_probes": self.n_probes}

    # ------------------------------------------------------------------ decisions
    def candidates(self, rung: int, in_flight: Mapping[int, int]) -> np.ndarray:
        """Points whose best result is at ``rung`` and that never ran above it (nor run now)."""
        out = [i for i, entries in self._entries.items()
               if self._status.get(i) == PointStatus.DONE and i not in in_flight
               and max(entries) == rung and self.best_rung(i) == rung]
        return np.asarray(sorted(out), dtype=int)

    def scores(self, rung: int, indices: np.ndarray, surrogate: Any) -> np.ndarray:
        """Value of promoting each point (higher first); see the module docstring."""
        if not len(indices):
            return np.empty(0)
        U = np.asarray([self._unit[int(i)] for i in indices])
        u = np.array([1.0 - self._confidence.get(int(i), 1.0) for i in indices])
        if surrogate is not None:
            try:
                proba = np.sort(np.asarray(surrogate.predict_proba(U)), axis=1)
                margin = proba[:, -1] - (proba[:, -2] if proba.shape[1] > 1 else 0.0)
                u = np.maximum(u, 1.0 - margin)
            except Exception:  # a surrogate that cannot predict here: confidence only
                pass
        u = np.clip(u, 0.0, 1.0)
        if self.calibrating(rung):
            return u + 1e-9 * (1.0 - U.sum(axis=1) / U.shape[1])  # most uncertain first, ties stable
        return self.local_disagreement(rung, indices) * (0.25 + 0.75 * u)

    def _allowed(self, rung: int, promo_time: float, total_time: float, settled: bool = False) -> bool:
        c = self.cost(rung + 1)
        return promo_time + c <= self.share(rung, settled) * (total_time + c)

    def _probe_due(self, rung: int) -> bool:
        return self.n_labeled >= self.probe_factor * max(1, self._probe_at[rung])

    def next_promotion(self, surrogate: Any, in_flight: Mapping[int, int], n_cheap_in_flight: int = 0,
                       *, budget_left: bool = True, changed: float = float("nan")) -> tuple[int, int] | None:
        """The ``(index, rung)`` to run on a free worker, or None for a new cheap point.

        ``in_flight`` maps the points being promoted to their rung; ``n_cheap_in_flight`` new
        points run at rung 0. ``budget_left=False`` (no new point may be handed out) still
        allows a promotion within the share. ``changed``: the share of the box whose predicted
        phase changed over the last ``settle_window`` labels (NaN: unknown), see "Settled".
        """
        settled = bool(changed <= self.settle_tol)  # False for NaN
        if self.n_labeled < self.start_after:
            return None
        times = self.time_per_rung()
        promo = sum(times[1:]) + sum(self.cost(r) for r in in_flight.values())
        total = sum(times) + sum(self.cost(r) for r in in_flight.values()) + n_cheap_in_flight * self.cost(0)
        for rung in range(self.n_rungs - 2, -1, -1):  # the top rung's feeders first
            probing = False
            n_pairs = len(self._pairs[rung])
            if self.calibrating(rung) and n_pairs + sum(r == rung + 1 for r in in_flight.values()) >= self.calibration:
                continue  # the calibration promotions are running: wait for their labels
            if not self.active(rung):
                if settled and self.settled_active(rung):
                    if not self._allowed(rung, promo, total, settled):
                        continue
                elif not budget_left or not self._probe_due(rung):
                    continue
                else:
                    probing = True
            elif not self._allowed(rung, promo, total, settled):
                continue
            cand = self.candidates(rung, in_flight)
            if not len(cand):
                continue
            s = self.scores(rung, cand, surrogate)
            if in_flight:  # spread what runs at once: damp the neighbourhood of running promotions
                U = np.asarray([self._unit[int(i)] for i in cand])
                R = np.asarray([self._unit[int(i)] for i in in_flight if int(i) in self._unit]).reshape(-1, U.shape[1])
                d2 = ((U[:, None, :] - R[None, :, :]) ** 2).sum(axis=2).min(axis=1) if len(R) else np.inf
                s = s * (1.0 - np.exp(-0.5 * d2 / self.bandwidth**2))
            index = int(cand[int(np.argmax(s))])
            self._probe_at[rung] = self.n_labeled
            if probing:
                self.n_probes += 1
            return index, rung + 1
        return None

    def plan_round(self, surrogate: Any, n_new: int, changed: float = float("nan")) -> list[tuple[int, int]]:
        """Promotions to run with a round of ``n_new`` new cheap points (the batch schedule)."""
        chosen: dict[int, int] = {}
        while True:
            nxt = self.next_promotion(surrogate, chosen, n_cheap_in_flight=n_new, budget_left=n_new > 0,
                                      changed=changed)
            if nxt is None:
                return list(chosen.items())
            chosen[nxt[0]] = nxt[1]
            if len(chosen) > 10 * max(1, n_new):  # pragma: no cover - the share bounds it first
                return list(chosen.items())

    def __repr__(self) -> str:
        return (f"PromotionPolicy(n_rungs={self.n_rungs}, calibration={self.calibration}, "
                f"min_disagreement={self.min_disagreement}, max_share={self.max_share}, "
                f"calibration_share={self.calibration_share})")

