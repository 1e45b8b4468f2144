"""The project's bar: which indicators count towards it, and when a validation summary meets it."""

from __future__ import annotations

import pytest

from rlmeta_interp.analysis.validation import bar as vb
from rlmeta_interp.errors import InvalidConfigError


def test_the_bar_counts_an_indicator_only_over_enough_bases_with_a_fitted_cut():
    unseen, per_class = vb.MIN_BASES, {"creation": vb.MIN_BASES_PER_CLASS, "activation": 3}

    def row(k, **change):
        r = {"indicator": f"i{k}", "votes": True, "cut": 0.5, "test_auc": 1.0, "test_lo": 0.9, "test_bases": 7,
             "test_bases_unseen": unseen, "test_bases_by_class": per_class}
        return {**r, **change}

    def summary(rows):
        s = {"balanced_accuracy": 0.95, "ci_lo": 0.8, "recall": {"creation": 0.9}, "no_signal_read_as_creation": 0.0,
             "recall_exact_ci": {"creation": [9, 10, 0.55, 1.0], "no_signal": [6, 6, 0.54, 1.0]}}
        return {"evaluation": {"summary": s, "indicators": rows}}

    good = [row(k) for k in range(3)]
    assert vb.meets_bar(summary(good))
    for bad in ({"test_bases_unseen": unseen - 1},  # too few bases calibration never saw
                {"test_bases_by_class": {"creation": 1, "activation": 6}},  # one base carries a whole class
                {"test_bases_by_class": {"activation": 7}},  # one class only
                {"cut": None},  # votes by kept hand-set thresholds, not a fitted cut
                {"test_bases_unseen": None, "test_bases_by_class": None},  # a table without base counts
                {"test_lo": 0.6}, {"test_auc": float("nan")}, {"votes": False}):
        assert not vb.counts_for_bar(row(0, **bad)), bad
        assert not vb.meets_bar(summary([row(0, **bad), *good[1:]])), bad
        assert vb.meets_bar(summary([row(0, **bad), *good[1:], row(3)]))  # a fourth good one makes up for it
    # an indicator whose design saw some held-out pairs counts only if its AUC without them meets the bar too
    assert vb.counts_for_bar(row(0, test_unseen_in_design={"auc": 0.9, "lo": 0.7}))
    assert not vb.counts_for_bar(row(0, test_unseen_in_design={"auc": 0.9, "lo": 0.6}))
    # a calibration split extended after the held-out readings had been seen leaves no clean test: never met
    met = summary(good)
    met["run"] = {"added": [{"pairs": ["t"], "calibration": []}]}
    assert vb.meets_bar(met) and not vb.calibration_extensions(met)
    met["run"]["added"].append({"pairs": ["c"], "calibration": ["c"]})
    assert not vb.meets_bar(met) and vb.calibration_extensions(met) == [met["run"]["added"][1]]
    # ... unless on the held-out pairs first measured after the last change, evaluated apart, whatever the whole
    # held-out split reads
    met["clean_test"] = {"pairs": [], "evaluation": None}
    assert not vb.meets_bar(met)
    met["clean_test"] = {"pairs": ["n"], "evaluation": summary(good)["evaluation"]}
    assert vb.meets_bar(met)
    # not while designed pairs are still without a row: an interim batch does not count
    assert not vb.meets_bar({**met, "build": {"not_in_table": ["later"]}})
    met["evaluation"] = summary([row(0, test_lo=0.5), *good[1:]])["evaluation"]
    assert vb.meets_bar(met) and not vb.meets_evaluation(met["evaluation"], criteria=1)
    met["clean_test"]["evaluation"] = summary([row(0, test_lo=0.5), *good[1:]])["evaluation"]
    assert not vb.meets_bar(met)
    # another change of the fitted rules (an indicator added, a refit) counts as a change too
    other = {**summary(good), "run": {"added": [{"indicator": "x", "pairs": [], "fit_changed": True}]}}
    assert not vb.meets_bar(other) and not vb.calibration_extensions(other) and vb.fit_changes(other["run"])


def test_clean_test_pairs_are_those_first_measured_after_the_fit_last_changed():
    test = ["t0", "t1", "t2", "t3", "t4", "t5", "t6"]
    assert vb.clean_test_pairs({}, test) is None  # never changed: every held-out pair is clean
    run = {"added": [{"pairs": ["t1"], "new_pairs": ["t1"]}]}
    assert vb.clean_test_pairs(run, test) is None
    run["added"].append({"pairs": ["c1", "t6"], "new_pairs": ["c1", "t6"], "calibration": ["c1"],
                         "test_in_view": ["t0", "t1"]})
    assert vb.clean_test_pairs(run, test) == []  # t0, t1 were in view, t6 was measured with c1
    # a later call: t1 measured again is not clean, t2 and t3 are new; c2 is not held out; t0, in view when the fit
    # changed, is not clean even if its row was dropped and added again (listed as new)
    run["added"].append({"pairs": ["t0", "t1", "t2", "t3", "c2"], "new_pairs": ["t0", "t2", "t3", "c2"]})
    assert vb.clean_test_pairs(run, test) == ["t2", "t3"]
    # a record that does not list its new pairs adds none (its pairs may have been in the table already)
    run["added"].append({"pairs": ["t4"]})
    assert vb.clean_test_pairs(run, test) == ["t2", "t3"]
    assert vb.clean_test_pairs(run, ["t3"]) == ["t3"]  # a pair no longer held out does not count
    # another change: nothing measured before it is clean any more
    run["added"].append({"indicator": "x", "pairs": [], "fit_changed": True, "test_in_view": ["t2", "t3"]})
    assert vb.clean_test_pairs(run, test) == []
    run["added"].append({"pairs": ["t5"], "new_pairs": ["t5"]})
    assert vb.clean_test_pairs(run, test) == ["t5"]
    # a change that does not list the held-out pairs it had in view leaves no clean pair
    run["added"].insert(1, {"pairs": ["c0"], "calibration": ["c0"]})
    assert vb.clean_test_pairs(run, test) == []
    assert vb.add_records({"added": {"pairs": ["x"]}}) == [{"pairs": ["x"]}]  # an older table kept one record


def test_the_record_of_a_clean_test_keeps_both_readings_and_whether_the_bar_was_judged():
    def reading(ba):
        return {"balanced_accuracy": ba, "ci_lo": ba - 0.2, "ci_hi": 1.0, "recall": {"creation": 1.0},
                "no_signal_read_as_creation": 0.0, "recall_exact_ci": {"creation": [4, 4, 0.4, 1.0]},
                "read_wrong": {"p": ["activation", "creation"]} if ba < 1 else {}}

    ev = {"summary": reading(0.8), "vote_rule": reading(1.0), "indicators": []}
    summary = {"clean_test": {"pairs": ["p", "q"], "evaluation": ev}, "build": {"not_in_table": ["later"]}}
    rec = vb.clean_test_record(summary)
    assert rec["pairs"] == ["p", "q"] and rec["summary"]["balanced_accuracy"] == 0.8
    assert rec["summary"]["read_wrong"] == {"p": ["activation", "creation"]} and rec["vote_rule"]["read_wrong"] == {}
    assert rec["met_bar"] is False and rec["judged"] is False  # 0.8 < 0.85; a designed pair had no row yet
    assert vb.clean_test_record({**summary, "build": {"not_in_table": []}})["judged"] is True
    assert vb.clean_test_record({"clean_test": {"pairs": [], "evaluation": None}}) is None
    assert vb.clean_test_record({}) is None
    # after a judged test, the test the bar is judged on is the bar test, not the pool of clean pairs
    after = {**summary, "run": {"added": [{"pairs": ["q"], "new_pairs": ["q"], "judged_before": {"pairs": ["p"]}}]},
             "bar_test": {"pairs": ["q"], "evaluation": {**ev, "summary": reading(1.0)}}}
    assert vb.clean_test_record(after)["pairs"] == ["q"] and vb.clean_test_record(after)["summary"]["read_wrong"] == {}


def _reading(ba):
    return {"balanced_accuracy": ba, "ci_lo": ba - 0.2, "ci_hi": 1.0, "recall": {"creation": 1.0},
            "no_signal_read_as_creation": 0.0, "recall_exact_ci": {"creation": [4, 4, 0.4, 1.0]},
            "read_wrong": {"p": ["activation", "creation"]} if ba < 1 else {}}


def test_the_bar_is_judged_on_the_pairs_measured_after_the_last_judged_test_alone():
    test = ["t0", "t1", "t2", "t3", "t4", "t5", "t6"]
    judged = {"pairs": ["t2", "t3"], "judged": True, "met_bar": False}
    run = {"added": [{"pairs": [], "fit_changed": True, "test_in_view": ["t0", "t1"]},
                     {"pairs": ["t2", "t3"], "new_pairs": ["t2", "t3"]}]}
    assert vb.bar_test_pairs(run, test) is None and not vb.judgements(run)  # no judgement: the clean test decides
    run["added"].append({"pairs": ["t4"], "new_pairs": ["t4"], "judged_before": judged})
    run["added"].append({"pairs": ["t2", "t5"], "new_pairs": ["t5"]})  # t2 measured again is not new
    # the fit saw none of t2-t5: all count for accuracy; the bar is judged on t4 and t5 only
    assert vb.clean_test_pairs(run, test) == ["t2", "t3", "t4", "t5"]
    assert vb.bar_test_pairs(run, test) == ["t4", "t5"] and vb.judgements(run) == [run["added"][2]]
    # a judged pair dropped and added again as new is still not part of the new test
    run["added"].append({"pairs": ["t3"], "new_pairs": ["t3"]})
    assert vb.bar_test_pairs(run, test) == ["t4", "t5"]
    # a second judgement: only what came after it
    run["added"].append({"pairs": ["t6"], "new_pairs": ["t6"], "judged_before": {**judged, "pairs": ["t4", "t5"]}})
    assert vb.bar_test_pairs(run, test) == ["t6"]
    assert vb.judgements_since_fit_change(run) == [run["added"][2], run["added"][5]]
    # a later change of the fit ends them all: the clean test after it decides again
    run["added"].append({"pairs": [], "fit_changed": True, "test_in_view": test})
    assert vb.judgements_since_fit_change(run) == [] and vb.judgements(run) == [run["added"][2], run["added"][5]]
    assert vb.bar_test_pairs(run, test) is None and vb.clean_test_pairs(run, test) == []
    # a table fitted once gets a bar test from its first judgement
    once = {"added": [{"pairs": ["t1"], "new_pairs": ["t1"], "judged_before": {**judged, "pairs": ["t0"]}}]}
    assert vb.clean_test_pairs(once, test) is None and vb.bar_test_pairs(once, test) == ["t1"]


def test_meets_bar_reads_the_bar_test_once_there_is_one():
    good_row = {"votes": True, "cut": 0.5, "test_auc": 1.0, "test_lo": 0.9, "test_bases_unseen": vb.MIN_BASES,
                "test_bases_by_class": {"creation": 2, "activation": 2}}
    s = {"balanced_accuracy": 0.95, "ci_lo": 0.8, "recall": {"creation": 0.9}, "no_signal_read_as_creation": 0.0,
         "recall_exact_ci": {"creation": [9, 10, 0.55, 1.0]}}
    good = {"summary": s, "indicators": [good_row] * 3}
    bad = {"summary": {**s, "balanced_accuracy": 0.5}, "indicators": [good_row] * 3}
    run = {"added": [{"pairs": ["t1"], "new_pairs": ["t1"], "judged_before": {"pairs": ["t0"]}}]}
    summary = {"evaluation": good, "run": run, "build": {"not_in_table": []}}
    assert not vb.meets_bar(summary)  # no bar test evaluated: not met, whatever the whole split reads
    assert vb.meets_bar({**summary, "bar_test": {"pairs": ["t1"], "evaluation": good}})
    assert not vb.meets_bar({**summary, "bar_test": {"pairs": ["t1"], "evaluation": bad}})
    # a pool of the judged pairs and the new ones that reads well does not count
    assert not vb.meets_bar({**summary, "evaluation": good, "clean_test": {"pairs": ["t0", "t1"], "evaluation": good},
                             "bar_test": {"pairs": ["t1"], "evaluation": bad}})
    assert not vb.meets_bar({**summary, "bar_test": {"pairs": ["t1"], "evaluation": good},
                             "build": {"not_in_table": ["later"]}})


def test_a_judgement_is_recorded_only_for_a_test_the_bar_was_judged_on():
    ev = {"summary": _reading(0.8), "vote_rule": _reading(1.0), "indicators": []}
    once = {"evaluation": ev, "pairs": {"test": ["a", "b"]}, "build": {"not_in_table": []}}
    rec = vb.judgement(once)["judged_before"]  # fitted once: every held-out pair was the test
    assert rec["pairs"] == ["a", "b"] and rec["judged"] is True and rec["met_bar"] is False
    assert rec["summary"]["read_wrong"] == {"p": ["activation", "creation"]}
    assert vb.judgement({**once, "build": {"not_in_table": ["later"]}}) == {}  # not judged: designed pairs missing
    assert vb.judgement({**once, "build": {}}) == {}  # a table that does not say
    changed = {**once, "run": {"added": [{"pairs": [], "fit_changed": True, "test_in_view": ["a"]}]},
               "clean_test": {"pairs": ["b"], "evaluation": ev}}
    assert vb.judgement(changed)["judged_before"]["pairs"] == ["b"]  # the clean test was what was judged
    assert vb.judgement({**changed, "clean_test": {"pairs": [], "evaluation": None}}) == {}
    twice = {**once, "run": {"added": [{"pairs": ["b"], "new_pairs": ["b"], "judged_before": {"pairs": ["a"]}}]},
             "bar_test": {"pairs": ["b"], "evaluation": ev}}
    assert vb.judgement(twice)["judged_before"]["pairs"] == ["b"]


def test_a_judged_test_is_recorded_by_whichever_call_grows_the_table():
    ev = {"summary": _reading(0.8), "vote_rule": _reading(1.0), "indicators": []}
    judged = {"evaluation": ev, "pairs": {"test": ["a"]}, "build": {"not_in_table": []}}
    added = {"pairs": ["b"], "new_pairs": ["b"]}
    assert vb.judged_record(judged, added, [])["judged_before"]["pairs"] == ["a"]  # new held-out pairs
    refit = {"refit": True, "pairs": []}
    assert vb.judged_record(judged, refit, ["later"])["judged_before"]["pairs"] == ["a"]  # the preset grew
    assert vb.judged_record(judged, refit, []) == refit  # nothing grew: the judged test stands as it is
    changed = {**added, "fit_changed": True, "test_in_view": ["a"]}
    assert vb.judged_record(judged, changed, ["later"]) == changed  # a change of the fit ends every test itself
    waiting = {**judged, "build": {"not_in_table": ["b"]}}
    assert vb.judged_record(waiting, added, []) == added  # not judged yet: the pairs join the test in progress


def test_the_bar_waits_for_every_designed_pair_whatever_the_history():
    good_row = {"votes": True, "cut": 0.5, "test_auc": 1.0, "test_lo": 0.9, "test_bases_unseen": vb.MIN_BASES,
                "test_bases_by_class": {"creation": 2, "activation": 2}}
    s = {"balanced_accuracy": 0.95, "ci_lo": 0.8, "recall": {"creation": 0.9}, "no_signal_read_as_creation": 0.0,
         "recall_exact_ci": {"creation": [9, 10, 0.55, 1.0]}}
    once = {"evaluation": {"summary": s, "indicators": [good_row] * 3}}
    assert vb.meets_bar(once) and vb.meets_bar({**once, "build": {"not_in_table": []}})
    assert not vb.meets_bar({**once, "build": {"not_in_table": ["later"]}})  # a full run over a partial build
    assert not vb.meets_bar({**once, "build": {"not_in_table": [], "not_built": ["x"]}})  # built from another config
    assert not vb.meets_bar({**once, "build": {"not_in_table": [], "pairs_requested": ["p"]}})  # a --pairs run
    assert vb.pending({"build": {"not_built": ["x"]}}) and not vb.pending({"build": {"not_in_table": []}})


def test_held_out_pairs_measured_again_with_other_readings_end_every_test():
    test = ["t0", "t1", "t2", "t3"]
    judged = {"pairs": ["t0", "t1"], "judged": True, "met_bar": False}
    run = {"added": [{"pairs": ["t0", "t1"], "new_pairs": ["t0", "t1"]},
                     {"pairs": ["t2"], "new_pairs": ["t2"], "judged_before": judged}]}
    assert vb.bar_test_pairs(run, test) == ["t2"]
    summary = {"pairs": {"test": ["t0", "t1", "t2"]}, "run": run}
    # t2, the bar test's pair, measured again and read otherwise: no earlier pair is a test of anything any more
    ended = vb.ending(summary, {"pairs": ["t2"], "new_pairs": []}, remeasured={"t2": {"columns": ["likelihood"]}})
    assert ended["test_in_view"] == ["t0", "t1", "t2"] and vb.fit_changes({"added": [ended]}) == [ended]
    run["added"].append(ended)
    assert vb.bar_test_pairs(run, test) is None and vb.clean_test_pairs(run, test) == []
    assert not vb.judged_since_fit_change(run)
    run["added"].append({"pairs": ["t3"], "new_pairs": ["t3"]})
    assert vb.clean_test_pairs(run, test) == ["t3"]  # a new test starts with the pairs measured after it
    # the call that replaced the readings records no judgement beside: it ends the judged test too
    assert vb.judged_record({**summary, "build": {"not_in_table": []}}, ended, ["t3"]) == ended


def test_tested_pairs_are_those_of_the_test_the_bar_is_judged_on_now():
    summary = {"pairs": {"test": ["t0", "t1", "t2"]}, "run": {}}
    assert vb.tested_pairs(summary) == ["t0", "t1", "t2"]  # never changed: every held-out pair
    summary["run"] = {"added": [{"pairs": [], "fit_changed": True, "test_in_view": ["t0"]},
                                {"pairs": ["t1", "t2"], "new_pairs": ["t1", "t2"]}]}
    assert vb.tested_pairs(summary) == ["t1", "t2"]  # the clean test
    summary["run"]["added"].append({"pairs": ["t3"], "new_pairs": ["t3"],
                                    "judged_before": {"pairs": ["t1", "t2"], "judged": True, "met_bar": False}})
    summary["pairs"]["test"].append("t3")
    assert vb.tested_pairs(summary) == ["t3"]  # the bar test after a judgement


def test_only_a_record_of_pairs_measured_again_alone_keeps_the_fit():
    from rlmeta_interp.analysis.validation.bar import only_remeasured

    assert only_remeasured({"remeasured": {"p": {}}})
    assert not only_remeasured({"remeasured": {"p": {}}, "fit_changed": True})
    assert not only_remeasured({"remeasured": {"p": {}}, "calibration": ["c"]})
    assert not only_remeasured({"fit_changed": True}) and not only_remeasured({})


def test_a_test_is_judged_by_the_criteria_version_recorded_when_it_began():
    good_row = {"votes": True, "cut": 0.5, "test_auc": 1.0, "test_lo": 0.9, "test_bases_unseen": vb.MIN_BASES,
                "test_bases_by_class": {"creation": 2, "activation": 2}}
    s = {"balanced_accuracy": 0.95, "ci_lo": 0.8, "recall": {"creation": 0.9}, "no_signal_read_as_creation": 0.0,
         "recall_exact_ci": {"creation": [9, 10, 0.55, 1.0]}, "read_wrong": {}}
    plain = {"summary": s, "vote_rule": s, "indicators": [good_row] * 3}
    # version 1 reads pairs alone; version 2 (the current one) needs the same readings over bases as well
    assert vb.BAR_CRITERIA == 2 and vb.meets_evaluation(plain, criteria=1)
    assert not vb.meets_evaluation(plain, criteria=2)
    assert not vb.meets_evaluation({**plain, "over_bases": None}, criteria=2)
    assert not vb.meets_evaluation({**plain, "over_bases": {"established": False}}, criteria=2)
    assert vb.meets_evaluation({**plain, "over_bases": {"established": True}}, criteria=2)
    with pytest.raises(TypeError):
        vb.meets_evaluation(plain)  # the version is always named: a default would judge an old test by new criteria
    # the version comes from the record that began the test: the run of a table never changed nor judged, else the
    # last change of the fit, else the last judged test's successor; records written before versions say 1
    assert vb.criteria_now({}) == 1 and vb.criteria_now(vb.starts_test({})) == 2
    assert vb.meets_bar({"evaluation": plain}) and not vb.meets_bar({"evaluation": plain, "run": vb.starts_test({})})
    old_change = {"pairs": [], "fit_changed": True, "test_in_view": ["a"]}
    run = {"added": [old_change]}
    assert vb.criteria_now(run) == 1  # the clean test began with an unstamped change of an unstamped table
    assert vb.criteria_now(vb.starts_test(run)) == 2  # a version-2 table's tests never go back to version 1
    summary = {"evaluation": plain, "run": run, "clean_test": {"pairs": ["b"], "evaluation": plain}}
    assert vb.meets_bar(summary)
    ended = vb.ending(summary, {"pairs": []}, fit_changed=True)  # a change made now starts a version-2 test
    assert ended["bar_criteria"] == 2 and ended["clean_test_before"]["bar_criteria"] == 1
    assert ended["clean_test_before"]["met_bar"] is True  # the test it ended read under its own version
    later = {**summary, "run": {"added": [old_change, ended]}}
    assert vb.criteria_now(later["run"]) == 2 and not vb.meets_bar(later)
    assert vb.meets_bar({**later, "clean_test": {"pairs": ["b"], "evaluation": {**plain, "over_bases":
                                                                               {"established": True}}}})
    # a judged test's successor is stamped when the table grows; the judged record keeps its own version
    judged = {"evaluation": plain, "pairs": {"test": ["a"]}, "build": {"not_in_table": []}}
    grown = vb.judged_record(judged, {"pairs": ["b"], "new_pairs": ["b"]}, [])
    assert grown["bar_criteria"] == 2 and grown["judged_before"]["bar_criteria"] == 1
    assert grown["judged_before"]["met_bar"] is True
    assert "bar_criteria" not in vb.judged_record({**judged, "build": {"not_in_table": ["b"]}}, {"pairs": []}, [])
    assert vb.criteria_now({"added": [grown]}) == 2
    assert vb.criteria_now({"added": [{**grown, "bar_criteria": 1}]}) == 1


def test_criteria_versions_never_go_down_and_unknown_ones_are_refused():
    stamped = vb.starts_test({"pairs": [], "fit_changed": True, "test_in_view": ["a"]})
    # a change written without a version after a stamped one (by code that did not stamp it) keeps version 2
    later = {"pairs": ["c"], "calibration": ["c"], "test_in_view": ["a"]}
    assert vb.criteria_now({"added": [stamped, later]}) == 2 and vb.criteria_now({"added": [later]}) == 1
    assert vb.criteria_now({**vb.starts_test({}), "added": [later]}) == 2  # a version-2 table stays version 2
    # what a test read over bases is kept with its record, so a later reader sees why it missed there
    s = {"balanced_accuracy": 0.95, "ci_lo": 0.8, "ci_hi": 1.0, "recall": {"creation": 0.9},
         "no_signal_read_as_creation": 0.0, "recall_exact_ci": {"creation": [9, 10, 0.55, 1.0]}, "read_wrong": {}}
    over = {"established": False, "strong": ["x"], "recall": {"creation": [4, 4, 0.4, 1.0]}, "indicators": {}}
    rec = vb.reading_record(["p"], {"summary": s, "vote_rule": s, "indicators": [], "over_bases": over}, judged=True,
                            criteria=2)
    assert rec["over_bases"] == {k: over[k] for k in ("established", "strong", "recall")} and rec["met_bar"] is False
    for bad in (0, 3, "2", 2.0, True):
        with pytest.raises(InvalidConfigError, match="no criteria version this code knows"):
            vb.criteria_of({"bar_criteria": bad})
