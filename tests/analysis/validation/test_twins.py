"""Runs beside their twins: naming, curve facts, paired changes with an interval over bases, the creation check."""

import pytest

from rlmeta_interp.analysis.validation import twins
from rlmeta_interp.errors import InvalidConfigError


def test_a_run_names_its_twin_by_the_first_variant_in_its_name():
    assert twins.twin_of("b-rl-brief-s1", ("brief", "extended")) == "b-rl-long-s1"
    assert twins.twin_of("b-rl-extended-random", ("brief", "extended")) == "b-rl-long-random"
    with pytest.raises(InvalidConfigError, match="b-rl-long is not a run of this test"):
        twins.twin_of("b-rl-long", ("brief",))


def test_curve_facts_read_take_off_convergence_and_the_deepest_level():
    curve = [{"step": s, "reward": r, "entropy": 0.5} for s, r in ((1, 0.0), (50, 0.6), (100, 0.4), (150, 0.7),
                                                                    (200, 0.96), (250, 0.97), (300, 1.0))]
    manifest = {"budget": {"reward": "correct"}, "training_curve": curve,
                "metrics": {"n_samples": 8, "by_level": {"2": {"pass@1": 0.9, "pass@8": 1.0},
                                                         "4": {"pass@1": 0.1, "pass@8": 0.5}}}}
    facts = twins.curve_facts(manifest)
    assert facts == {"takeoff_step": 150, "converged_step": 200, "steps_after_converged": 100, "final_entropy": 0.5,
                     "deepest_pass@1": 0.1, "deepest_pass@n": 0.5}  # 50 did not hold one half for two rows


def _run(label, reading, change, twin_reading="creation", gain="passed", base="b"):
    return {"label": label, "reading": reading, "twin_reading": twin_reading, "gain_check": gain, "pair": reading,
            "base": base, "change": {"p_creation": change}}


@pytest.mark.parametrize(("runs", "twin_read_creation", "result"), [
    ([], False, "no creation case"),
    ([_run("creation", "creation", 0.0, gain="failed")], False, "no creation case"),
    ([_run("creation", "creation", 0.0), _run("creation", "creation", -0.05)], False, "not confounded"),
    ([_run("creation", "creation", -0.2), _run("creation", "creation", -0.15)], False, "confounded"),  # median
    ([_run("creation", "creation", 0.0), _run("creation", "activation", 0.0)], False, "confounded"),
    # read activation, but so was its twin: counted only without twin_read_creation
    ([_run("creation", "creation", 0.0), _run("creation", "activation", 0.0, "activation")], True, "not confounded"),
    ([_run("creation", "creation", 0.0), _run("creation", "activation", 0.0, "activation")], False, "confounded")])
def test_the_creation_check(runs, twin_read_creation, result):
    assert twins.creation_check([*runs, _run("activation", "activation", -1.0)], -0.1,
                                twin_read_creation=twin_read_creation)["result"] == result


def test_the_paired_change_is_a_mean_with_an_interval_over_bases():
    runs = [{"base": b, "change": {"x": v}} for b, v in (("a", 0.1), ("a", 0.1), ("b", 0.3), ("c", None))]
    out = twins.paired_change(runs, "x", n_boot=200)
    assert out["mean"] == pytest.approx(0.5 / 3) and (out["n"], out["n_bases"]) == (3, 2)
    assert 0.1 <= out["lo"] <= out["mean"] <= out["hi"] <= 0.3
    assert twins.paired_change(runs[3:], "x")["mean"] is None


def test_a_curve_repeats_its_twins_only_where_both_stored_the_same_reward():
    from rlmeta_interp.analysis.validation.twins import repeats_twin

    run = {"training_curve": [{"step": 0, "reward": 0.1}, {"step": 50, "reward": 0.5}]}
    assert repeats_twin(run, {"training_curve": [{"step": 0, "reward": 0.1}, {"step": 50, "reward": 0.5}]}) == {
        "same": True, "steps_compared": 2}
    assert repeats_twin(run, {"training_curve": [{"step": 0, "reward": 0.1}, {"step": 50, "reward": 0.4}]}) == {
        "same": False, "steps_compared": 2}
    assert repeats_twin(run, {"training_curve": [{"step": 25, "reward": 0.1}]}) == {"same": None,
                                                                                          "steps_compared": 0}
