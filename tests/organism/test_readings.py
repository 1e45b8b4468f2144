"""Readings by the committed fit: rendered from checksummed files only, with missing files and tampered ones told
apart; the bar applied only where a creation case was read."""

import pytest

from rlmeta_interp.errors import CorruptedCheckpointError, EmptyInputError
from rlmeta_interp.io import write_text_atomic
from rlmeta_interp.organism import answers, manifests, readings, tables


def test_pilot_readings_render_from_the_checksummed_csv_validate_read_writes(tmp_path):
    import pandas as pd

    from rlmeta_interp.io import write_csv_atomic

    assert readings.readings_rows(tmp_path) == []
    assert readings.readings_evaluation(tmp_path) == "(no readings evaluated yet)\n"
    path = readings.readings_path(tmp_path, "composition")
    path.parent.mkdir()
    frame = pd.DataFrame([
        {"pair": "p-c", "world": "composition", "recipe": "composition", "label": "creation", "gain_check": "passed",
         "case": True, "own_world_cuts": False, "reading": "creation", "p_creation": 0.9, "vote_rule": "creation",
         "likelihood": 1.234, "likelihood_vote": "creation", "reliance": float("nan"), "reliance_vote": "n/a",
         "table_sha256": "a" * 64}])
    write_csv_atomic(path, frame)
    (row,) = readings.readings_rows(tmp_path)
    assert row["cuts"] == "pooled" and row["case"] == "yes" and row["P(creation)"] == "0.90"
    assert row["likelihood (vote)"] == "+1.23 (creation)" and row["reliance (vote)"] == "n/a (n/a)"
    sections = tables.readme_sections(tmp_path, tmp_path, tmp_path)
    assert "| p-c | creation | passed |" in sections["composition-readings-table"]
    assert sections["composition-test-readings-table"] == "(no pair read by the validated fit yet)\n"
    path.write_text(path.read_text().replace("creation", "activation"))
    with pytest.raises(CorruptedCheckpointError):
        readings.readings_rows(tmp_path)
    # a file of its header alone, or of nothing, is refused by name, not read as readings with no case (which the
    # README's test summary would skip and a question would pass unread)
    header = path.read_text().splitlines()[0] + "\n"
    for text in (header, ""):
        write_text_atomic(path, text, checksum=True)
        with pytest.raises(EmptyInputError, match=r"composition.csv.*validate --read --preset composition --readings"):
            readings.readings_records(tmp_path, "composition")
        with pytest.raises(EmptyInputError):
            answers.tests_summary_rows(tmp_path)
    write_csv_atomic(path, frame)
    # the README's summary reads every registered test's readings: one of its header alone is refused, by name
    test_path = readings.readings_path(tmp_path, "composition-test")
    write_text_atomic(test_path, header, checksum=True)
    with pytest.raises(EmptyInputError, match="Readings composition-test .*hold no rows"):
        answers.tests_summary_rows(tmp_path)
    test_path.unlink()
    test_path.with_name(test_path.name + ".sha256").unlink()
    # the shipped pilot's evaluation: the paragraph states what the file holds
    from rlmeta_interp.io import read_json

    shipped = manifests.pilot_manifests_dir()
    ev = read_json(readings.readings_path(shipped, "composition").with_suffix(".json"), required=True)["evaluation"]
    text = readings.readings_evaluation(shipped)
    assert f"Over the {ev['n_test']} cases read" in text
    assert text.rstrip().endswith("not met.") != ev["meets_bar"]
    # a newer evaluation gives creation against activation alone too
    from rlmeta_interp.io import write_json_atomic

    two = {"balanced_accuracy": 0.75, "ci_lo": 0.5, "ci_hi": 1.0, "n": 12}
    newer = {**ev, "summary": {**ev["summary"], "creation_vs_activation": two}}
    write_json_atomic(path.with_suffix(".json"), {"evaluation": newer}, checksum=True)
    text = readings.readings_evaluation(tmp_path)
    assert "; creation against activation alone 0.75 (CI 0.50 to 1.00, 12 cases); recall" in text
    assert "expansion rule" not in text
    rule = {"balanced_accuracy": 1.0, "ci_lo": 1.0, "ci_hi": 1.0, "read_wrong": {"p": ["creation", "activation"]}}
    write_json_atomic(path.with_suffix(".json"), {"evaluation": {**newer, "expansion_rule": rule}}, checksum=True)
    assert "expansion rule (no gain: no-signal; pass@n expanded: creation; else activation) over the same cases:" \
           " balanced accuracy 1.00 (CI 1.00 to 1.00), 1 read wrong. The project's bar" in (
               readings.readings_evaluation(tmp_path))


def test_readings_without_a_creation_case_say_the_bar_does_not_apply_and_the_constant_answer_is_absent():
    """The low-dose test holds activation cases and controls only: the bar (which asks for creation recall) is not
    applied, and the constant answer (the calibration majority, creation) is named as a class absent there; a test
    with creation cases still reads met or not met."""
    low = readings.readings_evaluation(manifests.pilot_manifests_dir(), "composition-lowdose")
    assert "The project's bar over these pairs: not applicable (no creation case)." in low
    assert "the constant answer 0.00, always creation, a class absent here)" in low
    two = readings.readings_evaluation(manifests.pilot_manifests_dir(), "composition-test2")
    assert "The project's bar over these pairs: not met." in two and "a class absent here" not in two
    # readings judged by the later criteria (validate --read now) say that their verdict includes bases
    ev = {"summary": {"recall_exact_ci": {"creation": [1, 1, 0.03, 1.0]}}, "meets_bar": False}
    assert readings.bar_of(ev) == "not met"  # the stored pilots' readings carry no version: version 1
    assert readings.bar_of({**ev, "bar_criteria": 2}) == "not met (over base models too)"
    assert readings.bar_of({**ev, "meets_bar": True, "bar_criteria": 2}) == "met (over base models too)"


def test_readings_of_one_class_give_its_recall_alone():
    """Every case of the middle-rate test is activation by design: the paragraph gives the summary's recall of that
    class with its exact interval, and no balanced accuracy or AUC (degenerate with one class)."""
    text = readings.readings_evaluation(manifests.pilot_manifests_dir(), "composition-lrmid")
    assert text.startswith("Over the 8 cases read, all activation by design: the fitted summary read 2 of 8 as"
                           " activation (exact 95% interval 0.03 to 0.65).")
    assert "balanced accuracy 0" not in text and "Held-out AUC" not in text
    assert text.endswith("The project's bar over these pairs: not applicable (no creation case).\n")


def test_every_readings_file_is_named_after_the_preset_it_reads():
    from rlmeta_interp.organism.presets import PRESETS

    # the read-again command takes the preset from the file's stem, so every rendered readings name must be a preset
    assert set(readings.READINGS) <= set(PRESETS)
    cmd = readings.read_again_command(readings.readings_path("data/pilots", "composition-lrmid"))
    assert cmd == ("rlmeta-interp validate --read --preset composition-lrmid --readings"
                   " data/pilots/readings/composition-lrmid.csv")
