"""Elicitation: the vote at, below and above its thresholds, the recovered share against a direct computation, and
the measurement on real tiny pairs in both kinds of world."""

from __future__ import annotations

import numpy as np
import pytest

from rlmeta_interp.analysis.indicators import elicitation as el
from rlmeta_interp.analysis.indicators.core import Estimate, ScorecardRules

R = ScorecardRules(unrecovered_activation_max=0.5, unrecovered_creation_min=0.8, min_gap=0.05)


def m(recovered, lo, hi, gain=0.3):
    return el.ElicitationMetrics(recovered=Estimate(recovered, lo, hi), gain=Estimate(gain, gain - 0.1, gain + 0.1))


def test_vote_thresholds_on_the_unrecovered_share():
    assert el.vote(m(0.1, 0.0, 0.19), R) == "creation"  # unrecovered CI [0.81, 1.0] above 0.8
    assert el.vote(m(0.1, 0.0, 0.2), R) == "inconclusive"  # unrecovered CI lower end at the threshold
    assert el.vote(m(0.8, 0.51, 0.9), R) == "activation"  # unrecovered CI [0.1, 0.49] below 0.5
    assert el.vote(m(0.8, 0.5, 0.9), R) == "inconclusive"  # upper end at the threshold
    assert el.vote(m(0.3, 0.25, 0.4), R) == "inconclusive"
    assert el.vote(m(0.1, 0.0, 0.19, gain=0.04), R) == "n/a"  # no gain worth recovering
    assert el.vote(el.ElicitationMetrics(gain=Estimate(0.3)), R) == "n/a"  # no ratio (the gain summed to <= 0)
    assert el.vote(None, R) == "n/a"
    assert el.vote(m(0.1, 0.0, 0.19), R.replace(descriptive=("elicitation",))) == "n/a"


def test_a_damaged_control_withholds_the_vote_and_the_statistic():
    def dm(damage):
        return el.ElicitationMetrics(recovered=Estimate(0.1, 0.0, 0.19), gain=Estimate(0.3, 0.2, 0.4),
                                     damage=Estimate(damage, damage - 0.2, damage + 0.2))

    assert el.MAX_DAMAGE == 0.5
    assert el.vote(dm(0.49), R) == "creation" and el.statistic(dm(0.49)).known  # below the fixed guard
    assert el.vote(dm(0.5), R) == "creation" and el.statistic(dm(0.5)).known  # at it
    # above it: the control copy lost too much of the gain, so neither a vote nor a statistic for the fit
    assert el.vote(dm(0.51), R) == "n/a" and not el.statistic(dm(0.51)).known
    assert el.vote(dm(0.51), el.with_cut(R, 0.5)) == "n/a"  # no fitted cut brings the reading back


def test_the_reading_over_the_base_is_a_candidate_that_ignores_the_control():
    m_ = el.ElicitationMetrics(recovered=Estimate(0.6, 0.5, 0.7), recovered_over_base=Estimate(0.1, 0.0, 0.2),
                               gain=Estimate(0.3, 0.2, 0.4), damage=Estimate(0.9, 0.8, 1.0))
    over_base = el.CANDIDATES["unrecovered over the base"](m_)
    assert (over_base.value, over_base.lo, over_base.hi) == pytest.approx((0.9, 0.8, 1.0))
    assert not el.statistic(m_).known  # the damaged control hides the voting statistic, not the candidate


def test_statistic_turns_the_share_towards_creation_and_the_cut_maps_back():
    s = el.statistic(m(0.3, 0.2, 0.5))
    assert (s.value, s.lo, s.hi) == pytest.approx((0.7, 0.5, 0.8))
    assert not el.statistic(el.ElicitationMetrics()).known
    rules = el.with_cut(R, 0.6)
    assert rules.unrecovered_activation_max == rules.unrecovered_creation_min == 0.6
    assert el.vote(m(0.1, 0.0, 0.3), rules) == "creation" and el.vote(m(0.9, 0.5, 0.95), rules) == "activation"


def test_recovery_is_the_ratio_of_summed_gains_with_a_paired_ci():
    rng = np.random.default_rng(0)
    base = rng.uniform(0, 0.5, 200)
    rl = base + rng.uniform(0.1, 0.5, 200)
    elicited = base + 0.25 * (rl - base) + rng.normal(0, 0.02, 200)
    rec, gain, damage = el.recovery(base, rl, elicited, n_boot=500, seed=0, note="test")
    assert rec.value == pytest.approx((elicited - base).sum() / (rl - base).sum())
    assert rec.lo < rec.value < rec.hi and 0.2 < rec.lo and rec.hi < 0.3
    assert gain.value == pytest.approx((rl - base).mean()) and gain.lo > 0
    assert damage.value == 0.0  # no control given: the base is its own control
    none, flat, no_damage = el.recovery(base, base, elicited, n_boot=100, seed=0, note="test")  # no gain: no share
    assert not none.known and flat.value == 0.0 and not no_damage.known


def test_recovery_is_counted_over_the_control_copy():
    """A fine-tuning that costs every problem 0.1 whatever the demonstrations: the elicited copy's share is read
    against the control copy, so the damage does not read as unrecovered gain, and the damage is reported."""
    rng = np.random.default_rng(2)
    base = rng.uniform(0.3, 0.6, 300)
    rl = base + 0.3 + rng.normal(0, 0.02, 300)
    control = base - 0.1
    elicited = control + 0.6 * (rl - base) + rng.normal(0, 0.02, 300)
    rec, gain, damage = el.recovery(base, rl, elicited, n_boot=500, seed=0, note="test", control=control)
    assert rec.value == pytest.approx((elicited - control).sum() / (rl - base).sum())
    assert rec.lo < rec.value < rec.hi and 0.5 < rec.lo and rec.hi < 0.7
    assert damage.value == pytest.approx((base - control).sum() / (rl - base).sum()) and 0.3 < damage.lo
    naive, _, _ = el.recovery(base, rl, elicited, n_boot=500, seed=0, note="test")  # against the base instead
    assert naive.value < 0.35


def test_recovery_without_a_clear_ratio_is_unknown_and_does_not_vote():
    """Per-bandit regret noise with no real gain: too many resamples have no gain to divide by, so the share has no
    CI, and a point estimate alone must not vote."""
    rng = np.random.default_rng(1)
    base = -rng.normal(6.0, 2.0, 300)
    rl = base + rng.normal(0.02, 2.0, 300)
    elicited = base + rng.normal(0.0, 2.0, 300)
    rec, gain, damage = el.recovery(base, rl, elicited, n_boot=500, seed=0, note="test", control=base - 0.5)
    assert not rec.known and gain.lo < 0 < gain.hi
    assert not damage.known  # the guard's reading is unknown together with the statistic it guards
    assert el.vote(el.ElicitationMetrics(recovered=rec, gain=gain), R) == "n/a"


def _ctx(pair, world_name, tmp_path, **config_changes):
    from rlmeta_interp.analysis.indicators.core import Context, ScorecardConfig
    from rlmeta_interp.analysis.scorecard import evaluation_world
    from rlmeta_interp.organism.trained_world import world_for

    cfg = ScorecardConfig.smoke().replace(**config_changes)
    world = evaluation_world(pair, world_for(pair, world_name))
    probs = world.sample_held_out(cfg.n_problems, seed=cfg.problem_seed) if world_name != "bandits" else []
    return Context(pair=pair, world=world, config=cfg, layer=0, problems=probs, out_dir=tmp_path)


@pytest.mark.parametrize("name,world_name", [("val-arith-depth-d000-sft-deep", "arithmetic"),
                                             ("paper-bandit-d050-rl-correct", "bandits")])
def test_measure_on_a_shipped_organism_pair(tmp_path, name, world_name):
    from rlmeta_interp import load_pair

    ctx = _ctx(load_pair(name), world_name, tmp_path)
    demo = el.demo_problems(ctx)
    assert len(demo) == ctx.config.elicit_demos
    assert not {p.prompt for p in demo} & {p.prompt for p in ctx.problems}  # no evaluated problem is demonstrated
    metrics, tables = el.measure(ctx)
    assert metrics is not None and metrics.n_demos.value == ctx.config.elicit_demos
    scores = tables["elicitation_scores"]
    assert len(scores) == (ctx.config.n_problems if world_name == "arithmetic" else ctx.config.n_bandits)
    assert np.isfinite(scores[["base", "rl", "elicited", "control"]].to_numpy()).all()
    assert metrics.gain.value == pytest.approx(float((scores["rl"] - scores["base"]).mean()))
    assert metrics.score_elicited.value == pytest.approx(float(scores["elicited"].mean()))
    assert metrics.score_control.value == pytest.approx(float(scores["control"].mean()))
    _each_copy_learned_from_its_teacher(ctx, tables["elicitation_demos"])
    if world_name == "bandits":  # base and RL scores are the scorecard's shared regret run, not a second one
        from rlmeta_interp.analysis.indicators.shared import regret

        res, _ = regret(ctx)
        f = res.finals.set_index(["policy", "mode"])
        assert np.allclose(-f.loc[[("base", "sampled")]].sort_values("episode")["final_regret"], scores["base"])


def test_a_model_against_itself_has_no_gain_and_a_non_organism_pair_is_not_measured(tmp_path):
    from rlmeta_interp import load_pair

    from ...conftest import save_tiny_pair

    same = load_pair(("val-arith-depth-d000-base", "val-arith-depth-d000-base"))
    metrics, _ = el.measure(_ctx(same, "arithmetic", tmp_path / "same"))
    assert metrics.gain.value == 0.0 and not metrics.recovered.known
    assert el.vote(metrics, R) == "n/a"
    tiny = load_pair(save_tiny_pair(tmp_path / "tiny", scale=0.05, seed=1))  # no pretraining manifest: a "real" pair
    assert el.measure(_ctx(tiny, "arithmetic", tmp_path / "t")) == (None, {})


def test_with_no_fine_tuning_steps_the_two_copies_are_the_base_and_read_alike(tmp_path):
    """Wiring: with ``elicit_steps=0`` the elicited and control copies are both the base, sampled with one seed, so
    their scores agree problem by problem and nothing is recovered beyond the control."""
    from rlmeta_interp import load_pair

    ctx = _ctx(load_pair("val-arith-depth-d000-sft-deep"), "arithmetic", tmp_path, elicit_steps=0)
    metrics, tables = el.measure(ctx)
    scores = tables["elicitation_scores"]
    assert (scores["elicited"] == scores["control"]).all()
    assert metrics.steps.value == 0
    assert metrics.gain.value > 0  # this pair gained, so the share is defined: zero beyond the control
    assert metrics.recovered.known and metrics.recovered.value == 0.0


def _each_copy_learned_from_its_teacher(ctx, shown):
    """Wiring: the elicited copy's demonstrations are the trained model's outputs on the demonstration problems and
    the control copy's are the base's (drawn again here with the same seed), and the two differ, so a swap of the
    teachers fails."""
    from rlmeta_interp.organism.evaluate import rollout_bandits
    from rlmeta_interp.sampling import sample_completions

    demo, seed = el.demo_problems(ctx), ctx.config.seed + 6
    assert el.teachers(ctx) == {"elicited": ctx.pair.rl, "control": ctx.pair.base}
    got = {}
    for tag, model in (("elicited", ctx.pair.rl), ("control", ctx.pair.base)):
        mine = shown[shown["copy"] == tag]
        if ctx.world.name == "bandits":
            roll = rollout_bandits(model.hf, model.tokenizer, ctx.world, demo, seed=seed)
            want = [" ".join(map(str, a)) for a in roll.arms.tolist()]
            assert mine["bandit"].tolist() == roll.problem_index
            got[tag] = mine["arms"].tolist()
        else:
            comps = sample_completions(model.hf, model.tokenizer, [p.prompt for p in demo], n=1,
                                       max_new_tokens=ctx.max_new_tokens, seed=seed)
            want = [row[0] for row in comps]
            assert mine["prompt"].tolist() == [p.prompt for p in demo]
            got[tag] = mine["completion"].tolist()
        assert got[tag] == want
    assert got["elicited"] != got["control"]
