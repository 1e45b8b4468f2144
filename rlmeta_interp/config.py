"""Frozen, typed config dataclasses with ``to_dict`` / ``from_dict`` round-trips.

Convention (as in SAELens): every config is a ``@dataclass(frozen=True)`` subclass of
:class:`FrozenConfig`; validation lives in ``__post_init__`` and raises
:class:`~rlmeta_interp.errors.InvalidConfigError` naming the field and the fix; no default is
silently derived from another field.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import math
import numbers
import os
import types
import typing
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

import numpy as np

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


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _check_value(value: Any, tp: Any) -> tuple[Any, str | None]:
    """``(value, None)`` when ``value`` fits the annotation ``tp`` (lists given for tuple fields come back as tuples),
    else ``(value, reason)``. Annotations this cannot check (Any, callables, arrays, jaxtyping) accept anything."""
    if tp is Any or isinstance(tp, TypeVar):
        return value, None
    origin = get_origin(tp)
    if origin is Literal:
        allowed = get_args(tp)
        # True == 1 and 1.0 == 1 in Python: a bool or a float must not pass for an int literal (nor the reverse)
        ok = any(_same_literal(value, a) for a in allowed)
        return value, None if ok else f"must be one of {list(allowed)}"
    if origin in (typing.Union, types.UnionType):
        reasons = []
        for arg in get_args(tp):
            v, why = _check_value(value, arg)
            if why is None:
                return v, None
            if arg is not type(None):
                reasons.append(why)
        return value, reasons[0] if len(reasons) == 1 else " or ".join(reasons)
    if tp is type(None) or tp is None:
        return value, None if value is None else "must be None"
    if tp is bool:
        return value, None if isinstance(value, (bool, np.bool_)) else (
            f"must be a bool (True or False), not {type(value).__name__} {value!r}")
    if tp is int:
        ok = isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))
        return value, None if ok else f"must be an integer, not {type(value).__name__} {value!r}"
    if tp is float:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            return value, f"must be a number, not {type(value).__name__} {value!r}"
        return value, None if not math.isnan(float(value)) else "must be a number, not NaN"
    if tp is str:
        return value, None if isinstance(value, str) else f"must be a string, not {type(value).__name__} {value!r}"
    if origin is tuple:
        if isinstance(value, list):
            value = tuple(value)
        if not isinstance(value, tuple):
            return value, f"must be a tuple, not {type(value).__name__} {value!r}"
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            args = (args[0],) * len(value)
        elif args and len(args) != len(value):
            return value, f"must have {len(args)} items, not {len(value)}"
        items = []
        for i, (a, v) in enumerate(zip(args, value, strict=False)):
            v, why = _check_value(v, a)
            if why is not None:
                return value, f"item {i}: {why}"
            items.append(v)
        return (tuple(items) if args else value), None
    if origin in (list, collections.abc.Sequence):
        if not isinstance(value, (list, tuple)):
            return value, f"must be a list, not {type(value).__name__} {value!r}"
        (a,) = get_args(tp) or (Any,)
        for i, v in enumerate(value):
            if _check_value(v, a)[1] is not None:
                return value, f"item {i}: {_check_value(v, a)[1]}"
        return value, None
    if origin in (dict, collections.abc.Mapping):
        if not isinstance(value, collections.abc.Mapping):
            return value, f"must be a dict, not {type(value).__name__} {value!r}"
        kt, vt = get_args(tp) or (Any, Any)
        for k, v in value.items():
            why = _check_value(k, kt)[1] or _check_value(v, vt)[1]
            if why is not None:
                return value, f"entry {k!r}: {why}"
        return value, None
    if isinstance(tp, type) and origin is None:
        if issubclass(tp, os.PathLike) or tp is os.PathLike:
            return value, None if isinstance(value, (str, os.PathLike)) else f"must be a path, not {value!r}"
        return value, None if isinstance(value, tp) else f"must be a {tp.__name__}, not {type(value).__name__} {value!r}"
    return value, None  # generics this checker does not know (Callable, jaxtyping, ...)


def _same_literal(value: Any, allowed: Any) -> bool:
    try:
        equal = bool(value == allowed)
    except (TypeError, ValueError):  # arrays and other values without a truth value
        return False
    return equal and isinstance(value, bool) == isinstance(allowed, bool) and isinstance(value, float) == isinstance(
        allowed, float)


@lru_cache(maxsize=None)
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


@dataclass(frozen=True)
class FrozenConfig:
    """Base class: JSON round-trip, ``replace``, and a type check of every annotated field.

    Fields are checked against their annotations when the object is built: ``bool`` takes only True/False (the
    string ``"false"`` is rejected), ``int`` takes integers only (no floats, no bools), ``float`` takes numbers
    but not NaN, and ``str``, ``Literal``, ``Optional``/unions, tuples (a list is stored as a tuple), lists, dicts
    and nested configs are checked item by item. Ranges are checked by each subclass with :func:`check_range`.
    """

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _to_plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls: type[C], data: dict[str, Any]) -> C:
        if not isinstance(data, collections.abc.Mapping):
            raise InvalidConfigError(f"{cls.__name__}.from_dict takes a dict of fields, got {type(data).__name__}.")
        hints = _hints(cls)
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
        hints = _hints(type(self))
        for f in dataclasses.fields(self):
            tp = hints[f.name]
            value = getattr(self, f.name)
            checked, why = _check_value(value, tp)
            if why is not None:
                raise InvalidConfigError(
                    f"{type(self).__name__}.{f.name}={value!r} is not allowed: it {why}. Pass a value of type"
                    f" {_type_name(tp)}."
                )
            if checked is not value:
                object.__setattr__(self, f.name, checked)


def check_range(obj: FrozenConfig, name: str, lo: float | int | None = None, hi: float | int | None = None,
                *, lo_open: bool = False, hi_open: bool = False) -> None:
    """Raise InvalidConfigError unless ``lo <= obj.name <= hi`` (bounds optional, open if asked).

    NaN is always rejected, and so are infinities outside the bounds; a field annotated ``int`` must hold an
    integer (``2.5`` and ``True`` are rejected even when in range).
    """
    value = getattr(obj, name)
    cls = type(obj).__name__
    if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)):
        raise InvalidConfigError(f"{cls}.{name} must be a number, got {type(value).__name__} {value!r}.")
    if math.isnan(float(value)):
        raise InvalidConfigError(f"{cls}.{name} is NaN: pass a number (check the computation that produced it).")
    tp = _hints(type(obj)).get(name)
    wants_int = tp is int or (get_origin(tp) in (typing.Union, types.UnionType) and int in get_args(tp)
                              and float not in get_args(tp))
    if wants_int and not isinstance(value, numbers.Integral):
        raise InvalidConfigError(f"{cls}.{name}={value!r} must be a whole number (an int), e.g. {math.floor(value)}.")
    bad_lo = lo is not None and (value <= lo if lo_open else value < lo)
    bad_hi = hi is not None and (value >= hi if hi_open else value > hi)
    if bad_lo or bad_hi:
        lb = "(" if lo_open else "["
        rb = ")" if hi_open else "]"
        raise InvalidConfigError(
            f"{cls}.{name}={value!r} is outside {lb}{lo if lo is not None else '-inf'},"
            f" {hi if hi is not None else 'inf'}{rb}: pass a value in that range."
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


#: where a model's weights come from (one :mod:`rlmeta_interp.sources` source each)
SourceKind = Literal["zoo", "hub", "folder", "embedded", "adapter"]
#: what a validation-zoo pair is known to show, and which half of the validation it belongs to
PairLabel = Literal["creation", "activation", "no_signal"]
PairSplit = Literal["calibration", "test"]
#: the manifest ``kind`` of tuned organisms, each a pair with its base
TUNED_KINDS = ("rl", "sft")


@dataclass(frozen=True)
class ModelSpec(FrozenConfig):
    """One loadable model: where its weights are and what it is.

    ``source`` names the :mod:`rlmeta_interp.sources` source that turns the spec into a local folder; ``location``
    is a folder path (zoo, folder, adapter), a hub id (hub) or an embedded model name (embedded). ``parent`` is the
    model an adapter is applied to (adapter source only).
    """

    name: str
    source: SourceKind
    location: str
    description: str = ""
    revision: str | None = None
    parent: ModelSpec | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if (self.source == "adapter") != (self.parent is not None):
            raise InvalidConfigError(
                f"ModelSpec {self.name!r}: source={self.source!r} with parent={self.parent!r}. An adapter model needs"
                " the ModelSpec of the model it is applied to as parent, and only adapter models have one."
            )


@dataclass(frozen=True)
class PairSpec(FrozenConfig):
    """A base model and its RL-tuned version, with the facts an analysis needs."""

    name: str
    base: ModelSpec
    rl: ModelSpec
    world: str | None = None  # the world the RL run trained on ("arithmetic", ..., "wordsum"); None when unknown
    dose: float | None = None  # known exposure dose for organisms; None when unknown (real LMs)
    description: str = ""
    suggested_layer: int | None = None
    how_to_obtain: str = ""
    # validation-zoo facts from the RL model's manifest: whether RL created the capability, activated it, or moved
    # nothing; whether the pair calibrates the indicators or tests them; and the recipe that made it
    label: PairLabel | None = None
    split: PairSplit | None = None
    recipe: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.dose is not None:
            check_range(self, "dose", 0.0, 1.0)
