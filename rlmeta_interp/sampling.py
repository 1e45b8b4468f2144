"""Batched, KV-cached sampling through the Hugging Face model.

TransformerLens ``generate`` is 1.6-3x slower than Hugging Face ``generate`` (docs/stack.md, "Speed"), so every
bulk sampling job (pass@k, RL evaluation, likelihood) goes through here; TransformerLens stays for
interactive hooks and steering.

Long sampling jobs resume: with ``cache_dir``, :func:`sample_completions` writes each chunk's generated tokens to
its own file (atomically) in a folder keyed by the model's weights and everything else that decides the samples, and
a later call with the same inputs reads finished chunks back instead of sampling them again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from jaxtyping import Int
from torch import Tensor
from tqdm.auto import tqdm
from transformers import LogitsProcessorList, PreTrainedModel, PreTrainedTokenizerBase

from .errors import CorruptedCheckpointError, EmptyInputError, InputTooLongError, InvalidConfigError, NonFiniteError
from .inputs import check_int, check_number, check_prompts
from .codesource import code_digest
from .io import hash_tensors, load_tensors, save_tensors_atomic, weights_hash, write_json_atomic

_REBUILD = "call sample_completions(...) again with the same cache_dir; it samples that chunk again"

log = logging.getLogger(__name__)


class _FiniteLogits:
    """A generation logits processor that raises :class:`NonFiniteError` at the first step whose scores hold NaN or
    +inf, or a row with no finite score: sampling would fail inside torch (``multinomial``) and greedy decoding would
    silently pick token 0 for every row. Scores pass through unchanged, so the samples are those of plain
    ``generate``. Hand-written because transformers has no processor that checks the scores."""

    def __call__(self, input_ids: Tensor, scores: Tensor) -> Tensor:
        finite = torch.isfinite(scores)
        if finite.all():  # the usual case: one pass over the scores
            return scores
        # -inf alone is a token masked out on purpose (e.g. a suppressed token); NaN, +inf or a row of -inf is not
        if torch.isnan(scores).any() or torch.isposinf(scores).any() or not finite.any(-1).all():
            raise NonFiniteError(
                f"The model's next-token scores hold NaN or inf after {input_ids.shape[1]} tokens (prompt included):"
                " its weights or activations are not finite (e.g. float16 overflow). Load it in float32"
                " (LoadConfig(dtype='float32')) or check its weights."
            )
        return scores


def encode_prompts(
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    *,
    prepend_bos: bool = True,
    padding_side: str = "left",
    max_len: int | None = None,
) -> tuple[Int[Tensor, "batch pos"], Int[Tensor, "batch pos"]]:
    """Tokenize ``prompts`` (BOS first when the tokenizer has one) and pad; returns ``(input_ids, attention_mask)``."""
    prompts = check_prompts(prompts)
    if padding_side not in ("left", "right"):
        raise InvalidConfigError(f"padding_side must be 'left' or 'right', got {padding_side!r}.")
    if max_len is not None and max_len <= 0:
        raise InvalidConfigError(f"max_len must be positive, got {max_len}.")
    rows: list[list[int]] = []
    for p in prompts:
        ids = tokenizer(p, add_special_tokens=False)["input_ids"]
        if prepend_bos and tokenizer.bos_token_id is not None:
            ids = [tokenizer.bos_token_id] + ids
        if not ids:
            raise EmptyInputError("An empty prompt has no tokens (and the tokenizer has no BOS): give non-empty text.")
        rows.append(ids)
    width = max(len(r) for r in rows)
    if max_len is not None and width > max_len:
        raise InputTooLongError(
            f"The longest prompt has {width} tokens, more than the model's context of {max_len}: shorten it."
        )
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        sl = slice(width - len(r), width) if padding_side == "left" else slice(0, len(r))
        ids[i, sl] = torch.tensor(r)
        mask[i, sl] = 1
    return ids, mask


def context_length(model: PreTrainedModel) -> int | None:
    cfg = model.config
    for key in ("max_position_embeddings", "n_positions", "n_ctx"):
        value = getattr(cfg, key, None)
        if isinstance(value, int):
            return value
    return None


@torch.inference_mode()
def sample_completions(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    *,
    n: int = 1,
    max_new_tokens: int = 32,
    temperature: float = 1.0,
    greedy: bool = False,
    seed: int = 0,
    max_batch: int = 512,
    progress: bool = False,
    cache_dir: str | os.PathLike | None = None,
) -> list[list[str]]:
    """``n`` completions for each prompt (text after the prompt, cut at EOS); ``[prompt][sample]``.

    Prompts are processed in chunks so that ``chunk * n <= max_batch`` sequences decode together
    with one KV cache. Deterministic for a given ``seed`` on a given machine: each chunk reseeds torch
    from a seed stream, so a chunk's samples do not depend on whether earlier chunks were sampled or read back.

    ``cache_dir``: keep each chunk's generated tokens in ``cache_dir/<key>/chunk_<first prompt>.safetensors``, where
    ``<key>`` hashes the model's weights, its config and generation config, the tokenized prompts, every sampling
    argument, the sampler version and the torch / transformers versions; a killed run called again resumes at the
    first missing chunk and returns exactly what one uninterrupted run returns. Delete the folder to free the space.
    """
    # a transformers causal LM, or a wrapper that forwards to one (peft's PeftModel); not the LoadedModel around it
    if hasattr(model, "hf") or not (hasattr(model, "generate") and hasattr(model, "config")):
        fix = "pass model.hf and model.tokenizer" if hasattr(model, "hf") else "pass a transformers causal LM"
        raise InvalidConfigError(f"sample_completions takes a Hugging Face model, got {type(model).__name__}: {fix}.")
    if not callable(tokenizer) or not hasattr(tokenizer, "pad_token_id"):
        raise InvalidConfigError(f"sample_completions needs the model's tokenizer, got {type(tokenizer).__name__}: pass"
                                 " model.tokenizer of a LoadedModel, or the tokenizer saved with the model.")
    prompts = check_prompts(prompts)
    n = check_int(n, "n", lo=1)
    max_new_tokens = check_int(max_new_tokens, "max_new_tokens", lo=1)
    max_batch = check_int(max_batch, "max_batch", lo=1)
    seed = check_int(seed, "seed")
    if not isinstance(greedy, bool):
        raise InvalidConfigError(f"greedy must be True or False, got {type(greedy).__name__} {greedy!r}.")
    if not greedy:
        if isinstance(temperature, (int, float)) and not isinstance(temperature, bool) and temperature <= 0:
            raise InvalidConfigError(f"temperature must be > 0 for sampling (got {temperature}); use greedy=True"
                                     " instead.")
        temperature = check_number(temperature, "temperature", lo=0.0, lo_open=True, max_abs=1e4)
    ctx = context_length(model)
    ids, mask = encode_prompts(tokenizer, prompts)
    if ctx is not None and ids.shape[1] + max_new_tokens > ctx:
        raise InputTooLongError(
            f"The longest prompt has {ids.shape[1]} tokens; with max_new_tokens={max_new_tokens} that is"
            f" {ids.shape[1] + max_new_tokens}, more than the model's context of {ctx} tokens: shorten the prompt or"
            f" pass max_new_tokens <= {max(ctx - ids.shape[1], 0)}."
        )
    vocab = int(model.get_input_embeddings().num_embeddings)
    if int(ids.max()) >= vocab:
        raise InvalidConfigError(
            f"The tokenizer produced id {int(ids.max())}, but the model's vocabulary has ids 0..{vocab - 1}: pass the"
            " tokenizer that belongs to this model."
        )
    device = next(model.parameters()).device
    eos = tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    per_chunk = max(1, max_batch // n)
    folder = None
    if cache_dir is not None:
        folder = _sample_cache_folder(model, ids, mask, Path(cache_dir), n=n, max_new_tokens=max_new_tokens,
                                      temperature=temperature, greedy=greedy, seed=seed, per_chunk=per_chunk,
                                      eos=eos, pad=pad, device=str(device))
    out: list[list[str]] = []
    gen = torch.Generator(device="cpu").manual_seed(seed)
    chunks = range(0, len(prompts), per_chunk)
    reused = 0
    for start in tqdm(chunks, desc="sampling", disable=not progress, leave=False):
        chunk_seed = int(torch.randint(0, 2**31 - 1, (1,), generator=gen))  # drawn for every chunk, cached or not
        sub_ids = ids[start : start + per_chunk]
        sub_mask = mask[start : start + per_chunk]
        reps = 1 if greedy else n
        path = None if folder is None else folder / f"chunk_{start:07d}.safetensors"
        if path is not None and path.exists():
            new = load_tensors(path, rebuild=_REBUILD, required=True)["tokens"]
            if new.shape[0] != sub_ids.shape[0] * reps:
                raise CorruptedCheckpointError(
                    f"{path} holds {new.shape[0]} sequences, expected {sub_ids.shape[0] * reps}. Delete it (rm {path})"
                    f" and rebuild it: {_REBUILD}."
                )
            reused += 1
        else:
            torch.manual_seed(chunk_seed)
            # left padding: trim columns that are padding in every row of this chunk
            first = int((sub_mask.sum(0) > 0).nonzero()[0])
            sub_ids, sub_mask = sub_ids[:, first:].to(device), sub_mask[:, first:].to(device)
            gen_ids, gen_mask, gen_kw = sub_ids, sub_mask, {}
            if reps > 1 and sub_ids.shape[1] > 1:
                # The n samples of a prompt share its prefix: run the prompt (all but its last token) once and copy
                # its KV cache n times, instead of letting num_return_sequences=n run the same prefill n times.
                # Hugging Face's documented cache re-use: generate() then feeds only the uncached last token.
                gen_ids, gen_mask, gen_kw["past_key_values"] = _shared_prefix(model, sub_ids, sub_mask, reps)
            seqs = model.generate(
                input_ids=gen_ids,
                attention_mask=gen_mask,
                max_new_tokens=max_new_tokens,
                do_sample=not greedy,
                temperature=None if greedy else temperature,
                top_k=None if greedy else 0,
                top_p=None if greedy else 1.0,
                num_return_sequences=1 if gen_kw else reps,
                pad_token_id=pad,
                eos_token_id=eos,
                logits_processor=LogitsProcessorList([_FiniteLogits()]),
                **gen_kw,
            )
            new = seqs[:, sub_ids.shape[1] :].cpu()
            if path is not None:
                save_tensors_atomic(path, {"tokens": new})
        texts = [_decode_until_eos(tokenizer, row, eos) for row in new]
        for i in range(sub_ids.shape[0]):
            block = texts[i * reps : (i + 1) * reps]
            out.append(block * n if greedy else block)
    if reused:
        log.info("sample_completions: %d of %d chunks read back from %s", reused, len(chunks), folder)
    return out


def _shared_prefix(model: PreTrainedModel, ids: Tensor, mask: Tensor, reps: int) -> tuple[Tensor, Tensor, Any]:
    """KV cache of every prompt but its last token, each row repeated ``reps`` times, and the repeated inputs."""
    from transformers import DynamicCache

    cache = DynamicCache(config=model.config)
    # left padding: positions count real tokens only, exactly as generate() derives them from the mask
    pos = (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 1)
    model(input_ids=ids[:, :-1], attention_mask=mask[:, :-1], position_ids=pos[:, :-1], past_key_values=cache,
          use_cache=True)
    cache.batch_repeat_interleave(reps)
    return ids.repeat_interleave(reps, 0), mask.repeat_interleave(reps, 0), cache


def _sample_cache_folder(model: PreTrainedModel, ids: Tensor, mask: Tensor, cache_dir: Path, **settings: Any) -> Path:
    """``cache_dir/<key>``: the key hashes everything that decides the sampled tokens."""
    import transformers

    config = model.config.to_dict()
    config.pop("_name_or_path", None)  # where the weights were read from: the weights hash already names them
    parts = {
        # the sampler's own code (this module and what it imports): a cache written by other code (chunking, seeding,
        # prefill) is never read back as if this code had sampled it
        "sampler_code": code_digest(__name__),
        "weights": weights_hash(model),
        # the architecture settings generation reads (eps, rope, windows, ...) and the attention kernel in use
        "model_config": config,
        "attn_implementation": getattr(model.config, "_attn_implementation", None),
        "generation_config": model.generation_config.to_dict(),
        "prompts": hash_tensors({"ids": ids, "mask": mask}),
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
        **settings,
    }
    key = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]
    folder = cache_dir / key
    if not (folder / "key.json").exists():
        write_json_atomic(folder / "key.json", {**parts, "n_prompts": int(ids.shape[0])}, checksum=True)
    return folder


def _decode_until_eos(tokenizer: PreTrainedTokenizerBase, row: Tensor, eos: int | None) -> str:
    ids = row.tolist()
    if eos is not None and eos in ids:
        ids = ids[: ids.index(eos)]
    return tokenizer.decode(ids, skip_special_tokens=True)


@torch.inference_mode()
def greedy_generate_tl(tl: Any, prompts: Sequence[str], *, max_new_tokens: int = 32, batch_size: int = 64) -> list[str]:
    """Greedy completions through a TransformerLens model, so active hooks (steering) act on every step.

    Prompts are grouped by token length and each group decodes as one batch with TransformerLens's KV cache, so no
    padding is ever needed (TransformerLens ``generate`` on padded batches is a common source of silent errors).
    """
    prompts = check_prompts(prompts)
    max_new_tokens = check_int(max_new_tokens, "max_new_tokens", lo=1)
    batch_size = check_int(batch_size, "batch_size", lo=1)
    tok = tl.tokenizer
    eos = tok.eos_token_id
    encoded = [tl.to_tokens(p)[0] for p in prompts]
    longest = max(int(e.shape[0]) for e in encoded)
    n_ctx = getattr(tl.cfg, "n_ctx", None)
    if isinstance(n_ctx, int) and longest + max_new_tokens > n_ctx:
        raise InputTooLongError(
            f"The longest prompt has {longest} tokens; with max_new_tokens={max_new_tokens} that is"
            f" {longest + max_new_tokens}, more than the model's context of {n_ctx} tokens: shorten the prompt or pass"
            f" max_new_tokens <= {max(n_ctx - longest, 0)}."
        )
    groups: dict[int, list[int]] = {}
    for i, ids in enumerate(encoded):
        groups.setdefault(int(ids.shape[0]), []).append(i)
    out: list[str] = [""] * len(prompts)
    for _, idx in sorted(groups.items()):
        for start in range(0, len(idx), batch_size):
            chunk = idx[start : start + batch_size]
            ids = torch.stack([encoded[i] for i in chunk]).to(tl.cfg.device)
            seqs = tl.generate(ids, max_new_tokens=max_new_tokens, do_sample=False, stop_at_eos=eos is not None,
                               eos_token_id=eos, verbose=False, use_past_kv_cache=True)
            for j, i in enumerate(chunk):
                out[i] = _decode_until_eos(tok, seqs[j, ids.shape[1]:].cpu(), eos)
    return out
