"""Issue 25: one definition of what ``n_jobs`` allows. The table's row ``n_jobs`` and every
executor that checks ``n_jobs`` itself (``get_executor``, ``resolve_n_jobs``, ``DaskExecutor``,
``MPIExecutor``: public API, a user may call them directly) check with the same constraint
object, so they refuse the same values with the same message, before any work (no cluster, no
MPI start). Neither dask nor mpi4py is needed: the check comes before their import."""

from __future__ import annotations

import pytest

from spinexplore._constraints import N_JOBS, Rule
from spinexplore.errors import InputError
from spinexplore.settings import TABLE


def _dask(n_jobs):
    from spinexplore.execution._dask import DaskExecutor

    return DaskExecutor(n_jobs)


def _mpi(n_jobs):
    from spinexplore.execution._mpi import MPIExecutor

    return MPIExecutor(n_jobs)


def _get_executor(n_jobs):
    from spinexplore.execution import get_executor

    return get_executor(n_jobs, "sequential")


def _resolve(n_jobs):
    from spinexplore.execution import resolve_n_jobs

    return resolve_n_jobs(n_jobs)


@pytest.fixture
def n_jobs_checks(monkeypatch):
    """The values that the constraint N_JOBS checked."""
    seen = []
    real = Rule.check

    def counted(self, name, value):
        if self is N_JOBS:
            seen.append(value)
        return real(self, name, value)

    monkeypatch.setattr(Rule, "check", counted)
    return seen


def test_the_table_row_is_the_executors_constraint():
    assert TABLE["n_jobs"].constraint is N_JOBS


@pytest.mark.parametrize("make", [_dask, _mpi, _get_executor, _resolve], ids=["dask", "mpi", "get_executor",
                                                                                "resolve_n_jobs"])
@pytest.mark.parametrize("bad", [0, 10**6, -(10**6), 2.5, "4", True])
def test_every_executor_refuses_a_bad_n_jobs_with_the_tables_message(make, bad, n_jobs_checks):
    with pytest.raises(InputError) as table:
        TABLE["n_jobs"].check(bad)
    n_jobs_checks.clear()
    with pytest.raises(InputError) as exc:
        make(bad)
    assert str(exc.value) == str(table.value) and "n_jobs" in str(exc.value)
    assert n_jobs_checks == [bad]  # through the table's constraint, once


def test_a_good_n_jobs_passes_the_same_constraint(n_jobs_checks):
    assert _resolve(3) == 3 and n_jobs_checks == [3]
