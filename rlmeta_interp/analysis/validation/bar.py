"""The project's bar for the validated meter: when a validation summary counts as showing that the meter tells
creation from activation (held-out accuracy per class, indicators that separate the classes over enough unseen
bases, a clean held-out split)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from ...errors import InvalidConfigError


def add_records(run: dict[str, Any]) -> list[dict[str, Any]]:
    """A run record's ``validate --add`` records, oldest first (a table written before kept only the last, as a
    dict)."""
    added = run.get("added") or []
    return [added] if isinstance(added, dict) else list(added)


def calibration_extensions(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``validate --add`` records of a table that added calibration pairs: each changed the fit after the
    held-out readings of the table had been seen (oldest first)."""
    return [a for a in add_records(summary.get("run") or {}) if a.get("calibration")]


def fit_changes(run: dict[str, Any]) -> list[dict[str, Any]]:
    """The records of calls that ended every test of a table whose held-out readings had been seen, oldest first:
    calibration pairs added (``calibration``), the fitted rules changed otherwise (``fit_changed``: an indicator
    added to the table, a refit under changed fitting code), or held-out pairs measured again that read otherwise
    (``remeasured``, :func:`~.seen.replaced_readings`: a reading that was seen replaced by another)."""
    return [a for a in add_records(run) if _changes_fit(a)]


def _changes_fit(record: dict[str, Any]) -> bool:
    return bool(record.get("calibration") or record.get("fit_changed") or record.get("remeasured"))


def only_remeasured(record: dict[str, Any]) -> bool:
    """Whether a record of :func:`fit_changes` ended the tests by held-out pairs measured again alone, the fit kept."""
    return bool(record.get("remeasured")) and not (record.get("calibration") or record.get("fit_changed"))


def clean_test_pairs(run: dict[str, Any], test: Iterable[str]) -> list[str] | None:
    """The held-out pairs among ``test`` that are still a clean test of a table whose fit changed after its held-out
    readings had been seen (:func:`fit_changes`): those a call after the last change put in the table
    (``new_pairs``), and that no call up to that change had in view (``test_in_view``, the held-out pairs of the
    table it changed) or measured, so that no fit they are scored under was chosen with their readings in view.
    ``None`` for a table whose fit never changed so: all its held-out pairs are clean. None is clean if a change
    does not list the pairs it had in view, nor among pairs of a record that does not list which were new."""
    records = add_records(run)
    changes = [i for i, a in enumerate(records) if _changes_fit(a)]
    if not changes:
        return None
    if any("test_in_view" not in records[i] for i in changes):
        return []
    seen = {p for a in records[:changes[-1] + 1] for p in (*a.get("test_in_view", ()), *a.get("pairs", ()))}
    test = set(test)
    return list(dict.fromkeys(p for a in records[changes[-1] + 1:] for p in a.get("new_pairs", ())
                              if p in test and p not in seen))


#: an indicator's held-out AUC that counts towards the bar, and how many such indicators the bar needs
MIN_AUC = 0.8
MIN_INDICATORS = 3
#: the lower end every class's exact recall interval must clear
MIN_RECALL_LO = 0.5

# Bases (pretraining runs) a held-out AUC must rest on to count towards the bar.
MIN_BASES = 5
#: ... and at least this many bases of each class among the pairs it read.
MIN_BASES_PER_CLASS = 2


#: the version of the bar's criteria a test started now is judged by (docs/preregistration.md): 1, the criteria
#: registered over pairs; 2, those and the same readings over base models (:func:`meets_evaluation`). A test keeps the
#: version recorded when it started, so a test begun under version 1 is judged by it whatever code reads it later.
BAR_CRITERIA = 2


def criteria_of(record: Mapping[str, Any]) -> int:
    """The criteria version a record that starts a test carries (``bar_criteria``); 1 for records written before
    versions were recorded. A value that is no known version is refused: guessing would judge a test by other
    criteria than its own."""
    version = record.get("bar_criteria", 1)
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= BAR_CRITERIA:
        raise InvalidConfigError(f"bar_criteria {version!r} in a validation record is no criteria version this code"
                                 f" knows (1 to {BAR_CRITERIA}): the table was written by other code or edited by"
                                 " hand; regenerate it with this code's `rlmeta-interp validate`.")
    return version


def starts_test(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` stamped with the criteria version a test it starts is judged by (:data:`BAR_CRITERIA`)."""
    return {**record, "bar_criteria": BAR_CRITERIA}


def criteria_now(run: dict[str, Any]) -> int:
    """The criteria version of the test the bar is judged on now (:func:`tested_key`): the version recorded by the
    call that started it, the last judged test's successor (``judged_before``), the last change of the fit, or, for
    a table that had neither, the run that wrote it first. Versions never go down: a record written without one
    after a record with one (by code that did not stamp it) keeps the higher version."""
    records = add_records(run)
    if judged_since_fit_change(run):
        start = judgements_since_fit_change(run)[-1]
    else:
        ends = fit_changes(run)
        start = ends[-1] if ends else None
    upto = [] if start is None else records[:next(i for i, a in enumerate(records) if a is start) + 1]
    return max(criteria_of(r) for r in [run, *upto])


def counts_for_bar(r: dict[str, Any]) -> bool:
    """Whether one indicator's held-out row counts towards the bar: it votes by a cut fitted on calibration (not by
    kept hand-set thresholds), its AUC is >= 0.8 with the CI above 0.6, and that AUC rests on at least
    :data:`MIN_BASES` bases no calibration pair starts from and :data:`MIN_BASES_PER_CLASS` bases of each class, and
    the AUC without the pairs the indicator's design saw (where it lists some) meets the same. A table without base
    counts does not count."""
    by_class = r.get("test_bases_by_class") or {}
    clean = r.get("test_unseen_in_design")  # the same AUC without the pairs the indicator's design saw
    return bool(r["votes"] and r.get("cut") is not None and r["test_auc"] == r["test_auc"] and r["test_auc"] >= MIN_AUC
                and r["test_lo"] > 0.6 and (r.get("test_bases_unseen") or 0) >= MIN_BASES
                and len(by_class) == 2 and min(by_class.values()) >= MIN_BASES_PER_CLASS
                and (not clean or (clean["auc"] >= MIN_AUC and clean["lo"] > 0.6)))


def meets_evaluation(ev: dict[str, Any], *, criteria: int) -> bool:
    """Whether one held-out evaluation (``validation.fit.evaluate``) meets the bar's numbers: balanced accuracy >= 0.85
    with its CI above 0.5, creation recall >= 0.8, the no-signal controls measured with at most 1 in 10 read as
    creation, 3 voting indicators with a fitted cut and held-out AUC >= 0.8 (CI above 0.6) over enough bases
    (:func:`counts_for_bar`), and so many held-out pairs per class that even the exact interval of every class's
    recall lies above 0.5 (a bootstrap over a few pairs read without error is the point [1, 1]). ``criteria`` is
    the version the test is judged by (:func:`criteria_now`; a new evaluation's: :data:`BAR_CRITERIA`): under 2
    the same readings must also hold over base models with exact tests (``over_bases``, :func:`~.bases.over_bases`:
    3 of the counted indicators at AUC >= 0.8 with p < 0.05, every class's recall over bases with its interval above
    0.5); an evaluation without that reading does not meet them."""
    s = ev["summary"]
    exact = s.get("recall_exact_ci") or {}
    # an AUC counts only over enough bases: its CI resamples bases, and over one or two the bootstrap has (almost)
    # nothing to resample, so a perfect ordering of a handful of pairs gives the point CI [1, 1] (counts_for_bar)
    good = [r for r in ev["indicators"] if counts_for_bar(r)]
    ns = s["no_signal_read_as_creation"]
    over_bases = criteria < 2 or bool((ev.get("over_bases") or {}).get("established"))
    return bool(s["balanced_accuracy"] >= 0.85 and s["ci_lo"] == s["ci_lo"] and s["ci_lo"] > 0.5
                and bool(exact) and all(lo > MIN_RECALL_LO for _, _, lo, _ in exact.values())
                and s["recall"].get("creation", 0.0) >= 0.8 and ns is not None and ns <= 0.1
                and len(good) >= MIN_INDICATORS and over_bases)


def meets_bar(summary: dict[str, Any]) -> bool:
    """Whether a validation summary meets the project's bar (:func:`meets_evaluation`) on a clean held-out test: all
    its held-out pairs, or, once its fit changed after their readings had been seen (:func:`fit_changes`), only the
    pairs first measured after the last change (:func:`clean_test_pairs`, evaluated as ``summary["clean_test"]``),
    or, once a clean test has been judged and the preset grew (:func:`judgements`), only the pairs first measured
    after the last judgement (:func:`bar_test_pairs`, evaluated as ``summary["bar_test"]``); and only once the
    table lacks no pair its preset designs (nothing :func:`pending`), so that the bar is not judged on whichever
    interim batch of clean pairs happened to read well. The test is judged by the criteria version recorded when it
    started (:func:`criteria_now`)."""
    run = summary.get("run") or {}
    # judged once every labelled pair the preset designs has a row: not on an interim batch
    if pending(summary):
        return False
    criteria = criteria_now(run)
    if not fit_changes(run) and not judgements(run):
        return meets_evaluation(summary["evaluation"], criteria=criteria)
    clean = (summary.get(tested_key(run)) or {}).get("evaluation")
    return clean is not None and meets_evaluation(clean, criteria=criteria)


def pending(summary: dict[str, Any]) -> bool:
    """Whether the table ``summary`` lacks pairs its preset designs, so that its bar is not judged yet: a labelled
    pair without a row (``build["not_in_table"]``), a model not built up to date, or a run restricted to some pairs
    (``--pairs``). A summary without a build record (written by hand, or before builds were recorded) says nothing
    and is not held back."""
    build = summary.get("build") or {}
    return bool(build.get("not_in_table") or build.get("not_built") or build.get("pairs_requested"))


def judgements(run: dict[str, Any]) -> list[dict[str, Any]]:
    """The records of calls that added held-out pairs to a table whose clean test had been judged (``judged_before``,
    :func:`judgement`): each started a new test for the bar, oldest first."""
    return [a for a in add_records(run) if a.get("judged_before")]


def judgements_since_fit_change(run: dict[str, Any]) -> list[dict[str, Any]]:
    """The :func:`judgements` records made after the fit last changed: the tests of the current fit judged so far,
    oldest first (a test ended by a change of the fit is a test of an earlier fit)."""
    records = add_records(run)
    last_change = max((i for i, a in enumerate(records) if _changes_fit(a)), default=-1)
    return [a for a in records[last_change + 1:] if a.get("judged_before")]


def judged_since_fit_change(run: dict[str, Any]) -> bool:
    """Whether a test was judged (a :func:`judgements` record) after the fit last changed: the bar is then judged on
    the bar test (:func:`bar_test_pairs`), not on the clean test."""
    return bool(judgements_since_fit_change(run))


def tested_key(run: dict[str, Any]) -> str:
    """The part of a summary the bar is judged on once the fit changed or a test was judged: ``"bar_test"`` after a
    judgement since the last change of the fit (:func:`judged_since_fit_change`), else ``"clean_test"``."""
    return "bar_test" if judged_since_fit_change(run) else "clean_test"


def bar_test_pairs(run: dict[str, Any], test: Iterable[str]) -> list[str] | None:
    """The held-out pairs among ``test`` on which the bar is judged once a clean test has been judged and the preset
    grew (:func:`judgements`): those first measured by the call that added the first of them or later, after the
    fit last changed, and in none of the judged tests. The fit has not seen them either way, so every clean pair
    still counts for accuracy (``clean_test``); but judging the bar again on a pool of the judged pairs and new
    ones would let a test that failed be topped up until it passes. ``None`` when no judgement came after the last
    change of the fit: the bar is judged on the clean test (:func:`clean_test_pairs`)."""
    if not judged_since_fit_change(run):
        return None
    records = add_records(run)
    judged = [i for i, a in enumerate(records) if a.get("judged_before")]
    seen = {p for a in records[:judged[-1]] for p in (*a.get("test_in_view", ()), *a.get("pairs", ()))}
    seen |= {p for a in records if a.get("judged_before") for p in a["judged_before"].get("pairs", ())}
    test = set(test)
    return list(dict.fromkeys(p for a in records[judged[-1]:] for p in a.get("new_pairs", ())
                              if p in test and p not in seen))


def tested_pairs(summary: dict[str, Any]) -> list[str]:
    """The held-out pairs of the table ``summary`` that the test the bar is judged on holds now: the bar test after
    a judged test (:func:`bar_test_pairs`), else the clean test once every test was ended (:func:`clean_test_pairs`),
    else every held-out pair."""
    run, test = summary.get("run") or {}, (summary.get("pairs") or {}).get("test") or []
    live = bar_test_pairs(run, test)
    live = clean_test_pairs(run, test) if live is None else live
    return list(test) if live is None else live


def judgement(summary: dict[str, Any]) -> dict[str, Any]:
    """``{"judged_before": ...}`` for a call that grows the table ``summary`` whose test for the bar has been judged
    (``build["not_in_table"]`` recorded, and nothing :func:`pending`): that test's record (:func:`reading_record`:
    pairs, readings, whether it met the bar). The call starts a new test for the bar (:func:`bar_test_pairs`).
    ``{}`` when the test was not judged or had no pair."""
    if "not_in_table" not in (summary.get("build") or {}) or pending(summary):
        return {}
    run = summary.get("run") or {}
    if judged_since_fit_change(run) or fit_changes(run):
        part = summary.get(tested_key(run)) or {}
    else:  # a fit never changed: the bar was judged on every held-out pair
        part = {"pairs": (summary.get("pairs") or {}).get("test"), "evaluation": summary.get("evaluation")}
    rec = reading_record(part.get("pairs") or [], part.get("evaluation"), judged=True, criteria=criteria_now(run))
    return {} if rec is None or not rec["pairs"] else {"judged_before": rec}


def judged_record(previous: dict[str, Any], record: dict[str, Any], missing: Iterable[str]) -> dict[str, Any]:
    """``record`` (of a call that writes a new table over ``previous``) with ``previous``'s judged test
    (:func:`judgement`) when the call grows a table whose bar was judged: it adds held-out pairs (``new_pairs``) or
    leaves designed pairs without a row (``missing``: the preset grew since). A call that changed the fit is left
    as it is: the change ends every test. Every writer of the table (``validate --add``, ``--refit``,
    ``--add-indicator``, a full run) records it, so that the judged state is not lost when a table is rewritten
    before the new pairs exist. The record starts a new test, and carries the criteria version it is judged by
    (:func:`starts_test`)."""
    if _changes_fit(record) or not (record.get("new_pairs") or list(missing)):
        return record
    judged = judgement(previous)
    return starts_test({**record, **judged}) if judged else record


def clean_test_record(summary: dict[str, Any]) -> dict[str, Any] | None:
    """What the test the table's bar is judged on read under the fit it was measured with (the bar test after a
    judged test, else the clean test), kept in the record of the call that ends it by changing the fit
    (``clean_test_before``): the pairs, the summary's and the vote rule's balanced accuracy with CIs, per-class
    recall with exact intervals, the pairs each read wrong, and whether the bar was met there and judged (every
    labelled pair of the preset had a row); None without such a test."""
    run = summary.get("run") or {}
    clean = summary.get(tested_key(run)) or {}
    return reading_record(clean.get("pairs") or [], clean.get("evaluation"), judged=not pending(summary),
                          criteria=criteria_now(run))


def reading_record(pairs: Iterable[str], ev: dict[str, Any] | None, *, judged: bool,
                   criteria: int) -> dict[str, Any] | None:
    """What held-out ``pairs`` read in the evaluation ``ev``: the summary's and the vote rule's balanced accuracy
    with CIs, per-class recall with exact intervals and the pairs each read wrong, whether the bar's numbers were met
    under the test's ``criteria`` version (``met_bar``, :func:`meets_evaluation`; the version kept as
    ``bar_criteria``), whether the bar was judged there (``judged``) and what the pairs read over base models
    (``over_bases``: whether the criteria held there, the strong indicators, recall over bases); None without an
    evaluation."""
    if ev is None:
        return None

    def reading(r: dict[str, Any]) -> dict[str, Any]:
        return {k: r.get(k) for k in ("balanced_accuracy", "ci_lo", "ci_hi", "recall_exact_ci", "read_wrong")}

    # what the test read over base models, so that a later reader sees why a version-2 test missed there
    over = {k: v for k, v in (ev.get("over_bases") or {}).items() if k in ("established", "strong", "recall")}
    return {"pairs": list(pairs), "summary": reading(ev["summary"]), "vote_rule": reading(ev["vote_rule"]),
            "met_bar": meets_evaluation(ev, criteria=criteria), "bar_criteria": criteria, "judged": judged,
            **({"over_bases": over} if over else {})}



def clean_before(summary: dict[str, Any]) -> dict[str, Any]:
    """``{"clean_test_before": ...}`` (:func:`clean_test_record`) when the table has a clean test that a fit change
    ends, else ``{}``: the record of the change keeps what those pairs read before it."""
    before = clean_test_record(summary)
    return {} if before is None else {"clean_test_before": before}


def same_fit(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two fitted-rules dicts are the same fit, compared as JSON (as the table stores them) with numbers
    equal to 1e-6 relative: the same models measured again, with another thread count, differ in the 7th-8th digit
    (float sums in another order), which must not count as a change of the fit and end a clean test."""
    return _close(json.loads(json.dumps(a, sort_keys=True)), json.loads(json.dumps(b, sort_keys=True)))


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool) and not isinstance(b, bool):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)
    return a == b


def readings_before(summary: dict[str, Any]) -> dict[str, Any]:
    """What a table read on its held-out pairs before a call changed its fit: the headline (``headline_before``) and,
    for the summary and the vote rule, balanced accuracy with CI, pairs read right per recipe and pairs read wrong
    (``readings_before``), so that a later reader can compare the fits on the same pairs."""
    ev = summary.get("evaluation") or {}
    keys = ("balanced_accuracy", "ci_lo", "ci_hi", "right_by_recipe", "read_wrong")
    return {"headline_before": summary.get("summary"),
            "readings_before": {rule: {k: ev[rule].get(k) for k in keys} for rule in ("summary", "vote_rule")
                                if rule in ev}}


def with_fit_change(run: dict[str, Any], summary: dict[str, Any], fitted: Mapping[str, Any],
                    record: dict[str, Any]) -> dict[str, Any]:
    """``run`` with ``record`` appended to its ordered ``added`` history when the call changed the fit (``fitted``,
    as ``FittedRules.to_dict`` gives it) that the table ``summary`` was reported under: ``fit_changed``, with the
    held-out pairs it had in view (none of them is a clean test of the new fit, :func:`clean_test_pairs`) and the
    clean test it ended (:func:`clean_before`); ``run`` unchanged otherwise."""
    if same_fit(fitted, summary["fitted"]):
        return run
    return {**run, "added": [*add_records(run), ending(summary, record, fit_changed=True)]}


def ending(summary: dict[str, Any], record: dict[str, Any], **what: Any) -> dict[str, Any]:
    """``record`` with ``what`` (``fit_changed=True``, or ``remeasured=`` :func:`~.seen.replaced_readings`), the change that ends
    every test of the table ``summary``, and what it had in view: the held-out pairs then in the table (none of them
    is a clean test afterwards, :func:`clean_test_pairs`), what they read (:func:`readings_before`), the test it
    ended (:func:`clean_before`), and the criteria version the clean test it starts is judged by
    (:func:`starts_test`)."""
    return starts_test({**record, **what, "test_in_view": sorted((summary.get("pairs") or {}).get("test") or []),
                        **readings_before(summary), **clean_before(summary)})
