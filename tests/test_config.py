from __future__ import annotations

from dataclasses import FrozenInstanceError

import pytest

from rlmeta_interp.config import LoadConfig, ModelSpec, PairSpec
from rlmeta_interp.errors import InvalidConfigError


def _pair(**kw):
    m = ModelSpec(name="a", source="folder", location="x")
    return PairSpec(name="p", base=m, rl=m.replace(name="b"), **kw)


def test_roundtrip_nested_and_frozen():
    p = _pair(world="arithmetic", dose=0.5, extra={"k": 1})
    assert PairSpec.from_dict(p.to_dict()) == p
    with pytest.raises(FrozenInstanceError):
        p.name = "q"  # type: ignore[misc]


def test_validation_names_the_field():
    with pytest.raises(InvalidConfigError, match="dose"):
        _pair(dose=1.5)
    with pytest.raises(InvalidConfigError, match="processing"):
        LoadConfig(processing="fold_everything")  # type: ignore[arg-type]
    with pytest.raises(InvalidConfigError, match="no field"):
        LoadConfig.from_dict({"devise": "cpu"})
    with pytest.raises(InvalidConfigError, match="must be a number"):
        _pair(dose="high")  # type: ignore[arg-type]
