"""Phase boundaries of a 2-D slice as curves with an uncertainty band (see :mod:`spinexplore.analysis`)."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from spinexplore.analysis._grid import decision, predict_grid, resolve_slice, space_of
from spinexplore._validation import check_int, check_real
from spinexplore.labels import Vocabulary
from spinexplore.results import Label, PhaseType, parse_label

__all__ = ["Boundary", "phase_boundaries", "save_boundaries", "load_boundaries"]

#: The definition written into every export.
DEFINITION = (
    "A boundary between phases a and b is the zero line of d = p_a - p_b, the difference of the "
    "surrogate's class probabilities, where a and b are the two most probable phases. Its band "
    "is where |d| < level: from each vertex, edge_a is where d first reaches +level along the normal "
    "towards a, edge_b where d first reaches -level towards b (searched in steps of 1/400 of the "
    "box in unit-cube coordinates, at most 0.5); an edge also ends where a third phase overtakes "
    "the losing one of a and b (so bands stop at a triple point) or at the box; width is the mean "
    "of the two distances along the normal (unit-cube coordinates); "
    "halfwidth is half the distance between the two edges along each axis, "
    "in physical units. near: the sampled points of a or b within max(band half-width, median nearest-neighbour distance of the points) of the curve; energy_gap: the median "
    "of the solver's energy_gap observable (J1 per spin) over them."
)
_FORMAT = "spinexplore-boundaries"


@dataclass(frozen=True, eq=False)
class Boundary:
    """One phase boundary of a 2-D slice.

    Attributes
    ----------
    phases : (label, label)
        The phases on either side (``PhaseType`` members or :class:`~spinexplore.results.Label`
        names of the user's; the smaller label id first).
    axes : (str, str)
        The parameters of the x and y columns.
    points : ndarray of shape (n, 2)
        The curve, in physical coordinates.
    halfwidth : ndarray of shape (n, 2)
        Half-extent of the uncertainty band along x and y at each vertex (physical units).
    edge_a, edge_b : ndarray of shape (n, 2)
        The band's edges on the side of ``phases[0]`` and of ``phases[1]``.
    width : ndarray of shape (n,)
        Band half-width along the normal (the mean of the distances from the curve to the two
        edges, each found where ``|p_a - p_b|`` reaches ``level``), as a fraction of the box
        (unit-cube coordinates).
    at : dict of str to float
        The values of the hidden dimensions (the slice).
    level : float
        The probability margin that defines the band.
    near : ndarray of int
        Sampled DONE points of either phase next to the curve: their distance to it (unit-cube
        coordinates) is at most the band half-width there or the median nearest-neighbour
        distance of those points, whichever is larger (in N-D only points within ``slice_tol``
        of the slice count).
    energy_gap : float
        Median over ``near`` of the solver's ``energy_gap`` observable (energy per spin of the
        best competing state with another texture minus the ground state's, units of J1);
        NaN when no such point reports a finite gap (e.g. a user's own simulation).
    """

    phases: tuple[PhaseType | Label, PhaseType | Label]
    axes: tuple[str, str]
    points: np.ndarray
    halfwidth: np.ndarray
    edge_a: np.ndarray
    edge_b: np.ndarray
    width: np.ndarray
    at: dict[str, float]
    level: float
    near: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    energy_gap: float = float("nan")

    @property
    def label(self) -> str:
        """``"FERROMAGNET|SKYRMION"``."""
        return f"{self.phases[0].name}|{self.phases[1].name}"

    def __len__(self) -> int:
        return len(self.points)

    def __repr__(self) -> str:
        return (f"Boundary({self.label}, {len(self)} vertices, axes={self.axes}, "
                f"median halfwidth={np.median(self.halfwidth, axis=0).round(4).tolist()})")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (the schema of :func:`save_boundaries`' JSON)."""
        return {"phases": [p.name for p in self.phases], "axes": list(self.axes), "at": dict(self.at),
                "level": self.level, "points": self.points.tolist(), "halfwidth": self.halfwidth.tolist(),
                "edge_a": self.edge_a.tolist(), "edge_b": self.edge_b.tolist(), "width": self.width.tolist(),
                "near": self.near.tolist(), "energy_gap": None if np.isnan(self.energy_gap) else self.energy_gap}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Boundary:
        arr = {k: np.asarray(data[k], dtype=float).reshape(-1, 2) for k in ("points", "halfwidth", "edge_a", "edge_b")}
        return cls(phases=tuple(parse_label(p) for p in data["phases"]), axes=tuple(data["axes"]),
                   width=np.asarray(data["width"], dtype=float), at={str(k): float(v) for k, v in data["at"].items()},
                   level=float(data["level"]), near=np.asarray(data.get("near", []), dtype=int),
                   energy_gap=float("nan") if data.get("energy_gap") is None else float(data["energy_gap"]), **arr)


def phase_boundaries(explorer: Any, *, x: str | None = None, y: str | None = None,
                     at: Mapping[str, float] | None = None, resolution: int = 200,
                     level: float = 0.5, slice_tol: float | None = 0.1) -> list[Boundary]:
    """Every phase boundary of a 2-D slice, each a curve with an uncertainty band.

    Parameters
    ----------
    explorer : ActiveLearningExplorer
    x, y : str, optional
        The two dimensions (default: the first two).
    at : mapping of str to float, optional
        Values of the other dimensions (default: the middle of the box).
    resolution : int, default=200
        Grid cells per axis on which the surrogate is evaluated; the curves are its contours,
        linearly interpolated between cells.
    level : float, default=0.5
        The band is where the probability margin ``|p_a - p_b|`` is below ``level``.
    slice_tol : float or None, default=0.1
        In N-D, sampled points within this fraction of each hidden axis count for
        :attr:`Boundary.near` and :attr:`Boundary.energy_gap`.

    Returns
    -------
    list of Boundary
        Sorted by phase pair, longest curve first. A pair may have several curves (closed
        loops, pieces cut by the box or by a third phase).

    Notes
    -----
    Definition: the boundary between a and b is the zero line of ``d = p_a - p_b`` where a
    and b are the two most probable phases; the band's edges are where ``d`` reaches ``+level``
    and ``-level`` along the normal from each vertex (unit-cube coordinates, at most 0.5 away),
    or where a third phase overtakes the losing one (the band stops at a triple point). This measures how sharply the surrogate separates the two
    phases there, not the error of the simulations themselves.
    """
    import contourpy
    from scipy.interpolate import RegularGridInterpolator

    from spinexplore.errors import NotFittedError

    sl = resolve_slice(explorer, x=x, y=y, at=at, tol=slice_tol)
    if len(sl.shown) != 2:
        raise ValueError(f"phase_boundaries needs a 2-D slice; the space has {space_of(explorer).n_dims} dimension")
    resolution = check_int("resolution", resolution, minimum=4, maximum=2000)
    level = check_real("level", level, minimum=0.0, maximum=1.0, strict_min=True)
    grid = predict_grid(explorer, sl, resolution)
    if grid is None:
        raise NotFittedError("no finished point with a physical phase yet: no boundary to extract")
    space = space_of(explorer)
    u = np.concatenate([[0.0], grid.unit[0], [1.0]])
    pp = np.pad(grid.proba, [(1, 1), (1, 1), (0, 0)], mode="edge")  # (y, x, class)
    fp = np.pad(decision(grid), [(1, 1), (1, 1), (0, 0)], mode="edge")
    interp = RegularGridInterpolator((u, u), pp)
    classes = grid.classes
    vocab = getattr(explorer, "vocabulary", None)
    vocab = vocab if isinstance(vocab, Vocabulary) else Vocabulary()
    grads: dict[tuple[int, int], Any] = {}
    out: list[tuple[int, int, Boundary]] = []
    for c in range(len(classes)):
        if not fp[..., c].min() < 0.0 < fp[..., c].max():
            continue
        for line in contourpy.contour_generator(x=u, y=u, z=fp[..., c]).lines(0.0):
            line = np.asarray(line, dtype=float)
            if len(line) < 2:
                continue
            p = interp(line[:, ::-1])
            p[:, c] = -np.inf
            partner = np.argmax(p, axis=1)
            cuts = np.flatnonzero(np.diff(partner)) + 1
            for run in np.split(np.arange(len(line)), cuts):
                b = int(partner[run[0]])
                if classes[c] > classes[b]:
                    continue  # the same curve comes from the other phase's contour
                seg = line[run[0]: run[-1] + 2] if run[-1] + 1 < len(line) else line[run]
                if len(seg) < 2:
                    continue
                if (c, b) not in grads:
                    d = pp[..., c] - pp[..., b]
                    gy, gx = np.gradient(d, u, u)
                    grads[(c, b)] = RegularGridInterpolator((u, u), np.stack([gx, gy], axis=-1))
                out.append((int(classes[c]), int(classes[b]),
                            _boundary(space, sl, seg, grads[(c, b)], (vocab.label_of(classes[c]),
                                                                       vocab.label_of(classes[b])), level,
                                      interp, (c, b))))
    out.sort(key=lambda t: (t[0], t[1], -len(t[2])))
    return [_with_points(explorer, space, sl, bd, (a, b)) for a, b, bd in out]


def _with_points(explorer: Any, space: Any, sl: Any, bd: Boundary, ids: tuple[int, int]) -> Boundary:
    """Attach the sampled points inside the band and the median solver energy gap there."""
    from spinexplore.results import PointStatus

    idx = np.asarray(sl.inside, dtype=int)
    status = np.asarray(explorer.status, dtype=int)[idx]
    phases = np.asarray(explorer.phases, dtype=int)[idx]
    idx = idx[(status == PointStatus.DONE) & np.isin(phases, list(ids))]
    if not len(idx):
        return bd
    U = space.to_unit(np.asarray(explorer.X, dtype=float)[idx])[:, list(sl.shown)]
    V = space.to_unit(_full(space, sl, bd.points))[:, list(sl.shown)]
    d = np.linalg.norm(U[:, None, :] - V[None, :, :], axis=-1)
    nearest = np.argmin(d, axis=1)
    near = idx[d[np.arange(len(idx)), nearest] <= np.maximum(bd.width[nearest], _spacing(U))]
    gaps = []
    records = explorer.records if len(near) else []
    for i in near:
        g = records[i].result.observables.get("energy_gap") if records[i].result is not None else None
        if g is not None and np.isfinite(float(g)):
            gaps.append(float(g))
    return replace(bd, near=near, energy_gap=float(np.median(gaps)) if gaps else float("nan"))


def _spacing(U: np.ndarray) -> float:
    """Median distance from a sampled point to its nearest neighbour (unit-cube coordinates)."""
    if len(U) < 2:
        return 0.0
    from scipy.spatial import cKDTree

    d, _ = cKDTree(U).query(U, k=2)
    return float(np.median(d[:, 1]))


def _full(space: Any, sl: Any, xy: np.ndarray) -> np.ndarray:
    X = np.tile(space.from_unit(sl.center[None, :])[0], (len(xy), 1))
    X[:, sl.shown[0]], X[:, sl.shown[1]] = xy[:, 0], xy[:, 1]
    return X


#: Steps of the search for a band's edges along the normal (unit-cube coordinates) and its reach.
_BAND_STEP = 1.0 / 400
_BAND_REACH = 0.5


def _band_edge(seg: np.ndarray, nhat: np.ndarray, sign: float, interp: Any, cb: tuple[int, int],
               level: float) -> np.ndarray:
    """Distance along ``sign * nhat`` from each vertex of ``seg`` to the band's edge: where
    ``sign * (p_c - p_b)`` first reaches ``level``, where a third phase overtakes the losing one of
    c and b, or where the box ends (unit-cube coordinates, at most :data:`_BAND_REACH`)."""
    c, b = cb
    t = np.arange(1, int(round(_BAND_REACH / _BAND_STEP)) + 1) * _BAND_STEP  # (m,)
    pos = seg[:, None, :] + sign * t[None, :, None] * nhat[:, None, :]  # (n, m, 2)
    inside = np.all((pos >= 0.0) & (pos <= 1.0), axis=-1)
    p = interp(np.clip(pos, 0.0, 1.0)[..., ::-1].reshape(-1, 2)).reshape(len(seg), len(t), -1)
    d = sign * (p[..., c] - p[..., b])
    loser = np.where(sign > 0, p[..., b], p[..., c])
    third = np.delete(p, [c, b], axis=-1).max(axis=-1) if p.shape[-1] > 2 else np.zeros_like(d)
    stop = (d >= level) | (third > loser) | ~inside
    first = np.where(stop.any(axis=1), np.argmax(stop, axis=1), len(t) - 1)
    w = t[first].copy()
    # at a level crossing, interpolate between the last step inside the band and the first outside
    rows = np.arange(len(seg))
    d1 = d[rows, first]
    d0 = np.where(first > 0, d[rows, np.maximum(first - 1, 0)], 0.0)
    crossing = (d1 >= level) & (d1 > d0) & inside[rows, first] & ~(third[rows, first] > loser[rows, first])
    frac = np.clip((level - d0) / np.where(d1 > d0, d1 - d0, 1.0), 0.0, 1.0)
    w = np.where(crossing, t[first] - (1.0 - frac) * _BAND_STEP, w)
    # out of the box, or another phase above the losing one: the last step before
    last_inside = (~inside[rows, first]) | (third[rows, first] > loser[rows, first])
    return np.where(last_inside & ~crossing, np.maximum(t[first] - _BAND_STEP, 0.0), w)


def _boundary(space: Any, sl: Any, seg: np.ndarray, grad: Any, pair: tuple[Any, Any], level: float,
              interp: Any = None, cb: tuple[int, int] | None = None) -> Boundary:
    g = grad(seg[:, ::-1])
    norm = np.linalg.norm(g, axis=1)
    nhat = g / np.maximum(norm, 1e-300)[:, None]
    if interp is None or cb is None:  # first order: w = level / |grad d|
        wa = wb = np.minimum(level / np.maximum(norm, 1e-12), _BAND_REACH)
    else:  # the band's real edges: where |p_a - p_b| reaches level along the normal
        wa = _band_edge(seg, nhat, 1.0, interp, cb, level)
        wb = _band_edge(seg, nhat, -1.0, interp, cb, level)
    kx, ky = sl.shown

    def phys(uv: np.ndarray) -> np.ndarray:
        U = np.tile(sl.center, (len(uv), 1))
        U[:, kx], U[:, ky] = np.clip(uv[:, 0], 0, 1), np.clip(uv[:, 1], 0, 1)
        return space.from_unit(U)[:, [kx, ky]]

    pts, ea, eb = phys(seg), phys(seg + wa[:, None] * nhat), phys(seg - wb[:, None] * nhat)
    return Boundary(phases=(pair[0], pair[1]), axes=tuple(sl.axes), points=pts,
                    halfwidth=np.abs(ea - eb) / 2.0, edge_a=ea, edge_b=eb, width=0.5 * (wa + wb), at=dict(sl.at),
                    level=level)


def save_boundaries(boundaries: Sequence[Boundary], path: str | os.PathLike[str]) -> str:
    """Write boundaries to ``.json`` (one object per curve, with the definition) or ``.csv``
    (one row per vertex: ``boundary, phase_a, phase_b, <x>, <y>, halfwidth_<x>, halfwidth_<y>,
    <x>_edge_a, <y>_edge_a, <x>_edge_b, <y>_edge_b, width, level, energy_gap`` and the hidden
    values; ``near`` is in the JSON only).

    Returns
    -------
    str
        The path written.
    """
    path = os.fspath(path)
    suffix = Path(path).suffix.lower()
    if suffix not in (".json", ".csv"):
        raise ValueError(f"save_boundaries writes .json or .csv files; got {path!r}")
    boundaries = list(boundaries)
    if not all(isinstance(b, Boundary) for b in boundaries):
        raise TypeError("boundaries must be a list of Boundary objects from phase_boundaries()")
    axes = {b.axes for b in boundaries}
    if len(axes) > 1:
        raise ValueError(f"all boundaries of one file must share their axes; got {sorted(axes)}")
    if suffix == ".json":
        with open(path, "w", encoding="utf-8") as fh:
            json.dump({"format": _FORMAT, "version": 1, "definition": DEFINITION,
                       "boundaries": [b.to_dict() for b in boundaries]}, fh, indent=1)
        return path
    xa, ya = next(iter(axes)) if axes else ("x", "y")
    hidden = sorted({k for b in boundaries for k in b.at})
    header = (["boundary", "phase_a", "phase_b", xa, ya, f"halfwidth_{xa}", f"halfwidth_{ya}", f"{xa}_edge_a",
               f"{ya}_edge_a", f"{xa}_edge_b", f"{ya}_edge_b", "width", "level", "energy_gap"] + hidden)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for i, b in enumerate(boundaries):
            for j in range(len(b)):
                nums = [*b.points[j], *b.halfwidth[j], *b.edge_a[j], *b.edge_b[j], b.width[j], b.level,
                        b.energy_gap, *(b.at.get(k, float("nan")) for k in hidden)]
                w.writerow([i, b.phases[0].name, b.phases[1].name, *(repr(float(v)) for v in nums)])
    return path


def load_boundaries(path: str | os.PathLike[str]) -> list[Boundary]:
    """Read boundaries written by :func:`save_boundaries` (``.json`` or ``.csv``)."""
    path = os.fspath(path)
    if Path(path).suffix.lower() == ".json":
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise ValueError(f"{path!r} is not a boundaries file written by save_boundaries()")
        return [Boundary.from_dict(b) for b in data["boundaries"]]
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    if not rows or rows[0][:3] != ["boundary", "phase_a", "phase_b"]:
        raise ValueError(f"{path!r} is not a boundaries CSV written by save_boundaries()")
    head = rows[0]
    xa, ya = head[3], head[4]
    hidden = head[14:]
    groups: dict[int, list[list[str]]] = {}
    for row in rows[1:]:
        groups.setdefault(int(row[0]), []).append(row)
    out = []
    for _, grp in sorted(groups.items()):
        v = np.array([[float(x) for x in r[3:14]] for r in grp])
        out.append(Boundary(phases=(parse_label(grp[0][1]), parse_label(grp[0][2])), axes=(xa, ya),
                            points=v[:, 0:2], halfwidth=v[:, 2:4], edge_a=v[:, 4:6], edge_b=v[:, 6:8], width=v[:, 8],
                            level=float(v[0, 9]), energy_gap=float(v[0, 10]),
                            at={k: float(grp[0][14 + i]) for i, k in enumerate(hidden)}))
    return out
