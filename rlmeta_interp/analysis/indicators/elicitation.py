"""Elicitation: does a short fine-tuning of the base on the trained model's own outputs bring back the trained model's
gain? (capability elicitation, Greenblatt et al. arXiv 2405.19550; the measurement is in ``analysis/elicit.py``).

A copy of the base is trained for ``config.elicit_steps`` steps on the trained model's outputs for problems disjoint
from the evaluated ones (single-turn worlds: one sampled completion per problem; bandits: its sampled episodes, arm
tokens only). The share of the trained model's gain over the base that the copy recovers is measured on the
scorecard's problems: sampled pass@1 pooled over them (single-turn), or sampled regret on the scorecard's unseen
bandits, paired over problems, with a bootstrap CI of the ratio of summed gains. It does not measure per-level
pass@n, the gain check's reading of creation. A base that already holds the capability only has to be pointed at it,
and the short budget may recover most of the gain (activation); a base that lacks it would have to learn it, and
the budget may recover little (creation). Whether it does is what the validation measures. A negative share (the
short fine-tuning left the base worse) reads towards creation.

Read with care:
- The budget is fixed in the config, not fitted; it is part of what the reading means. Like the likelihood
  indicator, it separates "absent" from "present at the zoo's doses".
- On pairs made by fine-tuning (the sft-calibration recipe) the short fine-tuning repeats the recipe's first steps on
  the trained model's samples, so its reading there is close to the recipe's own learning curve; RL pairs are its
  real test.
- The CI covers problems only: one fine-tuning run from one draw of demonstrations.
- Organisms only (a base with a pretraining manifest): a full-parameter fine-tuning at an organism's learning rate
  would damage a real LM, and that damage would read as creation.
- Where the trained model shows no gain (paired CI not above 0) there is nothing to recover: no vote.
- Measured so far: it separated every bandit pair (fine-tuned and RL-made), but on the seed-0 arithmetic depth pairs
  the short fine-tuning left both bases worse (sampled pass@1 0.13 -> 0.00 and 0.40 -> 0.07), reading the wrong
  way: there it damages rather than elicits. Not validated; it does not vote by fitted rules until it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..stats import signed_ratio_ci
from .core import Context, Estimate, Metrics, ScorecardRules, Vote, descriptive_note, metric
from .shared import base_corpus, regret, regret_bandits, samples

NAME = "elicitation"
NOT_APPLICABLE = "needs an organism pair (a base with a pretraining manifest) in a world with a verifier or bandits."


@dataclass(frozen=True)
class ElicitationMetrics(Metrics):
    recovered: Estimate = metric("share of the trained model's gain recovered by fine-tuning the base on its outputs")
    score_base: Estimate = metric("score base (pass@1 or -regret)")
    score_rl: Estimate = metric("score trained model")
    score_elicited: Estimate = metric("score base after the short fine-tuning")
    gain: Estimate = metric("score trained model - base (paired)")
    n_demos: Estimate = metric("demonstrations (completions or episodes)")
    steps: Estimate = metric("fine-tuning steps")


def rule(rules: ScorecardRules) -> str:
    r = rules
    return descriptive_note(NAME, r) + (
        "a copy of the base fine-tuned briefly on the trained model's outputs (other problems) recovers a share of its"
        " gain; where the gain's paired CI lies above 0: activation if the unrecovered share's CI lies below"
        f" {r.unrecovered_activation_max}, creation if it lies above {r.unrecovered_creation_min}; otherwise"
        " inconclusive, and no vote without a gain.")


def vote(m: ElicitationMetrics | None, rules: ScorecardRules) -> Vote:
    if m is None or NAME in rules.descriptive:
        return "n/a"
    u = statistic(m)
    if not u.known or not m.gain.above(0.0):
        return "n/a"
    if u.above(rules.unrecovered_creation_min):
        return "creation"
    if u.below(rules.unrecovered_activation_max):
        return "activation"
    return "inconclusive"


def statistic(m: ElicitationMetrics) -> Estimate:
    """The share of the gain the short fine-tuning did not recover (1 - recovered; higher reads creation)."""
    r = m.recovered
    if not r.known:
        return Estimate()
    return Estimate(1.0 - r.value, None if r.hi is None else 1.0 - r.hi, None if r.lo is None else 1.0 - r.lo, r.note)


def with_cut(rules: ScorecardRules, cut: float) -> ScorecardRules:
    """Rules whose creation/activation boundary sits at ``cut`` on :func:`statistic` (the unrecovered share)."""
    return rules.replace(unrecovered_activation_max=float(cut), unrecovered_creation_min=float(cut))


def recovery(base: np.ndarray, rl: np.ndarray, elicited: np.ndarray, *, n_boot: int, seed: int,
             note: str) -> tuple[Estimate, Estimate]:
    """``(recovered, gain)`` from per-unit scores (higher is better): the ratio of summed gains ``sum(elicited -
    base) / sum(rl - base)`` with its CI over units, and the paired mean gain ``rl - base``. The share is unknown
    where the summed gain is not positive or too many resamples have none (:func:`signed_ratio_ci` gives no CI)."""
    from ..stats import paired_diff_ci

    d_rl, d_el = rl - base, elicited - base
    lo, hi = paired_diff_ci(rl, base, n_boot=n_boot, seed=seed)
    gain = Estimate(float(d_rl.mean()), lo, hi, note)
    if d_rl.sum() <= 0:
        return Estimate(), gain
    rlo, rhi = signed_ratio_ci(d_el, d_rl, n_boot=n_boot, seed=seed)
    if np.isnan(rlo) or np.isnan(rhi):
        return Estimate(), gain
    return Estimate(float(d_el.sum() / d_rl.sum()), rlo, rhi, note + "; one fine-tuning run"), gain


def demo_problems(ctx: Context) -> list[Any]:
    """``config.elicit_demos`` held-out problems for the demonstrations, none of them an evaluated problem (another
    seed of the evaluation split, evaluated prompts removed; bandits: other bandits, whose continuous arm means
    coincide with probability 0)."""
    c = ctx.config
    evaluated = {p.prompt for p in ctx.problems}
    pool = ctx.world.sample_held_out(c.elicit_demos + len(evaluated), seed=c.problem_seed + 6)
    return [p for p in pool if p.prompt not in evaluated][: c.elicit_demos]


def _single_turn(ctx: Context) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    from ...sampling import sample_completions
    from ..elicit import finetune_copy, single_turn_demos
    from ..passk import evaluate_samples

    c = ctx.config
    res = samples(ctx)
    demo = demo_problems(ctx)
    rl, base = ctx.pair.rl, ctx.pair.base
    new = ctx.max_new_tokens
    comps = sample_completions(rl.hf, rl.tokenizer, [p.prompt for p in demo], n=1, max_new_tokens=new, seed=c.seed + 6)
    ids, att, mask = single_turn_demos(base.tokenizer, [p.prompt for p in demo], [row[0] for row in comps], base.n_ctx)
    tuned = finetune_copy(base.hf, ids, att, mask, steps=c.elicit_steps, lr=c.elicit_lr, batch_size=c.elicit_batch,
                          seed=c.seed, warmup_steps=c.elicit_warmup)
    got = sample_completions(tuned, base.tokenizer, [p.prompt for p in ctx.problems], n=c.n_samples,
                             max_new_tokens=new, seed=c.seed)
    n = float(c.n_samples)
    counts_e = evaluate_samples(ctx.world, ctx.problems, got)
    return np.asarray(res.counts_base) / n, np.asarray(res.counts_rl) / n, counts_e / n, len(demo)


def _bandits(ctx: Context) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    from ...organism.evaluate import rollout_bandits
    from ..elicit import bandit_demos, finetune_copy, with_weights
    from ..incontext import regret_experiment

    c = ctx.config
    rl, base = ctx.pair.rl, ctx.pair.base
    demo = demo_problems(ctx)
    roll = rollout_bandits(rl.hf, rl.tokenizer, ctx.world, demo, seed=c.seed + 6)
    ids, att, mask = bandit_demos(roll.tokens, roll.model_mask, base.tokenizer.bos_token_id)
    tuned = finetune_copy(base.hf, ids, att, mask, steps=c.elicit_steps, lr=c.elicit_lr, batch_size=c.elicit_batch,
                          seed=c.seed, warmup_steps=c.elicit_warmup)
    # base and RL: the scorecard's shared regret run; the elicited copy plays the same bandits with the same seed
    shared, _ = regret(ctx)
    mine = regret_experiment({"elicited": with_weights(base, tuned)}, ctx.world, regret_bandits(ctx),
                             modes=("sampled",), seed=c.seed, n_boot=c.n_boot)

    def finals(res: Any, policy: str) -> np.ndarray:
        f = res.finals.set_index(["policy", "mode"])
        return -f.loc[[(policy, "sampled")]].sort_values("episode")["final_regret"].to_numpy()

    return finals(shared, "base"), finals(shared, "rl"), finals(mine, "elicited"), len(demo)


def measure(ctx: Context) -> tuple[ElicitationMetrics | None, dict[str, pd.DataFrame]]:
    c = ctx.config
    if base_corpus(ctx) is None:
        return None, {}
    if ctx.world.name == "bandits":
        b, r, e, n_demo = _bandits(ctx)
        note = f"{len(b)} unseen bandits, sampled regret, paired bootstrap"
    elif ctx.single_turn:
        b, r, e, n_demo = _single_turn(ctx)
        note = f"{len(b)} problems, sampled pass@1, paired bootstrap"
    else:
        return None, {}
    recovered, gain = recovery(b, r, e, n_boot=c.n_boot, seed=c.seed, note=note)
    m = ElicitationMetrics(recovered=recovered, gain=gain, score_base=Estimate(float(b.mean())),
                           score_rl=Estimate(float(r.mean())), score_elicited=Estimate(float(e.mean())),
                           n_demos=Estimate(float(n_demo)), steps=Estimate(float(c.elicit_steps)))
    table = pd.DataFrame({"unit": np.arange(len(b)), "base": b, "rl": r, "elicited": e})
    return m, {"elicitation_scores": table}
