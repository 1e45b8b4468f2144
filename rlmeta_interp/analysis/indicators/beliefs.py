"""Beliefs (claim 6, bandits): does the *base* residual stream already encode each arm's posterior mean?

Ridge probes of the row-centred Bayes posterior means at reward tokens (folds and bootstrap grouped by episode),
beside a random-init network of the same shape and a bag-of-token-counts baseline: a random network decodes centred
values well, so only R^2 beyond the random-init control counts. Votes use the CIs: the base's lower end must clear
the control's upper end by the margin. The paired RL - base regret on the same unseen bandits decides the gain. A
causal check sits beside the probes: the base's probed belief subspace is ablated in the RL model while it plays,
against a random subspace of the same rank; RL that relies on the base's belief directions regrets more without them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from jaxtyping import Float

from ...errors import InvalidConfigError
from .core import Context, Estimate, Metrics, ScorecardRules, Vote, descriptive_note, metric
from .shared import belief_probes, episodes, regret, regret_bandits

NAME = "beliefs"
NOT_APPLICABLE = "belief probes are defined for the bandit world."


@dataclass(frozen=True)
class BeliefsMetrics(Metrics):
    r2_base: Estimate = metric("R^2 base")
    r2_rl: Estimate = metric("R^2 rl")
    r2_random_init: Estimate = metric("R^2 random_init")
    r2_token_counts: Estimate = metric("R^2 token_counts")
    base_minus_random: Estimate = metric("R^2 base - random init (CI ends: base lo - control hi, base hi - control lo)")
    rl_minus_random: Estimate = metric("R^2 RL - random init (CI ends as above)")
    regret_base: Estimate = metric("regret base (sampled)")
    regret_rl: Estimate = metric("regret rl (sampled)")
    regret_base_greedy: Estimate = metric("regret base (greedy)")
    regret_rl_greedy: Estimate = metric("regret rl (greedy)")
    regret_thompson: Estimate = metric("regret thompson (reference)")
    regret_random: Estimate = metric("regret random (reference)")
    d_regret: Estimate = metric("regret RL - base (sampled, paired)")
    d_regret_greedy: Estimate = metric("regret RL - base (greedy, paired)")
    ablation_effect: Estimate = metric("RL greedy regret: base belief subspace ablated - random subspace ablated")
    regret_rl_ablated: Estimate = metric("regret rl (greedy), base belief subspace ablated")
    regret_rl_random_ablated: Estimate = metric("regret rl (greedy), random subspace of the same rank ablated")


def rule(rules: ScorecardRules) -> str:
    r = rules
    return descriptive_note(NAME, r) + (
        "ridge probe of row-centred posterior means at reward tokens; activation if the base's R^2 beats the"
        f" random-init control's by more than {r.belief_margin} with the CIs apart (base lower end minus control upper"
        " end), so value estimates exist before RL; creation if the base's does not but the RL model's does;"
        " otherwise inconclusive.")


def vote(m: BeliefsMetrics | None, rules: ScorecardRules) -> Vote:
    if m is None or NAME in rules.descriptive or not m.base_minus_random.known:
        return "n/a"
    if m.base_minus_random.above(rules.belief_margin):
        return "activation"
    if m.rl_minus_random.above(rules.belief_margin) and not m.base_minus_random.above(0.0):
        return "creation"
    return "inconclusive"


# its vote reads more than its statistic: a table of statistics cannot be voted again
vote_from_statistic = None


def statistic(m: BeliefsMetrics) -> Estimate:
    """How far the base's value probe falls short of the random-init control's (R^2 control - R^2 base; higher reads
    creation): the quantity the vote tests, so that the fitted cut and the vote ask one question, whether value
    estimates exist before RL. The earlier statistic, what RL added (R^2 RL - R^2 base), did not separate the classes
    on held-out pairs and is kept as a candidate reading."""
    return m.base_minus_random.scaled(-1.0)


def rl_added(m: BeliefsMetrics) -> Estimate:
    """What RL added beyond the base: (RL - control) - (base - control) = R^2 RL - R^2 base."""
    if not (m.r2_rl.known and m.r2_base.known):
        return Estimate()
    return Estimate(m.r2_rl.value - m.r2_base.value)


# Other readings of the same measurement, scored by the validation beside the statistic (they do not vote).
CANDIDATES = {
    "R^2 RL - base": rl_added,
    "belief ablation": lambda m: m.ablation_effect.scaled(-1.0),
}

with_cut = None  # the vote compares the base with its random-init control; no single cut on the statistic


def _gap(a: Estimate, b: Estimate) -> Estimate:
    lo = None if a.lo is None or b.hi is None else a.lo - b.hi
    hi = None if a.hi is None or b.lo is None else a.hi - b.lo
    return Estimate(a.value - b.value, lo, hi)


def belief_subspace(ctx: Context, texts: list[str], targets: np.ndarray) -> Float[torch.Tensor, "d_model k"]:
    """An orthonormal basis of the directions a ridge probe on the *base* reads the row-centred posterior means from
    (reward tokens, ``ctx.layer``): one column per arm, orthonormalised."""
    from sklearn.linear_model import RidgeCV

    from ...activations import harvest
    from ...hooks import hook_name
    from ..belief_probes import center_targets
    from ..incontext import reward_positions

    h = hook_name(ctx.layer)
    a = harvest(ctx.pair.base, texts, [h], positions="all", cache=False)[h]
    pos = reward_positions(ctx.pair.base, targets.shape[1])
    x = a[:, pos].reshape(-1, a.shape[-1]).double().numpy()
    y = center_targets(targets.reshape(-1, targets.shape[-1]))
    coef = RidgeCV(alphas=(0.1, 1.0, 10.0, 100.0)).fit(x, y).coef_  # [arms, d_model]
    q, _ = torch.linalg.qr(torch.as_tensor(coef.T, dtype=torch.float32))
    return q


@contextlib.contextmanager
def ablated(model: Any, layer: int, basis: Float[torch.Tensor, "d_model k"]) -> Iterator[Any]:
    """Inside the block, the output of decoder layer ``layer`` of ``model``'s Hugging Face network has its component
    in the span of ``basis`` removed at every position (a forward hook, removed on exit)."""
    from ...views import hf_view

    hf, _ = hf_view(model)
    layers = getattr(getattr(hf, "model", None), "layers", None)
    if layers is None:
        raise InvalidConfigError(f"{type(hf).__name__} has no model.layers: the belief ablation needs a decoder stack.")
    q = basis.to(next(hf.parameters()).dtype)

    def hook(module: Any, inputs: Any, output: Any) -> Any:
        hs = output[0] if isinstance(output, tuple) else output
        hs = hs - (hs @ q) @ q.T
        return (hs, *output[1:]) if isinstance(output, tuple) else hs

    handle = layers[layer].register_forward_hook(hook)
    try:
        yield model
    finally:
        handle.remove()


def ablation_regret(ctx: Context, basis: torch.Tensor) -> tuple[Estimate, Estimate, Estimate]:
    """RL greedy regret on ``config.n_bandits`` unseen bandits with the base's belief subspace ablated and with a
    random subspace of the same rank ablated, and their paired difference (> 0: RL relies on the base's
    belief directions more than on arbitrary ones)."""
    from ..incontext import regret_experiment
    from ..stats import paired_diff_ci

    c = ctx.config
    probs = regret_bandits(ctx)
    g = torch.Generator().manual_seed(c.seed + 11)
    rand, _ = torch.linalg.qr(torch.randn(basis.shape[0], basis.shape[1], generator=g))
    finals = {}
    for name, b in (("belief", basis), ("random", rand)):
        with ablated(ctx.pair.rl, ctx.layer, b):
            r = regret_experiment({"rl": ctx.pair.rl}, ctx.world, probs, modes=("greedy",), seed=c.seed,
                                  n_boot=c.n_boot)
        finals[name] = r.finals.sort_values("episode")
        finals[name] = finals[name][finals[name]["policy"] == "rl"]["final_regret"].to_numpy()
    lo, hi = paired_diff_ci(finals["belief"], finals["random"], n_boot=c.n_boot, seed=c.seed)
    mean = lambda v: Estimate(float(v.mean()))  # noqa: E731
    return (Estimate(float(finals["belief"].mean() - finals["random"].mean()), lo, hi,
                     f"{c.n_bandits} bandits, paired bootstrap"), mean(finals["belief"]), mean(finals["random"]))


def measure(ctx: Context) -> tuple[BeliefsMetrics | None, dict[str, pd.DataFrame]]:
    if ctx.world.name != "bandits":
        return None, {}
    ep = episodes(ctx)
    c = ctx.config
    rep = belief_probes({"base": ctx.pair.base, "rl": ctx.pair.rl}, ep["texts"], ep["targets"], ctx.layer, c.seed,
                        c.n_boot)
    g = rep.set_index("model")
    r2 = {k: Estimate(g.loc[k, "r2"], g.loc[k, "ci_lo"], g.loc[k, "ci_hi"])
          for k in ("base", "rl", "random_init", "token_counts")}
    res, diff = regret(ctx)
    t = res.table.set_index(["policy", "mode"])
    reg = lambda p, k: Estimate(t.loc[(p, k), "final_regret"], t.loc[(p, k), "ci_lo"], t.loc[(p, k), "ci_hi"])  # noqa: E731

    def paired(kind: str) -> Estimate:
        d = diff(res, ("rl", kind), ("base", kind), n_boot=c.n_boot, seed=c.seed)
        return Estimate(d["diff"], d["lo"], d["hi"], f"{c.n_bandits} bandits, paired bootstrap")

    effect, abl, abl_rand = ablation_regret(ctx, belief_subspace(ctx, ep["texts"], ep["targets"]))
    m = BeliefsMetrics(
        ablation_effect=effect, regret_rl_ablated=abl, regret_rl_random_ablated=abl_rand,
        r2_base=r2["base"], r2_rl=r2["rl"], r2_random_init=r2["random_init"], r2_token_counts=r2["token_counts"],
        base_minus_random=_gap(r2["base"], r2["random_init"]), rl_minus_random=_gap(r2["rl"], r2["random_init"]),
        regret_base=reg("base", "sampled"), regret_rl=reg("rl", "sampled"), regret_base_greedy=reg("base", "greedy"),
        regret_rl_greedy=reg("rl", "greedy"), regret_thompson=reg("thompson", "reference"),
        regret_random=reg("random", "reference"), d_regret=paired("sampled"), d_regret_greedy=paired("greedy"),
    )
    return m, {"belief_probes": rep}
