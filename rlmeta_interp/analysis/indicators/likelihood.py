"""Likelihood (Yue et al. 2504.13837): are the RL model's solutions typical text for the base model?

Measured where it can tell the classes apart: on the problems only RL solves (>= 1 of n RL samples correct, none of
the base's), RL's *correct* samples scored by the base, against the base's own samples on the same problems (a paired
bootstrap over problems). A base that already held the solution finds RL's solutions about as likely as its own
text; a solution the base never learnt is unlikely under it. The ratio over all problems is reported beside it.

Beside them, in every world: KL(RL || base) per token, estimated on RL's own samples (the NLL of RL's samples under
the base minus under RL). It is 0 when the base already writes what RL writes, as often; it is the one likelihood
reading the bandit world has (RL's own episodes, arm tokens only), where the ratio has no meaning: a base that plays
uniformly at random gives every episode the same likelihood.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..likelihood import policy_kl, ppl_ratio, samples_nll
from .core import Context, Estimate, Metrics, ScorecardRules, Vote, descriptive_note, metric
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
        "ratio = perplexity under the base of RL's correct samples on the problems only RL solves / perplexity of the"
        f" base's own samples on those problems (all problems and all RL samples when RL solves none alone);"
        f" activation if the ratio's CI lies below {r.likelihood_activation_max}, creation if it lies above"
        f" {r.likelihood_creation_min}; otherwise inconclusive.")


def vote(m: LikelihoodMetrics | None, rules: ScorecardRules) -> Vote:
    if m is None or NAME in rules.descriptive:
        return "n/a"
    ratio = statistic_ratio(m)
    if not ratio.known:
        return "n/a"
    if ratio.above(rules.likelihood_creation_min):
        return "creation"
    if ratio.below(rules.likelihood_activation_max):
        return "activation"
    return "inconclusive"


def statistic_ratio(m: LikelihoodMetrics) -> Estimate:
    return m.ratio_rl_only if m.ratio_rl_only.known else m.ratio_all


# Other readings of the same measurement, scored by the validation beside the statistic (they do not vote).
CANDIDATES = {
    "all problems": lambda m: Estimate(float(np.log(m.ratio_all.value))) if m.ratio_all.known and m.ratio_all.value > 0
    else Estimate(),
    "KL(RL||base)": lambda m: m.kl_rl_base,
}

def with_cut(rules: ScorecardRules, cut: float) -> ScorecardRules:
    """Rules whose creation/activation boundary sits at ``cut`` on :func:`statistic` (a log ratio)."""
    return rules.replace(likelihood_activation_max=float(np.exp(cut)), likelihood_creation_min=float(np.exp(cut)))


def statistic(m: LikelihoodMetrics) -> Estimate:
    r = statistic_ratio(m)
    if not r.known or r.value <= 0:
        return Estimate()
    log = lambda x: None if x is None or x <= 0 else float(np.log(x))  # noqa: E731
    return Estimate(log(r.value), log(r.lo), log(r.hi), "log ppl ratio")


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
