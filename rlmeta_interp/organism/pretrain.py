"""Pretraining an organism from scratch: Hugging Face ``LlamaForCausalLM`` and a plain PyTorch loop.

Why a hand-written loop rather than ``transformers.Trainer``: data is a pure function of the step
(fresh documents every step from the corpus seed), there is no dataset to iterate, and resuming must
be bit-identical; a 60-line loop whose whole state (weights, AdamW moments, step, RNG) lives in one
atomically written safetensors file makes that easy to guarantee and to test.

Layout written into ``out_dir``: a ``save_pretrained`` folder (``config.json``, ``model.safetensors``,
``generation_config.json``, tokenizer files) and, while training, ``.resume/state.safetensors``.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from jaxtyping import Int
from torch import Tensor
from tqdm.auto import tqdm
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerBase

from ..config import FrozenConfig, check_range
from ..errors import CorruptedCheckpointError, InvalidConfigError, MissingWeightsError
from ..io import WEIGHTS_FILE, ensure_dir, hash_tensors, load_tensors, save_tensors_atomic
from .corpus import Corpus, CorpusConfig, Document
from .tokenizer import build_tokenizer

log = logging.getLogger(__name__)
RESUME_DIR = ".resume"
STATE_FILE = "state.safetensors"


@dataclass(frozen=True)
class ModelConfig(FrozenConfig):
    """Shape of an organism (a Llama decoder). The defaults give about 0.8M parameters."""

    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    d_mlp: int = 384
    max_len: int = 128

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("d_model", "n_layers", "n_heads", "d_mlp", "max_len"):
            check_range(self, name, 1)
        if self.d_model % self.n_heads:
            raise InvalidConfigError(f"ModelConfig.d_model={self.d_model} must be divisible by n_heads={self.n_heads}.")


@dataclass(frozen=True)
class PretrainConfig(FrozenConfig):
    """Everything that determines a pretrained organism (same config -> same weights, bit for bit)."""

    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    steps: int = 600
    batch_size: int = 128
    lr: float = 2e-3
    warmup_steps: int = 30
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    seed: int = 0  # model initialisation (the corpus has its own seed)
    checkpoint_every: int = 100  # resume state written every N steps (0 = never)
    log_every: int = 20
    # pack whole documents into rows of model.max_len tokens (each starting with <bos>) instead of one
    # document per padded row; short arithmetic documents otherwise waste over half the compute on padding
    pack: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range(self, "steps", 1)
        check_range(self, "batch_size", 1)
        check_range(self, "lr", 0.0, 1.0, lo_open=True)
        check_range(self, "warmup_steps", 0)
        check_range(self, "min_lr_ratio", 0.0, 1.0)
        check_range(self, "weight_decay", 0.0)
        check_range(self, "grad_clip", 0.0, lo_open=True)
        check_range(self, "checkpoint_every", 0)
        check_range(self, "log_every", 1)
        need = Corpus(self.corpus).max_chars()
        if need > self.model.max_len:
            raise InvalidConfigError(
                f"PretrainConfig.model.max_len={self.model.max_len} is shorter than the longest document ({need}"
                " tokens): raise model.max_len or make the world's problems smaller."
            )


@dataclass
class PretrainResult:
    folder: Path
    steps: int
    tokens: int
    final_loss: float
    weights_sha: str
    curve: list[dict[str, float]]
    seconds: float
    resumed_from: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def build_model(model_config: ModelConfig, tokenizer: PreTrainedTokenizerBase, seed: int) -> LlamaForCausalLM:
    """A freshly initialised Llama organism (deterministic in ``seed``)."""
    cfg = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=model_config.d_model, intermediate_size=model_config.d_mlp,
        num_hidden_layers=model_config.n_layers, num_attention_heads=model_config.n_heads,
        num_key_value_heads=model_config.n_heads, max_position_embeddings=model_config.max_len,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False, attention_dropout=0.0, rms_norm_eps=1e-5, rope_theta=10000.0,
    )
    cfg._attn_implementation = "sdpa"
    torch.manual_seed(seed)
    model = LlamaForCausalLM(cfg)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.bos_token_id = tokenizer.bos_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model


def encode_documents(
    docs: list[Document] | list[str], tokenizer: PreTrainedTokenizerBase, pack_len: int | None = None
) -> tuple[Int[Tensor, "batch pos"], Int[Tensor, "batch pos"]]:
    """``<bos> text <eos>`` per document, right-padded; returns ``(input_ids, labels)`` (labels -100 on padding).

    With ``pack_len``, whole documents are packed greedily, in order, into rows of at most ``pack_len``
    tokens (no document is split; later documents in a row attend to earlier ones, as in standard
    packed pretraining; the first document of every row sits at position 0 exactly as at inference).
    """
    vocab = tokenizer.get_vocab()
    unk = tokenizer.unk_token_id
    rows: list[list[int]] = []
    for d in docs:
        text = d.text if isinstance(d, Document) else d
        seq = [tokenizer.bos_token_id, *(vocab.get(ch, unk) for ch in text), tokenizer.eos_token_id]
        if pack_len is not None and rows and len(rows[-1]) + len(seq) <= pack_len:
            rows[-1].extend(seq)
        else:
            rows.append(seq)
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), tokenizer.pad_token_id, dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
        labels[i, : len(r)] = ids[i, : len(r)]
    return ids, labels


def lr_at(step: int, config: PretrainConfig) -> float:
    """Linear warm-up, then cosine decay to ``min_lr_ratio * lr`` at the last step."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    span = max(1, config.steps - config.warmup_steps)
    progress = min(1.0, (step - config.warmup_steps) / span)
    return config.lr * (config.min_lr_ratio + (1 - config.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def _optimizer(model: torch.nn.Module, config: PretrainConfig) -> torch.optim.AdamW:
    return torch.optim.AdamW(model.parameters(), lr=config.lr, betas=(0.9, 0.95), weight_decay=config.weight_decay,
                             eps=1e-8, foreach=True)


def _state_tensors(model: torch.nn.Module, opt: torch.optim.Optimizer) -> dict[str, Tensor]:
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    for i, st in opt.state_dict()["state"].items():
        for k, v in st.items():
            tensors[f"opt.{i}.{k}"] = v if torch.is_tensor(v) else torch.tensor(v)
    tensors["rng.torch"] = torch.get_rng_state()
    return tensors


def save_resume_state(folder: Path, model: torch.nn.Module, opt: torch.optim.Optimizer, step: int,
                      config: PretrainConfig, curve: list[dict[str, float]], tokens: int) -> Path:
    """Write weights, AdamW moments, RNG and step into one safetensors file, atomically."""
    meta = {"step": str(step), "config": json.dumps(config.to_dict(), sort_keys=True), "curve": json.dumps(curve),
            "tokens": str(tokens)}
    return save_tensors_atomic(folder / RESUME_DIR / STATE_FILE, _state_tensors(model, opt), metadata=meta)


def load_resume_state(folder: Path, model: torch.nn.Module, opt: torch.optim.Optimizer,
                      config: PretrainConfig) -> tuple[int, list[dict[str, float]], int] | None:
    """Restore a resume state written for the same config; None if there is none (or another config's)."""
    path = folder / RESUME_DIR / STATE_FILE
    if not path.exists():
        return None
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    if meta.get("config") != json.dumps(config.to_dict(), sort_keys=True):
        log.warning("Ignoring resume state in %s: it was written for another config.", path)
        return None
    tensors = load_tensors(path)
    try:
        model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        sd = opt.state_dict()
        state: dict[int, dict[str, Tensor]] = {}
        for k, v in tensors.items():
            if k.startswith("opt."):
                _, i, name = k.split(".", 2)
                state.setdefault(int(i), {})[name] = v
        sd["state"] = state
        opt.load_state_dict(sd)
        torch.set_rng_state(tensors["rng.torch"])
    except (KeyError, RuntimeError, ValueError) as e:
        raise CorruptedCheckpointError(f"Resume state {path} does not fit this model ({e}): delete {path.parent} and rerun.") from e
    return int(meta["step"]), json.loads(meta["curve"]), int(meta["tokens"])


def weights_sha(model: torch.nn.Module) -> str:
    return hash_tensors(model.state_dict())


def pretrain(
    config: PretrainConfig,
    out_dir: str | Path,
    *,
    resume: bool = True,
    progress: bool = True,
    on_step: Callable[[int], None] | None = None,
    keep_resume_state: bool = False,
    init_from: str | Path | None = None,
) -> PretrainResult:
    """Pretrain an organism into ``out_dir`` (a Hugging Face folder). Resumes from ``.resume`` if present.

    ``on_step(step)`` is called after each completed optimizer step (tests use it to crash the run).
    ``init_from``: a finished organism folder whose weights start the run instead of a fresh initialisation
    (supervised fine-tuning of a base on another corpus); its shape must equal ``config.model``.
    """
    folder = ensure_dir(out_dir)
    tokenizer = build_tokenizer()
    corpus = Corpus(config.corpus)
    model = build_model(config.model, tokenizer, config.seed)
    if init_from is not None:
        weights = Path(init_from) / WEIGHTS_FILE
        if not weights.exists():
            raise MissingWeightsError(f"init_from={init_from} holds no model.safetensors: build that organism first.")
        state = load_tensors(weights)
        missing, unexpected = model.load_state_dict(state, strict=False)
        if unexpected or [k for k in missing if not k.endswith("rotary_emb.inv_freq")]:
            raise InvalidConfigError(
                f"init_from={init_from} does not match PretrainConfig.model (missing {sorted(missing)[:3]}, unexpected"
                f" {sorted(unexpected)[:3]}): give the fine-tuning run the base's model config."
            )
    model.train()
    opt = _optimizer(model, config)
    start, curve, tokens = 0, [], 0
    resumed_from = None
    if resume:
        restored = load_resume_state(folder, model, opt, config)
        if restored is not None:
            start, curve, tokens = restored
            resumed_from = start
            log.info("Resuming pretraining in %s from step %d.", folder, start)
    t0 = time.perf_counter()
    window_loss, window_n, window_tokens, window_t = 0.0, 0, 0, time.perf_counter()
    loss_value = float("nan")
    for step in tqdm(range(start, config.steps), desc=f"pretrain {folder.name}", disable=not progress,
                     initial=start, total=config.steps, leave=False):
        ids, labels = encode_documents(corpus.batch(step, config.batch_size), tokenizer,
                                       pack_len=config.model.max_len if config.pack else None)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, config)
        loss = model(input_ids=ids, labels=labels).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        opt.step()
        loss_value = float(loss.detach())
        if not math.isfinite(loss_value):
            raise InvalidConfigError(f"Pretraining loss became {loss_value} at step {step}: lower PretrainConfig.lr.")
        n_tok = int((labels != -100).sum())
        tokens += n_tok
        window_loss += loss_value
        window_n += 1
        window_tokens += n_tok
        done = step + 1
        if done % config.log_every == 0 or done == config.steps:
            now = time.perf_counter()
            curve.append({"step": done, "loss": window_loss / window_n, "lr": lr_at(step, config), "tokens": tokens,
                          "tokens_per_s": window_tokens / max(now - window_t, 1e-9)})
            window_loss, window_n, window_tokens, window_t = 0.0, 0, 0, now
        if config.checkpoint_every and done % config.checkpoint_every == 0 and done < config.steps:
            save_resume_state(folder, model, opt, done, config, curve, tokens)
        if on_step is not None:
            on_step(done)
    model.eval()
    model.save_pretrained(str(folder), safe_serialization=True)
    tokenizer.save_pretrained(str(folder))
    if not keep_resume_state and (folder / RESUME_DIR).exists():
        shutil.rmtree(folder / RESUME_DIR)
    return PretrainResult(folder=folder, steps=config.steps, tokens=tokens, final_loss=loss_value,
                          weights_sha=weights_sha(model), curve=curve, seconds=time.perf_counter() - t0,
                          resumed_from=resumed_from)
