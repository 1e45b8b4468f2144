"""GRPO with LoRA on a real causal LM (TRL ``GRPOTrainer`` + peft): train, evaluate before and after, save.

The run RL-tunes a LoRA adapter on word sums (:mod:`rlmeta_interp.organism.worlds.wordsum`), saves it as an
adapter folder (:mod:`rlmeta_interp.sources.adapter`) and measures held-out pass@1 and pass@k of the base model
and of base + adapter. Runs on any registry model name or Hugging Face folder, on CPU or GPUs.
"""

from __future__ import annotations

import logging
import math
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from transformers import TrainerCallback

from ..errors import InvalidConfigError
from ..io import ensure_dir, read_json
from ..organism.worlds.wordsum import first_integer, held_out_problems
from ..sources.adapter import save_adapter
from ..sources.base import MANIFEST_NAME
from .config import RealRLConfig
from .evaluate import evaluate_passk, load_causal_lm, resolve_model_folder

log = logging.getLogger(__name__)

#: a TRL reward function: ``f(completions, answer, **dataset_columns) -> one reward per completion``
RewardFunction = Callable[..., list[float]]


def make_reward(kind: Literal["correct", "format", "random"], seed: int = 0) -> RewardFunction:
    """A TRL reward function ``f(completions, answer, **kwargs) -> list[float]`` of the given kind."""
    if kind == "correct":
        def correct(completions, answer, **kwargs) -> list[float]:
            return [1.0 if first_integer(c) == a else 0.0 for c, a in zip(completions, answer, strict=True)]
        return correct
    if kind == "format":
        def has_integer(completions, answer, **kwargs) -> list[float]:
            return [0.0 if first_integer(c) is None else 1.0 for c in completions]
        return has_integer
    if kind == "random":
        rng = random.Random(f"wordsum-random-reward-{seed}")

        def coin(completions, answer, **kwargs) -> list[float]:
            return [float(rng.random() < 0.5) for _ in completions]
        return coin
    raise InvalidConfigError(f"Unknown reward kind {kind!r}; choose correct, format or random.")



def _step_timer(checkpoint_dir: Path | None = None, every: int = 0) -> TrainerCallback:
    class StepTimer(TrainerCallback):
        """Records wall time per optimizer step (TRL logs rewards but not step time); saves adapter checkpoints."""

        def __init__(self) -> None:
            self.times: list[float] = []
            self._t = time.perf_counter()

        def on_step_end_save(self, state, model) -> None:
            if checkpoint_dir is None or not every or state.global_step % every or model is None:
                return
            target = checkpoint_dir / f"step_{state.global_step:06d}"
            model.save_pretrained(str(target), safe_serialization=True)
            (target / "README.md").unlink(missing_ok=True)

        def on_step_begin(self, args, state, control, **kwargs):
            self._t = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            self.times.append(time.perf_counter() - self._t)
            log.info("GRPO step %d took %.1f s", state.global_step, self.times[-1])
            if state.is_world_process_zero:
                self.on_step_end_save(state, kwargs.get("model"))

    return StepTimer()


def _device(config: RealRLConfig) -> str:
    import torch

    if config.device == "auto" and torch.cuda.is_available():
        return f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"  # one GPU per process under accelerate launch
    return "cpu"


def check_lora_targets(model: Any, config: RealRLConfig) -> None:
    """A typed error, before any sampling or training, when LoRA would find nothing to adapt in ``model``: a
    ``target_modules`` name that no linear layer ends with (peft matches names by suffix; GPT-2 calls its layers
    ``c_attn``, ``c_proj``, ``c_fc``), or a ``lora_layers`` index the model does not have. peft would raise from deep
    inside the trainer when no target matches, and adapt the matching subset silently when some do; this check is
    stricter on purpose: a target that matches nothing is a typo or another architecture's name, and a run that
    adapts fewer layers than its config names is not the run the config describes."""
    import torch
    from transformers.pytorch_utils import Conv1D

    kinds = (torch.nn.Linear, torch.nn.Embedding, torch.nn.Conv1d, torch.nn.Conv2d, Conv1D)  # what peft's LoRA adapts
    names = [name for name, mod in model.named_modules() if isinstance(mod, kinds) and name]
    linear = sorted({name.rsplit(".", 1)[-1] for name in names})
    missing = [t for t in config.target_modules if not any(n == t or n.endswith("." + t) for n in names)]
    if missing:
        raise InvalidConfigError(
            f"RealRLConfig.target_modules names {missing}, which {type(model).__name__} has no layer LoRA adapts"
            f" called; its linear and embedding layers are {linear}. Set target_modules in the run config to some of"
            " those."
        )
    n_layers = int(getattr(model.config, "num_hidden_layers", None) or model.config.n_layer)
    outside = [i for i in (config.lora_layers or ()) if not 0 <= i < n_layers]
    if outside:
        raise InvalidConfigError(f"RealRLConfig.lora_layers has {outside}, but the model has layers 0..{n_layers - 1}:"
                                 " pass indices in that range (None adapts every layer).")


def train(config: RealRLConfig, out_dir: str | os.PathLike, *, evaluate: bool = True) -> dict[str, Any]:
    """Run GRPO+LoRA per ``config``; save the adapter and manifest in ``out_dir``; return the manifest.

    With ``evaluate``, held-out pass@k of the base model is measured before training and of
    base + adapter after (main process only under ``accelerate launch``).
    """
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import set_seed
    from trl import GRPOConfig, GRPOTrainer

    if config.torch_threads is not None:
        torch.set_num_threads(config.torch_threads)
    out_dir = Path(out_dir)
    ensure_dir(out_dir.parent)
    set_seed(config.seed)
    folder = resolve_model_folder(config.model)
    world = config.world_obj()
    train_problems = world.sample(config.n_train_problems, config.seed)
    eval_problems = held_out_problems(world, config.n_eval_problems, config.eval_seed, train_problems)

    model, tok = load_causal_lm(folder, device=_device(config))
    check_lora_targets(model, config)
    eval_kwargs = dict(n=config.eval_samples, ks=config.eval_ks, max_new_tokens=config.max_completion_length,
                       temperature=config.eval_temperature, seed=config.seed, max_batch=config.eval_max_batch)
    metrics: dict[str, Any] = {}
    t0 = time.perf_counter()
    is_main = int(os.environ.get("RANK", "0")) == 0  # accelerate's global rank; evaluation runs once
    if evaluate and is_main:
        metrics["base"] = evaluate_passk(model, tok, world, eval_problems, **eval_kwargs)
        metrics["base"]["seconds"] = round(time.perf_counter() - t0, 1)
        log.info("base held-out: %s", {k: v for k, v in metrics["base"].items() if k.startswith(("pass", "greedy"))})

    reward_func = make_reward(config.reward, config.seed)

    dataset = Dataset.from_dict({"prompt": [p.prompt for p in train_problems],
                                 "answer": [p.answer for p in train_problems]})
    with tempfile.TemporaryDirectory(prefix="realrl-trainer-") as trainer_dir:
        args = GRPOConfig(
            output_dir=trainer_dir,
            use_cpu=config.device == "cpu",
            bf16=config.bf16,
            report_to="none",
            gradient_checkpointing=False,
            per_device_train_batch_size=config.prompts_per_step * config.num_generations,
            gradient_accumulation_steps=1,
            num_generations=config.num_generations,
            max_completion_length=config.max_completion_length,
            temperature=config.temperature,
            learning_rate=config.lr,
            warmup_steps=config.warmup_steps,
            beta=config.beta,
            max_steps=config.steps,
            logging_steps=config.logging_steps,
            save_strategy="no",
            seed=config.seed,
            data_seed=config.seed,
            disable_tqdm=True,
        )
        lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                          target_modules=list(config.target_modules), task_type="CAUSAL_LM",
                          layers_to_transform=list(config.lora_layers) if config.lora_layers is not None else None)
        ckpt_dir = out_dir.parent / f".{out_dir.name}.checkpoints" if config.checkpoint_every else None
        if ckpt_dir is not None:
            shutil.rmtree(ckpt_dir, ignore_errors=True)
        timer = _step_timer(ckpt_dir, config.checkpoint_every)
        model.train()
        trainer = GRPOTrainer(model=model, reward_funcs=reward_func, args=args, train_dataset=dataset,
                              processing_class=tok, peft_config=lora, callbacks=[timer])
        t_train = time.perf_counter()
        trainer.train()
        train_seconds = time.perf_counter() - t_train
        peft_model = trainer.model
        if not trainer.accelerator.is_main_process:
            return {}
        peft_model = trainer.accelerator.unwrap_model(peft_model)
        curve = [{k: v for k, v in row.items() if isinstance(v, (int, float))} for row in trainer.state.log_history]

    peft_model.eval()
    if evaluate:
        t1 = time.perf_counter()
        metrics["rl"] = evaluate_passk(peft_model, tok, world, eval_problems, **eval_kwargs)
        metrics["rl"]["seconds"] = round(time.perf_counter() - t1, 1)
        log.info("RL held-out: %s", {k: v for k, v in metrics["rl"].items() if k.startswith(("pass", "greedy"))})
        metrics["delta"] = {k: metrics["rl"][k] - metrics["base"][k] for k in metrics["rl"]
                            if k.startswith(("pass@", "greedy"))}
    step_times = timer.times
    manifest = {
        "name": out_dir.name,
        "kind": "rl-adapter",
        "method": "GRPO (TRL GRPOTrainer) + LoRA (peft)",
        "base_model": config.model if not Path(config.model).is_absolute() else Path(config.model).name,
        "world": config.world,
        "config": config.to_dict(),
        "seed": config.seed,
        "n_train_problems": len(train_problems),
        "n_eval_problems": len(eval_problems),
        "training_curve": curve,
        "metrics": metrics,
        "timing": {
            "train_seconds": round(train_seconds, 1),
            "median_step_seconds": round(sorted(step_times)[len(step_times) // 2], 2) if step_times else math.nan,
            "step_seconds": [round(t, 2) for t in step_times],
            "torch_threads": torch.get_num_threads(),
        },
    }
    save_adapter(peft_model, out_dir, manifest, checkpoints=ckpt_dir)
    log.info("adapter saved to %s", out_dir)
    return read_json(out_dir / MANIFEST_NAME)
