"""Hybrid decoding (Venhoff et al. 2510.07364): the RL model says *when*, the base's own category vectors say *how*.

Greedy hybrid decoding of ``config.n_steer`` held-out problems: the base is steered only at tokens where base and RL
greedy tokens disagree, with the base's category vector (categories: k-means on RL activations over RL samples);
the gap recovered (paired MOVER-R interval over problems) is compared with random firing at the same rate,
equal-norm random vectors and the bias-only vector. The oracle control (write the RL model's token wherever the two disagree) decodes
exactly the RL model's greedy completion, so its reading is ``acc_rl``: the ceiling the gap is measured against.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..hybrid import CategoryConfig, HybridConfig, category_vectors, fit_categories, hybrid_gap_recovery
from .core import Context, Estimate, Metrics, ScorecardRules, Vote, descriptive_note, metric
from .shared import completion_means, samples, steer_problems
from .steering import recovery_vote

NAME = "hybrid"
NOT_APPLICABLE = "hybrid decoding is defined for single-turn completions."


@dataclass(frozen=True)
class HybridMetrics(Metrics):
    acc_base: Estimate = metric("greedy acc base")
    acc_rl: Estimate = metric("greedy acc RL")
    gap: Estimate = metric("RL - base greedy accuracy")
    recovered: Estimate = metric("gap recovered, hybrid")
    acc_hybrid: Estimate = metric("greedy acc, hybrid")
    frac_steered: Estimate = metric("fraction of tokens steered")
    recovered_random_firing: Estimate = metric("gap recovered, random firing")
    recovered_random_vectors: Estimate = metric("gap recovered, random vectors")
    recovered_bias: Estimate = metric("gap recovered, bias only")


def rule(rules: ScorecardRules) -> str:
    r = rules
    return descriptive_note(NAME, r) + (
        "greedy hybrid decoding (steer the base with its category vector only where base and RL disagree);"
        f" n/a without a gap of {r.min_gap}; activation if the gap recovered has its CI above"
        f" {r.hybrid_activation_min} and above random firing at the same rate; creation if its CI lies below"
        f" {r.hybrid_activation_min} with the value at most {r.hybrid_creation_max} while hybrid accuracy's CI"
        " still reaches the base's (a destructive intervention is inconclusive); otherwise inconclusive.")


def vote(m: HybridMetrics | None, rules: ScorecardRules) -> Vote:
    if m is None or NAME in rules.descriptive:
        return "n/a"
    return recovery_vote(m.gap, m.recovered, m.recovered_random_firing, m.acc_hybrid, m.acc_base, rules,
                         rules.hybrid_activation_min, rules.hybrid_creation_max)


# its vote reads more than its statistic: a table of statistics cannot be voted again
vote_from_statistic = None


def statistic(m: HybridMetrics) -> Estimate:
    return m.recovered.scaled(-1.0)


def with_cut(rules: ScorecardRules, cut: float) -> ScorecardRules:
    """Rules whose creation/activation boundary sits at ``cut`` on :func:`statistic` (minus the gap recovered)."""
    return rules.replace(hybrid_activation_min=-float(cut), hybrid_creation_max=-float(cut))


def measure(ctx: Context) -> tuple[HybridMetrics | None, dict[str, pd.DataFrame]]:
    if not ctx.single_turn:
        return None, {}
    res = samples(ctx)
    fit_probs = ctx.problems[: max(ctx.config.n_hybrid, 2)]
    prompts = [p.prompt for p in fit_probs]
    comps = [row[0] for row in res.completions_rl[: len(fit_probs)]]
    acts_rl = completion_means(ctx.pair.rl, prompts, comps, ctx.layer)
    acts_base = completion_means(ctx.pair.base, prompts, comps, ctx.layer)
    n_cat = max(2, min(8, len(prompts) // 8))
    cats = fit_categories(acts_rl, CategoryConfig(n_categories=n_cat, method="kmeans", seed=ctx.config.seed))
    vectors = category_vectors(acts_base, cats.predict(acts_rl), n_cat, ctx.layer)
    probs = steer_problems(ctx)
    table, _ = hybrid_gap_recovery(
        ctx.pair.base, ctx.pair.rl, [p.prompt for p in probs], lambda i, c: ctx.world.reward(probs[i], c), vectors,
        cats, config=HybridConfig(max_new_tokens=ctx.max_new_tokens, classify_layer=ctx.layer, seed=ctx.config.seed),
        n_random=max(1, ctx.config.n_random), n_boot=ctx.config.n_boot)
    g = table.groupby("condition").agg({"accuracy": "mean", "acc_ci_lo": "min", "acc_ci_hi": "max",
                                        "gap_recovered": "mean", "ci_lo": "max", "ci_hi": "max", "frac_steered": "mean"})
    rec = lambda k: Estimate(g.loc[k, "gap_recovered"], g.loc[k, "ci_lo"], g.loc[k, "ci_hi"]) if k in g.index \
        else Estimate()  # noqa: E731
    acc = lambda k: Estimate(g.loc[k, "accuracy"], g.loc[k, "acc_ci_lo"], g.loc[k, "acc_ci_hi"])  # noqa: E731
    m = HybridMetrics(
        acc_base=acc("base"), acc_rl=acc("rl"), gap=Estimate(g.loc["rl", "accuracy"] - g.loc["base", "accuracy"],
                                                             note=f"{len(probs)} problems"),
        recovered=rec("hybrid"), acc_hybrid=acc("hybrid"), frac_steered=Estimate(g.loc["hybrid", "frac_steered"]),
        recovered_random_firing=rec("random_firing"), recovered_random_vectors=rec("random_vectors"),
        recovered_bias=rec("bias_only"),
    )
    return m, {"hybrid": table}
