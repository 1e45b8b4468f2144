"""A pair's design facts, fixed when the zoo was built: label, split, recipe and RL budget.

``label`` is ``creation`` / ``activation`` / ``no_signal`` (random-reward and other controls), decided from what the
pretraining corpus contained, never from a model's outputs; ``split`` is ``calibration`` / ``test``. They are read
from the pair spec (the registry fills them from the RL model's manifest).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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


@dataclass(frozen=True)
class ScorecardSelection:
    """The pairs a scorecard run over the zoo scores (``specs``), the labelled pairs it considered, and whether they
    hold a calibration and a held-out split, so that a fit can be validated on them (``validate``)."""

    specs: list[Any]
    labelled: list[Any]
    validate: bool


def scorecard_selection(worlds: Sequence[str], *, preset: str | None, pairs: Sequence[str] = (), max_pairs: int = 0,
                        smoke: bool = False) -> ScorecardSelection:
    """The labelled pairs of ``worlds`` (of ``preset``, when given; only ``pairs``, when given) when they hold both
    splits; otherwise the zoo pairs of those worlds (:func:`~rlmeta_interp.selection.select_pairs`). Every name in
    ``pairs`` must be among them: one the zoo lacks gets the command that builds it, one that ``worlds`` or ``preset``
    leave out an InvalidConfigError. ``max_pairs``: the first that many (0: all)."""
    from ...selection import named_pairs, select_pairs

    labelled = [p for p in labelled_pairs() if (not preset or p.extra.get("preset") in (None, preset))
                and p.world in worlds and (not pairs or p.name in pairs)]
    validate = {"calibration", "test"} <= {p.split for p in labelled}
    specs = labelled if validate else list(select_pairs(list(worlds), preset=preset or None, smoke=smoke,
                                                        require="any"))
    specs = [s for s in specs if s.name in pairs] if pairs else specs
    if pairs and {s.name for s in specs} != set(pairs):
        named_pairs(list(pairs))  # a pair the zoo lacks: MissingWeightsError with the command that builds it
        gone = sorted(set(pairs) - {s.name for s in specs})
        raise InvalidConfigError(f"PAIRS names pairs that WORLDS or PRESET leave out: {gone}; widen them or fix PAIRS.")
    return ScorecardSelection(specs[:max_pairs] if max_pairs else specs, labelled, validate)


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

