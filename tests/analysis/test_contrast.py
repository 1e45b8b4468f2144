"""Tests of analysis.contrast on a tiny real model (a Hugging Face folder loaded through the project's loader)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlmeta_interp import load_model
from rlmeta_interp.analysis import contrast as con
from rlmeta_interp.errors import InvalidConfigError
from rlmeta_interp.hooks import hook_name
from rlmeta_interp.organism.worlds.arithmetic import ArithmeticConfig, ArithmeticWorld, format_of

from ..conftest import save_tiny

WORLD = ArithmeticWorld(ArithmeticConfig(min_operands=2, max_operands=3, max_digits=2))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = save_tiny(tmp_path_factory.mktemp("contrast") / "toy_model", "llama", seed=3)
    return load_model(folder)


def test_contrast_set_pairs_each_problem_with_a_scratchpad_and_a_direct_answer():
    c = con.contrast_set(WORLD, 6, seed=4)
    assert len(c) == 12 and c.labels.tolist() == [1, 0] * 6
    assert [format_of(x) for x in c.completions[0::2]] == ["sum", "eq"] * 3
    assert all(format_of(x) == "direct" for x in c.completions[1::2])
    for i, p in enumerate(c.problems):
        assert c.prompts[2 * i] == c.prompts[2 * i + 1] == p.prompt
        assert WORLD.reward(p, c.completions[2 * i]) == WORLD.reward(p, c.completions[2 * i + 1]) == 1.0
    with pytest.raises(InvalidConfigError):
        con.contrast_set(WORLD, 1, seed=0)


def test_depth_contrast_set_sets_deep_worked_chains_against_shallow_ones():
    world = ArithmeticWorld(ArithmeticConfig(min_operands=2, max_operands=7, max_digits=1, leak_free=True,
                                             verify="chain"))
    c = con.depth_contrast_set(world, 6, seed=2, shallow_max_depth=4)
    assert len(c) == 12 and c.labels.tolist() == [1] * 6 + [0] * 6
    depths = [len(p.meta["operands"]) for p in c.problems]
    assert depths == [5, 6, 7, 5, 6, 7, 2, 3, 4, 2, 3, 4]
    for p, text in zip(c.problems, c.completions, strict=True):
        assert world.reward(p, text) == 1.0 and text.count(">") == len(p.meta["operands"]) - 2  # a rewrite chain
        assert world.split_of(p) == "eval"  # held-out problems only
    with pytest.raises(InvalidConfigError, match="both sides"):
        con.depth_contrast_set(ArithmeticWorld(ArithmeticConfig(min_operands=5, max_operands=5)), 4, 0, 4)
    with pytest.raises(InvalidConfigError, match="n >= 2"):
        con.depth_contrast_set(world, 1, 0, 4)


def test_policy_contrast_set_plays_each_bandit_by_thompson_and_at_random():
    from rlmeta_interp.organism.worlds.bandits import BanditConfig, BanditWorld, parse_episode, regret

    world = BanditWorld(BanditConfig(n_arms=3, horizon=24, leak_free=True))
    c = con.policy_contrast_set(world, 40, seed=3)
    assert len(c) == 80 and c.labels.tolist() == [1] * 40 + [0] * 40 and set(c.prompts) == {""}
    assert c.problems[:40] == c.problems[40:]  # paired: the same bandits on both sides
    assert all(world.split_of(p) == "eval" for p in c.problems)
    regrets = []
    for p, text in zip(c.problems, c.completions, strict=True):
        pulls = parse_episode(text, world.config)
        assert pulls is not None and len(pulls) == 24
        regrets.append(regret(pulls, np.asarray(p.meta["means"])))
    # Thompson play learns which arm pays; uniform play does not
    assert np.mean(regrets[:40]) < 0.7 * np.mean(regrets[40:])
    assert con.policy_contrast_set(world, 40, seed=3).completions == c.completions  # deterministic in the seed
    with pytest.raises(InvalidConfigError, match="bandit world"):
        con.policy_contrast_set(WORLD, 4, 0)
    with pytest.raises(InvalidConfigError, match="n >= 2"):
        con.policy_contrast_set(world, 1, 0)


def test_behaviour_contrast_follows_the_base_corpus():
    from rlmeta_interp.organism.worlds.bandits import BanditConfig, BanditWorld
    from rlmeta_interp.organism.worlds.planning import PlanningConfig, PlanningWorld

    scratch = con.behaviour_contrast(WORLD, 4, seed=4)  # no corpus (a real LM pair): scratchpad vs direct
    assert scratch.behaviour == "scratchpad vs direct answer"
    assert scratch.completions == con.contrast_set(WORLD, 4, seed=4).completions
    dosed_format = {"arithmetic_dose": "format", "dose": 0.5}
    assert con.behaviour_contrast(WORLD, 4, seed=4, corpus=dosed_format).completions == scratch.completions
    # a depth-dosed corpus: its own operand range and shown depth, in the evaluation world's split (an RL world that
    # trains 5-operand chains only still yields deep vs shallow chains of the corpus's range)
    rl_world = ArithmeticWorld(ArithmeticConfig(min_operands=5, max_operands=5, max_digits=1, leak_free=True,
                                                verify="chain"))
    corpus = {"arithmetic_dose": "depth", "depth_format": "rewrite", "shallow_max_depth": 3,
              "arithmetic": {"min_operands": 2, "max_operands": 6}}
    deep = con.behaviour_contrast(rl_world, 4, seed=2, corpus=corpus)
    assert deep.behaviour == "chains of 4-6 operands vs 2-3"
    assert [len(p.meta["operands"]) for p in deep.problems] == [4, 5, 6, 4, 2, 3, 2, 3]
    assert all(t.count(">") == len(p.meta["operands"]) - 2 for p, t in zip(deep.problems, deep.completions, strict=True))
    assert all(rl_world.split_of(p) == "eval" for p in deep.problems)
    mixed = con.behaviour_contrast(rl_world, 4, seed=2, corpus={**corpus, "depth_format": "mix"})
    assert all(format_of(t) == "sum" for t in mixed.completions)  # a mixed corpus contrasts in its first scratchpad
    bandits = con.behaviour_contrast(BanditWorld(BanditConfig(n_arms=3, horizon=12)), 3, seed=1, corpus=corpus)
    assert bandits.behaviour.startswith("Thompson") and bandits.labels.tolist() == [1] * 3 + [0] * 3
    assert con.behaviour_contrast(PlanningWorld(PlanningConfig()), 4, seed=1) is None


def test_completion_means_equal_a_manual_mean_over_completion_tokens(tiny):
    prompts, comps = ["12+3=", "7-4+10="], ["A:15", "7-4=3;3+10=13;A:13"]
    got = con.completion_means(tiny, prompts, comps, [0, 1], cache=False)
    for layer in (0, 1):
        for i, (p, c) in enumerate(zip(prompts, comps, strict=True)):
            ids = tiny.tl.to_tokens(p + c)  # BOS + characters
            _, cache = tiny.tl.run_with_cache(ids, names_filter=[hook_name(layer)])
            n_prompt = 1 + len(p)
            ref = cache[hook_name(layer)][0, n_prompt:].mean(0)
            torch.testing.assert_close(got[layer][i], ref, atol=1e-5, rtol=1e-4)


def test_contrast_direction_is_the_label_mean_difference_of_a_models_completion_means(tiny):
    c = con.ContrastSet(["12+3=", "12+3=", "7-4=", "7-4="], ["12+3=15;A:15", "A:15", "7-4=3;A:3", "A:3"],
                        np.array([1, 0, 1, 0]))
    v = con.contrast_direction(tiny, c, [0, 1])
    means = con.completion_means(tiny, c.prompts, c.completions, [0, 1], cache=False)
    for layer in (0, 1):  # worked minus direct, averaged over the two problems
        want = (means[layer][0] - means[layer][1] + means[layer][2] - means[layer][3]) / 2
        torch.testing.assert_close(v.vectors[layer], want, atol=1e-5, rtol=1e-4)


def test_contrast_vector_is_the_difference_of_label_means():
    acts = {2: torch.tensor([[1.0, 0.0], [0.0, 0.0], [3.0, 2.0], [0.0, 4.0]])}
    v = con.contrast_vector(acts, [1, 0, 1, 0])
    torch.testing.assert_close(v.vectors[2], torch.tensor([2.0, -1.0]))
    with pytest.raises(InvalidConfigError):
        con.contrast_vector(acts, [1, 1, 1, 1])
