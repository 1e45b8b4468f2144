"""Ridge probes of continuous targets: the R^2 against a closed-form reference, grouped folds, and the controls."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from rlmeta_interp.analysis.belief_probes import (
    RidgeProbeConfig,
    bag_of_token_counts,
    belief_probe_report,
    center_targets,
    random_init_like,
    ridge_probe_r2,
)
from rlmeta_interp.errors import InvalidConfigError


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


def test_targets_without_variance_are_refused_not_read_as_a_perfect_probe():
    x = torch.randn(60, 5, generator=torch.Generator().manual_seed(0))
    cfg = RidgeProbeConfig(n_boot=20, n_shuffles=1)
    with pytest.raises(InvalidConfigError, match=r"no variance after centring \(center='row'\).*would read 1.0"):
        ridge_probe_r2(x, torch.ones(60, 3), cfg)  # every arm equal: nothing left after row centring
    with pytest.raises(InvalidConfigError, match="no variance in any column"):
        ridge_probe_r2(x, torch.ones(60, 1), RidgeProbeConfig(center="none", n_boot=20, n_shuffles=1))
    varied = torch.ones(60, 3)
    varied[::2, 0] = 2.0  # one arm differs on half the rows: a probe has something to find
    assert np.isfinite(ridge_probe_r2(x, varied, cfg)["r2"]).all()


def test_bag_of_token_counts_matches_bincount():
    tokens = torch.tensor([[1, 2, 2, 0], [3, 3, 3, 1]])
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]])
    out = bag_of_token_counts(tokens, 5, mask)
    ref = torch.stack([torch.bincount(t[m.bool()], minlength=5) for t, m in zip(tokens, mask, strict=True)]).float()
    assert torch.equal(out, ref)
    with pytest.raises(InvalidConfigError):
        bag_of_token_counts(tokens, 3)
    with pytest.raises(InvalidConfigError, match="the tokens' shape"):
        bag_of_token_counts(tokens, 5, mask[:, :3])


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
