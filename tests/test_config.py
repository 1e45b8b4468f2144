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


# ---- every annotated field is type-checked, not only Literal ones
from dataclasses import dataclass, field  # noqa: E402
from typing import Literal  # noqa: E402

from rlmeta_interp.config import FrozenConfig, check_range  # noqa: E402


@dataclass(frozen=True)
class _Inner(FrozenConfig):
    k: int = 1


@dataclass(frozen=True)
class _Typed(FrozenConfig):
    flag: bool = False
    n: int = 2
    lr: float = 0.1
    name: str = "x"
    mode: Literal["a", "b"] = "a"
    maybe: int | None = None
    sizes: tuple[int, ...] = (1, 2)
    pair: tuple[float, float] = (0.0, 1.0)
    names: list[str] = field(default_factory=list)
    table: dict[str, float] = field(default_factory=dict)
    inner: _Inner = _Inner()

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range(self, "n", 1)
        check_range(self, "lr", 0.0, 1.0, lo_open=True)


@pytest.mark.parametrize("field_name,value,fix", [
    ("flag", "false", "must be a bool"), ("flag", 0, "must be a bool"),
    ("n", 2.5, "must be an integer"), ("n", True, "must be an integer"), ("n", "3", "must be an integer"),
    ("lr", float("nan"), "not NaN"), ("lr", "0.1", "must be a number"), ("lr", True, "must be a number"),
    ("name", 3, "must be a string"), ("mode", "c", r"must be one of \['a', 'b'\]"), ("maybe", 1.5, "must be an integer"),
    ("sizes", (1, 2.5), "item 1: must be an integer"), ("sizes", 3, "must be a tuple"),
    ("pair", (0.0,), "must have 2 items"), ("names", ["a", 1], "item 1: must be a string"),
    ("table", {"a": "x"}, "entry 'a': must be a number"), ("inner", {"k": 1}, "must be a _Inner"),
])
def test_every_annotation_is_checked(field_name, value, fix):
    with pytest.raises(InvalidConfigError, match=rf"_Typed\.{field_name}=.*{fix}.*Pass a value of type"):
        _Typed(**{field_name: value})


def test_valid_values_pass_and_lists_become_tuples():
    import numpy as np

    t = _Typed(flag=True, n=np.int64(3), lr=1, maybe=None, sizes=[4, 5], names=["a"], table={"a": 1},
               inner=_Inner(k=2))
    assert t.sizes == (4, 5) and isinstance(t.sizes, tuple) and t.n == 3
    assert _Typed.from_dict(t.to_dict()) == t.replace(n=3)
    with pytest.raises(InvalidConfigError, match="must be an integer"):  # nested configs are checked on their own
        _Typed.from_dict({"inner": {"k": "one"}})


@pytest.mark.parametrize("value,fix", [(float("nan"), "not NaN"), (float("inf"), r"outside \(0.0, 1.0\]"),
                                       (-float("inf"), "outside"), (0.0, "outside")])
def test_check_range_rejects_nan_inf_and_bounds(value, fix):
    with pytest.raises(InvalidConfigError, match=fix):
        _Typed(lr=value)


def test_check_range_rejects_nan_and_non_integers_on_its_own():
    # bypass the annotation check to reach check_range itself (it also guards values set after construction)
    obj = _Typed()
    object.__setattr__(obj, "n", 2.5)
    with pytest.raises(InvalidConfigError, match="must be a whole number"):
        check_range(obj, "n", 1)
    object.__setattr__(obj, "lr", float("nan"))
    with pytest.raises(InvalidConfigError, match="is NaN"):
        check_range(obj, "lr", 0.0, 1.0)


def test_trust_remote_code_must_be_a_real_bool():
    with pytest.raises(InvalidConfigError, match="trust_remote_code='false'.*must be a bool"):
        LoadConfig.from_dict({"trust_remote_code": "false"})
    with pytest.raises(InvalidConfigError, match="must be a bool"):
        LoadConfig(trust_remote_code=1)  # type: ignore[arg-type]
    assert LoadConfig.from_dict({"trust_remote_code": True}).trust_remote_code is True


def test_repo_configs_still_validate():
    """Every zoo preset spec and every registered pair is built through these checks."""
    from rlmeta_interp import registry
    from rlmeta_interp.organism.zoo import PRESETS, preset_specs

    for preset in PRESETS:
        for spec in preset_specs(preset):
            assert type(spec).from_dict(spec.to_dict()) == spec
    assert registry.all_pairs()


@pytest.mark.parametrize("bad", [{"dose": float("nan")}, {"dose": 2.5}])
def test_pair_dose_nan_rejected(bad):
    with pytest.raises(InvalidConfigError, match="dose"):
        _pair(**bad)
