"""Tests of spinexplore.plotting: the figures are written to PNG and read back.

The stand-in explorer predicts phases from an analytic rule on (h, K), so the expected area of
each coloured region is known exactly.
"""

from __future__ import annotations

from pathlib import Path

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
from spinexplore import analysis, plotting  # noqa: E402
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
    assert labels == ["FM", "helix (1Q)", "SkX", "max p < 0.6", "failed (3)", "timeout (2)", "pending (2)"]
    path = tmp_path / "pd.png"
    ax.figure.savefig(path, dpi=100)
    img = mpimg.imread(path)
    # finished points are drawn in the full phase colour, timeouts as orange crosses
    for phase in (FM, SQ, SKX, PhaseType.TIMEOUT):
        assert fraction_of(img, to_rgb(plotting.PHASE_COLORS[phase]), tol=0.03) > 1e-4, phase.name


def test_points_colored_by_iteration_get_a_discrete_colorbar_clear_of_the_legend():
    ex = StandIn(SPACE2)
    ax = plotting.plot_phase_diagram(ex, points="iteration")
    assert len(ax.figure.axes) == 2
    cbar = ax.figure.axes[1]
    assert cbar.get_xlabel().startswith("iteration")
    assert [t.get_text() for t in cbar.get_xticklabels()] == ["0", "1", "2", "3"]  # one colour per round
    ax.figure.canvas.draw()
    renderer = ax.figure.canvas.get_renderer()
    legend_box = ax.get_legend().get_window_extent(renderer)
    assert not legend_box.overlaps(cbar.get_window_extent(renderer))
    assert not legend_box.overlaps(ax.get_window_extent(renderer))
    # the legend below (the journal styles' choice) sends the colorbar to the right
    ax = plotting.plot_phase_diagram(ex, points="iteration", legend="below")
    cbar, (legend,) = ax.figure.axes[1], ax.figure.legends
    assert cbar.get_ylabel() == "iteration"
    ax.figure.canvas.draw()
    renderer = ax.figure.canvas.get_renderer()
    legend_box = legend.get_window_extent(renderer)
    assert legend_box.y1 < ax.xaxis.label.get_window_extent(renderer).y0  # below the x label
    assert not legend_box.overlaps(cbar.get_window_extent(renderer))
    with pytest.raises(ValueError, match="legend must be True, False, 'right' or 'below'; got 'top'"):
        plotting.plot_phase_diagram(ex, legend="top")


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
    assert ax.get_xlabel() == "$K$" and ax.get_ylabel() == "$J_2$"
    n_inside = int(np.sum(np.abs(ex.X[:, 0] - 0.45) <= 0.05))
    assert f"h = 0.45; points with h in [0.4, 0.5]: {n_inside} of 200" in " ".join(ax.get_title().split())
    # only points within 0.05 of h = 0.45 are drawn
    from matplotlib.collections import PathCollection

    n_drawn = sum(len(c.get_offsets()) for c in ax.collections if type(c) is PathCollection)
    assert n_drawn == n_inside
    sl = analysis.slice_points(ex, x="K", y="J2", at={"h": 0.45}, slice_tol=0.05)
    np.testing.assert_array_equal(sl.inside, np.flatnonzero(np.abs(ex.X[:, 0] - 0.45) <= 0.05))
    assert sl.defaulted == () and sl.at == {"h": 0.45}


@pytest.mark.parametrize("style", [None, "single", "double"])
def test_the_title_of_a_3d_slice_fits_in_the_figure(style):
    """Issue 23 (10): the default title of a 3-D run was clipped on both sides."""
    from matplotlib.figure import Figure

    from spinexplore.plotting._common import figure_size, style_rc

    space = ParameterSpace({"h": (0.0, 1.0), "K": (0.0, 1.0), "J2": (0.0, 1.0)})
    with matplotlib.rc_context(style_rc(style)):
        fig = Figure(figsize=figure_size(style, 1, (6.0, 4.5)), layout="constrained")
        ax = fig.subplots()
        plotting.plot_phase_diagram(StandIn(space, n=200), ax=ax)
        fig.draw_without_rendering()  # runs the layout, as savefig does
        box, title = fig.bbox, ax.title.get_window_extent()
    assert "J2" in ax.get_title()  # the slice is described
    assert box.x0 - 1 <= title.x0 and title.x1 <= box.x1 + 1 and title.y1 <= box.y1 + 1, (title, box)


def test_default_slice_is_the_middle_of_the_box_and_log_axes_are_log():
    space = ParameterSpace({"h": (0.0, 1.0), "T": (0.01, 1.0, "log"), "K": (0.0, 1.0)})
    ex = StandIn(space, n=30)
    ax = plotting.plot_phase_diagram(ex, dims=("h", "T"))
    assert ax.get_yscale() == "log"
    assert "K = 0.5 (middle of the box, not chosen)" in ax.get_title()


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
    """Issue 23 (figures): the convergence plot put two quantities on one "fraction" axis against
    rounds; each now has its own labelled axis, against the number of finished simulations."""
    ex = StandIn(SPACE2)
    ax = plotting.plot_convergence(ex)
    axes = {a: {ln.get_label(): ln for ln in a.get_lines()} for a in ax.figure.axes}
    owner = {label: a for a, lines in axes.items() for label in lines}
    changed, unc, failed = ("map changed since the last fit", "mean uncertainty of the candidates",
                            "failed or timed out")
    assert len({owner[changed], owner[unc], owner[failed]}) == 3  # one quantity per axis
    assert owner[changed] is ax
    np.testing.assert_allclose(axes[ax][changed].get_ydata(), [50.0, 25.0, 50 / 3, 12.5])  # percent
    np.testing.assert_allclose(axes[owner[unc]][unc].get_ydata(), [0.3, 0.15, 0.1, 0.075])
    np.testing.assert_allclose(axes[owner[failed]][failed].get_ydata(), [5.0, 0, 5.0, 0])
    # x: finished simulations (n_done + n_failed = 20 in every entry of the stand-in's history)
    np.testing.assert_allclose(axes[owner[unc]][unc].get_xdata(), [20, 20, 20, 20])
    assert ax.get_xlabel().startswith("finished simulations")
    assert ax.get_ylabel() == "map changed (% of grid cells)"
    assert "uncertainty" in owner[unc].get_ylabel() and "%" in owner[failed].get_ylabel()
    history = [{"iteration": i, "n_points": 10 * i, "n_done": 10 * i - 2, "n_failed": 0,
                "changed_fraction": 0.1, "mean_uncertainty": 0.2} for i in (1, 2, 3)]
    ax = plotting.plot_convergence(history)
    np.testing.assert_allclose(ax.get_lines()[0].get_xdata(), [8, 18, 28])
    assert len(ax.figure.axes) == 2  # no failures: no third axis
    ax = plotting.plot_convergence([{"iteration": 4, "changed_fraction": 0.1, "mean_uncertainty": 0.2}])
    assert ax.get_xlabel() == "iteration"  # an old history without counts
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
    discs, quiver = axes[0].collections[:2]
    np.testing.assert_allclose(np.asarray(discs.get_array()), S[:, 2])  # sites coloured by S_z
    np.testing.assert_allclose(quiver.U, S[:, 0])  # arrows: the in-plane components
    np.testing.assert_allclose(quiver.V, S[:, 1])
    path = tmp_path / "tex.png"
    axes[0].figure.savefig(path, dpi=60)
    img = mpimg.imread(path)
    assert img.shape[:2] == (int(5.0 * 60), 15 * 60)
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
    import spinexplore.explorer as explorer_mod
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
    assert labels[:3] == ["FM", "helix (1Q)", "SkX"]
    if n_failed:
        assert f"failed ({n_failed})" in labels


# ---------------------------------------------------------------------------- journal figures
@pytest.mark.parametrize("style, width_in", [("single", 3.4), ("double", 7.0)])
def test_png_in_a_column_style_has_the_column_width_and_dpi(tmp_path, style, width_in):
    from PIL import Image

    path = plotting.save_phase_diagram(StandIn(SPACE2), tmp_path / "pd.png", style=style, dpi=200)
    with Image.open(path) as img:
        assert img.size[0] == round(width_in * 200)
        assert img.info["dpi"] == pytest.approx((200, 200), abs=0.5)
    img = mpimg.imread(path)
    assert fraction_of(img, blended(SKX)) > 0.02
    with plotting.journal_style(style):
        assert matplotlib.rcParams["font.size"] == 8 and matplotlib.rcParams["pdf.fonttype"] == 42


def test_pdf_and_svg_are_vector_files_with_labels_and_legend_as_text(tmp_path):
    ex = StandIn(SPACE2)
    kw = {"style": "single", "labels": {"h": "field h"}, "units": {"h": "meV", "K": "meV"},
          "phase_labels": {"SINGLE_Q": "spiral"}}
    svg = plotting.save_phase_diagram(ex, tmp_path / "pd.svg", **kw)
    text = Path(svg).read_text(encoding="utf-8")
    assert 'width="244.8pt"' in text  # 3.4 in
    for label in ("field h / meV", "FM", "spiral", "SkX", "failed (3)", "timeout (2)"):
        assert f">{label}<" in text, label
    assert ">SINGLE_Q<" not in text and ">FERROMAGNET<" not in text
    pdf = plotting.save_phase_diagram(ex, tmp_path / "pd.pdf", **kw)
    raw = Path(pdf).read_bytes()
    assert raw.startswith(b"%PDF")
    assert b"/MediaBox [ 0 0 244.8 " in raw
    assert b"/FontFile2" in raw  # TrueType fonts embedded: the text stays text


def test_axis_labels_carry_units_and_the_spinsimulation_unit_is_j1():
    ex = StandIn(SPACE2)
    ax = plotting.plot_phase_diagram(ex, units="J_1")
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("$h$ / $J_1$", "$K$ / $J_1$")
    ex.simulation_description = {"simulation": "SpinSimulation", "model": "square-chiral"}
    ax = plotting.plot_uncertainty(ex, labels={"K": "anisotropy $K$"})
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("$h$ / $J_1$", "anisotropy $K$ / $J_1$")


def test_smooth_boundaries_and_hatched_uncertainty_on_the_diagram():
    from matplotlib.contour import ContourSet

    ex = StandIn(SPACE2)
    ax = plotting.plot_phase_diagram(ex, points=None)
    sets = [c for c in ax.collections if isinstance(c, ContourSet)]
    lines = [c for c in sets if not c.filled]
    hatched = [c for c in sets if c.filled and c.hatches and c.hatches[0]]
    assert lines and hatched
    # every boundary line lies on the rule's boundaries h = 0.3, h = 0.6 or K = 0.5
    for cs in lines:
        for path in cs.get_paths():
            v = path.vertices
            d = np.min([np.abs(v[:, 0] - 0.3), np.abs(v[:, 0] - 0.6), np.abs(v[:, 1] - 0.5)], axis=0)
            assert d.max() < 0.02
    ax = plotting.plot_phase_diagram(ex, points=None, boundaries=False, uncertain=None, smooth=False)
    assert not [c for c in ax.collections if isinstance(c, ContourSet)]


def test_output_suffix_and_dpi_are_checked_before_drawing(tmp_path):
    with pytest.raises(ValueError, match=r"must end in one of .*'\.pdf'.*got '\.pnx'"):
        plotting.save_phase_diagram(StandIn(SPACE2), tmp_path / "pd.pnx")
    with pytest.raises(ValueError, match="dpi must be >= 10; got 5"):
        plotting.save_phase_diagram(StandIn(SPACE2), tmp_path / "pd.png", dpi=5)
    with pytest.raises(ValueError, match=r"style must be one of \['single', 'double'\]; got 'wide'"):
        plotting.save_phase_diagram(StandIn(SPACE2), tmp_path / "pd.png", style="wide")
    with pytest.raises(ValueError, match="not both"):
        plotting.plot_phase_diagram(StandIn(SPACE2), x="h", dims=("h", "K"))
    with pytest.raises(ValueError, match=r"x/y \['J9'\] are not dimensions of the space; dimensions: \['h', 'K'\]"):
        plotting.plot_phase_diagram(StandIn(SPACE2), x="h", y="J9")
    with pytest.raises(ValueError, match="y='K' needs x as well"):
        plotting.plot_phase_diagram(StandIn(SPACE2), y="K")
    assert not list(tmp_path.iterdir())
    with pytest.raises(ValueError, match=r"must end in one of .*got '\.xyz'"):
        plotting.save_all(StandIn(SPACE2), tmp_path / "figs", format="xyz")
    assert not list(tmp_path.iterdir())
    paths = plotting.save_all(StandIn(SPACE2), tmp_path / "new" / "figs", format="svg", dpi=50)
    assert [p.name for p in paths] == ["phase_diagram.svg", "uncertainty.svg", "convergence.svg"]


def test_textures_refuse_a_lattice_that_is_not_theirs():
    lat = make_lattice("square", 8)
    S, q = helix(lat, n1=2)
    tex = analysis.Texture(spins=S, lattice="square", L=8, model="square-chiral", index=0, params={},
                           phase=SQ, energy=-1.0, source="memory")
    with pytest.raises(ValueError, match="square lattice with L=8; it cannot be drawn on lattice='triangular'"):
        plotting.plot_texture(tex, "triangular")
    with pytest.raises(ValueError, match="cannot be drawn"):
        plotting.plot_structure_factor(tex, make_lattice("square", 6))
    ax = plotting.plot_structure_factor(tex)  # its own lattice: the peaks at +-q
    top = np.asarray(ax.collections[0].get_offsets())[np.argsort(ax.collections[0].get_array())[-2:]]
    assert sorted(map(tuple, np.round(top, 9))) == sorted([tuple(np.round(q, 9)), tuple(np.round(-q, 9))])
    assert "square, L=8" in plotting.plot_spin_texture(tex).get_title()


def test_phase_gallery_shows_one_texture_per_phase(tmp_path):
    import spinexplore.explorer as explorer_mod
    lat = make_lattice("square", 8)

    def sim(params):
        S, _ = helix(lat, n1=1 if params["h"] < 0.5 else 2)
        if params["h"] > 0.8:
            S = np.tile([0.0, 0.0, 1.0], (lat.N, 1))
        phase = FM if params["h"] > 0.8 else SQ
        return {"phase": phase, "energy": -params["h"], "spins": S, "confidence": 0.5 + 0.5 * params["K"]}

    ex = explorer_mod.ActiveLearningExplorer(SPACE2, seed=0, verbose=False)
    for h, K in [(0.1, 0.2), (0.3, 0.9), (0.9, 0.5), (0.95, 0.1)]:
        ex.tell({"h": h, "K": K}, sim({"h": h, "K": K}))
    with pytest.raises(ValueError, match="the lattice of point .* is unknown"):
        plotting.plot_phase_gallery(ex)
    tex = analysis.texture(ex, 1, lattice="square")
    assert (tex.source, tex.L, tex.phase) == ("memory", 8, SQ)
    axes = plotting.plot_phase_gallery(ex, lattice="square")
    assert len(axes) == 3
    assert [a.get_title().split("\n")[0] for a in axes[1:]] == ["(1) FM", "(2) helix (1Q)"]
    assert "K=0.9" in axes[2].get_title()  # the most confident helix point
    with pytest.raises(ValueError, match=r"phases \['SKYRMION'\] have no DONE point"):
        plotting.plot_phase_gallery(ex, phases=["SKYRMION"], lattice="square")
    path = plotting.save_phase_gallery(ex, tmp_path / "gallery.pdf", style="double", lattice="square")
    assert Path(path).read_bytes()[:4] == b"%PDF"
    # issue 23 (figures): a free slot of the textures' grid was left empty; the S_z colour bar
    # fills it (horizontal, about a panel wide, in the row of the textures, right of them)
    axes = plotting.plot_phase_gallery(ex, lattice="square", n_columns=3)
    fig = axes[0].figure
    fig.draw_without_rendering()
    every = list(fig.axes) + [c for a in fig.axes for c in a.child_axes]
    (cbar,) = [a for a in every if "$S_z$" in a.get_xlabel() + a.get_ylabel()]
    inv = fig.transFigure.inverted()
    box, last = inv.transform_bbox(cbar.get_window_extent()), axes[-1].get_position()
    assert box.width > 0.6 * last.width and box.height < 0.3 * last.height  # horizontal, panel wide
    assert box.x0 >= last.x1 and last.y0 <= 0.5 * (box.y0 + box.y1) <= last.y1


@pytest.mark.parametrize("kind, corners", [("triangular", 6), ("square", 4)])
def test_structure_factor_on_a_log_scale_inside_the_brillouin_zone(kind, corners):
    """Issue 23 (figures): S(q) was linear, with no zone and no units on q."""
    from matplotlib.colors import LogNorm
    from matplotlib.patches import Polygon

    from spinexplore.plotting._texture import brillouin_zone

    lat = make_lattice(kind, 12)
    S, _ = helix(lat)
    ax = plotting.plot_structure_factor(S, lat)
    assert isinstance(ax.collections[0].norm, LogNorm) and "log" in ax.collections[0].colorbar.ax.get_ylabel()
    zone = [p for p in ax.patches if isinstance(p, Polygon)]
    assert len(zone) == 1 and len(brillouin_zone(lat.b)) == corners
    # the zone: every folded q lies in it, and its corners are equidistant from q = 0 and the nearest b
    r = np.hypot(*brillouin_zone(lat.b).T)
    np.testing.assert_allclose(r, r[0])
    assert r[0] == pytest.approx(np.linalg.norm(lat.b[0]) / (np.sqrt(3) if kind == "triangular" else np.sqrt(2)))
    assert "a^{-1}" in ax.get_xlabel() and "/ $a$" in plotting.plot_spin_texture(S, lat).get_xlabel()


def test_texture_figure_names_the_point_its_phase_and_parameters():
    from spinexplore.analysis import Texture

    lat = make_lattice("triangular", 12)
    S, _ = helix(lat)
    tex = Texture(spins=S, lattice="triangular", L=12, model="triangular-chiral", index=17,
                  params={"h": 0.05, "K": 0.1}, phase=SQ, energy=-3.2, source="rerun")
    axes = tex.plot()
    title = axes[0].figure.get_suptitle()
    assert "point 17: helix (1Q) (SINGLE_Q)" in title and "h = 0.05 J$_1$" in title and "L = 12" in title
    assert [t.get_text() for ax in axes for t in ax.texts if t.get_text().startswith("(")] == ["(a)", "(b)", "(c)"]


def test_texture_plot_draws_with_what_plotting_installs(monkeypatch):
    """Issue 25: analysis no longer imports plotting (a leaf); importing plotting installs the
    drawing, and without it Texture.plot loads plotting by name when it is called."""
    from spinexplore.analysis import Texture

    assert Texture.plotter is plotting.plot_texture
    tex = Texture(spins=np.tile([0.0, 0.0, 1.0], (36, 1)), lattice="square", L=6, model="custom", index=0,
                  params={}, phase=PhaseType.FERROMAGNET, energy=-2.0, source="memory")
    monkeypatch.setattr(Texture, "plotter", None)
    axes = tex.plot()
    assert "point 0" in axes[0].figure.get_suptitle()


def test_journal_figures_have_panels_of_about_4_to_3_and_panel_labels(tmp_path):
    """Issue 23 (figures): `--style double` gave a 2.4:1 plot; multi-panel figures had no (a), (b)."""
    from spinexplore.plotting._common import figure_size

    for style, n in (("single", 1), ("double", 1), ("double", 2)):
        w, h = figure_size(style, n, (6.0, 4.5))
        assert 1.0 <= (w / n) / (h - 0.9) <= 1.5, (style, n, w, h)
    from matplotlib.figure import Figure

    ex = StandIn(SPACE2)
    path = plotting.save_phase_diagram(ex, tmp_path / "two.png", panels=("phase", "uncertainty"), style="double",
                                       font="serif", dpi=50)
    assert mpimg.imread(path).shape[1] == 350
    fig = Figure()
    ax = fig.subplots()
    from spinexplore.plotting._common import panel_label, run_caption

    panel_label(ax, 1)
    assert ax.texts[0].get_text() == "(b)"
    assert run_caption(ex) is None  # no recorded simulation: the title stays "phase diagram"

    class Run(StandIn):
        simulation_description = {"simulation": "SpinSimulation", "model": "triangular-chiral",
                                  "model_params": {"J1": 1.0, "D": 0.5625}, "lattice_size": 24, "mode": "fast"}
        n_points = 60

    assert run_caption(Run(SPACE2)) == "triangular-chiral (D/J = 0.5625), L = 24, fast, 60 points"
    with pytest.raises(ValueError, match="font"):
        plotting.save_phase_diagram(ex, tmp_path / "x.png", font="comic")


class HT(StandIn):
    """An h-T diagram: helix at h < 0.2, FM at h >= 0.2, both below T = 0.5; PM above."""

    classes_ = np.array([int(FM), int(SQ), int(PhaseType.PARAMAGNET)])

    def predict(self, X):
        X = np.asarray(X, dtype=float)
        ph = np.where(X[:, 1] >= 0.5, int(PhaseType.PARAMAGNET), np.where(X[:, 0] < 0.2, int(SQ), int(FM)))
        proba = (ph[:, None] == self.classes_[None, :]).astype(float) * 0.9 + 0.05
        return ph, proba


def _line_points(ax):
    """Vertices of the boundary lines (black contour paths) drawn on ``ax``."""
    from matplotlib.contour import ContourSet

    pts = [np.zeros((0, 2))]
    for c in ax.collections:
        if isinstance(c, ContourSet) and c.get_edgecolor().size and np.allclose(c.get_edgecolor()[0][:3], 0):
            pts += [p.vertices for p in c.get_paths()]
    return np.vstack(pts)


def test_a_crossover_is_not_drawn_as_a_transition():
    """Issue 23 (figures): in an h-T diagram the FM|PM line at h > 0 was drawn (it is a crossover)."""
    ex = HT(ParameterSpace({"h": (0.0, 1.0), "T": (0.0, 1.0)}), n=40)
    ax = plotting.plot_phase_diagram(ex, points=None, uncertain=None)
    pts = _line_points(ax)
    on_fm_pm = (pts[:, 0] > 0.3) & (np.abs(pts[:, 1] - 0.5) < 0.05)
    assert not on_fm_pm.any() and len(pts)  # the helix's lines are still drawn
    assert any("FM | PM: crossover (no line)" == t.get_text() for t in ax.get_legend().get_texts())
    every = _line_points(plotting.plot_phase_diagram(ex, points=None, uncertain=None, crossovers=()))
    assert ((every[:, 0] > 0.3) & (np.abs(every[:, 1] - 0.5) < 0.05)).any()
    with pytest.raises(ValueError, match="crossovers must be pairs"):
        plotting.plot_phase_diagram(ex, crossovers=["FERROMAGNET"])


def test_phase_gallery_of_a_users_own_labels(tmp_path):
    """Issue 22: the gallery asked PhaseType for every name (`phases=["q0"]` raised) and showed
    built-in phases only; it now shows the run's labels with their display names."""
    import spinexplore.explorer as explorer_mod
    lat = make_lattice("square", 8)

    def sim(params):
        S, _ = helix(lat, n1=1 if params["h"] < 0.5 else 2)
        return {"phase": "spiral" if params["h"] < 0.5 else "cone", "energy": -params["h"], "spins": S}

    ex = explorer_mod.ActiveLearningExplorer(SPACE2, seed=0, verbose=False,
                                             phases={"cone": r"cone $\theta$", "spiral": "spiral"})
    for h, K in [(0.1, 0.2), (0.3, 0.9), (0.9, 0.5)]:
        ex.tell({"h": h, "K": K}, sim({"h": h, "K": K}))
    axes = plotting.plot_phase_gallery(ex, lattice="square")
    assert [a.get_title().split("\n")[0] for a in axes[1:]] == [r"(1) cone $\theta$", "(2) spiral"]
    axes = plotting.plot_phase_gallery(ex, phases=["spiral"], lattice="square")
    assert len(axes) == 2 and axes[1].get_title().startswith("(1) spiral")
    with pytest.raises(ValueError, match=r"phases \['q0'\] have no DONE point"):
        plotting.plot_phase_gallery(ex, phases=["q0"], lattice="square")


MAX = PhaseType.MERON_ANTIMERON


class Thin(StandIn):
    """Helix below K = 0.5, SkX above, and a meron-antimeron band |K - 0.5| < 0.01 between them:
    thinner than a cell at resolution 20 (cells of 0.05, no centre inside the band), with six
    finished MAX points on its middle line. ``band=False``: the surrogate never ranks MAX first
    (only the points say it is there)."""

    classes_ = np.array([int(SQ), int(SKX), int(MAX)])

    def __init__(self, space, band=True, **kw):
        super().__init__(space, **kw)
        self.band = band
        K = self.X[:, 1]
        self.phases = np.where(K < 0.5, int(SQ), int(SKX))
        self.status[:] = PointStatus.DONE
        self.X[:6] = np.column_stack([np.linspace(0.1, 0.9, 6), np.full(6, 0.5)])
        self.phases[:6] = int(MAX)

    def predict(self, X):
        X = np.asarray(X, dtype=float)
        K = X[:, 1]
        ph = np.where(np.abs(K - 0.5) < 0.01, int(MAX), np.where(K < 0.5, int(SQ), int(SKX)))
        if not self.band:
            ph = np.where(K < 0.5, int(SQ), int(SKX))
        proba = (ph[:, None] == self.classes_[None, :]).astype(float) * 0.8 + 0.2 / 3
        if not self.band:
            proba[:, 2] = 0.3 * np.exp(-((K - 0.5) / 0.02) ** 2)  # close to first near the line, never first
        return ph, proba


def _has_artist_of_colour(ax, rgb, tol=0.02):
    """True when a collection other than the point scatter has ``rgb`` as a face colour."""
    from matplotlib.collections import PathCollection

    for c in ax.collections:
        fc = c.get_facecolor()
        if len(fc) and not (isinstance(c, PathCollection) and c.get_hatch() is None) \
                and np.any(np.all(np.abs(np.asarray(fc)[:, :3] - rgb) < tol, axis=1)):
            return True
    return False


@pytest.mark.parametrize("band", [True, False])
def test_a_phase_thinner_than_the_grid_is_drawn_not_only_listed(tmp_path, band):
    """Issue 23 (figures): a thin phase (MAX on the helix|SkX line, six points) was in the legend
    but no region of its colour was drawn. Now its region is drawn on a finer grid near its points,
    or, when the surrogate ranks it first nowhere, its points are hatched; the legend says which."""
    ex = Thin(SPACE2, band=band, n=60)
    ax = plotting.plot_phase_diagram(ex, resolution=20, points=None, uncertain=None)
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    if band:
        assert _has_artist_of_colour(ax, blended(MAX))
        assert "MAX (meron-antimeron), thin: drawn 8x finer" in texts
    else:
        hatched = [c for c in ax.collections if c.get_hatch()]
        assert hatched and np.allclose(hatched[0].get_edgecolor()[0][:3], to_rgb(plotting.PHASE_COLORS[MAX]))
        assert len(hatched[0].get_offsets()) == 6
        assert "MAX (meron-antimeron): points only (hatched)" in texts
    # and in the PNG: pixels of MAX's colour, with the points hidden
    path = plotting.save_phase_diagram(ex, tmp_path / "thin.png", dpi=100, panel_size=(6.0, 4.5),
                                       points=None, legend=False, resolution=20, uncertain=None)
    img = mpimg.imread(path)
    colour = blended(MAX) if band else np.array(to_rgb(plotting.PHASE_COLORS[MAX]))
    assert fraction_of(img, colour, tol=0.03) > 5e-4


def test_observable_along_a_slice_has_error_bars_of_monte_carlo_averages():
    """Issue 23 (figures): Monte Carlo points had no error bars. ``plot_observable`` draws an
    observable along a 1-D slice, with +- the recorded standard error (``<name>_err``) where the
    value is an average (T > 0) and no bar where it is not (T = 0)."""
    from types import SimpleNamespace

    from matplotlib.collections import LineCollection

    from spinexplore.results import SimulationResult

    space = ParameterSpace({"T": (0.0, 2.0), "h": (0.0, 1.0)})
    ex = StandIn(space, n=30, seed=3)
    ex.status[:] = PointStatus.DONE
    ex.X[:, 1] = 0.5  # all on the slice h = 0.5
    ex.X[0, 0] = 0.0  # a T = 0 point: no average, no error
    ex.phases = np.where(ex.X[:, 0] < 1.0, int(FM), int(PhaseType.PARAMAGNET))
    T = ex.X[:, 0]
    err = np.where(T > 0, 0.01 + 0.05 * T, np.nan)
    obs = [{"m_z": float(np.exp(-t)), **({"m_z_err": float(e)} if t > 0 else {})} for t, e in zip(T, err)]
    ex.records = [SimpleNamespace(result=SimulationResult(phase=PhaseType(int(p)), confidence=1.0, energy=-t,
                                                          observables=o))
                  for p, t, o in zip(ex.phases, T, obs)]
    ax = plotting.plot_observable(ex, "m_z", x="T", at={"h": 0.5})
    bars = [c for c in ax.collections if isinstance(c, LineCollection)]
    segs = np.vstack([np.asarray(s) for c in bars for s in c.get_segments()]).reshape(-1, 2, 2)
    assert len(segs) == 29  # one bar per T > 0 point, none at T = 0
    by_x = {round(float(s[0, 0]), 9): s for s in segs}
    assert 0.0 not in by_x
    for t, e in zip(T[1:], err[1:]):
        s = by_x[round(float(t), 9)]
        assert abs(s[1, 1] - s[0, 1]) / 2 == pytest.approx(e, abs=1e-12)
        assert (s[1, 1] + s[0, 1]) / 2 == pytest.approx(np.exp(-t))
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "+- 1 standard error (binned)" in texts and "FM" in texts and "PM" in texts
    assert ax.get_xlabel() == "$T$" and ax.get_ylabel() == "m_z"
    energy = plotting.plot_observable(ex, "energy", x="T", at={"h": 0.5}, errors=False)
    assert not [c for c in energy.collections if isinstance(c, LineCollection)]
    with pytest.raises(ValueError, match="observable 'm_q' is recorded by none"):
        plotting.plot_observable(ex, "m_q", x="T")


def _arrow_run_ratio(img):
    """Mean horizontal over mean vertical length of the runs of black (arrow) pixels (the
    background between the sites is 0.18 grey)."""
    white = np.all(img[..., :3] < 0.12, axis=-1)

    def runs(m):
        d = np.diff(np.pad(m.astype(int), ((0, 0), (1, 1))), axis=1).ravel()
        return (np.flatnonzero(d == -1) - np.flatnonzero(d == 1)).mean()

    return runs(white) / runs(white.T)


def test_texture_arrows_keep_their_shape_in_a_small_gallery_panel():
    """Issue 23 (figures): in the gallery's small panels the textures showed dots, not arrows (dots
    of a fixed size in points covered arrows whose width was a fraction of the axes). Spins along
    +x (S_z = 0) must show as horizontal arrows in a 1.6 in panel as in a 6 in one."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    lat = make_lattice("square", 16)
    S = np.tile([1.0, 0.0, 0.0], (lat.N, 1))
    ratios = []
    for size in (1.6, 6.0):
        fig = Figure(figsize=(size, size), dpi=200)  # the README gallery's resolution
        FigureCanvasAgg(fig)
        plotting.plot_spin_texture(S, lat, ax=fig.add_axes([0, 0, 1, 1]), colorbar=False)
        fig.canvas.draw()
        ratios.append(_arrow_run_ratio(np.asarray(fig.canvas.buffer_rgba()) / 255.0))
    assert min(ratios) > 2.3, ratios  # arrows along x, not round dots
