"""Pairs outside the validation table, read by its fit: labelled zoo pairs that no validation run measured (a pilot
recipe's, a world without calibration pairs) scored at the committed table's sizes and read as ``validate --add``
would read them, without adding a row or touching the fit; and, over those that are validation cases by their gain
checks, the same held-out evaluation the table reports (balanced accuracy, exact recall intervals, each indicator's
AUC as the fit reads it) and whether it meets the project's bar. This is how a test designed outside the validation
preset (a new world, fixed in advance) is scored without merging it into the table's own clean test."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ...errors import InvalidConfigError, UnknownModelError
from ...io import sha256_file
from ...provenance import source_revision
from .bar import BAR_CRITERIA, counts_for_bar, meets_evaluation
from .committed import committed_table
from .fit import FittedRules, creation_vs_activation, evaluate, pair_table, rule_scores
from .labels import labelled_pairs, preset_build_status, preset_labelled_names
from .measure import score_cards
from .reading import PAIRS_CSV, SUMMARY_JSON, fit_sha256, table_pairs, validated_config


def preset_pairs(preset: str) -> list[str]:
    """Every labelled pair ``preset`` designs, in preset order: what ``validate --read --preset`` reads, so that a
    registered test is read whole and not as a chosen subset. The validation preset is refused (``validate --add``
    measures its pairs)."""
    if preset == "validation":
        raise InvalidConfigError("--preset validation: its pairs are measured by `rlmeta-interp validate --add`; read"
                                 " a preset outside validation (e.g. composition-test).")
    names = preset_labelled_names(preset)
    if not names:
        raise InvalidConfigError(f"Preset {preset!r} has no labelled pairs to read.")
    return names


def _check_table(digests: dict[str, str], expected: str | Sequence[str] | None) -> None:
    """Refuse a committed table other than the one a test registered. ``expected``: the summary's sha256, then
    optionally the per-pair table's (``validation_pairs.csv``, whose calibration rows the evaluation's baselines
    read), each in full or as a prefix of at least 12 hex digits."""
    if expected is None:
        return
    wants = [expected] if isinstance(expected, str) else list(expected)
    if not 1 <= len(wants) <= 2:
        raise InvalidConfigError(f"--expect-table takes the summary's checksum and optionally the per-pair table's,"
                                 f" not {len(wants)} values.")
    for (kind, got), given in zip(digests.items(), wants, strict=False):
        want = given.strip().lower()
        if len(want) < 12 or any(c not in "0123456789abcdef" for c in want):
            raise InvalidConfigError(f"--expect-table {given!r}: pass the table's sha256 (at least its first 12 hex"
                                     " digits), as the registration recorded it.")
        if not got.startswith(want):
            raise InvalidConfigError(
                f"The committed table's {kind} is {got[:12]}..., not the {want[:12]}... the reading was registered"
                " against: the table file changed since (rows added, or the fit changed). Read with the registered"
                " table (check out its commit's figures/), or register the new checksum before reading.")


def expansion_reading(base_metrics: dict[str, Any] | None, metrics: dict[str, Any] | None) -> str:
    """A label-free reading from the pass@k evaluations alone, the baseline the meter is compared with where cases
    are selected by their label's pass@k pattern: "no_signal" without any gain, "creation" when pass@n expanded at
    some level, else "activation"; "n/a" without per-level evaluations. The gain check's own procedure, run as for
    a creation label on every pair alike, so that the reading does not depend on the label."""
    from ...organism.gain import gain_check

    if not base_metrics or not metrics:
        return "n/a"
    check = gain_check(base_metrics, metrics, "creation")
    if check["kind"] != "passk":
        return "n/a"
    return "creation" if check["expanded_levels"] else "activation" if check["gain"] else "no_signal"


def _checked_specs(pairs: list[str], summary: dict[str, Any]) -> list[Any]:
    """The specs of ``pairs``, refusing unknown names, validation pairs (``validate --add`` measures those, and
    records it: a clean test is the pairs first measured there) and pairs not built up to date against the preset
    they came from."""
    from ... import registry
    from ...organism.presets import PRESETS

    if not pairs:
        raise InvalidConfigError("validate --read was given no pairs: name the labelled pairs to read.")
    known = {s.name: s for s in labelled_pairs()}
    missing = [p for p in pairs if p not in known]
    if missing:
        raise UnknownModelError(missing[0], sorted(known))
    presets = {p: (registry.manifest_of(p) or {}).get("preset") for p in pairs}
    validation = set(preset_labelled_names("validation")) | table_pairs(summary)
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
        raise InvalidConfigError(f"{sorted(stale)} are not built up to date against the preset they came from: rebuild"
                                 " them (rlmeta-interp zoo build --preset ... --only ...) and read them again.")
    return [known[p] for p in dict.fromkeys(pairs)]


def read_pairs(pairs: list[str], *, out: str | Path | None = None, progress: bool = True,
               folder: str | Path | None = None, expected_table: str | Sequence[str] | None = None,
               preset: str | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``pairs`` scored at the committed table's sizes (:func:`validated_config`) and read by its fit. Pass a recipe's
    pairs in one call, so that each finds its same-budget control and reference base among them.

    Returns ``(readings, evaluation)``. ``readings``: one row per pair: design label, gain check, ``case`` (a
    validation case by its gain check; controls always are), ``own_world_cuts`` (whether the fit has cuts of the
    pair's own world, else it reads it by the pooled ones), the fitted summary's reading and P(creation), the vote
    rule's reading, each summary input as the fit reads it (from its world's cut, in its world's spread) with its
    vote, ``table_sha256``, the checksum of the summary read, and ``fit_sha256``, the digest of its fit
    (:func:`~.reading.fit_sha256`). ``evaluation``: ``table_sha256`` and ``fit_sha256``, the pairs
    evaluated (the cases), and, over them, the table's held-out evaluation (``validation.fit.evaluate``, with the
    committed run's bootstrap size and seed) with ``meets_bar`` (:func:`~.bar.meets_evaluation`); no ``evaluation``
    key when no pair is a case; also ``pairs_csv_sha256`` (the per-pair table the fit came from), ``code`` (the
    package version and git commit that measured, :func:`~rlmeta_interp.provenance.source_revision`), ``preset``, and
    ``read`` (every pair read with its label, gain check and whether it is a case). Each indicator of the evaluation
    says whether it ``counts_for_bar``, and each rule's evaluation gives ``creation_vs_activation`` beside its
    three-class balanced accuracy.

    The evaluation also scores ``expansion_rule``, the label-free reading of the pass@k evaluations
    (:func:`expansion_reading`), over the same cases, and each row carries it (``expansion_reading``).

    ``preset``: the pairs must be exactly that preset's labelled pairs (:func:`preset_pairs`). ``expected_table``:
    refuse, before measuring anything, a committed table whose checksums differ from the registered ones."""
    from ... import registry
    from ...organism.gain import is_validation_case
    from ...paths import record_figures_dir

    if preset is not None and sorted(set(pairs)) != sorted(preset_pairs(preset)):
        raise InvalidConfigError(f"--preset {preset}: read exactly its {len(preset_pairs(preset))} labelled pairs (pass"
                                 " no names with it), not a subset or others.")
    code = source_revision()  # the code that measures, taken before it does
    summary, table = committed_table(folder)
    table_dir = Path(folder if folder is not None else record_figures_dir())
    digests = {"summary": sha256_file(table_dir / SUMMARY_JSON), "pairs_csv": sha256_file(table_dir / PAIRS_CSV)}
    _check_table(digests, expected_table)
    specs = _checked_specs(pairs, summary)
    fitted = FittedRules.from_dict(summary["fitted"])
    table_sha, fit_sha = digests["summary"], fit_sha256(summary)
    cards = [c.revoted(fitted.rules_for(c.world))
             for c in score_cards(specs, validated_config(summary), out, progress=progress)]
    rows_in = pair_table(cards)
    prob, readings = fitted.creation_probability(rows_in), fitted.predict(rows_in)
    read_as = {name: fitted.standardised(rows_in, name) for name in fitted.inputs}
    rows, cases = [], []
    for i, (card, spec) in enumerate(zip(cards, specs, strict=True)):
        manifest = registry.manifest_of(spec.name) or {}
        gain = manifest.get("gain_check") or {}
        base_manifest = registry.manifest_of(str(manifest.get("base"))) or {}  # by name: spec.base is a model spec
        expansion = expansion_reading(base_manifest.get("metrics"), manifest.get("metrics"))
        case = is_validation_case(card.label, gain or None)
        cases += [i] if case else []
        row: dict[str, Any] = {"pair": card.pair, "world": card.world, "recipe": card.recipe, "label": card.label,
                               "gain_check": {True: "passed", False: "failed"}.get(gain.get("passed"), "n/a"),
                               "case": case, "own_world_cuts": card.world in fitted.world_cuts,
                               "reading": readings[i],
                               "p_creation": float(prob[i]), "vote_rule": rows_in["vote_summary"].iloc[i],
                               "expansion_reading": expansion}
        for name in fitted.inputs:
            row[name] = float(read_as[name][i])
            row[f"{name}_vote"] = card.votes.get(name, "n/a")
        rows.append({**row, "table_sha256": table_sha, "fit_sha256": fit_sha})
    result: dict[str, Any] = {"table_sha256": table_sha, "fit_sha256": fit_sha,
                              "pairs_csv_sha256": digests["pairs_csv"],
                              "code": code, "preset": preset, "pairs": [cards[i].pair for i in cases],
                              "read": {r["pair"]: {k: r[k] for k in ("label", "gain_check", "case", "reading",
                                                                     "expansion_reading")} for r in rows}}
    if cases:
        run = summary.get("run") or {}
        test = rows_in.iloc[cases].reset_index(drop=True)
        boot = {"n_boot": int(run.get("n_boot", 1000)), "seed": int(run.get("seed", 0))}
        ev = evaluate(fitted, test, table[table["split"] == "calibration"], **boot)
        for rule in ("summary", "vote_rule"):  # beside the three-class score (fit.creation_vs_activation)
            ev[rule]["creation_vs_activation"] = creation_vs_activation(
                test, list(ev[rule]["predictions"].values()), **boot)
        ev["indicators"] = [{**r, "counts_for_bar": counts_for_bar(r)} for r in ev["indicators"]]
        ev["expansion_rule"] = _rule_evaluation(test, [rows[i]["expansion_reading"] for i in cases], **boot)
        # judged by the criteria in force now, recorded beside, since an earlier reading may have had others
        result["evaluation"] = {**ev, "meets_bar": meets_evaluation(ev, criteria=BAR_CRITERIA),
                                "bar_criteria": BAR_CRITERIA}
    return pd.DataFrame(rows), result


def _rule_evaluation(test: pd.DataFrame, pred: list[str], *, n_boot: int, seed: int) -> dict[str, Any]:
    """A baseline rule's readings of the cases, scored as the fitted summary is (:func:`rule_scores`), with creation
    against activation alone."""
    return {**rule_scores(test, pred, n_boot=n_boot, seed=seed),
            "creation_vs_activation": creation_vs_activation(test, pred, n_boot=n_boot, seed=seed)}
