"""Likelihood of one model's samples under another (claim 3 in docs/claims.md).

Yue et al. 2504.13837 find that RL samples have low perplexity under the base model: RL reweights
outputs the base model already produces (activation evidence). Here the negative log-likelihood of each
completion's tokens, given its prompt, is computed in batched forwards with right padding and masks.

Tokenisation: ``<bos>`` (when the tokenizer has one) + ``prompt`` tokens + ``completion`` tokens, each
tokenised on its own (as :func:`rlmeta_interp.sampling.sample_completions` does with prompts; the
completion text is re-tokenised, which for a char-level tokenizer is exact). Only completion tokens
(and the EOS, with ``add_eos=True``) are scored. An empty completion without EOS has no tokens: its
NLL is NaN and the summaries count it in ``n_empty``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from jaxtyping import Float, Int
from torch import Tensor
from tqdm.auto import tqdm

from ..errors import EmptyInputError, InputTooLongError, InvalidConfigError
from ..inputs import check_prompt_pairs
from ..sampling import context_length
from ..views import hf_view
from .ratios import bootstrap_ratio_ci

log = logging.getLogger(__name__)


def _encode(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def build_batch(
    tokenizer: Any, prompts: Sequence[str], completions: Sequence[str], add_eos: bool, max_len: int | None
) -> tuple[Int[Tensor, "batch pos"], Int[Tensor, "batch pos"], Int[Tensor, "batch pos"]]:
    """``(input_ids, attention_mask, score_mask)``; ``score_mask[i, t] = 1`` where token t is scored
    (predicted from position t-1)."""
    rows, starts = [], []
    bos = tokenizer.bos_token_id
    for p, c in zip(prompts, completions, strict=True):
        head = ([bos] if bos is not None else []) + _encode(tokenizer, p)
        tail = _encode(tokenizer, c) + ([tokenizer.eos_token_id] if add_eos else [])
        if not head:
            raise EmptyInputError("A prompt with no tokens and a tokenizer without BOS leaves nothing to condition on.")
        rows.append(head + tail)
        starts.append(len(head))
    width = max(len(r) for r in rows)
    if max_len is not None and width > max_len:
        raise InputTooLongError(
            f"A prompt + completion has {width} tokens, more than the model's context of {max_len}: truncate the"
            " completions (e.g. sample with a smaller max_new_tokens)."
        )
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    attn = torch.zeros_like(ids)
    score = torch.zeros_like(ids)
    for i, (r, s) in enumerate(zip(rows, starts, strict=True)):
        ids[i, : len(r)] = torch.tensor(r)
        attn[i, : len(r)] = 1
        score[i, s : len(r)] = 1
    return ids, attn, score


@torch.inference_mode()
def token_logprobs(
    model: Any,
    prompts: Sequence[str],
    completions: Sequence[str],
    *,
    tokenizer: Any | None = None,
    add_eos: bool = False,
    batch_size: int = 32,
    progress: bool = False,
) -> list[Float[Tensor, " completion_tokens"]]:
    """Log-probability of every completion token under ``model``, one 1-D tensor per (prompt, completion)."""
    hf, tok = hf_view(model, tokenizer, require_tokenizer=True)
    prompts, completions = check_prompt_pairs(prompts, completions)
    if batch_size < 1:
        raise InvalidConfigError(f"batch_size must be >= 1, got {batch_size}.")
    device = next(hf.parameters()).device
    out: list[Tensor] = []
    for start in tqdm(range(0, len(prompts), batch_size), desc="scoring", disable=not progress, leave=False):
        ids, attn, score = build_batch(tok, prompts[start : start + batch_size], completions[start : start + batch_size],
                                        add_eos, context_length(hf))
        logits = hf(input_ids=ids.to(device), attention_mask=attn.to(device)).logits.float()
        logp = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, ids[:, 1:, None].to(device))[..., 0].cpu()
        mask = score[:, 1:].bool()
        out.extend(logp[i][mask[i]] for i in range(ids.shape[0]))
    return out


def completion_nll(
    model: Any,
    prompts: Sequence[str],
    completions: Sequence[str],
    *,
    tokenizer: Any | None = None,
    add_eos: bool = False,
    batch_size: int = 32,
    progress: bool = False,
) -> pd.DataFrame:
    """Per sample: ``sample, n_tokens, nll_sum, nll`` (mean NLL per completion token, nats) and ``ppl = exp(nll)``."""
    lps = token_logprobs(model, prompts, completions, tokenizer=tokenizer, add_eos=add_eos,
                         batch_size=batch_size, progress=progress)
    n = np.array([lp.numel() for lp in lps])
    s = np.array([-float(lp.double().sum()) for lp in lps])
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, s / np.maximum(n, 1), np.nan)
    return pd.DataFrame({"sample": np.arange(len(lps)), "n_tokens": n, "nll_sum": s, "nll": mean, "ppl": np.exp(mean)})


def samples_nll(
    model: Any,
    prompts: Sequence[str],
    samples: Sequence[Sequence[str]],
    *,
    tokenizer: Any | None = None,
    add_eos: bool = False,
    batch_size: int = 32,
    progress: bool = False,
) -> pd.DataFrame:
    """:func:`completion_nll` for ``samples[prompt][j]`` (as returned by ``sample_completions``);
    adds a ``prompt`` column (the index of the prompt) for bootstrapping over prompts."""
    if len(prompts) != len(samples):
        raise InvalidConfigError(f"{len(prompts)} prompts but {len(samples)} sample lists: pass one list per prompt.")
    flat_p = [p for p, ss in zip(prompts, samples, strict=True) for _ in ss]
    flat_c = [c for ss in samples for c in ss]
    df = completion_nll(model, flat_p, flat_c, tokenizer=tokenizer, add_eos=add_eos, batch_size=batch_size, progress=progress)
    df.insert(0, "prompt", np.repeat(np.arange(len(samples)), [len(ss) for ss in samples]))
    return df


def nll_summary(per_sample: pd.DataFrame, *, n_boot: int = 1000, ci: float = 0.95, seed: int = 0) -> dict[str, float]:
    """Token-weighted NLL (``nll``, its ``ppl``) with a bootstrap CI over prompts (or samples, without a
    ``prompt`` column), plus ``n_samples``, ``n_tokens``, ``n_empty``."""
    valid = per_sample[per_sample["n_tokens"] > 0]
    if valid.empty:
        raise EmptyInputError("Every completion is empty: nothing to score. Sample longer completions or pass add_eos=True.")
    unit = "prompt" if "prompt" in valid.columns else "sample"
    g = valid.groupby(unit)[["nll_sum", "n_tokens"]].sum()
    nll = float(g["nll_sum"].sum() / g["n_tokens"].sum())
    lo, hi = bootstrap_ratio_ci(g["nll_sum"].to_numpy(), g["n_tokens"].to_numpy(), n_boot=n_boot, ci=ci, seed=seed)
    return {"nll": nll, "ci_lo": lo, "ci_hi": hi, "ppl": float(np.exp(nll)), "ppl_lo": float(np.exp(lo)),
            "ppl_hi": float(np.exp(hi)), "n_samples": int(len(per_sample)), "n_tokens": int(valid["n_tokens"].sum()),
            "n_empty": int((per_sample["n_tokens"] == 0).sum())}


def cross_likelihood(
    scorers: Mapping[str, Any],
    prompts: Sequence[str],
    samples: Mapping[str, Sequence[Sequence[str]]],
    *,
    add_eos: bool = False,
    batch_size: int = 32,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Every sample set scored by every model: rows ``samples_from, scored_by, nll, ci_lo, ci_hi, ppl, ...``.

    E.g. ``cross_likelihood({"base": pair.base, "rl": pair.rl}, prompts, {"base": sb, "rl": sr})``; the row
    (samples_from="rl", scored_by="base") is the in-distribution check of Yue et al.
    """
    if not scorers or not samples:
        raise EmptyInputError("Pass at least one scoring model and one set of samples.")
    rows = []
    for src, ss in samples.items():
        for name, model in scorers.items():
            df = samples_nll(model, prompts, ss, add_eos=add_eos, batch_size=batch_size)
            rows.append({"samples_from": src, "scored_by": name, **nll_summary(df, n_boot=n_boot, ci=ci, seed=seed)})
    return pd.DataFrame(rows)


def ppl_ratio(
    samples_a: pd.DataFrame, samples_b: pd.DataFrame, *, n_boot: int = 1000, ci: float = 0.95, seed: int = 0
) -> dict[str, float]:
    """``ppl(a) / ppl(b) = exp(nll_a - nll_b)`` for two sample sets scored by the *same* model (token-weighted NLL),
    with a CI from a paired bootstrap over prompts: one resample of the prompts resamples both sets together.

    ``samples_a`` / ``samples_b``: :func:`samples_nll` frames over the same prompts (e.g. RL samples and base samples,
    both scored by the base). Unlike a CI from ``samples_a`` alone, this one includes the variance of the reference.
    Returns ``ratio, ci_lo, ci_hi, nll_a, nll_b, n_prompts``.
    """
    from scipy import stats as sps

    for name, df in (("samples_a", samples_a), ("samples_b", samples_b)):
        missing = {"prompt", "nll_sum", "n_tokens"} - set(df.columns)
        if missing:
            raise InvalidConfigError(f"{name} lacks columns {sorted(missing)}: pass the frame from samples_nll.")
    ga = samples_a.groupby("prompt")[["nll_sum", "n_tokens"]].sum()
    gb = samples_b.groupby("prompt")[["nll_sum", "n_tokens"]].sum()
    if set(ga.index) != set(gb.index):
        raise InvalidConfigError("samples_a and samples_b cover different prompts: score both sample sets on the same prompts.")
    gb = gb.loc[ga.index]
    xa, ta = ga["nll_sum"].to_numpy(float), ga["n_tokens"].to_numpy(float)
    xb, tb = gb["nll_sum"].to_numpy(float), gb["n_tokens"].to_numpy(float)
    if ta.sum() <= 0 or tb.sum() <= 0:
        raise EmptyInputError("One sample set has no completion tokens: sample longer completions or pass add_eos=True.")
    nll_a, nll_b = float(xa.sum() / ta.sum()), float(xb.sum() / tb.sum())
    ratio = float(np.exp(nll_a - nll_b))

    def stat(a: np.ndarray, s: np.ndarray, b: np.ndarray, t: np.ndarray, axis: int = -1) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.exp(a.sum(axis) / s.sum(axis) - b.sum(axis) / t.sum(axis))

    if len(xa) < 2:
        lo = hi = float("nan")
    else:
        res = sps.bootstrap((xa, ta, xb, tb), stat, paired=True, vectorized=True, n_resamples=n_boot,
                            confidence_level=ci, method="percentile", rng=np.random.default_rng(seed))
        lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return {"ratio": ratio, "ci_lo": lo, "ci_hi": hi, "nll_a": nll_a, "nll_b": nll_b, "n_prompts": int(len(xa))}


def policy_kl(nll_under_reference: pd.DataFrame, nll_under_policy: pd.DataFrame, *, n_boot: int = 1000,
              ci: float = 0.95, seed: int = 0) -> dict[str, float]:
    """KL(policy || reference) per token, estimated on the policy's own samples: the token-weighted mean of
    ``NLL under reference - NLL under policy`` (two :func:`samples_nll` tables of the same samples, row for row),
    with a bootstrap CI over prompts. 0 when the reference already writes what the policy writes, as likely; large
    when the policy writes what the reference would not. Tables made with ``add_eos=True`` score an EOS after every
    sample in both models, also after samples cut at the length limit (one token of each sample)."""
    a, b = nll_under_reference, nll_under_policy
    same_prompts = "prompt" not in a.columns or ("prompt" in b.columns and len(a) == len(b)
                                                  and (a["prompt"].to_numpy() == b["prompt"].to_numpy()).all())
    if len(a) != len(b) or not same_prompts or not (a["n_tokens"].to_numpy() == b["n_tokens"].to_numpy()).all():
        raise InvalidConfigError("policy_kl needs two NLL tables of the same samples (equal rows and token counts):"
                                 " score the policy's samples under both models with samples_nll.")
    ok = a["n_tokens"].to_numpy() > 0
    if not ok.any():
        raise EmptyInputError("Every sample is empty: nothing to score. Sample longer completions or add EOS.")
    unit = a["prompt"].to_numpy()[ok] if "prompt" in a.columns else np.arange(int(ok.sum()))
    diff = pd.DataFrame({"unit": unit, "d": (a["nll_sum"] - b["nll_sum"]).to_numpy()[ok],
                         "n": a["n_tokens"].to_numpy()[ok]}).groupby("unit")[["d", "n"]].sum()
    lo, hi = bootstrap_ratio_ci(diff["d"].to_numpy(), diff["n"].to_numpy(), n_boot=n_boot, ci=ci, seed=seed)
    return {"kl": float(diff["d"].sum() / diff["n"].sum()), "ci_lo": lo, "ci_hi": hi, "n_units": int(len(diff)),
            "n_tokens": int(diff["n"].sum())}
