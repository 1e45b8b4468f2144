"""Shared measurements: computed once per run, on the intended problems, with the optional reference base."""

from __future__ import annotations

import pytest

from rlmeta_interp import load_pair, load_model
from rlmeta_interp.analysis.indicators import shared
from rlmeta_interp.analysis.indicators.core import Context, ScorecardConfig
from rlmeta_interp.organism.corpus import make_world

from ...conftest import save_tiny, save_tiny_pair


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    return load_pair(save_tiny_pair(tmp_path_factory.mktemp("shared"), scale=0.02, seed=1))


def ctx_for(pair, world_name, **kw):
    world = make_world(world_name)
    cfg = ScorecardConfig.smoke()
    problems = world.sample(cfg.n_problems, seed=cfg.problem_seed) if world_name != "bandits" else []
    return Context(pair=pair, world=world, config=cfg, layer=0, problems=problems, **kw)


def test_steering_problems_are_their_own_and_cached(pair):
    ctx = ctx_for(pair, "arithmetic")
    steer = shared.steer_problems(ctx)
    assert len(steer) == ctx.config.n_steer and shared.steer_problems(ctx) is steer
    assert [p.prompt for p in steer] != [p.prompt for p in ctx.problems]


def test_contrast_exists_for_arithmetic_and_bandits_and_carries_the_reference(pair, tmp_path):
    assert shared.contrast_acts(ctx_for(pair, "planning")) is None
    prompts, comps, labels = shared.contrast(ctx_for(pair, "bandits"))
    n = ctx_for(pair, "bandits").config.n_contrast
    assert set(prompts) == {""} and labels.tolist() == [1] * n + [0] * n  # Thompson episodes, then uniform play
    ref = load_model(save_tiny(tmp_path / "other_seed", "llama", seed=7))
    ctx = ctx_for(pair, "arithmetic", reference_base=ref)
    d = shared.contrast_acts(ctx)
    n = 2 * ctx.config.n_contrast
    assert d["labels"].sum() == ctx.config.n_contrast and d["base"].shape[0] == n
    assert d["reference"].shape == d["base"].shape and not (d["reference"] == d["base"]).all()
    prompts, comps, _ = shared.contrast(ctx)
    assert d["texts"] == [p + c for p, c in zip(prompts, comps, strict=True)]  # the probe's fold groups
    assert shared.contrast_acts(ctx) is d  # measured once per run


def test_bandit_episodes_match_their_targets(pair):
    ctx = ctx_for(pair, "bandits")
    ep = shared.episodes(ctx)
    assert len(ep["texts"]) == ctx.config.n_episodes == ep["targets"].shape[0]


def test_a_depth_dosed_pair_contrasts_deep_chains_with_shallow_ones():
    """A shipped depth-dosed pair's contrast spans the base corpus's operand range, in the scratchpad the base was
    pretrained on (scratchpad vs direct would show texts no organism of it ever saw), even when the evaluation world
    holds one depth only (as an RL world trained on the edge does)."""
    from rlmeta_interp.organism.trained_world import world_for

    pair = load_pair("val-arith-depth-d000-sft-deep")
    world = world_for(pair)
    edge = type(world)(world.config.replace(min_operands=5, max_operands=5))
    ctx = Context(pair=pair, world=edge, config=ScorecardConfig.smoke(), layer=0, problems=[])
    prompts, completions, labels = shared.contrast(ctx)
    operands = [p.count("+") + p.count("-") + 1 for p in prompts]
    assert all(o > 4 for o, y in zip(operands, labels, strict=True) if y == 1)
    assert all(o <= 4 for o, y in zip(operands, labels, strict=True) if y == 0)
    assert all(">" in c for c, o in zip(completions, operands, strict=True) if o > 2)  # rewrite chains
    assert shared.base_corpus(ctx)["depth_format"] == "rewrite"
