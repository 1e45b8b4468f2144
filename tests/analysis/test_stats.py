import numpy as np
import pandas as pd
import pytest

from rlmeta_interp.analysis.stats import (
    mean_ci,
    mean_diff_ci,
    paired_proportion_diff_ci,
    proportion_ci,
    recovered_share_ci,
    bootstrap_ci,
    bootstrap_ci_dropping_nan,
    bootstrap_curve_ci,
    fold_scale,
    linear_cka,
    paired_diff_ci,
    summarize,
    summarize_groups,
)
from rlmeta_interp.errors import EmptyInputError, InvalidConfigError, NonFiniteError


def _numpy_percentile_bootstrap(x, n_boot, ci, seed):
    """Independent reference: resample rows with numpy, take percentiles of the mean."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.shape[0], size=(n_boot, x.shape[0]))
    means = x[idx].mean(axis=1)
    a = (1 - ci) / 2
    return np.quantile(means, a, axis=0), np.quantile(means, 1 - a, axis=0)


def test_bootstrap_ci_matches_numpy_reference_and_normal_theory():
    x = np.random.default_rng(1).normal(2.0, 1.0, size=300)
    lo, hi = bootstrap_ci(x, n_boot=4000, seed=3)
    rlo, rhi = _numpy_percentile_bootstrap(x, 4000, 0.95, seed=99)
    width = hi - lo
    assert abs(lo - rlo) < 0.08 * width and abs(hi - rhi) < 0.08 * width
    se = x.std(ddof=1) / np.sqrt(x.size)
    assert width == pytest.approx(2 * 1.96 * se, rel=0.12)
    assert lo < x.mean() < hi


def test_bootstrap_ci_seeded_and_other_stat():
    x = np.random.default_rng(0).exponential(size=80)
    assert bootstrap_ci(x, seed=5) == bootstrap_ci(x, seed=5)
    lo, hi = bootstrap_ci(x, stat=np.median, seed=5)
    assert lo <= np.median(x) <= hi
    blo, bhi = bootstrap_ci(x, method="BCa", seed=5)
    assert blo < x.mean() < bhi


def test_curve_ci_matches_reference_pointwise():
    rng = np.random.default_rng(2)
    vals = rng.uniform(size=(150, 4)) * np.array([1.0, 0.5, 0.1, 0.0]) + np.array([0, 0, 0, 0.7])
    lo, hi = bootstrap_curve_ci(vals, n_boot=3000, seed=0)
    rlo, rhi = _numpy_percentile_bootstrap(vals, 3000, 0.95, seed=7)
    width = hi - lo
    np.testing.assert_allclose(lo[:3], rlo[:3], atol=0.1 * width[:3].max())
    np.testing.assert_allclose(hi[:3], rhi[:3], atol=0.1 * width[:3].max())
    # the constant column collapses to its point value
    assert lo[3] == hi[3] == pytest.approx(0.7)
    assert np.all(lo <= vals.mean(0) + 1e-12) and np.all(vals.mean(0) <= hi + 1e-12)


def test_paired_diff_uses_pairing():
    b = np.random.default_rng(4).normal(size=100)
    a = b + 0.3
    lo, hi = paired_diff_ci(a, b)
    assert lo == pytest.approx(0.3) and hi == pytest.approx(0.3)
    c = b + 0.3 + np.random.default_rng(5).normal(scale=0.1, size=100)
    lo, hi = paired_diff_ci(c, b)
    assert lo < 0.3 + 0.05 and hi > 0.3 - 0.05 and hi - lo < 0.1


def test_degenerate_and_single_values():
    assert bootstrap_ci([1.0, 1.0, 1.0]) == (1.0, 1.0)
    lo, hi = bootstrap_ci([2.0])
    assert np.isnan(lo) and np.isnan(hi)
    lo, hi = bootstrap_curve_ci(np.ones((1, 3)))
    assert np.isnan(lo).all() and np.isnan(hi).all()


def test_errors():
    with pytest.raises(EmptyInputError):
        bootstrap_ci([])
    with pytest.raises(NonFiniteError):
        bootstrap_ci([1.0, np.nan])
    with pytest.raises(InvalidConfigError, match="ci"):
        bootstrap_ci([1.0, 2.0], ci=95)
    with pytest.raises(InvalidConfigError, match="n_boot"):
        bootstrap_ci([1.0, 2.0], n_boot=0)
    with pytest.raises(InvalidConfigError, match="method"):
        bootstrap_ci([1.0, 2.0], method="nope")
    with pytest.raises(InvalidConfigError, match="2-D"):
        bootstrap_curve_ci(np.ones(3))
    with pytest.raises(InvalidConfigError, match="equal length"):
        paired_diff_ci([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(EmptyInputError):
        summarize_groups({})


def test_summaries():
    row = summarize([0.0, 1.0, 1.0, 0.0], model="base")
    assert row["model"] == "base" and row["mean"] == 0.5 and row["n"] == 4
    assert row["ci_lo"] <= 0.5 <= row["ci_hi"]
    df = summarize_groups({"a": [1.0, 2.0, 3.0], "b": [0.0, 0.0, 1.0]}, key="policy")
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == ["policy", "mean", "ci_lo", "ci_hi", "n"]
    assert df["mean"].tolist() == pytest.approx([2.0, 1 / 3])


def test_ratio_ci_matches_numpy_reference():
    from rlmeta_interp.analysis.stats import bootstrap_ratio_ci

    rng = np.random.default_rng(3)
    den = rng.integers(1, 30, size=200).astype(float)
    num = den * rng.normal(1.5, 0.3, size=200)
    lo, hi = bootstrap_ratio_ci(num, den, n_boot=3000, seed=1)
    idx = np.random.default_rng(8).integers(0, 200, size=(3000, 200))
    boot = num[idx].sum(1) / den[idx].sum(1)
    rlo, rhi = np.quantile(boot, [0.025, 0.975])
    assert abs(lo - rlo) < 0.1 * (hi - lo) and abs(hi - rhi) < 0.1 * (hi - lo)
    assert lo < num.sum() / den.sum() < hi
    assert bootstrap_ratio_ci([2.0, 4.0], [1.0, 2.0]) == (2.0, 2.0)
    with pytest.raises(InvalidConfigError, match="positive"):
        bootstrap_ratio_ci([1.0, 2.0], [0.0, 1.0])


def test_signed_ratio_ci_keeps_units_of_any_sign_and_refuses_an_unestimable_ratio():
    from rlmeta_interp.analysis.stats import signed_ratio_ci

    rng = np.random.default_rng(5)
    den = rng.normal(0.3, 0.5, size=300)  # per-unit gains: many negative, positive in sum
    num = 0.4 * den + rng.normal(0.0, 0.2, size=300)
    lo, hi = signed_ratio_ci(num, den, n_boot=2000, seed=2)
    assert lo < num.sum() / den.sum() < hi and 0.2 < lo < 0.4 < hi < 0.6
    # a denominator centred on 0 makes most resamples undefined: no interval rather than a meaningless one
    assert all(np.isnan(signed_ratio_ci(num, den - den.mean(), n_boot=500)))
    assert all(np.isnan(signed_ratio_ci([1.0], [1.0])))
    with pytest.raises(InvalidConfigError, match="one value per unit"):
        signed_ratio_ci([1.0, 2.0], [1.0])


def test_pooled_ci_matches_index_resampling_reference():
    from scipy.stats import entropy

    from rlmeta_interp.analysis.stats import bootstrap_pooled_ci

    rng = np.random.default_rng(0)
    counts = rng.poisson([3.0, 1.0, 0.5, 0.2], size=(150, 4)).astype(float)

    def ent(pooled):
        return entropy(pooled, axis=-1)

    lo, hi = bootstrap_pooled_ci(counts, ent, n_boot=3000, seed=0)
    idx = np.random.default_rng(9).integers(0, 150, size=(3000, 150))
    ref = np.array([entropy(counts[i].sum(0)) for i in idx])
    rlo, rhi = np.quantile(ref, [0.025, 0.975])
    assert abs(lo - rlo) < 0.1 * (hi - lo) and abs(hi - rhi) < 0.1 * (hi - lo)
    assert lo < entropy(counts.sum(0)) < hi
    assert all(np.isnan(bootstrap_pooled_ci(counts[:1], ent)))


def test_linear_cka_known_values():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 8))
    q, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    assert linear_cka(x, 3.0 * x @ q) == pytest.approx(1.0)
    assert linear_cka(x, rng.normal(size=(200, 8))) < 0.15
    with pytest.raises(InvalidConfigError, match="same rows"):
        linear_cka(x, x[:10])


def test_proportion_ci_is_the_wilson_interval_and_has_width_at_the_edges():
    # Wilson by hand: (p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)
    z, n = 1.959963984540054, 40
    for k in (0, 7, 40):
        p = k / n
        centre, half = p + z * z / (2 * n), z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        want = ((centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n))
        assert proportion_ci([1.0] * k + [0.0] * (n - k)) == pytest.approx(want, abs=1e-9)
    lo, hi = proportion_ci(np.zeros(256))
    assert lo == 0.0 and 0.01 < hi < 0.02  # none of 256: not "exactly 0"
    with pytest.raises(InvalidConfigError, match="0/1 values"):
        proportion_ci([0.5, 1.0])
    for bad in (1.0, 0, "0.95", None, True):
        with pytest.raises(InvalidConfigError, match="must be a number in"):
            proportion_ci([0.0, 1.0], ci=bad)


def _pairs(both: int, only_a: int, only_b: int, neither: int) -> tuple[np.ndarray, np.ndarray]:
    a = np.r_[[1.0] * both, [1.0] * only_a, [0.0] * only_b, [0.0] * neither]
    b = np.r_[[1.0] * both, [0.0] * only_a, [1.0] * only_b, [0.0] * neither]
    return a, b


def test_paired_proportion_diff_ci_is_newcombes_interval():
    # the paired 2x2 table (59, 6; 16, 80): Fagerland, Lydersen & Laake's worked example, -0.0621 (-0.1186 to -0.0046)
    a, b = _pairs(59, 6, 16, 80)
    assert paired_proportion_diff_ci(a, b) == pytest.approx((-0.1186, -0.0046), abs=1e-4)
    lo, hi = paired_proportion_diff_ci(b, a)  # swapping the two mirrors the interval
    assert (lo, hi) == pytest.approx((0.0046, 0.1186), abs=1e-4)
    # every pair differs the same way: a bootstrap would give exactly [1, 1]; this keeps width, inside [-1, 1]
    lo, hi = paired_proportion_diff_ci(np.ones(256), np.zeros(256))
    assert 0.97 < lo < 1.0 and hi == 1.0
    lo, hi = paired_proportion_diff_ci(np.ones(8), np.ones(8))
    assert lo < 0 < hi and lo == pytest.approx(-hi)
    assert paired_proportion_diff_ci(a, b, ci=0.99)[0] < paired_proportion_diff_ci(a, b, ci=0.95)[0]
    with pytest.raises(InvalidConfigError, match="0/1 values"):
        paired_proportion_diff_ci([0.5, 1.0], [1.0, 1.0])
    with pytest.raises(InvalidConfigError, match="equal length"):
        paired_proportion_diff_ci([0.0, 1.0], [1.0])


def test_paired_proportion_diff_ci_covers_the_true_difference():
    """Simulated coverage near 95% at 40 pairs, with correlated pairs and shares near an edge, and with independent
    ones (a paired bootstrap of the same draws covers about 0.91 in the second)."""
    rng = np.random.default_rng(0)
    for cells in ((0.80, 0.15, 0.02, 0.03), (0.30, 0.10, 0.10, 0.50)):  # both, only a, only b, neither
        truth = cells[1] - cells[2]
        hits = 0
        for _ in range(400):
            counts = rng.multinomial(40, cells)
            lo, hi = paired_proportion_diff_ci(*_pairs(*counts))
            hits += lo <= truth <= hi
        assert 0.92 <= hits / 400 <= 0.99, (cells, hits)


def test_mean_ci_takes_wilson_for_shares_and_a_bootstrap_otherwise():
    assert mean_ci(np.zeros(64)) == proportion_ci(np.zeros(64)) and mean_ci(np.zeros(64))[1] > 0
    x = np.linspace(0, 1, 30)
    assert mean_ci(x, n_boot=200, seed=3) == bootstrap_ci(x, n_boot=200, seed=3)


def test_mean_diff_ci_takes_newcombe_for_shares_and_a_bootstrap_otherwise():
    a, b = _pairs(59, 6, 16, 80)
    assert mean_diff_ci(a, b) == paired_proportion_diff_ci(a, b)
    x, y = np.linspace(0, 1, 30), np.linspace(0, 1, 30) ** 2
    assert mean_diff_ci(x, y, n_boot=200, seed=3) == paired_diff_ci(x, y, n_boot=200, seed=3)


def _mover_holds(c, s, b, r):
    """Whether 0 lies in the MOVER interval of ``mean(s - b) - c * mean(r - b)``, written out directly for each ``c``
    (the definition the ratio's limits are the edges of)."""
    num, den = s - b, r - b
    t1, t2 = num.mean(), den.mean()
    (l1, u1), (l2, u2) = mean_diff_ci(s, b), mean_diff_ci(r, b)
    n = num.size  # the correlation with Newcombe's continuity correction of a positive cross term (0/1 scores)
    cross = n * (num * den).sum() - num.sum() * den.sum()
    cross = cross - n / 2 if cross > n / 2 else min(cross, 0.0)
    spread = np.sqrt((n * (num ** 2).sum() - num.sum() ** 2) * (n * (den ** 2).sum() - den.sum() ** 2))
    rho = cross / spread if spread > 0 else 0.0
    y, ly, uy, cor = c * t2, np.minimum(c * l2, c * u2), np.maximum(c * l2, c * u2), np.sign(c) * rho
    lo = t1 - y - np.sqrt(np.maximum((t1 - l1) ** 2 + (uy - y) ** 2 - 2 * cor * (t1 - l1) * (uy - y), 0))
    hi = t1 - y + np.sqrt(np.maximum((u1 - t1) ** 2 + (y - ly) ** 2 - 2 * cor * (u1 - t1) * (y - ly), 0))
    return (lo <= 0) & (0 <= hi)


def _recovery_draw(rng, n, p_base, p_extra, share):
    """Base solves ``p_base``; RL solves those and ``p_extra`` of the rest; the steered base solves the base's and a
    ``share`` of RL's extra problems, so the true share of the gap recovered is ``share``."""
    b = (rng.uniform(size=n) < p_base).astype(float)
    extra = (rng.uniform(size=n) < p_extra) & (b == 0)
    return np.maximum(b, extra & (rng.uniform(size=n) < share)), b, np.maximum(b, extra)


def test_recovered_share_ci_is_the_edge_of_the_mover_inversion():
    rng, grid, checked = np.random.default_rng(4), np.linspace(-4, 4, 80_001), 0
    for k in range(40):
        s, b, r = _recovery_draw(rng, int(rng.integers(12, 80)), *rng.uniform(0, 0.6, 2), rng.uniform())
        if k % 2:  # a steered base that also loses problems the base solved: a negative numerator is possible
            s = np.where(rng.uniform(size=s.size) < 0.3, 0.0, s)
        lo, hi = recovered_share_ci(s, b, r)
        if not (np.isfinite(lo) and np.isfinite(hi) and -3.9 < lo and hi < 3.9):
            continue
        inside = grid[_mover_holds(grid, s, b, r)]
        assert inside.size == np.sum((grid >= inside.min()) & (grid <= inside.max()))  # one interval
        assert lo == pytest.approx(inside.min(), abs=2e-4) and hi == pytest.approx(inside.max(), abs=2e-4)
        assert lo <= (s - b).mean() / (r - b).mean() <= hi
        checked += 1
    assert checked >= 25


def test_recovered_share_ci_keeps_width_where_nothing_is_recovered():
    """A steered base that solves what the base solves (nothing) against an RL model that solves 115 of 128: not the
    point [0, 0] a bootstrap of all-equal differences gives, but a narrow interval around 0."""
    b, r = np.zeros(128), (np.arange(128) < 115).astype(float)
    lo, hi = recovered_share_ci(b.copy(), b, r)
    assert -0.05 < lo < 0 < hi < 0.05 and lo == pytest.approx(-hi)
    lo_full, hi_full = recovered_share_ci(r.copy(), b, r)  # the RL model's own scores recover the whole gap
    assert lo_full < 1 <= hi_full


def test_recovered_share_ci_is_not_narrower_than_the_count_of_recovered_problems():
    """A steered base that recovers exactly the RL model's k problems: the two differences are equal, so their plain
    correlation is 1 and the interval would shrink to about [0.92, 1.08] for 6 of 6; with the continuity-corrected
    correlation its lower end is near Wilson's for k of k (0.64, 0.75 and 0.91 here, against 0.61, 0.68 and 0.87)."""
    for n, k in ((40, 6), (80, 8), (256, 26)):
        b, r = np.zeros(n), (np.arange(n) < k).astype(float)
        lo, hi = recovered_share_ci(r.copy(), b, r)
        wilson_lo = proportion_ci(np.ones(k))[0]
        assert wilson_lo - 0.1 < lo < wilson_lo + 0.1 and hi > 1, (n, k, lo, wilson_lo)


def test_recovered_share_ci_finds_a_double_root():
    """Constant fractional scores: both differences have point intervals, the ratio's limits are a double root (a
    root finder that reads it as complex returned (-0.58, inf) and (-inf, inf) for the first two)."""
    for part, base, full in ((0.54, 0.61, 0.73), (0.0, 0.94, 0.82), (0.95, 0.2, 0.8), (0.5, 0.2, 0.8)):
        share = (part - base) / (full - base)
        lo, hi = recovered_share_ci(np.full(10, part), np.full(10, base), np.full(10, full))
        assert lo == pytest.approx(share, abs=1e-6) and hi == pytest.approx(share, abs=1e-6), (part, base, full)


def test_recovered_share_ci_signs_bounds_and_errors():
    rng = np.random.default_rng(5)
    s, b, r = _recovery_draw(rng, 60, 0.3, 0.5, 0.4)
    # RL worse than the base: both differences negated, the same ratio and the same interval
    assert recovered_share_ci(1 - s, 1 - b, 1 - r) == pytest.approx(recovered_share_ci(s, b, r))
    tiny = np.r_[np.ones(31), np.zeros(33)]  # RL one problem ahead of the base: the gap's own interval reaches 0
    assert recovered_share_ci(tiny, tiny, np.r_[np.ones(32), np.zeros(32)]) == (-np.inf, np.inf)
    assert np.isnan(recovered_share_ci(s, b, b)).all() and np.isnan(recovered_share_ci([1.0], [0.0], [1.0])).all()
    with pytest.raises(InvalidConfigError, match="one score per unit"):
        recovered_share_ci(s, b, r[:-1])


def test_recovered_share_ci_covers_the_true_share():
    """Simulated coverage; an unbounded interval, ``(-inf, inf)``, counts as covering. On these draws (measured once)
    it is 0.98, 1.00, 1.00 and 1.00, the bounded intervals alone also covering every time but 6 of 300 in the first
    (83, 73 and 1 of 300 are unbounded in the last three settings); the paired bootstrap of the ratio that this
    interval replaced covers 0.91, 0.69, 0.74 and 0.78."""
    rng = np.random.default_rng(6)
    for setting in ((40, 0.2, 0.5, 0.3), (40, 0.5, 0.3, 0.8), (64, 0.5, 0.2, 0.8), (256, 0.5, 0.1, 0.9)):
        cis = [recovered_share_ci(*_recovery_draw(rng, *setting)) for _ in range(300)]
        hits = sum(lo <= setting[3] <= hi for lo, hi in cis)
        assert hits / 300 >= 0.93, (setting, hits)


def test_bootstrap_ci_dropping_nan_skips_undefined_resamples():
    x = np.random.default_rng(2).normal(size=50)

    def mean_of(idx, axis=-1):
        return x[np.asarray(idx, dtype=np.int64)].mean(axis=-1)

    units = np.arange(50, dtype=np.float64)
    assert bootstrap_ci_dropping_nan(units, mean_of, n_boot=300, seed=1) == bootstrap_ci(units, stat=mean_of, n_boot=300,
                                                                                         seed=1)

    def undefined_without_row_0(idx, axis=-1):  # a resample that misses row 0 has no value, as a lost class has none
        idx = np.asarray(idx, dtype=np.int64)
        return np.where((idx == 0).any(axis=-1), x[idx].mean(axis=-1), np.nan)

    lo, hi = bootstrap_ci_dropping_nan(units, undefined_without_row_0, n_boot=300, seed=1)
    assert np.isfinite([lo, hi]).all() and lo < x.mean() < hi


def test_fold_scale_standardises_with_the_folds_own_statistics():
    train = np.array([[1.0, 5.0], [5.0, 5.0]])
    mu, sd = fold_scale(train)
    np.testing.assert_allclose(mu, [3.0, 5.0])
    np.testing.assert_allclose(sd, [2.0, 1.0])  # the constant column keeps deviation 1, not 0


def test_are_shares_is_true_only_when_every_array_holds_zeros_and_ones():
    from rlmeta_interp.analysis.stats import are_shares

    assert are_shares(np.array([0.0, 1.0, 1.0]), np.array([1, 1]))
    assert not are_shares(np.array([0.0, 1.0]), np.array([0.5, 1.0]))
    assert are_shares(np.zeros(3)) and not are_shares(np.array([2.0]))
