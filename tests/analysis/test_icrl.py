import numpy as np
import pytest

from rlmeta_interp.analysis.icrl import (
    adaptation,
    choices_from_texts,
    per_trial_regret,
    reference_choices,
    regret_curves,
    regret_table,
)
from rlmeta_interp.errors import EmptyInputError, InvalidConfigError
from rlmeta_interp.organism.worlds.bandits import regret as world_regret


@pytest.fixture(scope="module")
def bandits():
    means = np.random.default_rng(0).uniform(size=(200, 3))
    T = 24
    return means, T, reference_choices(means, T, "thompson", seed=1), reference_choices(means, T, "random", seed=2)


def test_per_trial_regret_matches_world_regret(bandits):
    means, T, ts, rnd = bandits
    r = per_trial_regret(ts, means)
    for e in range(0, 200, 17):
        pulls = [(int(a), 0) for a in ts[e]]
        assert r[e].sum() == pytest.approx(world_regret(pulls, means[e]))
        for t in range(T):  # an explicit loop as the reference for each entry
            assert r[e, t] == pytest.approx(max(means[e]) - means[e][ts[e, t]])


def test_curves_and_bands(bandits):
    means, T, ts, rnd = bandits
    df = regret_curves(ts, means, policy="thompson", n_boot=300)
    assert df["t"].tolist() == list(range(1, T + 1))
    r = per_trial_regret(ts, means)
    np.testing.assert_allclose(df["regret"], r.mean(0))
    np.testing.assert_allclose(df["cum_regret"], np.cumsum(r, 1).mean(0))
    assert (df["cum_lo"] <= df["cum_regret"]).all() and (df["cum_regret"] <= df["cum_hi"]).all()
    assert (df["regret_lo"] <= df["regret"]).all() and (df["regret"] <= df["regret_hi"]).all()
    best = (means[np.arange(200)[:, None], ts] == means.max(1, keepdims=True)).mean(0)
    np.testing.assert_allclose(df["p_best"], best)
    # Thompson learns: late trials pick the best arm more often than early ones
    assert df["p_best"].iloc[-4:].mean() > df["p_best"].iloc[:4].mean()


def test_table_thompson_vs_random(bandits):
    means, T, ts, rnd = bandits
    oracle = np.repeat(means.argmax(1)[:, None], T, axis=1)
    tab = regret_table({"thompson": (ts, means), "random": (rnd, means), "oracle": (oracle, means)}, n_boot=300)
    tab = tab.set_index("policy")
    assert tab.loc["thompson", "final_regret"] < tab.loc["random", "final_regret"]
    assert tab.loc["thompson", "gap_closed"] == pytest.approx(1.0)
    assert tab.loc["random", "gap_closed"] == pytest.approx(0.0)
    assert tab.loc["oracle", "final_regret"] == 0.0 and tab.loc["oracle", "gap_closed"] > 1.0
    for p in tab.index:
        assert tab.loc[p, "ci_lo"] <= tab.loc[p, "final_regret"] <= tab.loc[p, "ci_hi"]
    # uniform random regret: expected T * (max - mean) per episode
    expected_random = T * (means.max(1) - means.mean(1)).mean()
    assert tab.loc["random", "ci_lo"] - 0.5 < expected_random < tab.loc["random", "ci_hi"] + 0.5
    # without the references the gap columns are NaN, not made up
    assert np.isnan(regret_table({"thompson": (ts, means)}, n_boot=50)["gap_closed"]).all()


def test_adaptation(bandits):
    means, T, ts, rnd = bandits
    a = adaptation(ts, means, n_boot=500)
    assert a["improvement"] > 0 and a["ci_lo"] > 0
    b = adaptation(rnd, means, n_boot=500)
    assert b["ci_lo"] < a["ci_lo"]
    assert a["improvement"] == pytest.approx(a["early"] - a["late"])
    with pytest.raises(InvalidConfigError, match="window"):
        adaptation(ts, means, window=T)


def test_texts_and_invalid_choices():
    ch = choices_from_texts(["a1b0c1", "c0x1", ""], horizon=3, n_arms=3)
    assert ch.tolist() == [[0, 1, 2], [2, -1, -1], [-1, -1, -1]]
    means = np.array([[0.1, 0.5, 0.9]] * 3)
    with pytest.raises(InvalidConfigError, match="invalid='worst'"):
        per_trial_regret(ch, means)
    worst = per_trial_regret(ch, means, invalid="worst")
    np.testing.assert_allclose(worst[1], [0.0, 0.8, 0.8])
    unif = per_trial_regret(ch, means, invalid="uniform")
    np.testing.assert_allclose(unif[2], [0.4, 0.4, 0.4])


def test_errors():
    with pytest.raises(EmptyInputError):
        per_trial_regret(np.zeros((0, 3), int), np.zeros((0, 2)))
    with pytest.raises(InvalidConfigError, match="one row per episode"):
        per_trial_regret(np.zeros((2, 3), int), np.zeros((3, 2)))
    with pytest.raises(InvalidConfigError, match="integer"):
        per_trial_regret(np.zeros((2, 3)), np.zeros((2, 2)))
    with pytest.raises(InvalidConfigError, match="horizons"):
        regret_table({"a": (np.zeros((2, 3), int), np.ones((2, 2))), "b": (np.zeros((2, 4), int), np.ones((2, 2)))})
    with pytest.raises(EmptyInputError):
        regret_table({})
