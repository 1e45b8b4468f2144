"""GRPO with LoRA on a real causal LM (TRL ``GRPOTrainer`` + peft): the project's real base/RL pair.

No package ships a base/RL pair of one real model, so this module makes one: it RL-tunes a LoRA
adapter on a verifiable task (multi-operand sums as short word problems), saves the adapter as
safetensors with a manifest, and measures held-out pass@1 and pass@k of the base model and of
base + adapter through :func:`rlmeta_interp.sampling.sample_completions` and
:func:`rlmeta_interp.analysis.passk.pass_at_k`.

Runs on any Hugging Face causal-LM folder or embedded model name, on CPU or GPUs::

    python -m rlmeta_interp.realrl --config run.json --out results/realrl/run1
    accelerate launch --config_file configs/accelerate/single_cpu.yaml -m rlmeta_interp.realrl --config run.json
    accelerate launch --config_file configs/accelerate/multi_gpu.yaml -m rlmeta_interp.realrl --model <folder>

The task generator lives here, not in :mod:`rlmeta_interp.organism.worlds.arithmetic`, on purpose: that
world speaks the organisms' char-level format (``"12+7-3="`` answered ``"A:16"``), which a real base LM
has never seen; a real LM needs English prompts with a worked example. :class:`WordSumWorld`
implements the same :class:`World` contract (``sample``/``reward``), so every analysis takes either.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import logging
import math
import os
import random
import re
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .analysis.passk import pass_at_k
from .config import FrozenConfig, check_range
from .errors import CorruptedCheckpointError, EmptyInputError, InvalidConfigError, MissingWeightsError
from .io import ensure_dir, read_json, sha256_file, verify_sha256, write_json_atomic
from .organism.worlds.base import Problem, World

log = logging.getLogger(__name__)

ADAPTER_MANIFEST = "manifest.json"

# ----------------------------------------------------------------------------------------------
# the task: multi-operand sums as short word problems
# ----------------------------------------------------------------------------------------------

_NAMES = ("Ann", "Ben", "Cara", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jo", "Kim", "Leo", "Mia", "Ned", "Ola", "Pia")
_ITEMS = ("apples", "books", "coins", "marbles", "pens", "shells", "stamps", "cards", "eggs", "stones")
_INT = re.compile(r"-?\d+")


@dataclass(frozen=True)
class WordSumConfig(FrozenConfig):
    """Word problems whose answer is the sum of ``n_operands`` integers in ``[min_value, max_value]``.

    ``n_shots`` worked examples (drawn from a separate seed stream) precede each question, so a base
    model sees the answer format; the completion is graded on its first integer.
    """

    n_operands: int = 3
    min_value: int = 2
    max_value: int = 30
    n_shots: int = 2
    # "word": "Ann has 3 apples. Then Ann gets 4 more. How many ...?"; "symbolic": "3 + 4 = ?"
    style: Literal["word", "symbolic"] = "word"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range(self, "n_operands", 2, 10)
        check_range(self, "min_value", 0)
        check_range(self, "n_shots", 0, 8)
        if self.max_value < self.min_value:
            raise InvalidConfigError(
                f"WordSumConfig.max_value={self.max_value} is below min_value={self.min_value}; raise max_value."
            )


def _question(rng: random.Random, operands: Sequence[int], style: str = "word") -> str:
    if style == "symbolic":
        return " + ".join(str(x) for x in operands) + " = ?"
    name = rng.choice(_NAMES)
    item = rng.choice(_ITEMS)
    parts = [f"{name} has {operands[0]} {item}."]
    for x in operands[1:]:
        parts.append(rng.choice((f"Then {name} gets {x} more.", f"A friend gives {name} {x} more.", f"{name} finds {x} more.")))
    parts.append(f"How many {item} does {name} have now?")
    return " ".join(parts)


class WordSumWorld(World):
    """Multi-operand sums as short English word problems; reward 1 when the first integer is the sum."""

    name = "wordsum"

    def __init__(self, config: WordSumConfig | None = None) -> None:
        self.config = config or WordSumConfig()

    def _operands(self, rng: random.Random) -> list[int]:
        c = self.config
        return [rng.randint(c.min_value, c.max_value) for _ in range(c.n_operands)]

    def _shots(self, seed: int) -> str:
        rng = random.Random(f"wordsum-shots-{seed}")
        lines = []
        for _ in range(self.config.n_shots):
            ops = self._operands(rng)
            lines.append(f"Question: {_question(rng, ops, self.config.style)}\nAnswer: {sum(ops)}\n\n")
        return "".join(lines)

    def sample(self, n: int, seed: int, **difficulty: Any) -> list[Problem]:
        """``n`` distinct problems, deterministic in ``seed``; ``difficulty`` overrides config fields."""
        if n <= 0:
            raise EmptyInputError(f"n must be positive, got {n}.")
        world = WordSumWorld(self.config.replace(**difficulty)) if difficulty else self
        rng = random.Random(f"wordsum-{seed}")
        shots = world._shots(seed)
        seen: set[str] = set()
        out: list[Problem] = []
        for _ in range(50 * n):
            ops = world._operands(rng)
            q = _question(rng, ops, world.config.style)
            if q in seen:
                continue
            seen.add(q)
            out.append(Problem(prompt=f"{shots}Question: {q}\nAnswer:", answer=str(sum(ops)),
                               meta={"operands": ops, "question": q, "n_operands": len(ops)}))
            if len(out) == n:
                return out
        raise InvalidConfigError(
            f"Only {len(out)} distinct problems exist for {world.config}; ask for fewer or widen the value range."
        )

    def reward(self, problem: Problem, completion: str) -> float:
        return 1.0 if first_integer(completion) == problem.answer else 0.0


def first_integer(text: str) -> str | None:
    """The first integer in ``text`` (as written, without leading zeros normalised), or None."""
    m = _INT.search(text)
    return m.group(0) if m else None


def make_reward(kind: Literal["correct", "format", "random"], seed: int = 0):
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


def held_out_problems(world: WordSumWorld, n: int, seed: int, exclude: Sequence[Problem]) -> list[Problem]:
    """``n`` problems from ``seed`` whose questions do not occur in ``exclude`` (the training set)."""
    banned = {p.meta["question"] for p in exclude}
    out = [p for p in world.sample(n + len(banned), seed) if p.meta["question"] not in banned][:n]
    if len(out) < n:
        raise InvalidConfigError(f"Only {len(out)} held-out problems are left after removing training questions.")
    return out


# ----------------------------------------------------------------------------------------------
# config
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RealRLConfig(FrozenConfig):
    """One GRPO+LoRA run on a real causal LM. ``model`` is an embedded model name or an HF folder."""

    model: str = "gemma-3-270m"
    task: WordSumConfig = WordSumConfig()
    seed: int = 0
    n_train_problems: int = 512
    eval_seed: int = 1_000_003
    n_eval_problems: int = 64
    # GRPO
    max_steps: int = 40
    prompts_per_step: int = 4
    num_generations: int = 8
    max_completion_length: int = 6
    temperature: float = 1.0
    learning_rate: float = 2e-4
    beta: float = 0.0
    warmup_steps: int = 0
    # "correct": 1 if the first integer is the sum; "format": 1 if the completion holds any integer;
    # "random": a seeded coin flip (spurious-reward control)
    reward: Literal["correct", "format", "random"] = "correct"
    # LoRA
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    # adapt only these layer indices (None: all). Adapting only the top layers also stops the backward
    # pass there, which is what makes a CPU run affordable.
    lora_layers: tuple[int, ...] | None = None
    # evaluation (pass@k over eval_samples samples per held-out problem)
    eval_samples: int = 8
    eval_ks: tuple[int, ...] = (1, 2, 4, 8)
    eval_temperature: float = 1.0
    eval_max_batch: int = 64
    # machine
    device: Literal["auto", "cpu"] = "cpu"
    bf16: bool = False  # bf16 mixed precision for training (GPUs); evaluation and saved adapters stay fp32
    torch_threads: int | None = None  # None: leave torch's default
    logging_steps: int = 1
    # save the adapter every N optimizer steps to <out>/checkpoints/step_NNNNNN (for dynamics; None = never)
    checkpoint_every: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("n_train_problems", "n_eval_problems", "max_steps", "prompts_per_step", "max_completion_length",
                     "eval_samples", "eval_max_batch", "lora_r", "logging_steps"):
            check_range(self, name, 1)
        check_range(self, "num_generations", 2)
        check_range(self, "temperature", 0.0, lo_open=True)
        check_range(self, "eval_temperature", 0.0, lo_open=True)
        check_range(self, "learning_rate", 0.0, lo_open=True)
        check_range(self, "beta", 0.0)
        check_range(self, "lora_dropout", 0.0, 1.0, hi_open=True)
        if any(k < 1 or k > self.eval_samples for k in self.eval_ks):
            raise InvalidConfigError(
                f"RealRLConfig.eval_ks={self.eval_ks} must lie in [1, eval_samples={self.eval_samples}];"
                " raise eval_samples or drop the larger k."
            )
        if self.checkpoint_every is not None:
            check_range(self, "checkpoint_every", 1)
        if self.eval_seed == self.seed:
            raise InvalidConfigError("RealRLConfig.eval_seed must differ from seed so held-out problems are new.")
        if not self.target_modules:
            raise InvalidConfigError("RealRLConfig.target_modules is empty: name the linear layers LoRA adapts.")


# ----------------------------------------------------------------------------------------------
# models
# ----------------------------------------------------------------------------------------------


def resolve_model_folder(model: str) -> Path:
    """An embedded model name (converted once, see :mod:`rlmeta_interp.embedded`) or an HF folder path."""
    from . import embedded

    if model in embedded.EMBEDDED_MODELS:
        return embedded.ensure_local_folder(model)
    folder = Path(model).expanduser()
    if not (folder / "config.json").exists():
        raise MissingWeightsError(
            f"{model!r} is neither an embedded model ({sorted(embedded.EMBEDDED_MODELS)}) nor a Hugging Face"
            " folder with a config.json. Pass one of those."
        )
    return folder.resolve()


def load_causal_lm(folder: str | os.PathLike, device: str = "cpu"):
    """``(model, tokenizer)`` from a local HF folder, fp32, eval mode, pad token set (no remote code)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32, trust_remote_code=False)
    tok = AutoTokenizer.from_pretrained(str(folder), trust_remote_code=False)
    if tok.pad_token is None:
        if tok.eos_token is None:
            raise InvalidConfigError(f"The tokenizer in {folder} has neither pad nor eos token; GRPO needs one.")
        tok.pad_token = tok.eos_token
    return model.to(device).eval(), tok


# ----------------------------------------------------------------------------------------------
# evaluation
# ----------------------------------------------------------------------------------------------


def evaluate_passk(
    model,
    tokenizer,
    world: World,
    problems: Sequence[Problem],
    *,
    n: int = 8,
    ks: Sequence[int] = (1, 2, 4, 8),
    max_new_tokens: int = 6,
    temperature: float = 1.0,
    seed: int = 0,
    max_batch: int = 64,
) -> dict[str, Any]:
    """Unbiased pass@k (mean over problems) from ``n`` samples per problem, plus greedy accuracy.

    Returns ``{"pass@k": ..., "greedy_accuracy": ..., "n": n, "n_problems": ..., "correct_per_problem": [...]}``.
    """
    if not problems:
        raise EmptyInputError("No evaluation problems: pass at least one Problem.")
    if any(k > n for k in ks):
        raise InvalidConfigError(f"ks={list(ks)} exceed n={n} samples per problem; never extrapolate past n.")
    from .sampling import sample_completions

    prompts = [p.prompt for p in problems]
    samples = sample_completions(model, tokenizer, prompts, n=n, max_new_tokens=max_new_tokens,
                                 temperature=temperature, seed=seed, max_batch=max_batch)
    greedy = sample_completions(model, tokenizer, prompts, n=1, max_new_tokens=max_new_tokens, greedy=True,
                                max_batch=max_batch)
    correct = [sum(world.is_correct(p, s) for s in row) for p, row in zip(problems, samples, strict=True)]
    out: dict[str, Any] = {f"pass@{k}": sum(pass_at_k(n, c, k) for c in correct) / len(problems) for k in ks}
    out["greedy_accuracy"] = sum(world.is_correct(p, g[0]) for p, g in zip(problems, greedy, strict=True)) / len(problems)
    out.update(n=n, n_problems=len(problems), correct_per_problem=correct,
               examples=[{"prompt_tail": p.prompt[-80:], "answer": p.answer, "samples": row[:3]}
                         for p, row in zip(problems[:3], samples[:3], strict=True)])
    return out


# ----------------------------------------------------------------------------------------------
# adapters on disk
# ----------------------------------------------------------------------------------------------


def _versions() -> dict[str, str]:
    out = {}
    for pkg in ("torch", "transformers", "trl", "peft", "accelerate", "safetensors"):
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = "absent"
    return out


def save_adapter(peft_model, out_dir: str | os.PathLike, manifest: dict[str, Any],
                 checkpoints: str | os.PathLike | None = None) -> Path:
    """Save a peft model's adapter (safetensors) plus ``manifest.json`` with sha256 of every file.

    Built in a temporary sibling folder and renamed into place; an existing ``out_dir`` is replaced.
    ``checkpoints`` (a folder of ``step_NNNNNN`` adapter folders) is moved in as ``checkpoints/``.
    """
    out_dir = Path(out_dir)
    ensure_dir(out_dir.parent)
    build = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".building", dir=out_dir.parent))
    os.chmod(build, 0o755)  # mkdtemp makes it private; the finished folder is an ordinary shared one
    try:
        peft_model.save_pretrained(str(build), safe_serialization=True)
        if not (build / "adapter_model.safetensors").exists():
            raise CorruptedCheckpointError(f"peft did not write adapter_model.safetensors into {build}.")
        # keep machine paths out of shippable files: peft records the base folder's absolute path
        (build / "README.md").unlink(missing_ok=True)  # peft's empty model-card template
        adapter_cfg = read_json(build / "adapter_config.json")
        adapter_cfg["base_model_name_or_path"] = manifest.get("base_model", adapter_cfg.get("base_model_name_or_path"))
        write_json_atomic(build / "adapter_config.json", adapter_cfg)
        if checkpoints is not None and Path(checkpoints).is_dir():
            shutil.move(str(checkpoints), str(build / "checkpoints"))
            for cfg_file in (build / "checkpoints").glob("*/adapter_config.json"):
                write_json_atomic(cfg_file, {**read_json(cfg_file),
                                             "base_model_name_or_path": adapter_cfg["base_model_name_or_path"]})
        files = {str(p.relative_to(build)): sha256_file(p) for p in sorted(build.rglob("*"))
                 if p.is_file() and p.name != ADAPTER_MANIFEST}
        write_json_atomic(build / ADAPTER_MANIFEST, {**manifest, "files": files, "versions": _versions()})
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.rename(out_dir, old)
            os.rename(build, out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(build, out_dir)
    finally:
        if build.exists():
            shutil.rmtree(build, ignore_errors=True)
    return out_dir


def verify_adapter(adapter_dir: str | os.PathLike) -> dict[str, Any]:
    """Check the adapter files against their manifest sha256; return the manifest."""
    adapter_dir = Path(adapter_dir)
    manifest = read_json(adapter_dir / ADAPTER_MANIFEST)
    files = manifest.get("files") or {}
    if "adapter_model.safetensors" not in files:
        raise CorruptedCheckpointError(f"{adapter_dir / ADAPTER_MANIFEST} lists no adapter_model.safetensors.")
    for rel, sha in files.items():
        verify_sha256(adapter_dir / rel, sha)
    return manifest


def load_with_adapter(base_model, adapter_dir: str | os.PathLike, *, merge: bool = True):
    """Attach a verified adapter to ``base_model``; with ``merge`` return a plain merged model (``merge_and_unload``)."""
    from peft import PeftModel

    verify_adapter(adapter_dir)
    peft_model = PeftModel.from_pretrained(base_model, str(adapter_dir), is_trainable=False)
    return peft_model.merge_and_unload().eval() if merge else peft_model.eval()


def merged_folder(adapter_dir: str | os.PathLike, out_dir: str | os.PathLike, base_folder: str | os.PathLike | None = None) -> Path:
    """Write base + adapter, merged, as an HF folder (the RL member of a real pair); skip if already there.

    ``base_folder`` defaults to resolving the manifest config's ``model`` (embedded name or folder) again.
    """
    out_dir = Path(out_dir)
    manifest = verify_adapter(adapter_dir)
    marker = out_dir / "merged_from.json"
    if marker.exists() and read_json(marker).get("adapter_sha256") == manifest["files"]["adapter_model.safetensors"]:
        return out_dir
    base = Path(base_folder) if base_folder is not None else resolve_model_folder(manifest["config"]["model"])
    model, tok = load_causal_lm(base)
    merged = load_with_adapter(model, adapter_dir, merge=True)
    ensure_dir(out_dir.parent)
    build = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".building", dir=out_dir.parent))
    os.chmod(build, 0o755)  # mkdtemp makes it private; the finished folder is an ordinary shared one
    try:
        merged.save_pretrained(str(build))
        tok.save_pretrained(str(build))
        write_json_atomic(build / "merged_from.json", {
            "adapter_dir": str(Path(adapter_dir).resolve()),
            "adapter_sha256": manifest["files"]["adapter_model.safetensors"],
            "base_folder": str(base),
            "files": {str(p.relative_to(build)): sha256_file(p) for p in sorted(build.rglob("*")) if p.is_file()},
        })
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.rename(build, out_dir)
    finally:
        if build.exists():
            shutil.rmtree(build, ignore_errors=True)
    return out_dir


# ----------------------------------------------------------------------------------------------
# training
# ----------------------------------------------------------------------------------------------


def _step_timer(checkpoint_dir: Path | None = None, every: int | None = None):
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        """Records wall time per optimizer step (TRL logs rewards but not step time); saves adapter checkpoints."""

        def __init__(self) -> None:
            self.times: list[float] = []
            self._t = time.perf_counter()

        def on_step_end_save(self, state, model) -> None:
            if checkpoint_dir is None or every is None or state.global_step % every or model is None:
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
    world = WordSumWorld(config.task)
    train_problems = world.sample(config.n_train_problems, config.seed)
    eval_problems = held_out_problems(world, config.n_eval_problems, config.eval_seed, train_problems)

    model, tok = load_causal_lm(folder, device=_device(config))
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
            learning_rate=config.learning_rate,
            warmup_steps=config.warmup_steps,
            beta=config.beta,
            max_steps=config.max_steps,
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
        "world": "wordsum",
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
    return read_json(out_dir / ADAPTER_MANIFEST)


# ----------------------------------------------------------------------------------------------
# command line (also the target of `accelerate launch -m rlmeta_interp.realrl`)
# ----------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m rlmeta_interp.realrl",
                                description="GRPO+LoRA on a real causal LM; saves a LoRA adapter with a manifest.")
    p.add_argument("--config", type=Path, help="JSON file with RealRLConfig fields (others keep defaults)")
    p.add_argument("--model", help="embedded model name or Hugging Face folder (overrides the config)")
    p.add_argument("--out", type=Path, required=True, help="folder for the adapter and its manifest")
    p.add_argument("--max-steps", type=int, help="override max_steps")
    p.add_argument("--seed", type=int, help="override seed")
    p.add_argument("--no-eval", action="store_true", help="skip the pass@k evaluation before and after")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    config = RealRLConfig.from_dict(read_json(args.config)) if args.config else RealRLConfig()
    overrides = {k: v for k, v in (("model", args.model), ("max_steps", args.max_steps), ("seed", args.seed))
                 if v is not None}
    if overrides:
        config = config.replace(**overrides)
    manifest = train(config, args.out, evaluate=not args.no_eval)
    if manifest.get("metrics"):
        log.info("delta (RL - base): %s", manifest["metrics"].get("delta"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
