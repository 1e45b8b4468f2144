"""Held-out metrics on tables with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from rlmeta_interp.analysis.validation import metrics as vm
from rlmeta_interp.errors import EmptyInputError, InvalidConfigError


def test_auc_is_one_for_a_separating_statistic_and_half_for_a_constant():
    y = [True] * 6 + [False] * 6
    auc, lo, hi, n = vm.roc_auc_ci([1.0 + i for i in range(6)] + [-1.0 - i for i in range(6)], y, n_boot=200)
    assert (auc, n) == (1.0, 12) and (lo, hi) == pytest.approx((1.0, 1.0))
    auc, lo, hi, _ = vm.roc_auc_ci([0.3] * 12, y, n_boot=200)
    assert auc == 0.5 and (lo, hi) == pytest.approx((0.5, 0.5))
    # reversed orientation reads 0; a missing score leaves the pair out; one class only has no AUC
    assert vm.roc_auc_ci([-1.0] * 6 + [1.0] * 6, y, n_boot=50)[0] == 0.0
    assert vm.roc_auc_ci([1.0, None, 0.0], [True, True, False], n_boot=50)[3] == 2
    assert np.isnan(vm.roc_auc_ci([1.0, 2.0], [True, True], n_boot=50)[0])
    with pytest.raises(InvalidConfigError, match="One score per pair"):
        vm.roc_auc_ci([1.0], [True, False])


def test_auc_ci_widens_with_overlap():
    rng = np.random.default_rng(0)
    y = np.array([True] * 20 + [False] * 20)
    s = np.where(y, 0.5, 0.0) + rng.normal(0, 0.5, 40)
    auc, lo, hi, _ = vm.roc_auc_ci(s, y, n_boot=300)
    assert lo < auc < hi and 0.5 < auc < 1.0


def test_youden_threshold_separates_and_sits_between_pairs():
    y = [True, True, False, False]
    t = vm.youden_threshold([0.4, 0.3, 0.1, 0.0], y)
    assert t == pytest.approx(0.2)
    with pytest.raises(EmptyInputError, match="both classes"):
        vm.youden_threshold([0.1, 0.2], [True, True])


def test_balanced_accuracy_confusion_recall_and_constant_baseline():
    true = ["creation"] * 4 + ["activation"] * 4 + ["no_signal"] * 2
    perfect = list(true)
    ba, lo, hi = vm.balanced_accuracy_ci(true, perfect, n_boot=200)
    assert ba == 1.0 and (lo, hi) == pytest.approx((1.0, 1.0))
    pred = ["creation", "creation", "activation", "inconclusive"] + ["activation"] * 4 + ["creation", "no_signal"]
    ba, lo, hi = vm.balanced_accuracy_ci(true, pred, n_boot=200)
    assert ba == pytest.approx((0.5 + 1.0 + 0.5) / 3) and lo <= ba <= hi
    conf = vm.confusion_table(true, pred, ["creation", "activation", "no_signal"],
                              ["creation", "activation", "no_signal", "inconclusive"])
    assert conf.loc["creation", "inconclusive"] == 1 and conf.loc["no_signal", "creation"] == 1
    assert conf.to_numpy().sum() == len(true)
    assert vm.recall_by_class(true, pred) == {"creation": 0.5, "activation": 1.0, "no_signal": 0.5}
    answer, base = vm.constant_baseline(true, ["activation", "activation", "creation"])
    assert answer == "activation" and base == pytest.approx(1 / 3)
    with pytest.raises(EmptyInputError, match="held-out split is empty"):
        vm.balanced_accuracy_ci([], [])


def test_cluster_bootstrap_over_shared_bases_is_wider_than_over_pairs():
    from rlmeta_interp.analysis.validation.metrics import balanced_accuracy_ci, roc_auc_ci

    rng = np.random.default_rng(0)
    # 6 bases, 4 pairs each: pairs of one base share its (noisy) score, so they are not independent evidence
    base_score = np.array([1.2, 0.3, 0.9, 0.5, -0.2, 0.1])  # AUC 8/9 over bases
    scores = np.repeat(base_score, 4) + rng.normal(0, 0.05, 24)
    positive = np.repeat([True, True, True, False, False, False], 4)
    groups = np.repeat([f"b{i}" for i in range(6)], 4).tolist()
    _, lo_p, hi_p, _ = roc_auc_ci(scores.tolist(), positive.tolist(), n_boot=400)
    _, lo_g, hi_g, _ = roc_auc_ci(scores.tolist(), positive.tolist(), n_boot=400, groups=groups)
    assert hi_g - lo_g > hi_p - lo_p
    true = np.where(positive, "creation", "activation").tolist()
    pred = np.where(scores > 0.4, "creation", "activation").tolist()
    _, blo_p, bhi_p = balanced_accuracy_ci(true, pred, n_boot=400)
    _, blo_g, bhi_g = balanced_accuracy_ci(true, pred, n_boot=400, groups=groups)
    assert bhi_g - blo_g >= bhi_p - blo_p


def test_exact_recall_interval_says_how_little_a_few_pairs_show():
    true = ["creation"] * 3 + ["activation"] * 20
    pred = ["creation"] * 3 + ["activation"] * 19 + ["creation"]
    out = vm.recall_exact_ci(true, pred)
    k, n, lo, hi = out["creation"]
    assert (k, n, hi) == (3, 3, 1.0) and lo == pytest.approx(0.025 ** (1 / 3))  # 3 of 3: lower end 0.29
    k, n, lo, hi = out["activation"]
    assert (k, n) == (19, 20) and 0.7 < lo < 0.8 and 0.99 < hi < 1.0


def test_rank_auc_is_scikit_learns_auc_with_ties():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    for n in (2, 5, 13, 40):
        y = np.zeros(n, dtype=bool)
        y[: max(1, n // 3)] = True
        rng.shuffle(y)
        s = rng.integers(0, 4, n).astype(float)  # few distinct values: many ties
        assert vm.rank_auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert vm.rank_auc(np.array([True, False]), np.array([1.0, 0.0])) == 1.0
    assert vm.rank_auc(np.array([True, False]), np.array([0.0, 1.0])) == 0.0


def _names_resample(rng, groups):
    """The cluster bootstrap drawn as the metrics drew it before their resampler: group names drawn with
    replacement, each bringing its members."""
    g = np.asarray(groups, dtype=object)
    names = np.unique(g)
    return np.concatenate([np.flatnonzero(g == k) for k in rng.choice(names, len(names))])


def test_resampler_draws_whole_groups_as_drawing_group_names_does():
    groups = ["b1", "b2", "b1", "b3", "b2", "b2"]
    draw = vm.resampler(len(groups), groups)
    a, b, c = np.random.default_rng(4), np.random.default_rng(4), np.random.default_rng(4)
    seen = set()
    for _ in range(50):
        idx = draw(a)
        assert (idx == _names_resample(b, groups)).all() and (idx == vm.resample(c, len(groups), groups)).all()
        picked = [groups[i] for i in idx]
        # each drawn base brings all its pairs, and three bases are drawn
        assert sum(picked.count(g) // groups.count(g) for g in set(picked)) == 3
        seen.add(tuple(idx))
    assert len(seen) > 5  # the draws vary
    assert (vm.resampler(4, None)(np.random.default_rng(1)) == np.random.default_rng(1).integers(0, 4, 4)).all()


def test_bootstrap_cis_are_scikit_learns_on_the_same_draws():
    """The CIs' hand-written resample scores give scikit-learn's CIs on the same draws (group names drawn as before),
    at several levels, so order statistics across the bootstrap distribution agree, not only its 95% ends (ties,
    abstentions and resamples holding one class included)."""
    import warnings

    from sklearn.metrics import balanced_accuracy_score, roc_auc_score

    rng = np.random.default_rng(1)
    true = rng.choice(["creation", "activation", "no_signal"], 17).tolist()
    pred = rng.choice(["creation", "activation", "no_signal", "inconclusive"], 17).tolist()
    groups = [f"base{i % 6}" for i in range(17)]
    scores = rng.integers(0, 4, 17).astype(float)
    positive = np.array([t == "creation" for t in true])
    t, p = np.array(true, dtype=object), np.array(pred, dtype=object)
    ba, auc = [], []
    draws = np.random.default_rng(0)
    for _ in range(200):
        idx = _names_resample(draws, groups)
        if len(set(t[idx])) >= 2:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ba.append(balanced_accuracy_score(t[idx], p[idx]))
    draws = np.random.default_rng(0)
    for _ in range(200):
        idx = _names_resample(draws, groups)
        if positive[idx].any() and not positive[idx].all():
            auc.append(roc_auc_score(positive[idx], scores[idx]))
    for ci in (0.2, 0.5, 0.8, 0.95, 0.99):
        a = (1 - ci) / 2
        want_ba, want_auc = tuple(np.quantile(ba, [a, 1 - a])), tuple(np.quantile(auc, [a, 1 - a]))
        _, lo, hi = vm.balanced_accuracy_ci(true, pred, n_boot=200, seed=0, groups=groups, ci=ci)
        assert (lo, hi) == pytest.approx(want_ba, abs=1e-12)
        _, lo, hi, _ = vm.roc_auc_ci(scores.tolist(), positive, n_boot=200, seed=0, groups=groups, ci=ci)
        assert (lo, hi) == pytest.approx(want_auc, abs=1e-12)
    assert len(set(ba)) > 3 and len(set(auc)) > 3  # the draws vary: the comparison is not between two constants
