"""Steering (claims 1-2): how much of the base-to-RL accuracy gap does steering the base with its own direction
recover?

Greedy accuracy on ``config.n_steer`` held-out problems (256 by default), split in a dev half (the multiplier is
chosen there) and a test half (reported); the gap recovered has a paired MOVER-R interval over problems (the same
problems for base, RL and every steered run), beside equal-norm random vectors, the RL model's own direction and the bias-only
vector as controls. Accuracy is coarse on few problems, so the share of the base-to-RL KL divergence (next-token
distributions on RL's greedy completions) that steering removes is reported beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from jaxtyping import Float

from ...steering import SteeringVector
from ...views import tl_view
from ..recovery import SteerRecoveryConfig, bias_vector, steering_recovery
from ..ratios import bootstrap_ratio_ci
from .core import Context, Estimate, Metrics, ScorecardRules, Vote, descriptive_note, metric
from .shared import contrast_acts, greedy_scorer, steer_problems

NAME = "steering"
NOT_APPLICABLE = "needs a single-turn world with a behaviour contrast to steer with."


@dataclass(frozen=True)
class SteeringMetrics(Metrics):
    acc_base: Estimate = metric("greedy acc base")
    acc_rl: Estimate = metric("greedy acc RL")
    gap: Estimate = metric("RL - base greedy accuracy (test half)")
    multiplier: Estimate = metric("multiplier (chosen on dev half)")
    recovered_own: Estimate = metric("gap recovered, own direction")
    acc_own: Estimate = metric("greedy acc, base steered by own direction")
    recovered_from_rl: Estimate = metric("gap recovered, RL's direction")
    recovered_bias: Estimate = metric("gap recovered, bias only")
    recovered_random: Estimate = metric("gap recovered, random vectors (best of seeds)")
    recovered_trained: Estimate = metric("gap recovered, trained vector (fitted to RL's completions on the dev half)")
    kl_recovered_trained: Estimate = metric("KL to RL recovered by the trained vector")
    kl_base: Estimate = metric("KL(RL || base) per completion token, on RL's greedy completions")
    kl_recovered: Estimate = metric("KL to RL recovered by the own direction: 1 - KL(RL||steered) / KL(RL||base)")


def rule(rules: ScorecardRules) -> str:
    r = rules
    return descriptive_note(NAME, r) + (
        "steer the base, all positions, with its own scratchpad-minus-direct direction (multiplier chosen on a dev"
        f" half, reported on a test half); n/a when RL beats the base by less than {r.min_gap}; activation if the gap"
        f" recovered has its CI above {r.recovered_activation_min} and above every equal-norm random vector's;"
        f" creation if its CI lies below {r.recovered_activation_min} with the value at most"
        f" {r.recovered_creation_max}, while the steered accuracy's CI still reaches the unsteered base's"
        " (steering that breaks the model says nothing: inconclusive); otherwise inconclusive.")


def recovery_vote(gap: Estimate, rec: Estimate, control: Estimate, acc_steered: Estimate, acc_base: Estimate,
                  rules: ScorecardRules, activation_min: float, creation_max: float) -> Vote:
    """The vote steering and hybrid decoding share: a gap to recover, recovered beyond the control, or not."""
    if not gap.known or gap.value < rules.min_gap or not rec.known:
        return "n/a"
    beats_control = not control.known or rec.above(control.hi if control.hi is not None else control.value)
    if rec.above(activation_min) and beats_control:
        return "activation"
    intact = not acc_steered.known or not acc_base.known or \
        (acc_steered.hi if acc_steered.hi is not None else acc_steered.value) >= acc_base.value
    if rec.value <= creation_max and rec.below(activation_min) and intact:
        return "creation"
    return "inconclusive"


def vote(m: SteeringMetrics | None, rules: ScorecardRules) -> Vote:
    if m is None or NAME in rules.descriptive:
        return "n/a"
    return recovery_vote(m.gap, m.recovered_own, m.recovered_random, m.acc_own, m.acc_base, rules,
                         rules.recovered_activation_min, rules.recovered_creation_max)


# its vote reads more than its statistic: a table of statistics cannot be voted again
vote_from_statistic = None


def statistic(m: SteeringMetrics) -> Estimate:
    """Less recovery reads as creation: ``-(gap recovered)``."""
    return m.recovered_own.scaled(-1.0)


# Other readings of the same measurement, scored by the validation beside the statistic (they do not vote).
CANDIDATES = {
    "KL recovered": lambda m: m.kl_recovered.scaled(-1.0),
    "trained vector": lambda m: m.recovered_trained.scaled(-1.0),
    "trained vector, KL": lambda m: m.kl_recovered_trained.scaled(-1.0),
}

def with_cut(rules: ScorecardRules, cut: float) -> ScorecardRules:
    """Rules whose creation/activation boundary sits at ``cut`` on :func:`statistic` (minus the gap recovered)."""
    return rules.replace(recovered_activation_min=-float(cut), recovered_creation_max=-float(cut))


@torch.no_grad()
def kl_to_reference(reference: Any, model: Any, token_rows: Sequence[torch.Tensor],
                    n_prompt: Sequence[int]) -> Float[np.ndarray, " texts"]:
    """Per text, the summed KL(reference || model) of the next-token distributions over the completion tokens
    (positions ``n_prompt - 1`` .. end - 1). Both are TransformerLens models (hooks active); one text per forward,
    so no padding enters the distributions."""
    out = []
    for toks, n in zip(token_rows, n_prompt, strict=True):
        lp_ref = torch.log_softmax(reference(toks[None]).float()[0, n - 1: -1], -1)
        lp = torch.log_softmax(model(toks[None]).float()[0, n - 1: -1], -1)
        out.append(float((lp_ref.exp() * (lp_ref - lp)).sum()))
    return np.asarray(out)


def completion_rows(ctx: Context, problems: Sequence[Any]) -> tuple[list[torch.Tensor], list[int]]:
    """Token rows of ``prompt + RL greedy completion`` and each prompt's token count (rows without a completion
    token are dropped)."""
    from ...sampling import greedy_generate_tl

    prompts = [p.prompt for p in problems]
    comps = greedy_generate_tl(tl_view(ctx.pair.rl), prompts, max_new_tokens=ctx.max_new_tokens)
    rows, n_prompt = [], []
    for p, c in zip(prompts, comps, strict=True):
        ids, attn = ctx.pair.rl.to_tokens([p + c])
        n = int(ctx.pair.rl.to_tokens([p])[1].sum())
        L = int(attn.sum())
        if L > n:
            rows.append(ids[0, :L])
            n_prompt.append(n)
    return rows, n_prompt


def kl_recovery(ctx: Context, rows: Sequence[torch.Tensor], n_prompt: Sequence[int], vector: SteeringVector,
                multiplier: float) -> tuple[Estimate, Estimate]:
    """KL(RL || base) per completion token on :func:`completion_rows`, and the share of it the steered base
    removes, ``1 - KL(RL||steered) / KL(RL||base)``, with a paired bootstrap CI over problems."""
    base_tl, rl_tl = tl_view(ctx.pair.base), tl_view(ctx.pair.rl)
    if not rows:
        return Estimate(), Estimate()
    n_tok = np.array([len(r) - n for r, n in zip(rows, n_prompt, strict=True)], dtype=float)
    kb = kl_to_reference(rl_tl, base_tl, rows, n_prompt)
    with vector.apply(base_tl, multiplier=multiplier) as steered:
        ks = kl_to_reference(rl_tl, steered, rows, n_prompt)
    c = ctx.config
    kl_base = Estimate(kb.sum() / n_tok.sum(), *bootstrap_ratio_ci(kb, n_tok, n_boot=c.n_boot, seed=c.seed))
    if kb.sum() <= 0:
        return kl_base, Estimate()
    lo, hi = bootstrap_ratio_ci(ks, kb, n_boot=c.n_boot, seed=c.seed)
    return kl_base, Estimate(1.0 - ks.sum() / kb.sum(), 1.0 - hi, 1.0 - lo, note=f"{len(rows)} problems")


def train_vector(ctx: Context, rows: Sequence[torch.Tensor], n_prompt: Sequence[int], steps: int,
                 lr: float = 0.05) -> SteeringVector:
    """A steering vector at ``ctx.layer`` (all positions) optimised with Adam so that the steered base writes the RL
    model's completions in ``rows`` (:func:`completion_rows`; cross-entropy of completion tokens only), as in
    Venhoff et al. 2510.07364: an upper bound on what one direction added to the base can recover."""
    from ...hooks import hook_name

    base_tl = tl_view(ctx.pair.base)
    v = torch.zeros(ctx.pair.base.d_model, requires_grad=True)
    if not rows or steps == 0:
        return SteeringVector({ctx.layer: v.detach()})
    width = max(len(r) for r in rows)
    ids = torch.zeros(len(rows), width, dtype=torch.long)
    mask = torch.zeros(len(rows), width - 1)
    for i, (r, n) in enumerate(zip(rows, n_prompt, strict=True)):
        ids[i, : len(r)] = r
        mask[i, n - 1: len(r) - 1] = 1.0  # positions predicting completion tokens (right padding never precedes them)
    grads = [p.requires_grad for p in base_tl.parameters()]
    for p in base_tl.parameters():
        p.requires_grad_(False)
    opt = torch.optim.Adam([v], lr=lr)
    name = hook_name(ctx.layer)
    try:
        torch.manual_seed(ctx.config.seed)
        for _ in range(steps):
            logits = base_tl.run_with_hooks(ids, fwd_hooks=[(name, lambda act, hook: act + v)])
            lp = torch.log_softmax(logits[:, :-1].float(), -1).gather(-1, ids[:, 1:, None])[..., 0]
            loss = -(lp * mask).sum() / mask.sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
    finally:
        for p, g in zip(base_tl.parameters(), grads, strict=True):
            p.requires_grad_(g)
    return SteeringVector({ctx.layer: v.detach()})


def measure(ctx: Context) -> tuple[SteeringMetrics | None, dict[str, pd.DataFrame]]:
    if not ctx.single_turn:  # steered accuracy is scored on single-turn problems; bandit episodes are multi-turn
        return None, {}
    d = contrast_acts(ctx)
    if d is None:
        return None, {}
    L = ctx.layer
    labels = torch.as_tensor(d["labels"]).bool()
    own = SteeringVector.from_means({L: d["base"][labels]}, {L: d["base"][~labels]})
    from_rl = SteeringVector.from_means({L: d["rl"][labels]}, {L: d["rl"][~labels]})
    bias = bias_vector({L: d["base"]}, {L: d["rl"]})
    probs = steer_problems(ctx)
    half = len(probs) // 2
    dev, test = probs[:half], probs[half:]
    c = ctx.config
    dev_table = steering_recovery(ctx.pair.base, ctx.pair.rl, {"own": own}, greedy_scorer(ctx, dev),
                                  config=SteerRecoveryConfig(multipliers=c.multipliers, n_random=0, n_boot=c.n_boot,
                                                             seed=c.seed))
    best = float(dev_table[dev_table.condition == "own"].sort_values("accuracy", ascending=False)["multiplier"].iloc[0])
    table = steering_recovery(ctx.pair.base, ctx.pair.rl, {"own": own, "from_rl": from_rl}, greedy_scorer(ctx, test),
                              bias=bias, config=SteerRecoveryConfig(multipliers=(best,), n_random=c.n_random,
                                                                    n_boot=c.n_boot, seed=c.seed))
    trained = train_vector(ctx, *completion_rows(ctx, dev), c.trained_steps) if c.trained_steps else None
    if trained is not None:  # applied as trained (multiplier 1); its rows join the table
        t2 = steering_recovery(ctx.pair.base, ctx.pair.rl, {"trained": trained}, greedy_scorer(ctx, test),
                               config=SteerRecoveryConfig(multipliers=(1.0,), n_random=0, n_boot=c.n_boot, seed=c.seed))
        table = pd.concat([table, t2[t2.condition == "trained"]], ignore_index=True)
    g = table.set_index("condition")
    rnd = table[table.condition.str.startswith("random:own")]
    rec = lambda k: Estimate(g.loc[k, "gap_recovered"], g.loc[k, "ci_lo"], g.loc[k, "ci_hi"])  # noqa: E731
    acc = lambda k: Estimate(g.loc[k, "accuracy"], g.loc[k, "acc_ci_lo"], g.loc[k, "acc_ci_hi"])  # noqa: E731
    rows, n_prompt = completion_rows(ctx, test)
    kl_base, kl_rec = kl_recovery(ctx, rows, n_prompt, own, best)
    kl_trained = kl_recovery(ctx, rows, n_prompt, trained, 1.0)[1] if trained is not None else Estimate()
    m = SteeringMetrics(
        kl_base=kl_base, kl_recovered=kl_rec, acc_base=acc("unsteered_base"), acc_rl=acc("rl_model"),
        recovered_trained=rec("trained") if trained is not None else Estimate(), kl_recovered_trained=kl_trained,
        gap=Estimate(g.loc["rl_model", "accuracy"] - g.loc["unsteered_base", "accuracy"], note=f"{len(test)} problems"),
        multiplier=Estimate(best), recovered_own=rec("own"), acc_own=acc("own"), recovered_from_rl=rec("from_rl"),
        recovered_bias=rec("bias"),
        recovered_random=Estimate() if rnd.empty else Estimate(
            float(rnd["gap_recovered"].max()), float(rnd["ci_lo"].max()), float(rnd["ci_hi"].max()),
            note=f"{len(rnd)} equal-norm random vectors"),
    )
    return m, {"steering": table, "steering_dev": dev_table}
