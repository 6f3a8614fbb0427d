"""Stopping goals: when a run stops handing out new simulations.

A goal is any callable ``goal(runner) -> bool`` (True = stop), as python-adaptive's
``goal=``; the :class:`~spinexplore.runner.Runner` passed in exposes ``learner``
(``n_points``, ``n_labeled``, ``changed_since(k)``...), ``elapsed`` (wall seconds since the
run started), ``simulation_time`` (summed seconds of finished simulations) and
``n_finished``. When a goal is met the runner stops proposing, lets the simulations in flight
finish, checkpoints and returns. The built-in goals below have a readable ``repr`` (the
runner reports which one stopped the run) and combine with :func:`any_goal`.

Examples
--------
>>> goal = any_goal(points_goal(200), time_goal(3600), convergence_goal(0.01, 50))
>>> goal
any_goal(points_goal(200), time_goal(3600.0), convergence_goal(0.01, 50))
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from spinexplore._validation import check_int, check_real

__all__ = ["any_goal", "convergence_goal", "cpu_time_goal", "make_goal", "points_goal", "time_goal"]


class _Goal:
    """A named predicate on the runner."""

    def __init__(self, text: str, test: Callable[[Any], bool]) -> None:
        self._text, self._test = text, test

    def __call__(self, runner: Any) -> bool:
        return bool(self._test(runner))

    def __repr__(self) -> str:
        return self._text


def points_goal(n: int) -> _Goal:
    """Stop once the exploration holds ``n`` points (finished, failed or in flight)."""
    n = check_int("n_points", n, minimum=1)
    return _Goal(f"points_goal({n})", lambda r: r.learner.n_points >= n)


def time_goal(seconds: float) -> _Goal:
    """Stop handing out points ``seconds`` of wall time after the run started."""
    seconds = check_real("max_time", seconds, minimum=0.0, strict_min=True)
    return _Goal(f"time_goal({seconds})", lambda r: r.elapsed >= seconds)


def cpu_time_goal(seconds: float) -> _Goal:
    """Stop once the finished simulations of this run used ``seconds`` in total (summed over workers)."""
    seconds = check_real("max_cpu_time", seconds, minimum=0.0, strict_min=True)
    return _Goal(f"cpu_time_goal({seconds})", lambda r: r.simulation_time >= seconds)


def convergence_goal(fraction: float, window: int = 50) -> _Goal:
    """Stop when the predicted diagram changed on less than ``fraction`` of the box over the
    last ``window`` labelled points (measured on a fixed set of 4096 reference points)."""
    fraction = check_real("converge", fraction, minimum=0.0, maximum=1.0, strict_min=True)
    window = check_int("converge_window", window, minimum=1)

    def test(r: Any) -> bool:
        changed = r.learner.changed_since(window)
        return not math.isnan(changed) and changed < fraction

    return _Goal(f"convergence_goal({fraction}, {window})", test)


def any_goal(*goals: Callable[[Any], bool]) -> _Goal:
    """Stop as soon as one of ``goals`` is met."""
    for g in goals:
        if not callable(g):
            raise TypeError(f"each goal must be callable as goal(runner) -> bool; got {g!r}")
    return _Goal(f"any_goal({', '.join(map(repr, goals))})", lambda r: any(g(r) for g in goals))


def make_goal(
    *,
    n_points: int | None = None,
    max_time: float | None = None,
    max_cpu_time: float | None = None,
    converge: float | None = None,
    converge_window: int | None = None,
    goal: Callable[[Any], bool] | None = None,
) -> _Goal | None:
    """The goal of a run from its keyword arguments (any one met stops it); None = no goal."""
    goals: list[Callable[[Any], bool]] = []
    if n_points is not None:
        goals.append(points_goal(n_points))
    if max_time is not None:
        goals.append(time_goal(max_time))
    if max_cpu_time is not None:
        goals.append(cpu_time_goal(max_cpu_time))
    if converge is not None:
        goals.append(convergence_goal(converge, 50 if converge_window is None else converge_window))
    elif converge_window is not None:
        raise ValueError(f"converge_window={converge_window!r} needs converge (a fraction of the box, e.g. 0.01)")
    if goal is not None:
        if not callable(goal):
            raise TypeError(f"goal must be callable as goal(runner) -> bool; got {goal!r}")
        goals.append(goal)
    if not goals:
        return None
    return goals[0] if len(goals) == 1 else any_goal(*goals)
