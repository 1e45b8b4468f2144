"""Tests of experiments.pair_steering on a shipped depth pair, tiny real models, and hand-made steering tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rlmeta_interp import load_pair
from rlmeta_interp.analysis.contrast import completion_means, contrast_vector
from rlmeta_interp.errors import EmptyInputError, InvalidConfigError
from rlmeta_interp.experiments import pair_steering as ps
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
    for shallow in (0, 4):  # no depth, or one every dose shows: the dosed behaviour is not measured there
        with pytest.raises(InvalidConfigError, match="set OPERANDS .* above 4"):
            ps.pair_behaviour(WORLD, DEPTH, operands=shallow)


def test_pair_task_and_sweep_on_a_shipped_depth_pair():
    pair = load_pair("val-arith-depth-d000-sft-deep")
    contrast = ps.pair_contrast(pair, 4, seed=11)
    assert contrast.behaviour == "chains of 5-7 operands vs 2-4"
    task = ps.pair_task(pair, operands=5, n_problems=4)
    assert task.behaviour_name == "share of full 5-operand chains" and task.note == "chains of 5 operands"
    assert {p.meta["n_operands"] for p in task.problems} == {5}
    world = ArithmeticWorld()
    right = world.solution(task.problems[0], "rewrite")
    assert task.behaviour(0, right) and task.score(0, right) == 1.0
    assert not task.behaviour(0, "21>21>21>21;A:21") and not task.behaviour(1, right)  # another problem's chain
    vec = contrast_vector(completion_means(pair.base, contrast.prompts, contrast.completions, [0, 1]), contrast.labels)
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
    task = ps.pair_task(pair, n_problems=3, problem_seed=5)
    assert task.behaviour_name == "worked-style share" and task.note == "2-number questions"
    p = task.problems[0]
    assert p.prompt.startswith("Question: What is ") and task.max_new_tokens == ps.WORD_NEW_TOKENS
    assert task.score(0, f" {p.answer}.") == 1.0 and task.score(0, " I do not know.") == 0.0
    assert task.behaviour(0, " step 1: ...") and not task.behaviour(0, f" {p.answer}.")
    contrast = ps.pair_contrast(pair, 3, seed=5)
    assert contrast.labels.tolist() == [1, 0] * 3


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
    assert ps.effect_towards(t, "behaviour", target=0.58) is not None
    assert ps.effect_towards(t, "behaviour", target=0.54) is None  # 0.6 overshoots 0.54 further than 0.5 is from it
    with pytest.raises(InvalidConfigError, match="finite target"):
        ps.effect_towards(t, "behaviour", target=float("nan"))
    with pytest.raises(EmptyInputError):
        ps.effect_towards(t[t.condition != "unsteered"], "behaviour", target=1.0)


def test_towards_rl_describes_each_metric_and_a_base_already_at_the_rl_model():
    task = ps.SteeringTask([], lambda i, t: 0.0, lambda i, t: False, "share", 4, str, "")
    rl = pd.DataFrame([dict(metric="behaviour", value=1.0, ci_lo=0.985, ci_hi=1.0),
                       dict(metric="accuracy", value=0.9, ci_lo=0.85, ci_hi=0.94)]).set_index("metric")
    rnd = [("behaviour", "random", 0, 2.0, 0, 0.0, 0.0, 0.0, 0.0), ("accuracy", "random", 0, 2.0, 0, 0.0, 0.0, 0.0, 0.0)]
    rows = [("behaviour", "unsteered", -1, 0.0, None, 0.0, 0.0, 0.0, 0.0),
            ("accuracy", "unsteered", -1, 0.0, None, 0.0, 0.0, 0.0, 0.0),
            ("behaviour", "steered", 0, 2.0, None, 0.08, 0.08, 0.05, 0.11),
            ("accuracy", "steered", 0, 2.0, None, 0.0, 0.0, 0.0, 0.0)]
    r = ps.towards_rl(ps.PairSweep(_table(rows + rnd), rl, task, {}))
    assert r.behaviour["delta"] == 0.08 and r.behaviour["beats_random"] and r.accuracy is None and not r.at_rl
    at = [("behaviour", "unsteered", -1, 0.0, None, 1.0, 0.0, 0.0, 0.0),
          ("accuracy", "unsteered", -1, 0.0, None, 0.6, 0.0, 0.0, 0.0),
          ("behaviour", "steered", 0, 2.0, None, 0.2, -0.8, -0.9, -0.7),
          ("accuracy", "steered", 0, 2.0, None, 0.0, -0.6, -0.7, -0.5)]
    r = ps.towards_rl(ps.PairSweep(_table(at + rnd), rl, task, {}))
    assert r.at_rl and r.behaviour is None and r.accuracy is None
