"""Pretraining corpora with a known exposure dose.

The *dose* is the fraction of documents that demonstrate the capability:

- arithmetic, ``arithmetic_dose="format"``: documents that show a scratchpad (in a format drawn from
  ``format_weights``) rather than the bare answer;
- arithmetic, ``arithmetic_dose="depth"``: every document shows a scratchpad; chains of up to ``shallow_max_depth``
  operands are always shown, and deeper chains (up to ``arithmetic.max_operands``) only in the dose fraction. At
  dose 0 the corpus holds no worked chain deeper than ``shallow_max_depth``: the deeper problems are the rewarded
  capability that RL may create;
- bandits: learning histories written by Thompson sampling rather than by a uniform-random policy
  (``bandit_rewards="shuffled"`` permutes every episode's reward tokens, so no value estimate can be learnt);
- planning: solved problems deeper than ``shallow_max_depth`` (the rest are shallow ones);
- composition: worked compositions of ``composition.min_level`` to ``max_level`` functions; every other document is
  an unchained one of 1 to ``max_level`` functions (``worlds/composition.py``: the same prompts and step layout, each
  later step applied to a uniformly drawn input), so at dose 0 the corpus teaches every atomic function and the
  layout, but a step's input is the output before it only by chance.

Every batch holds exactly ``floor(dose * n + u)`` demonstrations (``u`` uniform in [0, 1), so the
expected fraction is exactly the dose and every batch is as close to it as an integer allows), in
random order. Batches are a pure function of ``(seed, step)``: the same seed gives the same corpus
at any step without replaying earlier ones, which is what makes pretraining resumable bit-for-bit.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ..config import FrozenConfig, check_range
from ..errors import InvalidConfigError
from .worlds.arithmetic import SCRATCHPAD_FORMATS, ArithmeticConfig, ArithmeticWorld
from .worlds.bandits import BanditConfig, BanditWorld, render_episode, simulate
from .worlds.base import World
from .worlds.composition import CompositionConfig, CompositionWorld
from .worlds.planning import PlanningConfig, PlanningWorld

WorldName = Literal["arithmetic", "bandits", "planning", "composition"]
# the per-world config fields that corpora, RL configs and organism specs each carry, one per world
WORLD_CONFIG_KEYS: tuple[str, ...] = ("arithmetic", "bandits", "planning", "composition")


@dataclass(frozen=True)
class Document:
    """One training document: ``prompt + completion`` (the trainer adds BOS and EOS)."""

    prompt: str
    completion: str
    demo: bool
    label: str  # format ("direct", "sum", "eq"), policy ("random", "thompson"), "depth<d>", "<kind><level>"

    @property
    def text(self) -> str:
        return self.prompt + self.completion


@dataclass(frozen=True)
class CorpusConfig(FrozenConfig):
    """A world, its problem distribution, and the exposure dose. Only the chosen world's config is used."""

    world: WorldName = "arithmetic"
    dose: float = 0.5
    seed: int = 0
    arithmetic: ArithmeticConfig = field(default_factory=ArithmeticConfig)
    bandits: BanditConfig = field(default_factory=BanditConfig)
    planning: PlanningConfig = field(default_factory=PlanningConfig)
    composition: CompositionConfig = field(default_factory=CompositionConfig)
    # arithmetic: relative weights of the scratchpad formats ("sum", "eq") among demonstrations
    format_weights: tuple[float, ...] = (0.5, 0.5)
    # planning, and arithmetic with arithmetic_dose="depth": problems up to this depth (operands for arithmetic) are
    # always shown; deeper ones only in the dose fraction
    shallow_max_depth: int = 2
    # arithmetic: what the dose measures (see the module docstring)
    arithmetic_dose: Literal["format", "depth"] = "format"
    # arithmetic with arithmetic_dose="depth": the scratchpad every document shows ("mix" draws from format_weights)
    depth_format: Literal["mix", "sum", "eq", "rewrite"] = "mix"
    # bandits: "shuffled" permutes each episode's reward tokens (a corpus with nothing to learn about values)
    bandit_rewards: Literal["true", "shuffled"] = "true"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range(self, "dose", 0.0, 1.0)
        if len(self.format_weights) != len(SCRATCHPAD_FORMATS) or min(self.format_weights) < 0 or sum(self.format_weights) <= 0:
            raise InvalidConfigError(
                f"CorpusConfig.format_weights={self.format_weights}: give {len(SCRATCHPAD_FORMATS)} non-negative weights"
                f" (for {SCRATCHPAD_FORMATS}) with a positive sum."
            )
        if self.world == "arithmetic" and self.arithmetic_dose == "depth":
            a = self.arithmetic
            if not a.min_operands <= self.shallow_max_depth < a.max_operands:
                raise InvalidConfigError(
                    f"CorpusConfig.shallow_max_depth={self.shallow_max_depth} must lie in [arithmetic.min_operands,"
                    f" arithmetic.max_operands) = [{a.min_operands}, {a.max_operands}) so both shallow and deep chains"
                    " exist."
                )
        if self.world == "composition" and self.composition.min_level < 2:
            raise InvalidConfigError(
                f"CorpusConfig.composition.min_level={self.composition.min_level}: the dose's documents are"
                " compositions of at least 2 functions (every corpus shows the atomic facts); set min_level >= 2."
            )
        if self.world == "planning":
            p = self.planning
            if not p.min_depth <= self.shallow_max_depth < p.max_depth:
                raise InvalidConfigError(
                    f"CorpusConfig.shallow_max_depth={self.shallow_max_depth} must lie in [planning.min_depth,"
                    f" planning.max_depth) = [{p.min_depth}, {p.max_depth}) so both shallow and deep problems exist."
                )


def make_world(world: str, config: CorpusConfig | None = None, *, arithmetic: ArithmeticConfig | None = None,
               bandits: BanditConfig | None = None, planning: PlanningConfig | None = None,
               composition: CompositionConfig | None = None) -> World:
    """The world object for ``world`` with the configs of ``config`` (or the explicit ones)."""
    if world == "arithmetic":
        return ArithmeticWorld(arithmetic or (config.arithmetic if config else None))
    if world == "bandits":
        return BanditWorld(bandits or (config.bandits if config else None))
    if world == "planning":
        return PlanningWorld(planning or (config.planning if config else None))
    if world == "composition":
        return CompositionWorld(composition or (config.composition if config else None))
    raise InvalidConfigError(f"Unknown world {world!r}; choose one of 'arithmetic', 'bandits', 'planning',"
                             " 'composition'.")


def world_configs(holder: Any) -> dict[str, Any]:
    """The per-world configs of ``holder`` (a corpus config, RL config or organism spec), by world name."""
    return {k: getattr(holder, k) for k in WORLD_CONFIG_KEYS}


def world_of(holder: Any) -> World:
    """The world ``holder.world`` with the configs that ``holder`` carries."""
    return make_world(holder.world, **world_configs(holder))


class Corpus:
    """Deterministic document stream for one :class:`CorpusConfig`."""

    def __init__(self, config: CorpusConfig) -> None:
        self.config = config
        self.world = make_world(config.world, config)
        # leak-free worlds draw every pretraining problem from the "pretrain" hash split
        self.split = "pretrain" if self.world.config.leak_free else None

    def _rng(self, step: int, stream: int = 0) -> np.random.Generator:
        return np.random.default_rng([self.config.seed, step, stream, 0xC0DE])

    def n_demos(self, n: int, rng: np.random.Generator) -> int:
        return int(np.floor(self.config.dose * n + rng.random()))

    def batch(self, step: int, n: int) -> list[Document]:
        """The ``n`` documents of training step ``step`` (a pure function of seed, step and n)."""
        if n <= 0:
            raise InvalidConfigError(f"Batch size must be positive, got {n}.")
        rng = self._rng(step)
        k = self.n_demos(n, rng)
        demo_flags = np.zeros(n, dtype=bool)
        demo_flags[:k] = True
        rng.shuffle(demo_flags)
        pseed = int(rng.integers(2**31 - 1))
        return [self._document(bool(d), pseed, i, rng) for i, d in enumerate(demo_flags)]

    def _document(self, demo: bool, pseed: int, i: int, rng: np.random.Generator) -> Document:
        cfg = self.config
        w = self.world
        split = self.split
        if cfg.world == "arithmetic":
            assert isinstance(w, ArithmeticWorld)
            weights = np.asarray(cfg.format_weights, dtype=float)
            if cfg.arithmetic_dose == "depth":
                a = cfg.arithmetic
                lo, hi = (cfg.shallow_max_depth + 1, a.max_operands) if demo else (a.min_operands, cfg.shallow_max_depth)
                (p,) = w.sample(1, seed=pseed + i, operands=int(rng.integers(lo, hi + 1)), split=split)
                fmt = (SCRATCHPAD_FORMATS[int(rng.choice(len(weights), p=weights / weights.sum()))]
                       if cfg.depth_format == "mix" else cfg.depth_format)
                return Document(p.prompt, w.solution(p, fmt), demo, f"depth{p.meta['n_operands']}")
            (p,) = w.sample(1, seed=pseed + i, split=split)
            if demo:
                fmt = SCRATCHPAD_FORMATS[int(rng.choice(len(weights), p=weights / weights.sum()))]
            else:
                fmt = "direct"
            return Document(p.prompt, w.solution(p, fmt), demo, fmt)
        if cfg.world == "bandits":
            assert isinstance(w, BanditWorld)
            (p,) = w.sample(1, seed=pseed + i, split=split)
            policy = "thompson" if demo else "random"
            pulls = simulate(policy, np.asarray(p.meta["means"]), w.config.horizon, rng)
            if cfg.bandit_rewards == "shuffled":
                rewards = [r for _, r in pulls]
                rng.shuffle(rewards)
                pulls = [(a, r) for (a, _), r in zip(pulls, rewards, strict=True)]
            return Document(p.prompt, render_episode(pulls, w.config), demo, policy)
        if cfg.world == "composition":
            assert isinstance(w, CompositionWorld)
            (p,) = (w.sample if demo else w.sample_unchained)(1, seed=pseed + i, split=split)
            return Document(p.prompt, w.solution(p), demo, f"{p.meta['kind']}{p.meta['level']}")
        assert isinstance(w, PlanningWorld)
        pc = w.config
        if demo:
            lo, hi = cfg.shallow_max_depth + 1, pc.max_depth
        else:
            lo, hi = pc.min_depth, cfg.shallow_max_depth
        (p,) = w.sample(1, seed=pseed + i, min_depth=lo, max_depth=hi, split=split)
        return Document(p.prompt, p.answer, demo, f"depth{p.meta['depth']}")

    def data_hash(self, n_steps: int = 8, batch_size: int = 64) -> str:
        """sha256 of the config and the first ``n_steps`` batches: equal hashes mean equal corpora."""
        config = self.config.to_dict()
        if self.config.world != "composition":  # the field came after them: other worlds keep their recorded hashes
            config.pop("composition")
        h = hashlib.sha256(json.dumps(config, sort_keys=True).encode())
        for step in range(n_steps):
            for d in self.batch(step, batch_size):
                h.update(d.text.encode())
                h.update(b"\x00")
        return h.hexdigest()

    def max_chars(self) -> int:
        """Longest document text (prompt + completion) this corpus can produce, plus BOS/EOS."""
        cfg = self.config
        if cfg.world == "arithmetic":
            a = cfg.arithmetic
            prompt = (a.max_digits + 1) * a.max_operands + 1
            return prompt + ArithmeticWorld(a).max_completion_chars() + 2
        if cfg.world == "bandits":
            return 2 * cfg.bandits.horizon + 2
        if cfg.world == "composition":
            c = CompositionWorld(cfg.composition)
            return c.max_prompt_chars() + c.max_completion_chars() + 2
        p = cfg.planning
        return 3 * p.n_edges + 5 + p.max_depth + 1 + 2
