"""What notebooks 01 (reasoning directions), 02 (when, not how) and 10 (SAE / crosscoder diffing) run per pair.

Every function takes a loaded :class:`~rlmeta_interp.models.Pair` and its world, and returns tidy tables; the
notebooks loop over pairs, concatenate and plot. The measurements themselves live in ``analysis.directions``,
``analysis.recovery``, ``analysis.hybrid``, ``analysis.saes`` and ``analysis.crosscoder``; this module only wires activations into them the same way every time.

- :func:`direction_report`: per-layer direction cosines (both shuffled nulls) and probe transfer on a scratchpad vs
  direct contrast set (notebook 01).
- :func:`steering_recovery_report`: gap recovered by steering the base with its own direction, the RL model's, an
  equal-norm random vector and the bias-only vector; multipliers chosen on a dev half, reported on a test half.
- :func:`hybrid_report`: Venhoff et al.'s hybrid decoding with categories fitted on the RL model's token
  activations and its controls (random firing, random vectors, bias only) (notebook 02).
- :func:`model_diff`: an SAE trained on base activations evaluated on held-out base / RL / random-init activations
  (FVU, delta CE by splicing), and BatchTopK crosscoders over (base, RL), with (base, base) and (base, random init)
  as null and positive controls (notebook 10).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from jaxtyping import Float, Int
from torch import Tensor

from ..analysis.contrast import ContrastSet, completion_means, contrast_vector
from ..analysis.directions import DirectionConfig, direction_cosines, probe_transfer
from ..analysis.hybrid import (
    CategoryConfig,
    CategoryModel,
    HybridConfig,
    HybridResult,
    category_vectors,
    fit_categories,
    hybrid_decode,
    hybrid_gap_recovery,
)
from ..analysis.incontext import random_init_control
from ..analysis.recovery import SteerRecoveryConfig, bias_vector, greedy_scores, max_new_tokens, steering_recovery
from ..config import FrozenConfig, check_range
from ..errors import EmptyInputError, InvalidConfigError
from ..hooks import hook_name
from ..organism.worlds.base import Problem, World

if TYPE_CHECKING:
    from ..models import LoadedModel, Pair

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------------ notebook 01
@dataclass
class PairDirections:
    """Per-layer tables for one pair, and the completion-mean activations they came from."""

    cosines: pd.DataFrame
    transfer: pd.DataFrame
    acts_base: dict[int, Tensor]
    acts_rl: dict[int, Tensor]
    labels: np.ndarray


def direction_report(pair: Pair, contrast: ContrastSet, layers: Sequence[int] | None = None,
                     config: DirectionConfig = DirectionConfig()) -> PairDirections:
    """Direction cosines (base vs RL, with both shuffled nulls) and probe transfer, for every layer.

    Activations are means over the completion tokens of each contrast text, in each model on the same texts. The
    probes' folds are grouped by text, so a text the contrast holds twice is never scored by a probe fitted on its copy.
    """
    layers = list(range(pair.n_layers)) if layers is None else [pair.base.layer(x) for x in layers]
    acts_b = completion_means(pair.base, contrast.prompts, contrast.completions, layers)
    acts_r = completion_means(pair.rl, contrast.prompts, contrast.completions, layers)
    cos = direction_cosines(acts_b, acts_r, contrast.labels, config=config)
    tr = probe_transfer(acts_b, acts_r, contrast.labels, config=config, groups=contrast.texts)  # repeated texts share a fold
    return PairDirections(cos, tr, acts_b, acts_r, contrast.labels)


@dataclass(frozen=True)
class RecoveryConfig(FrozenConfig):
    """Steering recovery with multipliers chosen on a dev half of the problems (each vector its own)."""

    multipliers: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)
    n_random: int = 3
    n_boot: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.multipliers:
            raise InvalidConfigError("RecoveryConfig.multipliers is empty: give at least one, e.g. (1.0, 4.0).")
        check_range(self, "n_random", 0)
        check_range(self, "n_boot", 1)


@dataclass
class Recovery:
    """``test``: one row per condition on the test half (``chosen``: the multiplier picked on dev); ``dev``: all."""

    test: pd.DataFrame
    dev: pd.DataFrame
    chosen: dict[str, float]


def steering_recovery_report(pair: Pair, world: World, directions: PairDirections, layer: int,
                             problems: Sequence[Problem], config: RecoveryConfig = RecoveryConfig(),
                             new_tokens: int | None = None) -> Recovery:
    """Gap recovered on ``problems`` by steering the base at ``layer`` (all positions), ``new_tokens`` greedy
    tokens per completion (default: ``world``'s longest correct completion).

    Vectors: ``own`` (the base's direction between the two sides of ``directions``' behaviour contrast, e.g.
    scratchpad minus direct), ``from_rl`` (the RL model's), ``bias`` (mean RL
    minus mean base activation, no labels); controls: ``random:own`` / ``random:from_rl`` (``n_random`` equal-norm
    random vectors at the same multiplier). Each vector's multiplier is the one with the best accuracy on the dev
    half; the test half reports it (no selection on the numbers shown).
    """
    if len(problems) < 4:
        raise InvalidConfigError(f"steering_recovery_report needs >= 4 problems (a dev and a test half), got {len(problems)}.")
    layer = pair.base.layer(layer)
    if layer not in directions.acts_base:
        raise InvalidConfigError(f"Layer {layer} was not harvested in direction_report: include it in its layers.")
    ab, ar = {layer: directions.acts_base[layer]}, {layer: directions.acts_rl[layer]}
    own, from_rl = contrast_vector(ab, directions.labels), contrast_vector(ar, directions.labels)
    bias = bias_vector(ab, ar)
    half = len(problems) // 2
    dev_eval, test_eval = (greedy_scores(world, problems[:half], new_tokens),
                           greedy_scores(world, problems[half:], new_tokens))
    c = config
    dev = steering_recovery(pair.base, pair.rl, {"own": own, "from_rl": from_rl}, dev_eval, bias=bias,
                            config=SteerRecoveryConfig(multipliers=c.multipliers, n_random=0, n_boot=c.n_boot, seed=c.seed))
    chosen = {}
    for cond in ("own", "from_rl", "bias"):
        rows = dev[dev.condition == cond].sort_values(["accuracy", "multiplier"], ascending=[False, True])
        chosen[cond] = float(rows["multiplier"].iloc[0])
    frames = []
    for name, vec, n_random in (("own", own, c.n_random), ("from_rl", from_rl, c.n_random), ("bias_only", bias, 0)):
        t = steering_recovery(pair.base, pair.rl, {name: vec}, test_eval, config=SteerRecoveryConfig(
            multipliers=(chosen[name.replace("bias_only", "bias")],), n_random=n_random, n_boot=c.n_boot, seed=c.seed))
        if frames:  # the unsteered rows are the same in every call
            t = t[~t.condition.isin(["unsteered_base", "rl_model"])]
        frames.append(t.replace({"condition": {"bias_only": "bias"}}))
    test = pd.concat(frames, ignore_index=True)
    test["chosen_on_dev"] = test["condition"].map(lambda x: chosen.get(x.removeprefix("random:"), 0.0))
    return Recovery(test, dev, chosen)


# ------------------------------------------------------------------------------------------------ notebook 02
def completion_token_acts(model: LoadedModel, prompts: Sequence[str], completions: Sequence[str], layer: int
                          ) -> Float[Tensor, "tokens d_model"]:
    """Residual activations at ``layer`` of every completion token of ``prompt + completion``, stacked."""
    from ..activations import harvest

    h = hook_name(model.layer(layer))
    acts = harvest(model, [p + c for p, c in zip(prompts, completions, strict=True)], [h], positions="all")
    mask = acts.mask.clone().bool()
    for i, p in enumerate(prompts):
        mask[i, : int(model.to_tokens([p])[1].sum())] = False
    if not mask.any():
        raise EmptyInputError("No completion tokens: every completion is empty.")
    return acts[h][mask]


@dataclass(frozen=True)
class HybridReportConfig(FrozenConfig):
    """Hybrid decoding for one pair: categories from RL greedy completions of fit problems, decoding of held-out ones.

    ``multipliers``: with one, every held-out problem is a test problem; with several, the hybrid (no controls) runs
    at each on the first half of the problems, and the best multiplier is reported on the second half.
    """

    layer: int = 2
    n_categories: int = 6
    category_method: Literal["sae", "kmeans"] = "sae"
    category_samples: int = 30_000
    multipliers: tuple[float, ...] = (1.0,)
    n_random: int = 3
    n_boot: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range(self, "n_categories", 1, 64)
        check_range(self, "category_samples", 1)
        check_range(self, "n_random", 0)
        check_range(self, "n_boot", 1)
        if not self.multipliers:
            raise InvalidConfigError("HybridReportConfig.multipliers is empty: give at least one, e.g. (1.0,).")


@dataclass
class HybridReport:
    table: pd.DataFrame  # test problems: every condition at the chosen multiplier
    runs: dict[str, HybridResult]
    categories: CategoryModel
    category_share: pd.DataFrame  # share of RL completion tokens per category
    multiplier: float  # the multiplier reported in ``table``
    dev: pd.DataFrame  # dev problems: hybrid accuracy and fraction steered per multiplier (empty with one multiplier)
    test_problems: list[Problem] = field(default_factory=list)


def hybrid_report(pair: Pair, world: World, fit_problems: Sequence[Problem], problems: Sequence[Problem],
                  config: HybridReportConfig = HybridReportConfig()) -> HybridReport:
    """Hybrid "when-not-how" decoding of ``problems`` (Venhoff et al. 2510.07364) with its controls.

    (a) categories: a TopK SAE with k=1 (or k-means) on the RL model's token activations over its own greedy
    completions of ``fit_problems``; (b) one vector per category from the base model's activations at the same
    tokens (category mean minus overall mean); (c) hybrid decoding steers the base only where base and RL greedy
    tokens disagree; controls: random firing at the hybrid's rate, equal-norm random vectors, the bias-only vector
    (mean RL minus mean base activation) for every category. With several ``config.multipliers`` the hybrid's
    multiplier is chosen on the first half of ``problems`` and everything is reported on the second half.
    """
    from ..sampling import greedy_generate_tl

    c = config
    layer = pair.base.layer(c.layer)
    n_new = max_new_tokens(world)
    fit_prompts = [p.prompt for p in fit_problems]
    rl_outs = greedy_generate_tl(pair.rl.tl, fit_prompts, max_new_tokens=n_new)
    x_rl = completion_token_acts(pair.rl, fit_prompts, rl_outs, layer)
    x_base = completion_token_acts(pair.base, fit_prompts, rl_outs, layer)
    n_cat = min(c.n_categories, x_rl.shape[0])
    cats = fit_categories(x_rl, CategoryConfig(n_categories=n_cat, method=c.category_method,
                                               training_samples=c.category_samples, seed=c.seed))
    labels = cats.predict(x_rl)
    vectors = category_vectors(x_base, labels, n_cat, layer)
    bias = bias_vector({layer: x_base}, {layer: x_rl})
    share = pd.DataFrame({"category": np.arange(n_cat),
                          "share": np.bincount(labels.numpy(), minlength=n_cat) / labels.shape[0],
                          "vector_norm": [float(vectors[k].vectors[layer].norm()) for k in range(n_cat)]})
    hcfg = HybridConfig(max_new_tokens=n_new, multiplier=c.multipliers[0], classify_layer=layer, seed=c.seed)
    dev_rows = []
    test = list(problems)
    if len(c.multipliers) > 1:
        if len(problems) < 2:
            raise InvalidConfigError("Choosing among several multipliers needs >= 2 problems (a dev and a test half).")
        dev, test = list(problems[: len(problems) // 2]), list(problems[len(problems) // 2 :])
        for m in c.multipliers:
            res = hybrid_decode(pair.base, pair.rl, [p.prompt for p in dev], vectors, cats, hcfg.replace(multiplier=m))
            acc = float(np.mean([world.reward(p, t) for p, t in zip(dev, res.completions, strict=True)]))
            dev_rows.append({"multiplier": m, "accuracy": acc, "frac_steered": res.frac_steered, "n": len(dev)})
    dev_table = pd.DataFrame(dev_rows, columns=["multiplier", "accuracy", "frac_steered", "n"])
    chosen = float(dev_table.sort_values(["accuracy", "multiplier"], ascending=[False, True])["multiplier"].iloc[0]) \
        if len(dev_table) else float(c.multipliers[0])
    table, runs = hybrid_gap_recovery(
        pair.base, pair.rl, [p.prompt for p in test], lambda i, text: world.reward(test[i], text), vectors,
        cats, bias=bias, config=hcfg.replace(multiplier=chosen), n_random=c.n_random, n_boot=c.n_boot)
    return HybridReport(table.assign(multiplier=chosen), runs, cats, share, chosen, dev_table, test)


def summarize_conditions(table: pd.DataFrame, value: str = "gap_recovered") -> pd.DataFrame:
    """One row per condition: ``value`` averaged over seeds, CI bounds spanning the seeds' CIs, ``n_seeds``."""
    agg = {value: "mean", "ci_lo": "min", "ci_hi": "max", "accuracy": "mean", "acc_ci_lo": "min", "acc_ci_hi": "max"}
    if "frac_steered" in table:
        agg["frac_steered"] = "mean"
    out = table.groupby("condition", sort=False).agg(agg)
    out["n_seeds"] = table.groupby("condition", sort=False).size()
    return out.reset_index()


# ------------------------------------------------------------------------------------------------ notebook 10
@dataclass(frozen=True)
class DiffingConfig(FrozenConfig):
    """Sizes for :func:`model_diff`. Texts: ``n_samples`` sampled completions per problem from each model;
    problems split in halves (dictionaries train on the first, every number is measured on the second)."""

    layer: int = 2
    n_problems: int = 64
    n_samples: int = 4
    problem_seed: int = 10_000
    expansion: int = 4
    k: int = 8
    sae_samples: int = 60_000
    crosscoder_steps: int = 1500
    controls: bool = True
    n_boot: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("n_samples", "expansion", "k", "sae_samples", "crosscoder_steps", "n_boot"):
            check_range(self, name, 1)
        check_range(self, "n_problems", 4)


@dataclass
class ModelDiff:
    reconstruction: pd.DataFrame  # SAE FVU per model (held-out texts), ratio vs base with CI
    splice: pd.DataFrame  # CE loss clean / spliced / zero-ablated per model
    latents: pd.DataFrame  # crosscoder latents, column ``comparison``
    summary: pd.DataFrame  # one row per crosscoder comparison


def diffing_texts(pair: Pair, problems: Sequence[Problem], n_samples: int, new_tokens: int, seed: int) -> list[str]:
    """``prompt + completion`` for ``n_samples`` sampled completions per problem from each model (base, then RL)."""
    from ..sampling import sample_completions

    prompts = [p.prompt for p in problems]
    texts = []
    for model in (pair.base, pair.rl):
        samples = sample_completions(model.hf, model.tokenizer, prompts, n=n_samples, max_new_tokens=new_tokens, seed=seed)
        texts += [p + s for p, row in zip(prompts, samples, strict=True) for s in row]
    return texts


def token_acts(model: LoadedModel, texts: Sequence[str], layer: int) -> tuple[Float[Tensor, "tokens d_model"], Int[Tensor, "n pos"], Int[Tensor, "n pos"]]:
    """Activations of every real token at ``layer`` (stacked), plus the padded token ids and mask."""
    from ..activations import harvest

    h = hook_name(model.layer(layer))
    acts = harvest(model, list(texts), [h], positions="all")
    ids, mask = model.to_tokens(list(texts))
    return acts[h][acts.mask.bool()], ids, mask


def crosscoder_summary(latents: pd.DataFrame) -> dict[str, float]:
    """Shares of live latents per category (confirmed exclusive ones by Latent Scaling) and shared decoder cosine."""
    live = latents[latents["freq"] > 0]
    n = max(len(live), 1)
    shared = live[live["category"] == "shared"]
    return {
        "live": float(len(live)),
        "rl_only": float((live["category"] == "rl_only").sum() / n),
        "rl_only_confirmed": float(((live["category"] == "rl_only") & live["confirmed"]).sum() / n),
        "base_only": float((live["category"] == "base_only").sum() / n),
        "base_only_confirmed": float(((live["category"] == "base_only") & live["confirmed"]).sum() / n),
        "shared": float(len(shared) / n),
        "shared_dec_cos_median": float(shared["dec_cos"].median()) if len(shared) else float("nan"),
    }


def diffing_problems(world: World, config: DiffingConfig) -> list[Problem]:
    """The ``config.n_problems`` prompts :func:`model_diff` samples from: held-out problems (the "eval" hash split
    of a leak-free world); the first half trains the SAEs and crosscoders, the second half tests them."""
    return world.sample_held_out(config.n_problems, seed=config.problem_seed)


def model_diff(pair: Pair, world: World, config: DiffingConfig = DiffingConfig()) -> ModelDiff:
    """SAE and crosscoder diffing of one pair at ``config.layer`` (see the module docstring)."""
    from ..analysis.crosscoder import CrosscoderConfig, crosscoder_latents, train_crosscoder
    from ..analysis.saes import SaeTrainConfig, reconstruction_quality, splice_ce_loss, train_sae

    c = config
    layer = pair.base.layer(c.layer)
    problems = diffing_problems(world, c)
    half = c.n_problems // 2
    n_new = max_new_tokens(world)
    train_texts = diffing_texts(pair, problems[:half], c.n_samples, n_new, c.seed)
    test_texts = diffing_texts(pair, problems[half:], c.n_samples, n_new, c.seed + 1)
    models = {"base": pair.base, "rl": pair.rl}
    if c.controls:
        models["random_init"] = random_init_control(pair.base, c.seed + 7_777_777)  # never the base's own init seed
    train = {k: token_acts(m, train_texts, layer)[0] for k, m in models.items()}
    test = {}
    for k, m in models.items():
        test[k], ids, mask = token_acts(m, test_texts, layer)
    d = train["base"].shape[1]
    sae = train_sae(train["base"], SaeTrainConfig(d_sae=c.expansion * d, k=c.k, training_samples=c.sae_samples,
                                                  seed=c.seed), hook_name=hook_name(layer), model_name=pair.base.name)
    rq = reconstruction_quality(sae, test, reference="base", n_boot=c.n_boot, seed=c.seed)
    sp = splice_ce_loss({"base": pair.base, "rl": pair.rl}, sae, hook_name(layer), ids, mask, n_boot=c.n_boot, seed=c.seed)
    comparisons = {"base vs RL": ("base", "rl")}
    if c.controls:
        comparisons["base vs base (null)"] = ("base", "base")
        comparisons["base vs random init (positive control)"] = ("base", "random_init")
    frames, summary = [], []
    for label, (a, b) in comparisons.items():
        cc = train_crosscoder(train[a], train[b], CrosscoderConfig(d_in=d, d_sae=c.expansion * d, k=c.k,
                                                                  steps=c.crosscoder_steps, seed=c.seed))
        lat = crosscoder_latents(cc, test[a], test[b]).assign(comparison=label)
        frames.append(lat)
        summary.append({"comparison": label, **crosscoder_summary(lat)})
    return ModelDiff(rq, sp, pd.concat(frames, ignore_index=True), pd.DataFrame(summary))
