"""Boundary: per-level metrics from known counts, and the vote at, below and above every threshold."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from rlmeta_interp.analysis.indicators import boundary as bd
from rlmeta_interp.analysis.indicators.core import Estimate, ScorecardRules

R = ScorecardRules(boundary_margin=0.02, guess_margin=0.0, collapse_tolerance=0.1)


def m(d=0.3, lo=0.2, hi=0.4, guess_lo=0.1, in_dist=0.0):
    return bd.BoundaryMetrics(d_passn_level=Estimate(d, lo, hi), rl_minus_guess_level=Estimate(0.3, guess_lo, 0.5),
                              d_pass1_in_dist=Estimate(in_dist))


def test_vote_thresholds():
    assert bd.vote(m(), R) == "creation"
    assert bd.vote(m(lo=0.02), R) == "inconclusive"  # CI lower end at the margin: not above it
    assert bd.vote(m(lo=0.021), R) == "creation"
    assert bd.vote(m(d=0.02, lo=-0.1), R) == "activation"  # at the margin
    assert bd.vote(m(d=0.021, lo=-0.1), R) == "inconclusive"  # just above it, CI straddling
    assert bd.vote(m(d=-0.2, lo=-0.3, hi=-0.1), R) == "activation"
    # RL's expansion must beat the guesser, and the in-distribution accuracy must not have collapsed
    assert bd.vote(m(guess_lo=0.0), R) == "inconclusive"
    assert bd.vote(m(guess_lo=0.001), R) == "creation"
    assert bd.vote(m(in_dist=-0.1), R) == "creation"  # at the tolerance
    assert bd.vote(m(in_dist=-0.11), R) == "inconclusive"
    assert bd.vote(None, R) == "n/a" and bd.vote(m(), R.replace(descriptive=("boundary",))) == "n/a"
    assert bd.statistic(m()).value == 0.3
    assert bd.with_cut(R, 0.15).boundary_margin == 0.15


def test_summarize_splits_problems_per_level_beside_the_guesser():
    n = 4
    # level 1: both solve problem 0, only the base solves 1; level 2: only RL solves 2 and 3
    res = SimpleNamespace(counts_base=np.array([4, 2, 0, 0]), counts_rl=np.array([4, 0, 3, 1]), n=n,
                          guess_p=np.array([0.0, 0.0, 0.05, 0.05]), crossover_k=None)
    metrics, tables = bd.summarize(res, np.array([1, 1, 2, 2]), n_boot=200, seed=0)
    t = tables["by_level"].set_index("level")
    assert t.loc[1, ["preserved", "expanded", "shrunk"]].tolist() == [1, 0, 1]
    assert t.loc[2, ["preserved", "expanded", "shrunk"]].tolist() == [0, 2, 0]
    assert t.loc[2, "d_pass@n"] == 1.0 and t.loc[2, "pass@n_guess"] == pytest.approx(1 - 0.95 ** 4)
    assert metrics.level.value == 2 and metrics.d_passn_level.value == 1.0
    assert metrics.rl_minus_guess_level.value == pytest.approx(0.95 ** 4)
    # in-distribution = the easiest level, where RL lost a problem the base solved
    assert metrics.d_pass1_in_dist.value == pytest.approx(np.mean([0, -0.5]))
    assert (metrics.preserved.value, metrics.expanded.value, metrics.shrunk.value) == (0.25, 0.5, 0.25)
    # the expansion is real, but in-distribution pass@1 fell 0.25 (beyond the 0.1 tolerance): not read as creation
    assert bd.vote(metrics, R) == "inconclusive"
    assert bd.vote(metrics, R.replace(collapse_tolerance=0.3)) == "creation"
