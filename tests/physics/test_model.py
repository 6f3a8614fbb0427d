"""SpinModel: presets, overrides, validation, natural units."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spinexplore.physics.model import MODEL_PARAMETERS, PRESETS, SpinModel


def test_default_preset_is_triangular_chiral():
    m = SpinModel.preset()
    assert (m.lattice, m.J1, m.D, m.dmi, m.K, m.h, m.T) == ("triangular", 1.0, 0.5625, "interfacial", 0, 0, 0)


def test_square_preset():
    m = SpinModel.preset("square-chiral", K=0.3)
    assert m.lattice == "square" and m.D == pytest.approx(0.8165) and m.K == 0.3


def test_unknown_preset_lists_presets():
    with pytest.raises(ValueError, match="triangular-chiral") as info:
        SpinModel.preset("hexagonal")
    assert "square-chiral" in str(info.value) and "'hexagonal'" in str(info.value)


def test_with_params_overrides_and_keeps_the_rest():
    m = SpinModel.preset().with_params({"h": 0.2, "K": 0.4})
    assert (m.h, m.K, m.D, m.lattice) == (0.2, 0.4, 0.5625, "triangular")


def test_with_params_unknown_key_lists_parameters():
    with pytest.raises(ValueError, match=r"unknown model parameter\(s\) \['B'\]") as info:
        SpinModel.preset().with_params({"B": 1.0})
    for name in MODEL_PARAMETERS:
        assert repr(name) in str(info.value)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_values_rejected(bad):
    with pytest.raises(ValueError, match="h must be a finite"):
        SpinModel.preset().with_params({"h": bad})
    with pytest.raises(ValueError, match="D must be a finite"):
        SpinModel(lattice="square", D=bad)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"lattice": "kagome"}, "lattice must be one of"),
        ({"dmi": "rashba"}, "dmi must be one of"),
        ({"T": -1.0}, "T must be >= 0"),
        ({"J1": 0.0}, "at least one non-zero coupling"),
    ],
)
def test_bad_fields(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        SpinModel(**kwargs)


def test_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        SpinModel.preset().h = 1.0


def test_natural_unit():
    assert SpinModel(lattice="square", D=0.8).natural_unit == pytest.approx(0.64)
    assert SpinModel(lattice="triangular", D=0.5625).natural_unit == pytest.approx(1.5 * 0.5625**2)
    with pytest.raises(ValueError, match="natural_unit needs"):
        _ = SpinModel(lattice="square", D=0.0).natural_unit


def test_presets_build():
    for name in PRESETS:
        assert isinstance(SpinModel.preset(name), SpinModel)


@settings(max_examples=30, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["J2", "J3", "D", "K", "h", "T"]),
        st.floats(min_value=0.0, max_value=10.0, allow_nan=False),
    )
)
def test_with_params_roundtrip(params):
    m = SpinModel.preset().with_params(params)
    for k, v in params.items():
        assert getattr(m, k) == v
    assert SpinModel(**m.to_dict()) == m
