"""Tests of analysis.incontext: regret, belief probes and reward prediction on a tiny smoke bandit pair."""

import numpy as np
import pytest
import torch

from rlmeta_interp.analysis.belief_probes import RidgeProbeConfig, ridge_probe_r2
from rlmeta_interp.analysis.icrl import per_trial_regret
from rlmeta_interp.analysis.incontext import (
    belief_episodes,
    belief_probe_layers,
    model_choices,
    regret_experiment,
    reward_positions,
)
from rlmeta_interp.errors import EmptyInputError, InvalidConfigError
from rlmeta_interp.organism.worlds.bandits import parse_episode, posterior_means


@pytest.fixture(scope="module")
def pair(smoke_bandits):
    return smoke_bandits


def test_model_choices_modes(pair):
    p, world, _ = pair
    probs = world.sample(20, seed=5)
    g1, means = model_choices(p.rl, world, probs, mode="greedy", seed=0)
    g2, _ = model_choices(p.rl, world, probs, mode="greedy", seed=0)
    assert g1.shape == (20, 6) and means.shape == (20, 3)
    np.testing.assert_array_equal(g1, g2)
    np.testing.assert_allclose(means, [q.meta["means"] for q in probs])
    s1, _ = model_choices(p.rl, world, probs, mode="sampled", seed=1)
    assert set(np.unique(s1)) <= {-1, 0, 1, 2}
    with pytest.raises(InvalidConfigError, match="mode"):
        model_choices(p.rl, world, probs, mode="beam")
    with pytest.raises(EmptyInputError):
        model_choices(p.rl, world, [])


def test_regret_experiment_references_and_consistency(pair):
    p, world, _ = pair
    probs = world.sample(30, seed=6)
    res = regret_experiment({"base": p.base, "rl": p.rl}, world, probs, seed=3, n_boot=100)
    tab = res.table.set_index(["policy", "mode"])
    assert tab.loc[("thompson", "reference"), "gap_closed"] == pytest.approx(1.0)
    assert tab.loc[("random", "reference"), "gap_closed"] == pytest.approx(0.0)
    assert len(tab) == 6 and set(res.curves["mode"]) == {"reference", "sampled", "greedy"}
    # independent recomputation of one model's final regret from its choices (same seed -> same rollout)
    ch, means = model_choices(p.rl, world, probs, mode="greedy", seed=3)
    ref = per_trial_regret(ch, means, invalid="worst").sum(1).mean()
    assert tab.loc[("rl", "greedy"), "final_regret"] == pytest.approx(ref)
    assert tab.loc[("rl", "greedy"), "invalid_rate"] == pytest.approx((ch < 0).mean())
    last = res.curves[(res.curves["policy"] == "rl") & (res.curves["mode"] == "greedy")].iloc[-1]
    assert last["cum_regret"] == pytest.approx(ref)
    fin = res.finals[(res.finals["policy"] == "rl") & (res.finals["mode"] == "greedy")]
    assert fin["final_regret"].mean() == pytest.approx(ref) and len(fin) == 30
    ad = res.adaptation.set_index(["policy", "mode"])
    assert ad.loc[("thompson", "reference"), "improvement"] > 0


def test_belief_episodes_targets_match_the_texts(pair):
    _, world, _ = pair
    texts, y = belief_episodes(world, 12, seed=2)
    assert y.shape == (12, 6, 3)
    for text, tgt in zip(texts, y, strict=True):
        pulls = parse_episode(text, world.config)
        np.testing.assert_allclose(tgt, posterior_means(pulls, 3)[1:])
    texts_r, _ = belief_episodes(world, 12, seed=2, policy="random")
    assert texts_r != texts


def test_belief_probes_rows_and_counts_control(pair):
    p, world, _ = pair
    texts, y = belief_episodes(world, 16, seed=4)
    pos = reward_positions(p.base, 6)
    ids, _ = p.base.to_tokens(texts)
    rewards = {p.base.tokenizer.get_vocab()[c] for c in "01"}
    assert set(ids[:, pos].flatten().tolist()) <= rewards
    cfg = RidgeProbeConfig(n_boot=30, n_shuffles=1, n_folds=3)
    rep = belief_probe_layers({"base": p.base, "rl": p.rl}, texts, y, config=cfg)
    assert set(rep["model"]) == {"base", "rl", "random_init", "token_counts"}
    assert set(rep.loc[rep["model"] == "base", "layer"]) == {0, 1}
    assert (rep["n"] == 16 * 6).all()
    # the counts control, recomputed by hand: counts of each token in "<bos>" + text[: 2t + 2]
    vocab = p.base.tokenizer.get_vocab()
    feats = torch.zeros(16 * 6, len(p.base.tokenizer))
    for e, text in enumerate(texts):
        for t in range(6):
            feats[e * 6 + t, p.base.tokenizer.bos_token_id] += 1
            for ch in text[: 2 * t + 2]:
                feats[e * 6 + t, vocab[ch]] += 1
    ref = ridge_probe_r2(feats, y.reshape(-1, 3), cfg, groups=np.repeat(np.arange(16), 6))["r2"].iloc[0]
    assert rep.loc[rep["model"] == "token_counts", "r2"].iloc[0] == pytest.approx(ref)
    with pytest.raises(InvalidConfigError, match="targets"):
        belief_probe_layers({"base": p.base}, texts[:3], y, config=cfg)


def test_reward_prediction_against_a_direct_forward_pass(pair):
    from rlmeta_interp.analysis.incontext import reward_prediction

    p, world, _ = pair
    texts, _ = belief_episodes(world, 10, seed=7)
    rep = reward_prediction({"base": p.base}, texts, n_arms=3, n_boot=50).set_index("model")
    # reference: one episode at a time, without padding, through the Hugging Face model
    vocab = p.base.tokenizer.get_vocab()
    xs, ys = [], []
    for text in texts:
        ids = torch.tensor([[p.base.tokenizer.bos_token_id] + [vocab[c] for c in text]])
        logits = p.base.hf(input_ids=ids).logits[0].detach()
        pulls = parse_episode(text, world.config)
        post = posterior_means(pulls, 3)
        for t, (a, _) in enumerate(pulls):
            pr = torch.softmax(logits[1 + 2 * t, [vocab["0"], vocab["1"]]], -1)[1].item()
            xs.append(pr)
            ys.append(post[t][a])
    assert rep.loc["base", "corr"] == pytest.approx(np.corrcoef(xs, ys)[0, 1], abs=1e-5)
    assert rep.loc["base", "mae"] == pytest.approx(np.mean(np.abs(np.array(xs) - np.array(ys))), abs=1e-5)
    assert rep.loc["base", "n_pulls"] == 60
    assert rep.loc["base", "ci_lo"] <= rep.loc["base", "corr"] <= rep.loc["base", "ci_hi"]
    with pytest.raises(InvalidConfigError, match="well-formed"):
        reward_prediction({"base": p.base}, ["a1x0"], n_arms=3)


def test_rollout_kl_is_zero_against_itself_and_matches_the_sampler_logprobs(pair):
    from rlmeta_interp.analysis.incontext import episode_logprobs, rollout_kl
    from rlmeta_interp.organism.evaluate import rollout_bandits

    p, world, _ = pair
    probs = world.sample(16, seed=6)
    same = rollout_kl(p.rl, p.rl, world, probs, seed=2, n_boot=50)
    assert same["kl"] == pytest.approx(0.0, abs=1e-6) and same["n_tokens"] == 16 * 6 and same["n_units"] == 16
    # teacher-forced log-probs of the sampled arm tokens equal those the sampler recorded (KV cache vs one pass)
    roll = rollout_bandits(p.rl.hf, p.rl.tokenizer, world, probs, seed=2)
    lp = episode_logprobs(p.rl, roll.tokens)
    arm = roll.model_mask.bool()
    torch.testing.assert_close(lp[arm], roll.logprobs[arm], atol=1e-4, rtol=1e-4)
    # against another model: a KL estimate, positive on average (Gibbs), with a CI around it
    other = rollout_kl(p.rl, p.base, world, probs, seed=2, n_boot=200)
    assert other["ci_lo"] <= other["kl"] <= other["ci_hi"]
    manual = float(((lp - episode_logprobs(p.base, roll.tokens)) * roll.model_mask).sum() / roll.model_mask.sum())
    assert other["kl"] == pytest.approx(manual, rel=1e-5)
    with pytest.raises(EmptyInputError):
        rollout_kl(p.rl, p.base, world, [])
