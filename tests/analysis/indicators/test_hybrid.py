"""Hybrid decoding: its own thresholds, at, below and above them, against random firing."""

from __future__ import annotations

from rlmeta_interp.analysis.indicators import hybrid as hy
from rlmeta_interp.analysis.indicators.core import Estimate, ScorecardRules

R = ScorecardRules(hybrid_activation_min=0.4, hybrid_creation_max=0.05, recovered_activation_min=0.9)


def m(rec, lo, hi, firing_hi=0.1):
    return hy.HybridMetrics(gap=Estimate(0.2), recovered=Estimate(rec, lo, hi),
                            recovered_random_firing=Estimate(0.0, -0.1, firing_hi), acc_hybrid=Estimate(0.3, 0.2, 0.5),
                            acc_base=Estimate(0.3))


def test_vote_uses_the_hybrid_thresholds_not_steering_ones():
    assert hy.vote(m(0.6, 0.45, 0.8), R) == "activation"
    assert hy.vote(m(0.6, 0.4, 0.8), R) == "inconclusive"
    assert hy.vote(m(0.6, 0.45, 0.8, firing_hi=0.5), R) == "inconclusive"
    assert hy.vote(m(0.05, -0.1, 0.3), R) == "creation"
    assert hy.vote(m(0.06, -0.1, 0.3), R) == "inconclusive"
    assert hy.with_cut(R, -0.2).hybrid_creation_max == 0.2 and hy.with_cut(R, -0.2).recovered_activation_min == 0.9
