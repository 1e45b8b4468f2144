"""The low-dose test's registered question: expanding activation cases, the exact-interval credit rule at and
around its threshold, per-dose counts and the indicators' AUCs against a reference's creation cases."""

import math
import shutil

import pytest

from rlmeta_interp.analysis.validation import beyond
from rlmeta_interp.errors import InvalidConfigError
from rlmeta_interp.io import read_json
from rlmeta_interp.organism.tables import manifest_files, pilot_manifests_dir


def _row(pair, label, reading, expansion, *, case=True, gain="passed", score=0.0):
    return {"pair": pair, "label": label, "case": case, "gain_check": gain, "reading": reading,
            "expansion_reading": expansion, "boundary": score, "likelihood": score, "elicitation": None}


def _manifests(rows, dose=0.01):
    out = {}
    for r in rows:
        base = r["pair"].rsplit("-rl", 1)[0] + "-base"
        out[r["pair"]] = {"name": r["pair"], "base": base, "dose": dose}
        out[base] = {"name": base, "dose": dose, "metrics": {"n_samples": 4, "by_level": {
            "2": {"pass@1": 0.5, "pass@4": 1.0, "guess_pass@4": 0.1},
            "4": {"pass@1": 0.1, "pass@4": 0.3, "guess_pass@4": 0.05}}}}
    return out


def _expanding(k, n, start=0):
    """``n`` expanding activation cases on bases of two pairs each, ``k`` of them read as activation."""
    return [_row(f"t-b{(start + i) // 2}-rl-{i}", "activation", "activation" if i < k else "creation", "creation")
            for i in range(n)]


@pytest.mark.parametrize(("k", "n", "credited", "answerable"), [
    (6, 6, True, True),     # 6/6: exact lower end 0.61
    (5, 6, False, True),    # 5/6: 0.36
    (5, 5, False, False),   # too few expanding cases to answer
    (10, 12, True, True),   # 0.52
    (9, 12, False, True),   # 0.43
    (7, 8, False, True),    # 0.47
])
def test_credit_needs_enough_expanding_cases_read_activation_with_the_exact_lower_end_above_one_half(
        k, n, credited, answerable):
    test = [*_expanding(k, n), _row("t-bx-rl-plain", "activation", "activation", "activation"),
            _row("t-bx-rl-random", "no_signal", "no_signal", "no_signal", gain="n/a")]
    ref = [_row(f"r-c{i}-rl", "creation", "creation", "creation", score=5.0) for i in range(3)]
    out = beyond.beyond_passk(test, ref, {**_manifests(test), **_manifests(ref, dose=0.0)})
    assert (out["credited"], out["answerable"]) == (credited, answerable)
    assert out["n_expanding"] == n and out["expanding_read_activation"] == k
    assert out["interval"][0] < k / n < out["interval"][1] or k == n
    assert out["per_dose"]["0.01"] == {"runs": n + 1, "passed": n + 1, "expanding": n,
                                       "expanding read activation": k}
    assert out["summary_by_class"]["no_signal"] == {"no_signal": 1}
    assert out["expansion_rule_by_class"]["activation"] == {"creation": n, "activation": 1}
    # creation cases score higher on boundary and likelihood: AUC 1 over them; elicitation has no statistic
    assert out["indicator_auc"]["boundary"]["auc"] == 1.0 and out["indicator_auc"]["boundary"]["n"] == n + 3
    assert math.isnan(out["indicator_auc"]["elicitation"]["auc"])
    assert {b["level"] for b in out["bases"]} == {4} and out["bases"][0]["pass@n"] == 0.3


def test_only_passed_activation_cases_that_the_expansion_rule_reads_creation_count():
    rows = [_row("a-rl", "activation", "activation", "creation"),
            _row("b-rl", "activation", "activation", "creation", case=False, gain="failed"),
            _row("c-rl", "activation", "activation", "activation"),
            _row("d-rl", "creation", "creation", "creation"),
            _row("e-rl", "no_signal", "no_signal", "creation", gain="n/a")]
    assert [r["pair"] for r in beyond.expanding_activation(rows)] == ["a-rl"]


def test_a_pair_without_a_manifest_is_refused_by_name():
    test = _expanding(1, 1)
    with pytest.raises(InvalidConfigError, match="No manifest for t-b0-rl-0.*export-pilot"):
        beyond.beyond_passk(test, [], {})


def test_on_the_second_composition_test_no_activation_case_expanded():
    """Its activation bases (dose 0.5) already solved most deepest-level problems within n samples (three of four
    bases all of them), so no activation case there is an expanding one; the question needs the low-dose test."""
    folder = pilot_manifests_dir()
    rows = beyond._rows(folder, "composition-test2")
    manifests = {m["name"]: m for m in map(read_json, manifest_files(folder))}
    out = beyond.beyond_passk(rows, rows, manifests)
    assert out["n_expanding"] == 0 and not out["answerable"] and not out["credited"]
    assert out["per_dose"] == {"0.5": {"runs": 8, "passed": 8, "expanding": 0, "expanding read activation": 0}}
    assert out["reference_creation_cases"] == 8
    high = [b for b in out["bases"] if b["dose"] == 0.5]
    assert len(high) == 4 and all(b["pass@n"] > 0.85 for b in high) and sum(b["pass@n"] == 1 for b in high) == 3
    assert all(b["pass@n"] < 0.2 for b in out["bases"] if b["dose"] == 0.0)


def test_command_writes_a_checksummed_answer_that_the_readme_renders(tmp_path):
    """End to end on committed files: the second test against itself, copied into a scratch folder; the JSON is
    checksummed and data/README's renderer reads it."""
    from rlmeta_interp.organism import tables

    src = pilot_manifests_dir()
    (tmp_path / "readings").mkdir()
    for f in src.glob("ctest2-*.json.gz"):
        shutil.copy(f, tmp_path / f.name)
    for f in (src / "readings").glob("composition-test2.csv*"):
        shutil.copy(f, tmp_path / "readings" / f.name)
    out = beyond.main(["composition-test2", "composition-test2"], folder=tmp_path)
    assert out == tmp_path / "readings" / "composition-test2-beyond.json" and out.with_name(out.name + ".sha256").exists()
    assert read_json(out, required=True)["n_expanding"] == 0
    text = tables.beyond_text(tmp_path, "composition-test2")
    assert "Expanding activation cases (activation cases whose label-free expansion rule reads creation): 0" in text
    assert "not answerable (fewer than 6" in text and "dose 0.5: 8 activation runs, 8 passed" in text
    assert "| ctest2-comp-d050-s9-base | 0.5 | 4 | 0.497 | 0.891 | 0.101 |" in text
    with pytest.raises(InvalidConfigError, match="Usage"):
        beyond.main(["composition-test2"], folder=tmp_path)
    with pytest.raises(InvalidConfigError, match="No readings .*nope.csv"):
        beyond.main(["nope", "composition-test2"], folder=tmp_path)
