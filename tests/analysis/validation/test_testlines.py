"""The trust paragraph's lines on the tests of the bar: the clean test, the judged tests and the bar test."""

from __future__ import annotations

from rlmeta_interp.analysis.validation import testlines as vt


def _evaluation(ba, wrong=None):
    s = {"balanced_accuracy": ba, "ci_lo": ba - 0.2, "ci_hi": 1.0, "recall": {"creation": 1.0},
         "no_signal_read_as_creation": 0.0, "recall_exact_ci": {"creation": [2, 2, 0.16, 1.0]},
         "read_wrong": wrong or {}}
    return {"summary": s, "vote_rule": s, "constant_baseline": {"balanced_accuracy": 0.5, "answer": "creation"},
            "indicators": [{"indicator": "likelihood", "votes": True, "test_n": 2, "test_auc": 0.75, "test_lo": 0.5,
                            "test_hi": 1.0, "test_bases": 2, "test_bases_unseen": 1}], "n_test": 2}


def test_judged_tests_and_the_bar_test_each_get_a_line_and_the_pool_is_not_judged():
    wrong = {"t0": ["activation", "creation"]}
    judged = {"pairs": ["t0", "t1"], "judged": True, "met_bar": False, "summary": _evaluation(0.6, wrong)["summary"],
              "vote_rule": _evaluation(0.7)["vote_rule"]}
    run = {"added": [{"pairs": [], "fit_changed": True, "test_in_view": ["x"]},
                     {"pairs": ["t0", "t1"], "new_pairs": ["t0", "t1"]},
                     {"pairs": ["t2", "t3"], "new_pairs": ["t2", "t3"], "judged_before": judged}]}
    summary = {"run": run, "build": {"not_in_table": ["t4"]},
               "clean_test": {"pairs": ["t0", "t1", "t2", "t3"], "evaluation": {**_evaluation(0.9), "n_test": 4}},
               "bar_test": {"pairs": ["t2", "t3"], "evaluation": _evaluation(0.95)}}
    lines = vt.judged_lines(summary)
    assert len(lines) == 2
    assert lines[0].startswith("- **Judged test** (2 held-out pairs; the bar was not met there): under the fit then,"
                               " the summary read balanced accuracy 0.60 (95% CI 0.40 to 1.00), recall creation 2/2,"
                               " read wrong: t0 (activation read as creation); the vote rule 0.70 (0.50 to 1.00).")
    assert lines[1].startswith("- **Bar test** (2 held-out pairs first measured after the last judged test): summary"
                               " balanced accuracy 0.95 (95% CI 0.75 to 1.00) against 0.50")
    assert lines[1].endswith("Not judged until every designed pair is in the table (1 designed pair has no row yet).")
    built = vt.judged_lines({**summary, "build": {"not_in_table": [], "not_built": ["x"]}})[1]
    assert built.endswith("(the run did not cover every designed pair, built up to date).")
    assert "likelihood 0.75 (0.50 to 1.00; 2 pairs, 2 bases, 1 unseen in calibration)" in lines[1]
    done = vt.judged_lines({**summary, "build": {"not_in_table": []}})[1]
    assert done.endswith("On these pairs alone the bar is not met.")  # two pairs: no exact interval above 0.5 ...
    clean = vt.clean_test_line(summary)
    assert clean.startswith("- **Clean test** (4 held-out pairs first measured after the fit last changed)")
    assert "the bar is judged on the pairs measured since the last judged test alone." in clean
    assert "These include the pairs of tests judged since the fit last changed (below)" in clean
    assert "On these pairs alone" not in clean  # the pool is not judged
    # without a judgement: no judged lines, and the clean test is judged on its own pairs
    plain = {**summary, "run": {"added": run["added"][:2]}, "build": {"not_in_table": []}}
    assert vt.judged_lines(plain) == [] and vt.clean_test_line(plain).endswith(
        "On these pairs alone the bar is not met.")
    assert vt.clean_test_line({**plain, "build": summary["build"]}).endswith(
        "Not judged until every designed pair is in the table (1 designed pair has no row yet).")
    empty = {**summary, "bar_test": {"pairs": [], "evaluation": None}}
    assert vt.judged_lines(empty)[1] == ("- **Bar test:** none yet: no held-out pair was first measured after the"
                                         " last judged test.")


def test_wrong_pairs_and_bases_text():
    assert vt.wrong_pairs({}) == "none"
    assert vt.wrong_pairs({"b": ["creation", "activation"], "a": ["activation", "creation"]}) == (
        "a (activation read as creation), b (creation read as activation)")
    assert vt.bases_text({"test_n": 3, "test_bases": 2}) == "; 3 pairs, 2 bases"
    assert vt.bases_text({}) == ""


def test_every_test_in_the_order_it_was_read_comes_first_and_a_table_never_changed_has_none():
    ended = {"pairs": ["e0", "e1", "e2"], "judged": True, "met_bar": False, "summary": _evaluation(0.8)["summary"],
             "vote_rule": _evaluation(0.8)["vote_rule"]}
    judged = {"pairs": ["t0", "t1"], "judged": True, "met_bar": False, "summary": _evaluation(0.6)["summary"],
              "vote_rule": _evaluation(0.6)["vote_rule"]}
    run = {"added": [{"pairs": ["e0", "e1", "e2"], "new_pairs": ["e0", "e1", "e2"]},
                     {"pairs": [], "fit_changed": True, "test_in_view": ["e0"], "clean_test_before": ended},
                     {"pairs": ["t0", "t1"], "new_pairs": ["t0", "t1"]},
                     {"pairs": ["t2", "t3"], "new_pairs": ["t2", "t3"], "judged_before": judged}]}
    bar = {**_evaluation(1.0), "n_test": 2}
    bar["summary"] = {**bar["summary"], "recall_exact_ci": {"creation": [9, 9, 0.66, 1.0],
                                                            "activation": [9, 9, 0.66, 1.0]}}
    summary = {"run": run, "build": {"not_in_table": []}, "bar_test": {"pairs": ["t2", "t3"], "evaluation": bar}}
    line = vt.tests_in_order_line(summary)
    assert line.startswith("- **Read first: every test of the meter, in the order it was read**")
    assert ("(1) 0.80 (95% CI 0.60 to 1.00) on 3 pairs, the bar missed, under an earlier fit, changed after these"
            " readings were seen; (2) 0.60 (95% CI 0.40 to 1.00) on 2 pairs, the bar missed; (3) 1.00 (95% CI 0.80 to"
            " 1.00) on 2 pairs, the bar missed.") in line  # one indicator over two bases cannot meet the bar
    assert line.endswith("The pooled numbers of the line 'Summary on the test pairs' are no test of their own.")
    # a judged test that met the bar says so
    met = {**summary, "run": {"added": [*run["added"][:3], {**run["added"][3],
                                                           "judged_before": {**judged, "met_bar": True}}]}}
    assert "(2) 0.60 (95% CI 0.40 to 1.00) on 2 pairs, the bar met;" in vt.tests_in_order_line(met)
    # the bar test still missing designed pairs is read so far, not judged
    waiting = vt.tests_in_order_line({**summary, "build": {"not_in_table": ["t4"]}})
    assert waiting.split("; (3) ")[1].startswith("1.00 on 2 pairs so far, not judged yet.")
    # a table whose fit never changed and that was never judged: its pooled reading is the test, no line
    assert vt.tests_in_order_line({"run": {"added": run["added"][:1]}, "build": {"not_in_table": []}}) == ""
    assert vt.tests_in_order_line({}) == ""


def test_a_judged_test_outside_the_base_level_criteria_keeps_its_reading_over_bases():
    over = {"established": False, "strong": ["likelihood"],
            "recall": {"activation": [4, 4, 0.3976, 1.0], "creation": [6, 6, 0.5407, 1.0]}}
    v1 = {"over_bases": over}  # no version recorded: judged by version 1
    assert vt.outside_bar_over_bases(v1, ", and") == (", and over base models it was not established (not part of"
                                                      " its bar)")
    text = vt.kept_over_bases_text(v1)
    assert text.startswith("; over base models it was not established (not part of its bar): recall over bases"
                           " activation 4/4 (0.40 to 1.00), creation 6/6 (0.54 to 1.00); indicators at AUC 0.8 with"
                           " p < 0.05 over bases: likelihood (1 of the 3 needed)")
    # a version-2 verdict already includes the reading, and a record without one says nothing
    for rec in ({"over_bases": over, "bar_criteria": 2}, {}):
        assert vt.outside_bar_over_bases(rec, ", and") == "" and vt.kept_over_bases_text(rec) == ""
    assert "it was established" in vt.outside_bar_over_bases({"over_bases": {**over, "established": True}}, ";")


def test_the_line_over_bases_says_when_its_test_is_read_so_far_and_counts_one_base_in_the_singular():
    reading = {"n_pairs": 2, "n_bases": 2, "indicators": {}, "strong": [], "established": False, "bar_criteria": 2,
               "recall": {"activation": (1, 1, 0.025, 1.0), "creation": (3, 3, 0.29, 1.0)}}
    judged, so_far = vt.base_level_line(reading), vt.base_level_line(reading, so_far=True)
    assert "activation 1/1 (0.03 to 1.00; 1 base right reaches at most 0.03)" in judged
    assert "creation 3/3 (0.29 to 1.00; 3 bases all right reach at most 0.29)" in judged
    assert ". Read so, the bar is not established: 0 of the 3 indicators needed" in judged
    assert ". Read so far (the test is judged once every designed pair has a row), the bar is not established" in so_far
    assert "Read so," not in so_far
