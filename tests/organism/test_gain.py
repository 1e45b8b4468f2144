import pytest

from rlmeta_interp.organism.gain import (case_label, gain_check, level_readings, recheck_gain, recheck_records,
                                         refresh_gain_checks)


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


def test_levels_are_a_family_bonferroni_corrected():
    """The check passes if any level gains, so each level's CI is a (1 - 0.05/m) interval: a gain that clears a
    95% interval on its own can fail when it is one of four levels tested."""
    import numpy as np

    rng = np.random.default_rng(3)
    base_counts = [int(c) for c in rng.integers(0, 9, size=40)]
    # a small pass@1 gain on a third of the problems
    up = [min(8, c + 2) if i % 3 == 0 else c for i, c in enumerate(base_counts)]
    one = gain_check(_metrics({"5": _level(base_counts)}), _metrics({"5": _level(up)}), "activation")
    many_base = _metrics({lv: _level(base_counts) for lv in ("4", "5", "6", "7")})
    many = gain_check(many_base, _metrics({"4": _level(base_counts), "5": _level(up), "6": _level(base_counts),
                                           "7": _level(base_counts)}), "activation")
    assert one["ci"] == pytest.approx(0.95) and many["ci"] == pytest.approx(0.9875)
    # creation can pass only below the in-distribution level: three tests at four levels
    assert gain_check(many_base, many_base, "creation")["ci"] == pytest.approx(1 - 0.05 / 3)
    lo1, hi1 = one["levels"]["5"]["diff_pass@1_ci"]
    lo4, hi4 = many["levels"]["5"]["diff_pass@1_ci"]
    assert lo4 < lo1 and hi4 > hi1  # the corrected interval is wider
    assert many["correction"] == "Bonferroni over 4 levels"


def test_stored_gain_checks_match_the_current_rule():
    """Every labelled manifest shipped in data/zoo or committed in data/validation carries the gain check that the
    current rule computes from its stored evaluations (refresh_gain_checks after changing the rule)."""
    from rlmeta_interp.io import read_json
    from rlmeta_interp.organism.manifests import manifest_files, validation_manifests_dir
    from rlmeta_interp.paths import shipped_zoo_dir

    for folder in (shipped_zoo_dir(), validation_manifests_dir()):
        manifests = {m["name"]: m for m in map(read_json, manifest_files(folder))}
        assert refresh_gain_checks(manifests) == [], f"stale gain checks in {folder}"
    # a changed rule is detected: drop a stored check and it is recomputed
    labelled = next(m for m in manifests.values() if m.get("label") and m.get("gain_check"))
    labelled.pop("gain_check")
    assert refresh_gain_checks(manifests) == [labelled["name"]] and "passed" in labelled["gain_check"]


def test_a_labelled_model_is_a_validation_case_only_with_a_passed_check_unless_a_control():
    from rlmeta_interp.organism.gain import is_validation_case

    assert is_validation_case("creation", {"passed": True}) and is_validation_case("activation", {"passed": True})
    assert not is_validation_case("creation", {"passed": False}) and not is_validation_case("activation", None)
    assert not is_validation_case("creation", {"passed": None})  # a check that could not be made does not count
    assert is_validation_case("no_signal", {"passed": None}) and is_validation_case("no_signal", None)
    assert not is_validation_case("", {"passed": True}) and not is_validation_case(None, None)



def test_case_label_marks_a_failed_gain_check():
    assert case_label("creation", {"passed": True}) == "creation"
    assert case_label("activation", {"passed": False}) == "activation, no gain"
    assert case_label("creation", None) == "creation, no gain"  # no check recorded: not a case
    assert case_label("no_signal", None) == "no_signal"  # a control has no gain to pass
    assert case_label("", {"passed": True}) == case_label(None, None) == ""


def test_the_recheck_drops_a_level_only_the_narrow_bootstrap_passes():
    base = _metrics({"4": _level([8] * 64), "5": _level([0] * 64), "6": _level([0] * 64)})
    few = _metrics({"4": _level([8] * 64), "5": _level([4] * 5 + [0] * 59, guess=0.01),
                    "6": _level([4] * 20 + [0] * 44, guess=0.01)})
    g = gain_check(base, few, "creation")
    assert g["expanded_levels"] == ["5", "6"]  # 5 problems of 64 expanded at depth 5: the bootstrap passes it
    again = recheck_gain(base, few, "creation", g)
    assert again["expanded_levels"] == ["6"] and again["passed"] is True
    assert again["p"]["5"]["pass@8"] == pytest.approx(1 / 32) and again["alpha"] == pytest.approx(0.025 / 2)
    only5 = _metrics({"4": _level([8] * 64), "5": _level([4] * 5 + [0] * 59, guess=0.01), "6": _level([0] * 64)})
    g5 = gain_check(base, only5, "creation")
    assert g5["passed"] and recheck_gain(base, only5, "creation", g5)["passed"] is False
    names = {"b": {"name": "b", "metrics": base}, "t": {"name": "t", "base": "b", "label": "creation",
                                                           "metrics": only5, "gain_check": g5},
             "u": {"name": "u", "base": "b", "label": "creation", "metrics": few,
                   "gain_check": g}, "orphan": {"name": "orphan", "base": "nowhere", "label": "creation"}}
    read, rows = recheck_records(names)
    assert read == 2 and [r["model"] for r in rows] == ["t", "u"]
    assert rows[0]["gain check"] == "passed" and rows[0]["recheck"] == "failed"
    assert rows[1]["expanded, check / recheck"] == "5, 6 / 6"


def test_the_regret_recheck_is_a_one_sided_permutation_test():
    base = {"regret_sampled_per_bandit": [6.0, 5.0, 7.0, 6.5] * 10}
    better = {"regret_sampled_per_bandit": [3.0, 2.5, 4.0, 3.5] * 10}
    again = recheck_gain(base, better, "creation", gain_check(base, better, "creation"))
    assert again["kind"] == "regret" and again["passed"] and again["p"] < 0.001
    assert recheck_gain(better, base, "creation", gain_check(better, base, "creation"))["passed"] is False
    assert recheck_gain(base, better, "no_signal", gain_check(base, better, "no_signal"))["passed"] is None
