"""Difficulty bands and rule-based shortcut detection, against hand-made completions and real tiny models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rlmeta_interp import load_model, load_pair
from rlmeta_interp.errors import EmptyInputError, InvalidConfigError
from rlmeta_interp.experiments import difficulty as df_
from rlmeta_interp.organism.worlds.arithmetic import ArithmeticConfig, ArithmeticWorld
from rlmeta_interp.organism.worlds.base import Problem

from ..conftest import save_tiny


def _problem(operands, ops):
    from rlmeta_interp.organism.worlds.arithmetic import evaluate, render_prompt

    return Problem(prompt=render_prompt(operands, ops), answer=str(evaluate(operands, ops)[-1]),
                   meta={"operands": operands, "ops": ops, "n_operands": len(operands)})


P = _problem([12, 7, 3], ["+", "-"])  # 12+7-3 = 16


def test_world_solutions_are_clean_in_every_format():
    world = ArithmeticWorld(ArithmeticConfig(min_operands=2, max_operands=6))
    for p in world.sample(30, seed=4):
        for fmt in ("sum", "eq", "rewrite"):
            f = df_.shortcut_flags(p, world.solution(p, fmt))
            assert f["correct"] and f["format"] == fmt and f["n_steps"] == p.meta["n_operands"] - 1
            assert not any(f[k] for k in ("skipped_steps", "skipped_computation", "repeated", "wrong_step",
                                           "unfaithful", "direct"))
        d = df_.shortcut_flags(p, world.solution(p, "direct"))
        assert d["correct"] and d["direct"] and d["skipped_computation"] and not d["skipped_steps"]
        assert d["missing_steps"] == p.meta["n_operands"] - 1


@pytest.mark.parametrize("completion, flags", [
    ("12 plus 7 is 19. A:16", {"skipped_steps", "skipped_computation", "unfaithful"}),  # a step left out
    ("12 plus 7 is 19. 19 minus 3 is 16. 19 minus 3 is 16. A:16", {"repeated"}),  # looping
    ("12+7=19;19-3=16;A:16 A:16", {"repeated"}),  # two answer markers (and no parseable answer)
    ("12+7=18;18-3=15;A:15", {"wrong_step"}),  # arithmetic slip, faithful to it
    ("12+7=19;19-3=16;A:17", {"unfaithful"}),
    ("A:12", {"direct", "skipped_computation", "copied_operand"}),
    ("12+3=15;A:15", {"skipped_steps", "skipped_computation"}),  # the step skips the operand 7
])
def test_flags_on_handmade_completions(completion, flags):
    f = df_.shortcut_flags(P, completion)
    checked = {"skipped_steps", "skipped_computation", "repeated", "wrong_step", "unfaithful", "direct", "copied_operand"}
    assert {k for k in checked if f[k]} == flags


R = _problem([12, 7, 3, 4], ["+", "-", "+"])  # 12+7-3+4 = 20; rewrite solution "19-3+4>16+4>20;A:20"


@pytest.mark.parametrize("completion, flags, n_steps", [
    ("19-3+4>16+4>20;A:20", set(), 3),
    ("19-3>16;A:16", {"skipped_steps", "skipped_computation"}, 2),  # the chain of a shorter problem: +4 left out
    ("19-3+4>16+4>20>20>20;A:20", {"repeated"}, 3),  # the final value written again: no step, but a loop
    ("19+4>23;A:23", {"skipped_steps", "skipped_computation"}, 2),  # "-3" dropped from the operations left
    ("19-3+4>16-4>12;A:12", {"skipped_steps", "skipped_computation", "copied_operand"}, 3),  # "+4" copied as "-4"
    # (computed right; its answer 12 is also the first operand)
    ("19-3+4>17+4>21;A:21", {"wrong_step"}, 3),  # 19-3 written as 17, then carried on faithfully
    ("19-3+4>16+4>20;A:21", {"unfaithful"}, 3),
    ("19-3+4>16+4>20;A:20 A:20", {"repeated"}, 3),
])
def test_flags_read_the_rewrite_format(completion, flags, n_steps):
    f = df_.shortcut_flags(R, completion)
    checked = {"skipped_steps", "skipped_computation", "repeated", "wrong_step", "unfaithful", "direct", "copied_operand"}
    assert {k for k in checked if f[k]} == flags and f["n_steps"] == n_steps
    assert f["format"] == "rewrite"
    assert [(s.a, s.op, s.b) for s in df_.parse_steps(completion, R.prompt)][:1] == [(12, "+", 7)]
    assert df_.parse_steps("A:20", R.prompt) == [] and df_.parse_steps("19-3>16;A:16") == [
        df_.Step(19, "-", 3, 16)]  # without the prompt the first line's step is not read


def test_rewrite_steps_with_negative_values_and_an_unfinished_chain():
    p = _problem([3, 9, 4], ["-", "-"])  # 3-9-4 = -10; rewrite "-6-4>-10;A:-10"
    assert df_.parse_steps("-6-4>-10;A:-10", p.prompt) == [df_.Step(3, "-", 9, -6), df_.Step(-6, "-", 4, -10)]
    f = df_.shortcut_flags(p, "-6-4>-10;A:-10")
    assert f["format"] == "rewrite" and not any(f[k] for k in ("skipped_steps", "wrong_step", "repeated", "unfaithful"))
    assert df_.parse_steps("-6-4>", p.prompt) == [df_.Step(3, "-", 9, -6)]  # cut off mid-chain: the lines written
    assert df_.parse_steps("-6-4", p.prompt) == []  # one unterminated line is not read as a scratchpad
    cut = df_.shortcut_flags(p, "-6-4>")
    assert cut["format"] == "other" and cut["answer"] is None and not cut["correct"]


def test_correct_is_the_worlds_verdict_when_a_world_is_given():
    chain = ArithmeticWorld(ArithmeticConfig(verify="chain"))
    guessed = "19-3+4>99+4>20;A:20"  # right answer, wrong chain
    f = df_.shortcut_flags(R, guessed, chain)
    assert f["answer_right"] and not f["correct"] and f["wrong_step"]
    assert df_.shortcut_flags(R, guessed)["correct"]  # no world: the answer alone
    assert df_.shortcut_flags(R, "19-3+4>16+4>20;A:20", chain)["correct"]
    t = df_.shortcut_table([R], [[guessed, "19-3+4>16+4>20;A:20"]], chain)
    assert t["correct"].tolist() == [False, True] and t["answer_right"].tolist() == [True, True]


def test_parse_steps_mixed_and_missing_steps_count():
    steps = df_.parse_steps("12 plus 7 is 19. 19-3=16;A:16")
    assert [(s.a, s.op, s.b, s.c) for s in steps] == [(12, "+", 7, 19), (19, "-", 3, 16)]
    assert df_.shortcut_flags(P, "12 plus 7 is 19. A:16")["missing_steps"] == 1


def test_modal_share_and_rates_against_numpy():
    assert df_.modal_answer_share([3, 3, 5, None]) == pytest.approx(0.5)
    assert df_.modal_answer_share([None, None]) == 0.0
    rng = np.random.default_rng(0)
    t = pd.DataFrame({"problem": np.repeat(np.arange(10), 4), "answer": rng.integers(0, 3, 40)})
    for f in df_.FLAGS:
        t[f] = rng.random(40) < 0.3
    r = df_.shortcut_rates(t, n_boot=200).set_index("metric")
    for f in df_.FLAGS:
        assert r.loc[f, "rate"] == pytest.approx(t[f].mean())  # equal samples per problem: the overall mean
        assert r.loc[f, "ci_lo"] <= r.loc[f, "rate"] <= r.loc[f, "ci_hi"]
    assert r.loc["modal_answer_share", "rate"] == pytest.approx(t["answer"].value_counts().iloc[0] / 40)


def _samples(model, correct_by_problem):
    rows = []
    for p, pattern in enumerate(correct_by_problem):
        for s, c in enumerate(pattern):
            rows.append({"model": model, "problem": p, "sample": s, "n_operands": 2, "correct": bool(c),
                         "answer": 1, "truth": 1, **{f: False for f in df_.FLAGS if f != "correct"}})
    return rows


def test_already_solved_selects_on_one_half_and_measures_on_the_other():
    cfg = df_.DifficultyConfig(operands=(2,), n_samples=4, n_boot=100, solved_threshold=0.5)
    base = [[1, 1, 0, 0], [0, 0, 1, 1], [1, 0, 1, 0], [0, 0, 0, 0]]
    rl = [[1, 1, 1, 1], [1, 1, 1, 1], [0, 0, 0, 0], [1, 1, 1, 1]]
    res = df_.DifficultyResult(cfg, ["base", "rl"], pd.DataFrame(_samples("base", base) + _samples("rl", rl)))
    t = res.already_solved().set_index("model")
    # selected: problems 0 and 2 (base >= 0.5 on samples 0-1); measured on samples 2-3
    assert t.loc["base", "n_selected"] == 2
    assert t.loc["base", "acc"] == pytest.approx(np.mean([0.0, 0.5]))  # not the inflated 1.0 / 0.5 of the selection half
    assert t.loc["rl", "acc"] == pytest.approx(np.mean([1.0, 0.0]))
    assert t.loc["rl", "d_vs_ref"] == pytest.approx(0.25)
    lv = res.accuracy_by_level().set_index("model")
    assert lv.loc["base", "acc"] == pytest.approx(np.mean(base)) and lv.loc["rl", "acc"] == pytest.approx(np.mean(rl))
    assert lv.loc["base", "d_vs_ref"] == 0.0


def test_accuracies_that_are_all_zero_or_one_per_problem_get_score_intervals():
    from rlmeta_interp.analysis.stats import paired_proportion_diff_ci, proportion_ci

    cfg = df_.DifficultyConfig(operands=(2,), n_samples=2, n_boot=100)
    base = [[0, 0]] * 20  # solves nothing: a bootstrap reads 0 of 20 as [0, 0]
    rl = [[1, 1]] * 5 + [[0, 0]] * 15
    res = df_.DifficultyResult(cfg, ["base", "rl"], pd.DataFrame(_samples("base", base) + _samples("rl", rl)))
    lv = res.accuracy_by_level().set_index("model")
    assert (lv.loc["base", "ci_lo"], lv.loc["base", "ci_hi"]) == pytest.approx(proportion_ci(np.zeros(20)))
    assert lv.loc["base", "ci_hi"] > 0.1
    per_rl, per_base = np.array([1.0] * 5 + [0.0] * 15), np.zeros(20)
    assert (lv.loc["rl", "d_lo"], lv.loc["rl", "d_hi"]) == pytest.approx(paired_proportion_diff_ci(per_rl, per_base))
    # the reference's own change is 0 by definition, with no interval around it
    assert (lv.loc["base", "d_lo"], lv.loc["base", "d_hi"]) == (0.0, 0.0)
    sc = res.shortcut_changes().set_index(["model", "metric"])
    assert (sc.loc[("base", "correct"), "d_lo"], sc.loc[("base", "correct"), "d_hi"]) == (0.0, 0.0)
    assert (sc.loc[("rl", "correct"), "d_lo"], sc.loc[("rl", "correct"), "d_hi"]) == pytest.approx(
        paired_proportion_diff_ci(per_rl, per_base))
    # a flag no sample shows: Wilson's interval over the 20 problems, not a bootstrap's [0, 0]
    rates = df_.shortcut_rates(res.samples[res.samples.model == "base"], n_boot=100).set_index("metric")
    assert (rates.loc["direct", "ci_lo"], rates.loc["direct", "ci_hi"]) == pytest.approx(proportion_ci(np.zeros(20)))
    # fractional accuracies keep the bootstrap over problems
    from rlmeta_interp.analysis.stats import bootstrap_ci

    mixed = [[1, 0]] * 10 + [[1, 1]] * 10
    half = df_.DifficultyResult(cfg, ["base", "rl"], pd.DataFrame(_samples("base", mixed)
                                                                  + _samples("rl", rl))).accuracy_by_level()
    assert tuple(half.set_index("model").loc["base", ["ci_lo", "ci_hi"]]) == bootstrap_ci(
        np.array([0.5] * 10 + [1.0] * 10), n_boot=100)


def test_config_validation():
    with pytest.raises(InvalidConfigError, match="operands"):
        df_.DifficultyConfig(operands=(1, 2))
    with pytest.raises(InvalidConfigError, match="n_samples"):
        df_.DifficultyConfig(n_samples=1)


def test_run_difficulty_on_tiny_models(tmp_path):
    base = load_model(save_tiny(tmp_path / "b", "llama", seed=0))
    other = load_model(save_tiny(tmp_path / "r", "llama", seed=1))
    world = df_.difficulty_world(ArithmeticWorld(), (2, 4))
    assert (world.config.min_operands, world.config.max_operands) == (2, 4)
    cfg = df_.DifficultyConfig(operands=(2, 4), n_problems=3, n_samples=4, n_boot=50)
    res = df_.run_difficulty({"base": base, "rl": other}, world, cfg)
    assert len(res.samples) == 2 * 2 * 3 * 4
    assert set(res.samples.groupby("problem").n_operands.nunique()) == {2}  # problem ids are per level
    assert set(res.samples.prompt) == {p.prompt for k in (2, 4) for p in df_.level_problems(world, cfg, k)}
    by = res.samples.groupby(["model", "n_operands"]).size()
    assert (by == 12).all()
    lv = res.accuracy_by_level()
    assert set(lv.n_operands) == {2, 4} and (lv.acc >= 0).all()
    ch = res.shortcut_changes().set_index(["model", "metric"])
    rates = res.samples.groupby("model")["skipped_computation"].mean()  # equal samples per problem: plain means
    assert ch.loc[("rl", "skipped_computation"), "rate"] == pytest.approx(rates["rl"])
    assert ch.loc[("rl", "skipped_computation"), "d_vs_ref"] == pytest.approx(rates["rl"] - rates["base"])
    assert ch.loc[("base", "correct"), "d_vs_ref"] == 0.0
    sc = res.shortcuts(by_level=True)
    assert {"truth_modal_answer_share", "skipped_computation"} <= set(sc.metric)
    with pytest.raises(InvalidConfigError, match="reference"):
        df_.run_difficulty({"rl": other}, world, cfg)


def test_level_problems_are_held_out_in_a_leak_free_world():
    cfg = df_.DifficultyConfig(operands=(3, 5), n_problems=40)
    leak_free = df_.difficulty_world(ArithmeticWorld(ArithmeticConfig(leak_free=True, max_operands=7)), (3, 5))
    for k in cfg.operands:
        probs = df_.level_problems(leak_free, cfg, k)
        assert len(probs) == 40 and {p.meta["n_operands"] for p in probs} == {k}
        assert {leak_free.split_of(p) for p in probs} == {"eval"}
    # without hash splits the draws are the world's own, bit for bit
    plain = df_.difficulty_world(ArithmeticWorld(), (3, 5))
    assert [p.prompt for p in df_.level_problems(plain, cfg, 3)] == [
        p.prompt for p in plain.sample(40, seed=cfg.problem_seed + 3, operands=3)]
    assert {plain.split_of(p) for p in df_.level_problems(plain, cfg, 3)} != {"eval"}


def _level_rows(model, acc_by_level, n_problems=4, n_samples=4, flags=()):
    rows = []
    for k, acc in acc_by_level.items():
        for p in range(n_problems):
            for s in range(n_samples):
                rows.append({"model": model, "problem": p, "sample": s, "n_operands": k, "correct": s < acc * n_samples,
                             "answer": 1, "truth": 1, **{f: f in flags for f in df_.FLAGS if f != "correct"}})
    return rows


def test_band_table_reads_too_hard_damage_and_shortcuts():
    cfg = df_.DifficultyConfig(operands=(2, 3), n_samples=4, n_boot=200)
    rows = (_level_rows("base", {2: 1.0, 3: 0.0}) + _level_rows("kept", {2: 1.0, 3: 0.5})
            + _level_rows("broken", {2: 0.0, 3: 0.0}, flags=("skipped_computation", "repeated")))
    res = df_.DifficultyResult(cfg, ["base", "kept", "broken"], pd.DataFrame(rows))
    t = res.band_table({"kept": (2, 2), "broken": (3, 3)}).set_index("model")
    assert t.loc["kept", "band"] == "2" and t.loc["kept", "base_acc_on_band"] == 1.0 and not t.loc["kept", "too_hard"]
    assert not t.loc["kept", "damaged"] and not t.loc["kept", "shortcut"]
    assert t.loc["broken", "too_hard"] and t.loc["broken", "damaged"] and t.loc["broken", "shortcut"]
    assert df_.band_verdict(t.reset_index()).startswith("**Agrees with claim 10**")
    assert res.band_table({"kept": (2, 3)}).loc[0, "band"] == "2-3"
    with pytest.raises(InvalidConfigError, match="add its band"):
        res.band_table({"kept": (3, 5)})
    for wrong in ("base", "nobody"):
        with pytest.raises(InvalidConfigError, match="not a tuned model"):
            res.band_table({wrong: (2, 2)})
    none_solved = df_.DifficultyResult(cfg, ["base", "kept"], pd.DataFrame(
        _level_rows("base", {2: 0.0, 3: 0.0}) + _level_rows("kept", {2: 1.0, 3: 1.0})))
    t = none_solved.band_table({"kept": (2, 3)}).set_index("model")
    assert t.loc["kept", "too_hard"] and not t.loc["kept", "damaged"]  # nothing the base solved, nothing to damage


@pytest.mark.parametrize("too_hard, damaged, shortcut, moved, start", [
    ([True, False], [True, False], [True, False], None, "**Agrees"),
    ([True, False], [False, True], [False, False], None, "**Does not reproduce"),
    ([True, False], [True, False], [False, False], None, "**Does not reproduce"),  # damage without a shortcut
    ([False, False], [True, False], [True, False], None, "**Claim 10 is not tested"),
    ([True, False], [False, True], [False, False], [False, True], "**Claim 10 is not tested"),  # the too-hard run: no step
    ([True, False], [True, False], [True, False], [True, None], "**Agrees"),  # unknown checksums count as tested
])
def test_band_verdict(too_hard, damaged, shortcut, moved, start):
    t = pd.DataFrame({"model": ["a", "b"], "too_hard": too_hard, "damaged": damaged, "shortcut": shortcut})
    if moved is not None:
        t["moved"] = pd.Series(moved, dtype=object)
    v = df_.band_verdict(t)
    assert v.startswith(start)
    still = [m for m, x in zip("ab", moved or [None, None], strict=True) if x is False]
    dmg = [m for m, d in zip("ab", damaged, strict=True) if d and m not in still]
    assert "damaged base-solved problems: " + (", ".join(f"`{m}`" for m in dmg) or "none") in v
    assert "moved no weight (not a test): " + (", ".join(f"`{m}`" for m in still) or "none") in v
    with pytest.raises(EmptyInputError):
        df_.band_verdict(t.iloc[:0])


def test_models_by_base_groups_each_tuned_model_with_its_own_base(tmp_path):
    a, b, c = (save_tiny(tmp_path / n, "llama", seed=i) for i, n in enumerate("abc"))
    groups = df_.models_by_base([load_pair((a, b)), load_pair((a, c)), load_pair((b, c))])
    assert list(groups) == ["a", "b"]
    assert list(groups["a"]) == ["base", "a~b", "a~c"] and groups["a"]["base"].name == "a"
    assert groups["b"]["b~c"].name == "c" and groups["a"]["a~c"].name == "c"
    with pytest.raises(InvalidConfigError, match="both labelled"):
        df_.models_by_base([load_pair((a, b)), load_pair((a, b))])
    with pytest.raises(EmptyInputError):
        df_.models_by_base([])


def test_trained_band_of_an_rl_pair_and_refusal_of_a_fine_tuned_one():
    from types import SimpleNamespace

    from rlmeta_interp.organism.zoo import preset_specs

    assert df_.trained_band(load_pair("demo-arith-d050-rl-correct")) == (2, 4)
    # the depth-edge recipe's RL model, as its manifest records its spec: the band is its RL prompts', not its base's
    specs = {s.name: s for s in preset_specs("validation")}
    edge, base = specs["val-arith-depth-d000-rl-edge"], specs["val-arith-depth-d000-base"]
    pair = SimpleNamespace(name=edge.name, world="arithmetic",
                           base=SimpleNamespace(manifest={"kind": "base", "config": base.to_dict()}),
                           rl=SimpleNamespace(manifest={"kind": "rl", "config": edge.to_dict()}))
    assert df_.trained_band(pair) == (5, 5) and (base.arithmetic.min_operands, base.arithmetic.max_operands) == (2, 7)
    with pytest.raises(InvalidConfigError, match="not 'rl'"):
        df_.trained_band(load_pair("val-arith-depth-d000-sft-deep"))


def test_model_sentence_and_the_verdict_from_variant_names():
    cfg = df_.DifficultyConfig(operands=(2, 3), n_samples=4, n_boot=200)
    rows = (_level_rows("base", {2: 1.0, 3: 0.5}) + _level_rows("easy", {2: 1.0, 3: 0.5})
            + _level_rows("hard", {2: 0.0, 3: 0.0}, flags=("skipped_computation",)))
    res = df_.DifficultyResult(cfg, ["base", "easy", "hard"], pd.DataFrame(rows))
    hard = res.model_sentence("hard")
    assert hard.startswith("on 2-operand problems accuracy 0.000, change vs base -1.000") and "(lower than the base)" in hard
    assert "base-solved problems" in hard and "skipped computation 1" in hard and hard.endswith(").")
    assert "(not detectably different from the base)" in res.model_sentence("easy")
    with pytest.raises(InvalidConfigError, match="not a tuned model"):
        res.model_sentence("base")
    t = res.band_table({"easy": (2, 2), "hard": (3, 3)})
    assert df_.named_band_verdict(t).startswith("**Agrees with claim 10**")  # only hard: damage and shortcuts
    assert df_.named_band_verdict(t.assign(damaged=True)).startswith("**Does not reproduce")
    assert df_.named_band_verdict(t[t.model != "hard"]).startswith("The hard-band variant is not in this zoo")
