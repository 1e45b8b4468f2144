"""``rlmeta-interp validate``: the scorecard over every labelled pair, rules fitted on the calibration split, accuracy
reported on the held-out split, written as a checksummed table (``validation_summary.json`` + CSVs) with its figures,
and the README's trust paragraph rendered from that table."""

from __future__ import annotations

import json
import logging
import re
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ...errors import EmptyInputError
from ...io import ensure_dir, write_json_atomic, write_text_atomic
from ...prose import fmt2 as _f
from ..indicators.core import INDICATORS
from .bar import (add_records, bar_test_pairs, calibration_extensions, clean_test_pairs, criteria_now, ending,
                  fit_changes, judged_record, judged_since_fit_change, judgements, judgements_since_fit_change,
                  meets_bar, starts_test, with_fit_change)
from .fit import FittedRules, evaluate, fit_rules, pair_table
from .labels import labelled_pairs, pending_pairs, preset_build_status
from .measure import score_cards, validation_cases
from .reading import PAIRS_CSV, SUMMARY_JSON, committed_summary, measured_indicators, stored_pair_rows
from .seen import replaced_readings
from .testlines import (bar_words, base_level_texts, bases_text, clean_test_line, judged_lines, last_change_text,
                        pending_text, tests_in_order, tests_in_order_line)

log = logging.getLogger(__name__)

SUMMARY_CSV = "validation_summary.csv"
TRUST_BEGIN = "<!-- trust paragraph: generated from figures/validation_summary.json by rlmeta_interp.analysis.validation -->"
TRUST_END = "<!-- end of the generated trust paragraph -->"


def run_validation(out_dir: str | Path | None = None, *, table_dir: str | Path | None = None,
                   config: Any | None = None, pairs: Sequence[str] | None = None, n_boot: int = 1000, seed: int = 0,
                   progress: bool = True) -> dict[str, Any]:
    """Scorecards of every labelled pair (or of ``pairs``), cached under ``out_dir`` (default
    ``<results>/validation``); thresholds and the summary model fitted on the calibration split; the held-out
    report written to ``table_dir`` (default ``<results>/figures``; the committed table lives in ``figures/``).
    Returns the summary that :func:`write_validation_table` wrote."""
    from ...paths import figures_dir
    from ..scorecard import ScorecardConfig

    t0, c0 = time.time(), time.process_time()
    cfg = config if config is not None else ScorecardConfig.demo()
    specs = labelled_pairs()
    if pairs is not None and specs:  # an empty zoo gets the build hint below
        from ...errors import UnknownModelError

        unknown = sorted(set(pairs) - {s.name for s in specs})
        if unknown:  # a misspelt or unlabelled name would silently shrink the run
            raise UnknownModelError(unknown[0], [s.name for s in specs],
                                    hint=f"--pairs names {len(unknown)} pair(s) that are not labelled pairs of this"
                                         f" zoo ({', '.join(unknown[:5])}); `rlmeta-interp list` shows the zoo.")
        specs = [s for s in specs if s.name in set(pairs)]
    build = preset_build_status("validation")
    specs, _, failed = validation_cases(specs, build)
    if not specs:
        raise EmptyInputError("No labelled pairs in the registry: build the validation zoo (rlmeta-interp zoo build"
                              " --preset validation), whose manifests carry label and split, then rerun validate.")
    cards = score_cards(specs, cfg, out_dir, progress=progress)
    table = pair_table(cards)
    fitted = fit_rules(table[table["split"] == "calibration"], cfg.rules, n_boot=n_boot, seed=seed)
    table = pair_table([c.revoted(fitted.rules_for(c.world)) for c in cards])
    folder = Path(table_dir if table_dir is not None else figures_dir())
    pending = pending_pairs(table["pair"], failed)
    previous = committed_summary(folder)
    # held-out readings of the table written before that this run replaces: they end every test
    again = {} if previous is None else replaced_readings(previous, stored_pair_rows(folder), cards, failed)
    run = _carried_history(previous, table, fitted, pending, again)
    held_out = table.loc[table["split"] == "test", "pair"]
    summary = validation_summary(table, fitted, n_boot=n_boot, seed=seed, clean=clean_test_pairs(run, held_out),
                                 bar=bar_test_pairs(run, held_out))
    summary["run"] = {**run, "scorecard_config": cfg.measured(), "wall_seconds": round(time.time() - t0, 1),
                      "cpu_seconds": round(time.process_time() - c0, 1), "n_boot": n_boot, "seed": seed}
    # what this run covered: the preset's build, a --pairs restriction, and the labelled pairs the gain check left out
    summary["build"] = {**build, "pairs_requested": None if pairs is None else sorted(pairs),
                        "not_validation_cases": failed, "not_in_table": pending}
    write_validation_table(summary, table, folder)
    return summary


def _carried_history(previous: dict[str, Any] | None, table: pd.DataFrame, fitted: FittedRules,
                     pending: Sequence[str] = (), again: dict[str, Any] | None = None) -> dict[str, Any]:
    """The history a full run writes over the table ``previous`` (None: none there) keeps: its ordered ``added``
    records and one for this run (``full_run``, with the pairs that had no row before as ``new_pairs``), marked as a
    fit change when the fit differs from the one ``previous`` was reported under (:func:`~.bar.with_fit_change`),
    or as ending every test when it replaced held-out readings seen before (``again``,
    :func:`~.seen.replaced_readings`). Without it a full run would erase which held-out readings were in view of
    earlier fit changes, and every held-out pair would count as a clean test again. A new table records the bar's
    criteria version its test is judged by (:func:`~.bar.starts_test`); a rewritten one keeps the version it has."""
    if previous is None:  # a new table: its test is judged by the criteria in force now
        return starts_test({})
    # a table judged so far on its pooled pairs keeps the criteria version it began with
    kept = {"bar_criteria": previous["run"]["bar_criteria"]} if "bar_criteria" in (previous.get("run") or {}) else {}
    before = set((previous.get("pairs") or {}).get("test") or []) | set(
        (previous.get("pairs") or {}).get("calibration") or [])
    dropped = sorted(before - set(table["pair"]))  # rows of the table before that this run does not write
    record = {"full_run": True, "pairs": sorted(table["pair"]),
              "new_pairs": sorted(p for p in table["pair"] if p not in before), **({"dropped": dropped} if dropped else {})}
    history = add_records(previous.get("run") or {})
    changed = with_fit_change({"added": history}, previous, fitted.to_dict(),
                              {**record, **({"remeasured": again} if again else {})})
    if len(changed["added"]) > len(history):
        return {**kept, **changed}
    if again:  # the same fit, but readings that were seen replaced by others: every test ends
        return {**kept, "added": [*history, ending(previous, record, remeasured=again)]}
    # new pairs, or designed pairs without a row (``pending``), after the bar was judged on the previous table's
    # test (the preset grew): a new test for the bar starts
    return {**kept, "added": [*history, judged_record(previous, record, pending)]}


def _headline(ev: dict[str, Any]) -> dict[str, Any]:
    s = ev["summary"]
    return {"balanced_accuracy": {"value": s["balanced_accuracy"], "ci_lo": s["ci_lo"], "ci_hi": s["ci_hi"]},
            "n_pairs": ev["n_test"], "split": "test", "creation_recall": s["recall"].get("creation"),
            "no_signal_read_as_creation": s["no_signal_read_as_creation"],
            "constant_baseline": ev["constant_baseline"]["balanced_accuracy"],
            "gain_then_constant_baseline": ev["gain_then_constant"]["balanced_accuracy"]}


def validation_summary(table: pd.DataFrame, fitted: FittedRules, *, n_boot: int = 1000, seed: int = 0,
                       clean: Sequence[str] | None = None, bar: Sequence[str] | None = None) -> dict[str, Any]:
    """The table's content: the fit (from calibration rows) and its held-out evaluation (test rows). ``clean``: the
    held-out pairs still a clean test of a table whose calibration split was extended (``bar.clean_test_pairs``),
    evaluated apart as ``clean_test`` (its ``evaluation`` is None when there are none); ``bar``: the held-out pairs
    the bar is judged on after a judged test (``bar.bar_test_pairs``), evaluated apart as ``bar_test``."""
    calib, test = table[table["split"] == "calibration"], table[table["split"] == "test"]
    ev = evaluate(fitted, test, calib, n_boot=n_boot, seed=seed)
    s = ev["summary"]
    headline = _headline(ev)
    if "base" in table.columns:
        # held-out pairs trained from a base that a calibration pair was trained from too (another method, same
        # weights): not independent of the fit, so they are counted apart
        shared = test[test["base"].isin(set(calib["base"]))]
        right = [p for p, lab in zip(shared["pair"], shared["label"], strict=True) if s["predictions"].get(p) == lab]
        headline["test_sharing_a_calibration_base"] = {"pairs": shared["pair"].tolist(), "read_right": len(right)}
    out = {"summary": headline, "fitted": fitted.to_dict(), "evaluation": ev,
           "pairs": {"calibration": calib["pair"].tolist(), "test": test["pair"].tolist()}}
    for key, pairs in (("clean_test", clean), ("bar_test", bar)):
        if pairs is not None:
            part = test[test["pair"].isin(set(pairs))]
            part_ev = evaluate(fitted, part, calib, n_boot=n_boot, seed=seed) if len(part) else None
            out[key] = {"pairs": part["pair"].tolist(), "evaluation": part_ev,
                        "summary": None if part_ev is None else _headline(part_ev)}
    return out


def write_validation_table(summary: dict[str, Any], table: pd.DataFrame, folder: str | Path) -> list[Path]:
    """``validation_summary.json``, ``validation_summary.csv`` (one row per indicator), ``validation_pairs.csv`` (one
    row per pair), each with a checksum sidecar, and the three figures, in ``folder``."""
    import matplotlib.pyplot as plt

    from ...plotting import save_fig
    from .plots import confusion_figure, roc_figure, statistics_figure

    folder = ensure_dir(folder)
    ev = summary["evaluation"]
    per = pd.DataFrame([{k: v for k, v in r.items() if k not in ("roc", "test_by_world", "test_by_recipe")}
                        for r in ev["indicators"]])
    paths = [write_json_atomic(folder / SUMMARY_JSON, summary, checksum=True),
             write_text_atomic(folder / SUMMARY_CSV, per.to_csv(index=False), checksum=True),
             write_text_atomic(folder / PAIRS_CSV, table.to_csv(index=False), checksum=True)]
    n = ev["n_test"]
    # written, not shown: each figure is closed once saved (a run writes many tables, and pyplot keeps open figures)
    pooled = bool(tests_in_order(summary))  # a table with tests of its own: its pooled pairs are none
    conf, roc = confusion_figure(ev, pooled), roc_figure(ev)
    stats = statistics_figure(table, FittedRules.from_dict(summary["fitted"]))
    paths += save_fig(conf, "validation", "confusion", out_dir=folder, caption=(
        f"Held-out test pairs ({n}): label fixed by the corpus design (rows) against the reading (columns) of the"
        " summary fitted on the calibration split and of the vote rule, with balanced accuracy and its 95% bootstrap"
        " CI resampling base models; the title gives the balanced accuracy of the constant classifier and of the gain"
        " check followed by a constant answer." + (
            " The pairs pool every held-out pair, some read before the fit last changed: no test of its own (the"
            " README's trust paragraph lists the tests)." if pooled else "")))
    paths += save_fig(roc, "validation", "roc", out_dir=folder, caption=(
        f"ROC curve of each indicator's statistic, creation vs activation, on the held-out test pairs ({n}), AUC with"
        " its 95% bootstrap CI resampling base models; dotted: indicators that do not vote (descriptive by design,"
        " or a calibration AUC CI that includes 0.5; the rule column of the per-indicator table says which)."
        + (" A statistic with a fitted cut is measured from its world's cut, in its world's spread."
           if summary["fitted"].get("world_cuts") else "")))
    paths += save_fig(stats, "validation", "statistics", out_dir=folder, caption=(
        "Each indicator that votes by a cut fitted on the calibration split: its statistic per pair measured from the"
        " pair's world's cut, in units of that world's spread (symmetric-log axis beyond one unit), with its 95% CI;"
        " and the fitted summary's P(creation) against 0.5 for the pairs with a gain (it reads the others as"
        " no_signal). One point per pair, coloured by design label: calibration pairs hollow on the left, held-out"
        " pairs filled on the right."))
    for fig in (conf, roc, stats):
        plt.close(fig)
    return paths


def _wrap(text: str) -> str:
    """Markdown lines of at most 118 characters (bullets keep a hanging indent)."""
    out = []
    for line in text.split("\n"):
        indent = "  " if line.startswith("- ") else ""
        out.append(textwrap.fill(line, width=118, subsequent_indent=indent, break_on_hyphens=False) if line else "")
    return "\n".join(out)


def render_trust_paragraph(summary: dict[str, Any] | None, pairs: pd.DataFrame | None = None) -> str:
    """The README's "How far to trust each vote" paragraph, from a validation summary (None: no table yet) and,
    where given, its per-pair table as stored (:func:`~.reading.stored_pair_rows`), from which the test the bar is
    judged on is also read over base models (:mod:`.bases`)."""
    return _wrap(_trust_text(summary, pairs))


def _trust_text(summary: dict[str, Any] | None, pairs: pd.DataFrame | None = None) -> str:
    head = "**How far to trust each vote.**"
    partial = _partial_build_line(summary)
    if summary is None:
        return (f"{head} Not measured yet: no validation table is committed (`figures/{SUMMARY_JSON}`)."
                " `rlmeta-interp validate` runs the scorecard on the validation zoo's labelled pairs, fits every"
                " threshold and the summary rule on the calibration split only, and reports accuracy on the held-out"
                " split. Until it has run, every vote is a hand-set rule never checked against a known creation case:"
                " read a *creation* verdict only beside a same-budget random-reward control.")
    ev, fit = summary["evaluation"], summary["fitted"]
    base_line, base_note, over_bases = base_level_texts(summary, pairs)
    s, const, gtc = ev["summary"], ev["constant_baseline"], ev.get("gain_then_constant")
    rec = ", ".join(f"{k} {_f(v)}" for k, v in s["recall"].items())
    voting = [r for r in ev["indicators"] if r["votes"]]
    desc = [r for r in ev["indicators"] if not r["votes"] and ": " not in r["indicator"]]
    cand = [r for r in ev["indicators"] if ": " in r["indicator"]]
    ns = s["no_signal_read_as_creation"]
    lines = [
        f"{head} Measured by `rlmeta-interp validate` on {fit['n_calibration']} calibration and {ev['n_test']}"
        f" held-out test pairs (`figures/{SUMMARY_JSON}`); thresholds and the summary rule were fitted on the"
        " calibration pairs only." + partial,
        *filter(None, [tests_in_order_line(summary, base_note), base_line]),
        f"- Summary on the test pairs: balanced accuracy {_f(s['balanced_accuracy'])} (95% CI {_f(s['ci_lo'])} to"
        f" {_f(s['ci_hi'])}) against {_f(const['balanced_accuracy'])} for always answering '{const['answer']}'"
        + ("" if not gtc else f" and {_f(gtc['balanced_accuracy'])}" + (
            f" ({_f(gtc['ci_lo'])} to {_f(gtc['ci_hi'])})" if "ci_lo" in gtc else "")
           + f" for the gain check followed by always answering '{gtc['answer']}'") + f"; recall {rec}" + ("" if ns is None else f"; no-signal controls read as creation: {_f(ns)}")
        + ("; no no-signal control among the test pairs" if ns is None else "") + ".",
        _read_wrong_line(s),
        *_extended_calibration_line(summary),
        "- Voting indicators, held-out AUC (95% CI, resampling bases" + (
            "; each statistic measured from its world's cut, in its world's spread, as the fit reads it"
            if fit.get("world_cuts") else "") + "): " + (", ".join(
            f"{r['indicator']} {_f(r['test_auc'])} ({_f(r['test_lo'])} to {_f(r['test_hi'])}{bases_text(r)})"
            for r in voting) or "none") + ".",
        "- Descriptive, no vote: " + ("; ".join(
            f"{r['indicator']} ({r['rule']}" + (f"; held-out AUC {_f(r['test_auc'])} ({_f(r['test_lo'])} to"
                                                f" {_f(r['test_hi'])}{bases_text(r)})" if r.get("test_n") else "") + ")"
            for r in desc) or "none") + ".",
    ]
    clean = [f"{r['indicator']} {_f(c['auc'])} ({_f(c['lo'])} to {_f(c['hi'])}; {c['n']} pairs, leaving out"
             f" {', '.join(c['left_out'])})" for r in ev["indicators"] if (c := r.get("test_unseen_in_design"))]
    if clean:
        lines.append("- Held-out AUC without the pairs whose readings were in view while the indicator was designed: "
                     + "; ".join(clean) + ".")
    for key, head in (("test_by_world", "within each world, where a voting indicator was measured in more than one"),
                      ("test_by_recipe", "within each recipe that has both classes, where there is more than one")):
        parts = [f"{r['indicator']}: " + ", ".join(f"{k} {_f(v['auc'])} ({v['n']} pairs)" for k, v in sorted(r[key].items()))
                 for r in voting if len(r.get(key) or {}) > 1]
        if parts:
            lines.append(f"- Held-out AUC {head}: " + "; ".join(parts) + ".")
    tallies = [f"{r['indicator']} {t['right']}/{t['wrong']}/{t['undecided']}" for r in voting
               if (t := r.get("test_votes"))]
    kept = [r["indicator"] for r in voting if r.get("test_votes") and r.get("cut") is None]
    if tallies:
        lines.append("- Votes at the fitted cuts" + (f" ({', '.join(kept)}: at the kept hand-set thresholds, no cut"
                                                     " fitted)" if kept else "")
                     + " on the held-out creation and activation pairs each indicator read (right / wrong /"
                     " undecided): " + ", ".join(tallies) + ".")
    by_recipe = s.get("right_by_recipe") or {}
    if len(by_recipe) > 1:
        rule = ev.get("vote_rule", {}).get("right_by_recipe") or {}
        lines.append("- Held-out pairs read right per recipe, by the summary (by the vote rule): " + ", ".join(
            f"{k} {r}/{n}" + (f" ({rule[k][0]}/{rule[k][1]})" if k in rule else "")
            for k, (r, n) in by_recipe.items()) + ".")
    unread = [f"{r['indicator']} " + ", ".join(f"{c} {k}/{n}" for c, (k, n) in sorted(r["test_unread"].items()))
              for r in voting if any(k for k, _ in (r.get("test_unread") or {}).values())]
    if unread:
        lines.append("- Held-out pairs a voting indicator could not read (no statistic; they are left out of its AUC),"
                     " per class: " + "; ".join(unread) + ".")
    shared = summary["summary"].get("test_sharing_a_calibration_base") or {}
    if shared.get("pairs"):
        lines.append(f"- {len(shared['pairs'])} of the test pairs start from a base that calibration pairs start from"
                     f" too (another training method, same weights); {shared['read_right']} of them read right.")
    ctrl = [f"{r['indicator']} {_f(r['controls_read_as_creation'])}" for r in ev["indicators"]
            if r["votes"] and r.get("controls_read_as_creation") == r.get("controls_read_as_creation")]
    if ns is not None:
        lines.append("- The summary reads a pair without a gain as no signal, so the controls' recall tests the gain"
                     " test, not the indicators; share of the test controls each voting indicator reads as creation: "
                     + (", ".join(ctrl) or "none") + ".")
    exact = s.get("recall_exact_ci") or {}
    if exact:
        lines.append("- Per-class recall with its exact 95% interval (pairs read right of the class's pairs): " + ", ".join(
            f"{c} {k}/{n} ({_f(lo)} to {_f(hi)})" for c, (k, n, lo, hi) in exact.items()) + ".")
    measured = measured_indicators(summary)
    skipped = [] if measured is None else [i for i in INDICATORS if i not in measured]
    for name, added in ((summary.get("run") or {}).get("added_indicators") or {}).items():
        lines.append(f"- Added after the run with `validate --add-indicator` (measured on the pairs rebuilt for it,"
                     f" the same weights as the table's rows; the others have no reading of it): {name}, run on"
                     f" {len(added['pairs'])} pairs; those it could not read (another world, or no statistic) have an"
                     f" empty {name} column in `figures/{PAIRS_CSV}`" + (
                         f"; held-out pairs of its worlds not measured: {', '.join(added['not_measured_test'])}"
                         if added.get("not_measured_test") else "") + ".")
    if skipped:
        lines.append(f"- Not measured in this run (skipped with `validate --skip`, or added after it; they do not vote"
                     f" by fitted rules): {', '.join(skipped)}.")
    if cand:
        lines.append("- Other readings, scored but not voting, held-out AUC: " + ", ".join(
            f"{r['indicator']} {_f(r['test_auc'])} ({_f(r['test_lo'])} to {_f(r['test_hi'])})" for r in cand) + ".")
    meets = meets_bar(summary)
    run = summary.get("run") or {}
    bar = bar_words(criteria_now(run))
    # once the fit changed with the held-out readings in view, the bar is judged on the clean test alone, and once
    # a test was judged and the preset grew, on the pairs measured since alone
    changed = fit_changes(run) or judgements(run)
    since = judged_since_fit_change(run)
    these = "The bar test's pairs" if since else "The clean test's pairs" if changed else "These"
    caution = "read a *creation* verdict only beside a same-budget random-reward control."
    if changed and (summary.get("bar_test" if since else "clean_test") or {}).get("evaluation") is None:
        verdict = (f"No {'pair measured since the last judged test' if since else 'clean test of the current fit'}"
                   f" yet, so the current fit is not judged against {bar}: {caution}")
    elif pending_text(summary):
        kind = "bar test" if since else "clean test" if changed else "held-out test"
        verdict = (f"The {kind} is not complete ({pending_text(summary)}), so the current fit is not judged against"
                   f" {bar}: {caution}")
    elif meets:
        # a pass after judged misses is reported with them, never as the fit meeting the bar on its own
        missed = [a for a in judgements_since_fit_change(run) if not a["judged_before"]["met_bar"]]
        n = len(missed)
        over = {None: "", True: " Read over base models with exact tests (the second line), they meet it too.",
                False: " Read over base models with exact tests (the second line), they do not establish it."}[over_bases]
        verdict = f"{these} meet {bar}." + over + (
            f" The same fit missed the bar on {n} earlier judged test{'s' if n != 1 else ''} (the 'Judged test'"
            f" line{'s' if n != 1 else ''} above), so this is a pass after a miss, not a first pass: {caution}"
            if n else "")
    else:
        verdict = f"{these} do not meet {bar}: {caution}"
    return "\n".join(lines) + "\n\n" + verdict


def _extended_calibration_line(summary: dict[str, Any]) -> list[str]:
    """What the held-out numbers are worth once the fit changed after they had been seen (the calibration split
    extended, with the summary's headline before the first extension, or the rules changed otherwise), and the
    clean test that is left (no line for a table fitted once)."""
    run = summary.get("run") or {}
    if not fit_changes(run):
        return judged_lines(summary)
    ext = calibration_extensions(summary)
    names = [p for a in ext for p in a["calibration"]]
    before = (ext[0].get("headline_before") or {}) if ext else {}
    ba = before.get("balanced_accuracy") or {}
    was = "" if not ba else (
        f" Before the first, the summary read balanced accuracy {_f(ba.get('value'))} (95% CI {_f(ba.get('ci_lo'))} to"
        f" {_f(ba.get('ci_hi'))}) and creation recall {_f(before.get('creation_recall'))} on"
        f" {before.get('n_pairs')} held-out pairs.")
    other = [_change_name(a) for a in fit_changes(run) if a.get("fit_changed") and not a.get("calibration")]
    again = sorted({p for a in fit_changes(run) for p in a.get("remeasured") or {}})
    shown = ", ".join(again[:10]) + (f" and {len(again) - 10} more" if len(again) > 10 else "")
    what = ", ".join([*([f"the calibration split was extended ({len(names)} pairs added by `validate --add`:"
                         f" {', '.join(names)})"] if names else []),
                      *([f"the fitted rules changed otherwise ({', '.join(other)})"] if other else []),
                      *([f"held-out pairs were measured again and no longer read as before ({shown})"]
                        if again else [])])
    return [f"- After the held-out readings had been seen, {what}, so the numbers above, which pool the pairs in"
            f" view then with those measured since, are not a clean test of the current fit: only the held-out pairs"
            f" first measured after {last_change_text(run)} are (next line).{was}{_before_last_change(run)}",
            clean_test_line(summary), *judged_lines(summary)]


def _before_last_change(run: dict[str, Any]) -> str:
    """A sentence on what the summary and the vote rule read on the held-out pairs just before the last change of the
    fit (``readings_before`` of its record; empty for a record written before they were kept)."""
    last = fit_changes(run)[-1]
    readings = last.get("readings_before") or {}
    if not readings:
        return ""
    parts = [f"the {name.replace('_', ' ')} {_f(r['balanced_accuracy'])} ({_f(r['ci_lo'])} to {_f(r['ci_hi'])};"
             " right per recipe " + ", ".join(f"{k} {a}/{n}" for k, (a, n) in sorted((r.get("right_by_recipe")
                                                                                      or {}).items())) + ")"
             for name, r in sorted(readings.items(), key=lambda kv: kv[0] != "summary")]
    return (f" Just before the last change ({_change_name(last)}),"
            f" on the {len(last.get('test_in_view') or [])} held-out pairs then in the table: " + "; ".join(parts) + ".")


def _change_name(record: dict[str, Any]) -> str:
    """What a record of :func:`~.bar.fit_changes` changed, in a word or two."""
    if record.get("calibration"):
        return "calibration"
    if record.get("fit_changed"):
        return record.get("indicator") or ("refit" if record.get("refit") else "full run" if record.get("full_run")
                                           else "validate --add")
    return "measured again"


def _read_wrong_line(s: dict[str, Any]) -> str:
    """The held-out pairs the summary reads wrong, by name, with label and reading (grouped by the two)."""
    wrong = s.get("read_wrong")
    if wrong is None:  # a table written before the names were kept
        return "- Held-out pairs the summary reads wrong: not recorded in this table (`validate --refit` adds them)."
    if not wrong:
        return "- Held-out pairs the summary reads wrong: none."
    groups: dict[tuple[str, str], list[str]] = {}
    for pair, (label, reading) in sorted(wrong.items()):
        groups.setdefault((label, reading), []).append(pair)
    return "- Held-out pairs the summary reads wrong: " + "; ".join(
        f"{label} read as {reading}: {', '.join(pairs)}" for (label, reading), pairs in sorted(groups.items())) + "."


MAX_NAMED = 12  # pairs without a row named in the trust paragraph; more are counted, the summary lists them


def _partial_build_line(summary: dict[str, Any] | None) -> str:
    """Sentences naming what a run did not cover: the preset's labelled models it did not have, a ``--pairs``
    restriction, and labelled pairs without a passed gain check (empty for a complete run or an older table)."""
    build = (summary or {}).get("build") or {}
    out = ""
    missing = build.get("not_built") or []
    if missing:
        out += (f" **Partial build:** {len(missing)} of the `{build['preset']}` preset's {build['labelled_models']}"
                f" labelled models were not built (or were built from another config) when this ran:"
                f" {', '.join(missing)}.")
    later = build.get("not_in_table") or []
    if later:
        out += (f" {len(later)} labelled pair{'s' if len(later) != 1 else ''} of the current `{build['preset']}` preset"
                f" {'have' if len(later) != 1 else 'has'} no row in this table yet (not built or not measured yet;"
                " the bar is not judged until they have one)" + (
                    f": {', '.join(later)}." if len(later) <= MAX_NAMED else
                    f"; they are listed under build.not_in_table in `figures/{SUMMARY_JSON}`."))
    if build.get("pairs_requested"):
        out += f" This run was restricted to {len(build['pairs_requested'])} named pairs (`validate --pairs`)."
    failed = build.get("not_validation_cases") or []
    if failed:
        are = "pair is" if len(failed) == 1 else "pairs are"
        out += (f" {len(failed)} labelled {are} not counted because training did not give the gain the label calls"
                f" for (gain check failed): {', '.join(failed)}.")
    return out


def readme_with_trust(readme: str, paragraph: str) -> str:
    """``readme`` with the text between the trust markers replaced by ``paragraph``."""
    pat = re.compile(re.escape(TRUST_BEGIN) + r"\n.*?\n" + re.escape(TRUST_END), re.S)
    if not pat.search(readme):
        raise EmptyInputError(f"README.md lacks the trust-paragraph markers {TRUST_BEGIN!r} ... {TRUST_END!r}.")
    return pat.sub(lambda _: f"{TRUST_BEGIN}\n{paragraph}\n{TRUST_END}", readme)


def trust_paragraph_in(readme: str) -> str:
    """The text between the trust markers of ``readme``."""
    m = re.search(re.escape(TRUST_BEGIN) + r"\n(.*?)\n" + re.escape(TRUST_END), readme, re.S)
    if m is None:
        raise EmptyInputError(f"README.md lacks the trust-paragraph markers {TRUST_BEGIN!r} ... {TRUST_END!r}.")
    return m.group(1)


def validate_command(*, out: str | Path | None = None, sizes: str = "demo", pairs: Sequence[str] | None = None,
                     record: bool = False, table_dir: str | Path | None = None, n_boot: int = 1000, seed: int = 0,
                     progress: bool = True, skip: Sequence[str] = ()) -> dict[str, Any]:
    """The body of ``rlmeta-interp validate``: :func:`run_validation` at scorecard sizes ``sizes``
    (``demo`` / ``smoke`` / ``full``), without the indicators in ``skip``. With ``record`` the table and figures go
    to the figures of record (``figures/``) and README.md's trust paragraph is rewritten from the new table."""
    from ...errors import InvalidConfigError
    from ...paths import record_figures_dir
    from ..scorecard import ScorecardConfig

    makers = {"demo": ScorecardConfig.demo, "smoke": ScorecardConfig.smoke, "full": ScorecardConfig}
    if sizes not in makers:
        raise InvalidConfigError(f"sizes={sizes!r}: choose one of {sorted(makers)}.")
    unknown = sorted(set(skip) - set(INDICATORS))
    if unknown:
        raise InvalidConfigError(f"validate --skip names unknown indicators {unknown}; choose from {INDICATORS}.")
    cfg = makers[sizes]()
    cfg = cfg.replace(seed=seed, indicators=tuple(i for i in cfg.indicators if i not in set(skip)))
    folder = record_figures_dir() if record else table_dir
    summary = run_validation(out, table_dir=folder, config=cfg, pairs=pairs, n_boot=n_boot, seed=seed,
                             progress=progress)
    s = summary["evaluation"]["summary"]
    log.info("validate: held-out balanced accuracy %.2f [%.2f, %.2f] on %d test pairs", s["balanced_accuracy"],
             s["ci_lo"], s["ci_hi"], summary["evaluation"]["n_test"])
    if record:
        record_trust_paragraph(summary)
    return summary


def record_trust_paragraph(summary: dict[str, Any], pairs: pd.DataFrame | None = None) -> None:
    """Rewrite the trust paragraph of the checkout's README.md from ``summary`` and its per-pair table as stored
    (default: the figures of record's; nothing outside a checkout)."""
    from ...paths import REPO_ROOT, record_figures_dir

    readme = REPO_ROOT / "README.md"
    # rendered from the summary as the table stores it (sorted keys), so that the paragraph is the same whether it
    # is written now or rendered later from the committed JSON
    stored = json.loads(json.dumps(summary, sort_keys=True, default=str))
    if readme.exists():
        pairs = stored_pair_rows(record_figures_dir()) if pairs is None else pairs
        write_text_atomic(readme, readme_with_trust(readme.read_text(), render_trust_paragraph(stored, pairs)))
