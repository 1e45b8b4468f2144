"""A pair's design facts, fixed when the zoo was built: label, split, recipe and RL budget.

``label`` is ``creation`` / ``activation`` / ``no_signal`` (random-reward and other controls), decided from what the
pretraining corpus contained, never from a model's outputs; ``split`` is ``calibration`` / ``test``. They are read
from the pair spec when it carries them, else from the RL model's manifest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...errors import InvalidConfigError

LABELS: tuple[str, ...] = ("creation", "activation", "no_signal")
SPLITS: tuple[str, ...] = ("calibration", "test")


@dataclass(frozen=True)
class PairFacts:
    label: str | None = None
    split: str | None = None
    recipe: str | None = None
    budget: str | None = None


def _manifest(pair: Any) -> dict:
    rl = getattr(pair, "rl", None)
    m = getattr(rl, "manifest", None)
    if m:
        return m
    spec = getattr(pair, "spec", pair)
    extra = getattr(spec, "extra", None) or {}
    return extra


def pair_facts(pair: Any) -> PairFacts:
    """The design facts of a loaded pair, a :class:`~rlmeta_interp.config.PairSpec`, or a manifest dict."""
    spec = getattr(pair, "spec", pair)
    src = pair if isinstance(pair, dict) else _manifest(pair)
    get = lambda k: getattr(spec, k, None) or src.get(k) or None  # noqa: E731
    label, split = get("label"), get("split")
    if label is not None and label not in LABELS:
        raise InvalidConfigError(f"Pair label {label!r} is not one of {LABELS}: fix the label in its manifest.")
    if split is not None and split not in SPLITS:
        raise InvalidConfigError(f"Pair split {split!r} is not one of {SPLITS}: fix the split in its manifest.")
    budget = get("budget")
    return PairFacts(label, split, get("recipe"), None if budget is None else str(budget))


def labelled_pairs(split: str | None = None) -> list[Any]:
    """Zoo pair specs that carry a label (optionally only one split), from the registry."""
    from ... import registry

    if hasattr(registry, "labelled_pairs"):
        return list(registry.labelled_pairs(split=split))
    out = []
    for name, spec in registry.all_pairs().items():
        m = registry.manifest_of(name) or {}
        f = pair_facts(m)
        if f.label is not None and (split is None or f.split == split):
            out.append(spec)
    return out
