"""The committed validation table as other code reads it: its summary (checksum verified), the indicators and sizes it
measured, the voting rules it fitted for a world, one scorecard's reading by its fitted summary, how often that
reading was right on the table's held-out pairs, and the test the bar is judged on read over base models."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ...errors import InvalidConfigError
from ...io import read_csv, read_json
from ..indicators.core import INDICATORS, ScorecardConfig
from .bar import criteria_now, fit_changes, judgements, tested_key
from .bases import base_reading
from .fit import FittedRules, pair_table
from .labels import LABELS

log = logging.getLogger(__name__)

SUMMARY_JSON = "validation_summary.json"
PAIRS_CSV = "validation_pairs.csv"


def committed_summary(folder: str | Path | None = None) -> dict[str, Any] | None:
    """The committed validation table (checksum verified), or None when there is none."""
    from ...paths import record_figures_dir

    path = Path(folder if folder is not None else record_figures_dir()) / SUMMARY_JSON
    return read_json(path, required=True) if path.exists() else None


def stored_pair_rows(folder: str | Path) -> Any:
    """The per-pair table in ``folder`` as stored (a pandas DataFrame; its checksum verified, so a table edited by
    hand is refused), or None when there is none. Only empty cells are missing values: a vote of "n/a" is a reading,
    which pandas would otherwise turn into NaN."""
    path = Path(folder) / PAIRS_CSV
    return read_csv(path, required=True, keep_default_na=False, na_values=[""]) if path.exists() else None


def measured_indicators(summary: dict[str, Any]) -> list[str] | None:
    """The indicators a validation table measured: the run's, and those added to it afterwards with
    ``validate --add-indicator`` (fitted on its calibration rows); None where the run does not say."""
    run = summary.get("run") or {}
    measured = (run.get("scorecard_config") or {}).get("indicators")
    if measured is None:
        return None
    return list(measured) + [n for n in run.get("added_indicators") or {} if n not in measured]


def table_pairs(summary: dict[str, Any]) -> set[str]:
    """Every pair a validation table holds a row of, whatever its split."""
    return {p for names in (summary.get("pairs") or {}).values() for p in names}


def validated_config(summary: dict[str, Any]) -> ScorecardConfig:
    """The scorecard sizes and indicators a validation table was measured with (its run's, with the indicators added
    to it since): a pair scored so is read by the fit at the sizes the fit was validated at."""
    cfg = ScorecardConfig.from_dict(summary["run"]["scorecard_config"])
    return cfg.replace(indicators=tuple(measured_indicators(summary) or cfg.indicators))


def fit_sha256(summary: dict[str, Any]) -> str:
    """sha256 of what a reading by a validation table's fit rests on: the fitted rules (``fitted``), the scorecard
    sizes and indicators it reads at (as recorded, with the indicators added since: :func:`validated_config`), the
    calibration pairs whose labels and bases its evaluation's baselines read, and that evaluation's bootstrap size and
    seed. Unlike the summary file's checksum it stays the same while the table only grows under one fit (``validate
    --add`` records new held-out rows and tests in the file), so readings made by one fit stay comparable. The
    recorded config is hashed, not the config object, so a field added to the code with a default moves no digest."""
    run = summary.get("run") or {}
    config = {**(run.get("scorecard_config") or {}), "indicators": measured_indicators(summary)}
    parts = {"fitted": summary["fitted"], "scorecard_config": config,
             "calibration": sorted((summary.get("pairs") or {}).get("calibration") or []),
             "n_boot": run.get("n_boot"), "seed": run.get("seed")}
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


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
    return None if summary is None else fitted_reading_and_source(card, summary)[0]


def fitted_reading_and_source(card: Any, summary: dict[str, Any]) -> tuple[str, str]:
    """:func:`fitted_reading` under ``summary``'s fit, and where it comes from (``FittedRules.sources``: "summary",
    "vote rule" or "no gain")."""
    fitted = FittedRules.from_dict(summary["fitted"])
    row = pair_table([card.revoted(fitted.rules_for(card.world))])
    return fitted.predict(row)[0], fitted.sources(row)[0]


def judged_now(summary: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The test the bar is judged on now, ``{evaluation, pairs}``: the bar test after a judged test, the clean test
    after a fit change, else the pooled held-out pairs; None when that test has no evaluation yet."""
    run = summary.get("run") or {}
    if judgements(run) or fit_changes(run):
        now = summary.get(tested_key(run)) or {}
        return now if now.get("evaluation") is not None else None
    return {"evaluation": summary["evaluation"], "pairs": (summary.get("pairs") or {}).get("test") or []}


def judged_test_over_bases(summary: Mapping[str, Any], pairs: Any = None) -> dict[str, Any] | None:
    """The test the bar is judged on now (:func:`judged_now`) read over base models (:func:`~.bases.over_bases`),
    with the criteria version it is judged by (``bar_criteria``, :func:`~.bar.criteria_now`): as its evaluation
    keeps it, or, for a table whose evaluations were written without it, computed from its per-pair table ``pairs``
    (as stored) under its fit. None without such a test, or when neither is there or the table does not fit the
    reading (a base of both classes, pairs missing)."""
    now = judged_now(summary)
    if now is None or not now.get("pairs"):
        return None
    criteria = {"bar_criteria": criteria_now(dict(summary.get("run") or {}))}
    kept = now["evaluation"].get("over_bases")
    if kept is not None:
        return {**kept, **criteria}
    if pairs is None or "base" not in pairs.columns:
        return None
    try:
        reading = base_reading(now["evaluation"], pairs, FittedRules.from_dict(summary["fitted"]), list(now["pairs"]))
    except InvalidConfigError as e:
        log.warning("No reading over base models: %s", e)
        return None
    return {**reading, **criteria}
