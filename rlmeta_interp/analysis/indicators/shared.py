"""Measurements several indicators share, computed once per scorecard run and kept in ``ctx.cache``.

pass@k samples of both models (boundary, likelihood, hybrid, features), behaviour-contrast activations (directions,
steering), bandit episodes (beliefs, features) and greedy scorers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from jaxtyping import Float

from ...errors import InvalidConfigError
from .core import Context


def samples(ctx: Context) -> Any:
    """pass@k samples of both models: a ``BoundaryResult`` (the measurement notebooks 03 and 04 make), with its
    cache under ``<out_dir>/samples/`` so a rerun with another indicator set or rule reads the samples back."""
    if "passk" not in ctx.cache:
        from ..capability import BoundaryConfig, run_boundary

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


def steer_problems(ctx: Context) -> list[Any]:
    """The problems steering and hybrid decoding score greedily: ``config.n_steer`` held-out problems (a seed
    apart from the sampled ones, so that choosing a multiplier on them does not reuse pass@k problems)."""
    if "steer_problems" not in ctx.cache:
        ctx.cache["steer_problems"] = ctx.world.sample_held_out(ctx.config.n_steer, seed=ctx.config.problem_seed + 5)
    return ctx.cache["steer_problems"]


def greedy_scorer(ctx: Context, problems: Sequence[Any]) -> Callable[[Any], np.ndarray]:
    """``evaluate(tl_model) -> [len(problems)]`` rewards of greedy completions (steering hooks apply)."""
    from ..recovery import greedy_scores

    return greedy_scores(ctx.world, problems, ctx.max_new_tokens)


def completion_means(model: Any, prompts: Sequence[str], completions: Sequence[str],
                     layer: int) -> Float[torch.Tensor, "n d_model"]:
    """Mean residual activation over the completion tokens of ``prompt + completion`` texts."""
    from ...inputs import check_prompt_pairs
    from ..contrast import completion_means as means

    prompts, completions = check_prompt_pairs(prompts, completions)
    return means(model, prompts, completions, [layer], cache=False)[layer]


def base_corpus(ctx: Context) -> dict[str, Any] | None:
    """The base model's pretraining corpus config from its manifest (None for models without one)."""
    from ...organism.manifests import pretrain_corpus

    return pretrain_corpus(ctx.pair.base)


def contrast(ctx: Context) -> tuple[list[str], list[str], np.ndarray] | None:
    """Behaviour-present vs behaviour-absent texts (:func:`~rlmeta_interp.analysis.contrast.behaviour_contrast` of
    the base's corpus), or None where the world has no such contrast."""
    from ..contrast import behaviour_contrast

    c = behaviour_contrast(ctx.world, ctx.config.n_contrast, ctx.config.problem_seed + 1, base_corpus(ctx))
    return None if c is None else (c.prompts, c.completions, c.labels)


def contrast_acts(ctx: Context) -> dict[str, Any] | None:
    """``{"labels", "texts", "base", "rl"[, "reference"]}``: contrast activations of each model at ``ctx.layer``
    (``texts``: each row's prompt and completion, for folds that keep a repeated text on one side)."""
    if "directions" not in ctx.cache:
        con = contrast(ctx)
        if con is None:
            ctx.cache["directions"] = None
        else:
            prompts, comps, labels = con
            d = {"labels": labels, "texts": [p + c for p, c in zip(prompts, comps, strict=True)],
                 "base": completion_means(ctx.pair.base, prompts, comps, ctx.layer),
                 "rl": completion_means(ctx.pair.rl, prompts, comps, ctx.layer)}
            if ctx.reference_base is not None:
                d["reference"] = completion_means(ctx.reference_base, prompts, comps, ctx.layer)
            ctx.cache["directions"] = d
    return ctx.cache["directions"]


def episodes(ctx: Context) -> dict[str, Any]:
    """Bandit episodes written by Thompson sampling and their belief targets ``[episodes, T, arms]``."""
    if "episodes" not in ctx.cache:
        from ..incontext import belief_episodes

        texts, targets = belief_episodes(ctx.world, ctx.config.n_episodes, seed=ctx.config.problem_seed + 2)
        ctx.cache["episodes"] = {"texts": texts, "targets": targets}
    return ctx.cache["episodes"]


def belief_probes(models: dict[str, Any], texts: Sequence[str], targets: np.ndarray, layer: int, seed: int,
                  n_boot: int) -> Any:
    """Ridge-probe table of posterior means (with random-init and token-count controls) at one layer."""
    from ..incontext import belief_probe_layers
    from ..belief_probes import RidgeProbeConfig

    return belief_probe_layers(models, texts, targets, layers=[layer], random_init_seed=seed + 7_777_777,
                               config=RidgeProbeConfig(n_boot=n_boot, seed=seed))


def regret(ctx: Context) -> tuple[Any, Callable[..., dict[str, float]]]:
    """Regret of base and RL on :func:`regret_bandits`, and the paired-difference function (computed once per
    scorecard run)."""
    from ..incontext import regret_difference, regret_experiment

    if "regret" not in ctx.cache:
        c = ctx.config
        ctx.cache["regret"] = regret_experiment({"base": ctx.pair.base, "rl": ctx.pair.rl}, ctx.world, regret_bandits(ctx),
                                                seed=c.seed, n_boot=c.n_boot)
    return ctx.cache["regret"], regret_difference


def regret_bandits(ctx: Context) -> list[Any]:
    """The ``config.n_bandits`` unseen bandits every regret measurement of a scorecard uses (paired across models)."""
    return ctx.world.sample_held_out(ctx.config.n_bandits, seed=ctx.config.problem_seed + 3)
