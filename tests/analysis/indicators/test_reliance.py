"""Reliance: votes at, below and above both thresholds, the guard on the trained model's own reliance, and the
measurement on a real tiny bandit pair against the analysis function it wraps."""

from __future__ import annotations

import numpy as np
import pytest

from rlmeta_interp.analysis.indicators import reliance as rr
from rlmeta_interp.analysis.indicators.core import Estimate, ScorecardRules

R = ScorecardRules(reliance_activation_max=0.5, reliance_creation_min=0.8)


def m(lo, hi, rl_lo=0.01):
    return rr.RelianceMetrics(unreached=Estimate((lo + hi) / 2, lo, hi),
                              directed_rl=Estimate(rl_lo + 0.02, rl_lo, rl_lo + 0.04),
                              short_of_thompson=Estimate(0.9, 0.85, 0.95))


def test_vote_thresholds():
    assert rr.vote(m(0.81, 0.9), R) == "creation"
    assert rr.vote(m(0.8, 0.9), R) == "inconclusive"  # at the creation threshold
    assert rr.vote(m(0.1, 0.49), R) == "activation"
    assert rr.vote(m(0.1, 0.5), R) == "inconclusive"  # at the activation threshold
    assert rr.vote(m(0.4, 0.9), R) == "inconclusive"  # the CI straddles both
    assert rr.vote(None, R) == "n/a"
    assert rr.vote(m(0.81, 0.9), R.replace(descriptive=("reliance",))) == "n/a"


def test_no_reading_unless_the_trained_model_relies_on_the_rewards():
    assert rr.statistic(m(0.81, 0.9, rl_lo=0.001)).known
    for rl_lo in (0.0, -0.01):  # CI touching or below 0: nothing for the ratio to divide by
        assert not rr.statistic(m(0.81, 0.9, rl_lo=rl_lo)).known
        assert rr.vote(m(0.81, 0.9, rl_lo=rl_lo), R) == "n/a"
    no_ci = rr.RelianceMetrics(unreached=Estimate(0.9, 0.85, 0.95), directed_rl=Estimate(0.05))
    assert not rr.statistic(no_ci).known  # a point value alone does not pass the guard
    assert rr.CANDIDATES["base short of Thompson"](m(0.1, 0.2)).value == pytest.approx(0.9)
    cut = rr.with_cut(R, 0.6)
    assert (cut.reliance_activation_max, cut.reliance_creation_min) == (0.6, 0.6)
    assert rr.vote(m(0.61, 0.7), cut) == "creation" and rr.vote(m(0.5, 0.59), cut) == "activation"


def test_lacking_share_is_one_minus_the_ratio_with_its_ci_flipped():
    num, den = np.array([0.0, 0.1, 0.05, 0.0]), np.array([0.2, 0.3, 0.1, 0.2])
    e = rr.lacking_share(num, den, n_boot=200, seed=0, note="x")
    assert e.value == pytest.approx(1 - 0.15 / 0.8) and e.lo <= e.value <= e.hi <= 1.0
    assert not rr.lacking_share(num, -den, n_boot=200, seed=0, note="x").known


def test_measure_on_a_real_tiny_pair_matches_the_analysis(tmp_path):
    from rlmeta_interp import load_pair
    from rlmeta_interp.analysis.indicators import run_indicator, shared
    from rlmeta_interp.analysis.indicators.core import Context, ScorecardConfig
    from rlmeta_interp.analysis.reliance import reward_reliance
    from rlmeta_interp.organism.corpus import make_world

    from ...conftest import save_tiny_pair

    pair = load_pair(save_tiny_pair(tmp_path, scale=0.5, seed=3))
    world = make_world("bandits")
    cfg = ScorecardConfig.smoke()
    ctx = Context(pair=pair, world=world, config=cfg, layer=0, problems=[])
    res = run_indicator("reliance", ctx)
    got = rr.RelianceMetrics.from_rows(res.metrics)
    ref = reward_reliance({"base": pair.base, "rl": pair.rl}, shared.episodes(ctx)["texts"],
                          n_arms=world.config.n_arms, n_boot=cfg.n_boot, seed=cfg.seed,
                          thompson_draws=rr.THOMPSON_DRAWS).set_index("model")
    for key, model in (("directed_base", "base"), ("directed_rl", "rl"), ("directed_thompson", "thompson")):
        assert getattr(got, key).value == pytest.approx(ref.loc[model, "directed"])
    assert got.tv_rl.value == pytest.approx(ref.loc["rl", "tv"])
    per = res.tables["reliance_episodes"]
    b, r = (per[per["model"] == k].sort_values("episode")["directed"].to_numpy() for k in ("base", "rl"))
    want = rr.lacking_share(b, r, n_boot=cfg.n_boot, seed=cfg.seed, note="")
    assert got.unreached.known == want.known and (not want.known or got.unreached.value == pytest.approx(want.value))
    assert got.n_choices.value == ref.loc["base", "n_choices"]
    # the statistic and the vote follow the guard on the trained model's own reliance
    assert res.statistic.known == got.directed_rl.above(0.0)
    assert (res.vote == "n/a") == (not got.directed_rl.above(0.0))
    # not a bandit world: does not apply
    arith = Context(pair=pair, world=make_world("arithmetic"), config=cfg, layer=0, problems=[])
    assert run_indicator("reliance", arith).vote == "n/a"
