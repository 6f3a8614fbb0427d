"""Execute notebooks/quickstart.ipynb with nbclient and check what its figures show."""

from __future__ import annotations

import base64
import io
import sys
from pathlib import Path

import numpy as np
import pytest

nbformat = pytest.importorskip("nbformat")

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "quickstart.ipynb"


def test_committed_notebook_has_no_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert nb.metadata["kernelspec"]["name"] == "python3"


def _pngs(cell) -> list[np.ndarray]:
    import matplotlib.image as mpimg

    return [mpimg.imread(io.BytesIO(base64.b64decode(out["data"]["image/png"])), format="png")
            for out in cell.outputs if "image/png" in out.get("data", {})]


def _present(img: np.ndarray, phase, alpha: float = 0.55, tol: float = 0.02) -> float:
    """Fraction of pixels in the colour of a predicted region of ``phase``."""
    from matplotlib.colors import to_rgb

    from spinexplore.plotting import PHASE_COLORS

    rgb = alpha * np.array(to_rgb(PHASE_COLORS[phase])) + (1 - alpha)
    return float(np.mean(np.all(np.abs(img[..., :3] - rgb) < tol, axis=-1)))


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_quickstart_notebook_runs(tmp_path, monkeypatch):
    from nbclient import NotebookClient
    from nbformat.v4 import new_code_cell

    from spinexplore.results import PhaseType

    # CI exports MPLBACKEND=Agg; the kernel must keep its inline backend to show the figures
    monkeypatch.delenv("MPLBACKEND", raising=False)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.insert(0, new_code_cell("import sys; print(sys.executable)"))
    client = NotebookClient(nb, kernel_name="python3", timeout=300,
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError on any failing cell

    # the kernel runs the interpreter that runs the tests (the project's venv)
    assert nb.cells[0].outputs[0]["text"].strip() == sys.executable
    tagged = {tag: c for c in nb.cells for tag in c.metadata.get("tags", [])}

    (toy,) = _pngs(tagged["toy-diagram"])
    assert toy.shape[0] > 300 and toy.shape[1] > 1000
    # the toy's three phases appear as coloured regions of the phase diagram
    for phase in (PhaseType.FERROMAGNET, PhaseType.SKYRMION, PhaseType.SINGLE_Q):
        assert _present(toy, phase) > 0.005, phase.name

    (texture,) = _pngs(tagged["texture"])
    assert texture.shape[1] > 2 * texture.shape[0]  # three panels side by side
    assert "SKYRMION" in "".join(o.get("text", "") for o in tagged["texture"].outputs)

    own = tagged["own-phases"]  # a function of the user's with string labels (issue 22)
    text = "".join(o.get("text", "") for o in own.outputs)
    assert "'FM'" in text and "'Neel'" in text and "'stripe'" in text, text
    (own_png,) = _pngs(own)
    assert own_png.shape[0] > 200

    (builtin,) = _pngs(tagged["builtin-diagram"])
    shown = [p for p in PhaseType if p.is_physical and _present(builtin, p) > 0.005]
    assert len(shown) >= 2, shown  # the default model has several phases in this box


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_quickstart_h_t_cell_finds_the_paramagnet(tmp_path, monkeypatch):
    """The h-T example: at T = 2.5 J the order has melted, at low T it has not."""
    from nbclient import NotebookClient

    monkeypatch.delenv("MPLBACKEND", raising=False)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    cells = [c for c in nb.cells if "h-T" in c.metadata.get("tags", [])]
    assert len(cells) == 1
    setup = [c for c in nb.cells if c.cell_type == "code"][0]  # the imports
    nb.cells = [setup, cells[0]]
    NotebookClient(nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = "".join(o.get("text", "") for o in nb.cells[1].outputs)
    assert "PARAMAGNET" in text and ("SKYRMION" in text or "SINGLE_Q" in text or "FERROMAGNET" in text), text
