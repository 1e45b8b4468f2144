"""Frozen, typed config dataclasses with ``to_dict`` / ``from_dict`` round-trips.

Convention (as in SAELens): every config is a ``@dataclass(frozen=True)`` subclass of
:class:`FrozenConfig`; validation lives in ``__post_init__`` and raises
:class:`~rlmeta_interp.errors.InvalidConfigError` naming the field and the fix; no default is
silently derived from another field.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

from .errors import InvalidConfigError

C = TypeVar("C", bound="FrozenConfig")


def _to_plain(value: Any) -> Any:
    if isinstance(value, FrozenConfig):
        return value.to_dict()
    if isinstance(value, (tuple, list)):
        return [_to_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_plain(v) for k, v in value.items()}
    return value


def _from_plain(tp: Any, value: Any) -> Any:
    """Rebuild a value of annotated type ``tp`` from JSON-like data."""
    origin = get_origin(tp)
    if isinstance(tp, type) and issubclass(tp, FrozenConfig):
        return tp.from_dict(value) if isinstance(value, dict) else value
    if origin in (tuple,):
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_from_plain(args[0], v) for v in value)
        return tuple(_from_plain(a, v) for a, v in zip(args, value, strict=False))
    if origin in (typing.Union, types.UnionType):
        for arg in get_args(tp):
            if arg is type(None):
                if value is None:
                    return None
                continue
            if isinstance(arg, type) and issubclass(arg, FrozenConfig) and isinstance(value, dict):
                return arg.from_dict(value)
            if get_origin(arg) is tuple and isinstance(value, list):
                return _from_plain(arg, value)
        return value
    if origin is dict:
        _, vt = get_args(tp)
        return {k: _from_plain(vt, v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class FrozenConfig:
    """Base class: JSON round-trip, ``replace``, and type checks of Literal fields."""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _to_plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls: type[C], data: dict[str, Any]) -> C:
        hints = get_type_hints(cls)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise InvalidConfigError(
                f"{cls.__name__} has no field(s) {sorted(unknown)}; valid fields: {sorted(names)}."
            )
        kwargs = {k: _from_plain(hints[k], v) for k, v in data.items()}
        return cls(**kwargs)

    def replace(self: C, **changes: Any) -> C:
        return dataclasses.replace(self, **changes)

    def __post_init__(self) -> None:
        hints = get_type_hints(type(self))
        for f in dataclasses.fields(self):
            tp = hints[f.name]
            value = getattr(self, f.name)
            if get_origin(tp) is Literal and value not in get_args(tp):
                raise InvalidConfigError(
                    f"{type(self).__name__}.{f.name}={value!r} is not allowed; choose one of {list(get_args(tp))}."
                )


def check_range(obj: FrozenConfig, name: str, lo: float | None = None, hi: float | None = None,
                *, lo_open: bool = False, hi_open: bool = False) -> None:
    """Raise InvalidConfigError unless ``lo <= obj.name <= hi`` (bounds optional, open if asked)."""
    value = getattr(obj, name)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise InvalidConfigError(f"{type(obj).__name__}.{name} must be a number, got {type(value).__name__} {value!r}.")
    bad_lo = lo is not None and (value <= lo if lo_open else value < lo)
    bad_hi = hi is not None and (value >= hi if hi_open else value > hi)
    if bad_lo or bad_hi:
        lb = "(" if lo_open else "["
        rb = ")" if hi_open else "]"
        raise InvalidConfigError(
            f"{type(obj).__name__}.{name}={value!r} is outside {lb}{lo if lo is not None else '-inf'},"
            f" {hi if hi is not None else 'inf'}{rb}."
        )


WeightProcessing = Literal["none", "fold_ln"]


@dataclass(frozen=True)
class LoadConfig(FrozenConfig):
    """How a model is loaded into TransformerLens. Both members of a pair always share one.

    ``processing="none"`` (default) keeps TransformerLens activations identical to the Hugging Face
    model's, so the fast Hugging Face harvest path and TransformerLens hooks see the same numbers.
    ``"fold_ln"`` folds norm weights (and centres writing weights) for circuit work; activations then
    differ from Hugging Face's and only the TransformerLens path is used.
    """

    device: str = "cpu"
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    processing: WeightProcessing = "none"
    trust_remote_code: bool = False


@dataclass(frozen=True)
class ModelSpec(FrozenConfig):
    """One loadable model: where its weights are and what it is."""

    name: str
    source: Literal["zoo", "hub", "folder", "embedded"]
    location: str  # folder path for zoo/folder/embedded, hub id for hub
    description: str = ""
    revision: str | None = None


@dataclass(frozen=True)
class PairSpec(FrozenConfig):
    """A base model and its RL-tuned version, with the facts an analysis needs."""

    name: str
    base: ModelSpec
    rl: ModelSpec
    world: str | None = None  # organism world ("arithmetic", "bandits", "planning") or None for real LMs
    dose: float | None = None  # known exposure dose for organisms; None when unknown (real LMs)
    description: str = ""
    suggested_layer: int | None = None
    how_to_obtain: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.dose is not None:
            check_range(self, "dose", 0.0, 1.0)
