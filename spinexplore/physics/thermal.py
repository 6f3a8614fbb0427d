"""Equilibrium Monte Carlo time series at fixed temperature, and their thermal averages.

:func:`thermal_run` anneals a random state down to ``T`` (adaptive Metropolis step), equilibrates,
freezes the step (detailed balance) and records the energy and the magnetization every ``every``
sweeps. Each sweep is a Metropolis sweep with a Gaussian-ball step, plus over-relaxation when
``K == 0`` and, for an easy axis (``K < 0``), a sweep of ``S_z -> -S_z`` reflections: without
them a strong easy axis would freeze the sign of every spin (the barrier ``|K|`` is far above
``T``). The checks of ``tests/physics/test_thermal_slow.py`` pin the sampler to exact results:
the Ising critical temperatures in the strong easy-axis limit, the high-temperature expansion of
the energy, and the absence of order in the 2D Heisenberg model (Mermin-Wagner).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from spinexplore._validation import check_int, check_real
from spinexplore.physics import _kernels, _thermal_kernels
from spinexplore.physics._sampling import rng_state
from spinexplore.physics._spins import normalize
from spinexplore.physics._stats import binned_error
from spinexplore.physics.energy import couplings
from spinexplore.physics.lattice import make_lattice
from spinexplore.physics.model import SpinModel

__all__ = ["ThermalSeries", "thermal_run", "blocked_error", "binned_error"]


def blocked_error(x: np.ndarray, n_blocks: int = 20) -> float:
    """Standard error of the mean of a correlated series from ``n_blocks`` block means."""
    x = np.asarray(x, dtype=float)
    n = len(x) // n_blocks * n_blocks
    if n < n_blocks or n_blocks < 2:
        return math.inf
    means = x[:n].reshape(n_blocks, -1).mean(axis=1)
    return float(means.std(ddof=1) / math.sqrt(n_blocks))


@dataclass(frozen=True, eq=False)
class ThermalSeries:
    """Measurements of one equilibrium run (see :func:`thermal_run`).

    Attributes
    ----------
    model : SpinModel
    L : int
    T : float
    energies : ndarray of shape (n,)
        Energy per spin (units of J1) at each measurement.
    magnetizations : ndarray of shape (n, 3)
        Magnetization per spin at each measurement.
    spins : ndarray of shape (N, 3)
        The last configuration.
    every : int
        Sweeps between measurements.
    duration : float
        Wall time in seconds.
    """

    model: SpinModel
    L: int
    T: float
    energies: np.ndarray = field(repr=False)
    magnetizations: np.ndarray = field(repr=False)
    spins: np.ndarray = field(repr=False)
    every: int
    duration: float

    @property
    def N(self) -> int:
        return self.L * self.L

    @property
    def energy(self) -> float:
        """Mean energy per spin."""
        return float(self.energies.mean())

    @property
    def energy_error(self) -> float:
        """Blocked standard error of :attr:`energy`."""
        return blocked_error(self.energies)

    @property
    def specific_heat(self) -> float:
        """Specific heat per spin, ``N var(E/N) / T^2`` (units of k_B)."""
        return float(self.N * self.energies.var() / self.T**2)

    @property
    def m_abs(self) -> float:
        """``<|m|>`` (vector magnetization per spin)."""
        return float(np.linalg.norm(self.magnetizations, axis=1).mean())

    @property
    def m_z_abs(self) -> float:
        """``<|m_z|>``."""
        return float(np.abs(self.magnetizations[:, 2]).mean())

    def binder(self, axis: str = "z") -> float:
        """Binder cumulant of the order parameter.

        ``axis="z"``: ``1 - <m_z^4> / (3 <m_z^2>^2)`` (Ising: 2/3 ordered, 0 disordered);
        ``axis="vector"``: ``1 - 3 <|m|^4> / (5 <|m|^2>^2)`` for the O(3) vector (2/5 ordered).
        """
        if axis == "z":
            m2 = self.magnetizations[:, 2] ** 2
            return float(1 - (m2**2).mean() / (3 * m2.mean() ** 2))
        if axis == "vector":
            m2 = (self.magnetizations**2).sum(axis=1)
            return float(1 - 3 * (m2**2).mean() / (5 * m2.mean() ** 2))
        raise ValueError(f"axis must be 'z' or 'vector'; got {axis!r}")


def thermal_run(model: SpinModel, lattice_size: int = 24, T: float | None = None, *,
                n_measure: int = 1000, every: int = 5, n_equilibrate: int = 2000,
                n_anneal: int = 500, reflections: bool | None = None, seed: int = 0,
                start: np.ndarray | None = None) -> ThermalSeries:
    """Sample ``model`` at temperature ``T`` on an ``L x L`` torus.

    Parameters
    ----------
    model : SpinModel
    lattice_size : int
        Even, ``>= 6``.
    T : float, optional
        Temperature in units of J1 (``> 0``); defaults to ``model.T``.
    n_measure, every : int
        Number of measurements and sweeps between them (``>= 1``).
    n_equilibrate : int
        Sweeps at ``T`` before measuring, with the step adapted (``>= 0``).
    n_anneal : int
        Sweeps of geometric cooling from ``max(T, 2 J1)`` to ``T`` first (``>= 0``).
    reflections : bool, optional
        Add ``S_z -> -S_z`` reflection sweeps; default: when ``K < 0``.
    seed : int
        Seeds the start and the random stream.
    start : ndarray of shape (N, 3), optional
        Initial configuration instead of a random one (then no annealing is needed).

    Returns
    -------
    ThermalSeries

    Raises
    ------
    ValueError, TypeError
        For bad arguments, before any work.
    """
    if not isinstance(model, SpinModel):
        raise TypeError(f"model must be a SpinModel; got {model!r} ({type(model).__name__})")
    lattice = make_lattice(model.lattice, lattice_size)
    T = model.T if T is None else T
    T = check_real("T", T, minimum=0.0, strict_min=True)
    n_measure = check_int("n_measure", n_measure, minimum=1)
    every = check_int("every", every, minimum=1)
    n_equilibrate = check_int("n_equilibrate", n_equilibrate, minimum=0)
    n_anneal = check_int("n_anneal", n_anneal, minimum=0)
    seed = check_int("seed", seed, minimum=0)
    if reflections is None:
        reflections = model.K < 0
    elif not isinstance(reflections, (bool, np.bool_)):
        raise TypeError(f"reflections must be True, False or None; got {reflections!r}")
    if start is not None:
        start = np.asarray(start, dtype=float)
        if start.shape != (lattice.N, 3) or not np.all(np.isfinite(start)):
            raise ValueError(f"start must be a finite array of shape ({lattice.N}, 3); got shape {start.shape}")

    t0 = time.perf_counter()
    nbr, mats = couplings(model, lattice.L)
    ss = np.random.SeedSequence(seed)
    rng = np.random.default_rng(ss)
    s = rng.normal(size=(lattice.N, 3)) if start is None else start.copy()
    s = normalize(s)
    state = rng_state(ss)
    n_over = 2
    sigma = 0.5
    temps = np.concatenate([np.geomspace(max(T, 2.0 * abs(model.J1)), T, n_anneal), np.full(n_equilibrate, T)])
    for k in range(len(temps)):  # adaptive step; reflections keep the easy-axis sign mobile
        sigma, _ = _kernels.mc_sweeps(s, nbr, mats, model.K, model.h, temps[k:k + 1], sigma,
                                      state, n_over, 0.45)
        if reflections:
            _thermal_kernels.reflect_sweep(s, nbr, mats, model.h, 1.0 / temps[k], state)
    energies = np.empty(n_measure)
    mags = np.empty((n_measure, 3))
    _thermal_kernels.sample_series(s, nbr, mats, model.K, model.h, T, sigma, state, n_over,
                                   bool(reflections), every, energies, mags)
    s.setflags(write=False)
    return ThermalSeries(model=model, L=lattice.L, T=T, energies=energies, magnetizations=mags,
                         spins=s, every=every, duration=time.perf_counter() - t0)
