"""The registered questions' answers beside the readings: rendered from checksummed files only, each with its
data/README.md section, and a missing answer told apart from a tampered one."""

import pytest

from rlmeta_interp.errors import CorruptedCheckpointError
from rlmeta_interp.organism import answers, readings, tables


def test_beyond_text_states_the_registered_verdict_from_the_checksummed_answer(tmp_path):
    from rlmeta_interp.io import write_json_atomic

    assert answers.beyond_text(tmp_path, "x") == "(not answered yet)\n"

    def q(k, n, nb, credited):
        return {"read_activation": k, "n": n, "interval": [0.59, 1.0], "bases_right": nb, "n_bases": nb,
                "bases_interval": [0.4, 1.0], "answerable": True, "credited": credited}

    answer = {"min_expanding": 6, "min_bases": 4, "credited": True,
              "questions": {"all": {"as read": q(7, 7, 5, True), "boundary at its cut": q(7, 7, 5, True)}},
              "expanding": [{"pair": "p", "base": "b", "reading": "activation", "boundary at its cut": "activation",
                             "expanded_levels": [3, 4], "takeoff_step": 92}],
              "reference_creation_cases": 8, "reference_creation_top_passn": 0.14,
              "per_dose": {"0.01": {"runs": 6, "passed": 6, "expanding": 5, "expanding read activation": 5}},
              "readers_by_class": {"expansion rule": {"activation": {"creation": 7, "activation": 5}}},
              "bases": [{"base": "b", "dose": 0.01, "level": 4, "n": 128, "pass@1": 0.02, "pass@n": 0.6,
                         "guess_pass@n": 0.1}],
              "auc_vs_reference_creation": {"likelihood": {"auc": 0.9, "lo": 0.7, "hi": 1.0, "n": 15}},
              "summary_two_class": {"recall": {}, "balanced_accuracy": 0.95}}
    path = tmp_path / "readings" / "x-beyond.json"
    path.parent.mkdir()
    write_json_atomic(path, answer, checksum=True)
    text = answers.beyond_text(tmp_path, "x")
    assert "Does the meter read more than pass@k here? Credited: it read 7 of 7 expanding activation cases as activation" in text
    assert "| all | as read | 7/7 | 0.59 to 1.00 | 5/5 | 0.40 to 1.00 | yes | yes |" in text
    assert ("| pair | base | fitted reading | boundary at its cut | expanded at levels | reward >= 0.5 from step (not"
            " registered) |\n|---|---|---|---|---|---|\n| p | b | activation | activation | 3, 4 | 92 |") in text
    assert "dose 0.01: 6 activation runs, 6 passed their gain check, 5 expanding, 5 of those read activation" in text
    assert "| expansion rule | activation 5, creation 7 |" in text and "above every reference creation base's, 0.140" in text
    assert "likelihood 0.90 (0.70 to 1.00, 15 pairs)" in text and "| b | 0.01 | 4 | 0.020 | 0.600 | 0.100 |" in text
    write_json_atomic(path, {**answer, "credited": False}, checksum=True)
    assert "Not credited." in answers.beyond_text(tmp_path, "x")
    no = {**answer, "credited": False, "questions": {"all": {"as read": {**q(3, 3, 3, False), "answerable": False}}}}
    write_json_atomic(path, no, checksum=True)
    assert "Not answerable (fewer than 6 expanding activation cases, or from fewer than 4 bases)." in (
        answers.beyond_text(tmp_path, "x"))
    path.write_text("{}")  # tampered: the checksum no longer matches
    with pytest.raises(CorruptedCheckpointError, match="checksum"):
        answers.beyond_text(tmp_path, "x")


def test_each_registered_answer_lies_beside_its_readings(tmp_path):
    assert answers.answer_path(tmp_path, "t", "speed") == tmp_path / "readings" / "t-speed.json"
    assert answers.answer_path(tmp_path, "t", "after").parent == readings.readings_path(tmp_path, "t").parent


def test_speed_text_states_the_registered_verdict_and_each_run_beside_its_twin(tmp_path):
    from rlmeta_interp.io import write_json_atomic

    assert answers.speed_text(tmp_path, "x") == "(not answered yet)\n"
    q = {"read_activation": 8, "n": 8, "interval": [0.63, 1.0], "bases_right": 4, "n_bases": 4,
         "bases_interval": [0.4, 1.0], "answerable": True, "credited": True}
    run = {"pair": "a-rl-long-slow", "base": "a-base", "label": "activation", "gain_check": "passed",
           "takeoff_step": 274, "takeoff_rule": "creation", "p_if_takeoff_alone": 0.61, "converged_step": 410,
           "steps_after_converged": 1090, "final_entropy": 0.1, "deepest_pass@1": 0.2, "deepest_pass@n": 0.5,
           "reading": "activation", "p_creation": 0.2, "twin": "a-rl-long", "twin_gain_check": "passed",
           "twin_takeoff_step": 92, "twin_reading": "activation", "twin_p_creation": 0.15, "twin_converged_step": 137,
           "twin_final_entropy": 0.3, "twin_deepest_pass@1": 0.3, "twin_deepest_pass@n": 0.45,
           "change": {"p_creation": 0.05, "boundary": None, "likelihood": -0.5, "elicitation": 0.25}}
    change = {"mean": 0.05, "lo": -0.1, "hi": 0.2, "n": 8, "n_bases": 4}
    answer = {"verdict": "credited", "takeoff_cut": {"cut": 114.5, "balanced_accuracy": 0.95, "n": 28},
              "meter_switch": {"cut": 160.0, "balanced_accuracy": 1.0, "n": 27}, "calibration": ["t2", "low"],
              "takeoff_rows": 2, "questions": {"slow": {"as read": q, "boundary at its cut": q, "pairs": ["p"]}},
              "slow_read": {"creation": 0, "activation": 8, "no_signal": 0, "n": 8},
              "lr_check": {"result": "no creation case", "median_change_p_creation": None, "threshold": -0.1,
                           "creation_passed": []},
              "paired_change": {"activation": {"p_creation": change}}, "runs": [run],
              "readers_by_class": {"take-off rule": {"activation": {"creation": 8}}},
              "reference_creation_top_passn": 0.14}
    path = tmp_path / "readings" / "x-speed.json"
    path.parent.mkdir()
    write_json_atomic(path, answer, checksum=True)
    text = answers.speed_text(tmp_path, "x")
    assert "learning speed here? Verdict: credited.** The take-off rule (take-off: the first of 2 stored rows" in text
    assert "reads creation after step 114.5, fitted on the cases of t2 and low (balanced accuracy 0.95 over 28" in text
    assert "switch at step 160 (agreement 1.00)" in text and "activation 8, creation 0, no-signal 0" in text
    assert "Learning-rate check: not possible: no creation run" in text and "(median change in P(creation) n/a)" in text
    write_json_atomic(path, {**answer, "lr_check": {"result": "confounded", "median_change_p_creation": 0.0,
                                                    "creation_passed": ["a-rl-long-slow"]}}, checksum=True)
    assert ("Learning-rate check: confounded: of 1 creation runs that passed their gain check, 1 read activation"
            " (a-rl-long-slow) (median change in P(creation) +0.00)") in answers.speed_text(tmp_path, "x")
    write_json_atomic(path, answer, checksum=True)
    assert "| slow | as read | 8/8 | 0.63 to 1.00 | 4/4 | 0.40 to 1.00 | yes | yes |" in text
    assert ("| a-rl-long-slow | activation | passed | 274 (92) | 410 (137) | activation (activation) | 0.20 (0.15) |"
            " n/a | -0.50 | +0.25 | 0.10 (0.30) | 0.200 (0.300) | 0.500 (0.450) | creation | 0.61 |") in text
    assert "| activation | +0.05 (-0.10 to 0.20; 8 runs, 4 bases) |" in text and "| take-off rule | creation 8 |" in text
    path.write_text("{}")
    with pytest.raises(CorruptedCheckpointError, match="checksum"):
        answers.speed_text(tmp_path, "x")


def test_every_registered_answer_has_a_data_readme_section_and_renders_before_it_is_computed(tmp_path):
    texts = answers.answer_texts(tmp_path)
    assert len(texts) == sum(len(a.names) for a in answers.ANSWERS) and len({k for k, _, _ in texts}) == len(texts)
    readme = (tables.shipped_zoo_dir().parent / "README.md").read_text()
    for key, title, text in texts:
        assert f"<!-- begin {key} -->" in readme, f"data/README.md has no section for {key}"
        assert text in (answers.NOT_ANSWERED, "(not computed yet)\n") and title.startswith(key.rsplit("-", 1)[0])
    assert all(name in readings.READINGS for a in answers.ANSWERS for name in a.names)


def test_the_readme_summary_of_the_tests_counts_cases_and_names_each_verdict(tmp_path):
    import pandas as pd

    from rlmeta_interp.io import write_csv_atomic, write_json_atomic
    from rlmeta_interp.paths import REPO_ROOT

    assert answers.tests_summary_rows(tmp_path) == []
    path = readings.readings_path(tmp_path, "composition-lrshift")
    path.parent.mkdir()
    rows = [("a1", "activation", True, "creation"), ("a2", "activation", True, "activation"),
            ("a3", "activation", False, "activation"), ("c1", "creation", True, "creation"),
            ("n1", "no_signal", True, "creation"), ("n2", "no_signal", True, "no_signal")]
    write_csv_atomic(path, pd.DataFrame([{"pair": p, "label": lab, "case": case, "reading": read}
                                         for p, lab, case, read in rows]))
    write_json_atomic(answers.answer_path(tmp_path, "composition-lrshift", "lrshift"), {"verdict": "partly"},
                      checksum=True)
    (row,) = answers.tests_summary_rows(tmp_path)
    assert row == {"test": "composition-lrshift", "cases": "5", "creation cases read creation": "1 of 1",
                   "activation cases read activation": "1 of 2", "no-signal controls read creation": "1 of 2",
                   "bar": "not read", "registered answer": "a larger learning rate alone: partly"}
    # the repository README's table is this, over the shipped readings (none typed by hand)
    readme = (REPO_ROOT / "README.md").read_text()
    assert tables.render_sections(readme, tables.top_readme_sections()) == readme, (
        "README.md is stale: run `python -m rlmeta_interp.organism.tables`")


@pytest.mark.parametrize(("kind", "answer", "got"), [
    ("beyond", {"credited": False}, "not credited"), ("replicate", {"outcome": "replicated"}, "replicated"),
    ("covariate", {"claim": "none"}, None), ("fastlr", {"verdict": "v", "qualifier": "q"}, "v (q)"),
    ("speed", {"verdict": "cannot answer"}, "cannot answer"),
    ("lrmid", {"verdict": "moves", "end_state": {"result": "end state not separated"}}, "moves (end state not separated)"),
    ("lrmid", {"verdict": "does not move", "end_state": {"result": "not asked"}}, "does not move")])
def test_each_answers_verdict_in_a_few_words(kind, answer, got):
    (entry,) = [a for a in answers.ANSWERS if a.kind == kind]
    assert entry.verdict(answer) == got


def test_the_middle_rate_seeds_answer_renders_its_statistic_predictors_and_runs(tmp_path):
    from rlmeta_interp.analysis.validation.lrmidseeds import lrmidseeds_question
    from rlmeta_interp.io import write_json_atomic

    from ..analysis.validation.shared import manifest, row

    manifests = {"b-base": {"name": "b-base"}}
    for name, seed, p1 in (("b-rl-long", 0, 0.9), ("b-rl-long-s1", 1, 1.0), ("b-rl-long-mid", 0, 0.9),
                           ("b-rl-long-mid-s1", 1, 0.9), ("b-rl-long-mid-s2", 2, 0.99), ("b-rl-long-mid-s3", 3, 0.5),
                           ("b-rl-long-mid-s4", 4, 0.01)):
        manifests[name] = {**manifest(name, "b-base", seed, p1), "base_weights_sha256": "w"}
    fit = {"inputs": ["boundary", "likelihood", "elicitation", "reliance"], "coef": [1.0, 1.0, 1.0, 1.0]}
    out = lrmidseeds_question([row("b-rl-long-mid-s2", "activation", 0.2), row("b-rl-long-mid-s3", "creation", 0.7),
                               row("b-rl-long-mid-s4", "creation", 0.75)],
                              [row("b-rl-long-mid", "activation", 0.1), row("b-rl-long-mid-s1", "activation", 0.1)],
                              [row("b-rl-long", "activation", 0.1), row("b-rl-long-s1", "activation", 0.1)],
                              manifests, fit)
    assert answers.lrmidseeds_text(tmp_path, "t") == answers.NOT_ANSWERED
    write_json_atomic(answers.answer_path(tmp_path, "t", "lrmidseeds"), out, checksum=True)
    text = answers.lrmidseeds_text(tmp_path, "t")
    assert "Verdict: cannot answer.**" in text and "per base: b -1.00; mean tau -1.00 over 1 base, p 0.1667" in text
    assert "Base weights the runs were tuned from: b rebuilt, not the recorded ones." in text
    assert "reads 3 of 3 cases right; the base (its middle-rate runs' shared reading) reads 1 of 3" in text
    assert "b +0.55 (boundary +0.00, elicitation +0.55, likelihood +0.00, reliance n/a)" in text  # row(): elicitation = P
    assert "Without the cases below deepest-level pass@1 0.05: mean tau n/a over 0 bases" in text
    assert "| b-rl-long-mid-s3 | passed | creation (0.70) | 0.500 | 0.950 | no | creation | activation |" in text
