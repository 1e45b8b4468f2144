"""Features (Lindsey et al. 2024; Minder et al. 2504.02922): do the base model's features describe the RL model?

A TopK SAE trained on base activations reconstructs RL activations (FVU ratio), and a base-vs-RL crosscoder counts
RL-only latents confirmed by Latent Scaling. Any RL run moves activations somewhat, so when the pair has a
same-budget random-reward control (``ctx.control_rl``: the same base, the same RL steps, a reward unrelated to the
task) its readings are measured the same way and subtracted: what remains is what the *rewarded* capability added.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch

from ...hooks import hook_name
from ..crosscoder import CrosscoderConfig, crosscoder_latents, train_crosscoder
from ..saes import SaeTrainConfig, reconstruction_quality, train_sae
from .core import Context, Estimate, Metrics, ScorecardRules, Vote, descriptive_note, metric
from .shared import episodes, samples

NAME = "features"


@dataclass(frozen=True)
class FeaturesMetrics(Metrics):
    fvu_base: Estimate = metric("SAE FVU on base acts")
    fvu_rl: Estimate = metric("SAE FVU on RL acts")
    fvu_ratio: Estimate = metric("FVU ratio RL / base")
    live: Estimate = metric("crosscoder live latents")
    rl_only: Estimate = metric("confirmed RL-only latents (share of live)")
    base_only: Estimate = metric("confirmed base-only latents (share of live)")
    shared_cos: Estimate = metric("shared latents: median decoder cosine")
    control_fvu_ratio: Estimate = metric("FVU ratio, random-reward control / base")
    control_rl_only: Estimate = metric("confirmed control-only latents (share of live)")
    rl_only_excess: Estimate = metric("RL-only share minus the control's")
    fvu_ratio_excess: Estimate = metric("FVU ratio / the control's FVU ratio")


def rule(rules: ScorecardRules) -> str:
    r = rules
    return descriptive_note(NAME, r) + (
        "a TopK SAE trained on base activations reconstructs RL activations (FVU ratio), and a base-vs-RL crosscoder"
        " counts RL-only latents confirmed by Latent Scaling; with a same-budget random-reward control both are taken"
        f" relative to the control's (ratio / control ratio, share - control share); creation if the FVU ratio >="
        f" {r.fvu_creation_min} or RL-only latents exceed {r.rl_only_creation_min:.0%} of live latents; activation"
        f" if the FVU ratio <= {r.fvu_activation_max} and RL-only latents are at most {r.rl_only_activation_max:.0%};"
        " otherwise inconclusive.")


def _readings(m: FeaturesMetrics) -> tuple[Estimate, Estimate]:
    if m.rl_only_excess.known and m.fvu_ratio_excess.known:
        return m.fvu_ratio_excess, m.rl_only_excess
    return m.fvu_ratio, m.rl_only


def vote(m: FeaturesMetrics | None, rules: ScorecardRules) -> Vote:
    if m is None or NAME in rules.descriptive:
        return "n/a"
    fr, ro = _readings(m)
    if not fr.known or not ro.known:
        return "n/a"
    if fr.value >= rules.fvu_creation_min or ro.value > rules.rl_only_creation_min:
        return "creation"
    if fr.value <= rules.fvu_activation_max and ro.value <= rules.rl_only_activation_max:
        return "activation"
    return "inconclusive"


# its vote reads more than its statistic: a table of statistics cannot be voted again
vote_from_statistic = None


def statistic(m: FeaturesMetrics) -> Estimate:
    """The RL-only latent share (beyond the control's when there is one)."""
    return _readings(m)[1]


# Other readings of the same measurement, scored by the validation beside the statistic (they do not vote).
CANDIDATES = {
    "FVU ratio": lambda m: m.fvu_ratio_excess if m.fvu_ratio_excess.known else m.fvu_ratio,
}

def with_cut(rules: ScorecardRules, cut: float) -> ScorecardRules:
    """Rules whose RL-only latent boundary sits at ``cut`` on :func:`statistic` (the FVU thresholds stay)."""
    return rules.replace(rl_only_activation_max=float(cut), rl_only_creation_min=float(cut))


def feature_acts(ctx: Context, models: list[Any]) -> list[torch.Tensor]:
    """Token-level activations of each model on the same texts (RL samples, or Thompson episodes)."""
    from ...activations import harvest

    if ctx.single_turn:
        res = samples(ctx)
        texts = [p.prompt + row[i] for p, row in zip(ctx.problems, res.completions_rl, strict=True)
                 for i in range(min(4, len(row)))]
    else:
        texts = episodes(ctx)["texts"]
    h = hook_name(ctx.layer)
    out = []
    for model in models:
        a = harvest(model, texts, [h], positions="all", cache=False)
        out.append(a[h][a.mask.bool()])
    return out


def _diff(ctx: Context, xb: torch.Tensor, xr: torch.Tensor, sae: Any) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    c = ctx.config
    d = xb.shape[1]
    rq = reconstruction_quality(sae, {"base": xb, "rl": xr}, reference="base", n_boot=c.n_boot, seed=c.seed)
    cc = train_crosscoder(xb, xr, CrosscoderConfig(d_in=d, d_sae=c.sae_width * d, k=c.sae_k, steps=c.crosscoder_steps,
                                                   seed=c.seed))
    lat = crosscoder_latents(cc, xb, xr)
    live = lat[lat["freq"] > 0]
    share = float(((live["category"] == "rl_only") & live["confirmed"]).mean()) if len(live) else float("nan")
    return rq, lat, share


def measure(ctx: Context) -> tuple[FeaturesMetrics, dict[str, pd.DataFrame]]:
    c = ctx.config
    models = [ctx.pair.base, ctx.pair.rl] + ([ctx.control_rl] if ctx.control_rl is not None else [])
    acts = feature_acts(ctx, models)
    xb, xr = acts[0], acts[1]
    d = xb.shape[1]
    sae = train_sae(xb, SaeTrainConfig(d_sae=c.sae_width * d, k=c.sae_k, training_samples=c.sae_samples, seed=c.seed),
                    hook_name=hook_name(ctx.layer), model_name=ctx.pair.base.name)
    rq, lat, rl_only = _diff(ctx, xb, xr, sae)
    q = rq.set_index("model")
    live = lat[lat["freq"] > 0]
    base_only = float(((live["category"] == "base_only") & live["confirmed"]).mean()) if len(live) else float("nan")
    shared = live[live["category"] == "shared"]["dec_cos"]
    tables = {"reconstruction": rq, "crosscoder_latents": lat}
    ctrl_ratio = ctrl_only = excess = ratio_excess = Estimate()
    if len(acts) == 3:
        crq, clat, c_only = _diff(ctx, xb, acts[2], sae)
        cq = crq.set_index("model").loc["rl"]
        ctrl_ratio = Estimate(cq["fvu_ratio"], cq.get("ratio_ci_lo"), cq.get("ratio_ci_hi"))
        ctrl_only = Estimate(c_only)
        excess = Estimate(rl_only - c_only)
        ratio_excess = Estimate(float(q.loc["rl", "fvu_ratio"]) / max(float(cq["fvu_ratio"]), 1e-12))
        tables.update({"control_reconstruction": crq, "control_crosscoder_latents": clat})
    m = FeaturesMetrics(
        fvu_base=Estimate(q.loc["base", "fvu"], q.loc["base", "ci_lo"], q.loc["base", "ci_hi"]),
        fvu_rl=Estimate(q.loc["rl", "fvu"], q.loc["rl", "ci_lo"], q.loc["rl", "ci_hi"]),
        fvu_ratio=Estimate(q.loc["rl", "fvu_ratio"], q.loc["rl"].get("ratio_ci_lo"), q.loc["rl"].get("ratio_ci_hi")),
        live=Estimate(float(len(live))), rl_only=Estimate(rl_only), base_only=Estimate(base_only),
        shared_cos=Estimate(float(shared.median()) if len(shared) else None),
        control_fvu_ratio=ctrl_ratio, control_rl_only=ctrl_only, rl_only_excess=excess, fvu_ratio_excess=ratio_excess,
    )
    return m, tables
