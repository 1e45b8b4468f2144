"""GRPO with LoRA on a real causal LM: the project's real base/RL pair.

No package ships a base/RL pair of one real model, so this package makes one: it RL-tunes a LoRA adapter on word
sums (:mod:`rlmeta_interp.organism.worlds.wordsum`), saves it as an adapter folder
(:mod:`rlmeta_interp.sources.adapter`, where adapter pairs are also registered), and measures held-out pass@k of
the base model and of base + adapter. One module per job: :mod:`.config` (the run config, with the organism
``RLConfig``'s field names), :mod:`.evaluate` (loading and pass@k), :mod:`.train` (TRL + peft), :mod:`.cli`::

    python -m rlmeta_interp.realrl --config run.json --out results/realrl/run1
    accelerate launch --config_file configs/accelerate/single_cpu.yaml -m rlmeta_interp.realrl --config run.json
    accelerate launch --config_file configs/accelerate/multi_gpu.yaml -m rlmeta_interp.realrl --model <folder>
"""

from __future__ import annotations

from ..organism.worlds.wordsum import WordSumConfig, WordSumWorld, first_integer, held_out_problems
from ..sources.adapter import load_with_adapter, merged_folder, save_adapter, verify_adapter
from .cli import build_parser, main
from .config import RENAMED_KEYS, RealRLConfig
from .evaluate import evaluate_passk, load_causal_lm, resolve_model_folder
from .train import RewardFunction, make_reward, train

__all__ = [
    "RENAMED_KEYS", "RealRLConfig", "RewardFunction", "WordSumConfig", "WordSumWorld", "build_parser",
    "evaluate_passk", "first_integer", "held_out_problems", "load_causal_lm", "load_with_adapter", "main",
    "make_reward", "merged_folder", "resolve_model_folder", "save_adapter", "train", "verify_adapter",
]
