"""Likelihood: the vote at, below and above its thresholds, on RL-only problems first."""

from __future__ import annotations

import math

import pytest

from rlmeta_interp.analysis.indicators import likelihood as lk
from rlmeta_interp.analysis.indicators.core import Estimate, ScorecardRules

R = ScorecardRules(kl_activation_max=0.2, kl_creation_min=1.0)


RATIO = Estimate(1.0, 0.9, 1.1)


def m(v, lo, hi, ratio=RATIO):
    return lk.LikelihoodMetrics(kl_rl_base=Estimate(v, lo, hi), ratio_rl_only=ratio, ratio_all=RATIO)


def test_vote_thresholds_on_the_kl():
    assert lk.vote(m(3.0, 2.5, 3.5), R) == "creation"
    assert lk.vote(m(3.0, 1.0, 3.5), R) == "inconclusive"  # CI lower end at the threshold
    assert lk.vote(m(0.1, 0.05, 0.15), R) == "activation"
    assert lk.vote(m(0.1, 0.05, 0.2), R) == "inconclusive"  # CI upper end at the threshold
    assert lk.vote(m(0.6, 0.3, 0.9), R) == "inconclusive"
    # the perplexity ratio does not vote, whatever its value
    assert lk.vote(m(0.1, 0.05, 0.15, ratio=Estimate(50.0, 40.0, 60.0)), R) == "activation"
    assert lk.vote(lk.LikelihoodMetrics(ratio_all=Estimate(9.0, 8.0, 10.0)), R) == "n/a"
    assert lk.vote(None, R) == "n/a"
    assert lk.vote(m(3.0, 2.5, 3.5), R.replace(descriptive=("likelihood",))) == "n/a"


def test_statistic_is_the_kl_the_cut_maps_back_and_the_ratio_is_a_candidate():
    s = lk.statistic(m(0.5, 0.4, 0.6))
    assert (s.value, s.lo, s.hi) == (0.5, 0.4, 0.6)
    rules = lk.with_cut(R, 0.3)
    assert rules.kl_activation_max == rules.kl_creation_min == 0.3
    c = lk.CANDIDATES["log ppl ratio"](m(0.5, 0.4, 0.6, ratio=Estimate(math.e, 1.0, math.e ** 2)))
    assert c.value == 1.0 and c.lo == 0.0 and c.hi == 2.0
    assert not lk.CANDIDATES["log ppl ratio"](m(0.5, 0.4, 0.6, ratio=Estimate(0.0))).known


def test_measure_scores_rl_solutions_on_the_problems_only_rl_solves(tmp_path):
    """Real tiny base as the scorer; samples placed in the shared cache: RL solves problems 0 and 1 (correct
    worked solutions), the base none; problems 2 and 3 are solved by neither."""
    import numpy as np

    from rlmeta_interp import load_pair
    from rlmeta_interp.analysis.capability import BoundaryConfig, BoundaryResult
    from rlmeta_interp.analysis.indicators.core import Context, ScorecardConfig
    from rlmeta_interp.organism.corpus import make_world

    from ...conftest import save_tiny_pair

    pair = load_pair(save_tiny_pair(tmp_path, scale=0.02, seed=1))
    world = make_world("arithmetic")
    probs = world.sample(4, seed=3)
    right = [world.solution(p, "direct") for p in probs]
    wrong = [str(int(p.answer) + 1) for p in probs]
    rl = [[right[0], wrong[0]], [right[1], right[1]], [wrong[2], wrong[2]], [wrong[3], wrong[3]]]
    base = [[w, w] for w in wrong]
    res = BoundaryResult(pair="p", base="b", world="arithmetic", dose=None, variant=None, rl_seed=None,
                         config=BoundaryConfig(n_problems=4, n_samples=2, likelihood_samples=0), prompts=[p.prompt for p in probs],
                         counts_base=np.zeros(4, dtype=int), counts_rl=np.array([1, 2, 0, 0]), guess_p=None,
                         completions_base=base, completions_rl=rl)
    ctx = Context(pair=pair, world=world, config=ScorecardConfig.smoke(), layer=0, problems=probs,
                  cache={"passk": res})
    m, tables = lk.measure(ctx)
    assert m.n_rl_only.value == 2 and m.ratio_rl_only.known and m.ratio_all.known
    # only RL's correct samples of problems 0 and 1 were scored: three of them
    assert len(tables["nll_rl_only"]) == 3
    assert lk.CANDIDATES["log ppl ratio"](m).value == pytest.approx(np.log(m.ratio_rl_only.value))
    # the KL of RL from the base on RL's own samples: the voting statistic, in every world
    assert m.kl_rl_base.known and m.kl_rl_base.lo <= m.kl_rl_base.value <= m.kl_rl_base.hi
    assert lk.statistic(m) == m.kl_rl_base


def test_bandit_likelihood_is_the_kl_on_rl_episodes_and_votes_on_it(tmp_path):
    from rlmeta_interp import load_pair
    from rlmeta_interp.analysis.indicators.core import Context, ScorecardConfig
    from rlmeta_interp.organism.corpus import make_world

    from ...conftest import save_tiny_pair

    pair = load_pair(save_tiny_pair(tmp_path, scale=0.02, seed=1))
    ctx = Context(pair=pair, world=make_world("bandits"), config=ScorecardConfig.smoke(), layer=0, problems=[])
    m, tables = lk.measure(ctx)
    assert m.kl_rl_base.known and m.kl_rl_base.lo <= m.kl_rl_base.value <= m.kl_rl_base.hi and not tables
    assert not m.ratio_all.known and lk.statistic(m) == m.kl_rl_base and lk.vote(m, R) != "n/a"
    # a model against itself: no KL at all, read as activation (it writes exactly what the base writes)
    same = load_pair((tmp_path / "base", tmp_path / "base"))
    m0, _ = lk.measure(Context(pair=same, world=ctx.world, config=ctx.config, layer=0, problems=[]))
    assert m0.kl_rl_base.value == pytest.approx(0.0, abs=1e-6) and lk.vote(m0, R) == "activation"

