"""Steering vectors as values, applied through a context manager that always removes its hooks.

A :class:`SteeringVector` maps layers to ``[d_model]`` vectors at one hook site. Vectors add, subtract and scale
like numbers, save to and load from safetensors, and ``with vec.apply(model, multiplier=4.0): ...`` steers every
forward pass in the block, ``generate`` included (hooks fire on each KV-cached step).
"""

from __future__ import annotations

import contextlib
import json
import logging
import numbers
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor

from .errors import EmptyInputError, InvalidConfigError
from .hooks import SITES, hook_name, resolve_layer
from .inputs import MAX_MAGNITUDE, check_finite_tensor, check_int, check_number
from .io import read_tensors, save_tensors_atomic
from .views import tl_view

log = logging.getLogger(__name__)

PositionSpec = None | str | int | Sequence[int] | slice


def _check_positions(positions: Any) -> Any:
    """None, "last", an int, a sequence of ints or a slice; anything else is a typed error."""
    if positions is None or isinstance(positions, slice) or (isinstance(positions, str) and positions == "last"):
        return positions
    if isinstance(positions, str):
        raise InvalidConfigError(f"positions={positions!r} is not understood: use None (every position), 'last', an"
                                 " int, a list of ints or a slice.")
    if isinstance(positions, bool):
        raise InvalidConfigError("positions must be None, 'last', an int, a list of ints or a slice, not a bool.")
    if isinstance(positions, numbers.Integral):
        return int(positions)
    if not isinstance(positions, Iterable):
        raise InvalidConfigError(f"positions must be None, 'last', an int, a list of ints or a slice, not"
                                 f" {type(positions).__name__}.")
    items = list(positions.tolist() if isinstance(positions, Tensor) else positions)
    for p in items:
        check_int(p, "Each steering position")
    if not items:
        raise EmptyInputError("positions is an empty list: pass None to steer every position.")
    return items


@dataclass(frozen=True)
class SteeringVector:
    vectors: Mapping[int, Float[Tensor, " d_model"]]
    site: str = "resid_post"

    def __post_init__(self) -> None:
        if not isinstance(self.vectors, Mapping):
            raise InvalidConfigError(f"vectors must be a dict {{layer: tensor}}, got {type(self.vectors).__name__}.")
        if not self.vectors:
            raise EmptyInputError("A SteeringVector needs at least one layer: {layer: tensor}.")
        if self.site not in SITES:
            raise InvalidConfigError(f"Unknown site {self.site!r}; choose one of {SITES}.")
        for layer, v in self.vectors.items():
            check_int(layer, "A steering vector's layer key")
            if not isinstance(v, Tensor) or v.is_complex():
                raise InvalidConfigError(f"The vector for layer {layer} must be a real torch tensor [d_model], got"
                                         f" {type(v).__name__}.")
        dims = {tuple(v.shape) for v in self.vectors.values()}
        if len(dims) != 1 or len(next(iter(dims))) != 1:
            raise InvalidConfigError(f"Every vector must be 1-D with the same d_model; got shapes {sorted(dims)}.")
        # the finite check runs on the float32 copy that is kept: a float64 vector of 1e300 is finite before the cast
        # and inf after it
        vectors = {int(k): v.detach().float().cpu() for k, v in sorted(self.vectors.items())}
        for layer, v in vectors.items():
            check_finite_tensor(v, f"Steering vector for layer {layer} (as float32)",
                                "recompute it, or rescale it into float32's range")
        object.__setattr__(self, "vectors", vectors)

    # ---- construction
    @classmethod
    def from_means(cls, positive: Mapping[int, Tensor], negative: Mapping[int, Tensor], site: str = "resid_post") -> SteeringVector:
        """Difference of means ``mean(positive) - mean(negative)`` per layer, from ``[n, d_model]`` activations."""
        for name, d in (("positive", positive), ("negative", negative)):
            if not isinstance(d, Mapping):
                raise InvalidConfigError(f"{name} must be a dict {{layer: tensor [n, d_model]}}, got"
                                         f" {type(d).__name__}.")
            for layer, x in d.items():
                if not isinstance(x, Tensor) or x.ndim != 2:
                    raise InvalidConfigError(
                        f"{name}[{layer}] must be a torch tensor [n, d_model], got {type(x).__name__}"
                        f"{' of shape ' + str(tuple(x.shape)) if hasattr(x, 'shape') else ''}"
                        " (numpy: torch.from_numpy)."
                    )
            if any(x.shape[0] == 0 for x in d.values()):
                raise EmptyInputError(f"The {name} activation set is empty for some layer: give at least one example.")
        if set(positive) != set(negative):
            raise InvalidConfigError(f"positive and negative activations must cover the same layers, got"
                                     f" {sorted(positive)} and {sorted(negative)}.")
        widths = {k: (positive[k].shape[1], negative[k].shape[1]) for k in positive}
        if any(a != b for a, b in widths.values()):
            raise InvalidConfigError(f"positive and negative activations of a layer must have the same d_model; got"
                                     f" {widths} ((positive, negative) per layer).")
        return cls({k: positive[k].float().mean(0) - negative[k].float().mean(0) for k in positive}, site)

    @classmethod
    def random_like(cls, other: SteeringVector, seed: int = 0) -> SteeringVector:
        """Random directions with the same per-layer norms: the control for every steering result."""
        if not isinstance(other, SteeringVector):
            raise InvalidConfigError(f"random_like takes a SteeringVector, got {type(other).__name__}.")
        g = torch.Generator().manual_seed(check_int(seed, "seed", lo=0))
        out = {}
        for k, v in other.vectors.items():
            r = torch.randn(v.shape, generator=g)
            out[k] = r / r.norm() * v.norm()
        return cls(out, other.site)

    # ---- arithmetic
    @property
    def layers(self) -> list[int]:
        return list(self.vectors)

    def _combine(self, other: SteeringVector, sign: float) -> SteeringVector:
        if not isinstance(other, SteeringVector):
            raise InvalidConfigError(f"A SteeringVector combines with another SteeringVector, not"
                                     f" {type(other).__name__} (scale it with * instead).")
        if other.site != self.site:
            raise InvalidConfigError(f"Cannot combine vectors at different sites ({self.site} vs {other.site}).")
        width, other_width = next(iter(self.vectors.values())).shape[0], next(iter(other.vectors.values())).shape[0]
        if width != other_width:
            raise InvalidConfigError(f"Cannot combine vectors of d_model {width} and {other_width}: they come from"
                                     " different models.")
        layers = sorted(set(self.vectors) | set(other.vectors))
        zero = torch.zeros_like(next(iter(self.vectors.values())))
        return SteeringVector({k: self.vectors.get(k, zero) + sign * other.vectors.get(k, zero) for k in layers}, self.site)

    def __add__(self, other: SteeringVector) -> SteeringVector:
        return self._combine(other, 1.0)

    def __sub__(self, other: SteeringVector) -> SteeringVector:
        return self._combine(other, -1.0)

    def __mul__(self, scale: float | int) -> SteeringVector:
        scale = check_number(scale, "scale", max_abs=MAX_MAGNITUDE)
        return SteeringVector({k: v * scale for k, v in self.vectors.items()}, self.site)

    __rmul__ = __mul__

    def __neg__(self) -> SteeringVector:
        return self * -1.0

    def norms(self) -> dict[int, float]:
        return {k: float(v.norm()) for k, v in self.vectors.items()}

    def normalized(self) -> SteeringVector:
        return SteeringVector({k: v / v.norm().clamp_min(1e-12) for k, v in self.vectors.items()}, self.site)

    def only(self, *layers: int) -> SteeringVector:
        missing = [k for k in layers if k not in self.vectors]
        if missing:
            raise InvalidConfigError(f"This vector has no layer(s) {missing}; it has {self.layers}.")
        return SteeringVector({k: self.vectors[k] for k in layers}, self.site)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, SteeringVector) and self.site == other.site and self.vectors.keys() == other.vectors.keys()
                and all(torch.equal(self.vectors[k], other.vectors[k]) for k in self.vectors))

    __hash__ = None  # type: ignore[assignment]

    # ---- persistence
    def save(self, path: str | Path) -> Path:
        return save_tensors_atomic(path, {f"layer.{k}": v for k, v in self.vectors.items()},
                                   metadata={"site": self.site, "format": "rlmeta-steering-v1"})

    @classmethod
    def load(cls, path: str | Path) -> SteeringVector:
        tensors, meta = read_tensors(path, rebuild="save the vector again (SteeringVector.save) from its source")
        bad = [k for k in tensors if not re.fullmatch(r"layer\.-?\d+", k)]  # save() writes negative layers too
        if bad or not tensors:
            raise InvalidConfigError(
                f"{path} is not a steering vector file (SteeringVector.save writes 'layer.<n>' tensors; found"
                f" {sorted(tensors)[:5]}): pass a file written by SteeringVector.save."
            )
        return cls({int(k.split(".")[1]): v for k, v in tensors.items()}, meta.get("site", "resid_post"))

    # ---- application
    def hooks(self, model: Any, multiplier: float | int = 1.0, positions: PositionSpec = None) -> list[tuple[str, Any]]:
        """``(hook_name, fn)`` pairs for TransformerLens's ``model.hooks(fwd_hooks=...)``."""
        tl = tl_view(model)
        if not (hasattr(tl, "cfg") and hasattr(tl, "hooks")):
            raise InvalidConfigError(f"Steering needs a LoadedModel or a TransformerLens model, got {type(model).__name__}"
                                     ": pass the LoadedModel (load_model(...)) rather than its .hf model.")
        multiplier = check_number(multiplier, "multiplier", max_abs=MAX_MAGNITUDE)
        positions = _check_positions(positions)
        n_layers = tl.cfg.n_layers
        dtype = getattr(tl.cfg, "dtype", torch.float32)
        resolved = {key: resolve_layer(key, n_layers) for key in self.vectors}
        twice = sorted(layer for layer, n in Counter(resolved.values()).items() if n > 1)
        if twice:
            keys = [k for k, layer in resolved.items() if layer in twice]
            raise InvalidConfigError(f"Layers {keys} of this vector are the same layer(s) {twice} of a {n_layers}-layer"
                                     " model, so each would be added there: keep one key per layer (add the vectors"
                                     " into one if both are meant).")
        pairs = []
        warned: list[bool] = []  # one warning per hooks() call, however many passes miss (see fn)
        for key, vec in self.vectors.items():
            layer = resolved[key]
            if vec.shape[0] != tl.cfg.d_model:
                raise InvalidConfigError(f"Vector has d_model {vec.shape[0]}, the model {tl.cfg.d_model}.")
            # what is added, in the model's dtype, checked once here (float16 overflows at 65504)
            scaled = (multiplier * vec).to(dtype)
            # on the model's device once, not at every forward (KV-cached generation calls the hook per token)
            scaled = scaled.to(getattr(tl.cfg, "device", None) or "cpu")
            check_finite_tensor(scaled, f"multiplier {multiplier:g} x the layer-{layer} vector in {dtype}",
                                "use a smaller multiplier")

            def fn(act: Tensor, hook: Any, _v: Tensor = scaled) -> Tensor:
                add = _v.to(device=act.device, dtype=act.dtype)
                if positions is None:
                    return act + add
                act = act.clone()
                if positions == "last":
                    act[:, -1, :] += add
                else:
                    idx = positions if isinstance(positions, slice) else torch.as_tensor(
                        [positions] if isinstance(positions, int) else list(positions))
                    if isinstance(idx, Tensor):
                        idx = idx[(idx < act.shape[1]) & (idx >= -act.shape[1])]  # KV-cached steps have length 1
                    hit = len(idx) if isinstance(idx, Tensor) else len(range(act.shape[1])[idx])
                    if hit == 0 and act.shape[1] > 1 and not warned:
                        # a whole prompt, not a cached step: nothing is steered in this pass. A warning, not an
                        # error: uncached generation steers a later position in a later, longer pass
                        warned.append(True)
                        log.warning("Steering positions %r select none of the %d positions of this forward pass: the"
                                    " vector is added nowhere in it. Pass positions inside the prompt, or None /"
                                    " 'last'.", positions, act.shape[1])
                    act[:, idx, :] += add
                return act

            pairs.append((hook_name(layer, self.site), fn))
        return pairs

    @contextlib.contextmanager
    def apply(self, model: Any, multiplier: float | int = 1.0, positions: PositionSpec = None) -> Iterator[Any]:
        """Steer ``model`` (a LoadedModel, HookedTransformer or TransformerBridge) inside the block.

        ``positions``: None (every position, generated tokens included), ``"last"`` (the last position of each
        forward: the newest token during KV-cached generation), an int, a list of ints or a slice (positions within
        each forward; KV-cached steps have one position, so indices past it are skipped; a longer pass in which they
        select nothing logs a warning). Hooks are removed on exit, also when the body raises.
        """
        tl = tl_view(model)
        pairs = self.hooks(tl, multiplier, positions)
        with tl.hooks(fwd_hooks=pairs):  # TransformerLens removes them in a `finally`
            yield tl

    def describe(self) -> str:
        return json.dumps({"site": self.site, "norms": self.norms()})
