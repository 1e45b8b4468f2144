import numpy as np
import pytest

from rlmeta_interp.errors import InvalidConfigError
from rlmeta_interp.organism.worlds.bandits import (
    BanditConfig, BanditWorld, parse_episode, posterior_means, regret, render_episode, simulate,
)


def test_sample_deterministic_and_in_range():
    w = BanditWorld(BanditConfig(n_arms=4, mean_low=0.2, mean_high=0.6))
    a = w.sample(20, seed=1)
    assert a == w.sample(20, seed=1)
    for p in a:
        m = np.asarray(p.meta["means"])
        assert m.shape == (4,) and (m >= 0.2).all() and (m <= 0.6).all()
        assert p.answer == "abcd"[int(np.argmax(m))]


def test_render_parse_roundtrip_and_rejects_malformed():
    cfg = BanditConfig()
    pulls = [(0, 1), (2, 0), (1, 1)]
    text = render_episode(pulls, cfg)
    assert text == "a1c0b1"
    assert parse_episode(text, cfg) == pulls
    assert parse_episode("a1d0", cfg) is None  # arm d does not exist with K=3
    assert parse_episode("a1a2", cfg) is None
    assert parse_episode("a1b", cfg) == [(0, 1)]  # an unfinished last pull is dropped


def test_posterior_means_match_beta_counts():
    pm = posterior_means([(0, 1), (0, 1), (1, 0)], 3)
    assert pm.shape == (4, 3)
    np.testing.assert_allclose(pm[0], [0.5, 0.5, 0.5])
    np.testing.assert_allclose(pm[-1], [3 / 4, 1 / 3, 0.5])


def test_thompson_beats_random_on_average():
    rng = np.random.default_rng(0)
    w = BanditWorld()
    probs = w.sample(300, seed=0)
    ts = np.mean([regret(simulate("thompson", np.asarray(p.meta["means"]), 24, rng), np.asarray(p.meta["means"]))
                  for p in probs])
    rnd = np.mean([regret(simulate("random", np.asarray(p.meta["means"]), 24, rng), np.asarray(p.meta["means"]))
                   for p in probs])
    # uniform random's expected regret is 24 * E[max - mean] = 24 * (3/4 - 1/2) = 6 for K=3, U(0,1) means
    assert abs(rnd - 6.0) < 0.6
    assert ts < 0.6 * rnd


def test_reward_uses_true_means_unless_trusted():
    w = BanditWorld(BanditConfig(horizon=2))
    p = w.sample(1, seed=0)[0]
    m = p.meta["means"]
    assert w.reward(p, "a1b1") == pytest.approx((m[0] + m[1]) / 2)
    assert w.reward(p, "a1b1", trust_rewards=True) == 1.0
    assert w.reward(p, "x1b1") == 0.0
    with pytest.raises(InvalidConfigError):
        simulate("greedy", np.asarray(m), 3, np.random.default_rng(0))
    with pytest.raises(InvalidConfigError, match="n_arms"):
        BanditConfig(n_arms=1)
