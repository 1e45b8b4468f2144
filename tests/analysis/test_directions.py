"""Tests of analysis.directions against planted directions and independent numpy references."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlmeta_interp.analysis.directions import (
    DirectionConfig,
    diff_of_means_direction,
    direction_cosines,
    probe_direction,
    probe_transfer,
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


def test_a_model_without_a_direction_has_no_p_value():
    y = np.r_[np.zeros(20), np.ones(20)].astype(int)
    rl = {0: torch.randn(40, 8, generator=torch.Generator().manual_seed(0))}
    row = direction_cosines({0: torch.ones(40, 8)}, rl, y, config=DirectionConfig(n_boot=50, n_shuffles=19)).iloc[0]
    assert np.isnan(row["cosine"]) and np.isnan(row["p_indep"]) and np.isnan(row["p_shared"])  # not 1/20, the smallest p there is


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
