"""Behaviour contrasts: the same problems written with and without a behaviour, and the directions between them.

- :class:`ContrastSet` / :func:`contrast_set`: each problem written with a scratchpad (label 1) and as a direct
  answer (label 0), texts from ``world.solution(problem, fmt)``; :func:`depth_contrast_set`: for depth-dosed worlds,
  whose organisms only ever write one scratchpad, worked chains deeper than the always-shown depth (label 1) against
  shallower ones (label 0), in that scratchpad.
- :func:`policy_contrast_set`: for the bandit world, episodes on the same held-out bandits written by Thompson sampling
  (label 1: the value-learning policy that bandit corpora dose) and by uniform-random play (label 0).
- :func:`behaviour_contrast`: the one of the three that a base's pretraining corpus doses (read from its manifest).
- :func:`completion_means`: per-layer mean residual activation over the completion tokens of ``prompt + completion``
  texts (harvested through the activation cache).
- :func:`contrast_vector`: difference of label means per layer, as a :class:`~rlmeta_interp.steering.SteeringVector`;
  :func:`contrast_direction`: that vector fitted in one model on a contrast set's texts.

The directions, steering and scorecard indicators and the notebooks all build on these.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

from ..errors import EmptyInputError, InvalidConfigError
from ..hooks import Site, hook_name
from ..organism.worlds.arithmetic import SCRATCHPAD_FORMATS
from ..organism.worlds.base import Problem, World
from ..steering import SteeringVector

if TYPE_CHECKING:
    from ..models import LoadedModel


@dataclass(frozen=True)
class ContrastSet:
    """``prompts[i] + completions[i]`` is one text; ``labels[i]`` is 1 where it shows the behaviour.

    ``behaviour`` names the two sides, label 1 first (for captions and tables); empty where a caller built the set by
    hand without naming it."""

    prompts: list[str]
    completions: list[str]
    labels: np.ndarray
    problems: list[Problem] = field(default_factory=list)
    behaviour: str = ""

    def __len__(self) -> int:
        return len(self.prompts)

    @property
    def texts(self) -> list[str]:
        return [p + c for p, c in zip(self.prompts, self.completions, strict=True)]


def contrast_set(world: World, n: int, seed: int, formats: Sequence[str] = SCRATCHPAD_FORMATS) -> ContrastSet:
    """``n`` problems, each written with a scratchpad (formats alternate; label 1) and directly (label 0)."""
    if n < 2:
        raise InvalidConfigError(f"contrast_set needs n >= 2 problems (got {n}) so both labels have two rows.")
    solution = getattr(world, "solution", None)
    if solution is None:
        raise InvalidConfigError(f"World {world.name!r} has no solution(problem, fmt): it has no scratchpad contrast.")
    problems = world.sample_held_out(n, seed=seed)
    prompts, comps, labels = [], [], []
    for i, p in enumerate(problems):
        for completion, label in ((solution(p, formats[i % len(formats)]), 1), (solution(p, "direct"), 0)):
            prompts.append(p.prompt)
            comps.append(completion)
            labels.append(label)
    return ContrastSet(prompts, comps, np.asarray(labels), problems, "scratchpad vs direct answer")


def depth_contrast_set(world: World, n: int, seed: int, shallow_max_depth: int, fmt: str = "rewrite") -> ContrastSet:
    """``n`` held-out problems deeper than ``shallow_max_depth`` operands (label 1: the dosed capability) and ``n`` at
    most that deep (label 0), each written as a worked chain in ``fmt``, depths cycling over each side's range.

    The scratchpad-vs-direct contrast says nothing about organisms pretrained on one scratchpad at every dose (they
    never saw a direct answer); the capability their dose controls is the deeper chain. Like every teacher-forced
    contrast, the label is visible in the input (deeper chains are longer texts), so a direction found here is a
    difference the two models draw between texts they are shown, not one they produce. The held-out space of the
    shallowest chains is small (about 20 two-operand problems with one-digit operands), so those problems repeat."""
    cfg = getattr(world, "config", None)
    lo, hi = getattr(cfg, "min_operands", None), getattr(cfg, "max_operands", None)
    if lo is None or hi is None or not lo <= shallow_max_depth < hi:
        raise InvalidConfigError(
            f"depth_contrast_set needs an arithmetic world whose operand range ({lo}-{hi}) has depths on both sides"
            f" of shallow_max_depth={shallow_max_depth}: use the RL model's evaluation world (world_for).")
    if n < 2:
        raise InvalidConfigError(f"depth_contrast_set needs n >= 2 problems per side (got {n}).")
    prompts, comps, labels, problems = [], [], [], []
    for label, depths in ((1, range(shallow_max_depth + 1, hi + 1)), (0, range(lo, shallow_max_depth + 1))):
        for i in range(n):
            d = depths[i % len(depths)]
            (p,) = world.sample_held_out(1, seed=seed + 7919 * i + d, operands=d)
            prompts.append(p.prompt)
            comps.append(world.solution(p, fmt))  # type: ignore[attr-defined]
            labels.append(label)
            problems.append(p)
    behaviour = f"chains of {shallow_max_depth + 1}-{hi} operands vs {lo}-{shallow_max_depth}"
    return ContrastSet(prompts, comps, np.asarray(labels), problems, behaviour)


def policy_contrast_set(world: World, n: int, seed: int) -> ContrastSet:
    """``n`` held-out bandits, each played once by Thompson sampling (label 1) and once uniformly at random (label 0);
    prompts are empty (an episode starts right after BOS).

    As in the depth contrast, the label is visible in the text (Thompson play repeats the arms that paid), so a
    direction found here is a difference the models draw between episodes they are shown."""
    from ..organism.worlds.bandits import render_episode, simulate

    if world.name != "bandits":
        raise InvalidConfigError(f"policy_contrast_set needs the bandit world, got {world.name!r}: use contrast_set.")
    if n < 2:
        raise InvalidConfigError(f"policy_contrast_set needs n >= 2 bandits (got {n}) so both labels have two rows.")
    cfg = world.config  # type: ignore[attr-defined]
    rng = np.random.default_rng([seed, 0xC0A7])
    problems = world.sample_held_out(n, seed=seed)
    comps, labels = [], []
    for policy, label in (("thompson", 1), ("random", 0)):
        for p in problems:
            comps.append(render_episode(simulate(policy, np.asarray(p.meta["means"]), cfg.horizon, rng), cfg))
            labels.append(label)
    return ContrastSet([""] * len(comps), comps, np.asarray(labels), problems + problems,
                       "Thompson-sampling vs uniform-random episodes")


def behaviour_contrast(world: World, n: int, seed: int, corpus: Mapping[str, Any] | None = None) -> ContrastSet | None:
    """The behaviour contrast of a base whose pretraining corpus config is ``corpus`` (its manifest's
    ``config.pretrain.corpus``; None for models without one), on ``world``; None where the world has none.

    Bandits: Thompson-sampling episodes (the dosed policy) against uniform-random play on the same bandits.
    Arithmetic: each held-out problem written with a scratchpad (the dose-controlled behaviour) and directly; for a
    base whose corpus doses chain depth, worked chains deeper than the always-shown depth against shallower ones, over
    the corpus's operand range (an RL world may train one depth only), in ``world``'s split. ``n`` is the number of
    problems per side.
    """
    if world.name == "bandits":
        return policy_contrast_set(world, n, seed)
    if world.name != "arithmetic":
        return None
    if corpus is None or corpus.get("arithmetic_dose") != "depth":
        return contrast_set(world, n, seed=seed)
    # a "mix" corpus shows the sum and eq scratchpads in equal shares: the contrast uses the first of them
    fmt = corpus.get("depth_format", "mix")
    shown = corpus.get("arithmetic") or {}
    cfg = world.config  # type: ignore[attr-defined]
    shown_world = type(world)(cfg.replace(min_operands=int(shown.get("min_operands", cfg.min_operands)),
                                          max_operands=int(shown.get("max_operands", cfg.max_operands))))
    return depth_contrast_set(shown_world, n, seed, int(corpus["shallow_max_depth"]), fmt="sum" if fmt == "mix" else fmt)


def completion_means(
    model: LoadedModel,
    prompts: Sequence[str],
    completions: Sequence[str],
    layers: Sequence[int],
    *,
    site: Site = "resid_post",
    cache: bool = True,
    batch_size: int = 64,
) -> dict[int, Float[Tensor, "n d_model"]]:
    """``{layer: [n, d_model]}``: mean activation over the completion tokens of each ``prompt + completion``.

    The prompt's token count is that of the prompt tokenized alone (exact for the organisms' character tokenizer;
    for subword tokenizers a token straddling the boundary counts as completion).
    """
    from ..activations import harvest

    if len(prompts) != len(completions) or not prompts:
        raise EmptyInputError("completion_means needs one completion per prompt and at least one of each.")
    hooks = [hook_name(model.layer(layer), site) for layer in layers]
    acts = harvest(model, [p + c for p, c in zip(prompts, completions, strict=True)], hooks, positions="all",
                   cache=cache, batch_size=batch_size)
    mask = acts.mask.clone().float()
    for i, p in enumerate(prompts):
        n_prompt = int(model.to_tokens([p])[1].sum())
        mask[i, :n_prompt] = 0.0
    if (mask.sum(1) == 0).any():
        raise EmptyInputError("Some completions have no tokens of their own: give non-empty completions.")
    w = mask[..., None] / mask.sum(1)[:, None, None]
    return {layer: (acts[h] * w).sum(1) for layer, h in zip(layers, hooks, strict=True)}


def contrast_vector(
    acts: dict[int, Float[Tensor, "n d_model"]], labels: np.ndarray | Sequence[int], site: Site = "resid_post"
) -> SteeringVector:
    """Difference of means (label 1 minus label 0) per layer, as a :class:`SteeringVector`."""
    y = torch.as_tensor(np.asarray(labels)).bool()
    if int(y.sum()) == 0 or int((~y).sum()) == 0:
        raise InvalidConfigError("contrast_vector needs rows of both labels (1 = behaviour, 0 = not).")
    return SteeringVector.from_means({k: v[y] for k, v in acts.items()}, {k: v[~y] for k, v in acts.items()}, site)


def contrast_direction(model: LoadedModel, contrast: ContrastSet, layers: Sequence[int]) -> SteeringVector:
    """``model``'s direction between the two sides of ``contrast`` at each of ``layers``: :func:`contrast_vector` of
    its :func:`completion_means` on the contrast texts."""
    return contrast_vector(completion_means(model, contrast.prompts, contrast.completions, layers), contrast.labels)
