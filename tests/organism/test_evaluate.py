import numpy as np
import pytest
import torch

from rlmeta_interp.errors import EmptyInputError
from rlmeta_interp.organism.evaluate import (
    evaluate_bandits, evaluate_single_turn, pass_k_grid, rollout_bandits, rollout_regret,
)
from rlmeta_interp.organism.pretrain import ModelConfig, build_model
from rlmeta_interp.organism.tokenizer import build_tokenizer
from rlmeta_interp.organism.worlds.arithmetic import ArithmeticConfig, ArithmeticWorld
from rlmeta_interp.organism.worlds.bandits import BanditConfig, BanditWorld
from rlmeta_interp.organism.worlds.base import Problem


@pytest.fixture(scope="module")
def tiny():
    tok = build_tokenizer()
    model = build_model(ModelConfig(d_model=32, n_layers=2, n_heads=2, d_mlp=64, max_len=64), tok, seed=0).eval()
    return model, tok


def test_pass_k_grid():
    assert pass_k_grid(64) == [1, 2, 4, 8, 16, 32, 64]
    assert pass_k_grid(6) == [1, 2, 4, 6]
    assert pass_k_grid(1) == [1]


def test_single_turn_metrics_are_consistent(tiny):
    model, tok = tiny
    w = ArithmeticWorld(ArithmeticConfig(max_operands=2, max_digits=1))
    probs = w.sample(3, seed=0)
    out = evaluate_single_turn(model, tok, w, probs, n=4, seed=0, max_new_tokens=6)
    ks = [out[f"pass@{k}"] for k in (1, 2, 4)]
    assert all(0.0 <= v <= 1.0 for v in ks) and ks == sorted(ks)
    assert sum(out["format_shares"].values()) == pytest.approx(1.0)
    assert out["n_samples"] == 4 and out["n_problems"] == 3


def test_bandit_rollout_environment_and_masks(tiny):
    model, tok = tiny
    w = BanditWorld(BanditConfig(n_arms=3, horizon=6))
    # deterministic arms: b always pays, a and c never do
    probs = [Problem("", "b", {"means": [0.0, 1.0, 0.0]})] * 2
    roll = rollout_bandits(model, tok, w, probs, per_problem=3, seed=1)
    assert roll.tokens.shape == (6, 12) and roll.problem_index == [0, 0, 0, 1, 1, 1]
    assert roll.model_mask[:, 0::2].all() and not roll.model_mask[:, 1::2].any()
    vocab = tok.get_vocab()
    reward_tokens = roll.tokens[:, 1::2]
    assert set(reward_tokens.flatten().tolist()) <= {vocab["0"], vocab["1"]}
    assert torch.equal(roll.rewards, (roll.arms == 1).long())  # the environment follows the hidden means
    assert torch.equal(reward_tokens == vocab["1"], roll.rewards.bool())
    # regret by hand: 1 per pull of a, c or an invalid token, 0 per pull of b
    np.testing.assert_allclose(rollout_regret(roll, probs), (roll.arms != 1).sum(1).numpy())
    again = rollout_bandits(model, tok, w, probs, per_problem=3, seed=1)
    assert torch.equal(again.tokens, roll.tokens)
    greedy = rollout_bandits(model, tok, w, probs, per_problem=2, greedy=True)
    assert torch.equal(greedy.arms[0], greedy.arms[1])
    with pytest.raises(EmptyInputError):
        rollout_bandits(model, tok, w, [])


def test_evaluate_bandits_references(tiny):
    model, tok = tiny
    w = BanditWorld(BanditConfig(horizon=8))
    out = evaluate_bandits(model, tok, w, w.sample(40, seed=0))
    assert out["regret_thompson"] < out["regret_random"]
    assert out["regret_ratio_sampled_vs_thompson"] == pytest.approx(out["regret_sampled"] / out["regret_thompson"])
    assert 0.0 <= out["invalid_action_rate"] <= 1.0
