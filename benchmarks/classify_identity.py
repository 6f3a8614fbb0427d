"""Check that ``physics/classify.py`` gives bit-identical results to an earlier commit's version.

A refactor of the classifier (issue 25: the rules as named steps) must change no label, no
confidence and no field of the evidence. This script builds a broad set of spin textures,
classifies each with the current ``spinexplore.physics.classify`` and with the module as it was
at ``--ref`` (read with ``git show``, loaded beside the current package), and compares the
``repr`` of both results exactly (``repr`` of a float round-trips, and it shows the types, so a
``numpy.float64`` where a ``float`` was, a reordered evidence key or a changed last bit all
count as differences). Exceptions are compared by type and message.

The textures:

* the winner of the built-in solver (``simulate``) for every mode, both presets
  (``triangular-chiral``, ``square-chiral``), ``T = 0`` and ``T > 0``, on a grid of
  ``(h, K)`` in natural units (physics.md 1.6), classified as ``SpinSimulation`` does (thermal
  snapshots, ``label_gap``, ``T``);
* every configuration the solver classifies internally while it runs (relaxed candidates, for
  ``label_gap``), recorded by wrapping the classifier the solver calls;
* the unrelaxed ansatz states of the solver (``physics/_ansatz*.py``) and the analytic textures
  of ``physics/textures.py`` (FM, canted FM, helices and cones, soliton lattices, triple-Q
  skyrmion crystals, meron-antimeron crystals, other multi-Q sums) on both lattices;
* random spins, and the textures above with Gaussian noise (also as thermal snapshots).

Each texture is classified with several ``energy_gap`` / ``temperature`` values and with the
default and two perturbed :class:`Thresholds`, so that every rule is reached from both sides.
The textures are cached (``--cache``), so a second run (after the refactor) does not re-run
the solver. Writes ``benchmarks/results/classify_identity.json`` (counts per label and rule,
the number of differences, the first few differences, provenance) and exits 1 on any
difference.

Usage: ``python benchmarks/classify_identity.py [--ref main] [--quick] [--cache PATH]``.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import importlib.util
import json
import math
import pickle
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from _provenance import load as _load_now  # noqa: E402
from _provenance import provenance  # noqa: E402
from spinexplore.physics import _texture_id
from spinexplore.physics import classify as current
from spinexplore.physics import textures as tx
from spinexplore.physics._ansatz import make_candidates
from spinexplore.physics.lattice import make_lattice
from spinexplore.physics.model import SpinModel
from spinexplore.physics.observables import measure
from spinexplore.physics.solver import MODES, PRESET_BUDGETS, simulate

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "classify_identity.json"
PRESETS = ("triangular-chiral", "square-chiral")
#: (h, K) in natural units; the full grid for ``screening``, subsets for the dearer modes.
GRID = [(h, k) for h in (0.0, 0.15, 0.45, 0.8, 1.3) for k in (-0.4, 0.0, 0.6, 1.15, 2.0)]
SUBSET = {"screening": GRID, "fast": [(h, k) for h, k in GRID if h in (0.0, 0.45, 1.3)],
          "accurate": [(0.45, 0.0), (0.5, 1.1), (0.0, 1.15)]}
TEMPERATURES = (0.0, 0.25, 1.5)  # in units of J1; 1.5 is above the ordering scale
PERTURBED = (
    dict(secondary=0.1, fm_m_abs=0.6, fm_peak=0.2, skyrmion_minority=0.45, meron_minority=0.02,
         meron_minority_per_cell=0.1, meron_inplane_ratio=1.0, square_angle_deg=30.0, square_length=0.3),
    dict(paramagnet_sq=0.3, single_q_fraction=0.95, fundamental_low=0.5, fundamental_high=0.95,
         gap_scale=1e-2, polarized_m_xy=0.3, fm_m_abs_thermal=0.8, single_q_fraction_thermal=0.9),
)


def old_module(ref: str):
    """``spinexplore.physics.classify`` as it was at ``ref``, loaded under another name."""
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{ref}:spinexplore/physics/classify.py"],
                            capture_output=True, text=True, check=True).stdout
    name = "_classify_at_ref"
    spec = importlib.util.spec_from_loader(name, loader=None)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look the module up while building the classes
    exec(compile(source, f"{ref}:spinexplore/physics/classify.py", "exec"), module.__dict__)
    return module


def _case(name, lattice, spins, *, samples=None, temperature=0.0, gap=None, solver=False):
    return {"name": name, "kind": lattice.kind, "L": lattice.L, "spins": np.array(spins, dtype=float),
            "samples": None if samples is None else np.array(samples, dtype=float),
            "temperature": float(temperature), "gap": gap, "solver": solver}


def _noisy(spins, sigma, rng):
    s = spins + sigma * rng.standard_normal(spins.shape)
    return s / np.linalg.norm(s, axis=1, keepdims=True)


def solver_cases(quick: bool) -> list[dict]:
    """Winners of ``simulate`` (and what the solver classifies inside) over modes, presets, T, (h, K)."""
    cases: list[dict] = []
    recorded: list[tuple] = []
    inner = _texture_id.classify

    def recording(spins, lattice, *args, **kwargs):
        if len(recorded) < 4000:
            recorded.append((np.array(spins), lattice))
        return inner(spins, lattice, *args, **kwargs)

    _texture_id.classify = recording
    try:
        for mode in MODES:
            points = SUBSET[mode][:: (4 if quick else 1)]
            for preset in PRESETS:
                base = SpinModel.preset(preset)
                u = base.natural_unit
                for (h, k) in points:
                    for T in TEMPERATURES if mode == "screening" else TEMPERATURES[:2]:
                        model = base.with_params({"h": h * u, "K": k * u, "T": T})
                        gs = simulate(model, 12 if quick else 24, mode, seed=7)
                        gap = gs.label_gap if math.isfinite(gs.label_gap) else None
                        cases.append(_case(f"solver {mode} {preset} h={h} K={k} T={T}", gs.lattice, gs.spins,
                                           samples=gs.samples, temperature=gs.T, gap=gap, solver=True))
                        print(cases[-1]["name"], gs.label, flush=True)
    finally:
        _texture_id.classify = inner
    seen = set()
    for k, (spins, lattice) in enumerate(recorded):
        key = hashlib.sha256(spins.tobytes()).hexdigest()
        if key not in seen:
            seen.add(key)
            cases.append(_case(f"solver-internal {k}", lattice, spins))
    return cases


def analytic_cases(quick: bool) -> list[dict]:
    """Ansatz states, analytic textures, random and noisy spins on both lattices."""
    rng = np.random.default_rng(2026)
    cases: list[dict] = []
    for kind in ("triangular", "square"):
        for L in (12,) if quick else (12, 24):
            lat = make_lattice(kind, L)
            textures = [("fm z", tx.fm(lat)), ("fm x", tx.fm(lat, (1, 0, 0))), ("fm -z", tx.fm(lat, (0, 0, -1))),
                        ("fm 111", tx.fm(lat, (1, 1, 1)))]
            textures += [(f"canted {mz}", tx.canted_fm(lat, m_z=mz)) for mz in (0.0, 0.03, 0.3, 0.9, 0.99)]
            for Q in ((1, 0), (2, 0), (1, 1), (3, 1), (L // 2, 0), (2, -1)):
                for plane in ("neel", "bloch", "inplane"):
                    for offset in (0.0, 0.5, 2.0, 8.0):
                        textures.append((f"helix {Q} {plane} {offset}", tx.helix(lat, Q, plane=plane, offset=offset)))
            for modulus in (0.3, 0.9, 0.999):
                for plane in ("neel", "inplane"):
                    textures.append((f"soliton {modulus} {plane}",
                                     tx.soliton_lattice(lat, (2, 0), modulus, plane=plane)))
            for n in (1, 2):
                for polarity in (1, -1):
                    for offset in (0.0, 0.5, 1.0, 3.0):
                        try:
                            Qs = tx.hexagonal_triplet(lat, n)
                            textures.append((f"skx {n} {polarity} {offset}",
                                             tx.triple_q_skx(lat, Qs, polarity=polarity, offset=offset)))
                        except ValueError:
                            pass
            for (inp, oop, off) in ((1.0, 0.45, 0.15), (1.0, 0.1, 0.0), (0.5, 1.0, 0.3), (1.0, 0.45, 1.5),
                                    (1.0, 0.0, 0.0)):
                for Q1, Q2 in (((2, 0), (0, 2)), ((1, 1), (1, -1)), ((2, 0), (0, 3)), ((2, 0), (1, 2))):
                    try:
                        textures.append((f"meron {Q1} {Q2} {inp} {oop} {off}",
                                         tx.meron_antimeron(lat, Q1, Q2, inplane=inp, out_of_plane=oop, offset=off)))
                    except ValueError:
                        pass
            for Qs in (((2, 0), (0, 2)), ((2, 0), (0, 2), (2, 2)), ((1, 0), (0, 2), (3, 3)),
                       ((2, 0), (0, 2), (2, -2), (1, 1)), ((2, 0), (4, 0)), ((1, 0), (2, 0), (3, 0))):
                for az, ae, off in ((1.0, 1.0, 0.0), (0.2, 1.0, 0.3), (1.0, 0.3, 1.0)):
                    textures.append((f"multi {Qs} {az} {ae} {off}",
                                     tx.multi_q(lat, Qs, amplitude_z=az, amplitude_e=ae, offset=off)))
            textures += [(f"random {seed}", tx.random_spins(lat, seed)) for seed in range(6)]
            for name, s in textures:
                cases.append(_case(f"{kind} L={L} {name}", lat, s))
            for name, s in textures[:: (9 if quick else 3)]:
                for sigma in (0.05, 0.4, 1.5):
                    cases.append(_case(f"{kind} L={L} {name} noise {sigma}", lat, _noisy(s, sigma, rng)))
                snaps = np.stack([_noisy(s, 0.3, rng) for _ in range(4)])
                cases.append(_case(f"{kind} L={L} {name} snapshots", lat, snaps[-1], samples=snaps, temperature=0.3))
            for mix in (0.1, 0.5, 0.9):  # partial order: helix weight over random spins
                s = mix * tx.helix(lat, (2, 0)) + (1 - mix) * tx.random_spins(lat, 3)
                s /= np.linalg.norm(s, axis=1, keepdims=True)
                cases.append(_case(f"{kind} L={L} helix+random {mix}", lat, s))
    for preset in PRESETS:  # the solver's unrelaxed ansatz states
        base = SpinModel.preset(preset)
        u = base.natural_unit
        for h, k in ((0.45, 0.0), (0.5, 1.1), (-0.3, 0.6)):
            model = base.with_params({"h": h * u, "K": k * u})
            lat = make_lattice(model.lattice, 12 if quick else 24)
            budget = PRESET_BUDGETS["screening" if quick else "accurate"].ansatz
            for c in make_candidates(model, lat, budget):
                cases.append(_case(f"ansatz {preset} h={h} K={k} {c.name}", lat, c.spins))
    return cases


def variants(case: dict) -> list[dict]:
    """The keyword sets each texture is classified with (the solver's own call first)."""
    T = case["temperature"]
    calls = [dict(energy_gap=case["gap"], temperature=T, th=None, obs=True)]
    calls += [dict(energy_gap=g, temperature=T, th=None, obs=True) for g in (None, 0.0, 3e-5, math.inf)]
    calls += [dict(energy_gap=None, temperature=t, th=None, obs=False) for t in (0.0, 0.4) if t != T]
    calls += [dict(energy_gap=2e-5, temperature=t, th=p, obs=True) for p in range(len(PERTURBED)) for t in (0.0, 0.4)]
    return calls


def run_all(module, cases: list[dict]) -> list[str]:
    out = []
    lattices = {}
    for case in cases:
        key = (case["kind"], case["L"])
        lat = lattices.setdefault(key, make_lattice(*key))
        for call in variants(case):
            th = None if call["th"] is None else module.Thresholds(**PERTURBED[call["th"]])
            try:
                obs = measure(case["spins"], lat, case["samples"]) if call["obs"] else None
                res = module.classify(case["spins"], lat, obs, energy_gap=call["energy_gap"],
                                      temperature=call["temperature"], thresholds=th)
                out.append(repr(tuple(res)) + " " + type(res).__name__)
            except Exception as exc:  # noqa: BLE001 - compared, not hidden
                out.append(f"{type(exc).__name__}: {exc}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ref", default="main", help="git commit whose classify.py is the reference")
    parser.add_argument("--quick", action="store_true", help="L = 12 and a coarser grid")
    parser.add_argument("--cache", default="/tmp/classify_identity_cases.pkl",
                        help="pickle of the textures (built once; delete it to rebuild)")
    args = parser.parse_args(argv)
    load_start = _load_now()
    cache = Path(args.cache + (".quick" if args.quick else ""))
    t0 = time.perf_counter()
    if cache.exists():
        cases = pickle.loads(cache.read_bytes())
    else:
        cases = solver_cases(args.quick) + analytic_cases(args.quick)
        cache.write_bytes(pickle.dumps(cases))
    t_build = time.perf_counter() - t0
    old = old_module(args.ref)
    before, after = run_all(old, cases), run_all(current, cases)
    calls = [(case["name"], call) for case in cases for call in variants(case)]
    diffs = [{"case": name, "call": repr(call), "ref": b, "now": a}
             for (name, call), b, a in zip(calls, before, after) if a != b]
    labels = collections.Counter(r.split("<PhaseType.")[1].split(":")[0] if r.startswith("(<PhaseType.")
                                 else r.split(":")[0] for r in after)  # a label, or an exception's type
    rules = collections.Counter(r.split("'rule': ")[1].split("', '")[0].strip("'") for r in after if "'rule': " in r)
    ref_commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", args.ref],
                                capture_output=True, text=True).stdout.strip()
    data = {
        "ref": f"{args.ref} ({ref_commit})", "quick": args.quick, "textures": len(cases),
        "solver_textures": sum(c["solver"] for c in cases), "calls": len(calls),
        "identical": len(calls) - len(diffs), "differences": len(diffs), "first_differences": diffs[:5],
        "labels": dict(labels.most_common()), "rules": dict(rules.most_common()),
        "digest": hashlib.sha256("\n".join(after).encode()).hexdigest(),
        "build_seconds": round(t_build, 1), "provenance": provenance(load_start),
    }
    if not args.quick:
        OUT.write_text(json.dumps(data, indent=1) + "\n")
    print(json.dumps({k: v for k, v in data.items() if k != "provenance"}, indent=1))
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
