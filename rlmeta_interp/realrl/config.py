"""The config of one GRPO+LoRA run on a real causal LM, with the field names of the organisms' ``RLConfig``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ..config import FrozenConfig, check_range
from ..errors import InvalidConfigError
from ..organism.worlds.wordsum import WordSumConfig, WordSumWorld

#: keys of older run.json files and the field each is called now
RENAMED_KEYS = {"task": "wordsum", "learning_rate": "lr", "max_steps": "steps"}


@dataclass(frozen=True)
class RealRLConfig(FrozenConfig):
    """One GRPO+LoRA run on a real causal LM. ``model`` is a registry model name or a Hugging Face folder.

    As in :class:`rlmeta_interp.organism.rl.RLConfig`: ``world`` names the world and the field of that name holds
    its config (the training distribution), ``steps`` counts optimizer steps, ``lr`` is the peak learning rate, and
    ``checkpoint_every`` = 0 saves no dynamics checkpoints.
    """

    model: str = "gemma-3-270m"
    world: Literal["wordsum"] = "wordsum"
    wordsum: WordSumConfig = field(default_factory=WordSumConfig)
    seed: int = 0
    n_train_problems: int = 512
    eval_seed: int = 1_000_003
    n_eval_problems: int = 64
    # GRPO
    steps: int = 40
    prompts_per_step: int = 4
    num_generations: int = 8
    max_completion_length: int = 6
    temperature: float = 1.0
    lr: float = 2e-4
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
    # save the adapter every N optimizer steps to <out>/checkpoints/step_NNNNNN (for dynamics; 0 = never)
    checkpoint_every: int = 0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RealRLConfig:
        """As :meth:`FrozenConfig.from_dict`; a file with the older key names gets an error saying what to rename."""
        old = [k for k in RENAMED_KEYS if k in data]
        if old or ("checkpoint_every" in data and data["checkpoint_every"] is None):
            renames = [f"{k!r} -> {RENAMED_KEYS[k]!r}" for k in old]
            if "checkpoint_every" in data and data["checkpoint_every"] is None:
                renames.append("'checkpoint_every': null -> 0")
            raise InvalidConfigError(
                f"This run config uses older key names: {', '.join(renames)}. RealRLConfig uses the organism"
                " RLConfig's names; rename those keys in the JSON file (values stay the same)."
            )
        return super().from_dict(data)

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("n_train_problems", "n_eval_problems", "steps", "prompts_per_step", "max_completion_length",
                     "eval_samples", "eval_max_batch", "lora_r", "logging_steps"):
            check_range(self, name, 1)
        check_range(self, "num_generations", 2)
        check_range(self, "temperature", 0.0, lo_open=True)
        check_range(self, "eval_temperature", 0.0, lo_open=True)
        check_range(self, "lr", 0.0, 1.0, lo_open=True)
        check_range(self, "beta", 0.0)
        check_range(self, "warmup_steps", 0)
        check_range(self, "checkpoint_every", 0)
        check_range(self, "lora_dropout", 0.0, 1.0, hi_open=True)
        check_range(self, "lora_alpha", 1)
        if self.torch_threads is not None:
            check_range(self, "torch_threads", 1)
        if self.lora_layers is not None and (not self.lora_layers or min(self.lora_layers) < 0):
            raise InvalidConfigError(f"RealRLConfig.lora_layers={self.lora_layers}: name layer indices from 0 (None:"
                                     " every layer).")
        if any(k < 1 or k > self.eval_samples for k in self.eval_ks):
            raise InvalidConfigError(
                f"RealRLConfig.eval_ks={self.eval_ks} must lie in [1, eval_samples={self.eval_samples}];"
                " raise eval_samples or drop the larger k."
            )
        if self.eval_seed == self.seed:
            raise InvalidConfigError("RealRLConfig.eval_seed must differ from seed so held-out problems are new.")
        if not self.target_modules:
            raise InvalidConfigError("RealRLConfig.target_modules is empty: name the linear layers LoRA adapts.")

    def world_obj(self) -> WordSumWorld:
        """The world object of :attr:`world` with its config."""
        return WordSumWorld(self.wordsum)
