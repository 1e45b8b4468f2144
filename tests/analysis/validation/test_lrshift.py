"""The learning-rate test's registered question: cases are runs beside activation twins; the verdicts at and around
their thresholds; the preset."""

import pytest

from rlmeta_interp.analysis.validation import lrshift
from rlmeta_interp.errors import InvalidConfigError
from rlmeta_interp.organism.presets import preset_specs

from .shared import recomputed

A, C = "activation", "creation"


def _row(pair, reading, p, gain="passed"):
    return {"pair": pair, "label": A, "case": gain == "passed", "gain_check": gain, "reading": reading,
            "expansion_reading": "creation", "boundary": 0.0, "likelihood": 0.0, "elicitation": p, "p_creation": p}


def _world(fast, *, bases=3):
    """Twins at the usual rate read activation with P(creation) 0.1, two per base; the test's runs read as ``fast``
    says ((reading, P(creation), gain check) per run, round robin over ``bases`` bases)."""
    manifests, twins, test = {}, [], []
    for i, (read, p, gain) in enumerate(fast):
        base = f"b{i % bases}-base"
        twin, run = f"b{i % bases}-rl-long-s{i}", f"b{i % bases}-rl-long-fast-s{i}"
        for name in (twin, run):
            manifests[name] = {"name": name, "base": base, "seed": i, "training_curve": []}
        manifests[base] = {"name": base}
        twins.append(_row(twin, A, 0.1))
        test.append(_row(run, read, p, gain))
    return test, twins, manifests


@pytest.mark.parametrize(("fast", "got"), [
    ([(C, 0.7, "passed")] * 3 + [(A, 0.3, "passed")] * 3, "moves toward creation"),  # half creation, 3 bases
    ([(C, 0.7, "passed")] * 3 + [(A, 0.05, "passed")] * 3, "moves toward creation"),  # some fell: still the median
    ([(C, 0.7, "passed")] * 2 + [(A, 0.3, "passed")] * 4, "partly (some runs)"),  # a third creation
    ([(C, 0.7, "passed")] * 3 + [(A, 0.1, "passed")] * 3, "moves toward creation"),  # median change 0.3
    ([(C, 0.7, "passed")] * 3 + [(A, 0.1, "passed")] * 3 + [(A, 0.1, "passed")] * 2, "partly (some runs)"),  # median 0
    ([(A, 0.15, "passed")] * 6, "does not move"),
    ([(A, 0.2, "passed")] * 6, "partly (toward the cut)"),  # none creation, median change exactly 0.1
    ([(A, 0.1, "passed")] * 6, "does not move"),  # no change at all
    ([(C, 0.7, "passed")] * 3 + [(A, 0.1, "failed")] * 3, "cannot answer"),  # three cases
    ([(C, 0.7, "passed")] * 4, "moves toward creation")])  # the fewest that answer: 4 cases from 3 bases
def test_the_verdict(fast, got):
    test, twins, manifests = _world(fast)
    out = lrshift.lrshift_question(test, twins, [], manifests)
    assert out["verdict"] == got
    assert len(out["cases"]) + len(out["not_cases"]) == len(fast)


def test_creation_readings_from_one_base_do_not_move_it_and_two_bases_cannot_answer():
    test, twins, manifests = _world([(C, 0.7, "passed"), (A, 0.3, "passed"), (A, 0.3, "passed")] * 2)
    out = lrshift.lrshift_question(test, twins, [], manifests)  # creation only from base b0: 2 of 6
    assert out["verdict"] == "partly (some runs)"
    test, twins, manifests = _world([(C, 0.7, "passed")] * 6, bases=2)
    assert lrshift.lrshift_question(test, twins, [], manifests)["verdict"] == "cannot answer"


def test_a_missing_p_creation_is_refused():
    test, twins, manifests = _world([(C, 0.7, "passed")] * 6)
    test[0] = {**test[0], "p_creation": float("nan")}
    with pytest.raises(InvalidConfigError, match="P\\(creation\\)"):
        lrshift.lrshift_question(test, twins, [], manifests)


def test_a_run_whose_twin_was_read_creation_is_not_a_case():
    test, twins, manifests = _world([(C, 0.7, "passed")] * 6)
    twins[0] = {**twins[0], "reading": C}
    out = lrshift.lrshift_question(test, twins, [], manifests)
    assert out["not_cases"] == ["b0-rl-long-fast-s0"] and out["verdict"] == "moves toward creation"
    assert out["change"]["p_creation"]["mean"] == pytest.approx(0.6) and out["read_creation"] == 5


def test_the_seen_control_runs_are_pooled_beside_and_decide_nothing():
    test, twins, manifests = _world([(A, 0.15, "passed")] * 6)
    for s in (0, 1):
        twin, run = f"clow2-x-rl-long-s{s}", f"clow2-x-rl-long-fast-s{s}"
        for name in (twin, run):
            manifests[name] = {"name": name, "base": "clow2-x-base", "seed": s, "training_curve": []}
        manifests["clow2-x-base"] = {"name": "clow2-x-base"}
        twins.append(_row(twin, A, 0.1))
    seen = [_row("clow2-x-rl-long-fast-s0", C, 0.7), _row("clow2-x-rl-long-fast-s1", C, 0.7),
            _row("clow-late-rl-long-fast", "no_signal", 0.7, gain="failed")]  # not a control run: left out
    out = lrshift.lrshift_question(test, twins, seen, manifests)
    assert out["verdict"] == "does not move"
    assert out["pooled_with_seen"]["cases"] == 8 and out["pooled_with_seen"]["read_creation"] == 2


def test_the_preset_is_the_fast_budget_from_the_other_three_fresh_bases():
    specs = preset_specs("composition-lrshift")
    lowdose2 = {s.name: s for s in preset_specs("composition-lowdose2")}
    fast = preset_specs("composition-fastlr")[1].rl
    bases = [s for s in specs if s.kind == "base"]
    assert [b.pretrain.seed for b in bases] == [16, 17, 18] and all(lowdose2[b.name] == b for b in bases)
    runs = [s for s in specs if s.kind == "rl"]
    assert sorted((s.base, s.rl.seed) for s in runs) == sorted((b.name, s) for b in bases for s in (0, 1))
    for s in runs:
        twin = lowdose2[s.name.replace("-rl-long-fast", "-rl-long")]
        assert s.rl.replace(seed=0) == fast and s.rl.replace(lr=twin.rl.lr) == twin.rl and s.label == A


def test_the_answer_renders_for_data_readme(tmp_path):
    from rlmeta_interp.io import write_json_atomic
    from rlmeta_interp.organism.answers import answer_path, lrshift_text

    assert "not answered yet" in lrshift_text(tmp_path, "x")
    test, twins, manifests = _world([(C, 0.7, "passed")] * 3 + [(A, 0.3, "passed")] * 3)
    write_json_atomic(answer_path(tmp_path, "x", "lrshift"), lrshift.lrshift_question(test, twins, [], manifests),
                      checksum=True)
    text = lrshift_text(tmp_path, "x")
    assert text.startswith("**Does a larger learning rate alone move the meter? Verdict: moves toward creation.**")
    assert "read creation: 3; median change in P(creation): +0.40" in text and "p_creation +0.40" in text
    assert "| b0-rl-long-fast-s0 | activation | passed |" in text and "0 of 6 cases" not in text


def test_the_committed_answer_is_what_the_code_computes_from_the_committed_files(tmp_path):
    """The shipped answer (data/pilots/readings/composition-lrshift-lrshift.json) is generated, not edited: the
    command, run on the committed readings, manifests and fit in a scratch copy, writes the same JSON."""
    out = recomputed(lrshift, "lrshift", "composition-lrshift", tmp_path)
    assert len(out["runs"]) == 6 and len(out["seen_runs"]) == 2
