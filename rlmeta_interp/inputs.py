"""One validator for what users hand the library's public functions: prompts, token tensors, counts and numbers.

``harvest``, ``sample_completions`` and steering call these at their boundary, so a wrong type, a NaN, a left-padded
batch, an id outside the vocabulary or a prompt longer than the context is a typed error naming the fix, never a
deep library traceback or a silently wrong result.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .errors import EmptyInputError, InputTooLongError, InvalidConfigError, NonFiniteError

# Above this magnitude a steering multiplier or scale is a typo, not an experiment: residual norms of the models here
# are O(1)-O(100), so 1e6 times a unit vector already drowns every activation.
MAX_MAGNITUDE = 1e6


def check_prompts(prompts: Any, what: str = "prompts") -> list[str]:
    """``prompts`` as a list of strings. A bare string (which iterates as characters) and non-string items raise."""
    if isinstance(prompts, str):
        raise InvalidConfigError(
            f"{what} is a single string ({prompts[:40]!r}); it would be read as one prompt per character. Pass a list:"
            f" [{prompts[:20]!r}]."
        )
    if isinstance(prompts, Tensor) or not isinstance(prompts, Iterable):
        raise InvalidConfigError(f"{what} must be a list of strings, got {type(prompts).__name__}.")
    out = list(prompts)
    if not out:
        raise EmptyInputError(f"No {what} given: pass at least one prompt string.")
    for i, p in enumerate(out):
        if not isinstance(p, str):
            raise InvalidConfigError(f"{what}[{i}] is {type(p).__name__} {p!r}, not a string: pass a list of strings.")
    return out


def check_prompt_pairs(prompts: Any, completions: Any) -> tuple[list[str], list[str]]:
    """Prompts and their completions: two lists of strings of one length (each checked by :func:`check_prompts`)."""
    p, c = check_prompts(prompts, "prompts"), check_prompts(completions, "completions")
    if len(p) != len(c):
        raise InvalidConfigError(f"{len(p)} prompts but {len(c)} completions: pass one completion per prompt.")
    return p, c


def check_names(names: Any, what: str) -> list[str]:
    """A list of names (hook names, indicator names); a bare string is rejected for the same reason as prompts."""
    if isinstance(names, str):
        raise InvalidConfigError(f"{what} is a single string ({names!r}); pass a list: [{names!r}].")
    out = list(names)
    for n in out:
        if not isinstance(n, str):
            raise InvalidConfigError(f"{what} must be strings, got {type(n).__name__} {n!r}.")
    return out


def is_int(value: Any) -> bool:
    """Whether ``value`` is an integer (Python's or numpy's), not a bool and not a float such as 2.0."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def check_int(value: Any, name: str, lo: int | None = None, hi: int | None = None) -> int:
    """An integer (not a bool, not a float such as 2.5) within ``[lo, hi]``."""
    if not is_int(value):
        raise InvalidConfigError(f"{name} must be an integer, got {type(value).__name__} {value!r}.")
    value = int(value)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        rng = f"[{lo if lo is not None else '-inf'}, {hi if hi is not None else 'inf'}]"
        raise InvalidConfigError(f"{name}={value} is outside {rng}: pass an integer in that range.")
    return value


def check_number(value: Any, name: str, lo: float | int | None = None, hi: float | int | None = None, *,
                 lo_open: bool = False, max_abs: float | int | None = None) -> float:
    """A finite real number (not a bool, not NaN/inf) within the bounds, and at most ``max_abs`` in magnitude."""
    if isinstance(value, Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidConfigError(f"{name} must be a number, got {type(value).__name__} {value!r}.")
    value = float(value)
    if not math.isfinite(value):
        raise NonFiniteError(f"{name} is {value}: pass a finite number.")
    if max_abs is not None and abs(value) > max_abs:
        raise InvalidConfigError(f"{name}={value:g} is larger in magnitude than {max_abs:g}, which no experiment"
                                 " here needs: check for a typo (e.g. 1e3 instead of 3).")
    bad_lo = lo is not None and (value <= lo if lo_open else value < lo)
    if bad_lo or (hi is not None and value > hi):
        lb = "(" if lo_open else "["
        raise InvalidConfigError(f"{name}={value:g} is outside {lb}{lo if lo is not None else '-inf'},"
                                 f" {hi if hi is not None else 'inf'}]: pass a value in that range.")
    return value


def check_float_array(x: Tensor | Any, name: str) -> np.ndarray:
    """``x`` (a tensor or array-like) as a float64 numpy array, or a typed error when it is empty or not finite."""
    arr = x.detach().cpu().double().numpy() if isinstance(x, Tensor) else np.asarray(x, dtype=np.float64)
    if arr.size == 0:
        raise EmptyInputError(f"{name} is empty: pass at least one row of activations / labels.")
    if not np.all(np.isfinite(arr)):
        raise NonFiniteError(f"{name} holds NaN or inf: recompute it (activations: harvest again in float32) or drop"
                             " those rows.")
    return arr


def check_finite_tensor(t: Tensor, name: str, fix: str = "recompute it") -> Tensor:
    if not torch.isfinite(t).all():
        raise NonFiniteError(f"{name} contains NaN or inf: {fix}.")
    return t


def check_token_batch(ids: Any, attention_mask: Any, *, vocab_size: int, n_ctx: int | None,
                      what: str = "token ids") -> tuple[Tensor, Tensor]:
    """``(ids, mask)`` as CPU long tensors after checking a ``[batch, pos]`` token batch.

    Checks: integer dtype, 2-D, non-empty, ids in ``[0, vocab_size)``, a 0/1 mask of the same shape, padding on the
    right only (every row is ones then zeros), no row without tokens, and no row longer than the context.
    """
    if not isinstance(ids, Tensor):
        raise InvalidConfigError(f"{what} must be a torch tensor [batch, pos] (or pass a list of strings).")
    if ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool:
        raise InvalidConfigError(
            f"Token ids must be an integer tensor, got {ids.dtype}: pass model.to_tokens(prompts)[0] or a list of"
            " strings."
        )
    if ids.ndim != 2 or ids.shape[0] == 0 or ids.shape[1] == 0:
        raise EmptyInputError(f"Token tensor must be [batch, pos] and non-empty, got shape {tuple(ids.shape)}:"
                              " add a batch dimension with ids[None] for one sequence.")
    ids = ids.detach().long().cpu()
    lo, hi = int(ids.min()), int(ids.max())
    if lo < 0 or hi >= vocab_size:
        raise InvalidConfigError(
            f"{what} hold ids in [{lo}, {hi}], but this model's vocabulary has ids 0..{vocab_size - 1}: tokenize with"
            " this model's own tokenizer (model.to_tokens)."
        )
    if attention_mask is None:
        mask = torch.ones_like(ids)
    else:
        if not isinstance(attention_mask, Tensor) or tuple(attention_mask.shape) != tuple(ids.shape):
            shape = tuple(attention_mask.shape) if isinstance(attention_mask, Tensor) else type(attention_mask).__name__
            raise InvalidConfigError(f"attention_mask must be a tensor of the ids' shape {tuple(ids.shape)}, got"
                                     f" {shape}.")
        m = attention_mask.detach().cpu()
        if not ((m == 0) | (m == 1)).all():
            raise InvalidConfigError("attention_mask must hold only 0 and 1 (1 for real tokens, 0 for padding).")
        mask = m.long()
    lengths = mask.sum(1)
    if (lengths == 0).any():
        row = int((lengths == 0).nonzero()[0])
        raise EmptyInputError(f"Row {row} of the attention mask has no real tokens: drop that row.")
    # right padding: each row is lengths[i] ones followed by zeros
    expected = (torch.arange(mask.shape[1])[None, :] < lengths[:, None]).long()
    if not torch.equal(mask, expected):
        row = int((mask != expected).any(1).nonzero()[0])
        raise InvalidConfigError(
            f"Row {row} of the attention mask is not right-padded (padding must come after the tokens): tokenize with"
            " padding_side='right' (model.to_tokens does), or pass a list of strings."
        )
    if n_ctx is not None and int(lengths.max()) > n_ctx:
        raise InputTooLongError(
            f"The longest sequence has {int(lengths.max())} tokens, more than the model's context of {n_ctx}:"
            " shorten it."
        )
    return ids, mask
