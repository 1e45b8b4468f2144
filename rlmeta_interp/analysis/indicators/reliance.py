"""Reliance (bandits): does the base's next choice already follow which arm earned which reward, as the trained
model's does? (measurement in ``analysis/reliance.py``)

Both models read the same Thompson-written episodes (the beliefs indicator's) and the same episodes with their
rewards permuted within each episode. ``directed`` is the shift of a model's next-arm probabilities towards the arms
the true history favours, summed over the choices the permutation changed. The statistic is the share of the trained
model's directed reliance that the base lacks, ``1 - sum(base) / sum(trained)`` over episodes, with a paired
bootstrap CI over episodes: about 0 where the base already uses the arm-reward link as much as the trained model
does (activation), about 1 where only the trained model uses it (creation).

Why it exists: a base pretrained on a learner's moves with its rewards shuffled plays like a learner without any
value estimate. The behavioural indicators (elicitation, likelihood) measure how near the trained model's play is to
what the base does or can quickly be taught, which there is near; reliance asks whether the base's choices depend
on the rewards at all.

Read with care:
- Designed after the shuffled-reward pairs had been read wrong by the summary; those three pairs
  (:data:`SEEN_IN_DESIGN`) are not a clean test of it, and the validation reports its held-out AUC without them too.
- No reading (no vote, no statistic for the fit) unless the trained model's own directed reliance has a CI above 0:
  a trained model that does not use the link gives the ratio nothing to divide by. The guard is fixed, not fitted.
- The CI covers episodes only; the base enters the ratio directly, so pairs that share a base share its noise.
- A candidate reading, scored and never voting: how far the base falls short of Thompson sampling on the same
  histories (``1 - sum(base) / sum(thompson)``), a statistic of the base alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from jaxtyping import Float

from ..ratios import bootstrap_ratio_ci, signed_ratio_ci
from .core import Context, Estimate, Metrics, ScorecardRules, Vote, band_vote, descriptive_note, metric
from .shared import episodes

NAME = "reliance"
NOT_APPLICABLE = "reward reliance is defined for the bandit world."
# held-out pairs whose readings (by other indicators, and this measurement's first run) were in view when it was designed
SEEN_IN_DESIGN = ("val-bandit-shuf-d100-rl-long", "val-bandit-shuf-d100-s1-rl-long", "val-bandit-shuf-d100-s2-rl-long")
THOMPSON_DRAWS = 2000  # Monte Carlo draws per choice for Thompson sampling's scale (a reference, not the statistic)


@dataclass(frozen=True)
class RelianceMetrics(Metrics):
    unreached: Estimate = metric("share of the trained model's directed reward reliance the base lacks"
                                 " (1 - base / trained)")
    short_of_thompson: Estimate = metric("share of Thompson sampling's directed reward reliance the base lacks"
                                         " (1 - base / thompson)")
    directed_base: Estimate = metric("directed reward reliance, base (per changed choice)")
    directed_rl: Estimate = metric("directed reward reliance, trained model (per changed choice)")
    directed_thompson: Estimate = metric("directed reward reliance, Thompson sampling (reference)")
    tv_base: Estimate = metric("next-arm total variation, true vs permuted rewards, base")
    tv_rl: Estimate = metric("next-arm total variation, true vs permuted rewards, trained model")
    n_episodes: Estimate = metric("episodes with a changed choice")
    n_choices: Estimate = metric("changed choices read")


def rule(rules: ScorecardRules) -> str:
    r = rules
    return descriptive_note(NAME, r) + (
        "the share of the trained model's directed reward reliance (next-arm shift towards the arms the true history"
        " favours, against the same history with permuted rewards) that the base lacks; where the trained model's"
        f" own reliance has a CI above 0: activation if the share's CI lies below {r.reliance_activation_max},"
        f" creation if it lies above {r.reliance_creation_min}; otherwise inconclusive, and no vote where the"
        " trained model does not rely on the rewards.")


def vote(m: RelianceMetrics | None, rules: ScorecardRules) -> Vote:
    if m is None or NAME in rules.descriptive:
        return "n/a"
    return vote_from_statistic(statistic(m), rules)


def vote_from_statistic(s: Estimate, rules: ScorecardRules) -> Vote:
    """The vote of a pair that has one, from its statistic alone (the guard sits in :func:`statistic`), so that a
    table of statistics and votes can be voted again under other thresholds."""
    return band_vote(s, rules.reliance_activation_max, rules.reliance_creation_min)


def statistic(m: RelianceMetrics) -> Estimate:
    """The share of the trained model's directed reliance the base lacks (higher reads creation); unknown unless
    the trained model's own directed reliance has a CI above 0."""
    # a CI is required: without one (too few episodes) the point value alone would pass the guard
    return m.unreached if m.directed_rl.lo is not None and m.directed_rl.above(0.0) else Estimate()


CANDIDATES = {"base short of Thompson": lambda m: m.short_of_thompson}


def with_cut(rules: ScorecardRules, cut: float) -> ScorecardRules:
    """Rules whose creation/activation boundary sits at ``cut`` on :func:`statistic`."""
    return rules.replace(reliance_activation_max=float(cut), reliance_creation_min=float(cut))


def lacking_share(num: Float[np.ndarray, " n"], den: Float[np.ndarray, " n"], *, n_boot: int, seed: int, note: str) -> Estimate:
    """``1 - sum(num) / sum(den)`` with a bootstrap CI over units (unknown where ``sum(den) <= 0`` or too many
    resamples have no positive denominator)."""
    if den.sum() <= 0:
        return Estimate()
    lo, hi = signed_ratio_ci(num, den, n_boot=n_boot, seed=seed)
    if np.isnan(lo) or np.isnan(hi):
        return Estimate()
    return Estimate(1.0 - float(num.sum() / den.sum()), 1.0 - hi, 1.0 - lo, note)


def measure(ctx: Context) -> tuple[RelianceMetrics | None, dict[str, pd.DataFrame]]:
    from ..reliance import THOMPSON, reliance_episodes

    if ctx.world.name != "bandits":
        return None, {}
    c = ctx.config
    texts = episodes(ctx)["texts"]
    per = reliance_episodes({"base": ctx.pair.base, "rl": ctx.pair.rl}, texts, n_arms=ctx.world.config.n_arms,
                            seed=c.seed, thompson_draws=THOMPSON_DRAWS)
    per = per[per["n_choices"] > 0]  # an episode whose only changed reward is its last has no choice to read
    if per.empty:
        return RelianceMetrics(n_episodes=Estimate(0.0)), {"reliance_episodes": per}
    wide = per.pivot(index="episode", columns="model", values=["directed", "tv"])
    n = per[per["model"] == "base"].set_index("episode")["n_choices"].reindex(wide.index).to_numpy(float)
    note = f"{len(n)} Thompson episodes, rewards permuted within each; bootstrap over episodes"

    def mean(key: str, model: str) -> Estimate:
        v = wide[(key, model)].to_numpy(float)
        lo, hi = bootstrap_ratio_ci(v, n, n_boot=c.n_boot, seed=c.seed)
        return Estimate(float(v.sum() / n.sum()), lo, hi, note)

    d = {m: wide[("directed", m)].to_numpy(float) for m in ("base", "rl", THOMPSON)}
    m = RelianceMetrics(
        unreached=lacking_share(d["base"], d["rl"], n_boot=c.n_boot, seed=c.seed, note=note + " (paired)"),
        short_of_thompson=lacking_share(d["base"], d[THOMPSON], n_boot=c.n_boot, seed=c.seed, note=note + " (paired)"),
        directed_base=mean("directed", "base"), directed_rl=mean("directed", "rl"),
        directed_thompson=mean("directed", THOMPSON), tv_base=mean("tv", "base"), tv_rl=mean("tv", "rl"),
        n_episodes=Estimate(float(len(n))), n_choices=Estimate(float(n.sum())))
    return m, {"reliance_episodes": per.reset_index(drop=True)}
