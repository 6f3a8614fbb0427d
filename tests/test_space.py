"""ParameterSpace: transforms, bounds, validation messages."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spinexplore import Dimension, ParameterSpace


def test_names_bounds_and_fixed():
    space = ParameterSpace({"h": (0.0, 1.0), "K": (-0.5, 2.0)}, fixed={"T": 0.0})
    assert space.names == ["h", "K"]
    assert space.n_dims == 2
    np.testing.assert_allclose(space.bounds, [[0, 1], [-0.5, 2.0]])
    dicts = space.to_dicts([[0.25, 1.0]])
    assert dicts == [{"h": 0.25, "K": 1.0, "T": 0.0}]


def test_unit_cube_corners_and_log_scale():
    space = ParameterSpace({"J2": (0.01, 1.0, "log"), "h": (0.0, 2.0)})
    X = space.from_unit([[0, 0], [0.5, 0.5], [1, 1]])
    np.testing.assert_allclose(X[:, 0], [0.01, 0.1, 1.0])  # geometric midpoint
    np.testing.assert_allclose(X[:, 1], [0.0, 1.0, 2.0])


@settings(max_examples=60, deadline=None)
@given(
    lows=st.lists(st.floats(-100, 100), min_size=1, max_size=6),
    widths=st.lists(st.floats(1e-3, 100), min_size=6, max_size=6),
    u=st.lists(st.floats(0, 1), min_size=6, max_size=6),
)
def test_round_trip_and_bounds(lows, widths, u):
    d = len(lows)
    dims = {f"x{i}": (lo, lo + w) for i, (lo, w) in enumerate(zip(lows, widths))}
    space = ParameterSpace(dims)
    U = np.array(u[:d]).reshape(1, d)
    X = space.from_unit(U)
    assert space.contains(X).all()
    np.testing.assert_allclose(space.to_unit(X), U, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(low=st.floats(1e-6, 10), ratio=st.floats(1.01, 1e6), u=st.floats(0, 1))
def test_log_round_trip(low, ratio, u):
    space = ParameterSpace({"a": (low, low * ratio, "log")})
    X = space.from_unit([[u]])
    assert space.contains(X).all()
    np.testing.assert_allclose(space.to_unit(X), [[u]], atol=1e-9)


def test_serialisation_round_trip():
    space = ParameterSpace({"h": (0, 1), "D": (0.1, 1.0, "log")}, fixed={"K": 0.2})
    assert ParameterSpace.from_dict(space.to_dict()) == space


@pytest.mark.parametrize(
    "dims, match",
    [
        ({"h": (1.0, 0.0)}, r"dimension 'h' must satisfy low < high; got \(1.0, 0.0\)"),
        ({"h": (0.0, math.inf)}, r"bound high of dimension 'h' must be finite; got inf"),
        ({"h": (0.0, math.nan)}, r"must be finite"),
        ({"h": (0.0, 0.0)}, r"low < high"),
        ({"h": (0.0, 1.0, "log")}, r"log-scaled dimension 'h' needs low > 0; got low=0.0"),
        ({}, r"needs 1 to 6 free dimensions; got 0"),
        ({f"x{i}": (0, 1) for i in range(7)}, r"needs 1 to 6 free dimensions; got 7"),
        ({"2h": (0, 1)}, r"must be a Python identifier"),
    ],
)
def test_bad_dimensions(dims, match):
    with pytest.raises(ValueError, match=match):
        ParameterSpace(dims)


def test_bad_types_and_fixed():
    with pytest.raises(TypeError, match="must be given as"):
        ParameterSpace({"h": 1.0})
    with pytest.raises(ValueError, match="both a free dimension and fixed"):
        ParameterSpace({"h": (0, 1)}, fixed={"h": 0.5})
    with pytest.raises(ValueError, match="fixed value of 'K' must be finite"):
        ParameterSpace({"h": (0, 1)}, fixed={"K": math.nan})
    with pytest.raises(TypeError, match="Dimension objects"):
        ParameterSpace([("h", 0, 1)])
    assert ParameterSpace([Dimension("h", 0, 1)]).names == ["h"]


def test_points_outside_and_wrong_shape():
    space = ParameterSpace({"h": (0, 1), "K": (0, 1)})
    with pytest.raises(ValueError, match="lies outside the space"):
        space.validate_points([[2.0, 0.5]])
    with pytest.raises(ValueError, match=r"shape \(n_points, 2\)"):
        space.to_unit([[0.1, 0.2, 0.3]])


@pytest.mark.parametrize("dims, fixed, match", [
    ({"h": (0.0, 1e300)}, None, r"bound high of dimension 'h' must lie within \+-1e\+15; got 1e\+300"),
    ({"h": (-1e16, 0.0)}, None, "bound low of dimension 'h' must lie within"),
    ({"h": (0.0, 1.0)}, {"K": 1e20}, r"fixed value of 'K' must lie within \+-1e\+15"),
    ({"h": (1.0, 1.0 + 1e-12)}, None, "dimension 'h' is too narrow for its magnitude"),
])
def test_documented_value_ranges(dims, fixed, match):
    from spinexplore.errors import InputError

    with pytest.raises(InputError, match=match):
        ParameterSpace(dims, fixed=fixed)


def test_errors_are_input_errors():
    from spinexplore.errors import InputError, InputTypeError

    with pytest.raises(InputTypeError) as info:
        ParameterSpace({"h": ("a", 1.0)})
    assert isinstance(info.value, TypeError) and isinstance(info.value, InputError)
    with pytest.raises(InputError):
        ParameterSpace({"h": (1.0, 0.0)})
