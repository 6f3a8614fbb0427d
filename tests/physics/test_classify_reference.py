"""classify against a stored reference written by the classifier as it was before issue 25's
refactor into named rules (commit f935d53): labels, rules, evidence keys (in order) and every
number of the evidence and the confidence.

The reference (``data/classify_reference.json``) holds, per analytic texture of
``physics/textures.py`` (built here from a recipe) and per call, the result of the classifier of
that commit; it was written with ``python tests/physics/test_classify_reference.py --ref f935d53``
and must not be rewritten by the code under test. Floats are compared to 1e-12 relative, not
bit for bit, so that another machine's FFT rounding does not fail it; the bit-identity check
over thousands of solver and ansatz states is ``benchmarks/classify_identity.py``.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from spinexplore.physics import classify as classify_module
from spinexplore.physics import textures as tx
from spinexplore.physics.lattice import make_lattice

REFERENCE = Path(__file__).parent / "data" / "classify_reference.json"
# (lattice, L, texture function, positional arguments, keyword arguments, noise)
BOTH = ("triangular", "square")
UNCHARGED = (("square", [[2, 0], [0, 2]], 0.0, 0.0), ("triangular", [[2, 0], [0, 2], [-2, -2]], 0.0, 0.0),
             ("triangular", [[2, 0], [0, 2], [2, -2]], 0.3, 1.0), ("square", [[2, 0], [0, 3]], 0.0, 0.5))
SUMS = ([[2, 0], [0, 2]], [[2, 0], [0, 2], [2, 2]], [[1, 0], [0, 2], [3, 3]], [[2, 0], [0, 2], [2, -2], [1, 1]])
RECIPES = [
    *[(kind, 12, "fm", [d], {}, 0.0) for kind in BOTH for d in ([0, 0, 1], [1, 0, 0])],
    *[(kind, 12, "canted_fm", [], {"m_z": mz}, 0.0) for kind in BOTH for mz in (0.02, 0.5)],
    *[(kind, 12, "helix", [q], {"plane": plane, "offset": off}, 0.0) for kind in BOTH
      for q in ([2, 0], [1, 1]) for plane in ("neel", "inplane") for off in (0.0, 0.6)],
    *[(kind, 12, "soliton_lattice", [[2, 0], k], {}, 0.0) for kind in BOTH for k in (0.5, 0.999)],
    *[("triangular", 12, "triple_q_skx", [], {"polarity": p, "offset": off}, 0.0) for p in (1, -1)
      for off in (0.0, 0.5)],
    *[("square", 12, "meron_antimeron", [[2, 0], [0, 2]], {"out_of_plane": a, "offset": off}, 0.0)
      for a, off in ((0.45, 0.15), (0.1, 0.0), (1.0, 0.3))],
    *[(kind, 12, "multi_q", [qs], {"amplitude_z": 0.3, "offset": 0.3}, 0.0) for kind in BOTH for qs in SUMS],
    *[(kind, 12, "multi_q", [qs], {"amplitude_z": 1.0, "amplitude_e": ae, "offset": off}, 0.0)
      for kind, qs, ae, off in UNCHARGED],
    *[(kind, 12, "random_spins", [seed], {}, 0.0) for kind in BOTH for seed in (0, 1)],
    *[(kind, 12, "helix", [[2, 0]], {}, sigma) for kind in BOTH for sigma in (0.3, 1.0)],
    *[("triangular", 12, "triple_q_skx", [], {}, sigma) for sigma in (0.2, 0.6)],
]
PERTURBED = {"secondary": 0.1, "fm_m_abs": 0.6, "skyrmion_minority": 0.45, "meron_inplane_ratio": 1.0,
             "single_q_fraction": 0.95, "fundamental_high": 0.95}
# (energy gap, temperature, perturbed thresholds)
CALLS = [(None, 0.0, False), (3e-5, 0.4, False), (2e-5, 0.0, True)]


def build(recipe: list) -> tuple[np.ndarray, object]:
    kind, L, name, args, kwargs, noise = recipe
    lattice = make_lattice(kind, L)
    out = getattr(tx, name)(lattice, *args, **kwargs)
    spins = out[0] if isinstance(out, tuple) else out
    if noise:
        rng = np.random.default_rng(int(1000 * noise))
        spins = spins + noise * rng.standard_normal(spins.shape)
        spins = spins / np.linalg.norm(spins, axis=1, keepdims=True)
    return spins, lattice


def run(module, recipe: list, call: tuple) -> dict:
    gap, temperature, perturbed = call
    spins, lattice = build(recipe)
    th = module.Thresholds(**PERTURBED) if perturbed else None
    phase, confidence, evidence = module.classify(spins, lattice, energy_gap=gap, temperature=temperature,
                                                  thresholds=th)
    return {"phase": phase.name, "confidence": confidence, "evidence": evidence}


def _same(a, b, where: str) -> None:
    if isinstance(a, float) and isinstance(b, float):
        assert a == b or (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-12, abs=1e-14), where
        return
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys {list(a)} != {list(b)}"
        for k in a:
            _same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def _reference() -> list[dict]:
    return json.loads(REFERENCE.read_text())["entries"]


@pytest.mark.parametrize("k", range(len(RECIPES)))
def test_classify_matches_the_classifier_before_the_refactor(k):
    entries = [e for e in _reference() if e["recipe"] == json.loads(json.dumps(RECIPES[k]))]
    assert len(entries) == len(CALLS)  # the reference covers this texture
    for entry in entries:
        now = json.loads(json.dumps(run(classify_module, RECIPES[k], tuple(entry["call"]))))
        _same(now, entry["result"], f"{RECIPES[k]} {entry['call']}")


def test_the_reference_reaches_every_label_it_should():
    phases = {e["result"]["phase"] for e in _reference()}
    assert {"FERROMAGNET", "SINGLE_Q", "DOUBLE_Q", "TRIPLE_Q", "SKYRMION", "MERON_ANTIMERON", "PARAMAGNET",
            "UNKNOWN"} <= phases


if __name__ == "__main__":  # write the reference with an earlier commit's classifier
    import argparse

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from classify_identity import old_module

    parser = argparse.ArgumentParser()
    parser.add_argument("--ref", required=True, help="the commit whose classify.py writes the reference")
    ref = parser.parse_args().ref
    old = old_module(ref)
    entries = [{"recipe": recipe, "call": list(call), "result": run(old, recipe, call)}
               for recipe in RECIPES for call in CALLS]
    REFERENCE.parent.mkdir(exist_ok=True)
    REFERENCE.write_text(json.dumps({"classifier": ref, "entries": entries}, indent=None) + "\n")
    print(f"{len(entries)} results of {ref}'s classifier -> {REFERENCE}")
