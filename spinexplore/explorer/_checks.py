"""What :class:`~spinexplore.explorer.ActiveLearningExplorer` checks and prepares before it runs
anything: the store takes results, the simulation is callable, fits the space and reads the
exploration's declared phase codes (each rung of a ladder too).

The run's settings are checked by :class:`spinexplore.settings.RunSettings`; this module holds
the checks that need the explorer's own objects (its store, its space, its vocabulary).
"""

from __future__ import annotations

from typing import Any

__all__ = ["check_simulation", "check_store_writable", "run_simulation", "with_phases"]


def check_store_writable(store: Any) -> None:
    """Before any simulation: the results must be storable (not after computing them)."""
    closed, read_only = getattr(store, "closed", False), getattr(store, "read_only", False)
    if closed or read_only:
        from spinexplore.store import StoreError

        path = str(getattr(store, "path", "the store"))
        if closed:
            raise StoreError(f"{path}: this explorer's store is closed (close() was called or its with block "
                             f"ended), so nothing was run; continue with ActiveLearningExplorer.load({path!r})")
        raise StoreError(f"{path} is open read-only (loaded with read_only=True), so nothing was run; load it "
                         f"with ActiveLearningExplorer.load({path!r}) to run it")


def check_simulation(simulation: Any, name: str, space: Any) -> None:
    """``simulation`` (the argument ``name``) is callable and takes the space's parameters."""
    if not callable(simulation):
        raise TypeError(f"{name} must be callable; got {simulation!r}")
    validate = getattr(simulation, "check_parameters", None)
    if callable(validate):
        validate(space.names + list(space.fixed))


def with_phases(simulation: Any, vocabulary: Any) -> Any:
    """A simulation that reads labels itself (an ``ExternalSimulation`` reads its solver's
    output in the worker) gets the exploration's declared integer codes, unless it has its
    own; so does each rung of a ladder."""
    from spinexplore.fidelity import Ladder

    if not vocabulary.has_codes:
        return simulation
    if isinstance(simulation, Ladder):
        rungs = [with_phases(r, vocabulary) for r in simulation.rungs]
        if all(a is b for a, b in zip(rungs, simulation.rungs)):
            return simulation
        return Ladder(rungs, names=list(simulation.names), promotion=simulation.promotion)
    if callable(getattr(simulation, "with_phases", None)) and getattr(simulation, "phases", None) is None:
        return simulation.with_phases(vocabulary)
    return simulation


def run_simulation(simulation: Any, vocabulary: Any) -> Any:
    """The simulation of ``run(simulation=...)``: None is the built-in ``SpinSimulation()``, a
    list a fidelity :class:`~spinexplore.fidelity.Ladder` (cheapest first); with the phase codes."""
    if simulation is None:
        from spinexplore.simulation import SpinSimulation

        return SpinSimulation()
    if isinstance(simulation, (list, tuple)):
        from spinexplore.fidelity import Ladder

        return Ladder([with_phases(s, vocabulary) for s in simulation])
    return with_phases(simulation, vocabulary)
