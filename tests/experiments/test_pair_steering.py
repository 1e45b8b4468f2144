"""Tests of experiments.pair_steering on a shipped depth pair, tiny real models, and hand-made steering tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rlmeta_interp import load_pair
from rlmeta_interp.analysis.contrast import contrast_direction
from rlmeta_interp.analysis.stats import paired_proportion_diff_ci
from rlmeta_interp.errors import EmptyInputError, InvalidConfigError
from rlmeta_interp.experiments import pair_steering as ps
from rlmeta_interp.experiments.quickstart import worked_solution
from rlmeta_interp.organism.worlds.arithmetic import ArithmeticConfig, ArithmeticWorld
from rlmeta_interp.organism.worlds.base import Problem

from ..conftest import save_tiny

WORLD = ArithmeticWorld(ArithmeticConfig(min_operands=2, max_operands=3, max_digits=2))
DEPTH = {"arithmetic_dose": "depth", "shallow_max_depth": 4}
FIVE = Problem(prompt="3+5-7+4-8=", answer="-3", meta={"operands": [3, 5, 7, 4, 8], "ops": ["+", "-", "+", "-"]})


def test_pair_behaviour_follows_what_the_base_corpus_doses():
    name, share = ps.pair_behaviour(WORLD, None)
    assert name == "scratchpad share" and share(FIVE, "1+2=3;A:3") and not share(FIVE, "A:3")
    name, full = ps.pair_behaviour(WORLD, DEPTH, operands=5)
    assert name == "share of full 5-operand chains"
    assert full(FIVE, "8-7+4-8>1+4-8>5-8>-3;A:-3") and full(FIVE, "9-7+4-8>0+4-8>2-8>-6;A:-6")  # values unchecked
    assert not full(FIVE, "21>21>21>21;A:21") and not full(FIVE, "1+4-8>5-8>-3;A:-3") and not full(FIVE, "A:-3")
    assert not full(FIVE, "8-7+4-8>1+4-8>5-8>-3>-3;A:-3")  # a step after the last one
    for shallow in (0, 4):  # no depth, or one every dose shows: the dosed behaviour is not measured there
        with pytest.raises(InvalidConfigError, match="set OPERANDS .* above 4"):
            ps.pair_behaviour(WORLD, DEPTH, operands=shallow)


def test_pair_task_and_sweep_on_a_shipped_depth_pair():
    pair = load_pair("val-arith-depth-d000-sft-deep")
    contrast = ps.pair_contrast(pair, 4, seed=11)
    assert contrast.behaviour == "chains of 5-7 operands vs 2-4"
    task = ps.pair_task(pair, operands=5, n_problems=4, exclude=contrast.prompts)
    assert task.behaviour_name == "share of full 5-operand chains"
    assert task.note == "4 held-out problems (chains of 5 operands)"
    assert {p.meta["n_operands"] for p in task.problems} == {5}
    world = ArithmeticWorld()
    right = world.solution(task.problems[0], "rewrite")
    assert task.behaviour(0, right) and task.score(0, right) == 1.0
    assert not task.behaviour(0, "21>21>21>21;A:21") and not task.behaviour(1, right)  # another problem's chain
    vec = contrast_direction(pair.base, contrast, [0, 1])
    sweep = ps.pair_sweep(pair, vec, task, multipliers=[1.0], n_random=1, n_boot=20)
    assert sorted(set(sweep.table.layer)) == [-1, 0, 1]
    assert sorted(sweep.completions) == ["L0:random0@1", "L0:steered@1", "L1:random0@1", "L1:steered@1", "rl",
                                         "unsteered"]
    shown = [task.behaviour(i, t) for i, t in enumerate(sweep.completions["rl"])]
    assert sweep.rl.loc["behaviour", "value"] == pytest.approx(np.mean(shown))
    lo, hi = sweep.rl.loc["behaviour", ["ci_lo", "ci_hi"]]
    assert lo < hi  # a Wilson interval has width even when all four agree
    with pytest.raises(InvalidConfigError, match="set OPERANDS"):
        ps.pair_task(pair, n_problems=2)  # the pair's own world mixes depths: no single full-chain length
    deep = ps.pair_task(pair, operands=8, n_problems=1)
    with pytest.raises(InvalidConfigError, match="do not fit its context.*smaller OPERANDS"):
        ps.pair_sweep(pair, vec, deep, n_random=0, n_boot=20)


def test_a_pair_without_a_recorded_world_is_steered_as_a_real_lm(tmp_path):
    base = save_tiny(tmp_path / "base_llama", "llama", seed=0)
    rl = save_tiny(tmp_path / "rl_llama", "llama", seed=1)
    pair = load_pair((base, rl))
    assert ps.is_real_lm(pair)
    contrast = ps.pair_contrast(pair, 64, seed=5)
    task = ps.pair_task(pair, n_problems=64, problem_seed=5, exclude=contrast.prompts)
    assert task.behaviour_name == "worked-style share" and task.note == "64 questions of 2 numbers"
    prompts = [q.prompt for q in task.problems]
    assert len(set(prompts)) == 64 and not set(prompts) & set(contrast.prompts)  # distinct, none fitted on
    with pytest.raises(InvalidConfigError, match="Only 1.. distinct questions of 2 numbers outside the contrast texts"):
        ps.pair_task(pair, n_problems=150, exclude=contrast.prompts)  # 162 one-digit two-number questions exist
    p = task.problems[0]
    # the default budget fits any worked answer to these questions (the contrast's format) with its result
    assert p.prompt.startswith("Question: What is ") and task.max_new_tokens == 62
    assert max(len(worked_solution(q)) for q in task.problems) <= task.max_new_tokens
    assert ps.pair_task(pair, n_problems=2, word_new_tokens=40).max_new_tokens == 40
    assert task.score(0, f" {p.answer}.") == 1.0 and task.score(0, " I do not know.") == 0.0
    assert task.behaviour(0, " step 1: ...") and not task.behaviour(0, f" {p.answer}.")
    assert contrast.labels.tolist() == [1, 0] * 64


def test_direction_task_of_a_real_lm_pair_and_of_a_depth_pair(tmp_path):
    base = save_tiny(tmp_path / "base_llama", "llama", seed=0)
    rl = save_tiny(tmp_path / "rl_llama", "llama", seed=1)
    task = ps.direction_task(load_pair((base, rl)), n_contrast=40, n_problems=30, problem_seed=7, word_new_tokens=30)
    assert task.contrast.behaviour == "step by step vs direct answer" and task.contrast.labels.tolist() == [1, 0] * 40
    prompts = [p.prompt for p in task.problems]
    assert len(set(prompts)) == 30 and not set(prompts) & set(task.contrast.prompts)  # distinct, none fitted on
    assert {len(p.meta["operands"]) for p in task.problems} == {2} and all(p.meta["operands"][0] >= 10 for p in task.problems)
    assert task.new_tokens == 30 and not task.world.config.leak_free and task.note == "questions of 2 two-digit numbers"
    assert ps.direction_task(load_pair((base, rl)), n_contrast=4, n_problems=4).new_tokens is None  # the world's budget
    p = task.problems[0]
    assert task.world.reward(p, f" {p.answer}.") == 1.0
    assert len(ps.direction_task(load_pair((base, rl)), operands=3, n_contrast=4, n_problems=4).problems[0].meta[
        "operands"]) == 3
    depth = ps.direction_task(load_pair("val-arith-depth-d000-sft-deep"), operands=5, n_contrast=4, n_problems=6)
    assert depth.contrast.behaviour == "chains of 5-7 operands vs 2-4" and depth.new_tokens is None
    assert {q.meta["n_operands"] for q in depth.problems} == {5} and depth.world.config.leak_free
    assert all(depth.world.split_of(q) == "eval" for q in depth.problems)
    assert depth.note == "held-out problems, chains of 5 operands"
    # in the pair's own world too, every problem is distinct and none is a contrast prompt
    own = ps.direction_task(load_pair("val-arith-depth-d000-sft-deep"), n_contrast=96, n_problems=64)
    prompts = [q.prompt for q in own.problems]
    assert len(set(prompts)) == 64 and not set(prompts) & set(own.contrast.prompts) and own.note == "held-out problems"


def _table(rows):
    return pd.DataFrame([dict(condition=c, layer=-1 if c == "unsteered" else layer, multiplier=m, seed=s,
                              metric=metric, value=v, ci_lo=v - 0.05, ci_hi=v + 0.05, delta=d, delta_lo=lo,
                              delta_hi=hi, n=10) for metric, c, layer, m, s, v, d, lo, hi in rows])


def test_effect_towards_keeps_only_changes_that_bring_the_base_closer():
    rows = [("behaviour", "unsteered", -1, 0.0, None, 0.5, 0.0, 0.0, 0.0),
            ("behaviour", "steered", 1, 1.0, None, 0.6, 0.1, 0.05, 0.15),  # closer to 1.0, beyond its random control
            ("behaviour", "steered", 1, 2.0, None, 0.0, -0.5, -0.7, -0.3),  # larger, away from 1.0
            ("behaviour", "random", 1, 1.0, 0, 0.48, -0.02, -0.1, 0.05),
            ("behaviour", "random", 1, 2.0, 0, 0.45, -0.05, -0.1, 0.0)]
    t = _table(rows)
    up = ps.effect_towards(t, "behaviour", target=1.0)
    assert (up["multiplier"], up["delta"], up["beats_random"], up["n_random"]) == (1.0, 0.1, True, 1)
    assert ps.effect_towards(t, "behaviour", target=0.0)["multiplier"] == 2.0
    assert ps.effect_towards(t, "behaviour", target=0.5) is None  # already at the target
    assert ps.effect_towards(t, "behaviour", target=1.0, layer=0) is None  # no steered row at that layer
    assert ps.effect_towards(t, "behaviour", target=0.6)["delta"] == 0.1  # reaching the target counts
    assert ps.effect_towards(t, "behaviour", target=0.58) is None  # 0.6 passes 0.58: not a move towards it
    # base 0.2, RL 0.5: a change to 0.5 is chosen over a larger one to 0.75 that passes the RL model
    over = _table([("accuracy", "unsteered", -1, 0.0, None, 0.2, 0.0, 0.0, 0.0),
                   ("accuracy", "steered", 0, 1.0, None, 0.5, 0.3, 0.2, 0.4),
                   ("accuracy", "steered", 0, 2.0, None, 0.75, 0.55, 0.45, 0.65)])
    assert ps.effect_towards(over, "accuracy", target=0.5)["multiplier"] == 1.0
    # a change a little past the RL value still counts when it stays within the RL model's interval (reach)
    assert ps.effect_towards(over, "accuracy", target=0.7, reach=0.8)["multiplier"] == 2.0
    with pytest.raises(InvalidConfigError, match="reach 0.6 must lie at or beyond the target 0.7"):
        ps.effect_towards(over, "accuracy", target=0.7, reach=0.6)
    with pytest.raises(InvalidConfigError, match="finite target"):
        ps.effect_towards(t, "behaviour", target=float("nan"))
    with pytest.raises(EmptyInputError):
        ps.effect_towards(t[t.condition != "unsteered"], "behaviour", target=1.0)


def _outcomes(task, completions):
    """Per-problem values of each run, scored as steering_effect scores them."""
    return {k: {"behaviour": np.array([float(bool(task.behaviour(i, t))) for i, t in enumerate(texts)]),
                "accuracy": np.array([float(task.score(i, t)) for i, t in enumerate(texts)])}
            for k, texts in completions.items()}


def test_towards_rl_describes_each_metric_and_the_room_left_to_move():
    rl = pd.DataFrame([dict(metric="behaviour", value=1.0, ci_lo=0.985, ci_hi=1.0),
                       dict(metric="accuracy", value=0.9, ci_lo=0.85, ci_hi=0.94)]).set_index("metric")
    rnd = [("behaviour", "random", 0, 2.0, 0, 0.0, 0.0, 0.0, 0.0), ("accuracy", "random", 0, 2.0, 0, 0.0, 0.0, 0.0, 0.0)]
    rows = [("behaviour", "unsteered", -1, 0.0, None, 0.0, 0.0, 0.0, 0.0),
            ("accuracy", "unsteered", -1, 0.0, None, 0.0, 0.0, 0.0, 0.0),
            ("behaviour", "steered", 0, 2.0, None, 0.08, 0.08, 0.05, 0.11),
            ("accuracy", "steered", 0, 2.0, None, 0.0, 0.0, 0.0, 0.0)]
    # per-problem outcomes the room is computed from: "b" shows the behaviour, "a" is right
    task = ps.SteeringTask([], lambda i, t: float("a" in t), lambda i, t: "b" in t, "share", 4, str, "")
    completions = {"unsteered": ["", "", "", ""], "rl": ["ab", "b", "ab", "b"]}  # as the table says: 0 and 0 unsteered
    r = ps.towards_rl(ps.PairSweep(_table(rows + rnd), rl, task, completions, _outcomes(task, completions)), n_boot=200)
    assert r.behaviour["delta"] == 0.08 and r.behaviour["beats_random"] and r.accuracy is None
    assert r.room["behaviour"][0] == 1.0 and r.room["accuracy"][0] == 0.5
    lo, hi = r.room["accuracy"][1:]
    assert -1.0 < lo < 0.5 < hi < 1.0  # 2 of 4 problems: the interval is Newcombe's, paired over the problems
    assert (lo, hi) == paired_proportion_diff_ci([1, 0, 1, 0], [0, 0, 0, 0])
    lo, hi = r.room["behaviour"][1:]
    assert 0.0 < lo < 1.0 and hi == 1.0  # every problem differs the same way, and the interval keeps width
    at = [("behaviour", "unsteered", -1, 0.0, None, 1.0, 0.0, 0.0, 0.0),
          ("accuracy", "unsteered", -1, 0.0, None, 0.6, 0.0, 0.0, 0.0),
          ("behaviour", "steered", 0, 2.0, None, 0.2, -0.8, -0.9, -0.7),
          ("accuracy", "steered", 0, 2.0, None, 0.0, -0.6, -0.7, -0.5)]
    same = {"unsteered": ["b", "b", "ab", "b"], "rl": ["b", "b", "ab", "b"]}
    r = ps.towards_rl(ps.PairSweep(_table(at + rnd), rl, task, same, _outcomes(task, same)), n_boot=200)
    assert r.behaviour is None and r.accuracy is None and r.room["behaviour"][0] == 0.0
    assert r.room["behaviour"][1] < 0.0 < r.room["behaviour"][2]  # four equal pairs do not prove "no room at all"


def test_a_bandit_pair_is_refused_before_anything_is_harvested():
    from rlmeta_interp.registry import zoo_pairs

    name = next(n for n, p in sorted(zoo_pairs().items()) if p.world == "bandits")  # a shipped bandit pair
    with pytest.raises(InvalidConfigError, match="steers arithmetic organisms .* pick an arithmetic pair"):
        ps.pair_contrast(load_pair(name), 4, seed=0)
    with pytest.raises(InvalidConfigError, match="notebook 01 measures arithmetic organisms .* 'bandits' world"):
        ps.direction_task(load_pair(name), n_contrast=4, n_problems=4)


def test_describe_sweep_lists_the_changes_the_room_and_the_label_and_no_verdict():
    rl = pd.DataFrame([dict(metric="behaviour", value=1.0, ci_lo=0.985, ci_hi=1.0),
                       dict(metric="accuracy", value=0.9, ci_lo=0.85, ci_hi=0.94)]).set_index("metric")
    rows = [("behaviour", "unsteered", -1, 0.0, None, 0.0, 0.0, 0.0, 0.0),
            ("accuracy", "unsteered", -1, 0.0, None, 0.0, 0.0, 0.0, 0.0),
            ("behaviour", "steered", 0, 2.0, None, 0.08, 0.08, 0.05, 0.11),
            ("accuracy", "steered", 0, 2.0, None, 0.0, 0.0, 0.0, 0.0),
            ("behaviour", "random", 0, 2.0, 0, 0.0, 0.0, 0.0, 0.0), ("accuracy", "random", 0, 2.0, 0, 0.0, 0.0, 0.0, 0.0)]
    task = ps.SteeringTask([], lambda i, t: float("a" in t), lambda i, t: "b" in t, "share", 4, str,
                           "4 held-out problems")
    completions = {"unsteered": ["", "", "", ""], "rl": ["ab", "b", "ab", "b"]}
    sweep = ps.PairSweep(_table(rows), rl, task, completions, _outcomes(task, completions))
    lines = ps.describe_sweep(sweep, "p (dose 0.0, creation)", "deep vs shallow", layer=0, label="creation", n_boot=200)
    assert lines[0] == "**p (dose 0.0, creation)** (4 held-out problems, seed 0; vector: deep vs shallow)."
    assert lines[4] == "- The RL model, unsteered: share 1.00 [0.98, 1.00], accuracy 0.90 [0.85, 0.94]."
    assert lines[5].startswith("- Towards the RL model: share (RL model 1.00): unsteered 0.00")
    assert lines[6] == ("- Towards the RL model: greedy accuracy: no steered change brings it towards the RL model's"
                        " 0.90 without passing its 95% CI.")
    assert lines[7].startswith("- Room left to move (RL model minus unsteered base, paired over the same problems):"
                               " share +1.00 [+0.31, +1.00]; greedy accuracy +0.50 [-0.10, +0.85].")
    assert lines[-1] == "- Label fixed before tuning: creation." and len(lines) == 9
    assert len(ps.describe_sweep(sweep, "p", "c", layer=0, n_boot=200)) == 8  # no label, no label line
