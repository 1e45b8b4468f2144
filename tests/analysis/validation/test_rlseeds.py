"""The RL-seeds test's registered question: early and late runs by the meter's switch, the verdicts at and around
their thresholds, and the refusals."""

import numpy as np
import pytest

from rlmeta_interp.analysis.validation import rlseeds
from rlmeta_interp.errors import InvalidConfigError
from rlmeta_interp.organism.presets import preset_specs

FIT = {"inputs": ["boundary", "likelihood", "elicitation"], "coef": [1.0, 1.0, 1.0], "intercept": 0.0}
STEPS = (1, 50, 100, 150, 200, 250, 300, 1000)


@pytest.mark.parametrize(("readings", "got"), [
    (["activation", "activation"], "activation"), (["creation"], "creation"), (["activation", "creation"], "mixed"),
    (["no_signal", "no_signal"], "mixed"), ([], "mixed")])
def test_a_side_is_one_reading_shared_by_every_case(readings, got):
    assert rlseeds.side(readings) == got


@pytest.mark.parametrize(("as_read", "neutral", "got"), [
    (["activation"], ["activation"], "cannot separate"),  # one early case: below MIN_EARLY
    ([], [], "cannot separate"),
    (["activation"] * 2, ["activation"] * 2, "follows the take-off"),
    (["creation"] * 3, ["creation"] * 3, "follows the base"),
    (["activation"] * 2, ["activation", "creation"], "mixed"),  # boundary at its cut disagrees
    (["creation", "activation"], ["creation", "activation"], "mixed"),
    (["activation", "no_signal"], ["activation", "no_signal"], "mixed")])
def test_the_verdict_from_the_early_cases(as_read, neutral, got):
    assert rlseeds.MIN_EARLY == 2
    assert rlseeds.verdict(as_read, neutral) == got


def _curve(takeoff):
    return [{"step": s, "reward": 1.0 if takeoff is not None and s >= takeoff else 0.0} for s in STEPS]


def _row(pair, label, reading, *, gain="passed", expansion="creation", boundary=0.0):
    # likelihood carries the reading: the fitted summary's sign with boundary at its cut follows it
    return {"pair": pair, "label": label, "case": gain in ("passed", "n/a"), "gain_check": gain, "reading": reading,
            "expansion_reading": expansion, "boundary": boundary,
            "likelihood": 2.0 if reading == "creation" else -2.0, "elicitation": None,
            "p_creation": 0.8 if reading == "creation" else 0.2}


def _world(takeoffs, readings, *, gains=None):
    """Calibration: activation runs of other bases taking off at 50 and read activation, creation runs at 300 read
    creation (switch 175), and the base's two earlier runs taking off at 1000, read creation. The test: one run of
    that base per entry of ``takeoffs`` (RL seeds 2, 3, ...), read as ``readings`` says."""
    manifests = {"b-base": {"name": "b-base"}}
    calibration = []

    def run(name, base, seed, takeoff):
        manifests[name] = {"name": name, "base": base, "seed": seed, "training_curve": _curve(takeoff)}

    for i in range(3):
        manifests[f"a{i}-base"] = {"name": f"a{i}-base"}
        run(f"a{i}-rl-long", f"a{i}-base", 0, 50)
        calibration.append(_row(f"a{i}-rl-long", "activation", "activation"))
        manifests[f"c{i}-base"] = {"name": f"c{i}-base"}
        run(f"c{i}-rl-long", f"c{i}-base", 0, 300)
        calibration.append(_row(f"c{i}-rl-long", "creation", "creation"))
    for s in (0, 1):
        name = "b-rl-long" + (f"-s{s}" if s else "")
        run(name, "b-base", s, 1000)
        calibration.append(_row(name, "activation", "creation"))
    test = []
    gains = gains or ["passed"] * len(takeoffs)
    for i, (t, read, gain) in enumerate(zip(takeoffs, readings, gains, strict=True)):
        run(f"b-rl-long-s{i + 2}", "b-base", i + 2, t)
        test.append(_row(f"b-rl-long-s{i + 2}", "activation", read, gain=gain))
    return test, calibration, manifests


@pytest.mark.parametrize(("takeoffs", "readings", "got"), [
    ((50, 100, 1000), ("activation", "activation", "creation"), "follows the take-off"),
    ((50, 100, 1000), ("creation", "creation", "creation"), "follows the base"),  # P(creation) constant: no rho
    ((50, 100, 1000), ("activation", "creation", "creation"), "mixed"),
    ((50, 1000, None), ("activation", "creation", "creation"), "cannot separate"),  # one early case
    ((175, 200, 250), ("activation", "creation", "creation"), "cannot separate")])  # at the switch is early
def test_the_question_sorts_runs_by_the_meters_switch(takeoffs, readings, got):
    test, calibration, manifests = _world(takeoffs, readings)
    out = rlseeds.rlseeds_question(test, calibration, manifests, FIT)
    assert out["meter_switch"]["cut"] == 175.0 and out["verdict"] == got
    assert out["base"] == "b-base" and [r["pair"] for r in out["earlier_runs"]] == ["b-rl-long", "b-rl-long-s1"]
    assert len(out["early"]) + len(out["late"]) == 3
    assert [r["rl_seed"] for r in out["runs"]] == [2, 3, 4]
    assert (out["spearman_p_creation_takeoff"] is None) == (set(readings) == {"creation"})  # constant P(creation)


def test_runs_that_fail_their_gain_check_are_listed_and_not_counted():
    test, calibration, manifests = _world((50, 100, 1000), ("activation", "activation", "creation"),
                                          gains=("passed", "failed", "passed"))
    out = rlseeds.rlseeds_question(test, calibration, manifests, FIT)
    assert out["not_cases"] == ["b-rl-long-s3"] and out["early"] == ["b-rl-long-s2"]
    assert out["verdict"] == "cannot separate"
    assert out["late_read"] == {"creation": 1, "activation": 0, "no_signal": 0}


def test_the_rank_correlation_runs_over_the_bases_runs_with_never_last():
    test, calibration, manifests = _world((50, 100, None), ("activation", "activation", "creation"))
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
    from rlmeta_interp.organism.readings import answer_path, rlseeds_text

    assert "not answered yet" in rlseeds_text(tmp_path, "x")
    test, calibration, manifests = _world((50, 100, None), ("activation", "activation", "creation"))
    write_json_atomic(answer_path(tmp_path, "x", "rlseeds"), rlseeds.rlseeds_question(test, calibration, manifests, FIT),
                      checksum=True)
    text = rlseeds_text(tmp_path, "x")
    assert "Verdict: follows the take-off.**" in text and "step 175 (agreement 1.00 over 8 cases)" in text
    assert "Early activation cases (take-off at or before it): 2" in text and "late: 1, read creation 1" in text
    assert "| b-rl-long-s4 | 4 | passed | never | late | creation |" in text
    assert "| b-rl-long-s1 | 1 | passed | 1000 | late | creation |" in text  # an earlier run
