"""The committed validation table as a starting point: fit and report again from its per-pair rows, or add held-out
pairs to it, without the models its other rows were measured on.

A validation run measures every labelled pair, which needs the whole validation zoo (hours of CPU to rebuild on a
fresh machine); its per-pair table (``validation_pairs.csv``, checksummed) keeps each indicator's statistic, CI and
vote. Two things can be redone from that table alone:

- :func:`refit_committed`: the fit on the calibration rows and the held-out report, with the current fitting and
  reporting code (the table's measurements are kept as they are). The per-pair votes in the table were cast under
  the fitted rules the table records: a refit that moves the cut of an indicator voting from its statistic alone
  casts those votes again from the table; any other change of the rules is refused, since those votes would be
  stale.
- :func:`add_to_committed`: measure some pairs with the table's own measurement sizes and report the table with
  their rows added (or replaced). Held-out pairs are voted under the table's fitted rules. A calibration pair
  changes the fit: every indicator whose rules then change has its votes cast again, from the table's statistics
  where its vote rests on the statistic alone, else from its metrics on every pair it was measured on, which must
  then be built here as the very models of their rows (weight checksums); otherwise the call is refused. The
  record of such a call keeps the held-out headline it replaced: those readings had been seen. A held-out pair
  measured again must read as its row did; otherwise the call is refused (a full run records such a change instead,
  and it ends every test).
- :func:`add_indicator_to_committed`: measure an indicator the table lacks on the pairs of either split that this
  machine holds, checked to be the very models the table's rows were measured on (weight checksums), fit its cut
  on the calibration rows and report, refused if any other indicator's rules would change.

What neither can check is that the indicators' measuring code is the code the carried rows were measured with; the
summary records which rows were carried (the checksum of the table they came from) and which were measured anew.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ...errors import CheckpointMismatchError, EmptyInputError, InvalidConfigError
from ...io import sha256_file
from ..indicators import REGISTRY, revote
from ..indicators.core import INDICATORS, ScorecardConfig
from .bar import (add_records, bar_test_pairs, clean_before, clean_test_pairs, ending, judged_record,
                  readings_before, same_fit, starts_test, tested_pairs, with_fit_change)
from .fit import FittedRules, candidates, fit_rules, pair_table
from .labels import labelled_pairs, pending_pairs, preset_build_status, preset_labelled_names
from .measure import measure_committed, score_cards, validation_cases
from .recast import RERUN, check_votes, indicator_keys, recast_changed, recast_vote_rule
from .reading import PAIRS_CSV, committed_summary, stored_pair_rows, validated_config
from .report import record_trust_paragraph, validation_summary, write_validation_table
from .seen import reading_columns, refuse_replaced, remeasured, replaced_readings

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)


def committed_table(folder: str | Path | None = None) -> tuple[dict[str, Any], pd.DataFrame]:
    """The committed summary and its per-pair table (checksums verified), from ``folder`` (default: the figures of
    record). ``gain`` is kept as Python objects (True / False / None), as :func:`pair_table` makes it."""
    from ...paths import record_figures_dir

    folder = Path(folder if folder is not None else record_figures_dir())
    summary = committed_summary(folder)
    if summary is None:
        raise EmptyInputError(f"No validation table in {folder}: {RERUN}.")
    table = stored_pair_rows(folder)
    if table is None:
        raise EmptyInputError(f"No per-pair table {folder / PAIRS_CSV} beside the summary: {RERUN}.")
    table["gain"] = [None if g != g else bool(g) for g in table["gain"].astype(object)]
    # an indicator (or candidate reading) added after the table was written: not measured on any of its pairs
    for name in INDICATORS:
        if name not in table.columns:
            table[[name, f"{name}_lo", f"{name}_hi"]] = float("nan")
            table[f"{name}_vote"] = "n/a"
    for col, _, _ in candidates():
        if col not in table.columns:
            table[col] = float("nan")
    return summary, table


def refit(summary: dict[str, Any], table: pd.DataFrame) -> tuple[FittedRules, dict[str, Any], pd.DataFrame]:
    """The fit on ``table``'s calibration rows and the report of the whole table, with the votes recast under the
    new fit; returns the fit, the report and the table it reports.

    Nothing is measured: votes are recast from the table alone (:func:`recast_changed` with ``measure=False``). An
    indicator the new fit makes descriptive votes ``n/a``; a moved cut of an indicator that votes from its
    statistic alone is applied to the table's statistics (in each world, under that world's rules); any other
    change of the rules is refused, since those votes need the indicators' metrics, which the table does not keep.
    A refit whose fit differs from the table's is recorded as a fit change (:func:`_with_fit_change`)."""
    run = summary.get("run") or {}
    cfg = ScorecardConfig.from_dict(run.get("scorecard_config") or {})
    n_boot, seed = int(run.get("n_boot", 1000)), int(run.get("seed", 0))
    fitted = fit_rules(table[table["split"] == "calibration"], cfg.rules, n_boot=n_boot, seed=seed)
    table = table.copy()
    recast = recast_changed(table, fitted, FittedRules.from_dict(summary["fitted"]), {}, cfg, out=None,
                            progress=False, measure=False)
    if recast:
        log.info("refit: votes cast again from the table's statistics for %s", ", ".join(sorted(recast)))
    record = {"refit": True, "pairs": [], **({"revoted": recast} if recast else {})}
    return fitted, _report(table, fitted, with_fit_change(run, summary, fitted.to_dict(), record)), table


def _report(table: pd.DataFrame, fitted: FittedRules, run: dict[str, Any]) -> dict[str, Any]:
    """The summary of ``table`` under ``fitted``, with the clean test that ``run``'s history leaves, and ``run``."""
    n_boot, seed = int(run.get("n_boot", 1000)), int(run.get("seed", 0))
    held_out = table.loc[table["split"] == "test", "pair"]
    new = validation_summary(table, fitted, n_boot=n_boot, seed=seed, clean=clean_test_pairs(run, held_out),
                             bar=bar_test_pairs(run, held_out))
    return {**new, "run": run}


def _build_record(carried: dict[str, Any], table: pd.DataFrame, added: Sequence[str] = (),
                  failed: Sequence[str] = ()) -> dict[str, Any]:
    """The table's build record after ``added`` pairs were measured (``failed``: those without a passed gain
    check): the run's own record (``not_built`` when it ran), with ``not_in_table``, the current preset's labelled
    pairs that have no row and are not recorded as failing the gain check (not built or not measured yet)."""
    not_cases = (set(carried.get("not_validation_cases") or []) - set(added)) | set(failed)
    missing = pending_pairs(table["pair"], not_cases)
    return {**carried, "not_built": sorted(set(carried.get("not_built") or []) - set(added)),
            "not_validation_cases": sorted(not_cases), "not_in_table": missing,
            "labelled_models": len(preset_labelled_names("validation")),
            # a run restricted to some pairs that later calls completed covers the whole design
            "pairs_requested": carried.get("pairs_requested") if missing else None}


def _with_judgement(summary: dict[str, Any], run: dict[str, Any], record: dict[str, Any],
                    build: dict[str, Any]) -> dict[str, Any]:
    """``run``, the history a call leaves over the table ``summary``, with ``record`` appended when the call left
    the fit as it was (it appended no record of a change) but rewrites a table whose bar was judged after the
    preset grew (:func:`~.bar.judged_record`); ``run`` otherwise."""
    if len(add_records(run)) > len(add_records(summary.get("run") or {})):
        return run  # the call changed the fit, which ends every test
    grown = judged_record(summary, record, build["not_in_table"])
    return {**run, "added": [*add_records(run), grown]} if "judged_before" in grown else run


def _write(new: dict[str, Any], table: pd.DataFrame, folder: Path, table_dir: str | Path | None) -> dict[str, Any]:
    out = Path(table_dir) if table_dir is not None else folder
    write_validation_table(new, table, out)
    if table_dir is None:  # the figures of record changed: the README's paragraph follows them
        record_trust_paragraph(new, stored_pair_rows(out))
    return new


def refit_committed(folder: str | Path | None = None, *, table_dir: str | Path | None = None) -> dict[str, Any]:
    """Fit and report again from the committed per-pair table in ``folder`` (default: the figures of record) and
    write the result to ``table_dir`` (default: the same folder, and README.md's trust paragraph). Nothing is
    measured; the run's record (sizes, seeds, build) is kept, with the checksum of the table it was refitted from."""
    from ...paths import record_figures_dir

    folder = Path(folder if folder is not None else record_figures_dir())
    summary, table = committed_table(folder)
    fitted, new, table = refit(summary, table)
    build = _build_record(summary.get("build") or {}, table)
    run = _with_judgement(summary, new["run"], {"refit": True, "pairs": []}, build)
    new = {**(new if run is new["run"] else _report(table, fitted, run)), "build": build}
    new["run"] = {**new["run"], "refit_from": {"pairs_csv_sha256": sha256_file(folder / PAIRS_CSV)}}
    log.info("validate --refit: %d pairs from %s, held-out balanced accuracy %.2f", len(table), folder,
             new["summary"]["balanced_accuracy"]["value"])
    return _write(new, table, folder, table_dir)


def add_to_committed(pairs: Sequence[str], *, out: str | Path | None = None, folder: str | Path | None = None,
                     table_dir: str | Path | None = None, progress: bool = True) -> dict[str, Any]:
    """Measure the labelled ``pairs`` (scorecards cached under ``out``) with the committed run's sizes, put their
    rows in the committed table (replacing any of the same name), fit on its calibration rows and report the result
    as :func:`refit_committed` does. Votes are cast under the new fit: the added pairs' from their scorecards, and
    those of every other pair for each indicator whose rules the fit changed (:func:`recast_changed`), which a
    calibration pair can do. A pair whose gain check did not pass is recorded as not a validation case, as a full
    run records it. A held-out pair whose reading was seen and that no longer reads the same (:func:`~.seen.replaced_readings`)
    is refused: inside a test a seen reading is never replaced."""
    from ...errors import UnknownModelError
    from ...paths import record_figures_dir

    if not pairs:
        raise InvalidConfigError("validate --add was given no pairs: name the labelled pairs to add.")
    t0, c0 = time.time(), time.process_time()
    folder_path = Path(folder if folder is not None else record_figures_dir())
    summary, table = committed_table(folder_path)
    known = {s.name: s for s in labelled_pairs()}
    missing = sorted(set(pairs) - set(known))
    if missing:
        raise UnknownModelError(missing[0], sorted(known))
    specs = [known[p] for p in dict.fromkeys(pairs)]
    # the run's indicators and those added to the table since, so an added row misses none the fit votes with
    cfg = validated_config(summary)
    build = preset_build_status("validation")
    cases, stale, failed = validation_cases(specs, build)
    if stale:
        raise InvalidConfigError(f"{stale} are not built up to date against the validation preset: build them"
                                 f" (rlmeta-interp zoo build --preset validation --only ...) and add them again.")
    cards = score_cards(cases, cfg, out, progress=progress)
    if not any(c.split == "calibration" for c in cards):  # a calibration pair changes the fit: every test ends
        refuse_replaced("validate --add", replaced_readings(summary, table, cards, failed))
    kept = table[~table["pair"].isin(set(pairs))]
    rows = pair_table(cards).reindex(columns=table.columns)
    merged = pd.concat([kept, rows], ignore_index=True) if len(rows) else kept.reset_index(drop=True)
    run = summary["run"]
    n_boot, seed = int(run.get("n_boot", 1000)), int(run.get("seed", 0))
    fitted = fit_rules(merged[merged["split"] == "calibration"], cfg.rules, n_boot=n_boot, seed=seed)
    fresh = {c.pair: c for c in cards}
    recast = recast_changed(merged, fitted, FittedRules.from_dict(summary["fitted"]), fresh, cfg, out=out,
                            progress=progress)
    index = {p: i for i, p in enumerate(merged["pair"])}
    for card in cards:  # every vote of an added pair under the new fit (its world's rules)
        merged.loc[index[card.pair]] = (pair_table([card.revoted(fitted.rules_for(card.world))])
                                        .reindex(columns=merged.columns).iloc[0])
    check_votes(merged, fitted)
    calibration = [c.pair for c in cards if c.split == "calibration"]
    before = set(table["pair"])
    # to_pairs_csv_sha256: the table these pairs were added to, as it was before this call (so the records chain
    # each call to the table it changed; the new table's own checksum is its .sha256 sidecar)
    record = {"pairs": [c.pair for c in cards], "to_pairs_csv_sha256": sha256_file(folder_path / PAIRS_CSV),
              # pairs the table had no row of: a clean test if no later call changes the fit
              "new_pairs": [c.pair for c in cards if c.pair not in before],
              **({"revoted": recast} if recast else {}),
              # a calibration pair changes the fit after the held-out readings were seen: keep what they read before
              # and which they were
              **({"calibration": calibration, "test_in_view": sorted(summary["pairs"]["test"]),
                  **readings_before(summary), **clean_before(summary)} if calibration else {}),
              "wall_seconds": round(time.time() - t0, 1), "cpu_seconds": round(time.process_time() - c0, 1)}
    # an indicator added to the table afterwards is measured on the added pairs too: they are measured now
    added_ind = {name: {**a, "pairs": list(dict.fromkeys([*a["pairs"], *record["pairs"]])),
                        **({"not_measured_test": [p for p in a["not_measured_test"] if p not in record["pairs"]]}
                           if "not_measured_test" in a else {})}
                 for name, a in (run.get("added_indicators") or {}).items()}
    if calibration:  # the change ends every test: the clean test after it is judged by the criteria in force now
        record = starts_test(record)
    elif not same_fit(fitted.to_dict(), summary["fitted"]):
        # held-out pairs alone leave the fit as it was: had the fitting code moved it since, the call says so
        record = ending(summary, record, fit_changed=True)
    build = _build_record(summary.get("build") or {}, merged, pairs, failed)
    # new held-out pairs, or designed pairs without a row, after the bar was judged on the table's test (the preset
    # grew): a new test for the bar starts
    record = judged_record(summary, record, build["not_in_table"])
    # one record per --add call, oldest first
    run = {**run, "added": [*add_records(run), record], **({"added_indicators": added_ind} if added_ind else {})}
    new = _report(merged, fitted, run)
    new["build"] = build
    log.info("validate --add: measured %d pairs (%d without a passed gain check); votes cast again for %s;"
             " held-out balanced accuracy %.2f", len(cards), len(failed), sorted(recast) or "no indicator",
             new["summary"]["balanced_accuracy"]["value"])
    return _write(new, merged, folder_path, table_dir)


def add_indicator_to_committed(name: str, pairs: Sequence[str] | None = None, *, out: str | Path | None = None,
                               folder: str | Path | None = None, table_dir: str | Path | None = None,
                               progress: bool = True) -> dict[str, Any]:
    """Measure indicator ``name``, which the committed run did not measure, on committed pairs of either split
    (default: every committed pair built here) and report the table with its columns filled in.

    Each pair must be the one its committed row was measured on (:func:`same_weights`: the zoo rebuilds
    deterministically, so a rebuilt pair passes). The indicator's cut is then fitted on the calibration rows that
    have it, and the refit is refused unless the rules changed only in that indicator's thresholds and its place
    in the descriptive set: the other indicators' votes stay valid. The new indicator's votes are cast under the
    fitted rules and the vote rule's reading of those pairs is recomputed; pairs it was not measured on keep no
    reading of it, which the summary model treats as "at its cut"."""
    from ...errors import UnknownModelError
    from ...paths import record_figures_dir
    from ..indicators import metrics_of

    if name not in INDICATORS or REGISTRY[name].with_cut is None:
        raise InvalidConfigError(f"validate --add-indicator {name!r}: name a voting indicator, one of"
                                 f" {[n for n in INDICATORS if REGISTRY[n].with_cut is not None]}.")
    t0, c0 = time.time(), time.process_time()
    folder_path = Path(folder if folder is not None else record_figures_dir())
    summary, table = committed_table(folder_path)
    run = summary["run"]
    cfg = ScorecardConfig.from_dict(run["scorecard_config"])
    if name in cfg.indicators:
        raise InvalidConfigError(f"The committed run measured {name!r} on every pair: {RERUN}.")
    known = {s.name: s for s in labelled_pairs()}
    if pairs:
        absent = sorted(set(pairs) - set(table["pair"]))
        if absent:
            raise InvalidConfigError(f"{absent} are not in the committed table: add held-out pairs with --add first.")
        missing = sorted(set(pairs) - set(known))
        if missing:
            raise UnknownModelError(missing[0], sorted(known))
        wanted = list(dict.fromkeys(pairs))
    else:
        wanted = [p for p in table["pair"] if p in known]
    # a pair the committed run left out (no passed gain check) has no row to fill
    wanted = [p for p in wanted if p in set(table["pair"])]
    if not wanted:
        raise EmptyInputError(f"No committed pair to measure {name!r} on: build the validation preset's pairs here.")
    # every vote of the indicator is cast again below, from this call's measurements: none may be left behind
    earlier = set(table.loc[table[name].notna() | (table[f"{name}_vote"] != "n/a"), "pair"])
    left = sorted(earlier - set(wanted))
    if left:
        raise InvalidConfigError(f"{name!r} was added earlier to {left}, which this call would not measure again:"
                                 " name them too (their votes are cast again under the new fit).")
    cards = measure_committed(wanted, cfg.replace(indicators=(name,)), out=out, progress=progress)
    stored, table = table, table.copy()
    for col in (name, f"{name}_lo", f"{name}_hi", *[c for c, n, _ in candidates() if n == name]):
        table[col] = table[col].astype(float) if col in table.columns else float("nan")
    table[f"{name}_vote"] = table[f"{name}_vote"] if f"{name}_vote" in table.columns else "n/a"
    rows = {p: i for i, p in enumerate(table["pair"])}
    for card in cards:
        i, res = rows[card.pair], card.results[name]
        s = res.statistic
        table.loc[i, [name, f"{name}_lo", f"{name}_hi"]] = [s.value, s.lo, s.hi]
        m = metrics_of(res)
        for col, ind, read in candidates():
            if ind == name:
                table.loc[i, col] = None if m is None else read(m).value
    n_boot, seed = int(run.get("n_boot", 1000)), int(run.get("seed", 0))
    fitted = fit_rules(table[table["split"] == "calibration"], cfg.rules, n_boot=n_boot, seed=seed)
    voted_under = FittedRules.from_dict(summary["fitted"])
    for world in sorted(set(table["world"]), key=str):
        now, before = fitted.rules_for(world).to_dict(), voted_under.rules_for(world).to_dict()
        changed = ({k for k in set(now) | set(before) if now.get(k) != before.get(k)}
                   - indicator_keys(name, voted_under.rules))
        other_descriptive = (set(now.get("descriptive", ())) ^ set(before.get("descriptive", ()))) - {name}
        if changed - {"descriptive"} or other_descriptive:
            raise CheckpointMismatchError(
                f"Adding {name!r} changed other indicators' fitted rules ({sorted(changed)} in {world}), so their"
                f" committed votes would be stale: {RERUN}.")
    for card in cards:
        table.loc[rows[card.pair], f"{name}_vote"] = revote(card.results[name], fitted.rules_for(card.world)).vote
    recast_vote_rule(table, [rows[c.pair] for c in cards])
    held_out = set(table.loc[table["split"] == "test", "pair"])
    # a live pair's reading changed by this call (measured again, or a cell it lacked filled) under the same fit
    again = remeasured(stored, table, sorted({c.pair for c in cards} & held_out & set(tested_pairs(summary))),
                       reading_columns(fitted))
    if same_fit(fitted.to_dict(), summary["fitted"]):  # a change of the fit ends every test anyway
        refuse_replaced(f"validate --add-indicator {name}", again)
    # the held-out pairs of the worlds it applies to (it gave metrics there) that this call did not measure
    measured = {c.pair for c in cards}
    worlds = set(table.loc[table["pair"].isin({c.pair for c in cards if c.results[name].metrics}), "world"])
    unmeasured = sorted(table.loc[(table["split"] == "test") & table["world"].isin(worlds)
                                  & ~table["pair"].isin(measured), "pair"])
    run = {**run, "added_indicators": {**run.get("added_indicators", {}), name: {
        "pairs": [c.pair for c in cards], "not_measured_test": unmeasured,
        "to_pairs_csv_sha256": sha256_file(folder_path / PAIRS_CSV),
        "wall_seconds": round(time.time() - t0, 1), "cpu_seconds": round(time.process_time() - c0, 1)}}}
    # a new voting indicator changes the fit with every held-out reading in view
    build = _build_record(summary.get("build") or {}, table)
    run = with_fit_change(run, summary, fitted.to_dict(), {"indicator": name, "pairs": []})
    new = {**_report(table, fitted, _with_judgement(summary, run, {"indicator": name, "pairs": []}, build)),
           "build": build}
    log.info("validate --add-indicator %s: measured %d pairs; held-out balanced accuracy %.2f", name, len(cards),
             new["summary"]["balanced_accuracy"]["value"])
    return _write(new, table, folder_path, table_dir)
