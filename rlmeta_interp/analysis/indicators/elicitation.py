"""Elicitation: does a short fine-tuning of the base on the trained model's own outputs bring back the trained model's
gain, beyond what the same fine-tuning on the base's own outputs does? (capability elicitation, Greenblatt et al.
arXiv 2405.19550; the measurement is in ``analysis/elicit.py``).

Two copies of the base are trained with one budget (``config.elicit_steps``, ``elicit_lr``, ``elicit_batch``) on
outputs for problems disjoint from the evaluated ones (single-turn worlds: one sampled completion per problem;
bandits: sampled episodes, arm tokens only): the *elicited* copy on the trained model's outputs, the *control* copy on
the base's own. Both are scored on the scorecard's problems: sampled pass@1 pooled over them (single-turn), or sampled
regret on the scorecard's unseen bandits. The statistic is the share of the trained model's gain (trained - base)
that the elicited copy recovers over the control (elicited - control), paired over problems, with a bootstrap CI of
the ratio of summed differences. Subtracting the control removes what fine-tuning alone does to the base (a short
fine-tuning can damage a small model, and damage would otherwise read as creation). It does not measure per-level
pass@n, the gain check's reading of creation. A base that already holds the capability only has to be pointed at it,
and the short budget may recover most of the gain (activation); a base that lacks it would have to learn it, and
the budget may recover little (creation). Whether it does is what the validation measures.

A second reading is kept beside it and scored by the validation, never voting: the share recovered over the *base*
(elicited - base). Where the control copy lost score, the first reading can be high although the elicited copy never
rose above the base; the second shows that case.

Read with care:
- The budget is fixed in the config, not fitted; it is part of what the reading means. Like the likelihood
  indicator, it separates "absent" from "present at the zoo's doses".
- No reading (no vote, no statistic for the validation's fit) where the control copy lost more than
  :data:`MAX_DAMAGE` of the gain, judged on the point estimate: a copy damaged that far cannot show what the
  demonstrations add. The guard is fixed, not fitted, and it can withhold more pairs of one class than of the other;
  the validation counts the pairs without a reading per class.
- On pairs made by fine-tuning (the sft-calibration recipe) the short fine-tuning repeats the recipe's first steps on
  the trained model's samples, so its reading there is close to the recipe's own learning curve; RL pairs are its
  real test.
- The CI covers problems only: one fine-tuning run per copy from one draw of demonstrations. The control copy
  depends on the base alone, so pairs that share a base share their control's noise.
- Organisms only (a base with a pretraining manifest): a full-parameter fine-tuning at an organism's learning rate
  would damage a real LM.
- Where the trained model shows no gain (paired CI not above 0) there is nothing to recover: no vote.
- How the budget and the control were chosen (on calibration pairs, pretraining seed 0, but after the held-out
  bandit pairs had been scored under the first budget): the first budget (20 steps at lr 1e-3, no control) left
  both seed-0 arithmetic depth bases far worse, whichever outputs they were tuned on, which read the activation pair
  as creation. At 60 steps at lr 1e-4 the elicited copy of the dose-0.1 base stayed near the base's score while the
  control copy lost score, so counted over the control the two arithmetic pairs ordered the right way; counted over
  the base, no arithmetic elicited copy gained anything worth the name. Budgets tried: those two.
- The guard looks one way: a control copy that *gains* (negative damage) is not guarded against, and it raises the
  unrecovered share towards creation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..ratios import signed_ratio_ci
from .core import Context, Estimate, Metrics, ScorecardRules, Vote, band_vote, descriptive_note, metric
from .shared import base_corpus, regret, regret_bandits, samples

NAME = "elicitation"
NOT_APPLICABLE = "needs an organism pair (a base with a pretraining manifest) in a world with a verifier or bandits."


@dataclass(frozen=True)
class ElicitationMetrics(Metrics):
    recovered: Estimate = metric("share of the trained model's gain recovered by fine-tuning the base on its outputs,"
                                 " beyond the control copy")
    recovered_over_base: Estimate = metric("share of the gain recovered, elicited copy - base (no control)")
    score_base: Estimate = metric("score base (pass@1 or -regret)")
    score_rl: Estimate = metric("score trained model")
    score_elicited: Estimate = metric("score base after the short fine-tuning on the trained model's outputs")
    score_control: Estimate = metric("score base after the same fine-tuning on its own outputs (control)")
    damage: Estimate = metric("share of the gain the control fine-tuning lost (base - control, paired)")
    gain: Estimate = metric("score trained model - base (paired)")
    n_demos: Estimate = metric("demonstrations (completions or episodes)")
    steps: Estimate = metric("fine-tuning steps")


# The control copy may lose at most this share of the trained model's gain (point estimate) for a reading. Fixed
# before validation, not fitted.
MAX_DAMAGE = 0.5


def rule(rules: ScorecardRules) -> str:
    r = rules
    return descriptive_note(NAME, r) + (
        "a copy of the base fine-tuned briefly on the trained model's outputs (other problems) recovers a share of its"
        " gain beyond a control copy tuned on the base's own outputs; where the gain's paired CI lies above 0 and the"
        f" control lost at most {MAX_DAMAGE} of the gain: activation if the unrecovered share's CI lies below"
        f" {r.unrecovered_activation_max}, creation if it lies above {r.unrecovered_creation_min}; otherwise"
        " inconclusive, and no vote without a gain or with a damaged control.")


def vote(m: ElicitationMetrics | None, rules: ScorecardRules) -> Vote:
    if m is None or NAME in rules.descriptive:
        return "n/a"
    if not m.gain.above(0.0):
        return "n/a"
    return vote_from_statistic(statistic(m), rules)


def vote_from_statistic(s: Estimate, rules: ScorecardRules) -> Vote:
    """The vote of a pair that has one, from its statistic alone (the gain guard does not depend on the rules), so
    that a table of statistics and votes can be voted again under other thresholds."""
    return band_vote(s, rules.unrecovered_activation_max, rules.unrecovered_creation_min)


def damaged(m: ElicitationMetrics) -> bool:
    """Whether the control copy lost more than :data:`MAX_DAMAGE` of the gain (then there is no reading). An unknown
    damage leaves no reading to guard: :func:`recovery` resamples the same units against the same gain for both
    shares, so the damage is unknown exactly when the recovered share is."""
    return m.damage.known and m.damage.value > MAX_DAMAGE


def _unrecovered(r: Estimate) -> Estimate:
    if not r.known:
        return Estimate()
    return Estimate(1.0 - r.value, None if r.hi is None else 1.0 - r.hi, None if r.lo is None else 1.0 - r.lo, r.note)


def statistic(m: ElicitationMetrics) -> Estimate:
    """The share of the gain the short fine-tuning did not recover beyond the control (1 - recovered; higher reads
    creation); unknown where the control copy was damaged (:func:`damaged`)."""
    return Estimate() if damaged(m) else _unrecovered(m.recovered)


# Other readings of the same measurement, scored by the validation beside the statistic (they do not vote).
CANDIDATES = {
    "unrecovered over the base": lambda m: _unrecovered(m.recovered_over_base),
}


def with_cut(rules: ScorecardRules, cut: float) -> ScorecardRules:
    """Rules whose creation/activation boundary sits at ``cut`` on :func:`statistic` (the unrecovered share)."""
    return rules.replace(unrecovered_activation_max=float(cut), unrecovered_creation_min=float(cut))


def recovery(base: np.ndarray, rl: np.ndarray, elicited: np.ndarray, *, n_boot: int, seed: int, note: str,
             control: np.ndarray | None = None) -> tuple[Estimate, Estimate, Estimate]:
    """``(recovered, gain, damage)`` from per-unit scores (higher is better). ``recovered``: the ratio of summed
    differences ``sum(elicited - control) / sum(rl - base)`` with its CI over units (``control`` defaults to ``base``);
    ``gain``: the paired mean ``rl - base``; ``damage``: ``sum(base - control) / sum(rl - base)``, the share of the
    gain the control fine-tuning lost. The shares are unknown where the summed gain is not positive or too many
    resamples have none (:func:`signed_ratio_ci` gives no CI)."""
    from ..stats import paired_diff_ci

    control = base if control is None else control
    d_rl, d_el, d_dmg = rl - base, elicited - control, base - control
    lo, hi = paired_diff_ci(rl, base, n_boot=n_boot, seed=seed)
    gain = Estimate(float(d_rl.mean()), lo, hi, note)
    if d_rl.sum() <= 0:
        return Estimate(), gain, Estimate()
    shares = []
    for d in (d_el, d_dmg):
        rlo, rhi = signed_ratio_ci(d, d_rl, n_boot=n_boot, seed=seed)
        known = not (np.isnan(rlo) or np.isnan(rhi))
        shares.append(Estimate(float(d.sum() / d_rl.sum()), rlo, rhi, note + "; one fine-tuning run per copy")
                      if known else Estimate())
    return shares[0], gain, shares[1]


def demo_problems(ctx: Context) -> list[Any]:
    """``config.elicit_demos`` held-out problems for the demonstrations, none of them an evaluated problem (another
    seed of the evaluation split, evaluated prompts removed; bandits: other bandits, whose continuous arm means
    coincide with probability 0)."""
    c = ctx.config
    evaluated = {p.prompt for p in ctx.problems}
    pool = ctx.world.sample_held_out(c.elicit_demos + len(evaluated), seed=c.problem_seed + 6)
    return [p for p in pool if p.prompt not in evaluated][: c.elicit_demos]


def _tune(ctx: Context, ids: Any, att: Any, mask: Any) -> Any:
    """A copy of the base fine-tuned on the given demonstrations with the config's elicitation budget."""
    from ..elicit import finetune_copy

    c = ctx.config
    return finetune_copy(ctx.pair.base.hf, ids, att, mask, steps=c.elicit_steps, lr=c.elicit_lr,
                         batch_size=c.elicit_batch, seed=c.seed, warmup_steps=c.elicit_warmup)


def teachers(ctx: Context) -> dict[str, Any]:
    """The model whose outputs each copy of the base is fine-tuned on: the trained model for the elicited copy, the
    base itself for the control copy."""
    return {"elicited": ctx.pair.rl, "control": ctx.pair.base}


def _single_turn(ctx: Context) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, pd.DataFrame]:
    """Per-problem sampled pass@1 of base, trained model, elicited copy and control copy, and the demonstrations
    each copy was fine-tuned on (``copy, prompt, completion``)."""
    from ...sampling import sample_completions
    from ..elicit import single_turn_demos
    from ..passk import evaluate_samples

    c = ctx.config
    res = samples(ctx)
    demo = demo_problems(ctx)
    base = ctx.pair.base
    new, n = ctx.max_new_tokens, float(c.n_samples)
    prompts = [p.prompt for p in ctx.problems]
    scores, shown = {}, []
    for tag, teacher in teachers(ctx).items():
        comps = [row[0] for row in sample_completions(teacher.hf, teacher.tokenizer, [p.prompt for p in demo], n=1,
                                                      max_new_tokens=new, seed=c.seed + 6)]
        shown += [{"copy": tag, "prompt": p.prompt, "completion": x} for p, x in zip(demo, comps, strict=True)]
        tuned = _tune(ctx, *single_turn_demos(base.tokenizer, [p.prompt for p in demo], comps, base.n_ctx))
        got = sample_completions(tuned, base.tokenizer, prompts, n=c.n_samples, max_new_tokens=new, seed=c.seed)
        scores[tag] = evaluate_samples(ctx.world, ctx.problems, got) / n
    return (np.asarray(res.counts_base) / n, np.asarray(res.counts_rl) / n, scores["elicited"], scores["control"],
            pd.DataFrame(shown))


def _bandits(ctx: Context) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, pd.DataFrame]:
    """Per-bandit negative sampled regret of base, trained model, elicited copy and control copy, and the episodes
    each copy was fine-tuned on (``copy, bandit, arms, return``; arm -1 is a non-arm token)."""
    from ...organism.evaluate import rollout_bandits
    from ..elicit import bandit_demos, with_weights
    from ..incontext import regret_experiment

    c = ctx.config
    base = ctx.pair.base
    demo = demo_problems(ctx)
    copies, shown = {}, []
    for tag, teacher in teachers(ctx).items():
        roll = rollout_bandits(teacher.hf, teacher.tokenizer, ctx.world, demo, seed=c.seed + 6)
        returns = roll.returns().tolist()
        shown += [{"copy": tag, "bandit": i, "arms": " ".join(map(str, roll.arms[j].tolist())), "return": returns[j]}
                  for j, i in enumerate(roll.problem_index)]
        tuned = _tune(ctx, *bandit_demos(roll.tokens, roll.model_mask, base.tokenizer.bos_token_id))
        copies[tag] = with_weights(base, tuned, f"+{tag}")
    # base and RL: the scorecard's shared regret run; the two copies play the same bandits with the same seed
    shared, _ = regret(ctx)
    mine = regret_experiment(copies, ctx.world, regret_bandits(ctx), modes=("sampled",), seed=c.seed,
                             n_boot=c.n_boot)

    def finals(res: Any, policy: str) -> np.ndarray:
        f = res.finals.set_index(["policy", "mode"])
        return -f.loc[[(policy, "sampled")]].sort_values("episode")["final_regret"].to_numpy()

    return (finals(shared, "base"), finals(shared, "rl"), finals(mine, "elicited"), finals(mine, "control"),
            pd.DataFrame(shown))


def measure(ctx: Context) -> tuple[ElicitationMetrics | None, dict[str, pd.DataFrame]]:
    c = ctx.config
    if base_corpus(ctx) is None:
        return None, {}
    if ctx.world.name == "bandits":
        b, r, e, k, shown = _bandits(ctx)
        note = f"{len(b)} unseen bandits, sampled regret, paired bootstrap"
    elif ctx.single_turn:
        b, r, e, k, shown = _single_turn(ctx)
        note = f"{len(b)} problems, sampled pass@1, paired bootstrap"
    else:
        return None, {}
    recovered, gain, damage = recovery(b, r, e, n_boot=c.n_boot, seed=c.seed, note=note, control=k)
    over_base, _, _ = recovery(b, r, e, n_boot=c.n_boot, seed=c.seed, note=note)
    m = ElicitationMetrics(recovered=recovered, recovered_over_base=over_base, gain=gain, damage=damage,
                           score_base=Estimate(float(b.mean())),
                           score_rl=Estimate(float(r.mean())), score_elicited=Estimate(float(e.mean())),
                           score_control=Estimate(float(k.mean())),
                           n_demos=Estimate(float((shown["copy"] == "elicited").sum())),
                           steps=Estimate(float(c.elicit_steps)))
    table = pd.DataFrame({"unit": np.arange(len(b)), "base": b, "rl": r, "elicited": e, "control": k})
    return m, {"elicitation_scores": table, "elicitation_demos": shown}
