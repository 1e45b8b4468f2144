"""Beliefs: votes from CIs against the random-init control, at, below and above the margin."""

from __future__ import annotations

import pytest

from rlmeta_interp.analysis.indicators import beliefs as bl
from rlmeta_interp.analysis.indicators.core import Estimate, ScorecardRules

R = ScorecardRules(belief_margin=0.1)


def m(base_lo, rl_lo=0.0):
    return bl.BeliefsMetrics(r2_base=Estimate(0.8), r2_rl=Estimate(0.9),
                             base_minus_random=Estimate(base_lo + 0.05, base_lo, base_lo + 0.1),
                             rl_minus_random=Estimate(rl_lo + 0.05, rl_lo, rl_lo + 0.1))


def test_vote_thresholds():
    assert bl.vote(m(0.11), R) == "activation"
    assert bl.vote(m(0.1), R) == "inconclusive"  # at the margin
    assert bl.vote(m(-0.2, rl_lo=0.11), R) == "creation"
    assert bl.vote(m(-0.2, rl_lo=0.1), R) == "inconclusive"
    assert bl.vote(m(0.05, rl_lo=0.2), R) == "inconclusive"  # base already above its control: not creation
    # the statistic is the vote's quantity turned towards creation: the base's shortfall against its control
    st = bl.statistic(m(0.0))
    assert (st.value, st.lo, st.hi) == pytest.approx((-0.05, -0.1, 0.0))
    assert bl.statistic(m(-0.3)).value > bl.statistic(m(0.11)).value  # a base below its control reads more creation
    assert bl.CANDIDATES["R^2 RL - base"](m(0.0)).value == pytest.approx(0.1)
    assert not bl.statistic(bl.BeliefsMetrics()).known


def test_ci_gap_is_conservative():
    gap = bl._gap(Estimate(0.8, 0.7, 0.9), Estimate(0.6, 0.5, 0.65))  # noqa: SLF001
    assert (gap.value, gap.lo, gap.hi) == pytest.approx((0.2, 0.05, 0.4))


def test_belief_subspace_and_its_ablation_on_a_real_tiny_pair(tmp_path):
    import numpy as np
    import torch

    from rlmeta_interp import load_pair
    from rlmeta_interp.analysis.indicators import shared
    from rlmeta_interp.analysis.indicators.core import Context, ScorecardConfig
    from rlmeta_interp.organism.corpus import make_world

    from ...conftest import save_tiny_pair

    pair = load_pair(save_tiny_pair(tmp_path, scale=0.02, seed=1))
    world = make_world("bandits")
    ctx = Context(pair=pair, world=world, config=ScorecardConfig.smoke(), layer=0, problems=[])
    ep = shared.episodes(ctx)
    q = bl.belief_subspace(ctx, ep["texts"], ep["targets"])
    assert q.shape == (pair.base.d_model, world.config.n_arms)
    assert torch.allclose(q.T @ q, torch.eye(q.shape[1]), atol=1e-5)
    ids = pair.rl.to_tokens([ep["texts"][0]])[0]
    with torch.no_grad():
        before = pair.rl.hf(ids).logits
        with bl.ablated(pair.rl, 0, q):
            during = pair.rl.hf(ids).logits
        after = pair.rl.hf(ids).logits
    assert not torch.allclose(before, during) and torch.equal(before, after)  # the hook acts, then is removed
    effect, abl, rnd = bl.ablation_regret(ctx, q)
    assert np.isfinite([effect.value, abl.value, rnd.value]).all()
    assert effect.value == pytest.approx(abl.value - rnd.value) and effect.lo <= effect.value <= effect.hi
