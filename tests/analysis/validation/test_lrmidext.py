"""The extended middle-rate test's registered question: cases are runs whose middle twin was read creation and ended
unmatched; the verdicts over the recovered cases at and around their thresholds; the refusals; the preset."""

import pytest

from rlmeta_interp.analysis.validation import lrmidext
from rlmeta_interp.errors import InvalidConfigError
from rlmeta_interp.organism.presets import preset_specs

from .shared import manifest, recomputed, row

A, C = "activation", "creation"


def _world(ext, *, bases=4):
    """Usual twins read activation at deepest pass@1 0.99; per run ``ext`` gives (its reading, its deepest pass@1,
    its middle twin's reading, the middle twin's deepest pass@1), round robin over ``bases`` bases."""
    manifests, usual, middle, test = {}, [], [], []
    for i, (read, pass1, mid_read, mid_pass1) in enumerate(ext):
        base = f"b{i % bases}-base"
        names = {"usual": f"b{i % bases}-rl-long-s{i}", "middle": f"b{i % bases}-rl-long-mid-s{i}",
                 "ext": f"b{i % bases}-rl-long-mid-ext-s{i}"}
        for key, p1 in (("usual", 0.99), ("middle", mid_pass1), ("ext", pass1)):
            manifests[names[key]] = manifest(names[key], base, i, p1)
        manifests[base] = {"name": base}
        usual.append(row(names["usual"], A, 0.1))
        middle.append(row(names["middle"], mid_read, 0.7 if mid_read == C else 0.1))
        test.append(row(names["ext"], read, 0.7 if read == C else 0.1))
    return test, usual, middle, manifests


@pytest.mark.parametrize(("ext", "got"), [
    ([(A, 0.95, C, 0.5), (A, 0.99, C, 0.5), (C, 0.5, C, 0.5), (C, 0.5, C, 0.5)], "follows the end state"),
    ([(A, 0.95, C, 0.5), (C, 0.99, C, 0.5), (C, 0.5, C, 0.5), (C, 0.5, C, 0.5)], "split"),  # one of two each way
    ([(C, 0.95, C, 0.5), (C, 0.99, C, 0.5), (A, 0.95, C, 0.5), (C, 0.5, C, 0.5)], "follows the rate"),  # 2 of 3
    ([(A, 0.95, C, 0.5), (A, 0.5, C, 0.5), (C, 0.5, C, 0.5), (C, 0.5, C, 0.5)], "cannot separate"),  # one recovered
    ([(A, 0.95, C, 0.5), (C, 0.5, C, 0.5), (C, 0.5, C, 0.5), (C, 0.5, C, 0.5), (A, 0.99, C, 0.5)],
     "cannot separate")])  # two recovered, both from base 0
def test_the_verdict_over_the_recovered_cases(ext, got):
    assert lrmidext.lrmidext_question(*_world(ext))["verdict"] == got


def test_cases_need_a_middle_twin_read_creation_that_ended_unmatched():
    out = lrmidext.lrmidext_question(*_world([(A, 0.99, A, 0.99), (A, 0.99, C, 0.95), (A, 0.5, C, 0.5),
                                              (C, 0.99, C, 0.5)]))
    assert out["cases"] == ["b2-rl-long-mid-ext-s2", "b3-rl-long-mid-ext-s3"]
    assert out["recovered"] == ["b3-rl-long-mid-ext-s3"] and out["verdict"] == "cannot separate"
    assert out["moved_without_recovering"] == ["b2-rl-long-mid-ext-s2"]
    assert out["middle_read_activation"] == {"b0-rl-long-mid-ext-s0": A}
    assert out["runs"][3]["middle"]["matched"] is False and out["runs"][1]["middle"]["matched"] is True


def test_a_missing_middle_twin_or_pass_at_1_is_refused():
    test, usual, middle, manifests = _world([(A, 0.99, C, 0.5)] * 4)
    with pytest.raises(InvalidConfigError, match="middle twin b0-rl-long-mid-s0"):
        lrmidext.lrmidext_question(test, usual, middle[1:], manifests)
    manifests["b1-rl-long-mid-ext-s1"]["metrics"] = {}
    with pytest.raises(InvalidConfigError, match="no deepest-level pass@1"):
        lrmidext.lrmidext_question(test, usual, middle, manifests)


def test_the_preset_continues_the_middle_rate_runs_to_3000_steps():
    specs = preset_specs("composition-lrmid-extended")
    mid = {s.name: s for s in preset_specs("composition-lrmid")}
    assert [s.name for s in specs if s.kind == "base"] == [s.name for s in mid.values() if s.kind == "base"]
    runs = [s for s in specs if s.kind == "rl"]
    assert len(runs) == 8
    for s in runs:
        twin = mid[lrmidext.middle_of(s.name)]
        assert s.rl.steps == 3000 and twin.rl.steps == 1500 and s.rl.replace(steps=1500) == twin.rl
        assert s.base == twin.base and s.label == A


@pytest.mark.parametrize(("ext", "got"), [
    # an exact tie is split
    ([(A, 0.95, C, 0.5), (A, 0.99, C, 0.5), (C, 0.99, C, 0.5), (C, 0.99, C, 0.5)], "split"),
    # back to activation, but so are most cases that did not recover: the longer training may have done it
    ([(A, 0.95, C, 0.5), (A, 0.99, C, 0.5), (A, 0.5, C, 0.5), (A, 0.5, C, 0.5), (C, 0.5, C, 0.5)],
     "end state or longer training"),
    # still creation, but a run whose middle twin was read activation now reads creation too
    ([(C, 0.95, C, 0.5), (C, 0.99, C, 0.5), (C, 0.99, A, 0.99)], "rate or longer training")])
def test_the_longer_training_and_ties_as_amended(ext, got):
    assert lrmidext.lrmidext_question(*_world(ext))["verdict"] == got


def test_recovering_needs_a_rise_from_the_middle_twin_and_every_level_kept():
    # 0.94 is within 0.05 of the usual twin's 0.99 but only 0.02 above the middle twin's 0.92: not recovered
    out = lrmidext.lrmidext_question(*_world([(A, 0.94, C, 0.92), (A, 0.99, C, 0.5), (A, 0.99, C, 0.5)]))
    assert out["cases"] == [f"b{i}-rl-long-mid-ext-s{i}" for i in range(3)]
    assert out["recovered"] == ["b1-rl-long-mid-ext-s1", "b2-rl-long-mid-ext-s2"]
    test, usual, middle, manifests = _world([(A, 0.99, C, 0.5), (A, 0.99, C, 0.5)])
    for name in ("b0-rl-long-s0", "b0-rl-long-mid-ext-s0"):  # a lower level, lost by the run
        manifests[name]["metrics"]["by_level"]["2"] = {"pass@1": 0.9 if "ext" not in name else 0.8}
    out = lrmidext.lrmidext_question(test, usual, middle, manifests)
    assert out["recovered"] == ["b1-rl-long-mid-ext-s1"] and out["verdict"] == "cannot separate"


def test_each_run_beside_its_middle_twin():
    test, usual, middle, manifests = _world([(A, 0.99, C, 0.5), (C, 0.5, C, 0.5)])
    manifests["b0-rl-long-mid-s0"]["training_curve"] = [{"step": 10, "reward": 0.5}]
    manifests["b0-rl-long-mid-ext-s0"]["training_curve"] = [{"step": 10, "reward": 0.6}, {"step": 20, "reward": 1.0}]
    out = lrmidext.lrmidext_question(test, usual, middle, manifests)
    assert out["not_repeating_middle"] == ["b0-rl-long-mid-ext-s0"]
    assert out["runs"][0]["change_from_middle"] == pytest.approx(-0.6)
    assert out["mean_change_from_middle"] == {"recovered": pytest.approx(-0.6), "not recovered": pytest.approx(0.0)}


def test_the_committed_answer_is_what_the_code_computes_from_the_committed_files(tmp_path):
    """The shipped answer (data/pilots/readings/composition-lrmid-extended-lrmidext.json) is generated, not edited:
    the command, run on the committed readings, manifests and fit in a scratch copy, writes the same JSON."""
    out = recomputed(lrmidext, "lrmidext", "composition-lrmid-extended", tmp_path)
    assert len(out["runs"]) == 8
