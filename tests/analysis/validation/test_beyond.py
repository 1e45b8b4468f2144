"""The low-dose test's registered question: expanding activation cases, the label-free readers, and the answer
written from committed files (the credit rule and the summary without an input: test_questions)."""

import math
import shutil

import pytest

from rlmeta_interp.analysis.validation import beyond, questions
from rlmeta_interp.analysis.validation.reading import committed_summary
from rlmeta_interp.errors import EmptyInputError, InvalidConfigError
from rlmeta_interp.io import read_json
from rlmeta_interp.organism.manifests import manifest_files, pilot_manifests_dir

FIT = {"inputs": ["boundary", "likelihood", "elicitation"], "coef": [1.0, 1.0, 1.0], "intercept": 0.0}


def _level(counts, guess):
    n = 8
    return {"correct_counts": counts, f"guess_pass@{n}": guess, "pass@1": sum(counts) / (n * len(counts)),
            f"pass@{n}": sum(c > 0 for c in counts) / len(counts)}


def _metrics(c2, c3, guess=0.1):
    return {"n_samples": 8, "by_level": {"2": _level(c2, 0.0), "3": _level(c3, guess)}}


def _row(pair, label, reading, expansion, *, case=True, gain="passed", boundary=1.0, likelihood=-2.0):
    return {"pair": pair, "label": label, "case": case, "gain_check": gain, "reading": reading,
            "expansion_reading": expansion, "boundary": boundary, "likelihood": likelihood, "elicitation": None,
            "p_creation": 0.2 if reading == "activation" else 0.8}


def _world(n_expanding=6, n_read_activation=6):
    """A low-dose test (dose 0.01: bases that solve some level-3 problems) whose RL runs expanded at level 3 and a
    reference whose creation bases solve fewer, with an expanding case per base."""
    test, reference, manifests = [], [], {}
    for i in range(n_expanding):
        base, pair = f"t{i}-base", f"t{i}-rl"
        manifests[base] = {"name": base, "dose": 0.01, "metrics": _metrics([2] * 20, [1] * 6 + [0] * 14)}
        manifests[pair] = {"name": pair, "base": base, "dose": 0.01, "metrics": _metrics([8] * 20, [4] * 20)}
        test.append(_row(pair, "activation", "activation" if i < n_read_activation else "creation", "creation"))
    manifests["tc-base"] = manifests["t0-base"]
    manifests["tc-rl"] = {"name": "tc-rl", "base": "t0-base", "dose": 0.01, "metrics": _metrics([2] * 20, [0] * 20)}
    test.append(_row("tc-rl", "no_signal", "no_signal", "no_signal", gain="n/a"))
    for i in range(3):
        base, pair = f"r{i}-base", f"r{i}-rl"
        manifests[base] = {"name": base, "dose": 0.0, "metrics": _metrics([2] * 20, [1] * 2 + [0] * 18)}
        manifests[pair] = {"name": pair, "base": base, "dose": 0.0, "metrics": _metrics([8] * 20, [8] * 20)}
        reference.append(_row(pair, "creation", "creation", "creation", boundary=3.0, likelihood=2.0))
    return test, reference, manifests


def test_the_answer_reads_every_set_and_reader_and_the_label_free_rules():
    test, reference, manifests = _world(6, 6)
    out = beyond.beyond_passk(test, reference, manifests, FIT)
    assert out["credited"] is True  # both readers read all six, from six bases, as activation
    assert all(q["credited"] for subset in out["questions"].values() for q in subset.values())
    assert out["expanding"][0] == {"pair": "t0-rl", "base": "t0-base", "reading": "activation",
                                   "boundary at its cut": "activation", "expanded_levels": [3],
                                   "takeoff_step": None}  # no stored training curve here
    assert out["reference_creation_top_passn"] == 0.1 and out["per_dose"]["0.01"]["expanding"] == 6
    readers = out["readers_by_class"]
    assert readers["expansion rule"]["activation"] == {"creation": 6}
    assert readers["headroom rule"]["activation"] == {"activation": 6}  # the bases solve more than the reference's
    assert readers["boundary, side of its cut"]["activation"] == {"creation": 6} and readers["headroom rule"]["no_signal"] == {
        "no_signal": 1}
    assert out["auc_vs_reference_creation"]["likelihood"]["auc"] == 1.0
    assert math.isnan(out["auc_vs_reference_creation"]["elicitation"]["auc"])  # no statistic: no AUC
    assert out["summary_two_class"]["balanced_accuracy"] == 1.0
    assert [b["pass@n"] for b in out["bases"] if b["base"] == "t0-base"] == [0.3]
    # one expanding case read creation: 5/6 is not credited, for either reader only if it reads so
    out = beyond.beyond_passk(*_world(6, 5), FIT)
    assert out["credited"] is False and out["questions"]["all"]["as read"]["answerable"] is True
    assert out["questions"]["all"]["boundary at its cut"]["credited"] is True  # likelihood alone reads activation


def test_blank_expansion_readings_and_missing_manifests_are_refused_by_name():
    test, reference, manifests = _world(6, 6)
    test[0] = {**test[0], "expansion_reading": "n/a"}
    with pytest.raises(InvalidConfigError, match="t0-rl .*has no expansion reading"):
        beyond.beyond_passk(test, reference, manifests, FIT)
    test, reference, manifests = _world(6, 6)
    del manifests["t2-base"]
    with pytest.raises(InvalidConfigError, match="No manifest for t2-base.*export-pilot"):
        beyond.beyond_passk(test, reference, manifests, FIT)


def test_on_the_second_composition_test_no_activation_case_expanded():
    """Its activation bases (dose 0.5) already solved most deepest-level problems within n samples (three of four
    bases all of them), so none of its activation cases is an expanding one; the question needs the low-dose test."""
    folder = pilot_manifests_dir()
    rows = questions.read_readings(folder, "composition-test2")
    manifests = {m["name"]: m for m in map(read_json, manifest_files(folder))}
    out = beyond.beyond_passk(rows, rows, manifests, committed_summary()["fitted"])
    assert out["expanding"] == [] and not out["credited"]
    assert out["per_dose"] == {"0.5": {"runs": 8, "passed": 8, "expanding": 0, "expanding read activation": 0}}
    assert out["reference_creation_cases"] == 8
    high = [b for b in out["bases"] if b["dose"] == 0.5]
    assert len(high) == 4 and all(b["pass@n"] > 0.85 for b in high) and sum(b["pass@n"] == 1 for b in high) == 3
    assert all(b["pass@n"] < 0.2 for b in out["bases"] if b["dose"] == 0.0)
    # the summary's reading reconstructed from the readings' standardised inputs and the committed coefficients
    assert out["readers_by_class"]["fitted summary"] == {
        "creation": {"creation": 7, "activation": 1}, "no_signal": {"no_signal": 8},
        "activation": {"activation": 7, "no_signal": 1}}
    assert questions.without_input(rows, committed_summary()["fitted"], "none") == [r["reading"] for r in rows]


def test_command_writes_a_checksummed_answer_that_the_readme_renders(tmp_path):
    """End to end on committed files: the second test against itself, copied into a scratch folder; the JSON is
    checksummed, data/README's renderer reads it, and readings made by another fit are refused."""
    from rlmeta_interp.organism import answers

    src = pilot_manifests_dir()
    (tmp_path / "readings").mkdir()
    for f in src.glob("ctest2-*.json.gz"):
        shutil.copy(f, tmp_path / f.name)
    for f in (src / "readings").glob("composition-test2.csv*"):
        shutil.copy(f, tmp_path / "readings" / f.name)
    out = beyond.main(["composition-test2", "composition-test2"], folder=tmp_path)
    assert out == tmp_path / "readings" / "composition-test2-beyond.json" and out.with_name(out.name + ".sha256").exists()
    assert read_json(out, required=True)["expanding"] == []
    text = answers.beyond_text(tmp_path, "composition-test2")
    assert "Does the meter read more than pass@k here? Not answerable (fewer than 6" in text
    assert "dose 0.5: 8 activation runs, 8 passed" in text
    assert "| ctest2-comp-d050-s9-base | 0.5 | 4 | 0.497 | 0.891 | 0.101 |" in text
    assert "| expansion rule | activation 8 | creation 8 | no signal 8 |" in text
    with pytest.raises(InvalidConfigError, match="Usage"):
        beyond.main(["composition-test2"], folder=tmp_path)
    with pytest.raises(InvalidConfigError, match="No readings .*nope.csv"):
        beyond.main(["nope", "composition-test2"], folder=tmp_path)
    other = tmp_path / "other-table"
    other.mkdir()
    from rlmeta_interp.io import write_json_atomic, write_text_atomic

    # the same fit in a rewritten file (as validate --add writes it) reads the readings; another fit does not
    write_json_atomic(other / "validation_summary.json", committed_summary(), checksum=True, compact=True)
    assert beyond.main(["composition-test2", "composition-test2"], folder=tmp_path, table_dir=other) == out
    refit = committed_summary()
    refit["fitted"]["intercept"] = float(refit["fitted"]["intercept"]) + 0.5
    write_json_atomic(other / "validation_summary.json", refit, checksum=True, compact=True)
    with pytest.raises(InvalidConfigError, match="another fit"):
        beyond.main(["composition-test2", "composition-test2"], folder=tmp_path, table_dir=other)
    # readings written before they recorded their fit are refused by name of the fix
    csv = tmp_path / "readings" / "composition-test2.csv"
    lines = csv.read_text().splitlines()
    write_text_atomic(csv, "\n".join(line.rsplit(",", 1)[0] for line in lines) + "\n", checksum=True)
    with pytest.raises(InvalidConfigError, match="rows without the digest of the fit"):
        beyond.main(["composition-test2", "composition-test2"], folder=tmp_path)
    # a file of its header alone is refused, not read as a question with no cases
    write_text_atomic(csv, lines[0] + "\n", checksum=True)
    with pytest.raises(EmptyInputError, match="Readings composition-test2 .*composition-test2.csv.* hold no rows: read them again"):
        beyond.main(["composition-test2", "composition-test2"], folder=tmp_path)


@pytest.mark.parametrize("test", ["composition-lowdose", "composition-lowdose2"])
def test_the_committed_low_dose_answers_are_what_the_code_computes_from_the_committed_files(test):
    """The shipped answers (data/pilots/readings/<test>-beyond.json) are generated, not edited: recomputed from the
    committed readings, manifests and fit, they come out the same."""
    import json

    folder = pilot_manifests_dir()
    manifests = {m["name"]: m for m in map(read_json, manifest_files(folder))}
    got = beyond.beyond_passk(questions.read_readings(folder, test),
                              questions.read_readings(folder, "composition-test2"), manifests, committed_summary()["fitted"])
    shipped = read_json(folder / "readings" / f"{test}-beyond.json", required=True)
    assert json.dumps(got, sort_keys=True, default=str) == json.dumps(shipped, sort_keys=True, default=str), (
        f"stale: run python -m rlmeta_interp.analysis.validation.beyond {test} composition-test2")
    assert got["expanding"] and got["questions"]["all"]["as read"]["answerable"]
