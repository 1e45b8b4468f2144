"""Directions: is the RL model's behaviour direction already present, in the same place, in the base model?

After any small RL update every direction stays nearly shared (cosines of 0.997+ at every dose), so a raw cosine has
no scale. When a base of the same design from another pretraining seed is available (``ctx.reference_base``), the
base-to-RL distance ``1 - cos`` is divided by the base-to-other-seed distance: 0 means RL kept the base's direction,
1 means RL moved it as far as an independent pretraining run would. Linear CKA of the two models' contrast
activations is reported beside the cosines, and so is the cosine of directions read from each model's own samples
(labelled by what the model wrote): teacher-forced contrast texts make the label an input feature, own samples do not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch

from ..directions import DirectionConfig, direction_cosines, probe_transfer
from ..stats import linear_cka
from .core import Context, Estimate, Metrics, ScorecardRules, Vote, descriptive_note, metric
from .shared import completion_means, contrast_acts, samples

NAME = "directions"
NOT_APPLICABLE = "this world has no behaviour contrast (scratchpad vs direct, deep vs shallow, Thompson vs random)."


@dataclass(frozen=True)
class DirectionsMetrics(Metrics):
    cosine: Estimate = metric("cosine(base dir, RL dir)")
    null_shared: Estimate = metric("shared-permutation null (upper)")
    p_shared: Estimate = metric("p-value against the shared-permutation null")
    null_indep: Estimate = metric("independent null (upper)")
    cosine_seed: Estimate = metric("cosine(base dir, other-seed base dir)")
    scaled_distance: Estimate = metric("(1 - cos base/RL) / (1 - cos base/other seed)")
    cka: Estimate = metric("linear CKA(base, RL)")
    cka_seed: Estimate = metric("linear CKA(base, other-seed base)")
    cosine_own_samples: Estimate = metric("cosine of directions from each model's own samples (scratchpad vs direct)")
    base_scratchpad_samples: Estimate = metric("base samples with a scratchpad (own-sample direction needs both kinds)")
    probe_rl_rl: Estimate = metric("probe acc RL->RL")
    probe_rl_base: Estimate = metric("probe acc RL->base")


def similarity(m: DirectionsMetrics) -> Estimate:
    """1 - scaled distance when a seed reference exists (1: as the base; 0: as another seed), else the cosine."""
    sd = m.scaled_distance
    if sd.known:
        flip = lambda x: None if x is None else 1.0 - x  # noqa: E731
        return Estimate(flip(sd.value), flip(sd.hi), flip(sd.lo), "seed-scaled")
    return m.cosine


def rule(rules: ScorecardRules) -> str:
    r = rules
    return descriptive_note(NAME, r) + (
        "behaviour = scratchpad vs direct answer (for bases whose corpus doses chain depth: worked chains deeper"
        " than the always-shown depth vs shallower ones; bandits: Thompson-sampling vs uniform-random episodes),"
        " activations averaged over completion tokens; similarity = 1 -"
        " (1 - cos(base, RL)) / (1 - cos(base, other-seed base)) when a second pretraining seed exists, else the raw"
        f" cosine; activation if its CI lies above {r.cosine_activation_min} (and, without a seed reference, the"
        f" cosine beats the shared-permutation null, p < 0.05); creation if its CI lies below"
        f" {r.cosine_creation_max}; otherwise inconclusive.")


def vote(m: DirectionsMetrics | None, rules: ScorecardRules) -> Vote:
    if m is None or NAME in rules.descriptive:
        return "n/a"
    s = similarity(m)
    if not s.known:
        return "n/a"
    beats_null = m.scaled_distance.known or (m.p_shared.known and m.p_shared.value < 0.05)
    if s.above(rules.cosine_activation_min) and beats_null:
        return "activation"
    if s.below(rules.cosine_creation_max):
        return "creation"
    return "inconclusive"


# its vote reads more than its statistic: a table of statistics cannot be voted again
vote_from_statistic = None


def statistic(m: DirectionsMetrics) -> Estimate:
    return similarity(m).scaled(-1.0)


# Other readings of the same measurement, scored by the validation beside the statistic (they do not vote).
CANDIDATES = {
    "own samples": lambda m: m.cosine_own_samples.scaled(-1.0),
    "CKA": lambda m: m.cka.scaled(-1.0),
}

def with_cut(rules: ScorecardRules, cut: float) -> ScorecardRules:
    """Rules whose creation/activation boundary sits at ``cut`` on :func:`statistic` (minus the similarity)."""
    return rules.replace(cosine_activation_min=-float(cut), cosine_creation_max=-float(cut))


def own_sample_direction(ctx: Context, model: Any, completions: list[list[str]], per_problem: int = 4
                         ) -> tuple[torch.Tensor | None, int]:
    """Scratchpad-minus-direct direction from the model's *own* sampled completions (labels read from what it wrote,
    not from teacher-forced texts), and how many of those samples had a scratchpad; None without both kinds."""
    from ...organism.worlds.arithmetic import SCRATCHPAD_FORMATS

    prompts, comps, labels = [], [], []
    for p, row in zip(ctx.problems, completions, strict=True):
        for c in row[:per_problem]:
            prompts.append(p.prompt)
            comps.append(c)
            labels.append(ctx.world.format_of(c) in SCRATCHPAD_FORMATS)
    y = torch.as_tensor(labels)
    n_pos = int(y.sum())
    if n_pos < 2 or int((~y).sum()) < 2 or any(not c for c in comps):
        return None, n_pos
    acts = completion_means(model, prompts, comps, ctx.layer)
    return acts[y].mean(0) - acts[~y].mean(0), n_pos


def measure(ctx: Context) -> tuple[DirectionsMetrics | None, dict[str, pd.DataFrame]]:
    d = contrast_acts(ctx)
    if d is None:
        return None, {}
    cfg = DirectionConfig(n_boot=ctx.config.n_boot, seed=ctx.config.seed, n_shuffles=50)
    L = ctx.layer
    cos = direction_cosines({L: d["base"]}, {L: d["rl"]}, d["labels"], config=cfg)
    # a repeated contrast text stays in one fold, so no probe is scored on a copy of a row it was fitted on
    tr = probe_transfer({L: d["base"]}, {L: d["rl"]}, d["labels"], config=cfg, groups=d["texts"]).set_index(
        ["source", "target"])
    row = cos.iloc[0]
    tables = {"cosines": cos, "probe_transfer": tr.reset_index()}
    seed_cos = scaled = cka_seed = Estimate()
    if "reference" in d:
        ref = direction_cosines({L: d["base"]}, {L: d["reference"]}, d["labels"], config=cfg.replace(n_shuffles=0))
        c_ref = float(ref.iloc[0]["cosine"])
        seed_cos = Estimate(c_ref, ref.iloc[0]["ci_lo"], ref.iloc[0]["ci_hi"])
        denom = max(1.0 - c_ref, 1e-9)
        scaled = Estimate((1.0 - row["cosine"]) / denom, (1.0 - row["ci_hi"]) / denom, (1.0 - row["ci_lo"]) / denom,
                          note="CI from the base/RL cosine's CI; the seed distance taken as fixed")
        cka_seed = Estimate(linear_cka(d["base"].numpy(), d["reference"].numpy()))
        tables["seed_cosines"] = ref
    dir_b = dir_r = None
    n_b = 0
    if ctx.single_turn:  # own samples are labelled by their format (scratchpad or direct), a single-turn reading
        res = samples(ctx)
        dir_b, n_b = own_sample_direction(ctx, ctx.pair.base, res.completions_base)
        dir_r, _ = own_sample_direction(ctx, ctx.pair.rl, res.completions_rl)
    own_cos = Estimate() if dir_b is None or dir_r is None else Estimate(
        float(torch.nn.functional.cosine_similarity(dir_b, dir_r, dim=0)))
    acc = lambda s, t: Estimate(tr.loc[(s, t), "accuracy"], tr.loc[(s, t), "ci_lo"], tr.loc[(s, t), "ci_hi"])  # noqa: E731
    m = DirectionsMetrics(
        cosine=Estimate(row["cosine"], row["ci_lo"], row["ci_hi"]), null_shared=Estimate(row["null_shared_hi"]),
        p_shared=Estimate(row["p_shared"]), null_indep=Estimate(row["null_indep_hi"]), cosine_seed=seed_cos,
        scaled_distance=scaled, cka=Estimate(linear_cka(d["base"].numpy(), d["rl"].numpy())), cka_seed=cka_seed,
        cosine_own_samples=own_cos, base_scratchpad_samples=Estimate(float(n_b)),
        probe_rl_rl=acc("rl", "rl"), probe_rl_base=acc("rl", "base"),
    )
    return m, tables
