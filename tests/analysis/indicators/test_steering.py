"""Steering: the recovery vote at, below and above its thresholds, with its controls."""

from __future__ import annotations

from rlmeta_interp.analysis.indicators import steering as st
from rlmeta_interp.analysis.indicators.core import Estimate, ScorecardRules

R = ScorecardRules(min_gap=0.05, recovered_activation_min=0.5, recovered_creation_max=0.1)


def m(rec=0.8, lo=0.6, hi=1.0, gap=0.2, rnd_hi=0.3, acc_hi=0.5):
    return st.SteeringMetrics(gap=Estimate(gap), recovered_own=Estimate(rec, lo, hi),
                              recovered_random=Estimate(0.1, -0.1, rnd_hi), acc_own=Estimate(0.3, 0.2, acc_hi),
                              acc_base=Estimate(0.4, 0.3, 0.5))


def test_vote_thresholds():
    assert st.vote(m(), R) == "activation"
    assert st.vote(m(lo=0.5), R) == "inconclusive"  # CI lower end at the threshold
    assert st.vote(m(rnd_hi=0.6), R) == "inconclusive"  # a random vector does as well
    assert st.vote(m(gap=0.05), R) == "activation"  # gap at min_gap counts
    assert st.vote(m(gap=0.049), R) == "n/a"
    assert st.vote(m(rec=0.1, lo=-0.2, hi=0.4), R) == "creation"
    assert st.vote(m(rec=0.11, lo=-0.2, hi=0.4), R) == "inconclusive"  # above the creation maximum
    assert st.vote(m(rec=0.0, lo=-0.2, hi=0.5), R) == "inconclusive"  # CI reaches the activation minimum
    assert st.vote(m(rec=0.0, lo=-0.2, hi=0.4, acc_hi=0.39), R) == "inconclusive"  # steering broke the model
    # an interval unbounded at an end (the gap's own interval reaches 0) can vote neither way
    assert st.vote(m(rec=0.8, lo=float("-inf"), hi=float("inf")), R) == "inconclusive"
    assert st.vote(m(rnd_hi=float("inf")), R) == "inconclusive"  # a random vector's unbounded interval
    assert st.vote(m(rec=0.0, lo=float("-inf"), hi=float("inf")), R) == "inconclusive"
    assert st.statistic(m(rec=0.8)).value == -0.8
    assert st.with_cut(R, -0.3).recovered_activation_min == 0.3


def test_kl_to_rl_is_zero_for_the_model_itself_and_steering_by_zero_recovers_nothing(tmp_path):
    import numpy as np
    import pytest
    import torch

    from rlmeta_interp import load_pair
    from rlmeta_interp.analysis.indicators.core import Context, ScorecardConfig
    from rlmeta_interp.organism.corpus import make_world
    from rlmeta_interp.steering import SteeringVector

    from ...conftest import save_tiny_pair

    pair = load_pair(save_tiny_pair(tmp_path, scale=0.02, seed=1))
    rows = [pair.rl.to_tokens(["1+2=3"])[0][0], pair.rl.to_tokens(["4-1=3 ok"])[0][0]]
    kl_self = st.kl_to_reference(pair.rl.tl, pair.rl.tl, rows, [3, 3])
    kl_base = st.kl_to_reference(pair.rl.tl, pair.base.tl, rows, [3, 3])
    assert np.allclose(kl_self, 0.0, atol=1e-5) and (kl_base > 1e-4).all()
    world = make_world("arithmetic")
    ctx = Context(pair=pair, world=world, config=ScorecardConfig.smoke(), layer=0, problems=[])
    vec = SteeringVector.from_means({0: torch.ones(1, pair.base.d_model)}, {0: torch.zeros(1, pair.base.d_model)})
    rows, n_prompt = st.completion_rows(ctx, world.sample(6, seed=1))
    base, rec = st.kl_recovery(ctx, rows, n_prompt, vec, 0.0)
    assert base.value > 0 and rec.value == pytest.approx(0.0, abs=1e-6)
    _, moved = st.kl_recovery(ctx, rows, n_prompt, vec, 4.0)
    assert moved.value != pytest.approx(0.0, abs=1e-3)  # steering hard changes the distance to RL
    # a vector trained on RL's completions makes the base write them more likely than no vector does
    def completion_nll(tl):
        total = 0.0
        with torch.no_grad():
            for r, n in zip(rows, n_prompt, strict=True):
                lp = torch.log_softmax(tl(r[None]).float()[0, n - 1: -1], -1)
                total -= float(lp.gather(-1, r[n:, None]).sum())
        return total

    trained = st.train_vector(ctx, rows, n_prompt, steps=30)
    with trained.apply(pair.base.tl) as steered:
        after = completion_nll(steered)
    assert after < 0.99 * completion_nll(pair.base.tl)
