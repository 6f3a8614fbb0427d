"""Tests of spinexplore.analysis: boundaries with bands, textures, DataFrame and xarray exports."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from spinexplore import ActiveLearningExplorer, ParameterSpace, PhaseType, SpinSimulation  # noqa: E402
from spinexplore import analysis  # noqa: E402

FM, SQ = PhaseType.FERROMAGNET, PhaseType.SINGLE_Q
R = 0.6


@pytest.fixture(scope="module")
def circle():
    """FM inside the circle h^2 + K^2 < R^2, helix outside, told on a 14 x 14 grid."""
    space = ParameterSpace({"h": (-1.0, 1.0), "K": (-1.0, 1.0)})
    ex = ActiveLearningExplorer(space, seed=0, verbose=False)
    g = np.linspace(-0.95, 0.95, 14)
    for a in g:
        for b in g:
            ex.tell({"h": a, "K": b}, {"phase": FM if a * a + b * b < R * R else SQ, "energy": -a,
                                       "energy_gap": abs(np.hypot(a, b) - R)})
    return ex


def test_boundary_of_a_circle_lies_on_it_within_its_band(circle):
    (b,) = analysis.phase_boundaries(circle, resolution=120)
    assert b.phases == (FM, SQ) and b.axes == ("h", "K") and b.label == "FERROMAGNET|SINGLE_Q"
    r = np.hypot(b.points[:, 0], b.points[:, 1])
    spacing = 1.9 / 13
    # the learned boundary stays within its own band (widened by half a sample spacing) of the circle
    normal_halfwidth = 2.0 * b.width  # unit-cube fraction -> physical (the box is 2 wide)
    assert np.all(np.abs(r - R) <= normal_halfwidth + spacing / 2)
    assert np.abs(r - R).mean() < 0.05
    # a closed curve around the whole circle
    angles = np.sort(np.arctan2(b.points[:, 1], b.points[:, 0]))
    assert np.diff(angles).max() < 0.2
    # edge_a is on FM's side (inside), edge_b on the helix side; halfwidth is half their distance
    assert np.all(np.hypot(*b.edge_a.T) <= r + 1e-9) and np.all(np.hypot(*b.edge_b.T) >= r - 1e-9)
    np.testing.assert_allclose(b.halfwidth, np.abs(b.edge_a - b.edge_b) / 2)
    # the sampled points inside the band, and the median solver gap there
    assert len(b.near) >= 8
    near_r = np.hypot(*circle.X[b.near].T)
    assert np.all(np.abs(near_r - R) < 4 * np.max(b.width) + spacing)
    assert b.energy_gap == pytest.approx(np.median(np.abs(near_r - R)))
    # a sharper level gives a narrower band
    (narrow,) = analysis.phase_boundaries(circle, resolution=120, level=0.1)
    assert np.median(narrow.width) < np.median(b.width)


def test_boundaries_round_trip_through_json_and_csv(circle, tmp_path):
    bs = analysis.phase_boundaries(circle, resolution=60)
    js = analysis.save_boundaries(bs, tmp_path / "b.json")
    data = json.loads(Path(js).read_text())
    assert data["format"] == "spinexplore-boundaries" and "p_a - p_b" in data["definition"]
    assert data["boundaries"][0]["phases"] == ["FERROMAGNET", "SINGLE_Q"]
    csv = analysis.save_boundaries(bs, tmp_path / "b.csv")
    pd = pytest.importorskip("pandas")
    df = pd.read_csv(csv)
    assert list(df.columns[:7]) == ["boundary", "phase_a", "phase_b", "h", "K", "halfwidth_h", "halfwidth_K"]
    assert len(df) == sum(len(b) for b in bs)
    for path in (js, csv):
        back = analysis.load_boundaries(path)
        assert [b.phases for b in back] == [b.phases for b in bs]
        for b0, b1 in zip(bs, back):
            np.testing.assert_array_equal(b0.points, b1.points)
            np.testing.assert_array_equal(b0.halfwidth, b1.halfwidth)
            assert b1.energy_gap == b0.energy_gap
        if path == js:  # the CSV holds the curves, the JSON also the points near them
            np.testing.assert_array_equal(back[0].near, bs[0].near)
    with pytest.raises(ValueError, match="writes .json or .csv files; got"):
        analysis.save_boundaries(bs, tmp_path / "b.txt")


def test_boundaries_saved_in_the_store_survive_load(tmp_path):
    space = ParameterSpace({"h": (-1.0, 1.0), "K": (-1.0, 1.0)})
    path = tmp_path / "b.h5"
    ex = ActiveLearningExplorer(space, seed=0, verbose=False, store=path)
    assert ex.stored_boundaries() == ([], {})
    for a in np.linspace(-0.95, 0.95, 8):
        for b in np.linspace(-0.95, 0.95, 8):
            ex.tell({"h": a, "K": b}, {"phase": FM if a * a + b * b < R * R else SQ})
    found = ex.boundaries(resolution=40, level=0.3, save=True)
    ex.close()
    for read_only in (True, False):
        back = ActiveLearningExplorer.load(path, read_only=read_only, verbose=False)
        stored, info = back.stored_boundaries()
        assert info["n_finished"] == 64 and info["options"] == {"resolution": 40, "level": 0.3}
        assert "p_a - p_b" in info["definition"]
        assert [b.phases for b in stored] == [b.phases for b in found]
        for b, c in zip(stored, found):
            np.testing.assert_array_equal(b.points, c.points)
            np.testing.assert_array_equal(b.halfwidth, c.halfwidth)
        if read_only:
            with pytest.raises(ValueError, match="needs a writable store"):
                back.boundaries(save=True)
        back.close()
    # the saved set is kept through later checkpoints of a resumed run
    again = ActiveLearningExplorer.load(path, verbose=False)
    again.tell({"h": 0.0, "K": 0.0}, {"phase": FM})
    again.close()
    assert len(ActiveLearningExplorer.load(path, read_only=True, verbose=False).stored_boundaries()[0]) == len(found)


def test_boundaries_of_a_slice_and_bad_input(circle):
    space = ParameterSpace({"h": (-1.0, 1.0), "K": (-1.0, 1.0), "J3": (0.0, 1.0)})
    ex = ActiveLearningExplorer(space, seed=0, verbose=False)
    rng = np.random.default_rng(1)
    for p in space.from_unit(rng.random((150, 3))):
        ex.tell(p, FM if p[0] < 0.5 * p[2] else SQ)  # the boundary h = J3 / 2 moves with J3
    for j3 in (0.2, 0.8):
        bs = analysis.phase_boundaries(ex, x="h", y="K", at={"J3": j3}, resolution=60)
        assert bs and all(b.at == {"J3": j3} for b in bs)
        longest = max(bs, key=len)
        assert abs(np.median(longest.points[:, 0]) - j3 / 2) < 0.2
    with pytest.raises(ValueError, match="slice_at key 'J9' is not a dimension"):
        analysis.phase_boundaries(ex, at={"J9": 0.1})
    with pytest.raises(ValueError, match="level must be"):
        analysis.phase_boundaries(circle, level=0.0)
    one_d = ActiveLearningExplorer(ParameterSpace({"h": (0.0, 1.0)}), seed=0, verbose=False)
    with pytest.raises(ValueError, match="needs a 2-D slice"):
        analysis.phase_boundaries(one_d)
    empty = ActiveLearningExplorer(ParameterSpace({"h": (0.0, 1.0), "K": (0.0, 1.0)}), seed=0, verbose=False)
    with pytest.raises(RuntimeError, match="no finished point"):
        analysis.phase_boundaries(empty)


def test_plot_boundaries_draws_curves_bands_and_labels(circle):
    from matplotlib.patches import Polygon

    from spinexplore import plotting

    ax = plotting.plot_boundaries(circle, resolution=60)
    assert len(ax.get_lines()) == 1 and sum(isinstance(p, Polygon) for p in ax.patches) == 1
    assert [t.get_text() for t in ax.texts] == ["FM | helix (1Q)"]
    assert ax.get_xlabel() == "$h$"


# ---------------------------------------------------------------------------- tables
def test_to_dataframe_one_row_per_point(circle):
    pytest.importorskip("pandas")
    df = analysis.to_dataframe(circle)
    assert len(df) == circle.n_points and df.index.name == "index"
    assert list(df.columns[:10]) == ["h", "K", "status", "phase", "confidence", "energy", "duration",
                                     "iteration", "worker", "error"]
    np.testing.assert_array_equal(df[["h", "K"]].to_numpy(), circle.X)
    assert set(df["phase"]) == {"FERROMAGNET", "SINGLE_Q"} and set(df["status"]) == {"DONE"}
    np.testing.assert_array_equal(df["energy"].to_numpy(), -circle.X[:, 0])


def test_to_xarray_grid_points_coordinates_and_attributes(circle):
    pytest.importorskip("xarray")
    ds = analysis.to_xarray(circle, resolution=40)
    assert ds["phase"].dims == ("h", "K") and ds["probability"].dims == ("h", "K", "phase_class")
    assert list(ds["phase_class"].values) == ["FERROMAGNET", "SINGLE_Q"]
    np.testing.assert_allclose(ds["h"].values, -1 + (np.arange(40) + 0.5) / 20)
    assert ds["h"].attrs["long_name"] == "h" and ds["h"].attrs["scale"] == "linear"
    np.testing.assert_array_equal(ds["h"].attrs["valid_range"], [-1.0, 1.0])
    assert "bounds" not in ds["h"].attrs  # CF reserves `bounds` for the name of a bounds variable
    assert "FERROMAGNET" in ds["phase"].attrs["flag_meanings"]
    centre = ds["phase"].sel(h=0.0, K=0.0, method="nearest")
    corner = ds["phase"].sel(h=-1.0, K=-1.0, method="nearest")
    assert (int(centre), int(corner)) == (int(FM), int(SQ))
    np.testing.assert_allclose(ds["uncertainty"], 1 - ds["probability"].max("phase_class"))
    assert ds.sizes["point"] == circle.n_points
    np.testing.assert_array_equal(ds["point_h"].values, circle.X[:, 0])
    assert ds.attrs["n_done"] == circle.n_points
    area = float((ds["phase"] == int(FM)).mean())
    assert area == pytest.approx(np.pi * R**2 / 4, abs=0.03)


def test_to_xarray_writes_netcdf_and_reads_back(circle, tmp_path):
    """Issue 23 (1): to_netcdf raised TypeError: unhashable type: 'list' (a list-valued attribute)."""
    xr = pytest.importorskip("xarray")
    pytest.importorskip("scipy")
    ds = analysis.to_xarray(circle, resolution=12)
    path = tmp_path / "diagram.nc"
    ds.to_netcdf(path)
    back = xr.load_dataset(path)
    np.testing.assert_array_equal(back["phase"].values, ds["phase"].values)
    np.testing.assert_allclose(back["h"].attrs["valid_range"], [-1.0, 1.0])
    assert list(back["status"].values) == list(ds["status"].values)
    assert back.attrs["n_points"] == circle.n_points


def test_to_xarray_slice_and_limits(circle, monkeypatch):
    pytest.importorskip("xarray")
    space = ParameterSpace({"h": (0.0, 1.0), "K": (0.0, 1.0), "J3": (0.0, 1.0)})
    ex = ActiveLearningExplorer(space, seed=0, verbose=False)
    for p in space.from_unit(np.random.default_rng(2).random((30, 3))):
        ex.tell(p, FM if p[0] > 0.5 else SQ)
    ds = analysis.to_xarray(ex, x="h", y="K", at={"J3": 0.25}, resolution=10)
    assert ds["phase"].dims == ("h", "K") and float(ds["J3"]) == 0.25 and ds["J3"].dims == ()
    assert analysis.to_xarray(ex, resolution=6)["phase"].dims == ("h", "K", "J3")
    with pytest.raises(ValueError, match="makes 1000000 cells, more than max_cells=1000"):
        analysis.to_xarray(ex, resolution=100, max_cells=1000)
    monkeypatch.setitem(sys.modules, "xarray", None)
    with pytest.raises(ImportError, match=r"spinexplore\[data\]"):
        analysis.to_xarray(circle)


def test_both_tables_are_one_definition_with_one_convention_for_missing_values(tmp_path):
    """Issue 25: to_xarray repeated to_dataframe's columns with other missing values ("" for a
    phase or an error, the text "None" for the worker of a pending point, no duration)."""
    pytest.importorskip("pandas")
    xr = pytest.importorskip("xarray")
    from spinexplore.results import SimulationResult

    space = ParameterSpace({"h": (0.0, 1.0), "K": (0.0, 1.0)})
    ex = ActiveLearningExplorer(space, seed=0, verbose=False)
    for p in space.from_unit(np.random.default_rng(3).random((10, 2))):
        ex.tell(p, SimulationResult(phase=FM if p[0] > 0.5 else SQ, energy=-p[0], duration=0.5,
                                    observables={"m": float(p[1])}))
    ex.tell({"h": 0.5, "K": 0.5}, SimulationResult(phase=PhaseType.FAILED, error="boom"))
    ex.ask(1)  # a pending point: no result, no worker
    df, ds = analysis.to_dataframe(ex), analysis.to_xarray(ex, resolution=4)
    failed, pending = 10, 11
    assert df["phase"].isna()[[failed, pending]].all() and df["error"][failed] == "boom"
    assert df["worker"].isna()[pending] and df["error"].isna()[0] and math.isnan(df["energy"][pending])
    renamed = {"h": "point_h", "K": "point_K", "phase": "point_phase"}
    assert list(df.columns) == ["h", "K", "status", "phase", "confidence", "energy", "duration", "iteration",
                                "worker", "error", "m"]
    def missing_as_none(values):  # NaN != NaN: compare missing values as None
        return [None if isinstance(v, float) and math.isnan(v) else v for v in values]

    for column in df.columns:
        assert ds[renamed.get(column, column)].dims == ("point",)
        assert missing_as_none(ds[renamed.get(column, column)].values) == missing_as_none(df[column]), column
    assert ds["point_phase"].isnull()[[failed, pending]].all() and ds["worker"].isnull()[pending]
    assert ds["energy"].attrs["long_name"] == "energy per spin" and ds["duration"].attrs["units"] == "s"
    path = tmp_path / "points.nc"
    ds.to_netcdf(path)  # None is written as an empty string
    back = xr.load_dataset(path)
    assert back["error"].values[failed] == "boom" and back["error"].values[0] == ""


# ---------------------------------------------------------------------------- textures
def _run(model, tmp_path=None, save_spins=False):
    space = ParameterSpace({"h": (0.0, 0.4), "K": (0.0, 0.3)})
    store = None if tmp_path is None else tmp_path / "run.h5"
    ex = ActiveLearningExplorer(space, seed=0, verbose=False, store=store, save_spins=save_spins)
    ex.add_points([[0.0, 0.0], [0.05, 0.1]])
    keep = save_spins
    ex.classify_pending_points(SpinSimulation(model, lattice_size=12, mode="screening", keep_spins=keep),
                               backend="sequential", progress=False)
    return ex


def _peak_matches(tex, q):
    """True when the strongest in-plane S(q) peak (q != 0) equals +-q modulo reciprocal vectors."""
    from spinexplore.physics.observables import structure_factor

    lat = tex.make_lattice()
    sq, _ = structure_factor(tex.spins, lat)
    sq = np.where(np.any(lat.q_integers != 0, axis=1), sq, -1)
    peak = lat.q_vectors[np.argmax(sq)]
    for sign in (1, -1):
        n = np.linalg.solve(lat.b.T, peak - sign * q)
        if np.allclose(n, np.round(n), atol=1e-6):
            return True
    return False


@pytest.mark.parametrize("model, kind", [("square-chiral", "square"), ("triangular-chiral", "triangular")])
def test_texture_rerun_is_bit_identical_and_peaks_at_the_stored_q(model, kind):
    ex = _run(model)
    for i in range(ex.n_points):
        rec = ex.records[i]
        tex = analysis.texture(ex, i)
        assert (tex.source, tex.lattice, tex.L, tex.model) == ("rerun", kind, 12, model)
        assert tex.result.phase == rec.result.phase and tex.result.energy == rec.result.energy
        assert tex.spins.shape == (144, 3)
        assert tex.params == {"h": float(rec.params[0]), "K": float(rec.params[1])}
        obs = rec.result.observables
        if rec.result.phase == SQ:
            assert _peak_matches(tex, np.array([obs["q1_x"], obs["q1_y"]]))
    with pytest.raises(IndexError, match=r"index must lie in \[0, 1\]"):
        analysis.texture(ex, 2)


def test_texture_from_the_store_equals_the_rerun(tmp_path):
    ex = _run("square-chiral", tmp_path, save_spins=True)
    ex.close()
    loaded = ActiveLearningExplorer.load(tmp_path / "run.h5", read_only=True, verbose=False)
    try:
        stored = analysis.texture(loaded, 1)
        assert stored.source == "store" and stored.lattice == "square"
        fresh = SpinSimulation("square-chiral", lattice_size=12, mode="screening", keep_spins=True)(stored.params)
        np.testing.assert_allclose(stored.spins, fresh.spins, atol=1e-6)  # float32 on disk
        assert fresh.energy == stored.energy
        with pytest.raises(ValueError, match="contradicts the run's simulation"):
            analysis.texture(loaded, 1, lattice="triangular")
    finally:
        loaded.close()


def test_texture_of_an_unfinished_point_or_an_unknown_simulation():
    ex = ActiveLearningExplorer(ParameterSpace({"h": (0.0, 1.0), "K": (0.0, 1.0)}), seed=0, verbose=False)
    ex.add_points([[0.1, 0.1]])
    with pytest.raises(ValueError, match="point 0 has status PENDING; only a DONE point has a texture"):
        analysis.texture(ex, 0)
    ex.tell({"h": 0.5, "K": 0.5}, FM)
    with pytest.raises(ValueError, match="kept no spins and the run's simulation"):
        analysis.texture(ex, 1)
    with pytest.raises(TypeError, match="index must be an integer"):
        analysis.texture(ex, 1.0)


class _Profile:
    """A stand-in explorer whose surrogate is an analytic function of (h, K) in [0, 1]^2."""

    def __init__(self, classes, proba):
        self.space = ParameterSpace({"h": (0.0, 1.0), "K": (0.0, 1.0)})
        self.classes_ = np.array([int(c) for c in classes])
        self._proba = proba
        g = np.linspace(0.05, 0.95, 8)
        self.X = np.array([(a, b) for a in g for b in g])
        _, pr = self.predict(self.X)
        self.phases = self.classes_[np.argmax(pr, axis=1)]
        self.status = np.full(len(self.X), 1)  # DONE
        self.records = [type("Record", (), {"result": None})() for _ in self.X]

    def predict(self, X):
        pr = self._proba(np.asarray(X, dtype=float))
        return self.classes_[np.argmax(pr, axis=1)], pr


def test_band_width_follows_the_probability_profile_not_a_first_order_guess():
    """Issue 23 (figures): boundary bands were of nearly constant width (w = level / |grad d| at
    the line). With p_FM - p_helix = tanh(((h - 1/2) / s)^3) the margin is flat at the line, so the
    first-order width is the cap (0.5, the whole box); the band |d| < 1/2 really reaches
    |h - 1/2| = s artanh(1/2)^(1/3), with s growing from 0.02 at K = 0 to 0.1 at K = 1."""
    def proba(X):
        s = 0.02 + 0.08 * X[:, 1]
        d = np.tanh(((X[:, 0] - 0.5) / s) ** 3)
        return np.column_stack([(1 + d) / 2, (1 - d) / 2])

    (b,) = analysis.phase_boundaries(_Profile([FM, SQ], proba), resolution=200)
    inner = (b.points[:, 1] > 0.05) & (b.points[:, 1] < 0.95)
    s = 0.02 + 0.08 * b.points[inner, 1]
    np.testing.assert_allclose(b.width[inner], s * np.arctanh(0.5) ** (1 / 3), rtol=0.08, atol=0.004)
    np.testing.assert_allclose(b.edge_a[inner, 0], 0.5 + s * np.arctanh(0.5) ** (1 / 3), atol=0.006)
    np.testing.assert_allclose(b.edge_b[inner, 0], 0.5 - s * np.arctanh(0.5) ** (1 / 3), atol=0.006)


def test_bands_stop_at_a_triple_point():
    """Issue 23 (figures): at a triple point the bands, offset along the normals, shot into the
    third phase's region (arrowheads). FM for h > 1/2, helix for h < 1/2 and K < 1/2, SkX for
    h < 1/2 and K > 1/2 (soft edges): every band edge stays where its two phases are the two most
    probable ones."""
    SKX = PhaseType.SKYRMION

    def proba(X):
        h, K = X[:, 0], X[:, 1]
        fm = 1 / (1 + np.exp(-(h - 0.5) / 0.05))
        low = 1 / (1 + np.exp(-(0.5 - K) / 0.05))
        return np.column_stack([fm, (1 - fm) * low, (1 - fm) * (1 - low)])

    ex = _Profile([FM, SQ, SKX], proba)
    found = analysis.phase_boundaries(ex, resolution=200)
    assert {b.phases for b in found} == {(FM, SQ), (FM, SKX), (SQ, SKX)}
    for b in found:
        ids = [int(p) for p in b.phases]
        cols = [list(ex.classes_).index(i) for i in ids]

        def margin(X):  # the losing one of the pair minus the best third phase (>= 0: the top two)
            p = proba(X)
            return p[:, cols].min(axis=1) - np.delete(p, cols, axis=1).max(axis=1)

        on = margin(b.points) >= -2e-3  # the curve's last vertex may sit just past the triple point
        assert on.mean() > 0.95
        for edge in (b.edge_a, b.edge_b):
            assert np.all(margin(edge[on]) >= -2e-3), b.phases
