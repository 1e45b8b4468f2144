import numpy as np
import pandas as pd
import pytest

from rlmeta_interp.analysis.stats import (
    mean_ci,
    mean_diff_ci,
    paired_proportion_diff_ci,
    proportion_ci,
    bootstrap_ci,
    bootstrap_ci_dropping_nan,
    bootstrap_curve_ci,
    fold_scale,
    linear_cka,
    paired_diff_ci,
    paired_gain_p,
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


def test_paired_gain_p_is_exact_where_the_bootstrap_is_narrow():
    from scipy.stats import binomtest, ttest_rel

    base, five = np.zeros(64), np.zeros(64)
    five[:5] = 1.0  # 5 problems gained, none lost, 59 unchanged
    # the bootstrap's 98.3% interval (a check over three levels) lies above 0 ...
    assert paired_diff_ci(five, base, n_boot=4000, ci=1 - 0.05 / 3)[0] > 0
    # ... where the exact sign-flip test (McNemar's, for 0/1 outcomes) reads 1/32, above the 0.83% per tail
    assert paired_gain_p(five, base) == pytest.approx(1 / 32)
    assert paired_gain_p(five, base) == pytest.approx(binomtest(5, 5, 0.5, alternative="greater").pvalue)
    assert paired_gain_p(np.r_[five, np.zeros(500)], np.zeros(564)) == pytest.approx(1 / 32)  # unchanged units add nothing
    mixed = five.copy()
    mixed[10:12] = -1.0  # 5 gained, 2 lost
    assert paired_gain_p(mixed, base) == pytest.approx(binomtest(5, 7, 0.5, alternative="greater").pvalue)
    one = np.zeros(64)
    one[0] = 1.0
    assert paired_gain_p(one, base) == 0.5 and paired_gain_p(base, one) == 1.0 and paired_gain_p(base, base) == 1.0
    # many differing units: a Monte Carlo permutation p close to the paired t-test's
    rng = np.random.default_rng(1)
    x, y = rng.normal(0.3, 1, 300), rng.normal(0, 1, 300)
    assert paired_gain_p(x, y) == pytest.approx(ttest_rel(x, y, alternative="greater").pvalue, abs=0.004)
    with pytest.raises(InvalidConfigError, match="equal length"):
        paired_gain_p([1.0, 2.0], [1.0])
    with pytest.raises(InvalidConfigError, match="n_resamples"):
        paired_gain_p([1.0, 2.0], [0.0, 0.0], n_resamples=True)


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
    with pytest.raises(InvalidConfigError, match="n_boot"):
        bootstrap_ci([1.0, 2.0], n_boot=True)  # a bool is not a count of resamples (it ran one)
    assert bootstrap_ci([1.0, 2.0, 3.0], ci=np.float32(0.9))[0] <= 2.0  # a numpy float is a coverage like any other
    shares = [0.0, 1.0, 1.0, 0.0]  # Wilson's interval takes a numpy coverage too (it refused np.float32(0.9))
    assert mean_ci(shares, ci=np.float32(0.9)) == pytest.approx(proportion_ci(shares, ci=0.9))
    with pytest.raises(InvalidConfigError, match="2-D"):
        linear_cka(np.ones((3, 2, 2)), np.ones((3, 2)))
    with pytest.raises(NonFiniteError):
        linear_cka(np.array([[1.0, np.nan], [2.0, 3.0]]), np.ones((2, 2)))


def test_summaries():
    row = summarize([0.0, 1.0, 1.0, 0.0], model="base")
    assert row["model"] == "base" and row["mean"] == 0.5 and row["n"] == 4
    assert row["ci_lo"] <= 0.5 <= row["ci_hi"]
    df = summarize_groups({"a": [1.0, 2.0, 3.0], "b": [0.0, 0.0, 1.0]}, key="policy")
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == ["policy", "mean", "ci_lo", "ci_hi", "n"]
    assert df["mean"].tolist() == pytest.approx([2.0, 1 / 3])


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
