import pytest

from rlmeta_interp.organism.gain import gain_check, level_readings


def _level(counts, n=8, guess=0.0):
    return {"correct_counts": counts, f"guess_pass@{n}": guess}


def _metrics(levels, n=8):
    return {"n_samples": n, "by_level": levels}


BASE = _metrics({"4": _level([8] * 20), "5": _level([0] * 20), "6": _level([0] * 20)})


def test_expansion_passes_creation_and_not_activation():
    trained = _metrics({"4": _level([8] * 20), "5": _level([4] * 20, guess=0.1), "6": _level([0] * 20)})
    g = gain_check(BASE, trained, "creation")
    assert g["passed"] and g["expanded_levels"] == ["5"] and g["in_distribution_ok"]
    r = g["levels"]["5"]
    assert r["expanded"] == 20 and r["preserved"] == 0 and r["shrunk"] == 0
    assert r["diff_pass@8_ci"][0] > 0 and r["trained_pass@1"] == pytest.approx(0.5)
    # the same readings pass an activation label too (pass@1 rose), but only through its own criterion
    assert gain_check(BASE, trained, "activation")["sharpened_levels"] == ["5"]
    assert gain_check(BASE, trained, "no_signal")["passed"] is None


def test_a_guessing_level_or_a_collapsed_model_does_not_pass():
    # pass@n rose, but not above what the guesser reaches at the same n
    guessing = _metrics({"4": _level([8] * 20), "5": _level([1] * 10 + [0] * 10, guess=0.9), "6": _level([0] * 20)})
    assert not gain_check(BASE, guessing, "creation")["passed"]
    # expansion at depth while the in-distribution level collapsed: a broken model, not a capability
    broken = _metrics({"4": _level([1] * 20), "5": _level([4] * 20), "6": _level([0] * 20)})
    g = gain_check(BASE, broken, "creation")
    assert g["expanded_levels"] == ["5"] and not g["in_distribution_ok"] and not g["passed"]


def test_no_gain_fails_and_shrinkage_is_counted():
    same = _metrics({"4": _level([8] * 20), "5": _level([0] * 20), "6": _level([0] * 20)})
    assert gain_check(BASE, same, "creation")["passed"] is False
    base = _metrics({"4": _level([8] * 10), "5": _level([2] * 10)})
    shrunk = _metrics({"4": _level([8] * 10), "5": _level([0] * 5 + [8] * 5)})
    r = level_readings(base["by_level"]["5"], shrunk["by_level"]["5"], 8)
    assert (r["preserved"], r["expanded"], r["shrunk"]) == (5, 0, 5)


def test_bandit_gain_is_a_paired_regret_reduction():
    base = {"regret_sampled_per_bandit": [6.0, 5.0, 7.0, 6.5] * 10}
    better = {"regret_sampled_per_bandit": [3.0, 2.5, 4.0, 3.5] * 10}
    g = gain_check(base, better, "creation")
    assert g["kind"] == "regret" and g["passed"] and g["regret_reduction"] == pytest.approx(2.875)
    assert gain_check(base, base, "activation")["passed"] is False
    assert gain_check({}, {}, "creation")["passed"] is None


def test_different_problem_sets_are_refused():
    from rlmeta_interp.errors import CorruptedCheckpointError

    base = _metrics({"4": {**_level([8] * 4), "problems_sha256": "a"}})
    other = _metrics({"4": {**_level([8] * 4), "problems_sha256": "b"}})
    with pytest.raises(CorruptedCheckpointError, match="different problems"):
        gain_check(base, other, "creation")
    assert gain_check(base, _metrics({"9": _level([1] * 4)}), "creation")["passed"] is None
