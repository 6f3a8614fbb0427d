"""Ground-state audit (issue 13): an independent, expensive search against every solver preset.

For each point of a grid over a preset's default box (h/u in [0, 1.2], K/u in [-0.5, 2.0],
physics.md 1.6) the audit relaxes, to max torque <= 1e-6, the best of a candidate pool that does
NOT use the production candidate list (``spinexplore.physics._ansatz*``):

* uniform states along a Fibonacci grid of directions;
* single-Q states for every commensurate wavevector ``0 < |Q| <= 2 q0`` of the torus (one per
  orbit of the lattice rotations), with the cone axis along every direction of a Fibonacci
  sphere (out-of-plane, in-plane, tilted), both senses, two cone weights, harmonic and
  soliton-like (anharmonic) phases;
* double-Q states for every pair of such wavevectors of equal length at 60, 90 or 120 degrees,
  and triple-Q states for every triplet ``Q1 + Q2 + Q3 = 0`` of near-equal lengths, each with
  Neel, Bloch and in-plane rotation planes and several field offsets;
* four random starts with slow anneals (Metropolis, geometric cooling from 1.5 to 0.002 times
  the exchange scale over 15 000 sweeps);
* on a second torus, ``L2 = 36`` (commensurate with the period-12 helices of both presets),
  the single-Q and triple-Q pools and one anneal: reported separately (a lower energy there is a
  finite-size effect of L = 24, not a miss of the solver).

Then it runs ``SpinSimulation`` (the production path, seed 0) in every mode and reports per
point the audit's best energy and label against each preset's, the worst misses, the share of
points within the targets (``accurate`` within 2e-4 J per spin of the best known energy
everywhere; ``fast`` within 1e-3 and the same label at >= 98 % of the points) and the UNKNOWN
rate. Writes ``benchmarks/results/ground_state_audit[_quick].json`` and a map PNG.

Usage: ``python benchmarks/ground_state_audit.py [--preset square-chiral] [--grid 6 5]
[--quick] [--out DIR]``; with no ``--preset`` both presets are audited.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import time
from pathlib import Path

import numpy as np

from spinexplore.physics import _kernels, _lbfgs
from spinexplore.physics.classify import classify
from spinexplore.physics.lattice import make_lattice
from spinexplore.physics.model import SpinModel
from spinexplore.physics.solver import couplings, energy_per_spin
from spinexplore.simulation import SpinSimulation

MODES = ("screening", "fast", "accurate")
#: the README table shows the latest full audit (the presets rerun at 6d420e1, issue 20)
REPORT_DATA = {"table": "ground_state_audit_issue20.json"}
TARGETS = {"accurate_dE": 2e-4, "fast_dE": 1e-3, "fast_share": 0.98}
PRESETS = ("triangular-chiral", "square-chiral")
BOX = {"h_over_u": (0.0, 1.2), "K_over_u": (-0.5, 2.0)}
QUICK_POINTS = {"square-chiral": [(0.267, 1.4), (0.4, 1.2)],
                "triangular-chiral": [(0.45, 0.0), (0.3, 1.5)]}


def fibonacci_sphere(n: int) -> np.ndarray:
    """``n`` nearly uniform unit vectors (the poles and the equator are included for n >= 2)."""
    k = np.arange(n) + 0.5
    z = 1 - 2 * k / n
    phi = math.pi * (1 + 5**0.5) * k
    r = np.sqrt(1 - z * z)
    v = np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)
    return np.vstack([v, [[0, 0, 1], [0, 0, -1], [1, 0, 0], [0, 1, 0]]])


def q0_of(model: SpinModel, lattice) -> float:
    """Length of the best allowed single-Q wavevector of the zero-field helix (physics.md 2.3)."""
    qv = lattice.q_vectors
    e = np.zeros(len(qv))
    delta = lattice.bond_vectors(1)
    e -= model.J1 * np.cos(qv @ delta.T).sum(axis=1)
    dh = delta / np.linalg.norm(delta, axis=1)[:, None]
    e -= abs(model.D) * np.linalg.norm(np.sin(qv @ delta.T) @ dh, axis=1)
    e[0] = np.inf
    return float(np.linalg.norm(qv[np.argmin(e)]))


def orbit_reps(lattice, q_max: float) -> list[int]:
    """One wavevector row per orbit of the lattice rotations (with Q -> -Q), 0 < |Q| <= q_max."""
    n_rot = 6 if lattice.kind == "triangular" else 4
    qv = lattice.q_vectors
    lengths = np.linalg.norm(qv, axis=1)
    reps, seen = [], set()
    for i in np.argsort(lengths, kind="stable"):
        if lengths[i] < 1e-9 or lengths[i] > q_max + 1e-9:
            continue
        keys = []
        for k in range(n_rot):
            t = 2 * math.pi * k / n_rot
            q = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]]) @ qv[i]
            keys += [tuple(np.round(q, 5) + 0.0), tuple(np.round(-q, 5) + 0.0)]
        key = min(keys)
        if key not in seen:
            seen.add(key)
            reps.append(int(i))
    return reps


def _plane(q: np.ndarray, kind: str):
    qh = np.array([q[0], q[1], 0.0]) / np.linalg.norm(q)
    zxq = np.array([-qh[1], qh[0], 0.0])
    z = np.array([0.0, 0.0, 1.0])
    return {"neel": (z, qh), "bloch": (z, zxq), "inplane": (qh, zxq)}[kind]


def pool(model: SpinModel, lattice, quick: bool, rng: np.random.Generator):
    """Yield ``(name, spins)`` of the audit's analytic candidates (see the module docstring)."""
    pos, qv, qn = lattice.positions, lattice.q_vectors, lattice.q_integers
    p = -1.0 if model.h < 0 else 1.0
    for k, d in enumerate(fibonacci_sphere(6 if quick else 16)):
        yield f"uniform:{k}", np.tile(d / np.linalg.norm(d), (lattice.N, 1))
    q0 = q0_of(model, lattice)
    reps = orbit_reps(lattice, (1.6 if quick else 2.0) * q0)
    axes = fibonacci_sphere(6 if quick else 10)
    for i in reps:
        lin = pos @ qv[i]
        for a_k, a in enumerate(axes):
            ref = np.array([0.0, 0.0, 1.0]) if abs(a[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
            e1 = ref - (ref @ a) * a
            e1 /= np.linalg.norm(e1)
            e2 = np.cross(a, e1)
            for s, chi, c in itertools.product((0.0, 0.6), (1, -1), (0.3, 1.2)):
                phi = lin + s * np.sin(lin)
                v = c * a + np.cos(phi)[:, None] * e1 + chi * np.sin(phi)[:, None] * e2
                yield f"1q:({qn[i][0]},{qn[i][1]}),a{a_k},s={s},chi={chi},c={c}", v
    # multi-Q: all allowed wavevectors near q0, equal-length pairs and closing triplets
    lengths = np.linalg.norm(qv, axis=1)
    near = [i for i in range(lattice.N) if 0.6 * q0 <= lengths[i] <= (1.2 if quick else 1.45) * q0]
    planes = ("neel",) if quick else ("neel", "bloch", "inplane")
    offsets = (0.5,) if quick else (0.0, 0.7)
    seen = set()
    for a, b in itertools.combinations(near, 2):
        la, lb = lengths[a], lengths[b]
        if abs(la - lb) > 0.12 * max(la, lb):
            continue
        cos = float(qv[a] @ qv[b]) / (la * lb)
        if min(abs(cos - c) for c in (0.5, 0.0, -0.5)) > 0.12:
            continue
        key = tuple(sorted([tuple(qn[a]), tuple(qn[b])]))
        if key in seen:
            continue
        seen.add(key)
        sets = [[a, b]]
        c_n = (-qn[a] - qn[b]) % lattice.L
        c_i = int(c_n[0] + lattice.L * c_n[1])
        if lengths[c_i] > 0 and abs(lengths[c_i] - la) <= 0.25 * la and abs(cos + 0.5) < 0.2:
            sets.append([a, b, c_i])
        for qs in sets:
            for plane, off, chi in itertools.product(planes, offsets, (1, -1)):
                v = np.zeros((lattice.N, 3))
                v[:, 2] = p * off
                for i in qs:
                    e1, e2 = _plane(qv[i], plane)
                    ph = pos @ qv[i] + rng.uniform(0, 2 * np.pi) * (len(qs) == 2)
                    v -= p * (np.cos(ph)[:, None] * e1 + chi * np.sin(ph)[:, None] * e2)
                yield f"{len(qs)}q:{key},{plane},m={off},chi={chi}", v


def audit_point(model: SpinModel, L: int, quick: bool, n_anneal: int, sweeps: int, seed: int,
                keep: int = 12):
    """Best relaxed audit state on the L x L torus: (energy, spins, name, torque, n_candidates)."""
    lattice = make_lattice(model.lattice, L)
    nbr, mats = couplings(model, L)
    rng = np.random.default_rng(seed)
    coarse = []
    for name, v in pool(model, lattice, quick, rng):
        norm = np.linalg.norm(v, axis=1, keepdims=True)
        # a zero of the superposition gets an arbitrary unit spin
        s = np.ascontiguousarray(np.where(norm > 1e-9, v / np.maximum(norm, 1e-9), [0.0, 0.0, 1.0]))
        e, t, _ = _lbfgs.relax(s, nbr, mats, model.K, model.h, 1e-3, 3000, 10)
        if np.isfinite(e):
            coarse.append((e / lattice.N, name, s))
    scale = max(abs(model.J1), abs(model.D), 1e-3)
    for r in range(n_anneal):
        s = rng.normal(size=(lattice.N, 3))
        s = np.ascontiguousarray(s / np.linalg.norm(s, axis=1, keepdims=True))
        state = np.array(rng.integers(1, 2**62, size=4), dtype=np.uint64)
        temps = np.geomspace(1.5 * scale, 0.002 * scale, sweeps)
        _kernels.mc_sweeps(s, nbr, mats, model.K, model.h, temps, 0.5, state, 0, 0.45)
        e, t, _ = _lbfgs.relax(s, nbr, mats, model.K, model.h, 1e-3, 20000, 10)
        coarse.append((e / lattice.N, f"anneal:{r}", s))
    coarse.sort(key=lambda c: c[0])
    best = None
    for e0, name, s in coarse[:keep]:
        e, t, _ = _lbfgs.relax(s, nbr, mats, model.K, model.h, 5e-7, 200000, 10)
        e /= lattice.N
        if t <= 1e-6 and (best is None or e < best[0]):
            best = (e, s, name, float(t))
    assert abs(energy_per_spin(best[1], model, lattice) - best[0]) < 1e-10
    return (*best, len(coarse))


def run_point(preset: str, h_u: float, K_u: float, quick: bool, seed: int,
              cache: dict | None = None) -> dict:
    """Audit one point (or take the audit from ``cache``) and run every production mode."""
    m0 = SpinModel.preset(preset)
    u = m0.natural_unit
    params = {"h": h_u * u, "K": K_u * u}
    model = m0.with_params(params)
    key = f"{preset}|{h_u:.6f}|{K_u:.6f}|{'quick' if quick else 'full'}"
    row = {"h_over_u": h_u, "K_over_u": K_u}
    if cache is not None and key in cache and "rerun_presets" not in cache.get("_options", {}):
        return cache[key]  # a finished row (audit and presets)
    if cache is not None and key in cache:
        row["audit"] = cache[key]["audit"]
        if "audit_L36" in cache[key]:
            row["audit_L36"] = cache[key]["audit_L36"]
    else:
        t0 = time.process_time()
        e, s, name, torque, n_cand = audit_point(model, 24, quick, 2 if quick else 4,
                                                 4000 if quick else 15000, seed)
        label = classify(s, make_lattice(model.lattice, 24)).phase.name
        row["audit"] = {"energy": e, "label": label, "candidate": name, "torque": torque,
                        "n_candidates": n_cand, "cpu_s": time.process_time() - t0}
        if not quick:
            e2, s2, name2, _, _ = audit_point(model, 36, True, 1, 20000, seed + 1)
            row["audit_L36"] = {"energy": e2, "candidate": name2,
                                "label": classify(s2, make_lattice(model.lattice, 36)).phase.name}
    e = row["audit"]["energy"]
    for mode in MODES:
        c0 = time.process_time()
        res = SpinSimulation(preset, 24, mode, seed=0)(params)
        row[mode] = {"energy": res.energy, "label": res.phase.name, "confidence": res.confidence,
                     "cpu_s": time.process_time() - c0}
    ref = min([e] + [row[m]["energy"] for m in MODES])
    row["best_known"] = ref
    # the reference label is the audit's unless a preset found a state lower by > 1e-7
    lower = [m for m in MODES if row[m]["energy"] < e - 1e-7]
    row["best_label"] = row[min(lower, key=lambda m: row[m]["energy"])]["label"] if lower else \
        row["audit"]["label"]
    for mode in MODES:
        row[mode]["dE"] = row[mode]["energy"] - ref
        row[mode]["dE_audit"] = row[mode]["energy"] - e
    if cache is not None:
        cache[key] = row
    return row


def summarize(rows: list[dict]) -> dict:
    out = {}
    for mode in MODES:
        dE = np.array([r[mode]["dE"] for r in rows])
        same = np.array([r[mode]["label"] == r["best_label"] for r in rows])
        worst = sorted(rows, key=lambda r: -r[mode]["dE"])[:5]
        out[mode] = {
            "max_dE": float(dE.max()), "median_dE": float(np.median(dE)),
            "within_2e-4": float(np.mean(dE <= 2e-4)), "within_1e-3": float(np.mean(dE <= 1e-3)),
            "same_label_as_best": float(same.mean()),
            "within_1e-3_and_same_label": float(np.mean((dE <= 1e-3) & same)),
            "unknown_rate": float(np.mean([r[mode]["label"] == "UNKNOWN" for r in rows])),
            "worst": [{"h_over_u": r["h_over_u"], "K_over_u": r["K_over_u"], "dE": r[mode]["dE"],
                       "label": r[mode]["label"], "best_label": r["best_label"]} for r in worst],
        }
    out["audit_unknown_rate"] = float(np.mean([r["audit"]["label"] == "UNKNOWN" for r in rows]))
    out["best_unknown_rate"] = float(np.mean([r["best_label"] == "UNKNOWN" for r in rows]))
    l36 = [r["audit_L36"]["energy"] - r["best_known"] for r in rows if "audit_L36" in r]
    if l36:
        out["L36_minus_best_L24"] = {"min": float(min(l36)), "median": float(np.median(l36))}
    out["audit_lower_than_accurate"] = int(sum(r["accurate"]["dE_audit"] > 1e-9 for r in rows))
    out["targets_met"] = {
        "accurate": out["accurate"]["max_dE"] <= TARGETS["accurate_dE"],
        "fast": out["fast"]["within_1e-3_and_same_label"] >= TARGETS["fast_share"]}
    return out


def _provenance() -> dict:
    """The commit, machine and load of this run (benchmarks/_provenance.py, beside this script:
    imported here so that the module also imports where benchmarks/ is not on the path)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _provenance import provenance

    return provenance()


def _sci(x: float) -> str:
    """2.1e-6, 2e-4: the short scientific form the README uses."""
    mant, exp = f"{x:.1e}".split("e")
    return f"{mant.removesuffix('.0')}e{int(exp)}"


def _describe(p: dict) -> str:
    from _provenance import describe

    return describe(p)


def render_readme_table(data: dict) -> str:
    """The README's audit table (``report:ground_state_audit:table``) from the audit's JSON."""
    c, t = data["conditions"], data["targets"]
    lines = [f"Result on a {c['grid'][0]} x {c['grid'][1]} grid over each preset's default box (h/u in [0, 1.2], "
             f"K/u in [-0.5, 2.0]), L = {c['L']}; dE = E(preset) - best known energy (the lower of the audit and "
             "the presets), J per spin:", "",
             "| preset | mode | max dE | within 2e-4 | within 1e-3 and same label | UNKNOWN |",
             "|---|---|---|---|---|---|"]
    for preset, s in data["summary"].items():
        for mode in ("screening", "fast", "accurate"):
            m = s[mode]
            lines.append(f"| {preset} | {mode} | {_sci(m['max_dE'])} | {100 * m['within_2e-4']:.0f} % | "
                         f"{100 * m['within_1e-3_and_same_label']:.0f} % | {100 * m['unknown_rate']:.0f} % |")
    met = {p: s["targets_met"] for p, s in data["summary"].items()}
    both = all(v["accurate"] and v["fast"] for v in met.values())
    lines += ["", f"Targets: `accurate` within {_sci(t['accurate_dE'])} everywhere, `fast` within {_sci(t['fast_dE'])} with "
                  f"the same label at >= {100 * t['fast_share']:.0f} % of the points: "
                  + ("met on both presets." if both else "not met: " + ", ".join(
                      f"{p} {k}" for p, v in met.items() for k, ok in v.items() if not ok) + "."),
              f"Measured with `python benchmarks/ground_state_audit.py` ({'quick' if c['quick'] else 'full'} grid; "
              + (_describe(data["provenance"]) if data.get("provenance") else
                 f"{c['cpus']} cores, load average {c['load_avg'][0]:.1f} at the end") + ")."]
    return "\n".join(lines)


def plot(rows_by_preset: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = sorted({r[k]["label"] for rows in rows_by_preset.values() for r in rows
                     for k in ("audit", "accurate")})
    cmap = plt.get_cmap("tab10")
    fig, axes = plt.subplots(len(rows_by_preset), 3, figsize=(13, 4.2 * len(rows_by_preset)),
                             squeeze=False)
    for row_ax, (preset, rows) in zip(axes, rows_by_preset.items()):
        h = [r["h_over_u"] for r in rows]
        K = [r["K_over_u"] for r in rows]
        ax = row_ax[0]
        for j, lab in enumerate(labels):
            sel = [i for i, r in enumerate(rows) if r["best_label"] == lab]
            ax.scatter([h[i] for i in sel], [K[i] for i in sel], s=160, marker="s",
                       color=cmap(j % 10), label=lab)
        ax.set_title(f"{preset}: label of the best state")
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
        for ax, mode in zip(row_ax[1:], ("accurate", "fast")):
            dE = np.maximum([r[mode]["dE"] for r in rows], 1e-9)
            sc = ax.scatter(h, K, c=np.log10(dE), s=160, marker="s", cmap="viridis", vmin=-9, vmax=-2)
            bad = [i for i, r in enumerate(rows) if r[mode]["label"] != r["best_label"]]
            ax.scatter([h[i] for i in bad], [K[i] for i in bad], s=60, marker="x", color="red",
                       label="label differs from the best state's")
            ax.set_title(f"{mode}: log10(E - best known), J/spin")
            fig.colorbar(sc, ax=ax)
            if bad:
                ax.legend(fontsize=7)
        for ax in row_ax:
            ax.set_xlabel("h / u")
            ax.set_ylabel("K / u")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", choices=PRESETS, action="append")
    ap.add_argument("--grid", type=int, nargs=2, default=(6, 5), metavar=("NH", "NK"))
    ap.add_argument("--quick", action="store_true", help="2 points per preset, smaller pools")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    ap.add_argument("--tag", default="", help="suffix of the output names")
    ap.add_argument("--cache", type=Path, default=None,
                    help="JSON file of finished rows to reuse (and to add to as points finish)")
    ap.add_argument("--rerun-presets", action="store_true",
                    help="with --cache: reuse the cached audits but run the presets again")
    ap.add_argument("--cached-only", action="store_true",
                    help="with --cache: summarise only the grid points already in the cache")
    a = ap.parse_args(argv)
    presets = a.preset or list(PRESETS)
    if min(a.grid) < 1:
        raise ValueError(f"--grid must be two positive integers; got {a.grid}")
    a.out.mkdir(parents=True, exist_ok=True)
    rows_by = {}
    cache = None
    if a.cache is not None:
        cache = json.loads(a.cache.read_text()) if a.cache.exists() else {}
        cache.pop("_options", None)
        if a.rerun_presets:
            cache["_options"] = {"rerun_presets": True}
    for preset in presets:
        if a.quick:
            pts = QUICK_POINTS[preset]
        else:
            pts = [(h, K) for K in np.linspace(*BOX["K_over_u"], a.grid[1])
                   for h in np.linspace(*BOX["h_over_u"], a.grid[0])]
        rows = []
        if a.cached_only and cache is not None:
            mode_tag = "quick" if a.quick else "full"
            pts = [(h, K) for h, K in pts if f"{preset}|{h:.6f}|{K:.6f}|{mode_tag}" in cache]
        for k, (h_u, K_u) in enumerate(pts):
            seed = 1000 + 7919 * round(1000 * h_u) + round(1000 * (K_u + 1))  # fixed per point
            r = run_point(preset, float(h_u), float(K_u), a.quick, seed=int(seed), cache=cache)
            rows.append(r)
            if cache is not None:
                a.cache.write_text(json.dumps({k: v for k, v in cache.items() if k != "_options"},
                                              default=float))
            print(f"{preset} h/u={h_u:.3f} K/u={K_u:.3f}: audit {r['audit']['energy']:.7f} "
                  f"{r['audit']['label']}; " + "; ".join(
                      f"{m} {r[m]['dE']:+.1e} {r[m]['label']}" for m in MODES), flush=True)
        rows_by[preset] = rows
    name = "ground_state_audit" + ("_quick" if a.quick else "") + a.tag
    result = {"conditions": {"L": 24, "L2": None if a.quick else 36, "quick": a.quick,
                             "grid": None if a.quick else list(a.grid), "cpus": os.cpu_count(),
                             "load_avg": os.getloadavg()},
              "provenance": _provenance(),
              "targets": TARGETS,
              "summary": {p: summarize(rows) for p, rows in rows_by.items()},
              "rows": rows_by}
    (a.out / f"{name}.json").write_text(json.dumps(result, indent=1, default=float))
    plot(rows_by, a.out / f"{name}.png")
    for p, s in result["summary"].items():
        print(f"{p}: " + "; ".join(
            f"{m} max dE {s[m]['max_dE']:.1e}, <=1e-3 & same label {s[m]['within_1e-3_and_same_label']:.0%}, "
            f"UNKNOWN {s[m]['unknown_rate']:.0%}" for m in MODES) + f"; targets met {s['targets_met']}")
    return result


if __name__ == "__main__":
    main()
