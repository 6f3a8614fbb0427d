"""Tests of spinexplore.plotting: the figures are written to PNG and read back.

The stand-in explorer predicts phases from an analytic rule on (h, K), so the expected area of
each coloured region is known exactly.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402

from spinexplore import ParameterSpace, PhaseType, PointStatus  # noqa: E402
from spinexplore import plotting  # noqa: E402
from spinexplore.physics.lattice import make_lattice  # noqa: E402

FM, SQ, SKX = PhaseType.FERROMAGNET, PhaseType.SINGLE_Q, PhaseType.SKYRMION


def rule(X: np.ndarray) -> np.ndarray:
    """FM for h > 0.6; SKYRMION for 0.3 < h <= 0.6 and K < 0.5 (and J2 < 0.5 when present)."""
    X = np.atleast_2d(X)
    h = X[:, 0]
    K = X[:, 1] if X.shape[1] > 1 else np.zeros(len(X))
    skx = (h > 0.3) & (K < 0.5)
    if X.shape[1] > 2:
        skx &= X[:, 2] < 0.5
    return np.where(h > 0.6, FM, np.where(skx, SKX, SQ)).astype(int)


class StandIn:
    """The part of ActiveLearningExplorer that plotting reads."""

    classes_ = np.array([int(FM), int(SQ), int(SKX)])

    def __init__(self, space, n=60, seed=0, finished=True):
        rng = np.random.default_rng(seed)
        self.space = space
        self.X = space.from_unit(rng.random((n, space.n_dims)))
        self.status = np.full(n, int(PointStatus.DONE))
        self.phases = rule(self.X)
        self.status[:3], self.phases[:3] = PointStatus.FAILED, PhaseType.FAILED
        self.status[3:5], self.phases[3:5] = PointStatus.TIMEOUT, PhaseType.TIMEOUT
        self.status[5:7], self.phases[5:7] = PointStatus.PENDING, -1
        if not finished:
            self.status[:], self.phases[:] = PointStatus.PENDING, -1
        self.finished = finished
        self.iterations = rng.integers(0, 4, n)
        self.history = [
            {"iteration": i, "n_points": 20, "n_done": 20 - i % 2, "n_failed": i % 2,
             "changed_fraction": 0.5 / i, "mean_uncertainty": 0.3 / i}
            for i in range(1, 5)
        ]

    def predict(self, X):
        if not self.finished:
            raise RuntimeError("no finished point yet")
        X = np.asarray(X, dtype=float)
        ph = rule(X)
        # probability of the predicted phase falls to 1/2 at the boundaries h = 0.3 and h = 0.6
        d = np.minimum(np.abs(X[:, 0] - 0.3), np.abs(X[:, 0] - 0.6))
        p = 0.5 + 0.5 * np.tanh(d / 0.05)
        proba = np.zeros((len(X), 3))
        col = np.searchsorted(self.classes_, ph)
        proba[np.arange(len(X)), col] = p
        proba[np.arange(len(X)), (col + 1) % 3] = 1 - p
        return ph, proba


def blended(phase, alpha=0.55):
    """Colour of a region of ``phase`` drawn with ``alpha`` over the white axes background."""
    return alpha * np.array(to_rgb(plotting.PHASE_COLORS[phase])) + (1 - alpha)


def fraction_of(img: np.ndarray, rgb, tol=0.02) -> float:
    return float(np.mean(np.all(np.abs(img[..., :3] - rgb) < tol, axis=-1)))


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


SPACE2 = ParameterSpace({"h": (0.0, 1.0), "K": (0.0, 1.0)})


def test_colors_are_fixed_distinct_and_cover_every_phase():
    assert set(plotting.PHASE_COLORS) == set(PhaseType)
    rgbs = {to_rgb(c) for c in plotting.PHASE_COLORS.values()}
    assert len(rgbs) == len(PhaseType)


def test_phase_diagram_png_shows_each_region_with_its_analytic_area(tmp_path):
    ex = StandIn(SPACE2)
    path = plotting.save_phase_diagram(ex, tmp_path / "pd.png", dpi=100, panel_size=(6.0, 4.5),
                                       points=None, legend=False)
    img = mpimg.imread(path)
    assert img.shape[:2] == (450, 600)
    fr = {p: fraction_of(img, blended(p)) for p in (FM, SQ, SKX)}
    total = sum(fr.values())
    assert total > 0.4  # the regions fill most of the figure
    # areas from the rule: FM 0.4, SKYRMION 0.3 * 0.5 = 0.15, SINGLE_Q 0.45
    assert fr[FM] / total == pytest.approx(0.40, abs=0.02)
    assert fr[SKX] / total == pytest.approx(0.15, abs=0.02)
    assert fr[SQ] / total == pytest.approx(0.45, abs=0.02)
    for absent in (PhaseType.MERON_ANTIMERON, PhaseType.DOUBLE_Q, PhaseType.TRIPLE_Q):  # not grey: text
        assert fraction_of(img, blended(absent)) < 1e-4


def test_phase_diagram_marks_points_failures_and_names_phases(tmp_path):
    ex = StandIn(SPACE2)
    ax = plotting.plot_phase_diagram(ex)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["FERROMAGNET", "SINGLE_Q", "SKYRMION", "failed (3)", "timeout (2)", "pending (2)"]
    path = tmp_path / "pd.png"
    ax.figure.savefig(path, dpi=100)
    img = mpimg.imread(path)
    # finished points are drawn in the full phase colour, timeouts as orange crosses
    for phase in (FM, SQ, SKX, PhaseType.TIMEOUT):
        assert fraction_of(img, to_rgb(plotting.PHASE_COLORS[phase]), tol=0.03) > 1e-4, phase.name


def test_points_colored_by_iteration_get_a_colorbar():
    ex = StandIn(SPACE2)
    ax = plotting.plot_phase_diagram(ex, points="iteration")
    assert len(ax.figure.axes) == 2
    assert ax.figure.axes[1].get_ylabel() == "iteration"


def test_slice_of_a_3d_space_follows_the_hidden_coordinate(tmp_path):
    space = ParameterSpace({"h": (0.0, 1.0), "K": (0.0, 1.0), "J2": (0.0, 1.0)})
    ex = StandIn(space, n=200)
    present = {}
    for j2 in (0.2, 0.8):
        path = plotting.save_phase_diagram(ex, tmp_path / f"s{j2}.png", slice_at={"J2": j2}, points=None)
        present[j2] = fraction_of(mpimg.imread(path), blended(SKX))
    assert present[0.2] > 0.02  # SKYRMION only exists for J2 < 0.5
    assert present[0.8] == 0.0
    ax = plotting.plot_phase_diagram(ex, dims=("K", "J2"), slice_at={"h": 0.45}, slice_tol=0.05)
    assert ax.get_xlabel() == "K" and ax.get_ylabel() == "J2"
    assert "h=0.45" in ax.get_title()
    # only points within 0.05 of h = 0.45 are drawn
    n_drawn = sum(len(c.get_offsets()) for c in ax.collections[1:])
    assert n_drawn == int(np.sum(np.abs(ex.X[:, 0] - 0.45) <= 0.05))


def test_default_slice_is_the_middle_of_the_box_and_log_axes_are_log():
    space = ParameterSpace({"h": (0.0, 1.0), "T": (0.01, 1.0, "log"), "K": (0.0, 1.0)})
    ex = StandIn(space, n=30)
    ax = plotting.plot_phase_diagram(ex, dims=("h", "T"))
    assert ax.get_yscale() == "log"
    assert "K=0.5" in ax.get_title()


def test_one_dimensional_space_gives_bands(tmp_path):
    ex = StandIn(ParameterSpace({"h": (0.0, 1.0)}))
    ax = plotting.plot_phase_diagram(ex, points=None, legend=False)
    assert ax.get_ylabel() == "iteration"
    path = tmp_path / "1d.png"
    ax.figure.savefig(path, dpi=100)
    img = mpimg.imread(path)
    fr = {p: fraction_of(img, blended(p)) for p in (FM, SQ, SKX)}
    total = sum(fr.values())
    for phase, width in ((SQ, 0.3), (SKX, 0.3), (FM, 0.4)):
        assert fr[phase] / total == pytest.approx(width, abs=0.02)


def test_uncertainty_map_peaks_on_the_phase_boundaries(tmp_path):
    ex = StandIn(SPACE2)
    ax = plotting.plot_uncertainty(ex, resolution=100)
    mesh = ax.collections[0]
    unc = np.asarray(mesh.get_array()).reshape(100, 100)  # rows: K, columns: h
    h_mid = (np.arange(100) + 0.5) / 100
    col_max = unc.max(axis=0)
    peaks = h_mid[col_max > 0.45]
    assert peaks.size and np.all(np.minimum(np.abs(peaks - 0.3), np.abs(peaks - 0.6)) < 0.03)
    assert col_max[np.abs(h_mid - 0.15) < 0.02].max() < 0.01  # far from any boundary
    path = tmp_path / "u.png"
    ax.figure.savefig(path, dpi=80)
    img = mpimg.imread(path)
    assert img.shape[:2] == (384, 512)
    n_colors = len(np.unique((img[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0))
    assert n_colors > 20  # a graded map, not a blank panel


def test_plots_before_any_result_show_points_only():
    ex = StandIn(SPACE2, finished=False)
    ax = plotting.plot_phase_diagram(ex)
    assert any("no finished point" in t.get_text() for t in ax.texts)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["pending (60)"]
    ax = plotting.plot_uncertainty(ex)
    assert any("no finished point" in t.get_text() for t in ax.texts)


def test_convergence_plots_the_history():
    ex = StandIn(SPACE2)
    ax = plotting.plot_convergence(ex)
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    np.testing.assert_allclose(lines["changed fraction of the map"].get_ydata(), [0.5, 0.25, 0.5 / 3, 0.125])
    np.testing.assert_allclose(lines["mean uncertainty"].get_ydata(), [0.3, 0.15, 0.1, 0.075])
    np.testing.assert_allclose(lines["failed fraction"].get_ydata(), [0.05, 0, 0.05, 0])
    np.testing.assert_allclose(lines["mean uncertainty"].get_xdata(), [1, 2, 3, 4])
    empty = plotting.plot_convergence([])
    assert any("no completed iteration" in t.get_text() for t in empty.texts)


def test_save_with_three_panels(tmp_path):
    path = plotting.save_phase_diagram(StandIn(SPACE2), tmp_path / "all.png",
                                       panels=("phase", "uncertainty", "convergence"), dpi=50)
    img = mpimg.imread(path)
    assert img.shape[:2] == (int(4.5 * 50), int(3 * 6.0 * 50))
    assert fraction_of(img, blended(SKX)) > 0.005


def test_save_all_writes_three_pngs(tmp_path):
    paths = plotting.save_all(StandIn(SPACE2), tmp_path / "figs", dpi=40)
    assert [p.name for p in paths] == ["phase_diagram.png", "uncertainty.png", "convergence.png"]
    images = [mpimg.imread(p) for p in paths]
    assert all(img.shape[:2] == (int(4.5 * 40), int(6.0 * 40)) for img in images)
    assert fraction_of(images[0], blended(SKX)) > 0.01
    assert fraction_of(images[1], blended(SKX)) == 0.0  # the uncertainty map has no phase colours


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"dims": ("h", "J9")}, ValueError, r"dims \['J9'\] are not dimensions of the space; dimensions: \['h', 'K'\]"),
        ({"dims": ("h", "h")}, ValueError, "dims must name 1 or 2 distinct dimensions"),
        ({"slice_at": {"J9": 0.1}}, ValueError, "slice_at key 'J9' is not a dimension"),
        ({"slice_at": {"h": 0.1}}, ValueError, "slice_at fixes 'h', which is a plotted axis"),
        ({"points": "size"}, ValueError, r"points must be one of \['phase', 'iteration'\]; got 'size'"),
        ({"resolution": 1}, ValueError, "resolution must be >= 2; got 1"),
        ({"resolution": 2.5}, TypeError, "resolution must be an integer"),
        ({"region_alpha": 2}, ValueError, "region_alpha must be <= 1.0"),
    ],
)
def test_invalid_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        plotting.plot_phase_diagram(StandIn(SPACE2), **kwargs)


def test_slice_value_outside_the_box_and_bad_explorer(tmp_path):
    space = ParameterSpace({"h": (0.0, 1.0), "K": (0.0, 1.0), "J2": (0.0, 1.0)})
    with pytest.raises(ValueError, match=r"slice_at\['J2'\] must lie in \[0, 1\]; got 2.0"):
        plotting.plot_phase_diagram(StandIn(space), slice_at={"J2": 2.0})
    with pytest.raises(TypeError, match="explorer must be an ActiveLearningExplorer"):
        plotting.plot_phase_diagram(object())
    with pytest.raises(ValueError, match=r"panels must be one of"):
        plotting.save_phase_diagram(StandIn(SPACE2), tmp_path / "x.png", panels=("map",))


# ---------------------------------------------------------------------------- textures
def helix(lattice, n1=4):
    """In-plane helix with wavevector q = n1 b1 / L (exactly on the FFT grid)."""
    q = n1 * lattice.b[0] / lattice.L
    phase = lattice.positions @ q
    return np.stack([np.cos(phase), np.sin(phase), np.zeros(lattice.N)], axis=1), q


@pytest.mark.parametrize("kind", ["triangular", "square"])
def test_structure_factor_of_a_helix_has_peaks_at_plus_minus_q(kind):
    lat = make_lattice(kind, 12)
    S, q = helix(lat)
    ax = plotting.plot_structure_factor(S, lat)
    sc = ax.collections[0]
    vals = np.asarray(sc.get_array())
    offs = np.asarray(sc.get_offsets())
    assert len(vals) == lat.N - 1  # q = 0 left out
    top = offs[np.argsort(vals)[-2:]]
    # S_perp(+-Q) = 1/4 + 1/4 for an in-plane helix; everything else vanishes
    np.testing.assert_allclose(np.sort(vals)[-2:], [0.5, 0.5], atol=1e-12)
    assert np.sort(vals)[-3] < 1e-20
    got = sorted(map(tuple, np.round(top, 9)))
    assert got == sorted([tuple(np.round(q, 9)), tuple(np.round(-q, 9))])
    ax_z = plotting.plot_structure_factor(S, lat, component="z")
    assert np.abs(np.asarray(ax_z.collections[0].get_array())).max() < 1e-20


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(["triangular", "square"]))
def test_plotted_texture_obeys_sum_rule_and_integer_charge(seed, kind):
    lat = make_lattice(kind, 6)
    v = np.random.default_rng(seed).normal(size=(lat.N, 3))
    S = v / np.linalg.norm(v, axis=1, keepdims=True)
    fig, (ax1, ax2) = plt.subplots(1, 2)
    plotting.plot_structure_factor(S, lat, ax=ax1, component="total", exclude_zero=False)
    sq = np.asarray(ax1.collections[0].get_array())
    assert sq.sum() == pytest.approx(1.0, abs=1e-12)  # Parseval sum rule
    assert sq.max() >= np.sum(S.mean(axis=0) ** 2) - 1e-12  # S(0) = |m|^2 is among the values
    plotting.plot_charge_density(S, lat, ax=ax2)
    Q = np.asarray(ax2.collections[0].get_array()).sum()
    assert abs(Q - round(Q)) < 1e-8  # integer on a periodic lattice
    plt.close(fig)


def planted_skyrmion(lattice, radius=2.5):
    r = lattice.positions - lattice.positions.mean(axis=0)
    rho = np.linalg.norm(r, axis=1)
    theta = np.pi * np.exp(-((rho / radius) ** 2))
    phi = np.arctan2(r[:, 1], r[:, 0])
    return np.stack([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)], axis=1)


def test_texture_panels_of_a_planted_skyrmion(tmp_path):
    lat = make_lattice("triangular", 24)
    S = planted_skyrmion(lat)
    axes = plotting.plot_texture(S, "triangular")
    assert isinstance(axes, np.ndarray) and axes.shape == (3,)
    rho = np.asarray(axes[2].collections[0].get_array())
    assert rho.shape == (2 * lat.N,)
    assert abs(rho.sum()) == pytest.approx(1.0, abs=1e-6)  # one skyrmion: |Q| = 1
    assert "Q = " in axes[2].get_title()
    quiver = axes[0].collections[1]
    np.testing.assert_allclose(np.asarray(quiver.get_array()), S[:, 2])
    path = tmp_path / "tex.png"
    axes[0].figure.savefig(path, dpi=60)
    img = mpimg.imread(path)
    assert img.shape[:2] == (int(4.6 * 60), 16 * 60)
    # the core (S_z = -1) and the background (S_z = +1) both appear in the RdBu_r colours
    cmap = matplotlib.colormaps["RdBu_r"]
    for end in (0.0, 1.0):
        assert fraction_of(img, np.array(cmap(end)[:3]), tol=0.04) > 1e-4


def test_texture_input_errors():
    lat = make_lattice("square", 6)
    with pytest.raises(ValueError, match=r"spins must be a finite array of shape \(N, 3\); got shape \(36, 2\)"):
        plotting.plot_spin_texture(np.zeros((36, 2)), lat)
    with pytest.raises(ValueError, match="must have L\\*L rows; got 35 rows"):
        plotting.plot_spin_texture(np.ones((35, 3)), "square")
    with pytest.raises(ValueError, match="lattice must be a Lattice with N=64"):
        plotting.plot_charge_density(np.ones((64, 3)), lat)
    with pytest.raises(ValueError, match=r"component must be one of"):
        plotting.plot_structure_factor(np.ones((36, 3)), lat, component="xy")


# ---------------------------------------------------------------------------- the real explorer
def analytic_simulation(params):
    """Phases by regions of (h, K), as in ``rule``; raises in the strip h < 0.05."""
    if params["h"] < 0.05:
        raise ValueError("no convergence below h = 0.05")
    return PhaseType(int(rule(np.array([[params["h"], params["K"]]]))[0]))


def test_real_explorer_phase_diagram_png(tmp_path):
    explorer_mod = pytest.importorskip("spinexplore.explorer")
    ex = explorer_mod.ActiveLearningExplorer(SPACE2, seed=0, verbose=False)
    ex.run(n_iterations=1, n_per_iteration=10, simulation=analytic_simulation, n_initial=30,
           n_jobs=1, backend="sequential", progress=False)
    n_failed = int(np.sum(ex.status == PointStatus.FAILED))
    assert n_failed == int(np.sum(ex.X[:, 0] < 0.05))
    path = plotting.save_phase_diagram(ex, tmp_path / "real.png", panels=("phase", "convergence"),
                                       dpi=100, points=None, legend=False)
    img = mpimg.imread(path)
    assert img.shape[:2] == (450, 1200)
    fr = {p: fraction_of(img, blended(p)) for p in (FM, SQ, SKX)}
    total = sum(fr.values())
    # the learned map is close to the analytic areas FM 0.40, SKYRMION 0.15, SINGLE_Q 0.45
    assert fr[FM] / total == pytest.approx(0.40, abs=0.08)
    assert fr[SKX] / total == pytest.approx(0.15, abs=0.08)
    assert fr[SQ] / total == pytest.approx(0.45, abs=0.08)
    ax = plotting.plot_phase_diagram(ex)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:3] == ["FERROMAGNET", "SINGLE_Q", "SKYRMION"]
    if n_failed:
        assert f"failed ({n_failed})" in labels
