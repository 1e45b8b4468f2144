"""Loading a real causal LM for RL, and held-out pass@k of a model on a world's problems."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from .. import registry, sources
from ..analysis.passk import pass_at_k
from ..config import LoadConfig
from ..errors import EmptyInputError, InvalidConfigError
from ..organism.worlds.base import Problem, World
from ..sampling import sample_completions


def resolve_model_folder(model: str | os.PathLike) -> Path:
    """A registry model name (embedded real LMs are converted once) or a Hugging Face folder -> its local folder."""
    return sources.folder_of(registry.resolve_model(model))


def load_causal_lm(folder: str | os.PathLike, device: str = "cpu") -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """``(model, tokenizer)`` from a local HF folder through the strict loader: fp32, eval mode, pad token set."""
    model, tok = sources.load_hf_folder(folder, LoadConfig(device=device))
    if tok.pad_token is None:
        raise InvalidConfigError(
            f"The tokenizer in {folder} has neither a pad nor an EOS token; GRPO needs one to pad completions."
            " Set tokenizer.pad_token and save the tokenizer into the folder."
        )
    return model, tok


def evaluate_passk(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
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
