"""The middle-rate test's registered question: the learning-rate verdict over its runs, the end-state qualifier at and
around its bound, the three rates beside, and the preset."""

import pytest

from rlmeta_interp.analysis.validation import lrmid
from rlmeta_interp.errors import InvalidConfigError
from rlmeta_interp.organism.presets import preset_specs

from .shared import manifest, recomputed, row

A, C = "activation", "creation"


def _world(mid, *, bases=4, twin_pass1=0.99):
    """Twins at the usual rate read activation with P(creation) 0.1 and deepest pass@1 ``twin_pass1``; the test's runs
    as ``mid`` says ((reading, P(creation), gain check, deepest pass@1) per run, round robin over ``bases`` bases);
    each run's sibling at the fast rate read creation with P(creation) 0.7."""
    manifests, twins, test, siblings = {}, [], [], []
    for i, (read, p, gain, pass1) in enumerate(mid):
        base = f"b{i % bases}-base"
        twin, run, fast = (f"b{i % bases}-rl-long-s{i}", f"b{i % bases}-rl-long-mid-s{i}",
                           f"b{i % bases}-rl-long-fast-s{i}")
        for name, p1 in ((twin, twin_pass1), (run, pass1), (fast, 0.5)):
            manifests[name] = manifest(name, base, i, p1)
        manifests[base] = {"name": base}
        twins.append(row(twin, A, 0.1))
        test.append(row(run, read, p, gain))
        siblings.append(row(fast, C, 0.7))
    return test, twins, siblings, manifests


def test_the_verdict_is_the_learning_rate_tests():
    out = lrmid.lrmid_question(*_world([(C, 0.6, "passed", 0.99)] * 4 + [(A, 0.2, "passed", 0.99)] * 4))
    assert out["verdict"] == "moves toward creation" and out["read_creation"] == 4
    assert "pooled_with_seen" not in out and out["end_state"]["result"] == "with the end state matched"
    out = lrmid.lrmid_question(*_world([(A, 0.12, "passed", 0.99)] * 8))
    assert out["verdict"] == "does not move" and out["end_state"]["result"] == "not asked"
    out = lrmid.lrmid_question(*_world([(C, 0.6, "passed", 0.99)] * 3 + [(A, 0.2, "failed", 0.0)] * 5))
    assert out["verdict"] == "cannot answer" and len(out["cases"]) == 3


@pytest.mark.parametrize(("pass1", "act", "got"), [
    ([0.94, 0.94, 0.99, 0.99], 0.99, "with the end state matched"),  # 0.05 below the twin (the bound) matches: 4 of 8
    ([1.0, 1.0, 0.93, 0.93], 0.5, "with the end state matched"),  # ending sharper than the twin matches: 2 of 2
    ([1.0, 1.0, 0.93, 0.93], 0.99, "end state not separated"),  # 2 of the 6 matched cases read creation
    ([0.93, 0.93, 0.93, 0.93], 0.99, "end state not separated"),  # every creation reading ended less converged
    ([0.99, 0.93, 0.93, 0.93], 0.5, "end state not separated")])  # one matched case, from one base
def test_the_end_state_asks_whether_runs_that_ended_as_sharp_still_read_creation(pass1, act, got):
    # four creation readings (bases 0 to 3, deepest pass@1 ``pass1``), four activation readings ending at ``act``,
    # every twin at 0.99
    out = lrmid.lrmid_question(*_world([(C, 0.6, "passed", p) for p in pass1] + [(A, 0.2, "passed", act)] * 4,
                                       twin_pass1=0.99))
    assert out["verdict"] == "moves toward creation" and out["end_state"]["result"] == got


def test_the_end_state_takes_the_base_as_the_unit_and_refuses_a_missing_pass_at_1():
    # the only matched creation readings come from one base (runs 0 and 4 share base 0): not separated
    mid = [(C, 0.6, "passed", 0.99), (C, 0.6, "passed", 0.5), (C, 0.6, "passed", 0.5), (C, 0.6, "passed", 0.5),
           (C, 0.6, "passed", 0.99), (A, 0.2, "passed", 0.5), (A, 0.2, "passed", 0.5), (A, 0.2, "passed", 0.5)]
    out = lrmid.lrmid_question(*_world(mid))
    assert out["end_state"]["matched_read_creation"] == ["b0-rl-long-mid-s0", "b0-rl-long-mid-s4"]
    assert out["end_state"]["result"] == "end state not separated"
    # matched cases that mostly read activation: the creation readings do not hold among them
    out = lrmid.lrmid_question(*_world([(C, 0.6, "passed", 0.99)] * 2 + [(C, 0.6, "passed", 0.5)] * 2
                                       + [(A, 0.2, "passed", 0.99)] * 4))
    assert out["verdict"] == "moves toward creation" and out["end_state"]["result"] == "end state not separated"
    test, twins, siblings, manifests = _world([(C, 0.6, "passed", 0.99)] * 8)
    manifests["b0-rl-long-mid-s0"]["metrics"] = {}
    with pytest.raises(InvalidConfigError, match="no deepest-level pass@1"):
        lrmid.lrmid_question(test, twins, siblings, manifests)


def test_the_three_rates_stand_beside():
    test, twins, siblings, manifests = _world([(C, 0.6, "passed", 0.99)] * 4 + [(A, 0.8, "passed", 0.99)] * 4)
    siblings[0] = {**siblings[0], "gain_check": "failed"}  # a collapsed sibling: not among the runs all passed
    del siblings[1]  # a sibling never read: None
    out = lrmid.lrmid_question(test, twins, [*siblings, row("other-rl-long-fast", C, 0.9)], manifests)
    rates = out["three_rates"]
    assert rates["runs"][1]["fast"] is None and rates["runs"][0]["fast"]["gain_check"] == "failed"
    assert rates["all_passed"] == 6 and len(rates["ordered"]) == 2  # 0.1 <= 0.6 <= 0.7; 0.8 > 0.7 is not


def test_a_run_of_another_rate_is_refused():
    test, twins, siblings, manifests = _world([(A, 0.12, "passed", 0.99)] * 8)
    with pytest.raises(InvalidConfigError, match="not a run of this test"):
        lrmid.lrmid_question(siblings, twins, [], manifests)


def test_the_preset_is_three_times_the_usual_rate_from_the_four_fresh_bases():
    specs = preset_specs("composition-lrmid")
    lowdose2 = {s.name: s for s in preset_specs("composition-lowdose2")}
    fast = {s.name: s for s in preset_specs("composition-lrshift") + preset_specs("composition-fastlr")}
    bases = [s for s in specs if s.kind == "base"]
    assert [b.pretrain.seed for b in bases] == [15, 16, 17, 18] and all(lowdose2[b.name] == b for b in bases)
    runs = [s for s in specs if s.kind == "rl"]
    assert sorted((s.base, s.rl.seed) for s in runs) == sorted((b.name, s) for b in bases for s in (0, 1))
    for s in runs:
        twin = lowdose2[s.name.replace("-rl-long-mid", "-rl-long")]
        sibling = fast[lrmid.sibling_of(s.name)]
        assert s.rl.lr == pytest.approx(3 * twin.rl.lr) and s.rl.replace(lr=twin.rl.lr) == twin.rl and s.label == A
        assert s.rl.replace(lr=sibling.rl.lr) == sibling.rl


def test_the_answer_renders_for_data_readme(tmp_path):
    from rlmeta_interp.io import write_json_atomic
    from rlmeta_interp.organism.answers import answer_path, answer_texts, lrmid_text

    assert "not answered yet" in lrmid_text(tmp_path, "x")
    test, twins, siblings, manifests = _world([(C, 0.6, "passed", 0.99)] * 4 + [(A, 0.2, "passed", 0.99)] * 4)
    write_json_atomic(answer_path(tmp_path, "x", "lrmid"), lrmid.lrmid_question(test, twins, siblings, manifests),
                      checksum=True)
    text = lrmid_text(tmp_path, "x")
    assert text.startswith("**Does a three times larger learning rate alone move the meter? Verdict: moves toward"
                           " creation.**")
    assert "End state: with the end state matched (cases whose deepest-level pass@1 is no more than 0.05 below their" \
           " twin's: 8, of them read creation: 4)" in text
    assert "of 8 runs whose three models all passed, 8 have P(creation) non-decreasing with the rate" in text
    assert "| b0-rl-long-mid-s0 | activation, 0.10 (passed) | creation, 0.60 (passed) | creation, 0.70 (passed) |" in text
    assert "| b0-rl-long-mid-s0 | activation | passed |" in text  # beside its twin
    assert ("composition-lrmid-lrmid", "composition-lrmid, a three times larger learning rate", "(not answered yet)\n") \
        in answer_texts(tmp_path)


def test_the_committed_answer_is_what_the_code_computes_from_the_committed_files(tmp_path):
    """The shipped answer (data/pilots/readings/composition-lrmid-lrmid.json) is generated, not edited: the command,
    run on the committed readings, manifests and fit in a scratch copy, writes the same JSON."""
    out = recomputed(lrmid, "lrmid", "composition-lrmid", tmp_path)
    assert len(out["runs"]) == 8 and len(out["three_rates"]["runs"]) == 8
