"""The committed validation table as other code reads it: its summary (checksum verified), the indicators and sizes it
measured, the voting rules it fitted for a world, one scorecard's reading by its fitted summary, and how often that
reading was right on the table's held-out pairs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...io import read_json
from ..indicators.core import INDICATORS, ScorecardConfig
from .fit import FittedRules, pair_table
from .labels import LABELS

SUMMARY_JSON = "validation_summary.json"


def committed_summary(folder: str | Path | None = None) -> dict[str, Any] | None:
    """The committed validation table (checksum verified), or None when there is none."""
    from ...paths import record_figures_dir

    path = Path(folder if folder is not None else record_figures_dir()) / SUMMARY_JSON
    return read_json(path, required=True) if path.exists() else None


def measured_indicators(summary: dict[str, Any]) -> list[str] | None:
    """The indicators a validation table measured: the run's, and those added to it afterwards with
    ``validate --add-indicator`` (fitted on its calibration rows); None where the run does not say."""
    run = summary.get("run") or {}
    measured = (run.get("scorecard_config") or {}).get("indicators")
    if measured is None:
        return None
    return list(measured) + [n for n in run.get("added_indicators") or {} if n not in measured]


def validated_config(summary: dict[str, Any]) -> ScorecardConfig:
    """The scorecard sizes and indicators a validation table was measured with (its run's, with the indicators added
    to it since): a pair scored so is read by the fit at the sizes the fit was validated at."""
    cfg = ScorecardConfig.from_dict(summary["run"]["scorecard_config"])
    return cfg.replace(indicators=tuple(measured_indicators(summary) or cfg.indicators))


def held_out_record(summary: dict[str, Any], reading: str, ci: float = 0.95) -> dict[str, Any] | None:
    """How the fitted summary's ``reading`` fared on the table's held-out pairs: on its clean test (the pairs first
    measured after the fit last changed) where it has one, else on every held-out pair. ``read``: held-out pairs it
    read so; ``right``: of those, the ones whose label is ``reading``, with the exact (Clopper-Pearson) interval of
    that share (pairs that share a base are not independent, so it is optimistic); ``label_n``: held-out pairs
    labelled ``reading``; ``n``, ``classes`` and ``recipes``: the test's size, pairs per class and recipes, on which
    the share depends. None for a reading that is no class (e.g. inconclusive), or one no held-out pair was read as
    or labelled."""
    from scipy.stats import binomtest

    if reading not in LABELS:
        return None
    clean = (summary.get("clean_test") or {}).get("evaluation")
    ev = clean if clean is not None else summary.get("evaluation")
    if not ev:
        return None
    s = ev["summary"]
    counts = dict(zip(s["confusion"]["rows"], s["confusion"]["counts"], strict=True))
    col = s["confusion"]["columns"].index(reading) if reading in s["confusion"]["columns"] else None
    read = 0 if col is None else sum(row[col] for row in counts.values())
    right = 0 if col is None or reading not in counts else counts[reading][col]
    label_n = sum(counts.get(reading, []))
    if not read and not label_n:
        return None
    lo, hi = (binomtest(right, read).proportion_ci(ci, method="exact") if read else (None, None))
    return {"test": "clean test" if clean is not None else "held-out pairs", "read": read, "right": right,
            "lo": None if lo is None else float(lo), "hi": None if hi is None else float(hi), "label_n": label_n,
            "n": int(ev.get("n_test") or sum(sum(r) for r in counts.values())),
            "classes": dict(ev.get("test_classes") or {}), "recipes": sorted(s.get("right_by_recipe") or {})}


def fitted_rules(folder: str | Path | None = None, *, world: str | None) -> Any | None:
    """The voting rules fitted on the calibration split, from the committed validation table (None without one), for
    pairs of ``world`` (its own cuts where the fit has them; the pooled cuts for another world, or ``world=None``,
    which must be said: a pair of a world with its own cuts is read by those):
    pass them as ``ScorecardConfig.rules`` so that a scorecard votes by the validated thresholds. Indicators that
    run did not measure are descriptive under them."""
    summary = committed_summary(folder)
    if summary is None:
        return None
    rules = FittedRules.from_dict(summary["fitted"]).rules_for(world)
    # an indicator the committed run did not measure (skipped, or added after it) was never validated: it reports
    measured = measured_indicators(summary)
    if measured is None:
        return rules
    return rules.replace(descriptive=tuple(i for i in INDICATORS if i in rules.descriptive or i not in measured))


def fitted_reading(card: Any, folder: str | Path | None = None) -> str | None:
    """The reading of one scorecard by the summary fitted on the calibration split (``creation`` / ``activation``
    / ``no_signal``), from the committed table; None when no table is committed. The card is re-voted under the
    fitted rules first, so the vote-rule fallback uses the validated thresholds too."""
    summary = committed_summary(folder)
    if summary is None:
        return None
    fitted = FittedRules.from_dict(summary["fitted"])
    return fitted.predict(pair_table([card.revoted(fitted.rules_for(card.world))]))[0]


def read_pairs(pairs: list[str], *, out: str | Path | None = None, progress: bool = True,
               folder: str | Path | None = None) -> Any:
    """Labelled zoo pairs outside the validation preset (a pilot recipe's, a world without calibration pairs), scored
    at the committed table's sizes (:func:`validated_config`) and read by its fit as ``validate --add`` would read
    them, without adding a row to the table or touching the fit: how the validated meter reads pairs it was never
    tested on. Pass a recipe's pairs in one call, so that each finds its same-budget control and reference base.
    One row per pair (a ``pandas.DataFrame``): design label, gain check, ``case`` (a validation case by its gain
    check; controls always are), ``own_world_cuts`` (whether the fit has cuts of the pair's own world, else it reads
    it by the pooled ones), the fitted summary's reading and P(creation), the vote rule's reading, each summary input
    as the fit reads it (from its world's cut, in its world's spread) with its vote, and ``table_sha256``, the
    checksum of the table read. Refused: pairs of the validation preset (``validate --add`` measures those, and
    records it), and pairs not up to date against the preset they were built from."""
    import pandas as pd

    from ... import registry
    from ...errors import InvalidConfigError, UnknownModelError
    from ...io import sha256_file
    from ...organism.gain import is_validation_case
    from ...organism.presets import PRESETS
    from ...paths import record_figures_dir
    from .labels import labelled_pairs, preset_build_status, preset_labelled_names
    from .measure import score_cards

    summary = committed_summary(folder)
    if summary is None:
        raise InvalidConfigError("No committed validation table to read pairs by: run `rlmeta-interp validate` first.")
    if not pairs:
        raise InvalidConfigError("validate --read was given no pairs: name the labelled pairs to read.")
    known = {s.name: s for s in labelled_pairs()}
    missing = [p for p in pairs if p not in known]
    if missing:
        raise UnknownModelError(missing[0], sorted(known))
    # a validation pair's reading belongs in the table's record (a clean test is the pairs first measured there)
    presets = {p: (registry.manifest_of(p) or {}).get("preset") for p in pairs}
    validation = set(preset_labelled_names("validation")) | {p for names in (summary.get("pairs") or {}).values()
                                                             for p in names}
    held = sorted(p for p in pairs if p in validation or presets[p] == "validation")
    if held:
        raise InvalidConfigError(f"{held} are validation pairs: `rlmeta-interp validate --add` measures them and"
                                 " records it. Read only pairs outside the validation preset.")
    # a model built outside the presets cannot be checked against one
    stale: list[str] = []
    for preset in sorted({v for v in presets.values() if v in PRESETS}):
        # not in the zoo as the preset builds it now, or no longer a model of the preset
        not_built = set(preset_build_status(preset)["not_built"]) | (set(pairs) - set(preset_labelled_names(preset)))
        stale += [p for p in pairs if presets[p] == preset and p in not_built]
    if stale:
        raise InvalidConfigError(f"{sorted(stale)} are not built up to date against the preset they came from: rebuild them"
                                 " (rlmeta-interp zoo build --preset ... --only ...) and read them again.")
    fitted = FittedRules.from_dict(summary["fitted"])
    table_sha = sha256_file(Path(folder if folder is not None else record_figures_dir()) / SUMMARY_JSON)
    specs = [known[p] for p in dict.fromkeys(pairs)]
    cards = score_cards(specs, validated_config(summary), out, progress=progress)
    cards = [c.revoted(fitted.rules_for(c.world)) for c in cards]
    table = pair_table(cards)
    prob = fitted.creation_probability(table)
    rows = []
    for i, (card, spec) in enumerate(zip(cards, specs, strict=True)):
        gain = (registry.manifest_of(spec.name) or {}).get("gain_check") or {}
        row: dict[str, Any] = {"pair": card.pair, "world": card.world, "recipe": card.recipe, "label": card.label,
                               "gain_check": {True: "passed", False: "failed"}.get(gain.get("passed"), "n/a"),
                               "case": is_validation_case(card.label, gain or None),
                               "own_world_cuts": card.world in fitted.world_cuts,
                               "reading": fitted.predict(table.iloc[[i]])[0],
                               "p_creation": float(prob[i]), "vote_rule": table["vote_summary"].iloc[i]}
        for name in fitted.inputs:
            row[name] = float(fitted.standardised(table.iloc[[i]], name)[0])
            row[f"{name}_vote"] = card.votes.get(name, "n/a")
        rows.append({**row, "table_sha256": table_sha})
    return pd.DataFrame(rows)



def reading_source(card: Any, summary: dict[str, Any]) -> str:
    """Where the fitted summary's reading of ``card`` comes from: ``"no gain"`` (read no_signal), ``"vote rule"``
    (none of the summary's inputs measured, or no summary model fitted: the fallback), else ``"summary"``."""
    from .fit import no_gain

    fitted = FittedRules.from_dict(summary["fitted"])
    row = pair_table([card.revoted(fitted.rules_for(card.world))])
    if no_gain(row["gain"].iloc[0]):
        return "no gain"
    measured = bool(fitted.inputs) and bool(row[list(fitted.inputs)].astype(float).notna().any(axis=1).iloc[0])
    prob = fitted.creation_probability(row)[0]
    return "summary" if measured and prob == prob else "vote rule"
