"""Weights (claim 7, Mukherjee et al. 2505.11711): how sparse and how low-rank is the RL update?

Descriptive: update sparsity says how RL changed the weights, not whether the capability pre-existed (and any
measure of how far weights moved separates RL budgets, not classes). It reports and never votes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..params import sparsity_summary, update_sparsity
from .core import Context, Estimate, Metrics, ScorecardRules, Vote, metric

NAME = "weights"


@dataclass(frozen=True)
class WeightsMetrics(Metrics):
    frac_updated_fp32: Estimate = metric("frac_updated_fp32")
    frac_beyond_atol: Estimate = metric("frac_updated_beyond_atol_fp32")
    frac_updated_bf16: Estimate = metric("frac_updated_bf16")
    mean_rank_frac: Estimate = metric("mean_rank_frac")
    relative_update_norm: Estimate = metric("relative update norm (numel-weighted)")


def rule(rules: ScorecardRules) -> str:
    return ("DESCRIPTIVE, does not vote: update sparsity says how RL changed weights, not whether the capability"
            " pre-existed; bf16 view per Miahi & Belilovsky.")


def vote(m: WeightsMetrics | None, rules: ScorecardRules) -> Vote:
    return "n/a"


vote_from_statistic = None  # it never votes


def statistic(m: WeightsMetrics) -> Estimate:
    return m.relative_update_norm


with_cut = None  # descriptive: never fitted, never votes


def measure(ctx: Context) -> tuple[WeightsMetrics, dict[str, pd.DataFrame]]:
    table = update_sparsity(ctx.pair.base.hf, ctx.pair.rl.hf)
    s = sparsity_summary(table)
    w = table["numel"].to_numpy(float)
    m = WeightsMetrics(frac_updated_fp32=Estimate(s["frac_updated_fp32"]),
                       frac_beyond_atol=Estimate(1.0 - s["frac_within_atol_fp32"]),
                       frac_updated_bf16=Estimate(s["frac_updated_bf16"]), mean_rank_frac=Estimate(s["mean_rank_frac"]),
                       relative_update_norm=Estimate(float(np.average(table["rel_delta_norm"].fillna(0.0), weights=w))))
    return m, {"update_sparsity": table}
