"""Features: the vote at, below and above its thresholds, with the random-reward control subtracted."""

from __future__ import annotations

from rlmeta_interp.analysis.indicators import features as ft
from rlmeta_interp.analysis.indicators.core import Estimate, ScorecardRules

R = ScorecardRules(fvu_activation_max=1.25, fvu_creation_min=2.0, rl_only_activation_max=0.01,
                   rl_only_creation_min=0.03)


def test_vote_thresholds_without_a_control():
    v = lambda fr, ro: ft.vote(ft.FeaturesMetrics(fvu_ratio=Estimate(fr), rl_only=Estimate(ro)), R)  # noqa: E731
    assert v(1.0, 0.0) == "activation"
    assert v(1.25, 0.01) == "activation"  # both at their activation thresholds
    assert v(1.26, 0.0) == "inconclusive"
    assert v(1.0, 0.02) == "inconclusive"
    assert v(1.0, 0.03) == "inconclusive"  # at the creation threshold: not beyond it
    assert v(1.0, 0.031) == "creation"
    assert v(2.0, 0.0) == "creation"


def test_the_control_is_subtracted():
    # RL-only latents 8%, but the same-budget random-reward run also has 7%: 1% beyond it, which is activation
    m = ft.FeaturesMetrics(fvu_ratio=Estimate(1.9), rl_only=Estimate(0.08), rl_only_excess=Estimate(0.01),
                           fvu_ratio_excess=Estimate(1.0))
    assert ft.vote(m, R) == "activation" and ft.statistic(m).value == 0.01
    m2 = ft.FeaturesMetrics(fvu_ratio=Estimate(1.0), rl_only=Estimate(0.08), rl_only_excess=Estimate(0.05),
                            fvu_ratio_excess=Estimate(1.0))
    assert ft.vote(m2, R) == "creation"
    assert ft.with_cut(R, 0.02).rl_only_creation_min == 0.02
