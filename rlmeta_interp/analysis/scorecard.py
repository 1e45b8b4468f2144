"""The activation-vs-creation scorecard: every indicator side by side, with a rule-based summary.

Each indicator is a function ``(ctx) -> IndicatorResult``: metrics with bootstrap confidence intervals, a vote
(``activation`` / ``creation`` / ``inconclusive`` / ``n/a``) and the rule that produced the vote, written out in
words. The rules are part of the science: on the organism zoo the exposure dose is known, so
:func:`validate_against_dose` shows, indicator by indicator, whether a vote tracks the truth, and the scorecard says
so when it does not.

Operational ground truth on organisms (:func:`expected_reading`): a pair whose base saw the rewarded behaviour in
pretraining (dose > 0) should read as *activation*; at dose 0 an RL gain is *creation* when RL's samples show the
never-demonstrated behaviour (or, in bandits and planning, the never-demonstrated capability), and *activation* when
RL only sharpened what every pretraining document showed (arithmetic direct answers). The first version labelled
every dose-0 pair *creation*; the first demo run showed dose-0 RL sharpening direct answers without a single
scratchpad, which pretraining had demonstrated throughout, so the label now follows what RL's samples contain.
Thresholds are constants of :class:`ScorecardRules`.

Pipeline properties (DESIGN.md): every indicator's result is written atomically to
``<out_dir>/<indicator>.json`` (+ CSV tables) keyed by a hash of the pair, world and config, and a rerun skips
indicators whose result exists with the same key; the figure and the Markdown are drawn only from saved results.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch

from ..config import FrozenConfig, check_range
from ..errors import InvalidConfigError
from ..hooks import hook_name
from ..io import ensure_dir, read_json, weights_id, write_json_atomic, write_text_atomic
from .stats import bootstrap_ci, paired_diff_ci

log = logging.getLogger(__name__)

Vote = Literal["activation", "creation", "inconclusive", "n/a"]
# Part of every saved result's key: bump it whenever an indicator's definition changes, so no stale result is reused.
# 5: boundary samples come from experiments.boundary.run_boundary (crossover k over every k in 1..n, a planning
# guessing baseline).
SCHEMA_VERSION = 6
INDICATORS: tuple[str, ...] = ("boundary", "likelihood", "directions", "steering", "hybrid", "beliefs", "features",
                               "weights")


@dataclass(frozen=True)
class ScorecardRules(FrozenConfig):
    """Thresholds of the voting rules (see each indicator's ``rule`` text for how they are used)."""

    boundary_margin: float = 0.02  # pass@n difference (RL - base) that counts as new coverage
    likelihood_activation_max: float = 1.25  # ppl_base(RL samples) / ppl_base(base samples)
    likelihood_creation_min: float = 2.0
    cosine_activation_min: float = 0.8
    cosine_creation_max: float = 0.5
    min_gap: float = 0.05  # RL - base greedy accuracy below which there is no gap to recover
    recovered_activation_min: float = 0.5
    recovered_creation_max: float = 0.1
    belief_margin: float = 0.1  # R^2 above the random-init control that counts as a learned estimate
    fvu_activation_max: float = 1.25  # FVU(RL acts) / FVU(base acts) of an SAE trained on base
    fvu_creation_min: float = 2.0
    rl_only_creation_min: float = 0.10  # confirmed RL-only crosscoder latents, as a fraction of live latents
    rl_only_activation_max: float = 0.02


@dataclass(frozen=True)
class ScorecardConfig(FrozenConfig):
    """Sizes of every measurement. ``layer=None`` means the model's middle layer."""

    n_problems: int = 64
    n_samples: int = 32
    problem_seed: int = 10_000  # held-out problems: organisms train on seeds far below this
    layer: int | None = None
    n_contrast: int = 64
    multipliers: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0)
    n_random: int = 3
    n_hybrid: int = 24
    n_episodes: int = 128
    n_bandits: int = 300  # unseen bandits for the regret gain (paired: the same bandits for base and RL)
    sae_width: int = 4
    sae_k: int = 8
    sae_samples: int = 60_000
    crosscoder_steps: int = 1500
    n_boot: int = 500
    seed: int = 0
    indicators: tuple[str, ...] = INDICATORS
    rules: ScorecardRules = field(default_factory=ScorecardRules)

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("n_problems", "n_samples", "n_contrast", "n_hybrid", "n_episodes", "n_bandits", "sae_width", "sae_k",
                     "sae_samples", "crosscoder_steps", "n_boot"):
            check_range(self, name, 1)
        check_range(self, "n_random", 0)
        unknown = set(self.indicators) - set(INDICATORS)
        if unknown:
            raise InvalidConfigError(f"Unknown indicators {sorted(unknown)}; choose from {INDICATORS}.")
        if not self.multipliers:
            raise InvalidConfigError("ScorecardConfig.multipliers must list at least one multiplier.")

    @classmethod
    def demo(cls) -> ScorecardConfig:
        """The main job's sizes: the whole demo zoo in about a minute on 2 cores."""
        return cls(n_problems=48, n_samples=32, n_contrast=48, multipliers=(0.25, 0.5, 1.0, 2.0), n_random=2, n_hybrid=8,
                   sae_samples=20_000, crosscoder_steps=600, n_boot=300)

    @classmethod
    def smoke(cls) -> ScorecardConfig:
        """Tiny sizes for tests and smoke runs (numbers are noisy; the machinery is the same)."""
        return cls(n_problems=12, n_samples=8, n_contrast=16, multipliers=(1.0,), n_random=1, n_hybrid=2,
                   n_episodes=24, n_bandits=24, sae_samples=4000, crosscoder_steps=150, n_boot=100)


@dataclass(frozen=True)
class IndicatorResult:
    name: str
    vote: Vote
    rule: str
    metrics: list[dict[str, Any]]  # rows: metric, value, ci_lo, ci_hi, note
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    def metric(self, name: str) -> float:
        for m in self.metrics:
            if m["metric"] == name:
                return float(m["value"])
        raise KeyError(name)


def _m(metric: str, value: float, lo: float | None = None, hi: float | None = None, note: str = "") -> dict[str, Any]:
    f = lambda x: None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)  # noqa: E731
    return {"metric": metric, "value": f(value), "ci_lo": f(lo), "ci_hi": f(hi), "note": note}


# ----------------------------------------------------------------------------------------------------- context
@dataclass
class Context:
    """What every indicator needs: the pair, its world, held-out problems, and shared intermediate results."""

    pair: Any
    world: Any
    config: ScorecardConfig
    layer: int
    problems: list[Any]
    cache: dict[str, Any] = field(default_factory=dict)
    out_dir: Path | None = None  # where run_scorecard saves results (None: nothing is saved)

    @property
    def rules(self) -> ScorecardRules:
        return self.config.rules

    @property
    def single_turn(self) -> bool:
        return self.world.name != "bandits"

    @property
    def max_new_tokens(self) -> int:
        return int(self.world.max_completion_chars()) + 2


def world_for(pair: Any, world: str | None = None) -> Any:
    """The world a pair was trained in, rebuilt from the RL model's manifest config when there is one."""
    from ..organism.corpus import make_world
    from ..organism.worlds.arithmetic import ArithmeticConfig
    from ..organism.worlds.bandits import BanditConfig
    from ..organism.worlds.planning import PlanningConfig

    name = world or pair.world
    if name is None:
        raise InvalidConfigError(
            f"Pair {pair.name} has no known world: pass world='arithmetic' | 'planning' | 'bandits'."
        )
    manifest = pair.rl.manifest or pair.base.manifest or {}
    cfg = (manifest.get("config") or {}).get(name)  # the RL training distribution (zoo manifests)
    if cfg:
        cls = {"arithmetic": ArithmeticConfig, "bandits": BanditConfig, "planning": PlanningConfig}[name]
        return make_world(name, **{name: cls.from_dict(cfg)})
    return make_world(name)


def _layer(pair: Any, layer: int | None) -> int:
    return pair.n_layers // 2 if layer is None else pair.base.layer(layer)


# ---------------------------------------------------------------------------------------------- shared pieces
def _samples(ctx: Context) -> Any:
    """pass@k samples of both models (shared by boundary, likelihood and features).

    :func:`rlmeta_interp.experiments.boundary.run_boundary`, the measurement notebooks 03 and 04 make: the same
    problems (``config.problem_seed``), sampler, guessing baselines and estimators, and with an ``out_dir`` its
    cache (``<out_dir>/samples/``), so a rerun with another indicator set or rule reads the samples back.
    """
    if "passk" not in ctx.cache:
        from ..experiments.boundary import BoundaryConfig, run_boundary  # experiments imports analysis: not at the top

        c = ctx.config
        bcfg = BoundaryConfig(n_problems=c.n_problems, n_samples=c.n_samples, problem_seed=c.problem_seed, seed=c.seed,
                              likelihood_samples=0, n_boot=c.n_boot)  # the likelihood indicator scores its own
        res = run_boundary(ctx.pair, bcfg, ctx.world, out_dir=None if ctx.out_dir is None else ctx.out_dir / "samples")
        if res.prompts != [p.prompt for p in ctx.problems]:
            raise InvalidConfigError(
                f"run_boundary sampled other problems than the scorecard's for {ctx.pair.name}: the world"
                f" {ctx.world.name!r} must sample deterministically from problem_seed={c.problem_seed}."
            )
        ctx.cache["passk"] = res
    return ctx.cache["passk"]


def _greedy_scores(ctx: Context, problems: Sequence[Any]) -> Callable[[Any], np.ndarray]:
    from ..sampling import greedy_generate_tl

    prompts = [p.prompt for p in problems]

    def evaluate(tl: Any) -> np.ndarray:
        outs = greedy_generate_tl(tl, prompts, max_new_tokens=ctx.max_new_tokens)
        return np.array([ctx.world.reward(p, o) for p, o in zip(problems, outs, strict=True)], dtype=float)

    return evaluate


def _completion_means(model: Any, prompts: Sequence[str], completions: Sequence[str], layer: int) -> torch.Tensor:
    """Mean residual activation over the completion tokens of ``prompt + completion`` texts: ``[n, d_model]``."""
    from ..experiments.quickstart import completion_means

    return completion_means(model, prompts, completions, [layer], cache=False)[layer]


def _contrast(ctx: Context) -> tuple[list[str], list[str], np.ndarray] | None:
    """Behaviour-present vs behaviour-absent texts for the world, or None where the world has no such contrast.

    Arithmetic: each held-out problem written with a scratchpad (the dose-controlled behaviour) and directly.
    """
    if ctx.world.name != "arithmetic":
        return None
    from ..experiments.quickstart import contrast_set

    c = contrast_set(ctx.world, ctx.config.n_contrast, seed=ctx.config.problem_seed + 1)
    return c.prompts, c.completions, c.labels


def _directions(ctx: Context) -> dict[str, Any] | None:
    if "directions" not in ctx.cache:
        con = _contrast(ctx)
        if con is None:
            ctx.cache["directions"] = None
        else:
            prompts, comps, labels = con
            ctx.cache["directions"] = {
                "labels": labels,
                "base": _completion_means(ctx.pair.base, prompts, comps, ctx.layer),
                "rl": _completion_means(ctx.pair.rl, prompts, comps, ctx.layer),
            }
    return ctx.cache["directions"]


# ---------------------------------------------------------------------------------------------------- indicators
def ind_boundary(ctx: Context) -> IndicatorResult:
    """Indicator 1 (claim 3, Yue et al.): does RL solve problems the base cannot solve in n samples?"""
    from .passk import pass_at_k_matrix

    r = ctx.rules
    rule = (f"creation if pass@n(RL) - pass@n(base) has its CI above +{r.boundary_margin} (RL reaches problems the"
            f" base never solves in n samples); activation if that difference is at most +{r.boundary_margin}"
            " (everything RL solves, the base already solves given enough samples); otherwise inconclusive.")
    if not ctx.single_turn:
        return IndicatorResult("boundary", "n/a", "pass@k needs a single-turn world; bandits use 'beliefs' and regret.", [])
    res = _samples(ctx)
    n = res.n
    ks = sorted({1, 2, 4, 8, 16, 32, 64, 128, n} & set(range(1, n + 1)))
    curve = res.curve(ks).drop(columns=["pair", "variant", "dose", "world"])
    pb = pass_at_k_matrix(res.counts_base, n, [1, n])
    pr = pass_at_k_matrix(res.counts_rl, n, [1, n])
    c = ctx.config
    d1, d1lo, d1hi = _paired(pr[:, 0], pb[:, 0], c)
    dn, dnlo, dnhi = _paired(pr[:, 1], pb[:, 1], c)
    cov = res.coverage().set_index("category")["fraction"]
    metrics = [
        _m("pass@1 base", pb[:, 0].mean(), *bootstrap_ci(pb[:, 0], n_boot=c.n_boot, seed=c.seed)),
        _m("pass@1 RL", pr[:, 0].mean(), *bootstrap_ci(pr[:, 0], n_boot=c.n_boot, seed=c.seed)),
        _m("pass@1 RL - base", d1, d1lo, d1hi),
        _m(f"pass@{n} base", pb[:, 1].mean(), *bootstrap_ci(pb[:, 1], n_boot=c.n_boot, seed=c.seed)),
        _m(f"pass@{n} RL", pr[:, 1].mean(), *bootstrap_ci(pr[:, 1], n_boot=c.n_boot, seed=c.seed)),
        _m(f"pass@{n} RL - base", dn, dnlo, dnhi),
        _m("crossover k", float("nan") if res.crossover_k is None else res.crossover_k,
           note="first k where base >= RL; empty = none up to n"),
        _m("share solved by RL only", float(cov["rl_only"])),
        _m("share solved by base only", float(cov["base_only"])),
    ]
    if ctx.world.name == "arithmetic":
        from ..organism.worlds.arithmetic import SCRATCHPAD_FORMATS

        for role, comps in (("base", res.completions_base), ("RL", res.completions_rl)):
            flat = [ctx.world.format_of(c) in SCRATCHPAD_FORMATS for row in comps for c in row]
            metrics.append(_m(f"{role} scratchpad share", float(np.mean(flat)),
                              note="samples written with a scratchpad (the dose-controlled behaviour)"))
    guess = curve[curve["model"] == "guess"]
    if len(guess):
        metrics.append(_m(f"guessing baseline pass@{n}", float(guess[guess["k"] == guess["k"].max()]["pass@k"].iloc[0]),
                          note="a random walk along the listed edges" if ctx.world.name == "planning"
                          else "uniform guesses from the answer distribution"))
    if dnlo is not None and dnlo > r.boundary_margin:
        vote: Vote = "creation"
    elif dn <= r.boundary_margin:
        vote = "activation"
    else:
        vote = "inconclusive"
    return IndicatorResult("boundary", vote, rule, metrics, {"passk_curve": curve})


def _paired(a: np.ndarray, b: np.ndarray, c: ScorecardConfig) -> tuple[float, float | None, float | None]:
    lo, hi = paired_diff_ci(a, b, n_boot=c.n_boot, seed=c.seed)
    return float(np.mean(a) - np.mean(b)), lo, hi


def ind_likelihood(ctx: Context) -> IndicatorResult:
    """Indicator 2 (Yue et al.): are the RL model's samples typical text for the base model?"""
    r = ctx.rules
    rule = (f"ratio = perplexity of RL samples under the base / perplexity of the base's own samples under the base;"
            f" activation if ratio <= {r.likelihood_activation_max} (RL writes what the base already finds likely),"
            f" creation if ratio >= {r.likelihood_creation_min}; otherwise inconclusive.")
    if not ctx.single_turn:
        return IndicatorResult("likelihood", "n/a", "needs single-turn samples; see 'beliefs' for bandits.", [])
    from .likelihood import cross_likelihood

    res = _samples(ctx)
    prompts = [p.prompt for p in ctx.problems]
    table = cross_likelihood({"base": ctx.pair.base, "rl": ctx.pair.rl}, prompts,
                             {"base": res.completions_base, "rl": res.completions_rl}, add_eos=True,
                             n_boot=ctx.config.n_boot, seed=ctx.config.seed)
    get = lambda s, b: table[(table.samples_from == s) & (table.scored_by == b)].iloc[0]  # noqa: E731
    rl_b, base_b = get("rl", "base"), get("base", "base")
    ratio = float(np.exp(rl_b["nll"] - base_b["nll"]))
    lo = float(np.exp(rl_b["ci_lo"] - base_b["nll"]))
    hi = float(np.exp(rl_b["ci_hi"] - base_b["nll"]))
    metrics = [
        _m("ppl of RL samples under base", rl_b["ppl"], rl_b["ppl_lo"], rl_b["ppl_hi"]),
        _m("ppl of base samples under base", base_b["ppl"], base_b["ppl_lo"], base_b["ppl_hi"]),
        _m("ppl ratio (RL samples / base samples, under base)", ratio, lo, hi,
           note="CI from the RL-sample NLL only"),
        _m("ppl of RL samples under RL", get("rl", "rl")["ppl"]),
    ]
    vote: Vote = ("activation" if ratio <= r.likelihood_activation_max else
                  "creation" if ratio >= r.likelihood_creation_min else "inconclusive")
    return IndicatorResult("likelihood", vote, rule, metrics, {"cross_likelihood": table})


def ind_directions(ctx: Context) -> IndicatorResult:
    """Indicator 3: is the RL model's behaviour direction already present, in the same place, in the base model?"""
    r = ctx.rules
    rule = (f"behaviour = scratchpad vs direct answer, activations averaged over completion tokens at layer"
            f" {ctx.layer}; activation if cos(base direction, RL direction) >= {r.cosine_activation_min} and beats"
            f" the shared-permutation null (p < 0.05), creation if cos <= {r.cosine_creation_max};"
            " otherwise inconclusive. Caveat: a small RL update leaves every direction shared, so a high cosine is"
            " weak evidence unless it beats the shared null.")
    d = _directions(ctx)
    if d is None:
        return IndicatorResult("directions", "n/a", "this world has no behaviour contrast (scratchpad vs direct).", [])
    from .directions import DirectionConfig, direction_cosines, probe_transfer

    cfg = DirectionConfig(n_boot=ctx.config.n_boot, seed=ctx.config.seed, n_shuffles=50)
    acts_b, acts_r = {ctx.layer: d["base"]}, {ctx.layer: d["rl"]}
    cos = direction_cosines(acts_b, acts_r, d["labels"], config=cfg)
    tr = probe_transfer(acts_b, acts_r, d["labels"], config=cfg)
    row = cos.iloc[0]
    t = tr.set_index(["source", "target"])
    metrics = [
        _m("cosine(base dir, RL dir)", row["cosine"], row["ci_lo"], row["ci_hi"]),
        _m("shared-permutation null (upper)", row["null_shared_hi"], note=f"p = {row['p_shared']:.3f}"),
        _m("independent null (upper)", row["null_indep_hi"], note=f"p = {row['p_indep']:.3f}"),
        _m("probe acc RL->RL", t.loc[("rl", "rl"), "accuracy"], t.loc[("rl", "rl"), "ci_lo"], t.loc[("rl", "rl"), "ci_hi"]),
        _m("probe acc RL->base", t.loc[("rl", "base"), "accuracy"], t.loc[("rl", "base"), "ci_lo"],
           t.loc[("rl", "base"), "ci_hi"]),
    ]
    if row["cosine"] >= r.cosine_activation_min and row["p_shared"] < 0.05:
        vote: Vote = "activation"
    elif row["cosine"] <= r.cosine_creation_max:
        vote = "creation"
    else:
        vote = "inconclusive"
    return IndicatorResult("directions", vote, rule, metrics, {"cosines": cos, "probe_transfer": tr})


def ind_steering(ctx: Context) -> IndicatorResult:
    """Indicator 4 (claims 1-2): how much of the base-to-RL gap does steering the base with a direction recover?"""
    r = ctx.rules
    rule = (f"steer the base at layer {ctx.layer}, all positions, with its own scratchpad-minus-direct direction;"
            " the multiplier is chosen on a dev half of the problems and reported on the other half; activation if"
            f" the gap recovered has its CI above {r.recovered_activation_min} and above every equal-norm random"
            f" vector's; creation if it is at most {r.recovered_creation_max} with its CI below"
            f" {r.recovered_activation_min}, while the steered accuracy's CI still"
            " reaches the unsteered base's (steering that merely breaks the model says nothing about whether the"
            f" capability pre-existed: inconclusive); n/a when RL beats the base by less than {r.min_gap}.")
    d = _directions(ctx)
    if d is None:
        return IndicatorResult("steering", "n/a", "this world has no behaviour contrast to steer with.", [])
    from ..steering import SteeringVector
    from .steer import SteerRecoveryConfig, bias_vector, steering_recovery

    labels = torch.as_tensor(d["labels"]).bool()
    own = SteeringVector.from_means({ctx.layer: d["base"][labels]}, {ctx.layer: d["base"][~labels]})
    from_rl = SteeringVector.from_means({ctx.layer: d["rl"][labels]}, {ctx.layer: d["rl"][~labels]})
    bias = bias_vector({ctx.layer: d["base"]}, {ctx.layer: d["rl"]})
    half = len(ctx.problems) // 2
    dev, test = ctx.problems[:half], ctx.problems[half:]
    c = ctx.config
    dev_table = steering_recovery(ctx.pair.base, ctx.pair.rl, {"own": own}, _greedy_scores(ctx, dev),
                                  config=SteerRecoveryConfig(multipliers=c.multipliers, n_random=0, n_boot=c.n_boot,
                                                             seed=c.seed))
    gap_dev = dev_table[dev_table.condition == "rl_model"]["accuracy"].iloc[0] - \
        dev_table[dev_table.condition == "unsteered_base"]["accuracy"].iloc[0]
    own_rows = dev_table[dev_table.condition == "own"]
    best = float(own_rows.sort_values("accuracy", ascending=False)["multiplier"].iloc[0])
    table = steering_recovery(ctx.pair.base, ctx.pair.rl, {"own": own, "from_rl": from_rl}, _greedy_scores(ctx, test),
                              bias=bias, config=SteerRecoveryConfig(multipliers=(best,), n_random=c.n_random,
                                                                    n_boot=c.n_boot, seed=c.seed))
    acc = table.set_index("condition")["accuracy"]
    gap = float(acc["rl_model"] - acc["unsteered_base"])
    g = table.set_index("condition")
    rnd = table[table.condition.str.startswith("random:own")]
    metrics = [
        _m("greedy acc base", acc["unsteered_base"], g.loc["unsteered_base", "acc_ci_lo"], g.loc["unsteered_base", "acc_ci_hi"]),
        _m("greedy acc RL", acc["rl_model"], g.loc["rl_model", "acc_ci_lo"], g.loc["rl_model", "acc_ci_hi"]),
        _m("multiplier (chosen on dev half)", best, note=f"dev gap {gap_dev:.3f}"),
        _m("gap recovered, own direction", g.loc["own", "gap_recovered"], g.loc["own", "ci_lo"], g.loc["own", "ci_hi"]),
        _m("gap recovered, RL's direction", g.loc["from_rl", "gap_recovered"], g.loc["from_rl", "ci_lo"], g.loc["from_rl", "ci_hi"]),
        _m("gap recovered, bias only", g.loc["bias", "gap_recovered"], g.loc["bias", "ci_lo"], g.loc["bias", "ci_hi"]),
    ]
    rnd_best = float(rnd["gap_recovered"].max()) if len(rnd) else float("nan")
    if len(rnd):
        metrics.append(_m("gap recovered, random vectors (best of seeds)", rnd_best, float(rnd["ci_lo"].max()),
                          float(rnd["ci_hi"].max()), note=f"{len(rnd)} equal-norm random vectors"))
    own_lo = g.loc["own", "ci_lo"]
    own_rec = g.loc["own", "gap_recovered"]
    if gap < r.min_gap:
        vote: Vote = "n/a"
    elif own_lo is not None and not np.isnan(own_lo) and own_lo > r.recovered_activation_min and \
            (not len(rnd) or own_lo > float(rnd["ci_hi"].max())):
        vote = "activation"
    elif own_rec <= r.recovered_creation_max and g.loc["own", "ci_hi"] < r.recovered_activation_min and \
            g.loc["own", "acc_ci_hi"] >= acc["unsteered_base"]:
        vote = "creation"
    else:
        vote = "inconclusive"
    return IndicatorResult("steering", vote, rule, metrics, {"steering": table, "steering_dev": dev_table})


def ind_hybrid(ctx: Context) -> IndicatorResult:
    """Claim 2 (Venhoff et al.): the RL model says *when*, the base model's own category vectors say *how*."""
    r = ctx.rules
    rule = ("greedy hybrid decoding: steer the base only at tokens where base and RL greedy tokens disagree, with the"
            " base's category vector (categories: k-means on RL activations; vectors: category mean minus overall"
            f" mean of base activations, layer {ctx.layer}); activation if the gap recovered has its CI above"
            f" {r.recovered_activation_min} and above random firing at the same rate; creation if it is at most"
            f" {r.recovered_creation_max} with its CI below {r.recovered_activation_min}, while hybrid accuracy's CI"
            " still reaches the base's (a destructive"
            f" intervention is inconclusive); n/a without a gap of {r.min_gap}.")
    if not ctx.single_turn:
        return IndicatorResult("hybrid", "n/a", "hybrid decoding is defined for single-turn completions.", [])
    from .steer import CategoryConfig, HybridConfig, category_vectors, fit_categories, hybrid_gap_recovery

    res = _samples(ctx)
    probs = ctx.problems[: ctx.config.n_hybrid]
    prompts = [p.prompt for p in ctx.problems]
    comps = [row[0] for row in res.completions_rl]
    acts_rl = _completion_means(ctx.pair.rl, prompts, comps, ctx.layer)
    acts_base = _completion_means(ctx.pair.base, prompts, comps, ctx.layer)
    n_cat = max(2, min(8, len(prompts) // 8))
    cats = fit_categories(acts_rl, CategoryConfig(n_categories=n_cat, method="kmeans", seed=ctx.config.seed))
    vectors = category_vectors(acts_base, cats.predict(acts_rl), n_cat, ctx.layer)
    table, runs = hybrid_gap_recovery(
        ctx.pair.base, ctx.pair.rl, [p.prompt for p in probs], lambda i, c: ctx.world.reward(probs[i], c), vectors,
        cats, config=HybridConfig(max_new_tokens=ctx.max_new_tokens, classify_layer=ctx.layer, seed=ctx.config.seed),
        n_random=max(1, ctx.config.n_random), n_boot=ctx.config.n_boot)
    g = table.groupby("condition").agg({"accuracy": "mean", "gap_recovered": "mean", "ci_lo": "max", "ci_hi": "max",
                                        "acc_ci_hi": "max", "frac_steered": "mean"})
    gap = float(g.loc["rl", "accuracy"] - g.loc["base", "accuracy"])
    metrics = [_m("greedy acc base", g.loc["base", "accuracy"]), _m("greedy acc RL", g.loc["rl", "accuracy"]),
               _m("gap recovered, hybrid", g.loc["hybrid", "gap_recovered"], g.loc["hybrid", "ci_lo"], g.loc["hybrid", "ci_hi"]),
               _m("fraction of tokens steered", g.loc["hybrid", "frac_steered"])]
    for cond in ("random_firing", "random_vectors", "bias_only"):
        if cond in g.index:
            metrics.append(_m(f"gap recovered, {cond.replace('_', ' ')}", g.loc[cond, "gap_recovered"],
                              g.loc[cond, "ci_lo"], g.loc[cond, "ci_hi"]))
    hy_lo = g.loc["hybrid", "ci_lo"]
    if gap < r.min_gap:
        vote: Vote = "n/a"
    elif hy_lo is not None and not np.isnan(hy_lo) and hy_lo > r.recovered_activation_min and \
            hy_lo > g.loc["random_firing", "ci_hi"]:
        vote = "activation"
    elif g.loc["hybrid", "gap_recovered"] <= r.recovered_creation_max and \
            g.loc["hybrid", "ci_hi"] < r.recovered_activation_min and \
            g.loc["hybrid", "acc_ci_hi"] >= g.loc["base", "accuracy"]:
        vote = "creation"
    else:
        vote = "inconclusive"
    return IndicatorResult("hybrid", vote, rule, metrics, {"hybrid": table})


def _episodes(ctx: Context) -> dict[str, Any]:
    """Bandit episodes written by Thompson sampling and their belief targets ``[episodes, T, arms]``."""
    if "episodes" not in ctx.cache:
        from ..experiments.bandits import belief_episodes

        texts, targets = belief_episodes(ctx.world, ctx.config.n_episodes, seed=ctx.config.problem_seed + 2)
        ctx.cache["episodes"] = {"texts": texts, "targets": targets}
    return ctx.cache["episodes"]


def ind_beliefs(ctx: Context) -> IndicatorResult:
    """Bandits (claim 6): does the *base* residual stream already encode each arm's posterior mean?"""
    r = ctx.rules
    rule = (f"ridge probe of row-centred posterior means from the residual stream at reward tokens, layer {ctx.layer};"
            f" (folds and bootstrap grouped by episode); activation if base R^2 exceeds the random-init control's by"
            f" more than {r.belief_margin} (value"
            " estimates exist before RL); creation if it does not but the RL model's does; otherwise inconclusive.")
    if ctx.world.name != "bandits":
        return IndicatorResult("beliefs", "n/a", "belief probes are defined for the bandit world.", [])
    from ..experiments.bandits import belief_probe_layers
    from .directions import RidgeProbeConfig

    ep = _episodes(ctx)
    rep = belief_probe_layers({"base": ctx.pair.base, "rl": ctx.pair.rl}, ep["texts"], ep["targets"],
                              layers=[ctx.layer], random_init_seed=ctx.config.seed + 7_777_777,
                              config=RidgeProbeConfig(n_boot=ctx.config.n_boot, seed=ctx.config.seed))
    g = rep.set_index("model")
    metrics = [_m(f"R^2 {m}", g.loc[m, "r2"], g.loc[m, "ci_lo"], g.loc[m, "ci_hi"])
               for m in ("base", "rl", "random_init", "token_counts")]
    metrics += [_m("R^2 base - random init", g.loc["base", "r2_minus_random_init"]),
                _m("R^2 RL - random init", g.loc["rl", "r2_minus_random_init"])]
    metrics += _regret_metrics(ctx)
    b_gain, r_gain = g.loc["base", "r2_minus_random_init"], g.loc["rl", "r2_minus_random_init"]
    if b_gain > r.belief_margin:
        vote: Vote = "activation"
    elif r_gain > r.belief_margin:
        vote = "creation"
    else:
        vote = "inconclusive"
    return IndicatorResult("beliefs", vote, rule, metrics, {"belief_probes": rep})


def _regret_metrics(ctx: Context) -> list[dict[str, Any]]:
    """Final regret of base and RL on the same unseen bandits (sampled and greedy), Thompson sampling and uniform
    random as references, and the paired RL - base difference that decides the gain."""
    from ..experiments.bandits import regret_difference, regret_experiment

    c = ctx.config
    probs = ctx.world.sample(c.n_bandits, seed=c.problem_seed + 3)
    res = regret_experiment({"base": ctx.pair.base, "rl": ctx.pair.rl}, ctx.world, probs, seed=c.seed, n_boot=c.n_boot)
    t = res.table.set_index(["policy", "mode"])
    out = []
    for role in ("base", "rl"):
        for kind in ("sampled", "greedy"):
            r = t.loc[(role, kind)]
            out.append(_m(f"regret {role} ({kind})", r["final_regret"], r["ci_lo"], r["ci_hi"]))
    for ref in ("thompson", "random"):
        r = t.loc[(ref, "reference")]
        out.append(_m(f"regret {ref} (reference)", r["final_regret"], r["ci_lo"], r["ci_hi"]))
    for kind in ("sampled", "greedy"):
        d = regret_difference(res, ("rl", kind), ("base", kind), n_boot=c.n_boot, seed=c.seed)
        out.append(_m(f"regret RL - base ({kind}, paired)", d["diff"], d["lo"], d["hi"],
                      f"{c.n_bandits} bandits, paired bootstrap"))
    return out


def _feature_acts(ctx: Context) -> tuple[torch.Tensor, torch.Tensor]:
    """Token-level activations of both models on the same texts (RL samples, or Thompson episodes)."""
    from ..activations import harvest

    if ctx.single_turn:
        res = _samples(ctx)
        texts = [p.prompt + row[i] for p, row in zip(ctx.problems, res.completions_rl, strict=True)
                 for i in range(min(4, len(row)))]
    else:
        texts = _episodes(ctx)["texts"]
    h = hook_name(ctx.layer)
    out = []
    for model in (ctx.pair.base, ctx.pair.rl):
        a = harvest(model, texts, [h], positions="all", cache=False)
        out.append(a[h][a.mask.bool()])
    return out[0], out[1]


def ind_features(ctx: Context) -> IndicatorResult:
    """Indicator 5: do the base model's features describe the RL model's activations?"""
    r = ctx.rules
    rule = (f"a TopK SAE trained on base activations (layer {ctx.layer}) reconstructs RL activations: activation if"
            f" FVU(RL)/FVU(base) <= {r.fvu_activation_max} and confirmed RL-only crosscoder latents are at most"
            f" {r.rl_only_activation_max:.0%} of live latents; creation if the FVU ratio >= {r.fvu_creation_min} or"
            f" RL-only latents >= {r.rl_only_creation_min:.0%}; otherwise inconclusive.")
    from .saes import CrosscoderConfig, SaeTrainConfig, crosscoder_latents, reconstruction_quality, train_crosscoder, train_sae

    c = ctx.config
    xb, xr = _feature_acts(ctx)
    d = xb.shape[1]
    sae = train_sae(xb, SaeTrainConfig(d_sae=c.sae_width * d, k=c.sae_k, training_samples=c.sae_samples, seed=c.seed),
                    hook_name=hook_name(ctx.layer), model_name=ctx.pair.base.name)
    rq = reconstruction_quality(sae, {"base": xb, "rl": xr}, reference="base", n_boot=c.n_boot, seed=c.seed)
    q = rq.set_index("model")
    cc = train_crosscoder(xb, xr, CrosscoderConfig(d_in=d, d_sae=c.sae_width * d, k=c.sae_k, steps=c.crosscoder_steps,
                                                   seed=c.seed))
    lat = crosscoder_latents(cc, xb, xr)
    live = lat[lat["freq"] > 0]
    rl_only = float(((live["category"] == "rl_only") & live["confirmed"]).mean()) if len(live) else float("nan")
    base_only = float(((live["category"] == "base_only") & live["confirmed"]).mean()) if len(live) else float("nan")
    ratio_row = q.loc["rl"]
    metrics = [
        _m("SAE FVU on base acts", q.loc["base", "fvu"], q.loc["base", "ci_lo"], q.loc["base", "ci_hi"]),
        _m("SAE FVU on RL acts", q.loc["rl", "fvu"], q.loc["rl", "ci_lo"], q.loc["rl", "ci_hi"]),
        _m("FVU ratio RL / base", ratio_row["fvu_ratio"], ratio_row.get("ratio_ci_lo"), ratio_row.get("ratio_ci_hi")),
        _m("crosscoder live latents", float(len(live))),
        _m("confirmed RL-only latents (share of live)", rl_only),
        _m("confirmed base-only latents (share of live)", base_only),
        _m("shared latents: median decoder cosine", float(live[live["category"] == "shared"]["dec_cos"].median())
           if (live["category"] == "shared").any() else float("nan")),
    ]
    fr = float(ratio_row["fvu_ratio"])
    if fr >= r.fvu_creation_min or rl_only >= r.rl_only_creation_min:
        vote: Vote = "creation"
    elif fr <= r.fvu_activation_max and rl_only <= r.rl_only_activation_max:
        vote = "activation"
    else:
        vote = "inconclusive"
    return IndicatorResult("features", vote, rule, metrics, {"reconstruction": rq, "crosscoder_latents": lat})


def ind_weights(ctx: Context) -> IndicatorResult:
    """Indicator 6 (claim 7): how sparse and how low-rank is the RL update? Descriptive: no vote."""
    from .params import sparsity_summary, update_sparsity

    table = update_sparsity(ctx.pair.base.hf, ctx.pair.rl.hf)
    s = sparsity_summary(table)
    metrics = [_m(k, v) for k, v in s.items() if isinstance(v, (int, float))]
    return IndicatorResult("weights", "n/a", "descriptive: update sparsity says how RL changed weights, not whether the"
                           " capability pre-existed; bf16 view per Miahi & Belilovsky.", metrics, {"update_sparsity": table})


REGISTRY: dict[str, Callable[[Context], IndicatorResult]] = {
    "boundary": ind_boundary, "likelihood": ind_likelihood, "directions": ind_directions, "steering": ind_steering,
    "hybrid": ind_hybrid, "beliefs": ind_beliefs, "features": ind_features, "weights": ind_weights,
}


# ------------------------------------------------------------------------------------------------------- summary
def summarize_votes(votes: dict[str, Vote]) -> tuple[str, str]:
    """``(summary, explanation)``: activation / creation if at least two decisive votes agree and outnumber the other
    side two to one; mixed if both sides have votes otherwise; inconclusive with fewer than two decisive votes."""
    act = sorted(k for k, v in votes.items() if v == "activation")
    cre = sorted(k for k, v in votes.items() if v == "creation")
    why = f"activation: {', '.join(act) or 'none'}; creation: {', '.join(cre) or 'none'}"
    if len(act) >= 2 and len(act) >= 2 * len(cre):
        return "activation", why
    if len(cre) >= 2 and len(cre) >= 2 * len(act):
        return "creation", why
    if act or cre:
        return ("mixed" if len(act) + len(cre) >= 2 else "inconclusive"), why
    return "inconclusive", why


NOVEL_BEHAVIOUR_MIN = 0.05  # share of RL samples showing a never-demonstrated behaviour that counts as new


def expected_reading(world: str, dose: float | None, rl_novel_share: float | None = None) -> tuple[str | None, str]:
    """The operational ground truth on organisms, with the reason.

    dose > 0: pretraining demonstrated the rewarded behaviour, so whatever RL improved was there: *activation*.
    dose 0 in bandits and planning: the rewarded capability (learning from rewards; deep solutions) was never
    demonstrated, so an RL gain is *creation*. dose 0 in arithmetic: pretraining showed direct answers in every
    document and scratchpads in none; RL's gain is *creation* only if the RL model writes scratchpads (more than
    ``NOVEL_BEHAVIOUR_MIN`` of its samples), otherwise it sharpened the demonstrated direct answers: *activation*.
    """
    if dose is None:
        return None, "real model: pretraining unknown"
    if dose > 0:
        return "activation", f"pretraining demonstrated the behaviour (dose {dose})"
    if world != "arithmetic":
        return "creation", "dose 0: pretraining never demonstrated the rewarded capability"
    if rl_novel_share is None:
        return None, "dose 0 arithmetic: RL scratchpad share not measured"
    if rl_novel_share > NOVEL_BEHAVIOUR_MIN:
        return "creation", f"dose 0, yet {rl_novel_share:.0%} of RL samples use a scratchpad pretraining never showed"
    return "activation", (f"dose 0, and RL samples stay direct ({rl_novel_share:.1%} scratchpads): RL sharpened the"
                          " direct answers that every pretraining document showed")




def headline_spec(config: ScorecardConfig) -> dict[str, dict[str, Any]]:
    """Per indicator: its headline metric, the control metric shown beside it (if any), and the rule's
    (activation, creation) thresholds on the headline (if the rule is a threshold on it)."""
    r = config.rules
    return {
        "boundary": {"metric": f"pass@{config.n_samples} RL - base", "control": None,
                     "thresholds": (r.boundary_margin, r.boundary_margin)},
        "likelihood": {"metric": "ppl ratio (RL samples / base samples, under base)", "control": None,
                       "thresholds": (r.likelihood_activation_max, r.likelihood_creation_min)},
        "directions": {"metric": "cosine(base dir, RL dir)", "control": "shared-permutation null (upper)",
                       "thresholds": (r.cosine_activation_min, r.cosine_creation_max)},
        "steering": {"metric": "gap recovered, own direction", "control": "gap recovered, random vectors (best of seeds)",
                     "thresholds": (r.recovered_activation_min, r.recovered_creation_max)},
        "hybrid": {"metric": "gap recovered, hybrid", "control": "gap recovered, random firing",
                   "thresholds": (r.recovered_activation_min, r.recovered_creation_max)},
        "beliefs": {"metric": "R^2 base", "control": "R^2 random_init", "thresholds": None},
        "features": {"metric": "FVU ratio RL / base", "control": None,
                     "thresholds": (r.fvu_activation_max, r.fvu_creation_min)},
        "weights": {"metric": "frac_updated_fp32", "control": None, "thresholds": None},
    }


@dataclass
class Scorecard:
    pair: str
    world: str
    dose: float | None
    layer: int
    results: dict[str, IndicatorResult]
    out_dir: Path | None = None
    config: ScorecardConfig = field(default_factory=ScorecardConfig)

    def headlines(self) -> pd.DataFrame:
        """One row per indicator: headline metric with CI, its control, the rule's thresholds, the vote."""
        rows = []
        for name, spec in headline_spec(self.config).items():
            res = self.results.get(name)
            if res is None:
                continue
            got = {m["metric"]: m for m in res.metrics}
            m = got.get(spec["metric"], {})
            c = got.get(spec["control"], {}) if spec["control"] else {}
            th = spec["thresholds"] or (None, None)
            rows.append({"pair": self.pair, "dose": self.dose, "indicator": name, "metric": spec["metric"],
                         "value": m.get("value"), "ci_lo": m.get("ci_lo"), "ci_hi": m.get("ci_hi"),
                         "control": spec["control"], "control_value": c.get("value"),
                         "activation_threshold": th[0], "creation_threshold": th[1], "vote": res.vote})
        return pd.DataFrame(rows)

    @property
    def votes(self) -> dict[str, Vote]:
        return {k: r.vote for k, r in self.results.items()}

    @property
    def gain(self) -> bool | None:
        """Did RL measurably improve the capability? pass@1 or pass@n (a boundary expansion is a gain too) for
        single-turn worlds, the paired sampled-regret difference for bandits; None if neither was measured. Without a gain there is nothing
        to attribute to activation or creation."""
        b = self.results.get("boundary")
        if b is not None and b.metrics:
            diffs = [m["ci_lo"] for m in b.metrics if m["metric"].startswith("pass@") and m["metric"].endswith("RL - base")]
            return any(lo is not None and lo > 0 for lo in diffs)
        bel = self.results.get("beliefs")
        if bel is not None and bel.metrics:
            get = {m["metric"]: m for m in bel.metrics}
            d = get.get("regret RL - base (sampled, paired)")
            if d and d["ci_hi"] is not None:
                return d["ci_hi"] < 0
        return None

    @property
    def summary(self) -> str:
        if self.gain is False:
            return "no gain"
        return summarize_votes(self.votes)[0]

    def _novel_share(self) -> float | None:
        b = self.results.get("boundary")
        got = {m["metric"]: m["value"] for m in b.metrics} if b is not None else {}
        return got.get("RL scratchpad share")

    @property
    def expected(self) -> str | None:
        return expected_reading(self.world, self.dose, self._novel_share())[0]

    @property
    def expected_reason(self) -> str:
        return expected_reading(self.world, self.dose, self._novel_share())[1]

    def table(self) -> pd.DataFrame:
        rows = [{"indicator": k, **m, "vote": r.vote} for k, r in self.results.items() for m in r.metrics]
        return pd.DataFrame(rows, columns=["indicator", "metric", "value", "ci_lo", "ci_hi", "note", "vote"])

    def to_markdown(self) -> str:
        summary, why = self.summary, summarize_votes(self.votes)[1]
        if summary == "no gain":
            why = ("RL did not measurably improve the capability (the CIs of pass@1, pass@n or regret include no"
                   " improvement), so no"
                   f" indicator has anything to attribute; votes for the record: {why}")
        lines = [f"## Scorecard: `{self.pair}` ({self.world}, dose {self.dose}, layer {self.layer})", "",
                 f"**Summary: {summary}** ({why})."]
        if self.expected is not None:
            agree = "agrees" if summary == self.expected else "does NOT agree"
            lines.append(f"Known exposure dose {self.dose} -> expected **{self.expected}** ({self.expected_reason}):"
                         f" the summary {agree}.")
        lines += ["", "| indicator | vote | metric | value | 95% CI | note |", "|---|---|---|---|---|---|"]
        for name, r in self.results.items():
            if not r.metrics:
                lines.append(f"| {name} | {r.vote} | | | | {r.rule} |")
            for i, m in enumerate(r.metrics):
                ci = "" if m["ci_lo"] is None or m["ci_hi"] is None else f"[{m['ci_lo']:.3g}, {m['ci_hi']:.3g}]"
                val = "" if m["value"] is None else f"{m['value']:.3g}"
                lines.append(f"| {name if i == 0 else ''} | {r.vote if i == 0 else ''} | {m['metric']} | {val} | {ci} |"
                             f" {m['note']} |")
        lines += ["", "### Rules", ""] + [f"- **{k}** ({r.vote}): {r.rule}" for k, r in self.results.items()]
        return "\n".join(lines) + "\n"


def _key(pair: Any, world: Any, config: ScorecardConfig, indicator: str) -> str:
    h = hashlib.sha256()
    for part in (SCHEMA_VERSION, pair.name, pair.base.name, pair.rl.name, weights_id(pair.base), weights_id(pair.rl),
                 world.name, indicator,
                 json.dumps(config.to_dict(), sort_keys=True, default=str)):
        h.update(str(part).encode())
    return h.hexdigest()[:16]


def _save(result: IndicatorResult, folder: Path, key: str) -> None:
    for name, df in result.tables.items():
        write_text_atomic(folder / f"{result.name}.{name}.csv", df.to_csv(index=False))
    write_json_atomic(folder / f"{result.name}.json", {"key": key, "name": result.name, "vote": result.vote,
                                                        "rule": result.rule, "metrics": result.metrics,
                                                        "tables": sorted(result.tables)})


def _load(folder: Path, indicator: str, key: str) -> IndicatorResult | None:
    path = folder / f"{indicator}.json"
    if not path.exists():
        return None
    data = read_json(path)
    if data.get("key") != key:
        return None
    tables = {t: pd.read_csv(folder / f"{indicator}.{t}.csv") for t in data.get("tables", [])
              if (folder / f"{indicator}.{t}.csv").exists()}
    return IndicatorResult(data["name"], data["vote"], data["rule"], data["metrics"], tables)


def run_scorecard(pair: Any, world: str | Any | None = None, config: ScorecardConfig = ScorecardConfig(),
                  out_dir: str | Path | None = None, *, progress: bool = True) -> Scorecard:
    """Every indicator of ``config.indicators`` for ``pair``; results saved to (and resumed from) ``out_dir``."""
    from tqdm.auto import tqdm

    w = world if world is not None and not isinstance(world, str) else world_for(pair, world)
    layer = _layer(pair, config.layer)
    problems = w.sample(config.n_problems, seed=config.problem_seed) if w.name != "bandits" else []
    folder = ensure_dir(out_dir) if out_dir is not None else None
    ctx = Context(pair=pair, world=w, config=config, layer=layer, problems=problems, out_dir=folder)
    results: dict[str, IndicatorResult] = {}
    for name in tqdm(config.indicators, desc=f"scorecard {pair.name}", disable=not progress, leave=False):
        key = _key(pair, w, config, name)
        cached = _load(folder, name, key) if folder is not None else None
        if cached is not None:
            results[name] = cached
            continue
        torch.manual_seed(config.seed)
        results[name] = REGISTRY[name](ctx)
        if folder is not None:
            _save(results[name], folder, key)
    card = Scorecard(pair=pair.name, world=w.name, dose=pair.dose, layer=layer, results=results, out_dir=folder,
                     config=config)
    if folder is not None:
        write_text_atomic(folder / "scorecard.md", card.to_markdown())
        write_json_atomic(folder / "scorecard.json", {"pair": card.pair, "world": card.world, "dose": card.dose,
                                                      "layer": layer, "votes": card.votes, "summary": card.summary,
                                                      "gain": card.gain, "expected": card.expected,
                                                      "expected_reason": card.expected_reason})
    return card


def validate_against_dose(cards: Sequence[Scorecard]) -> pd.DataFrame:
    """One row per (pair, indicator): dose, expected reading, vote, whether they agree. Undecided votes are not
    counted as agreement or disagreement (``agrees`` is None), and neither is any vote of a pair where RL made no
    measurable gain: there is then no capability whose origin the dose could vouch for."""
    rows = []
    for card in cards:
        for name, vote in list(card.votes.items()) + [("SUMMARY", card.summary)]:
            exp = card.expected
            undecided = vote in ("n/a", "inconclusive", "mixed", "no gain") or card.gain is False
            agrees = None if exp is None or undecided else vote == exp
            rows.append({"pair": card.pair, "world": card.world, "dose": card.dose, "indicator": name,
                         "expected": exp, "vote": vote, "agrees": agrees})
    return pd.DataFrame(rows)


def indicator_reliability(validation: pd.DataFrame) -> pd.DataFrame:
    """Per indicator: how often its decisive votes matched the dose, and how often it abstained."""
    out = []
    for name, g in validation.groupby("indicator", sort=False):
        decided = g["agrees"].dropna()
        out.append({"indicator": name, "pairs": len(g), "decisive": len(decided),
                    "agree": int(decided.sum()) if len(decided) else 0,
                    "agreement": float(decided.mean()) if len(decided) else float("nan")})
    return pd.DataFrame(out)


def plot_scorecard(card: Scorecard) -> Any:
    """A 2x2 figure drawn only from the card's saved tables: boundary, steering/beliefs, features, votes."""
    import matplotlib.pyplot as plt

    from ..plotting import COLORS, bar_ci, line_ci, set_style

    set_style()
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5))
    ax = axes[0, 0]
    b = card.results.get("boundary")
    if b is not None and "passk_curve" in b.tables:
        cur = b.tables["passk_curve"]
        line_ci(ax, cur, "k", "pass@k", "ci_lo", "ci_hi", hue="model",
                palette={"base": COLORS["base"], "rl": COLORS["rl"], "guess": COLORS["random"]}, marker="o")
        ax.set_xscale("log", base=2)
        ax.set_title("capability boundary: pass@k (95% CI over problems)")
    else:
        ax.axis("off")
        ax.set_title("boundary: n/a for this world")
    ax = axes[0, 1]
    s = card.results.get("steering")
    bel = card.results.get("beliefs")
    if s is not None and "steering" in s.tables:
        t = s.tables["steering"]
        ref = t.set_index("condition")["accuracy"]
        t = t[~t.condition.isin(["unsteered_base", "rl_model"])].copy()
        t["condition"] = t["condition"].str.replace("random:own", "random (own norm)").str.replace(
            "random:from_rl", "random (RL norm)")
        t = t.groupby("condition", as_index=False, sort=False).agg(
            {"accuracy": "mean", "acc_ci_lo": "min", "acc_ci_hi": "max"})
        bar_ci(ax, t, "condition", "accuracy", "acc_ci_lo", "acc_ci_hi",
               colors=[COLORS["control"] if c.startswith(("random", "bias")) else COLORS["steered"] for c in t.condition])
        ax.axhline(ref["unsteered_base"], color=COLORS["base"], lw=1.2, ls="--", label="base, unsteered")
        ax.axhline(ref["rl_model"], color=COLORS["rl"], lw=1.2, ls="--", label="RL model")
        ax.legend(frameon=False, fontsize=8)
        ax.set_ylabel("greedy accuracy (test half)")
        ax.set_title("steering the base: accuracy vs controls")
        ax.tick_params(axis="x", rotation=20)
    elif bel is not None and "belief_probes" in bel.tables:
        t = bel.tables["belief_probes"]
        bar_ci(ax, t, "model", "r2", "ci_lo", "ci_hi",
               colors=[COLORS.get(m, COLORS["control"]) for m in t["model"]])
        ax.set_title("belief probe R^2 (posterior means, centred)")
    else:
        ax.axis("off")
    ax = axes[1, 0]
    f = card.results.get("features")
    if f is not None and "crosscoder_latents" in f.tables:
        lat = f.tables["crosscoder_latents"]
        lat = lat[lat["freq"] > 0]
        ax.hist(lat["rel_norm"], bins=20, range=(0, 1), color=COLORS["reference"])
        ax.set_xlabel("relative decoder norm  ||d_RL|| / (||d_base|| + ||d_RL||)")
        ax.set_ylabel("live latents")
        ax.set_title(f"crosscoder latents; SAE FVU ratio RL/base = {f.metric('FVU ratio RL / base'):.2f}")
    else:
        ax.axis("off")
    ax = axes[1, 1]
    ax.axis("off")
    cell = [[k, v] for k, v in card.votes.items()] + [["SUMMARY", card.summary]]
    if card.expected:
        cell.append([f"expected (dose {card.dose})", card.expected])
    tab = ax.table(cellText=cell, colLabels=["indicator", "vote"], loc="center")
    tab.scale(1, 1.3)
    ax.set_title("votes")
    fig.suptitle(f"{card.pair}: activation or creation?")
    fig.tight_layout()
    return fig
