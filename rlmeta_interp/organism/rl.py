"""RL-tuning an organism with GRPO, through TRL's ``GRPOTrainer``.

Single-turn worlds (arithmetic, planning, composition) use TRL's own generation. Bandit episodes are multi-turn
(the environment writes every reward token): they go through TRL's ``rollout_func`` hook, which
returns the interleaved arm/reward tokens with ``env_mask`` = 1 on the arm tokens the model wrote
and 0 on the reward tokens, so only the model's own tokens carry policy gradient and KL.

Knobs (all in :class:`RLConfig`): reward variant (correct / format-only / random / incorrect-label),
one-shot training set, KL coefficient ``beta``, ProRL reference reset (``ref_reset_every``: copy
the policy into the reference model and clear the optimizer state), difficulty band (the world
config), learning rate, seeds, and two checkpoint intervals: ``checkpoint_every`` writes
weights-only ``checkpoints/step_NNNNNN/model.safetensors`` for dynamics analyses, ``save_every``
writes full TRL resume checkpoints (weights, optimizer, scheduler, RNG, reference model).
A run killed at any point resumes from the last complete resume checkpoint and ends with the same
weights, bit for bit, as an uninterrupted run.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from ..config import FrozenConfig, check_range
from ..errors import InvalidConfigError, MissingWeightsError
from ..io import WEIGHTS_FILE, ensure_dir, hash_tensors, load_tensors, save_tensors_atomic, write_text_atomic
from .corpus import WorldName, world_of
from .evaluate import rollout_bandits
from .worlds.arithmetic import ArithmeticConfig
from .worlds.bandits import BanditConfig, BanditWorld
from .worlds.base import Problem, World
from .worlds.composition import CompositionConfig
from .worlds.planning import PlanningConfig

log = logging.getLogger(__name__)
RewardVariant = Literal["correct", "format", "random", "incorrect", "process"]
TRL_DIR = ".trl"
COMPLETE_MARKER = "COMPLETE"
REF_FILE = "ref_model.safetensors"


@dataclass(frozen=True)
class RLConfig(FrozenConfig):
    """One GRPO run. The world config is the RL training distribution (a difficulty band)."""

    world: WorldName = "arithmetic"
    arithmetic: ArithmeticConfig = field(default_factory=ArithmeticConfig)
    bandits: BanditConfig = field(default_factory=BanditConfig)
    planning: PlanningConfig = field(default_factory=PlanningConfig)
    composition: CompositionConfig = field(default_factory=CompositionConfig)
    reward: RewardVariant = "correct"
    one_shot: bool = False  # train on one problem duplicated (Wang et al. 2504.20571)
    steps: int = 100
    prompts_per_step: int = 8
    num_generations: int = 8
    lr: float = 5e-5
    # linear warm-up: a fresh AdamW's first steps move every weight by about lr whatever the gradient's
    # noise; on a 0.5M-parameter organism at lr 5e-4 that single step dropped reward from 0.45 to 0.16
    warmup_steps: int = 10
    beta: float = 0.05  # KL coefficient; the pilot lost reward-token prediction without it
    ref_reset_every: int = 0  # ProRL: every N steps copy the policy into the reference and reset AdamW (0 = never)
    temperature: float = 1.0
    max_completion_length: int = 48  # single-turn worlds; bandit episodes are always 2 * horizon tokens
    n_train_problems: int = 4096
    problem_seed: int = 1  # training problems (evaluation uses other seeds)
    seed: int = 0  # TRL / torch seed: sampling, data order
    loss_type: Literal["grpo", "dr_grpo", "dapo", "bnpo"] = "dapo"
    scale_rewards: Literal["group", "batch", "none"] = "group"
    checkpoint_every: int = 0  # weights-only dynamics checkpoints (0 = none)
    save_every: int = 25  # full resume checkpoints (0 = none)

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("steps", "prompts_per_step", "n_train_problems"):
            check_range(self, name, 1)
        check_range(self, "num_generations", 2)
        check_range(self, "lr", 0.0, 1.0, lo_open=True)
        check_range(self, "beta", 0.0)
        check_range(self, "ref_reset_every", 0)
        check_range(self, "warmup_steps", 0)
        check_range(self, "temperature", 0.0, lo_open=True)
        check_range(self, "max_completion_length", 1)
        check_range(self, "checkpoint_every", 0)
        check_range(self, "save_every", 0)
        if self.ref_reset_every and self.beta == 0:
            raise InvalidConfigError(
                "RLConfig.ref_reset_every > 0 needs a reference model, i.e. beta > 0: set beta (e.g. 0.05) or"
                " ref_reset_every=0."
            )

    def world_obj(self) -> World:
        return world_of(self)


@dataclass
class RLResult:
    folder: Path
    steps: int
    weights_sha: str
    curve: list[dict[str, float]]
    seconds: float
    resumed_from: int | None = None
    checkpoints: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- rewards (shared by every path)


def _rng_for(seed: int, step: int, salt: int) -> np.random.Generator:
    return np.random.default_rng([seed, step, salt])


def score_completions(world: World, variant: str, problems: Sequence[Problem], completions: Sequence[str], *,
                      seed: int, step: int) -> list[float]:
    """Rewards of one batch under a reward variant (correct / format / random / incorrect)."""
    if variant == "correct":
        return [world.reward(p, c) for p, c in zip(problems, completions, strict=True)]
    if variant == "format":
        return [world.format_reward(p, c) for p, c in zip(problems, completions, strict=True)]  # type: ignore[attr-defined]
    if variant == "incorrect":
        return [world.incorrect_label_reward(p, c) for p, c in zip(problems, completions, strict=True)]  # type: ignore[attr-defined]
    if variant == "process":
        if not hasattr(world, "process_reward"):
            raise InvalidConfigError(f"The {world.name} world has no process reward; use reward='correct'.")
        return [world.process_reward(p, c) for p, c in zip(problems, completions, strict=True)]
    if variant == "random":
        # Shao et al. 2506.10947: Bernoulli(0.5), independent of the completion; seeded by step for resumability
        rng = _rng_for(seed, step, 0x7A4D)
        return [float(x) for x in (rng.random(len(completions)) < 0.5)]
    raise InvalidConfigError(
        f"Unknown reward variant {variant!r}; choose correct, format, random, incorrect, process.")


def bandit_rewards(variant: str, returns: Sequence[float], valid_fraction: Sequence[float], *, seed: int,
                   step: int) -> list[float]:
    """Bandit rewards: episode mean reward (correct), share of valid arm tokens (format), 1 - return
    (incorrect: rewards losing), or Bernoulli(0.5) (random)."""
    if variant == "correct":
        return [float(r) for r in returns]
    if variant == "format":
        return [float(v) for v in valid_fraction]
    if variant == "incorrect":
        return [1.0 - float(r) for r in returns]
    if variant == "random":
        rng = _rng_for(seed, step, 0x7A4D)
        return [float(x) for x in (rng.random(len(returns)) < 0.5)]
    raise InvalidConfigError(f"Unknown reward variant {variant!r}; choose correct, format, random, incorrect.")


def trl_prompt(problem: Problem, tokenizer) -> str:
    """The prompt text handed to TRL: the BOS token's text first, because TRL tokenizes prompts itself
    and the organism tokenizer adds no BOS (every organism was pretrained on ``<bos> prompt completion``)."""
    return tokenizer.bos_token + problem.prompt


def _problem_to_row(p: Problem, tokenizer) -> dict[str, str]:
    return {"prompt": trl_prompt(p, tokenizer),
            "problem": json.dumps({"prompt": p.prompt, "answer": p.answer, "meta": p.meta})}


def _row_to_problem(s: str) -> Problem:
    d = json.loads(s)
    return Problem(d["prompt"], d["answer"], d["meta"])


def training_problems(config: RLConfig) -> list[Problem]:
    """The RL prompt set: drawn from the "rl" hash split when the world config is leak-free."""
    world = config.world_obj()
    split = "rl" if world.config.leak_free else None
    if config.one_shot:
        (p,) = world.sample(1, seed=config.problem_seed, split=split)
        return [p] * config.n_train_problems
    return world.sample(config.n_train_problems, seed=config.problem_seed, split=split)


# ---------------------------------------------------------------- TRL plumbing


def _trainer_callbacks(config: RLConfig, out: Path):
    from transformers import TrainerCallback

    class DynamicsCheckpoints(TrainerCallback):
        """Weights-only safetensors every ``checkpoint_every`` steps.

        Neither end is written twice: step 0 is the base model, which the zoo keeps next to the RL folder, and the
        last step is the RL folder's own ``model.safetensors``; ``analysis.dynamics.list_checkpoints`` adds both.
        """

        def on_step_end(self, args, state, control, model=None, **kw):
            if (config.checkpoint_every and state.global_step % config.checkpoint_every == 0
                    and state.global_step < state.max_steps):
                path = out / "checkpoints" / f"step_{state.global_step:06d}" / WEIGHTS_FILE
                save_tensors_atomic(path, model.state_dict())

    class OptimizerReset(TrainerCallback):
        """ProRL: clear AdamW moments whenever TRL's SyncRefModelCallback copies the policy into the reference."""

        def on_step_end(self, args, state, control, optimizer=None, **kw):
            if config.ref_reset_every and state.global_step % config.ref_reset_every == 0 and optimizer is not None:
                inner = getattr(optimizer, "optimizer", optimizer)
                inner.state.clear()

    class ResumeState(TrainerCallback):
        """Save the reference model with each resume checkpoint (it drifts from the base under ProRL resets)
        and mark the checkpoint complete; restore the reference on resume."""

        def __init__(self) -> None:
            self.trainer = None
            self.resume_from: Path | None = None

        def on_train_begin(self, args, state, control, **kw):
            ref = getattr(self.trainer, "ref_model", None)
            if self.resume_from is not None and ref is not None and (self.resume_from / REF_FILE).exists():
                ref.load_state_dict(load_tensors(self.resume_from / REF_FILE))

        def on_save(self, args, state, control, **kw):
            ckpt = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            ref = getattr(self.trainer, "ref_model", None)
            if ref is not None:
                save_tensors_atomic(ckpt / REF_FILE, ref.state_dict())
            write_text_atomic(ckpt / COMPLETE_MARKER, str(state.global_step))

    return DynamicsCheckpoints(), OptimizerReset(), ResumeState()


def last_complete_checkpoint(trl_dir: Path) -> Path | None:
    """The newest ``checkpoint-N`` with a COMPLETE marker; incomplete ones (a crash mid-save) are deleted."""
    if not trl_dir.exists():
        return None
    found = []
    for d in trl_dir.iterdir():
        m = re.fullmatch(r"checkpoint-(\d+)", d.name)
        if m and d.is_dir():
            if (d / COMPLETE_MARKER).exists():
                found.append((int(m.group(1)), d))
            else:
                shutil.rmtree(d)
    return max(found)[1] if found else None


def _make_bandit_rollout(config: RLConfig, world: BanditWorld, tokenizer, problems: list[Problem]):
    """A TRL ``rollout_func``: bandits for a step are drawn from (seed, step), so resumes are exact."""
    g = config.num_generations

    def rollout(prompts: list, trainer) -> dict[str, Any]:
        n = len(prompts)
        # TRL 1.16 passes the sampler's slice, in which every prompt already appears num_generations times
        if n != config.prompts_per_step * g:
            raise InvalidConfigError(
                f"TRL passed {n} prompts to rollout_func, expected prompts_per_step * num_generations ="
                f" {config.prompts_per_step * g}: the installed TRL changed its rollout contract; pin trl==1.16.0."
            )
        per_group = g
        groups = n // per_group
        step = trainer.state.global_step
        rng = _rng_for(config.problem_seed, step, 0xB0B)
        idx = rng.integers(len(problems), size=groups)
        bandits = [problems[int(i)] for i in idx]
        roll = rollout_bandits(trainer.model, tokenizer, world, bandits, per_problem=per_group,
                               temperature=config.temperature, seed=int(rng.integers(2**31 - 1)))
        valid = (roll.arms >= 0).float().mean(1)
        return {
            "prompt_ids": [[tokenizer.bos_token_id] for _ in range(n)],
            "completion_ids": roll.tokens.tolist(),
            "logprobs": roll.logprobs.tolist(),
            "env_mask": roll.model_mask.tolist(),
            "episode_return": roll.returns().tolist(),
            "valid_fraction": valid.tolist(),
        }

    return rollout


def train_rl(
    base_folder: str | Path,
    config: RLConfig,
    out_dir: str | Path,
    *,
    resume: bool = True,
    progress: bool = True,
    callbacks: Sequence[Any] = (),
    keep_resume_state: bool = False,
) -> RLResult:
    """GRPO-tune the model in ``base_folder``; write the RL model (a Hugging Face folder) into ``out_dir``.

    ``callbacks``: extra ``transformers.TrainerCallback`` objects (tests use one to crash the run).
    """
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    base_folder = Path(base_folder)
    if not (base_folder / "config.json").exists():
        raise MissingWeightsError(f"No model in {base_folder} (no config.json): pretrain the base model first.")
    out = ensure_dir(out_dir)
    trl_dir = out / TRL_DIR
    world = config.world_obj()
    tokenizer = AutoTokenizer.from_pretrained(str(base_folder))
    model = AutoModelForCausalLM.from_pretrained(str(base_folder), dtype=torch.float32)
    problems = training_problems(config)
    batch = config.prompts_per_step * config.num_generations
    if config.world == "bandits":
        assert isinstance(world, BanditWorld)
        dataset = Dataset.from_dict({"prompt": [""] * max(config.n_train_problems, config.prompts_per_step)})
        rollout_func = _make_bandit_rollout(config, world, tokenizer, problems)
        max_len = 2 * world.config.horizon

        def reward_fn(prompts, completions, episode_return, valid_fraction, trainer_state, **kw):
            return bandit_rewards(config.reward, episode_return, valid_fraction, seed=config.seed,
                                  step=trainer_state.global_step)
    else:
        dataset = Dataset.from_list([_problem_to_row(p, tokenizer) for p in problems])
        rollout_func = None
        max_len = config.max_completion_length

        def reward_fn(prompts, completions, problem, trainer_state, **kw):
            probs = [_row_to_problem(s) for s in problem]
            return score_completions(world, config.reward, probs, completions, seed=config.seed,
                                     step=trainer_state.global_step)

    reward_fn.__name__ = f"{config.world}_{config.reward}"
    args = GRPOConfig(
        output_dir=str(trl_dir), use_cpu=True, bf16=False, fp16=False, report_to="none",
        gradient_checkpointing=False, per_device_train_batch_size=batch, num_generations=config.num_generations,
        max_completion_length=max_len, learning_rate=config.lr, lr_scheduler_type="constant_with_warmup",
        warmup_steps=config.warmup_steps,
        beta=config.beta, max_steps=config.steps, temperature=config.temperature, top_k=0, top_p=1.0,
        logging_steps=1, seed=config.seed, data_seed=config.seed, loss_type=config.loss_type,
        scale_rewards=config.scale_rewards, save_strategy="steps" if config.save_every else "no",
        save_steps=config.save_every or 1, save_total_limit=2, disable_tqdm=not progress,
        sync_ref_model=bool(config.ref_reset_every), ref_model_sync_steps=config.ref_reset_every or 1,
        ref_model_mixup_alpha=1.0, dataloader_num_workers=0, weight_decay=0.0, max_grad_norm=1.0,
        log_completions=False, remove_unused_columns=False,
    )
    dyn, opt_reset, resume_cb = _trainer_callbacks(config, out)
    trainer = GRPOTrainer(model=model, reward_funcs=[reward_fn], args=args, train_dataset=dataset,
                          processing_class=tokenizer, rollout_func=rollout_func,
                          callbacks=[dyn, opt_reset, resume_cb, *callbacks])
    resume_cb.trainer = trainer
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # logs go to the returned curve and the manifest, not stdout
    ckpt = last_complete_checkpoint(trl_dir) if resume else None
    resume_cb.resume_from = ckpt
    resumed_from = int(ckpt.name.split("-")[1]) if ckpt is not None else None
    if ckpt is not None:
        log.info("Resuming RL in %s from %s.", out, ckpt)
    t0 = time.perf_counter()
    trainer.train(resume_from_checkpoint=str(ckpt) if ckpt is not None else None)
    seconds = time.perf_counter() - t0
    final = trainer.model
    final.eval()
    final.save_pretrained(str(out), safe_serialization=True)
    tokenizer.save_pretrained(str(out))
    curve = [{k: float(v) for k, v in h.items() if isinstance(v, (int, float))} for h in trainer.state.log_history]
    if not keep_resume_state and trl_dir.exists():
        shutil.rmtree(trl_dir)
    ckpts = sorted(str(p.relative_to(out)) for p in (out / "checkpoints").glob("step_*/model.safetensors"))
    return RLResult(folder=out, steps=config.steps, weights_sha=hash_tensors(final.state_dict()), curve=curve,
                    seconds=seconds, resumed_from=resumed_from, checkpoints=ckpts)
