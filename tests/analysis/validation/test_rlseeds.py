"""The RL-seeds test's registered question: early and late runs by the meter's switch, the verdicts at and around
their thresholds, and the refusals."""

import numpy as np
import pytest

from rlmeta_interp.analysis.validation import rlseeds
from rlmeta_interp.errors import InvalidConfigError
from rlmeta_interp.organism.presets import preset_specs

from .shared import recomputed

FIT = {"inputs": ["boundary", "likelihood", "elicitation"], "coef": [1.0, 1.0, 1.0], "intercept": 0.0}
STEPS = (1, 50, 100, 150, 200, 250, 300, 1000)


def _case(reading, neutral=None, p=None):
    return {"reading": reading, rlseeds.NEUTRAL: neutral or reading,
            "p_creation": p if p is not None else 0.8 if reading == "creation" else 0.2}


A, C, N = "activation", "creation", "no_signal"


@pytest.mark.parametrize(("early", "late", "got"), [
    ([_case(A)], [_case(C)], "cannot separate"),  # one early case: below MIN_EARLY
    ([], [], "cannot separate"),
    ([_case(A)] * 2, [_case(C)] * 2, "follows the take-off"),
    ([_case(A)] * 2, [], "follows the take-off"),
    ([_case(A)] * 2, [_case(C, A)], "split"),  # a late case read activation with boundary at its cut
    ([_case(A, p=0.3), _case(A)], [_case(C, p=0.25)], "split"),  # an early P(creation) above a late one
    ([_case(C)] * 3, [_case(C)], "follows the base"),
    ([_case(C)] * 2, [_case(A)], "split"),  # a late case read activation counts against the base
    ([_case(C)] * 2, [_case(C, A)], "split"),  # ... with boundary at its cut too
    ([_case(C)] * 2, [_case(N)], "split"),  # a late no-signal reading fits neither
    ([_case(A)] * 2, [_case(N)], "split"),
    ([_case(A), _case(A, C)], [_case(C)], "inconclusive"),  # boundary at its cut disagrees
    ([_case(C), _case(A)], [_case(C)], "split"),
    ([_case(A), _case(N)], [_case(C)], "inconclusive")])
def test_the_verdict_from_the_early_and_late_cases(early, late, got):
    assert rlseeds.MIN_EARLY == 2 and rlseeds.HELD == 0.8
    assert rlseeds.verdict(early, late) == got


@pytest.mark.parametrize(("late", "got"), [
    ([], "no late case"), ([C, C], "reproduces"), ([C, A], "partly"), ([A, C, A], "does not reproduce"),
    ([N, C], "partly")])
def test_whether_the_bases_creation_reading_reproduces_on_new_late_cases(late, got):
    assert rlseeds.reproduction([{"reading": x} for x in late]) == got


def _curve(takeoff, fall=False):
    # fall: reward one half only on the take-off row and the next, then none
    return [{"step": s, "reward": 0.0 if takeoff is None or s < takeoff or (fall and s > STEPS[STEPS.index(takeoff) + 1])
             else 1.0} for s in STEPS]


def _row(pair, label, reading, *, gain="passed", expansion="creation", boundary=0.0):
    # likelihood carries the reading: the fitted summary's sign with boundary at its cut follows it
    return {"pair": pair, "label": label, "case": gain in ("passed", "n/a"), "gain_check": gain, "reading": reading,
            "expansion_reading": expansion, "boundary": boundary,
            "likelihood": 2.0 if reading == "creation" else -2.0, "elicitation": None,
            "p_creation": 0.8 if reading == "creation" else 0.2}


def _world(takeoffs, readings, *, gains=None, falls=None, weights=None):
    """Calibration: activation runs of other bases taking off at 50, 100 and 150 and read activation, creation runs at
    300 read creation (switch 225, edge 150), and the base's two earlier runs taking off at 1000, read creation. The
    test: one run of that base per entry of ``takeoffs`` (RL seeds 2, 3, ...), read as ``readings`` says, RL-tuned
    from the base's weights unless ``weights`` names others."""
    manifests = {"b-base": {"name": "b-base", "files": {"model.safetensors": "w"}}}
    calibration = []

    def run(name, base, seed, takeoff, fall=False, weights="w"):
        manifests[name] = {"name": name, "base": base, "seed": seed, "training_curve": _curve(takeoff, fall),
                           "base_weights_sha256": weights}

    for i, t in enumerate((50, 100, 150)):
        manifests[f"a{i}-base"] = {"name": f"a{i}-base"}
        run(f"a{i}-rl-long", f"a{i}-base", 0, t)
        calibration.append(_row(f"a{i}-rl-long", "activation", "activation"))
        manifests[f"c{i}-base"] = {"name": f"c{i}-base"}
        run(f"c{i}-rl-long", f"c{i}-base", 0, 300)
        calibration.append(_row(f"c{i}-rl-long", "creation", "creation"))
    for s in (0, 1):
        name = "b-rl-long" + (f"-s{s}" if s else "")
        run(name, "b-base", s, 1000)
        calibration.append(_row(name, "activation", "creation"))
    test = []
    n = len(takeoffs)
    for i, (t, read, gain, fall, w) in enumerate(zip(takeoffs, readings, gains or ["passed"] * n,
                                                     falls or [False] * n, weights or ["w"] * n, strict=True)):
        run(f"b-rl-long-s{i + 2}", "b-base", i + 2, t, fall, w)
        test.append(_row(f"b-rl-long-s{i + 2}", "activation", read, gain=gain))
    return test, calibration, manifests


@pytest.mark.parametrize(("takeoffs", "readings", "got"), [
    ((50, 100, 1000), (A, A, C), "follows the take-off"),
    ((50, 100, 1000), (C, C, C), "follows the base"),  # P(creation) constant: no rho
    ((50, 100, 1000), (A, C, C), "split"),
    ((50, 100, 1000), (A, A, A), "split"),  # a late run read activation
    ((50, 100, 1000), (A, N, C), "inconclusive"),
    ((50, 1000, None), (A, C, C), "cannot separate"),  # one early case
    ((50, 200, 1000), (A, A, C), "cannot separate (edge)"),  # 200 lies between the edge (150) and the switch
    ((250, 300, 1000), (A, C, C), "cannot separate")])
def test_the_question_sorts_runs_by_the_meters_switch(takeoffs, readings, got):
    test, calibration, manifests = _world(takeoffs, readings)
    out = rlseeds.rlseeds_question(test, calibration, manifests, FIT)
    assert out["meter_switch"]["cut"] == 225.0 and out["edge_step"] == 150 and out["verdict"] == got
    assert out["base"] == "b-base" and [r["pair"] for r in out["earlier_runs"]] == ["b-rl-long", "b-rl-long-s1"]
    assert len(out["early"]) + len(out["late"]) == 3 and out["same_base_weights"]
    assert [r["rl_seed"] for r in out["runs"]] == [2, 3, 4]
    assert (out["spearman_p_creation_takeoff"] is None) == (set(readings) == {C})  # constant P(creation)


@pytest.mark.parametrize("where", ["a test run", "the base's record", "an earlier run", "no base record"])
def test_runs_from_other_base_weights_get_no_verdict(where):
    test, calibration, manifests = _world((50, 100, 1000), (A, A, C), weights=(
        "w", "v" if where == "a test run" else "w", "w"))
    if where == "the base's record":
        manifests["b-base"]["files"]["model.safetensors"] = "v"
    elif where == "an earlier run":
        manifests["b-rl-long-s1"]["base_weights_sha256"] = "v"
    elif where == "no base record":
        del manifests["b-base"]["files"]
    out = rlseeds.rlseeds_question(test, calibration, manifests, FIT)
    assert out["verdict"] == "between bases" and not out["same_base_weights"]
    assert out["verdict_edge_counted_early"] == "follows the take-off"  # what it would have said, reported beside


def test_an_early_run_whose_reward_fell_back_is_fragile_and_not_counted():
    test, calibration, manifests = _world((50, 100, 1000), (A, A, C), falls=(False, True, False))
    out = rlseeds.rlseeds_question(test, calibration, manifests, FIT)
    assert out["fragile"] == ["b-rl-long-s3"] and out["early"] == ["b-rl-long-s2"]
    assert out["verdict"] == "cannot separate"
    assert out["runs"][1]["held_after_takeoff"] == pytest.approx(1 / 5)  # rows 150..1000 after 100: only 150 held


def test_runs_that_fail_their_gain_check_are_listed_and_not_counted():
    test, calibration, manifests = _world((50, 100, 1000), (A, A, C), gains=("passed", "failed", "passed"))
    out = rlseeds.rlseeds_question(test, calibration, manifests, FIT)
    assert out["not_cases"] == ["b-rl-long-s3"] and out["early"] == ["b-rl-long-s2"]
    assert out["verdict"] == "cannot separate"
    assert out["late_read"] == {"creation": 1, "activation": 0, "no_signal": 0}
    assert out["reproduction"] == "reproduces"


def test_the_rank_correlation_runs_over_the_bases_runs_with_never_last():
    test, calibration, manifests = _world((50, 100, None), (A, A, C))
    out = rlseeds.rlseeds_question(test, calibration, manifests, FIT)
    rho = out["spearman_p_creation_takeoff"]
    # take-off ranks 1, 2, 5 (never: last), 3.5, 3.5 (the earlier runs at 1000); P(creation) ranks 1.5, 1.5, 4, 4, 4
    expected = np.corrcoef([1, 2, 5, 3.5, 3.5], [1.5, 1.5, 4, 4, 4])[0, 1]
    assert rho["n"] == 5 and rho["rho"] == pytest.approx(expected)
    boundary_cut = out["runs"][0]["reading, boundary at its cut"]
    assert boundary_cut == "activation"


def test_runs_of_more_than_one_base_are_refused():
    test, calibration, manifests = _world((50, 100), ("activation", "activation"))
    manifests["b-rl-long-s3"]["base"] = "a0-base"
    with pytest.raises(InvalidConfigError, match="one base"):
        rlseeds.rlseeds_question(test, calibration, manifests, FIT)


def test_the_preset_is_the_earlier_runs_budget_and_base_with_other_rl_seeds_only():
    earlier = {s.name: s for s in preset_specs("composition-lowdose")}
    test = preset_specs("composition-rlseeds")
    base, runs = test[0], test[1:]
    assert earlier[base.name] == base and base.name == "clow-comp-d001-s14-base"
    reference = earlier["clow-comp-d001-s14-rl-long"]
    assert [s.rl.seed for s in runs] == [2, 3, 4, 5, 6, 7] and not {s.name for s in runs} & set(earlier)
    assert all(s.rl.replace(seed=0) == reference.rl and s.label == "activation" and s.base == base.name for s in runs)


def test_the_second_low_dose_preset_uses_fresh_seeds_at_the_low_dose_tests_budget():
    earlier = {s.name: s for s in preset_specs("composition-lowdose")}
    test = preset_specs("composition-lowdose2")
    bases = [s for s in test if s.kind == "base"]
    used = {s.pretrain.seed for p in ("composition", "composition-test", "composition-long", "composition-test2",
                                       "composition-lowdose") for s in preset_specs(p) if s.kind == "base"}
    assert [b.pretrain.seed for b in bases] == [15, 16, 17, 18] and not used & {15, 16, 17, 18}
    twin = earlier["clow-comp-d001-s12-base"]
    assert all(b.replace(name=twin.name, pretrain=b.pretrain.replace(seed=12, corpus=b.pretrain.corpus.replace(seed=12)))
               == twin for b in bases)  # the low-dose test's dose-0.01 base but for the seeds
    runs = [s for s in test if s.kind == "rl"]
    reference = earlier["clow-comp-d001-s12-rl-long"].rl
    assert all(s.rl.replace(seed=0, reward="correct") == reference for s in runs)
    assert sorted((s.label, s.rl.seed, s.rl.reward) for s in runs) == sorted(
        [("activation", 0, "correct"), ("activation", 1, "correct")] * 4 + [("no_signal", 1, "random")])


def test_the_answer_written_by_the_command_renders_for_data_readme(tmp_path):
    """rlseeds_question's answer, written checksummed where the command writes it, renders through the renderer that
    data/README.md uses (the keys it reads are the ones the question writes)."""
    from rlmeta_interp.io import write_json_atomic
    from rlmeta_interp.organism.answers import answer_path, rlseeds_text

    assert "not answered yet" in rlseeds_text(tmp_path, "x")
    test, calibration, manifests = _world((50, 100, None), ("activation", "activation", "creation"))
    write_json_atomic(answer_path(tmp_path, "x", "rlseeds"), rlseeds.rlseeds_question(test, calibration, manifests, FIT),
                      checksum=True)
    text = rlseeds_text(tmp_path, "x")
    assert "Verdict: follows the take-off.**" in text and "step 225 (agreement 1.00 over 8 cases)" in text
    assert "the runs were RL-tuned from the base's weights" in text and "step 150. Verdict with edge runs" in text
    assert "of the stored rows after it): 2 (at least 2 needed" in text and "late: 1, read creation 1" in text
    assert "the base's creation reading reproduces across these RL seeds" in text
    assert "| b-rl-long-s2 | 2 | passed | 50 | n/a | early | 1.00 | activation |" in text
    assert "| b-rl-long-s4 | 4 | passed | never | n/a | late | n/a | creation |" in text
    assert "| b-rl-long-s1 | 1 | passed | 1000 | n/a | late | n/a | creation |" in text  # an earlier run


def test_the_committed_answer_is_what_the_code_computes_from_the_committed_files(tmp_path):
    """The shipped answer (data/pilots/readings/composition-rlseeds-rlseeds.json) is generated, not edited: the
    command, run on the committed readings, manifests and fit in a scratch copy, writes the same JSON; its runs were
    RL-tuned from the weights the base's earlier runs were."""
    out = recomputed(rlseeds, "rlseeds", "composition-rlseeds", tmp_path)
    assert out["same_base_weights"] and out["base_weights_sha256"].startswith("4ca3bcc61c53")
    assert [r["rl_seed"] for r in out["runs"]] == [2, 3, 4, 5, 6, 7]
