"""Likelihood (Yue et al. 2504.13837): does the base already write what the RL model writes?

The voting statistic is KL(RL || base) per token, estimated on RL's own samples: the NLL of RL's samples under the
base minus their NLL under RL, token-weighted, with a bootstrap CI over problems (bandits: RL's own episodes, arm
tokens only, over episodes). It is near 0 when the base already writes what RL writes, as often (RL reweighted what
was there); it grows when RL writes what the base would not. One statistic in every world: the perplexity ratio of
RL's samples to the base's own, under the base, means nothing in bandits (a base that plays uniformly at random gives
every episode the same likelihood). The ratio is reported beside it, on the problems only RL solves (>= 1 of n RL
samples correct, none of the base's: RL's *correct* samples against the base's own samples on the same problems) and
over all problems, and scored by the validation as candidate readings.

What it measures is how rare, under the base, the trained behaviour was: a behaviour the base writes with probability
w costs about log(1/w) nats per sample once training concentrates on it, spread over the sample's tokens. So a cut
fitted on the zoo separates "absent" from "rare" at the doses the zoo was built with (0 vs 0.1 in arithmetic, 0 vs 0.5
in bandits); a much smaller dose of the capability would read as creation. Its scale depends on the world (per arm
token, about log K at most against a base that plays K arms at random, unless RL writes tokens that are no arm; a
deep arithmetic chain costs several nats per token), and like every distance between two models it also grows with
how far training moved the policy: compare pairs under one training budget, beside the same-budget random-reward
control, which moves the policy without a gain.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..likelihood import policy_kl, ppl_ratio, samples_nll
from .core import Context, Estimate, Metrics, ScorecardRules, Vote, band_vote, descriptive_note, metric
from .shared import samples

NAME = "likelihood"
NOT_APPLICABLE = "needs single-turn samples or bandit episodes."
PER_PROBLEM = 8  # samples per problem scored under the base


@dataclass(frozen=True)
class LikelihoodMetrics(Metrics):
    ratio_rl_only: Estimate = metric("ppl ratio on RL-only problems (RL correct / base samples, under base)")
    n_rl_only: Estimate = metric("problems only RL solves")
    ratio_all: Estimate = metric("ppl ratio (RL samples / base samples, under base)")
    ppl_rl_under_base: Estimate = metric("ppl of RL samples under base")
    ppl_base_under_base: Estimate = metric("ppl of base samples under base")
    kl_rl_base: Estimate = metric("KL(RL || base) per token of RL's own samples (nats)")


def rule(rules: ScorecardRules) -> str:
    r = rules
    return descriptive_note(NAME, r) + (
        "KL(RL || base) per token on RL's own samples (NLL under the base minus NLL under RL; bandits: RL's episodes,"
        f" arm tokens); activation if its CI lies below {r.kl_activation_max} nats, creation if it lies above"
        f" {r.kl_creation_min}; otherwise inconclusive.")


def vote(m: LikelihoodMetrics | None, rules: ScorecardRules) -> Vote:
    if m is None or NAME in rules.descriptive:
        return "n/a"
    return vote_from_statistic(statistic(m), rules)


def vote_from_statistic(s: Estimate, rules: ScorecardRules) -> Vote:
    """The vote of a pair that has one, from its statistic alone (no guard depends on the rules), so that a table
    of statistics and votes can be voted again under other thresholds."""
    return band_vote(s, rules.kl_activation_max, rules.kl_creation_min)


def statistic_ratio(m: LikelihoodMetrics) -> Estimate:
    return m.ratio_rl_only if m.ratio_rl_only.known else m.ratio_all


def _log(e: Estimate) -> Estimate:
    if not e.known or e.value <= 0:
        return Estimate()
    log = lambda x: None if x is None or x <= 0 else float(np.log(x))  # noqa: E731
    return Estimate(log(e.value), log(e.lo), log(e.hi), "log ppl ratio")


# Other readings of the same measurement, scored by the validation beside the statistic (they do not vote).
CANDIDATES = {
    "log ppl ratio": lambda m: _log(statistic_ratio(m)),
    "log ppl ratio, all problems": lambda m: _log(m.ratio_all),
}


def with_cut(rules: ScorecardRules, cut: float) -> ScorecardRules:
    """Rules whose creation/activation boundary sits at ``cut`` on :func:`statistic` (KL, nats per token)."""
    return rules.replace(kl_activation_max=float(cut), kl_creation_min=float(cut))


def statistic(m: LikelihoodMetrics) -> Estimate:
    return m.kl_rl_base


def _ratio(a: pd.DataFrame, b: pd.DataFrame, n_boot: int, seed: int, note: str) -> Estimate:
    r = ppl_ratio(a, b, n_boot=n_boot, seed=seed)
    return Estimate(r["ratio"], r["ci_lo"], r["ci_hi"], note=f"{note}; paired bootstrap over {r['n_prompts']} problems")


def _kl(r: dict[str, float], note: str) -> Estimate:
    return Estimate(r["kl"], r["ci_lo"], r["ci_hi"], note=f"{note}; bootstrap over {r['n_units']}")


def measure(ctx: Context) -> tuple[LikelihoodMetrics | None, dict[str, pd.DataFrame]]:
    c = ctx.config
    if ctx.world.name == "bandits":
        from ..incontext import rollout_kl

        probs = ctx.world.sample_held_out(c.n_bandits, seed=c.problem_seed + 4)
        kl = rollout_kl(ctx.pair.rl, ctx.pair.base, ctx.world, probs, seed=c.seed, n_boot=c.n_boot)
        return LikelihoodMetrics(kl_rl_base=_kl(kl, "RL's sampled episodes, arm tokens")), {}
    if not ctx.single_turn:
        return None, {}
    res = samples(ctx)
    prompts = [p.prompt for p in ctx.problems]
    rl_s = [row[:PER_PROBLEM] for row in res.completions_rl]
    base_s = [row[:PER_PROBLEM] for row in res.completions_base]
    nll_rl = samples_nll(ctx.pair.base, prompts, rl_s, add_eos=True)
    nll_base = samples_nll(ctx.pair.base, prompts, base_s, add_eos=True)
    ratio_all = _ratio(nll_rl, nll_base, c.n_boot, c.seed, "all problems")
    only = [i for i in range(len(prompts)) if res.counts_rl[i] > 0 and res.counts_base[i] == 0]
    ratio_only = Estimate()
    tables = {"nll_rl_samples": nll_rl.assign(samples_from="rl"), "nll_base_samples": nll_base.assign(samples_from="base")}
    if only:
        probs = [ctx.problems[i] for i in only]
        correct = [[s for s in res.completions_rl[i] if ctx.world.reward(p, s) >= 1.0][:PER_PROBLEM]
                   for i, p in zip(only, probs, strict=True)]
        sub_p = [prompts[i] for i in only]
        a = samples_nll(ctx.pair.base, sub_p, correct, add_eos=True)
        b = samples_nll(ctx.pair.base, sub_p, [base_s[i] for i in only], add_eos=True)
        ratio_only = _ratio(a, b, c.n_boot, c.seed, "RL-only problems")
        tables["nll_rl_only"] = a.assign(samples_from="rl_correct")
    kl = policy_kl(nll_rl, samples_nll(ctx.pair.rl, prompts, rl_s, add_eos=True), n_boot=c.n_boot, seed=c.seed)
    valid_rl, valid_b = nll_rl[nll_rl.n_tokens > 0], nll_base[nll_base.n_tokens > 0]
    m = LikelihoodMetrics(
        ratio_rl_only=ratio_only, n_rl_only=Estimate(float(len(only))), ratio_all=ratio_all,
        ppl_rl_under_base=Estimate(float(np.exp(valid_rl.nll_sum.sum() / valid_rl.n_tokens.sum()))),
        ppl_base_under_base=Estimate(float(np.exp(valid_b.nll_sum.sum() / valid_b.n_tokens.sum()))),
        kl_rl_base=_kl(kl, "RL's samples"),
    )
    return m, tables
