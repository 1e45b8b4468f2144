"""A pair's design facts, fixed when the zoo was built: label, split, recipe and RL budget.

``label`` is ``creation`` / ``activation`` / ``no_signal`` (random-reward and other controls), decided from what the
pretraining corpus contained, never from a model's outputs; ``split`` is ``calibration`` / ``test``. They are read
from the pair spec (the registry fills them from the RL model's manifest).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, get_args

from ...config import PairLabel, PairSplit
from ...errors import InvalidConfigError

LABELS: tuple[str, ...] = get_args(PairLabel)
SPLITS: tuple[str, ...] = get_args(PairSplit)


@dataclass(frozen=True)
class PairFacts:
    label: str | None = None
    split: str | None = None
    recipe: str | None = None
    budget: str | None = None


def pair_facts(pair: Any) -> PairFacts:
    """The design facts of a loaded pair (its ``spec``), a :class:`~rlmeta_interp.config.PairSpec`, or an RL
    manifest dict."""
    if isinstance(pair, dict):
        label, split, recipe, budget = pair.get("label"), pair.get("split"), pair.get("recipe"), pair.get("budget")
    else:
        spec = getattr(pair, "spec", pair)
        label, split, recipe, budget = spec.label, spec.split, spec.recipe, spec.extra.get("budget")
    if label is not None and label not in LABELS:
        raise InvalidConfigError(f"Pair label {label!r} is not one of {LABELS}: fix the label in its manifest.")
    if split is not None and split not in SPLITS:
        raise InvalidConfigError(f"Pair split {split!r} is not one of {SPLITS}: fix the split in its manifest.")
    return PairFacts(label, split, recipe or None, None if budget is None else str(budget))


def labelled_pairs(split: str | None = None) -> list[Any]:
    """Zoo pair specs that carry a label (optionally only one split), from the registry."""
    from ... import registry

    return list(registry.labelled_pairs(split=split))


def _labelled_specs(preset: str) -> list[Any]:
    from ...organism.presets import preset_specs

    return [s for s in preset_specs(preset) if s.kind != "base"]


def preset_labelled_names(preset: str = "validation") -> list[str]:
    """The names of ``preset``'s labelled models (RL and fine-tuned), in preset order."""
    return [s.name for s in _labelled_specs(preset)]


def pending_pairs(pairs: Iterable[str], not_cases: Iterable[str] = (), preset: str = "validation") -> list[str]:
    """``preset``'s labelled pairs that are neither among ``pairs`` (a table's rows) nor recorded as no validation
    case (``not_cases``: their gain check failed): not built or not measured yet. The bar is judged only once there
    is none (:func:`~.bar.meets_bar`)."""
    return sorted(set(preset_labelled_names(preset)) - set(pairs) - set(not_cases))


def preset_build_status(preset: str = "validation") -> dict[str, Any]:
    """How much of ``preset``'s labelled models (RL and fine-tuned) the zoo holds up to date:
    ``{"preset", "labelled_models", "not_built"}``, where ``not_built`` lists the names missing from the zoo, built
    from another config (an older budget), with files that no longer match their manifest, or trained from another
    base (the zoo's own up-to-date test). A validation run over a partial build says so with this."""
    from pathlib import Path

    from ... import registry
    from ...organism.zoo import is_up_to_date

    wanted = _labelled_specs(preset)
    entries = registry.zoo_entries()
    missing = [s.name for s in wanted
               if s.name not in entries or not is_up_to_date(Path(entries[s.name].spec.location), s)]
    return {"preset": preset, "labelled_models": len(wanted), "not_built": missing}

