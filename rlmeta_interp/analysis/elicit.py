"""Elicitation: fine-tune a copy of the base for a few steps on the trained model's own outputs, and measure how much
of the trained model's gain that recovers.

The idea comes from capability-elicitation work (Greenblatt et al., arXiv 2405.19550, password-locked models: a few
demonstrations fine-tuned into a model bring back a capability it holds but does not show). The hypothesis: a base
that already has the capability needs only to be pointed at it, so a short fine-tuning recovers most of the gain
(activation), while a base that lacks it would have to learn it (creation). A short fine-tuning can also damage the
base instead (it did on the arithmetic depth organisms; ``indicators/elicitation.py`` lists what was measured). The
demonstrations come from problems disjoint from the evaluated ones, so the base never sees an evaluated problem's
answer.

:func:`finetune_copy` is the training loop (a plain AdamW loop on next-token loss at masked positions: a few dozen
steps on token tensors already built, which TRL's and transformers' trainers would wrap in datasets, collators and
output folders for no gain). :func:`single_turn_demos` and :func:`bandit_demos` build the token tensors.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
from jaxtyping import Int
from torch import Tensor

from ..errors import EmptyInputError, InvalidConfigError


def finetune_copy(model: Any, ids: Int[Tensor, "n pos"], attention: Int[Tensor, "n pos"], loss_mask: Int[Tensor, "n pos"],
                  *, steps: int, lr: float, batch_size: int, seed: int = 0, warmup_steps: int = 0) -> Any:
    """A copy of the Hugging Face causal LM ``model`` trained for ``steps`` AdamW steps (no weight decay; ``lr``
    reached linearly over ``warmup_steps``, then constant) on the next-token loss at the positions where
    ``loss_mask`` is 1 (token t, predicted from t - 1), with ``batch_size`` rows drawn at random per step. ``model``
    itself is not changed. The copy is returned in eval mode."""
    if ids.shape != attention.shape or ids.shape != loss_mask.shape or ids.ndim != 2:
        raise InvalidConfigError(f"ids, attention and loss_mask must share one [n, pos] shape; got {tuple(ids.shape)},"
                                 f" {tuple(attention.shape)}, {tuple(loss_mask.shape)}.")
    if ids.shape[0] == 0 or not loss_mask[:, 1:].any():
        raise EmptyInputError("No demonstration token to train on: the loss mask is empty. Sample longer outputs.")
    if steps < 0 or batch_size < 1 or not lr > 0 or warmup_steps < 0:
        raise InvalidConfigError(f"steps={steps}, batch_size={batch_size}, lr={lr}, warmup_steps={warmup_steps}: use"
                                 " steps >= 0, batch_size >= 1, lr > 0, warmup_steps >= 0.")
    tuned = copy.deepcopy(model)
    device = next(tuned.parameters()).device
    opt = torch.optim.AdamW(tuned.parameters(), lr=lr, weight_decay=0.0)
    gen = torch.Generator().manual_seed(seed)
    tuned.train()
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr * min(1.0, (step + 1) / (warmup_steps + 1))
        idx = torch.randint(ids.shape[0], (batch_size,), generator=gen)
        x, att, m = ids[idx].to(device), attention[idx].to(device), loss_mask[idx, 1:].to(device).float()
        logits = tuned(input_ids=x, attention_mask=att).logits[:, :-1].float()
        logp = torch.log_softmax(logits, dim=-1).gather(-1, x[:, 1:, None])[..., 0]
        loss = -(logp * m).sum() / m.sum().clamp(min=1.0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    tuned.eval()
    return tuned


def single_turn_demos(tokenizer: Any, prompts: Sequence[str], completions: Sequence[str], max_len: int | None
                      ) -> tuple[Int[Tensor, "n pos"], Int[Tensor, "n pos"], Int[Tensor, "n pos"]]:
    """``(ids, attention, loss_mask)`` of ``BOS prompt completion EOS`` texts; the loss covers the completion and its
    EOS (what the trained model chose to write), not the prompt. A completion cut at the sampling length limit gets
    an EOS too, as in the likelihood indicator's scoring."""
    from .likelihood import build_batch

    if not prompts:
        raise EmptyInputError("No demonstrations given: pass the trained model's completions of some problems.")
    return build_batch(tokenizer, list(prompts), list(completions), True, max_len)


def bandit_demos(tokens: Int[Tensor, "n steps"], model_mask: Int[Tensor, "n steps"], bos_token_id: int
                 ) -> tuple[Int[Tensor, "n pos"], Int[Tensor, "n pos"], Int[Tensor, "n pos"]]:
    """``(ids, attention, loss_mask)`` of bandit episodes (``BanditRollouts.tokens`` and ``model_mask``) behind a BOS;
    the loss covers the arm tokens the trained model wrote, not the environment's reward tokens."""
    if tokens.ndim != 2 or tokens.shape != model_mask.shape or tokens.shape[0] == 0:
        raise InvalidConfigError(f"tokens and model_mask must share one non-empty [episodes, steps] shape; got"
                                 f" {tuple(tokens.shape)} and {tuple(model_mask.shape)}.")
    bos = torch.full((tokens.shape[0], 1), int(bos_token_id), dtype=tokens.dtype)
    ids = torch.cat([bos, tokens], dim=1)
    mask = torch.cat([torch.zeros_like(bos), model_mask.to(tokens.dtype)], dim=1)
    return ids, torch.ones_like(ids), mask


def with_weights(model: Any, hf: Any, suffix: str = "+elicited") -> Any:
    """``model`` (a ``LoadedModel``) with its Hugging Face network replaced by ``hf``, named ``<name><suffix>``."""
    if not hasattr(model, "with_hf"):
        raise InvalidConfigError(f"with_weights takes a LoadedModel, got {type(model).__name__}.")
    return model.with_hf(hf, f"{model.name}{suffix}")

