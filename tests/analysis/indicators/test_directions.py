"""Directions: seed-scaled similarity, CKA, and the vote at, below and above its thresholds."""

from __future__ import annotations

import pytest

from rlmeta_interp.analysis.indicators import directions as dr
from rlmeta_interp.analysis.indicators.core import Estimate, ScorecardRules

R = ScorecardRules(cosine_activation_min=0.8, cosine_creation_max=0.5)


def test_raw_cosine_vote_needs_the_shared_null():
    m = lambda lo, p=0.01: dr.DirectionsMetrics(cosine=Estimate(0.9, lo, 0.95), p_shared=Estimate(p))  # noqa: E731
    assert dr.vote(m(0.85), R) == "activation"
    assert dr.vote(m(0.8), R) == "inconclusive"  # CI lower end at the threshold
    assert dr.vote(m(0.85, p=0.05), R) == "inconclusive"  # does not beat the shared-permutation null
    low = dr.DirectionsMetrics(cosine=Estimate(0.3, 0.2, 0.49))
    assert dr.vote(low, R) == "creation"
    assert dr.vote(dr.DirectionsMetrics(cosine=Estimate(0.4, 0.3, 0.5)), R) == "inconclusive"


def test_seed_scaled_similarity_replaces_the_raw_cosine():
    # base/RL distance 0.001 vs base/other-seed 0.1: RL kept 99% of what separates seeds -> similarity 0.99
    m = dr.DirectionsMetrics(cosine=Estimate(0.999, 0.998, 0.9995), scaled_distance=Estimate(0.01, 0.005, 0.02))
    s = dr.similarity(m)
    assert s.value == pytest.approx(0.99) and s.lo == pytest.approx(0.98) and s.hi == pytest.approx(0.995)
    assert dr.vote(m, R) == "activation"  # no shared null needed once scaled by a seed reference
    far = dr.DirectionsMetrics(cosine=Estimate(0.999), scaled_distance=Estimate(0.9, 0.6, 1.2))
    assert dr.vote(far, R) == "creation" and dr.statistic(far).value == pytest.approx(-0.1)
    assert dr.with_cut(R, -0.7).cosine_activation_min == pytest.approx(0.7)



def test_own_sample_direction_reads_labels_from_what_the_model_wrote(tmp_path):
    from rlmeta_interp import load_pair
    from rlmeta_interp.analysis.indicators.core import Context, ScorecardConfig
    from rlmeta_interp.organism.corpus import make_world
    from rlmeta_interp.organism.worlds.arithmetic import SCRATCHPAD_FORMATS

    from ...conftest import save_tiny_pair

    pair = load_pair(save_tiny_pair(tmp_path, scale=0.02, seed=1))
    world = make_world("arithmetic")
    probs = world.sample(4, seed=2)
    ctx = Context(pair=pair, world=world, config=ScorecardConfig.smoke(), layer=0, problems=probs)
    mixed = [[world.solution(p, SCRATCHPAD_FORMATS[0]), world.solution(p, "direct")] for p in probs]
    direction, n = dr.own_sample_direction(ctx, pair.base, mixed)
    assert n == 4 and direction.shape == (pair.base.d_model,) and direction.norm() > 0
    direct_only = [[world.solution(p, "direct")] * 2 for p in probs]
    assert dr.own_sample_direction(ctx, pair.base, direct_only) == (None, 0)


def test_bandit_directions_contrast_thompson_with_random_play_without_own_samples(tmp_path, monkeypatch):
    """In the bandit world the contrast is Thompson vs uniform-random episodes; the own-sample reading (labelled by a
    single-turn format) is left unknown rather than sampled from a multi-turn world."""
    from rlmeta_interp import load_model, load_pair
    from rlmeta_interp.analysis.indicators.core import Context, ScorecardConfig
    from rlmeta_interp.organism.corpus import make_world

    from ...conftest import save_tiny, save_tiny_pair

    pair = load_pair(save_tiny_pair(tmp_path / "pair", scale=0.02, seed=1))
    ref = load_model(save_tiny(tmp_path / "other_seed", "llama", seed=7))
    ctx = Context(pair=pair, world=make_world("bandits"), config=ScorecardConfig.smoke(), layer=0, problems=[],
                  reference_base=ref)
    seen = []

    def recording(*args, **kwargs):  # the real probe transfer, with the folds' groups noted
        seen.append(kwargs.get("groups"))
        return real_transfer(*args, **kwargs)

    real_transfer = dr.probe_transfer
    monkeypatch.setattr(dr, "probe_transfer", recording)
    m, tables = dr.measure(ctx)
    assert m is not None and m.cosine.known and m.scaled_distance.known and m.cka.known
    assert seen == [ctx.cache["directions"]["texts"]] and len(seen[0]) == 2 * ctx.config.n_contrast  # texts group folds
    assert not m.cosine_own_samples.known and "passk" not in ctx.cache
    assert dr.statistic(m).known and dr.vote(m, R) in ("activation", "creation", "inconclusive")
    # a model against itself keeps its direction exactly: cosine 1, distance 0 whatever the reference
    same = load_pair((tmp_path / "pair" / "base", tmp_path / "pair" / "base"))
    m0, _ = dr.measure(Context(pair=same, world=ctx.world, config=ctx.config, layer=0, problems=[], reference_base=ref))
    assert m0.cosine.value == pytest.approx(1.0, abs=1e-5) and m0.scaled_distance.value == pytest.approx(0.0, abs=1e-4)
    assert dr.vote(m0, R) == "activation"
