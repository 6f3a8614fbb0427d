"""Make the figures of docs/images from real runs of the two presets (about 2 x 2 min on 2 cores).

    python docs/images/make_figures.py [--runs DIR]

Each preset is explored in its default box (as ``spinexplore run``: h in [0, 1.2 u],
K in [-0.5 u, 2 u] with u = D^2/J, x 1.5 on the triangular lattice) with 40 initial points and
6 rounds of 10 on 2 workers; the stores go to DIR (default: a folder in the system's temp
directory) and are reused when present, so the figures can be redrawn without rerunning. Written
here: phase_diagram*.png/.pdf, boundaries_*.png/.csv, gallery_*.png and texture_*.png (one
skyrmion-crystal point, from a bit-identical rerun).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from spinexplore import ActiveLearningExplorer, ParameterSpace, SpinSimulation  # noqa: E402
from spinexplore import analysis, plotting  # noqa: E402
from spinexplore.physics.model import SpinModel  # noqa: E402

HERE = Path(__file__).resolve().parent
RUNS = {"triangular-chiral": 24, "square-chiral": 16}


def explore(model: str, L: int, runs: Path) -> ActiveLearningExplorer:
    store = runs / f"{model}-L{L}.h5"
    if store.exists():
        return ActiveLearningExplorer.load(store, read_only=True, verbose=False)
    u = SpinModel.preset(model).natural_unit
    space = ParameterSpace({"h": (0.0, round(1.2 * u, 6)), "K": (round(-0.5 * u, 6), round(2.0 * u, 6))})
    ex = ActiveLearningExplorer(space, seed=0, store=store, verbose=False)
    ex.run(n_iterations=6, n_per_iteration=10, n_initial=40, n_jobs=2, progress=False, timeout=600,
           simulation=SpinSimulation(model, lattice_size=L, mode="fast"))
    return ex


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default=str(Path(tempfile.gettempdir()) / "spinexplore-docs-runs"),
                        help="folder of the run stores and boundary CSVs")
    args = parser.parse_args()
    runs = Path(args.runs)
    runs.mkdir(parents=True, exist_ok=True)
    for model, L in RUNS.items():
        ex = explore(model, L, runs)
        name = model.split("-")[0]
        note = f"{model}, L = {L}"
        plotting.save_phase_diagram(ex, HERE / f"phase_diagram_{name}.png", style="single", dpi=300,
                                    title=f"{note}, {ex.n_points} points")
        plotting.save_phase_diagram(ex, HERE / f"phase_diagram_{name}.pdf", style="single",
                                    title=f"{note}, {ex.n_points} points")
        boundaries = analysis.phase_boundaries(ex)
        analysis.save_boundaries(boundaries, HERE / f"boundaries_{name}.csv")
        import matplotlib.pyplot as plt

        with plotting.journal_style("single"):
            fig, ax = plt.subplots(figsize=(3.4, 2.9), layout="constrained")
            plotting.plot_phase_diagram(ex, ax=ax, boundaries=False, uncertain=None, points=None, legend=False,
                                        title=f"boundaries, {note}")
            plotting.plot_boundaries(boundaries, ax=ax)
            fig.savefig(HERE / f"boundaries_{name}.png", dpi=300)
            plt.close(fig)
        plotting.save_phase_gallery(ex, HERE / f"gallery_{name}.png", style="double", dpi=200,
                                    title=f"{note}, {ex.n_points} points")
        skx = [r.index for r in ex.records if r.result is not None and r.result.phase.name == "SKYRMION"]
        if skx:
            tex = analysis.texture(ex, skx[len(skx) // 2])
            axes = tex.plot()  # as `spinexplore show DIR I` draws it
            axes[0].figure.savefig(HERE / f"texture_{name}.png", dpi=90)
            plt.close(axes[0].figure)
        if model == "triangular-chiral":  # the README's headline figure
            plotting.save_phase_diagram(ex, HERE / "phase_diagram.png", style="double", dpi=150,
                                        panels=("phase", "uncertainty"), title=f"{note}, {ex.n_points} points")
        ex.close()


if __name__ == "__main__":
    main()
