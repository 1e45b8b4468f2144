import numpy as np
import pytest

from rlmeta_interp.analysis.ratios import bootstrap_ratio_ci, recovered_share_ci, signed_ratio_ci
from rlmeta_interp.analysis.stats import mean_diff_ci, proportion_ci
from rlmeta_interp.errors import InvalidConfigError


def test_ratio_ci_matches_numpy_reference():
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
    for share in (-1.0, 5.0):  # -1 made every interval NaN, 5 none
        with pytest.raises(InvalidConfigError, match="max_undefined"):
            signed_ratio_ci(num, den, max_undefined=share)


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
