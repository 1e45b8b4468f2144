"""The middle-rate seeds test's registered question: the within-base rank statistic and its exact p-value (checked
against brute-force enumeration), the verdict at its bounds, the predictors beside it, and the preset."""

import itertools

import numpy as np
import pytest
from scipy.stats import kendalltau

from rlmeta_interp.analysis.validation import lrmidseeds
from rlmeta_interp.errors import InvalidConfigError
from rlmeta_interp.organism.presets import preset_specs

from .shared import manifest, recomputed, row

A, C = "activation", "creation"
FIT = {"inputs": ["boundary", "likelihood", "elicitation", "reliance"], "coef": [0.5, 1.0, 2.0, 1.0], "intercept": 0.0}
END, NOT = "ranked by the end state, within bases", "not shown at this size"


def _ask(test, earlier, twins, manifests):
    return lrmidseeds.lrmidseeds_question(test, earlier, twins, manifests, FIT)


def _world(test_runs, *, bases=4, usual=(0.99, 0.99), middle=(A, A), stems=None):
    """Per base ``b<i>``: two usual-rate runs (read activation, deepest pass@1 ``usual``), two middle-rate runs (RL
    seeds 0 and 1, read ``middle``, deepest pass@1 0.9) and the test's runs, ``test_runs[i]`` a list of (reading,
    P(creation), gain check, deepest pass@1) for RL seeds 2 on."""
    manifests, twins, earlier, test = {}, [], [], []
    for b, stem in enumerate(stems or [f"b{i}" for i in range(bases)]):
        base = f"{stem}-base"
        manifests[base] = {"name": base, "files": {"model.safetensors": "recorded"}}
        for s in (0, 1):
            tail = "" if s == 0 else f"-s{s}"
            twin, mid = f"{stem}-rl-long{tail}", f"{stem}-rl-long-mid{tail}"
            manifests[twin], manifests[mid] = manifest(twin, base, s, usual[s]), manifest(mid, base, s, 0.9)
            twins.append(row(twin, A, 0.1))
            earlier.append(row(mid, middle[s], 0.5))
        for s, (read, p, gain, pass1) in enumerate(test_runs[b], start=2):
            name = f"{stem}-rl-long-mid-s{s}"
            manifests[name] = {**manifest(name, base, s, pass1), "base_weights_sha256": "rebuilt"}
            test.append(row(name, read, p, gain))
    return test, earlier, twins, manifests


def _ordered(sign=-1, bases=4):
    """Three runs per base whose P(creation) falls (``sign`` -1) or rises with the deepest pass@1."""
    return [[(C if p > 0.5 else A, p, "passed", acc) for acc, p in zip((0.5, 0.8, 0.99), (0.8, 0.5, 0.2)[::-sign],
                                                                        strict=True)] for _ in range(bases)]


def test_a_perfect_within_base_ordering_is_the_end_state_at_its_exact_p_value():
    out = _ask(*_world(_ordered()))
    assert out["verdict"] == END and out["within_base"]["bases"] == 4
    assert out["within_base"]["mean_tau"] == pytest.approx(-1.0)
    assert out["within_base"]["p_value"] == pytest.approx(1 / 6 ** 4)  # the one permutation of 1296 as extreme
    assert _ask(*_world(_ordered(+1)))["verdict"] == NOT


def test_the_exact_p_value_is_the_brute_force_one():
    rng = np.random.default_rng(0)
    cases = [{"pair": f"r{i}", "base": f"b{i % 3}", "deepest_pass@1": float(rng.random()),
              "p_creation": float(rng.random())} for i in range(9)]
    cases[0]["deepest_pass@1"] = cases[3]["deepest_pass@1"]  # a tie within base 0: tau-b
    got = lrmidseeds.within_base(cases)
    groups = [[c for c in cases if c["base"] == f"b{b}"] for b in range(3)]
    xs = [[c["deepest_pass@1"] for c in g] for g in groups]
    ys = [[c["p_creation"] for c in g] for g in groups]
    observed = sum(kendalltau(x, y).statistic for x, y in zip(xs, ys, strict=True))
    sums = [sum(kendalltau(x, list(p)).statistic for x, p in zip(xs, perms, strict=True))
            for perms in itertools.product(*(itertools.permutations(y) for y in ys))]
    assert len(sums) == 6 ** 3
    assert got["p_value"] == pytest.approx(np.mean([s <= observed + 1e-7 for s in sums]))
    assert got["mean_tau"] == pytest.approx(observed / 3)


def test_cannot_answer_below_its_cases_or_bases_and_undefined_bases_are_left_out():
    runs = _ordered()
    runs[0] = [(A, 0.2, "failed", 0.99)] * 3  # base 0 has no case
    runs[1] = [(A, 0.2, "passed", 0.99)] + [(A, 0.2, "failed", 0.99)] * 2  # base 1 has one: not in the statistic
    runs[2] = [(A, 0.2, "failed", 0.99)] * 3  # base 2 has none: 4 cases from 1 base remain
    out = _ask(*_world(runs))
    assert out["verdict"] == "cannot answer" and len(out["cases"]) == 4 and out["within_base"]["bases"] == 1
    assert out["within_base"]["per_base"]["b1-base"]["tau"] is None and len(out["not_cases"]) == 8
    runs = _ordered(bases=5)
    runs[4] = [(A, 0.2, "passed", 0.99)] * 3  # one P(creation) for all: tau undefined, left out; 4 bases remain
    out = _ask(*_world(runs, bases=5))
    assert out["within_base"]["bases"] == 4 and out["verdict"] == END
    runs = [[(C if p > 0.5 else A, p, "passed", acc) for acc, p in zip((0.5, 0.7, 0.8, 0.99), (0.8, 0.6, 0.4, 0.2),
                                                                        strict=True)]] * 2
    out = _ask(*_world(runs, bases=2))  # 8 cases from 2 bases, each in order: p 1/576
    assert out["verdict"] == END and out["within_base"]["p_value"] == pytest.approx(1 / 24 ** 2)
    runs[1] = runs[1][:2]  # a base with 2 cases is below the 3 it needs: 1 base remains
    out = _ask(*_world(runs, bases=2))
    assert out["verdict"] == "cannot answer" and out["within_base"]["per_base"]["b1-base"]["tau"] is None
    runs = _ordered(bases=4)
    runs[3] = [(C, p, "passed", 0.9) for p in (0.8, 0.5, 0.2)]  # one pass@1 for all: tau undefined, left out
    out = _ask(*_world(runs))
    assert out["within_base"]["bases"] == 3 and out["verdict"] == END


def test_the_predictors_beside_it():
    # base 0's middle-rate runs read activation, base 1's creation, base 2's disagree (no base prediction); the
    # reference is the mean of the usual runs (0.9 and 1.0: 0.95), matched from 0.90 on
    runs = [[(A, 0.2, "passed", 0.90), (C, 0.7, "passed", 0.89), (A, 0.3, "passed", 0.5)]] * 3
    test, earlier, twins, manifests = _world(runs, bases=3, usual=(0.9, 1.0))
    for r in earlier:
        if r["pair"].startswith("b1"):
            r["reading"] = C
    earlier[5]["reading"] = C  # b2's RL seed 1
    out = _ask(test, earlier, twins, manifests)
    assert [r["matched"] for r in out["runs"][:3]] == [True, False, False]
    assert out["references"]["b2-base"]["base_prediction"] is None
    pred = out["predictors"]
    assert pred["end_state_right"] == 6 and pred["base_predicts"] == 6 and pred["base_right"] == 3
    # where they disagree: b0's unmatched runs (end state says creation) and b1's matched run (end state activation)
    assert pred["disagree"] == ["b0-rl-long-mid-s3", "b0-rl-long-mid-s4", "b1-rl-long-mid-s2"]
    assert pred["disagree_end_state_right"] == 2 and pred["disagree_base_right"] == 1
    assert pred["summary"] == "end state favoured"  # 3 disagreeing cases from 2 bases, end state right on 2
    assert out["with_seen"]["middle_rate_cases"] == [r["pair"] for r in earlier]


def test_refuses_a_missing_twin_reading_a_foreign_base_and_a_missing_pass_at_1():
    test, earlier, twins, manifests = _world(_ordered())
    with pytest.raises(InvalidConfigError, match="No reading of the usual-rate run b0-rl-long"):
        _ask(test, earlier, twins[1:], manifests)
    manifests["x-base"] = {"name": "x-base"}
    manifests["x-rl-long-mid-s2"] = {**manifest("x-rl-long-mid-s2", "x-base", 2, 0.5), "base_weights_sha256": "x"}
    with pytest.raises(InvalidConfigError, match="which no middle-rate run starts from"):
        _ask([*test, row("x-rl-long-mid-s2", A, 0.2)], earlier, twins, manifests)
    manifests["b0-rl-long-mid-s2"]["metrics"] = {}
    with pytest.raises(InvalidConfigError, match="has no \\(finite\\) deepest-level pass@1"):
        _ask(test, earlier, twins, manifests)


def test_the_preset_adds_rl_seeds_2_to_5_at_the_middle_rate_on_two_middle_rate_bases():
    specs = preset_specs("composition-lrmid-seeds")
    mid = {s.name: s for s in preset_specs("composition-lrmid")}
    runs = [s for s in specs if s.kind == "rl"]
    assert [s.name for s in specs if s.kind == "base"] == [f"clow2-comp-d001-s{k}-base" for k in (15, 16)]
    assert all(s.name in mid and s == mid[s.name] for s in specs if s.kind == "base")
    assert len(runs) == 8 and sorted({r.seed for r in runs}) == [2, 3, 4, 5]
    reference = mid["clow2-comp-d001-s15-rl-long-mid"]
    for r in runs:
        assert r.name.endswith(f"-rl-long-mid-s{r.seed}") and r.base in mid
        assert r.rl == reference.rl.replace(seed=r.seed), r.name


def test_the_disagreement_summary_needs_cases_from_two_bases_and_a_strict_majority():
    def pred(split, end, base):
        return {"disagree": [c["pair"] for c in split], "disagree_end_state_right": end, "disagree_base_right": base}
    three = [{"pair": f"r{i}", "base": f"b{i % 2}"} for i in range(3)]
    assert lrmidseeds.disagreement(pred(three, 1, 2), three) == "base favoured"
    assert lrmidseeds.disagreement(pred(three[:2], 2, 0), three) == "not separated"  # two cases only
    one_base = [{"pair": f"r{i}", "base": "b0"} for i in range(4)]
    assert lrmidseeds.disagreement(pred(one_base, 4, 0), one_base) == "not separated"
    four = [{"pair": f"r{i}", "base": f"b{i % 2}"} for i in range(4)]
    assert lrmidseeds.disagreement(pred(four, 2, 2), four) == "not separated"  # a tie


def test_contributions_and_the_recomputations_beside():
    test, earlier, twins, manifests = _world(_ordered())
    for r in test:  # elicitation 0.8, likelihood 0.1 on the least accurate runs; 0.0 elsewhere
        low = manifests[r["pair"]]["metrics"]["by_level"]["3"]["pass@1"] == 0.5
        r.update(elicitation=0.8 if low else 0.0, likelihood=0.1 if low else 0.0, boundary="")
    out = _ask(test, earlier, twins, manifests)
    b0 = out["contributions"]["b0-base"]
    assert b0["least_accurate"] == "b0-rl-long-mid-s2" and b0["most_accurate"] == "b0-rl-long-mid-s4"
    assert b0["change_p_creation"] == pytest.approx(0.6)
    assert b0["log_odds_share"] == pytest.approx({"boundary": None, "likelihood": 0.1, "elicitation": 1.6,
                                         "reliance": None})
    # without the cases below pass@1 0.05 (none here) and without the seed-15 base (none here): unchanged
    assert out["without_collapsed"]["p_value"] == out["within_base"]["p_value"]
    assert out["without_noisy_base"]["bases"] == 4 and out["without_noisy_base"]["base"] == "-s15-base"
    manifests[test[0]["pair"]]["metrics"]["by_level"]["3"]["pass@1"] = 0.01  # now collapsed: base 0 keeps 2 cases
    assert _ask(test, earlier, twins, manifests)["without_collapsed"]["bases"] == 3


def test_refuses_a_run_read_twice_and_a_reading_without_a_number():
    test, earlier, twins, manifests = _world(_ordered())
    with pytest.raises(InvalidConfigError, match="b0-rl-long-mid-s2 is read more than once"):
        _ask([*test, test[0]], earlier, twins, manifests)
    test[1] = {**test[1], "p_creation": float("nan")}
    with pytest.raises(InvalidConfigError, match="no finite P\\(creation\\)"):
        _ask(test, earlier, twins, manifests)
    test, earlier, twins, manifests = _world(_ordered())
    del manifests["b0-rl-long"]  # a usual-rate run's manifest
    with pytest.raises(InvalidConfigError, match="No manifest for b0-rl-long"):
        _ask(test, earlier, twins, manifests)


def test_the_runs_of_a_base_share_one_set_of_base_weights_which_may_be_rebuilt():
    test, earlier, twins, manifests = _world(_ordered())
    out = _ask(test, earlier, twins, manifests)
    assert out["base_weights"]["b0-base"] == {"tuned_from": "rebuilt", "recorded": "recorded", "same": False}
    manifests["b1-base"]["files"]["model.safetensors"] = "rebuilt"
    assert _ask(test, earlier, twins, manifests)["base_weights"]["b1-base"]["same"] is True
    manifests["b0-rl-long-mid-s3"]["base_weights_sha256"] = "another"
    with pytest.raises(InvalidConfigError, match="b0-base were not all tuned from one"):
        _ask(test, earlier, twins, manifests)


def test_the_seen_runs_join_their_base_and_the_seed_15_base_is_left_out_of_one_recomputation():
    out = _ask(*_world(_ordered(bases=2), stems=["x-s15", "x-s16"]))
    x, y = [0.5, 0.8, 0.99, 0.9, 0.9], [0.8, 0.5, 0.2, 0.5, 0.5]  # this test's three runs, then the two seen ones
    assert out["with_seen"]["bases"] == 2 and out["with_seen"]["mean_tau"] == pytest.approx(kendalltau(x, y).statistic)
    assert out["with_seen"]["middle_rate_cases"] == [f"x-s1{k}-rl-long-mid{t}" for k in (5, 6) for t in ("", "-s1")]
    noisy = out["without_noisy_base"]
    assert noisy["bases"] == 1 and list(noisy["per_base"]) == ["x-s16-base"]


def test_refuses_a_base_without_both_middle_rate_runs_a_twin_without_pass_at_1_and_too_many_runs():
    test, earlier, twins, manifests = _world(_ordered())
    with pytest.raises(InvalidConfigError, match="b0-base has 1 middle-rate runs read, not 2"):
        _ask(test, earlier[1:], twins, manifests)
    manifests["b0-rl-long"]["metrics"]["by_level"]["3"]["pass@1"] = float("nan")
    with pytest.raises(InvalidConfigError, match="b0-rl-long has no \\(finite\\) deepest-level pass@1"):
        _ask(test, earlier, twins, manifests)
    many = [{"pair": f"r{i}", "base": "b", "deepest_pass@1": i / 10, "p_creation": i / 10} for i in range(9)]
    with pytest.raises(InvalidConfigError, match="b has 9 cases"):
        lrmidseeds.within_base(many)


def test_a_failed_middle_rate_run_gives_its_base_no_prediction():
    test, earlier, twins, manifests = _world(_ordered())
    earlier[0] = {**earlier[0], "gain_check": "failed"}
    out = _ask(test, earlier, twins, manifests)
    assert out["references"]["b0-base"]["base_prediction"] is None
    assert out["references"]["b1-base"]["base_prediction"] == A


def test_the_committed_answer_is_what_the_command_computes(tmp_path):
    out = recomputed(lrmidseeds, "lrmidseeds", "composition-lrmid-seeds", tmp_path)
    assert out["verdict"] == "cannot answer" and len(out["runs"]) == 8
