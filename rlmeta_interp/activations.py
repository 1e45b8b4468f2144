"""Harvest activations at canonical hook sites, in batches, with a content-addressed disk cache.

Two backends compute the same numbers (tested equal):
- ``"hf"`` (the fast path): plain torch forward hooks on the Hugging Face modules that correspond to the
  TransformerLens sites, and the forward stops right after the deepest requested layer. TransformerLens's own
  forward costs 1.1-2.1x a Hugging Face forward (docs/stack.md, "Speed"), which bulk harvesting cannot afford.
- ``"tl"``: ``run_with_cache`` with a names filter, for sites or weight processing the fast path does not cover.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import torch
from jaxtyping import Int
from torch import Tensor
from tqdm.auto import tqdm

from .errors import CorruptedCheckpointError, EmptyInputError, InvalidConfigError, NonFiniteError
from .hooks import parse_hook_name
from .inputs import check_int, check_names, check_prompts, check_token_batch
from .io import file_lock, load_tensors, read_tensors, remove_tree, save_tensors_atomic, weights_hash
from .models import LoadedModel
from .paths import activation_cache_dir

log = logging.getLogger(__name__)

Positions = Literal["last", "all"]


class Activations(dict):
    """``{hook_name: tensor}``; ``[batch, d_model]`` for ``positions="last"``, ``[batch, pos, d_model]`` for ``"all"``
    (then ``.mask`` is the ``[batch, pos]`` attention mask: 1 for real tokens)."""

    def __init__(self, acts: dict[str, Tensor], mask: Tensor | None, positions: str, from_cache: bool = False):
        super().__init__(acts)
        self.mask = mask
        self.positions = positions
        self.from_cache = from_cache


class _StopForward(Exception):
    """Raised by the deepest hook: nothing after that layer is needed (the fast path skips it)."""


# ------------------------------------------------------------------------------------------- HF module mapping
def _hf_site(hf: Any, layer: int, site: str) -> tuple[torch.nn.Module, str] | None:
    """(module, "pre"|"post") whose input/output equals the TransformerLens site, or None if not exact."""
    arch = (getattr(hf.config, "architectures", None) or [type(hf).__name__])[0]
    if arch in ("LlamaForCausalLM", "Qwen2ForCausalLM", "MistralForCausalLM", "Qwen3ForCausalLM"):
        block = hf.model.layers[layer]
        return {"resid_pre": (block, "pre"), "resid_post": (block, "post"), "attn_out": (block.self_attn, "post"),
                "mlp_out": (block.mlp, "post"), "resid_mid": (block.post_attention_layernorm, "pre")}[site]
    if arch == "GPT2LMHeadModel":
        block = hf.transformer.h[layer]
        return {"resid_pre": (block, "pre"), "resid_post": (block, "post"), "attn_out": (block.attn, "post"),
                "mlp_out": (block.mlp, "post"), "resid_mid": (block.ln_2, "pre")}[site]
    if arch in ("Gemma3ForCausalLM", "GemmaForCausalLM", "Gemma2ForCausalLM"):
        # Gemma's sandwich norms make attn/mlp outputs differ from TL's sites; only the residual stream is exact.
        block = hf.model.layers[layer]
        return {"resid_pre": (block, "pre"), "resid_post": (block, "post")}.get(site)
    return None


def fast_path_available(model: LoadedModel, hooks: Sequence[str]) -> bool:
    if model.processing != "none":
        return False
    for h in hooks:
        parsed = parse_hook_name(h)
        if parsed is None or _hf_site(model.hf, parsed[0], parsed[1]) is None:
            return False
    return True


def _first_tensor(x: Any) -> Tensor:
    return x[0] if isinstance(x, (tuple, list)) else x


def _forward_hf(model: LoadedModel, ids: Tensor, mask: Tensor, hooks: Sequence[str]) -> dict[str, Tensor]:
    store: dict[str, Tensor] = {}
    parsed = {h: parse_hook_name(h) for h in hooks}
    deepest = max(layer for layer, _ in parsed.values())
    handles = []
    try:
        for h, (layer, site) in parsed.items():
            module, kind = _hf_site(model.hf, layer, site)  # type: ignore[misc]
            if kind == "pre":
                def pre(mod, args, kwargs, _h=h):
                    store[_h] = (args[0] if args else kwargs["hidden_states"]).detach()
                handles.append(module.register_forward_pre_hook(pre, with_kwargs=True))
            else:
                def post(mod, args, out, _h=h):
                    store[_h] = _first_tensor(out).detach()
                handles.append(module.register_forward_hook(post))

        # after every requested site of the deepest layer has fired, stop the forward
        def stop(mod, args, out):
            if all(k in store for k in hooks):
                raise _StopForward
        stopper = model.hf.model.layers[deepest] if hasattr(model.hf, "model") and hasattr(model.hf.model, "layers") \
            else model.hf.transformer.h[deepest]
        handles.append(stopper.register_forward_hook(stop))
        try:
            model.hf(input_ids=ids, attention_mask=mask, use_cache=False)
        except _StopForward:
            pass
    finally:
        for hd in handles:
            hd.remove()
    return store


def _forward_tl(model: LoadedModel, ids: Tensor, mask: Tensor, hooks: Sequence[str]) -> dict[str, Tensor]:
    tl = model.tl
    layers = [p[0] for h in hooks if (p := parse_hook_name(h))]
    kwargs = {"stop_at_layer": max(layers) + 1} if layers and len(layers) == len(hooks) and hasattr(tl, "blocks") else {}
    _, cache = tl.run_with_cache(ids.to(model.device), names_filter=list(hooks), **kwargs)
    return {h: cache[h].detach() for h in hooks}


# ---------------------------------------------------------------------------------------------------- caching
# Part of every cache and shard key: bump it whenever a change here alters what a cached tensor holds.
_CACHE_VERSION = 2
_REBUILD = "call harvest(...) again; it recomputes the activations and rewrites the cache entry"


def _weights_key(model: LoadedModel) -> str:
    """Content hash of the weights (memoised; in-place edits invalidate it)."""
    return weights_hash(model.hf)


def _cache_key(model: LoadedModel, ids: Tensor, mask: Tensor, hooks: Sequence[str], positions: str, backend: str) -> str:
    """Key of a finished harvest: weights, processing, dtype, positions, hooks, backend (the two differ in the last
    float bits), tokens and mask."""
    h = hashlib.sha256()
    for part in (f"v{_CACHE_VERSION}", _weights_key(model), model.processing, model.load_config.dtype, positions,
                 ",".join(sorted(hooks)), backend):
        h.update(part.encode())
        h.update(b"|")
    h.update(ids.numpy().tobytes())
    h.update(mask.numpy().tobytes())
    return h.hexdigest()[:32]


def _shard_name(key: str, batch_size: int, start: int, ids: Tensor, mask: Tensor) -> str:
    """File name of one batch of a harvest in progress. It hashes everything that shapes that batch beyond the
    harvest's own key: the batch size (it decides the batch's padded width, hence its float bits), the row range and
    that slice's tokens and mask. A harvest resumed with another batch size finds none of the old shards and
    computes every batch again, so it returns exactly what an uninterrupted harvest at that batch size returns."""
    h = hashlib.sha256(f"{key}|{batch_size}|{start}|{ids.shape[0]}".encode())
    h.update(ids.numpy().tobytes())
    h.update(mask.numpy().tobytes())
    return f"batch_{start:09d}_{h.hexdigest()[:16]}.safetensors"


def _read_result(path: Path, hooks: Sequence[str], n_rows: int, positions: str) -> Activations:
    data, meta = read_tensors(path, rebuild=_REBUILD, required=True)
    m = data.pop("__mask__", None)
    if set(data) != set(hooks) or any(v.shape[0] != n_rows for v in data.values()):
        raise CorruptedCheckpointError(
            f"Activation cache {path} holds {sorted(data)} with {[v.shape[0] for v in data.values()]} rows, not"
            f" {list(hooks)} with {n_rows} rows. Delete it (rm {path}) and rebuild it: {_REBUILD}."
        )
    log.debug("activation cache hit %s", path.name)
    return Activations(data, m, positions, from_cache=True)


# ------------------------------------------------------------------------------------------------------- harvest
def harvest(
    model: LoadedModel,
    prompts: Sequence[str] | Int[Tensor, "batch pos"],
    hooks: Sequence[str],
    *,
    attention_mask: Int[Tensor, "batch pos"] | None = None,
    positions: Positions = "last",
    batch_size: int = 32,
    cache: bool = True,
    cache_dir: str | Path | None = None,
    backend: Literal["auto", "hf", "tl"] = "auto",
    progress: bool = False,
) -> Activations:
    """Activations of ``model`` at ``hooks`` for each prompt.

    ``prompts`` is a list of strings (BOS prepended when the model uses one, right padding) or a ``[batch, pos]``
    token tensor (pass ``attention_mask`` if it is padded; padding must be on the right, ids must be in the
    vocabulary, rows must fit the context). ``positions="last"`` keeps the last real token of each prompt
    (``[batch, d_model]``); ``"all"`` keeps every position (``[batch, pos, d_model]``, with ``.mask``).

    With ``cache=True`` results are stored as checksummed safetensors keyed by a hash of weights, tokens, hooks,
    backend and processing, so a repeated call is a read (a file that changed on disk is a typed error). Each
    finished batch is also written to ``<key>.partial/``, named by everything that shapes it (batch size, rows,
    tokens), so a killed harvest called again resumes where it stopped and returns exactly the uninterrupted result.
    Concurrent identical harvests into one cache take turns through a file lock.
    """
    if not isinstance(model, LoadedModel):
        raise InvalidConfigError(f"harvest takes a LoadedModel (rlmeta_interp.load_model(...)), got"
                                 f" {type(model).__name__}.")
    hooks = list(dict.fromkeys(check_names(hooks, "hooks")))
    if not hooks:
        raise EmptyInputError("No hooks requested: pass hook names such as rlmeta_interp.hook_name(layer).")
    if positions not in ("last", "all"):
        raise InvalidConfigError(f"positions must be 'last' or 'all', got {positions!r}.")
    if backend not in ("auto", "hf", "tl"):
        raise InvalidConfigError(f"backend must be 'auto', 'hf' or 'tl', got {backend!r}.")
    batch_size = check_int(batch_size, "batch_size", lo=1)
    with torch.inference_mode(False):  # a hook name outside the canonical set makes check_hook build .tl (see below)
        for h in hooks:
            model.check_hook(h)
            parsed = parse_hook_name(h)
            if parsed is not None:
                model.layer(parsed[0])
    if isinstance(prompts, Tensor):
        ids, mask = check_token_batch(prompts, attention_mask, vocab_size=_vocab_size(model), n_ctx=model.n_ctx)
    else:
        if attention_mask is not None:
            raise InvalidConfigError("attention_mask applies to a token tensor only; strings are tokenized and padded"
                                     " here, so drop attention_mask.")
        ids, mask = model.to_tokens(check_prompts(prompts), padding_side="right")

    use_hf = backend == "hf" or (backend == "auto" and fast_path_available(model, hooks))
    if backend == "hf" and not fast_path_available(model, hooks):
        raise InvalidConfigError(
            f"The Hugging Face fast path cannot compute {hooks} exactly for {model.architecture} with processing"
            f" {model.processing!r}; use backend='tl' or 'auto'."
        )
    if not use_hf:
        # Build the TransformerLens model here, outside inference mode (also when the caller is inside it):
        # parameters created inside it are inference tensors, and every later forward pass with gradients would fail.
        with torch.inference_mode(False):
            _ = model.tl

    if not cache:
        return _compute(model, ids, mask, hooks, positions, batch_size, use_hf, None, progress)
    key = _cache_key(model, ids, mask, hooks, positions, "hf" if use_hf else "tl")
    folder = Path(cache_dir) if cache_dir is not None else activation_cache_dir()
    path = folder / f"{key}.safetensors"
    if path.exists():
        return _read_result(path, hooks, ids.shape[0], positions)
    with file_lock(folder / key):  # an identical harvest running now finishes first; this one then reads its result
        if path.exists():
            return _read_result(path, hooks, ids.shape[0], positions)
        acts = _compute(model, ids, mask, hooks, positions, batch_size, use_hf, (path, key), progress)
        tensors: dict[str, Tensor] = dict(acts)
        if acts.mask is not None:
            tensors["__mask__"] = acts.mask
        save_tensors_atomic(path, tensors)
        remove_tree(path.with_suffix(".partial"))
    return acts


def _vocab_size(model: LoadedModel) -> int:
    return int(model.hf.get_input_embeddings().num_embeddings)


# hooks whose second axis is the head, not the position (one value per query-key pair)
_PER_HEAD_PAIRS = ("hook_pattern", "hook_attn_scores")


@torch.inference_mode()
def _compute(model: LoadedModel, ids: Tensor, mask: Tensor, hooks: list[str], positions: str, batch_size: int,
             use_hf: bool, cached: tuple[Path, str] | None, progress: bool) -> Activations:
    lengths = mask.sum(1)
    out: dict[str, list[Tensor]] = {h: [] for h in hooks}
    device = model.device
    partial = cached[0].with_suffix(".partial") if cached is not None else None
    for start in tqdm(range(0, ids.shape[0], batch_size), desc=f"harvest {model.name}", disable=not progress, leave=False):
        rows = slice(start, start + batch_size)
        shard = None
        if cached is not None:
            shard = partial / _shard_name(cached[1], batch_size, start, ids[rows], mask[rows])  # type: ignore[operator]
        if shard is not None and shard.exists():
            done = load_tensors(shard, rebuild=_REBUILD, required=True)
            n = ids[rows].shape[0]
            if set(done) != set(hooks) or any(v.shape[0] != n for v in done.values()):
                raise CorruptedCheckpointError(f"Harvest shard {shard} does not hold {n} rows of {hooks}. Delete it"
                                               f" (rm {shard}) and rebuild it: {_REBUILD}.")
            for h in hooks:
                out[h].append(done[h])
            continue
        b_ids, b_mask = ids[rows], mask[rows]
        width = int(b_mask.sum(1).max())
        b_ids, b_mask = b_ids[:, :width].to(device), b_mask[:, :width].to(device)
        acts = _forward_hf(model, b_ids, b_mask, hooks) if use_hf else _forward_tl(model, b_ids, b_mask, hooks)
        for h in hooks:
            a = acts[h].float().cpu()
            if a.ndim == 4 and not h.endswith(_PER_HEAD_PAIRS):
                # per-head hooks (hook_q/k/v/z: [batch, pos, head, d_head]) -> [batch, pos, head * d_head]
                a = a.flatten(2)
            if a.ndim != 3:  # attention patterns and scores [batch, head, query, key]: no single row per position
                raise InvalidConfigError(
                    f"{h} gives activations of shape {tuple(a.shape)}, not one vector per position: harvest collects"
                    " resid, attn_out, mlp_out and per-head hooks (hook_q/k/v/z, flattened over heads); read"
                    " attention patterns with model.tl.run_with_cache."
                )
            if positions == "last":
                idx = lengths[rows] - 1
                a = a[torch.arange(a.shape[0]), idx]
            else:
                pad = ids.shape[1] - a.shape[1]
                a = torch.nn.functional.pad(a, (0, 0, 0, pad)) * mask[rows, :, None]
            if not torch.isfinite(a).all():
                raise NonFiniteError(
                    f"Activations at {h} of {model.name} contain NaN or inf (batch starting at {start}). Load in"
                    " float32 (LoadConfig(dtype='float32')) and check the weights for corruption."
                )
            out[h].append(a)
        if shard is not None:
            save_tensors_atomic(shard, {h: out[h][-1] for h in hooks})
    result = {h: torch.cat(v) for h, v in out.items()}
    return Activations(result, mask if positions == "all" else None, positions)
