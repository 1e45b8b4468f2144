"""Tests of analysis.directions against planted directions and independent numpy references."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from rlmeta_interp.analysis.directions import (
    DirectionConfig,
    RidgeProbeConfig,
    bag_of_token_counts,
    belief_probe_report,
    center_targets,
    diff_of_means_direction,
    direction_cosines,
    probe_direction,
    probe_transfer,
    random_init_like,
    ridge_probe_r2,
)
from rlmeta_interp.analysis.stats import proportion_ci
from rlmeta_interp.errors import EmptyInputError, InvalidConfigError, NonFiniteError

D = 16



def _planted(n: int = 240, shared: bool = True, seed: int = 0, strength: float = 1.5):
    """Base and RL activations of the same prompts; label 1 shifts along v_base / v_rl."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    v_base = torch.zeros(D)
    v_base[0] = 1.0
    v_rl = v_base.clone() if shared else torch.eye(D)[1]
    common = torch.randn(n, D, generator=g)  # prompts look alike in both models
    base = common + 0.5 * torch.randn(n, D, generator=g) + strength * y[:, None] * v_base
    rl = 1.3 * common + 0.5 * torch.randn(n, D, generator=g) + strength * y[:, None] * v_rl + 2.0
    return {0: base, 3: base * 0.5}, {0: rl, 3: rl * 0.5}, y


def test_diff_of_means_matches_numpy():
    base, _, y = _planted()
    x = base[0].numpy().astype(np.float64)
    ref = x[y.numpy() == 1].mean(0) - x[y.numpy() == 0].mean(0)
    np.testing.assert_allclose(diff_of_means_direction(base[0], y).numpy(), ref, rtol=1e-5, atol=1e-6)


def test_probe_direction_points_along_planted_direction():
    base, _, y = _planted(strength=3.0)
    w = probe_direction(base[0], y)
    assert float(w[0] / w.norm()) > 0.8


def test_shared_direction_beats_shuffled_nulls():
    base, rl, y = _planted(shared=True, strength=3.0)
    df = direction_cosines(base, rl, y, config=DirectionConfig(n_shuffles=50, n_boot=200))
    assert list(df["layer"]) == [0, 3]
    row = df.iloc[0]
    assert row["cosine"] > 0.9
    assert row["ci_lo"] <= row["cosine"] <= row["ci_hi"]
    assert row["ci_lo"] > row["null_indep_hi"] and row["p_indep"] < 0.05
    assert row["cosine"] > row["null_shared_hi"] and row["p_shared"] < 0.05
    # scaling the activations (layer 3 = layer 0 / 2) changes no cosine
    assert df.iloc[1]["cosine"] == pytest.approx(row["cosine"], abs=1e-9)


def test_orthogonal_directions_do_not_beat_null():
    base, rl, y = _planted(shared=False, strength=3.0)
    df = direction_cosines(base, rl, y, config=DirectionConfig(n_shuffles=50, n_boot=200))
    row = df.iloc[0]
    assert row["cosine"] < 0.5
    # the models share their prompt noise, so a random split gives more aligned directions than the behaviour
    assert row["cosine"] < row["null_shared_mean"] and row["p_shared"] > 0.5


def test_probe_method_cosines():
    base, rl, y = _planted(shared=True, n=120)
    df = direction_cosines({0: base[0]}, {0: rl[0]}, y, config=DirectionConfig(method="probe", n_shuffles=10, n_boot=20))
    assert df.iloc[0]["method"] == "probe"
    assert df.iloc[0]["cosine"] > 0.5


def test_probe_transfer_shared_vs_orthogonal():
    base, rl, y = _planted(shared=True, strength=4.0)
    df = probe_transfer({0: base[0]}, {0: rl[0]}, y, config=DirectionConfig(n_boot=200))
    acc = df.set_index(["source", "target"])["accuracy"]
    assert acc[("rl", "rl")] > 0.85 and acc[("rl", "base")] > 0.85
    # each accuracy's interval is Wilson's over the held-out texts, which keeps width at 1
    for row in df.itertuples():
        wilson = proportion_ci(np.r_[np.ones(round(row.accuracy * row.n)), np.zeros(row.n - round(row.accuracy * row.n))])
        assert (row.ci_lo, row.ci_hi) == pytest.approx(wilson) and row.ci_lo < row.accuracy <= row.ci_hi
    base_s, rl_s, y_s = _planted(shared=True, strength=20.0)
    strong = probe_transfer({0: base_s[0]}, {0: rl_s[0]}, y_s)
    assert (strong.accuracy == 1.0).all() and (strong.ci_lo < 1.0).all()  # right on every text: still an interval
    base_o, rl_o, y_o = _planted(shared=False, strength=4.0)
    df_o = probe_transfer({0: base_o[0]}, {0: rl_o[0]}, y_o, config=DirectionConfig(n_boot=200))
    acc_o = df_o.set_index(["source", "target"])
    assert acc_o.loc[("rl", "rl"), "accuracy"] > 0.85
    # an orthogonal direction transfers at chance: the CI covers 0.5
    assert acc_o.loc[("rl", "base"), "ci_lo"] < 0.6
    assert set(df_o["chance"]) == {0.5}


def test_probe_transfer_groups_keep_repeated_rows_in_one_fold():
    # 40 random points with random labels, each written twice: a probe that memorises its training rows scores the
    # copies of them far above chance unless the two copies share a fold
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(40, 60, generator=gen).repeat(2, 1)
    y = torch.randint(0, 2, (40,), generator=gen).repeat(2)
    cfg = DirectionConfig(n_boot=50, probe_C=100.0)
    leaky = probe_transfer({0: x}, {0: x}, y, config=cfg).set_index(["source", "target"])["accuracy"]
    grouped = probe_transfer({0: x}, {0: x}, y, config=cfg, groups=list(range(40)) * 2)
    acc = grouped.set_index(["source", "target"])["accuracy"]
    assert leaky[("base", "base")] > 0.8 and acc[("base", "base")] < 0.65
    with pytest.raises(InvalidConfigError, match="one group per row"):
        probe_transfer({0: x}, {0: x}, y, config=cfg, groups=[0, 1])


def test_labels_and_shapes_are_checked():
    base, rl, y = _planted()
    with pytest.raises(InvalidConfigError, match="binary"):
        direction_cosines(base, rl, torch.arange(len(y)))
    with pytest.raises(InvalidConfigError, match="same hooks"):
        direction_cosines(base, {0: rl[0]}, y)
    with pytest.raises(InvalidConfigError, match="at least 2 rows of each class"):
        direction_cosines(base, rl, torch.zeros(len(y), dtype=torch.long))
    bad = {k: v.clone() for k, v in base.items()}
    bad[0][0, 0] = float("nan")
    with pytest.raises(NonFiniteError):
        direction_cosines(bad, rl, y)
    with pytest.raises(EmptyInputError):
        direction_cosines({}, {}, y)
    with pytest.raises(InvalidConfigError, match="n_folds"):
        DirectionConfig(n_folds=1)


def _ridge_oof_numpy(x: np.ndarray, y: np.ndarray, alpha: float, n_folds: int, seed: int) -> float:
    """Independent reference: closed-form ridge (standardised features, intercept) in K folds, pooled R^2."""
    from sklearn.model_selection import KFold  # only the fold indices are shared with the library

    pred = np.zeros_like(y)
    for tr, te in KFold(n_splits=n_folds, shuffle=True, random_state=seed).split(x):
        mu, sd = x[tr].mean(0), x[tr].std(0)
        xs = (x[tr] - mu) / sd
        ym = y[tr].mean(0)
        w = np.linalg.solve(xs.T @ xs + alpha * np.eye(x.shape[1]), xs.T @ (y[tr] - ym))
        pred[te] = ((x[te] - mu) / sd) @ w + ym
    sse = ((y - pred) ** 2).sum()
    sst = ((y - y.mean(0)) ** 2).sum()
    return 1 - sse / sst


def test_ridge_r2_matches_closed_form_reference():
    g = np.random.default_rng(0)
    x = g.normal(size=(120, 8))
    w = g.normal(size=(8, 3))
    y = x @ w + 0.5 * g.normal(size=(120, 3))
    cfg = RidgeProbeConfig(center="none", alphas=(3.0,), n_folds=4, n_shuffles=2, n_boot=100)
    df = ridge_probe_r2(torch.tensor(x), torch.tensor(y), cfg)
    ref = _ridge_oof_numpy(x, y, 3.0, 4, cfg.seed)
    assert df.iloc[0]["r2"] == pytest.approx(ref, abs=1e-8)
    assert df.iloc[0]["r2"] > 0.8
    assert df.iloc[0]["r2_shuffled"] < 0.1
    assert df.iloc[0]["ci_lo"] <= df.iloc[0]["r2"] <= df.iloc[0]["ci_hi"]


def test_center_targets_rows():
    y = np.array([[0.2, 0.4, 0.9], [0.5, 0.5, 0.5]])
    np.testing.assert_allclose(center_targets(y, "row"), y - y.mean(1, keepdims=True))
    with pytest.raises(InvalidConfigError):
        center_targets(y[:, :1], "row")


def test_bag_of_token_counts_matches_bincount():
    tokens = torch.tensor([[1, 2, 2, 0], [3, 3, 3, 1]])
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]])
    out = bag_of_token_counts(tokens, 5, mask)
    ref = torch.stack([torch.bincount(t[m.bool()], minlength=5) for t, m in zip(tokens, mask, strict=True)]).float()
    assert torch.equal(out, ref)
    with pytest.raises(InvalidConfigError):
        bag_of_token_counts(tokens, 3)


def test_random_init_like_is_fresh_and_same_shape():
    cfg = LlamaConfig(vocab_size=20, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=32)
    torch.manual_seed(5)
    model = LlamaForCausalLM(cfg)
    fresh = random_init_like(model, seed=1)
    again = random_init_like(model, seed=1)
    assert type(fresh) is type(model)
    p0, p1, p2 = (dict(m.named_parameters())["model.layers.0.mlp.up_proj.weight"] for m in (model, fresh, again))
    assert p0.shape == p1.shape and not torch.equal(p0, p1) and torch.equal(p1, p2)


def test_belief_probe_report_controls():
    g = torch.Generator().manual_seed(0)
    n, t = 160, 3
    values = torch.rand(n, t, generator=g)
    tokens = torch.randint(0, 6, (n, 10), generator=g)
    learned = torch.cat([values, torch.randn(n, 5, generator=g) * 0.1], 1)  # encodes the values linearly
    noise = torch.randn(n, 8, generator=g)
    cfg = RidgeProbeConfig(n_shuffles=1, n_boot=100, n_folds=4)
    with pytest.raises(InvalidConfigError, match="random-init"):
        belief_probe_report({"base": {0: learned}}, values, tokens=tokens, vocab_size=6, config=cfg)
    df = belief_probe_report({"base": {0: learned}, "random_init": {0: noise}}, values, tokens=tokens,
                             vocab_size=6, config=cfg)
    assert set(df["model"]) == {"base", "random_init", "token_counts"}
    base = df[df["model"] == "base"].iloc[0]
    assert base["r2"] > 0.9 and base["r2_minus_random_init"] > 0.8 and base["r2_minus_counts"] > 0.8
    assert df[df["model"] == "random_init"].iloc[0]["r2_minus_random_init"] == 0.0


def test_grouped_folds_stop_memorising_episodes():
    """Rows of one episode share an episode-level target and episode-specific (uninformative) features: row-wise folds
    let the probe memorise episodes, grouped folds must not."""
    from rlmeta_interp.analysis.directions import RidgeProbeConfig, ridge_probe_r2

    rng = np.random.default_rng(0)
    n_ep, per = 40, 12
    ep_feat = rng.normal(size=(n_ep, 64))
    ep_target = rng.normal(size=(n_ep, 3))
    x = np.repeat(ep_feat, per, axis=0) + 0.05 * rng.normal(size=(n_ep * per, 64))
    y = np.repeat(ep_target, per, axis=0)
    groups = np.repeat(np.arange(n_ep), per)
    cfg = RidgeProbeConfig(center="none", n_shuffles=0, n_boot=200)
    by_row = ridge_probe_r2(torch.tensor(x, dtype=torch.float32), y, cfg)
    by_episode = ridge_probe_r2(torch.tensor(x, dtype=torch.float32), y, cfg, groups=groups)
    assert by_row["r2"].iloc[0] > 0.8
    assert by_episode["r2"].iloc[0] < 0.2
    with pytest.raises(InvalidConfigError, match="one per row"):
        ridge_probe_r2(torch.tensor(x, dtype=torch.float32), y, cfg, groups=groups[:-1])
