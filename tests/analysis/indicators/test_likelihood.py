"""Likelihood: the vote at, below and above its thresholds, on RL-only problems first."""

from __future__ import annotations

import math

from rlmeta_interp.analysis.indicators import likelihood as lk
from rlmeta_interp.analysis.indicators.core import Estimate, ScorecardRules

R = ScorecardRules(likelihood_activation_max=1.25, likelihood_creation_min=2.0)


def m(v, lo, hi, rl_only=True):
    e = Estimate(v, lo, hi)
    return lk.LikelihoodMetrics(ratio_rl_only=e if rl_only else Estimate(), ratio_all=Estimate(1.0, 0.9, 1.1))


def test_vote_thresholds():
    assert lk.vote(m(3.0, 2.5, 3.5), R) == "creation"
    assert lk.vote(m(3.0, 2.0, 3.5), R) == "inconclusive"  # CI lower end at the threshold
    assert lk.vote(m(1.1, 1.0, 1.2), R) == "activation"
    assert lk.vote(m(1.1, 1.0, 1.25), R) == "inconclusive"  # CI upper end at the threshold
    assert lk.vote(m(1.6, 1.3, 1.9), R) == "inconclusive"
    # without RL-only problems the ratio over all problems decides
    assert lk.vote(m(9.0, 8.0, 10.0, rl_only=False), R) == "activation"
    assert lk.vote(None, R) == "n/a"


def test_statistic_is_the_log_ratio_and_the_cut_maps_back():
    s = lk.statistic(m(math.e, 1.0, math.e ** 2))
    assert s.value == 1.0 and s.lo == 0.0 and s.hi == 2.0
    rules = lk.with_cut(R, math.log(1.5))
    assert rules.likelihood_activation_max == rules.likelihood_creation_min == 1.5
