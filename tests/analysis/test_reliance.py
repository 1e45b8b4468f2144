"""Tests of analysis.reliance: reward reliance on a tiny smoke bandit pair, against a direct forward pass."""

import numpy as np
import pytest
import torch

from rlmeta_interp.analysis.incontext import belief_episodes
from rlmeta_interp.analysis.reliance import THOMPSON, permuted_rewards, reliance_episodes, reward_reliance
from rlmeta_interp.errors import EmptyInputError, InvalidConfigError
from rlmeta_interp.organism.worlds.bandits import parse_episode, posterior_means


@pytest.fixture(scope="module")
def pair(smoke_bandits):
    return smoke_bandits


def test_permuted_rewards_keeps_the_moves_and_changes_the_link():
    rng = np.random.default_rng(0)
    text = "a1b0c0a1b1c0"
    new = permuted_rewards(text, 3, rng)
    assert new[0::2] == text[0::2] and sorted(new[1::2]) == sorted(text[1::2]) and new != text
    assert permuted_rewards("a1b1c1", 3, rng) is None  # no permutation changes equal rewards
    with pytest.raises(InvalidConfigError, match="well-formed"):
        permuted_rewards("a1d0", 3, rng)


def test_reward_reliance_against_a_direct_forward_pass(pair):
    p, world, _ = pair
    texts, _ = belief_episodes(world, 12, seed=3)
    rep = reward_reliance({"base": p.base}, texts, n_arms=3, n_boot=50, seed=4).set_index("model")
    # reference: the same permutations, one episode at a time, without padding, through the Hugging Face model
    rng = np.random.default_rng([4, 0x5E1F])
    vocab = p.base.tokenizer.get_vocab()
    arm_ids = [vocab[c] for c in "abc"]
    directed, tv, n = 0.0, 0.0, 0
    for text in texts:
        other = permuted_rewards(text, 3, rng)
        if other is None:
            continue
        probs = []
        for t in (text, other):
            ids = torch.tensor([[p.base.tokenizer.bos_token_id] + [vocab[c] for c in t]])
            probs.append(torch.softmax(p.base.hf(input_ids=ids).logits[0].detach()[:, arm_ids].double(), -1).numpy())
        a, b = parse_episode(text, world.config), parse_episode(other, world.config)
        ma, mb = posterior_means(a, 3), posterior_means(b, 3)
        for s in range(len(a) - 1):
            if any(x[1] != y[1] for x, y in zip(a[: s + 1], b[: s + 1], strict=True)):
                d = probs[0][2 * s + 2] - probs[1][2 * s + 2]
                directed += float(d @ (ma[s + 1] - mb[s + 1]))
                tv += 0.5 * float(np.abs(d).sum())
                n += 1
    assert rep.loc["base", "n_choices"] == n > 0
    assert rep.loc["base", "directed"] == pytest.approx(directed / n, abs=1e-6)
    assert rep.loc["base", "tv"] == pytest.approx(tv / n, abs=1e-6)
    assert rep.loc["base", "tv_lo"] <= rep.loc["base", "tv"] <= rep.loc["base", "tv_hi"]
    # the Bayes learner moves towards the arms the true history favours, by a margin its CI clears
    assert rep.loc["thompson", "directed_lo"] > 0.0 and rep.loc["thompson", "tv"] > 0.0
    with pytest.raises(EmptyInputError, match="permutation"):
        reward_reliance({"base": p.base}, ["a1b1c1", "a0b0c0"], n_arms=3)


def test_per_episode_sums_make_the_means_and_pair_the_models(pair):
    p, world, _ = pair
    texts, _ = belief_episodes(world, 16, seed=5)
    per = reliance_episodes({"base": p.base, "rl": p.rl}, texts, n_arms=3, seed=2, thompson_draws=500)
    assert set(per["model"]) == {"base", "rl", THOMPSON}
    # every model reads the same episodes, with the same number of changed choices in each
    by = {m: g.set_index("episode") for m, g in per.groupby("model")}
    assert by["base"].index.equals(by["rl"].index) and by["base"].index.equals(by[THOMPSON].index)
    assert (by["base"]["n_choices"] == by["rl"]["n_choices"]).all()
    assert (per["tv"] >= 0).all() and (per["tv"] <= per["n_choices"] + 1e-9).all()
    rep = reward_reliance({"base": p.base, "rl": p.rl}, texts, n_arms=3, n_boot=50, seed=2,
                          thompson_draws=500).set_index("model")
    for m in ("base", "rl"):
        g = by[m]
        assert rep.loc[m, "directed"] == pytest.approx(g["directed"].sum() / g["n_choices"].sum())
        assert rep.loc[m, "n_choices"] == g["n_choices"].sum()
    with pytest.raises(InvalidConfigError, match="reference learner"):
        reliance_episodes({THOMPSON: p.base}, texts, n_arms=3)
