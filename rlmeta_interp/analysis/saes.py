"""Indicator 5, features: an SAE trained on base activations, and a BatchTopK crosscoder over both models.

- :func:`train_sae` trains a TopK or BatchTopK SAE with SAELens (``SAETrainer`` fed from a ``[n, d_in]`` tensor of
  cached activations); :func:`reconstruction_quality` measures how well it reconstructs each model's activations
  (FVU, explained variance, L0) with bootstrap CIs and the RL/base FVU ratio; :func:`splice_ce_loss` measures
  the CE-loss cost of splicing the SAE into a model at its hook.
- :class:`BatchTopKCrosscoder` / :func:`train_crosscoder`: one sparse dictionary over paired ``[base; RL]``
  activations with one decoder per model (Lindsey et al. 2024; BatchTopK as Minder et al. 2504.02922 recommend
  over L1). :func:`crosscoder_latents` gives each latent's relative decoder norm
  ``r_j = ||d_RL|| / (||d_base|| + ||d_RL||)``, the cosine of its two decoder vectors, its firing frequency,
  and Latent Scaling betas.

Save/load: :func:`save_sae` / :func:`load_sae` (SAELens folder, swapped in atomically),
:func:`save_crosscoder` / :func:`load_crosscoder` (one safetensors file with its config in the metadata).

Resume: both trainers take ``checkpoint_dir`` / ``checkpoint_every``. Every ``checkpoint_every`` steps (and at the
last step) they write the full training state (weights, optimizer, schedules, dead-latent counters, data-order and
torch RNG state) to ``checkpoint_dir/step_<N>`` (built under a temporary name and renamed, so a checkpoint either
exists whole or not at all; older ones, and temporary entries a killed save left behind, are then deleted). Called
again with the same config and data, a trainer resumes from the newest checkpoint and ends with bit-for-bit the
weights of an uninterrupted run (same machine and library versions). Each checkpoint records a fingerprint of the
config, the data and the library version; a checkpoint with another fingerprint raises
:class:`~rlmeta_interp.errors.CheckpointMismatchError` rather than being silently discarded (hours of training may
sit in it): delete the folder or pass another ``checkpoint_dir``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from jaxtyping import Float, Int
from torch import Tensor, nn
from tqdm.auto import tqdm

from ..config import FrozenConfig, check_range
from ..errors import (
    CheckpointMismatchError,
    CorruptedCheckpointError,
    EmptyInputError,
    InvalidConfigError,
    MissingWeightsError,
    NonFiniteError,
)
from ..io import atomic_dir, atomic_path, hash_tensors, load_tensors, read_json, save_tensors_atomic, write_json_atomic
from .stats import bootstrap_ci, bootstrap_ratio_ci

log = logging.getLogger(__name__)

BASE, RL = 0, 1  # crosscoder model index: 0 = base, 1 = RL


# ---------------------------------------------------------------------------------------------------------------
# checks
# ---------------------------------------------------------------------------------------------------------------


def _check_acts(x: Tensor, name: str, d_in: int | None = None) -> Tensor:
    if not isinstance(x, Tensor):
        raise InvalidConfigError(f"{name} must be a torch tensor [n, d_in], got {type(x).__name__}.")
    if x.ndim != 2:
        raise InvalidConfigError(f"{name} must be [n, d_in] (flatten batch and positions first), got shape {tuple(x.shape)}.")
    if x.shape[0] == 0:
        raise EmptyInputError(f"{name} has no rows: harvest activations first.")
    if d_in is not None and x.shape[1] != d_in:
        raise InvalidConfigError(f"{name} has width {x.shape[1]} but the dictionary expects d_in={d_in}: use the same hook.")
    if not torch.isfinite(x).all():
        raise NonFiniteError(f"{name} holds NaN or inf: harvest in float32 or drop those rows.")
    return x.detach().float()


# ---------------------------------------------------------------------------------------------------------------
# checkpoints (shared by train_sae and train_crosscoder)
# ---------------------------------------------------------------------------------------------------------------

_STEP_DIR = re.compile(r"^step_(\d{9})(\.pt)?$")


def _fingerprint(parts: Mapping[str, Any]) -> str:
    """sha256 of the JSON of everything that determines a training run's result."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _check_every(checkpoint_every: int) -> None:
    if not isinstance(checkpoint_every, int) or isinstance(checkpoint_every, bool) or checkpoint_every < 1:
        raise InvalidConfigError(f"checkpoint_every must be a positive number of steps, got {checkpoint_every!r}.")


def _latest_checkpoint(folder: Path) -> Path | None:
    """Newest ``step_<N>`` entry of ``folder`` (temporary, half-written entries never carry that name)."""
    if not folder.is_dir():
        return None
    steps = sorted((int(m.group(1)), p) for p in folder.iterdir() if (m := _STEP_DIR.match(p.name)))
    return steps[-1][1] if steps else None


def _check_fingerprint(found: str, expected: str, where: Path) -> None:
    if found != expected:
        raise CheckpointMismatchError(
            f"The checkpoint {where} was written for another config, other data or another library version"
            f" (fingerprint {found[:12]}... != {expected[:12]}...). Delete {where.parent} to start afresh, or pass"
            " another checkpoint_dir for this run."
        )


# what atomic_dir / atomic_path leave behind when a process is killed mid-write (never a step_<N> name)
_STALE_TMP = re.compile(r"^\.step_\d{9}(\.pt)?\..+\.tmp$")


def _training_device(device: str) -> torch.device:
    from ..models import check_device

    check_device(device, fix="device='cpu'")  # typed error for a GPU this machine does not have
    return torch.device(device)


def _device_part(dev: torch.device) -> dict[str, str]:
    """The device's entry in a checkpoint fingerprint: none on CPU, so CPU fingerprints predate the option."""
    return {} if dev.type == "cpu" else {"device": dev.type}


def _prune_checkpoints(folder: Path, keep: Path) -> None:
    """Delete every checkpoint but ``keep``, and the temporary entries a killed save left behind."""
    for p in folder.iterdir():
        if p != keep and (_STEP_DIR.match(p.name) or _STALE_TMP.match(p.name)):
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()


# ---------------------------------------------------------------------------------------------------------------
# SAE (SAELens)
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SaeTrainConfig(FrozenConfig):
    """A TopK (``k`` latents per row) or BatchTopK (``k`` per row on average) SAE trained with SAELens.

    ``training_samples`` rows are drawn (reshuffled each pass) from the cached activations in batches of
    ``batch_size``. The learning rate is constant (``lr_end == lr``) after ``lr_warm_up_steps``.
    ``normalize_activations`` is SAELens's option; "expected_average_only_in" scales inputs to norm sqrt(d_in)
    during training and folds the scale into the weights afterwards. ``init_b_dec_to_mean`` starts the decoder
    bias at the data mean (only with ``normalize_activations="none"``). ``dead_feature_window`` is in steps.
    """

    d_sae: int = 512
    k: int = 16
    architecture: Literal["topk", "batchtopk"] = "topk"
    lr: float = 1e-3
    lr_warm_up_steps: int = 0
    training_samples: int = 200_000
    batch_size: int = 512
    aux_loss_coefficient: float = 1.0
    dead_feature_window: int = 1000
    normalize_activations: Literal["none", "expected_average_only_in"] = "none"
    init_b_dec_to_mean: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range(self, "d_sae", 1)
        check_range(self, "k", 1)
        if self.k > self.d_sae:
            raise InvalidConfigError(f"SaeTrainConfig.k={self.k} exceeds d_sae={self.d_sae}: choose k <= d_sae.")
        check_range(self, "lr", 0.0, lo_open=True)
        check_range(self, "batch_size", 1)
        if self.training_samples < self.batch_size:
            raise InvalidConfigError(
                f"SaeTrainConfig.training_samples={self.training_samples} is below batch_size={self.batch_size}:"
                " raise training_samples (it counts rows seen, not distinct rows)."
            )


class _RowBatches:
    """Endless shuffled batches of rows (the data provider SAELens's SAETrainer consumes), resumable by count.

    The order is a pure function of the seed, so a resumed run replays ``skip`` batches' worth of RNG draws (one
    permutation per pass, no row copies) and continues with exactly the batches an uninterrupted run would see.
    """

    def __init__(self, x: Tensor, batch_size: int, seed: int) -> None:
        self.x, self.batch_size = x, batch_size
        self.n_yielded = 0
        self._indices = self._index_batches(x.shape[0], batch_size, torch.Generator().manual_seed(seed))

    @staticmethod
    def _index_batches(n: int, batch_size: int, g: torch.Generator) -> Iterator[Tensor]:
        while True:
            perm = torch.randperm(n, generator=g)
            if n < batch_size:  # fewer rows than a batch: sample with replacement
                yield torch.randint(0, n, (batch_size,), generator=g)
                continue
            for start in range(0, n - batch_size + 1, batch_size):
                yield perm[start : start + batch_size]

    def skip(self, n_batches: int) -> None:
        for _ in range(n_batches):
            next(self._indices)
        self.n_yielded += n_batches

    def __iter__(self) -> _RowBatches:
        return self

    def __next__(self) -> Tensor:
        self.n_yielded += 1
        return self.x[next(self._indices)]


def train_sae(
    acts: Float[Tensor, "n d_in"],
    config: SaeTrainConfig = SaeTrainConfig(),
    *,
    hook_name: str | None = None,
    model_name: str | None = None,
    init_directions: Float[Tensor, "d_sae d_in"] | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    checkpoint_every: int = 1000,
    on_checkpoint: Callable[[int], None] | None = None,
    device: str = "cpu",
) -> Any:
    """Train an SAE on cached activations with SAELens; returns the inference ``sae_lens.SAE``.

    (A BatchTopK SAE comes back as SAELens's JumpReLU inference SAE with the learned threshold.)
    ``init_directions``: start each latent's encoder and decoder at these directions (e.g. k-means++ seeds of the
    centred data) instead of SAELens's random init; decoder rows keep SAELens's initial norm.

    ``checkpoint_dir``: save the training state there every ``checkpoint_every`` steps and at the end, and resume
    from the newest checkpoint found there (see the module docstring; the final checkpoint stays, so a repeated
    call returns at once). ``on_checkpoint(step)`` is called after each checkpoint is written (progress reports;
    an exception raised there stops training, and the next call resumes).

    ``device``: where training runs (``"cuda"`` on a GPU machine); the activations may live anywhere and the SAE
    comes back on ``device``. A checkpoint resumes only on the same kind of device (its fingerprint names it).
    """
    from sae_lens import SAE, BatchTopKTrainingSAE, BatchTopKTrainingSAEConfig, TopKTrainingSAE, TopKTrainingSAEConfig
    from sae_lens import __version__ as sae_lens_version
    from sae_lens.config import LoggingConfig, SAETrainerConfig

    x = _check_acts(acts, "acts")
    _check_every(checkpoint_every)
    dev = _training_device(device)
    cls, cfg_cls = {
        "topk": (TopKTrainingSAE, TopKTrainingSAEConfig),
        "batchtopk": (BatchTopKTrainingSAE, BatchTopKTrainingSAEConfig),
    }[config.architecture]
    sae_cfg = cfg_cls(
        d_in=x.shape[1], d_sae=config.d_sae, k=config.k, aux_loss_coefficient=config.aux_loss_coefficient,
        normalize_activations=config.normalize_activations, device=str(dev),
    )
    if hook_name is not None:
        sae_cfg.metadata.hook_name = hook_name
    if model_name is not None:
        sae_cfg.metadata.model_name = model_name
    acts_hash = hash_tensors({"acts": x}) if checkpoint_dir is not None else None
    x = x.to(dev)
    torch.manual_seed(config.seed)
    sae = cls(sae_cfg)
    if config.init_b_dec_to_mean and config.normalize_activations == "none":
        # SAELens 6.54 initialises b_dec at zero; far from the data mean, TopK latents die before b_dec gets there
        with torch.no_grad():
            sae.b_dec.copy_(x.mean(0))
    if init_directions is not None:
        if tuple(init_directions.shape) != (config.d_sae, x.shape[1]):
            raise InvalidConfigError(
                f"init_directions must be [d_sae, d_in] = [{config.d_sae}, {x.shape[1]}], got {tuple(init_directions.shape)}."
            )
        with torch.no_grad():
            d = init_directions.float().to(dev)
            unit = d / d.norm(dim=-1, keepdim=True).clamp_min(1e-12)
            sae.W_dec.copy_(unit * sae.W_dec.norm(dim=-1, keepdim=True))
            sae.W_enc.copy_(unit.T)
    trainer_cfg = SAETrainerConfig(
        total_training_samples=config.training_samples, train_batch_size_samples=config.batch_size,
        lr=config.lr, lr_end=config.lr, lr_warm_up_steps=config.lr_warm_up_steps,
        dead_feature_window=config.dead_feature_window, logger=LoggingConfig(log_to_wandb=False),
        n_batches_for_norm_estimate=min(100, max(1, x.shape[0] // config.batch_size)), device=str(dev),
    )
    data = _RowBatches(x, config.batch_size, config.seed)
    ckpt = None
    if checkpoint_dir is not None:
        fingerprint = _fingerprint({
            "kind": "sae", "config": config.to_dict(), "hook_name": hook_name, "model_name": model_name,
            "acts": acts_hash,
            "init_directions": None if init_directions is None else hash_tensors({"init": init_directions.float()}),
            "sae_lens": sae_lens_version, "torch": torch.__version__, **_device_part(dev),
        })
        ckpt = _SaeCheckpointer(Path(checkpoint_dir), fingerprint, checkpoint_every, on_checkpoint, data)
    trainer = _resumable_trainer_cls()(cfg=trainer_cfg, sae=sae, data_provider=data)
    trainer.rlmeta_checkpointer = ckpt
    if ckpt is not None:
        ckpt.resume(trainer)
    trained = trainer.fit()
    # SAELens converts a training SAE to its inference class only through disk; a temp folder is cheap here
    with tempfile.TemporaryDirectory() as tmp:
        trained.save_inference_model(tmp)
        return SAE.load_from_disk(tmp, device=str(dev))


_SAE_WEIGHTS, _SAE_STATE = "training_sae.safetensors", "rlmeta_state.json"


@dataclass
class _SaeCheckpointer:
    """Writes and reads ``train_sae`` checkpoints: one ``step_<N>`` folder holding the training SAE's weights
    (safetensors), SAELens's own trainer state (``save_trainer_state``: optimizer, LR and coefficient schedules,
    dead-latent counters, activation scaler; read back with ``torch.load``'s default ``weights_only=True``) and ours
    (fingerprint, step, data batches consumed, torch RNG state)."""

    folder: Path
    fingerprint: str
    every: int
    on_checkpoint: Callable[[int], None] | None
    data: _RowBatches

    def save(self, trainer: Any, step: int) -> None:
        def build(tmp: Path) -> None:
            save_tensors_atomic(tmp / _SAE_WEIGHTS, dict(trainer.sae.state_dict()))
            # fit() counts the step only after its checkpoint hook: record it as done, as a fresh trainer would
            counted = trainer.n_training_steps
            trainer.n_training_steps = step
            try:
                trainer.save_trainer_state(tmp)
            finally:
                trainer.n_training_steps = counted
            save_tensors_atomic(tmp / "rng.safetensors", {"torch": torch.get_rng_state()})
            write_json_atomic(tmp / _SAE_STATE, {"fingerprint": self.fingerprint, "step": step,
                                                 "data_batches": self.data.n_yielded})

        final = self.folder / f"step_{step:09d}"
        with atomic_dir(final) as tmp:  # a checkpoint exists whole or not at all
            build(tmp)
        _prune_checkpoints(self.folder, final)
        log.info("train_sae: checkpoint at step %d in %s", step, final)
        if self.on_checkpoint is not None:
            self.on_checkpoint(step)

    def resume(self, trainer: Any) -> None:
        latest = _latest_checkpoint(self.folder)
        if latest is None:
            return
        fix = (f"delete the checkpoint folder {latest} and rerun (earlier checkpoints are pruned once a newer one is"
               " written, so training normally restarts from scratch).")
        try:
            state = read_json(latest / _SAE_STATE)
        except (MissingWeightsError, CorruptedCheckpointError) as e:
            raise CorruptedCheckpointError(f"The checkpoint {latest} has no readable {_SAE_STATE} ({e}): {fix}") from e
        _check_fingerprint(state.get("fingerprint", ""), self.fingerprint, latest)
        try:
            trainer.load_trainer_state(latest)
        except Exception as e:  # torch.load / json raise several types on damaged files
            raise CorruptedCheckpointError(
                f"Cannot read the trainer state in {latest} ({type(e).__name__}: {e}): {fix}"
            ) from e
        try:
            weights, rng = load_tensors(latest / _SAE_WEIGHTS), load_tensors(latest / "rng.safetensors")["torch"]
        except (MissingWeightsError, CorruptedCheckpointError, KeyError) as e:
            raise CorruptedCheckpointError(f"The checkpoint {latest} is incomplete or damaged ({e}): {fix}") from e
        trainer.sae.load_state_dict(weights)
        torch.set_rng_state(rng)
        self.data.skip(int(state["data_batches"]))
        log.info("train_sae: resuming from step %d (%s)", state["step"], latest)


_TRAINER_CLS: Any = None


def _resumable_trainer_cls() -> Any:
    """SAELens's ``SAETrainer`` with a checkpoint hook every ``checkpoint_every`` steps.

    ``fit()`` calls ``_checkpoint_if_needed`` after each step; SAELens's own schedule there (``n_checkpoints`` spread
    over the run, folders written in place) is neither step-based nor atomic, so the hook is extended here. Built
    lazily to keep ``import sae_lens`` out of import time.
    """
    global _TRAINER_CLS
    if _TRAINER_CLS is None:
        from sae_lens import SAETrainer

        class _ResumableSAETrainer(SAETrainer):
            rlmeta_checkpointer: _SaeCheckpointer | None = None

            def _checkpoint_if_needed(self) -> None:
                super()._checkpoint_if_needed()
                ck = self.rlmeta_checkpointer
                if ck is None:
                    return
                done = self.n_training_steps + 1  # steps completed, this one included
                if done % ck.every == 0 or self.n_training_samples >= self.cfg.total_training_samples:
                    ck.save(self, done)

        _TRAINER_CLS = _ResumableSAETrainer
    return _TRAINER_CLS


def save_sae(sae: Any, folder: str | os.PathLike, metadata: Mapping[str, Any] | None = None) -> Path:
    """Save an SAELens SAE into ``folder`` (built in a temp sibling, then swapped in); ``metadata`` -> rlmeta.json."""
    final = Path(folder)
    with atomic_dir(final) as tmp:
        sae.save_model(tmp)
        write_json_atomic(tmp / "rlmeta.json", dict(metadata or {}))
    return final


def load_sae(folder: str | os.PathLike, device: str = "cpu") -> Any:
    """Load an SAE written by :func:`save_sae` (or any SAELens ``save_model`` folder)."""
    from sae_lens import SAE

    p = Path(folder)
    if not (p / "cfg.json").exists() or not (p / "sae_weights.safetensors").exists():
        raise MissingWeightsError(
            f"{p} is not an SAE folder (needs cfg.json and sae_weights.safetensors): train one with"
            " analysis.saes.train_sae and save it with save_sae."
        )
    try:
        return SAE.load_from_disk(p, device=device)
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as e:
        raise CorruptedCheckpointError(f"Cannot load the SAE in {p} ({type(e).__name__}: {e}): delete it and retrain.") from e


@torch.no_grad()
def _sae_stats(sae: Any, x: Tensor, batch: int = 4096) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: squared error, squared deviation from the data mean, number of active latents (rows go to the
    SAE's device in batches; the statistics come back on CPU)."""
    dev = next(sae.parameters()).device
    mean = x.mean(0).to(dev)
    sse, sst, l0 = [], [], []
    for start in range(0, x.shape[0], batch):
        xb = x[start : start + batch].to(dev)
        feats = sae.encode(xb)
        recon = sae.decode(feats)
        sse.append(((recon - xb) ** 2).sum(-1).cpu())
        sst.append(((xb - mean) ** 2).sum(-1).cpu())
        l0.append((feats > 0).sum(-1).float().cpu())
    return (torch.cat(sse).double().numpy(), torch.cat(sst).double().numpy(), torch.cat(l0).double().numpy())


def reconstruction_quality(
    sae: Any,
    acts_by_model: Mapping[str, Float[Tensor, "n d_in"]],
    *,
    reference: str = "base",
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """FVU (fraction of variance unexplained) of ``sae`` on each model's activations, with bootstrap CIs.

    Columns: ``model, fvu, ci_lo, ci_hi, explained_variance, l0, mse, fvu_ratio, ratio_ci_lo, ratio_ci_hi, n``.
    ``fvu_ratio`` is FVU / FVU of ``reference`` (an SAE trained on base activations that reconstructs RL
    activations about as well, ratio near 1, says RL used the base model's features). Its CI resamples rows
    jointly in both models when they have the same rows (same prompts and positions), independently otherwise.
    """
    if not acts_by_model:
        raise EmptyInputError("No activations given: pass {model name: [n, d_in] tensor}.")
    if reference not in acts_by_model:
        raise InvalidConfigError(f"reference={reference!r} is not among the models {sorted(acts_by_model)}.")
    d_in = int(sae.cfg.d_in)
    stats = {name: _sae_stats(sae, _check_acts(x, f"acts_by_model[{name!r}]", d_in)) for name, x in acts_by_model.items()}
    ref_sse, ref_sst, _ = stats[reference]
    rows = []
    for name, (sse, sst, l0) in stats.items():
        fvu = float(sse.sum() / sst.sum())
        lo, hi = bootstrap_ratio_ci(sse, sst, n_boot=n_boot, ci=ci, seed=seed)
        ratio = fvu / float(ref_sse.sum() / ref_sst.sum())
        if name == reference:
            r_lo = r_hi = 1.0
        elif sse.shape == ref_sse.shape:
            def stat(idx_f: np.ndarray, axis: int = -1, a=(sse, sst), b=(ref_sse, ref_sst)) -> np.ndarray:
                idx = np.atleast_2d(idx_f).astype(np.int64)
                w = np.stack([np.bincount(i, minlength=a[0].shape[0]) for i in idx]).astype(np.float64)
                out = (w @ a[0] / (w @ a[1])) / (w @ b[0] / (w @ b[1]))
                return out if np.ndim(idx_f) > 1 else out[0]

            r_lo, r_hi = bootstrap_ci(np.arange(sse.shape[0], dtype=np.float64), stat=stat, n_boot=n_boot, ci=ci, seed=seed)
        else:
            r_lo, r_hi = float("nan"), float("nan")
            log.warning("reconstruction_quality: %s and %s have different rows; no CI for the FVU ratio.", name, reference)
        rows.append({
            "model": name, "fvu": fvu, "ci_lo": lo, "ci_hi": hi, "explained_variance": 1.0 - fvu,
            "l0": float(l0.mean()), "mse": float(sse.mean() / d_in), "fvu_ratio": ratio,
            "ratio_ci_lo": r_lo, "ratio_ci_hi": r_hi, "n": int(sse.shape[0]),
        })
    return pd.DataFrame(rows)


def _as_tl(model: Any) -> Any:
    return model.tl if hasattr(model, "tl") and not hasattr(model, "run_with_hooks") else model


@torch.no_grad()
def splice_ce_loss(
    models: Mapping[str, Any],
    sae: Any,
    hook: str,
    tokens: Int[Tensor, "batch pos"],
    attention_mask: Int[Tensor, "batch pos"] | None = None,
    *,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Next-token CE loss of each model clean, with the SAE spliced in at ``hook``, and with ``hook`` zero-ablated.

    ``models``: name -> ``HookedTransformer`` (or a ``LoadedModel``, whose ``.tl`` is used). Rows per model:
    ``clean, spliced, zero_ablated, delta_ce`` (spliced - clean), ``delta_ci_lo/hi`` (bootstrap over sequences),
    ``ce_recovered`` ((zero - spliced) / (zero - clean), SAELens's "CE loss score"), ``n_tokens``.
    """
    if tokens.ndim != 2 or tokens.shape[1] < 2:
        raise InvalidConfigError(f"tokens must be [batch, pos] with pos >= 2, got shape {tuple(tokens.shape)}.")
    mask = torch.ones_like(tokens) if attention_mask is None else attention_mask
    target_mask = mask[:, 1:].double()  # the loss at position t predicts token t + 1
    if target_mask.sum() == 0:
        raise EmptyInputError("No predicted tokens: every sequence is a single real token.")

    def splice(act: Tensor, hook: Any) -> Tensor:
        return sae.decode(sae.encode(act)).to(act.dtype)

    def zero(act: Tensor, hook: Any) -> Tensor:
        return torch.zeros_like(act)

    rows = []
    for name, model in models.items():
        tl = _as_tl(model)
        if hook not in tl.hook_dict:
            from ..errors import HookNotFoundError

            raise HookNotFoundError(hook, list(tl.hook_dict))
        per = {}
        for kind, hooks in (("clean", []), ("spliced", [(hook, splice)]), ("zero_ablated", [(hook, zero)])):
            loss = tl.run_with_hooks(tokens, return_type="loss", loss_per_token=True, fwd_hooks=hooks)
            per[kind] = loss.double().cpu() * target_mask
        tok_per_seq = target_mask.sum(1).numpy()
        keep = tok_per_seq > 0
        clean, spliced, zero_l = (float(per[k].sum() / target_mask.sum()) for k in ("clean", "spliced", "zero_ablated"))
        delta_seq = (per["spliced"] - per["clean"]).sum(1).numpy()
        lo, hi = bootstrap_ratio_ci(delta_seq[keep], tok_per_seq[keep], n_boot=n_boot, ci=ci, seed=seed)
        rows.append({
            "model": name, "clean": clean, "spliced": spliced, "zero_ablated": zero_l, "delta_ce": spliced - clean,
            "delta_ci_lo": lo, "delta_ci_hi": hi,
            "ce_recovered": (zero_l - spliced) / (zero_l - clean) if zero_l != clean else float("nan"),
            "n_tokens": int(target_mask.sum()),
        })
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------------------------
# BatchTopK crosscoder
# ---------------------------------------------------------------------------------------------------------------
# Hand-written: SAELens 6.54 has no crosscoder, and the one PyPI package with crosscoders in its source tree
# (dictionary-learning) ships none in its released 0.1.0 and pins nnsight<0.4, which does not fit this stack.


@dataclass(frozen=True)
class CrosscoderConfig(FrozenConfig):
    """A BatchTopK crosscoder over ``n_models`` paired activation sets.

    ``k``: active latents per row on average over a batch (BatchTopK); at inference a latent fires when its
    (decoder-norm-weighted) pre-activation exceeds a threshold tracked during training. Each model's inputs
    are scaled to mean squared norm ``d_in`` before training (scales are stored), so decoder norms are
    comparable across models. ``aux_k`` / ``aux_coefficient``: AuxK loss that lets latents dead for
    ``dead_steps`` steps reconstruct the residual (0 disables). The learning rate decays linearly to 0 over
    the last ``decay_fraction`` of steps.
    """

    d_in: int
    d_sae: int
    k: int = 8
    n_models: int = 2
    lr: float = 1e-3
    steps: int = 2000
    batch_size: int = 256
    aux_k: int = 32
    aux_coefficient: float = 1.0 / 32
    dead_steps: int = 200
    decay_fraction: float = 0.2
    dec_init_norm: float = 0.1
    threshold_momentum: float = 0.99
    seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("d_in", "d_sae", "k", "steps", "batch_size"):
            check_range(self, name, 1)
        check_range(self, "n_models", 2)
        if self.k > self.d_sae:
            raise InvalidConfigError(f"CrosscoderConfig.k={self.k} exceeds d_sae={self.d_sae}: choose k <= d_sae.")
        check_range(self, "lr", 0.0, lo_open=True)
        check_range(self, "aux_k", 0)
        check_range(self, "aux_coefficient", 0.0)
        check_range(self, "decay_fraction", 0.0, 1.0)
        check_range(self, "threshold_momentum", 0.0, 1.0, hi_open=True)


class BatchTopKCrosscoder(nn.Module):
    """``f = BatchTopK(relu(sum_m x_m W_enc[m] + b_enc))``; ``x_hat_m = f W_dec[:, m] + b_dec[m]``.

    Latents are ranked by pre-activation times the sum of their decoder norms over models (as in Minder et al.),
    so a latent cannot win the top-k by shrinking its decoder.
    """

    def __init__(self, config: CrosscoderConfig) -> None:
        super().__init__()
        self.config = config
        m, d, s = config.n_models, config.d_in, config.d_sae
        g = torch.Generator().manual_seed(config.seed)
        w_dec = torch.randn(s, m, d, generator=g)
        w_dec = w_dec / w_dec.norm(dim=-1, keepdim=True) * config.dec_init_norm
        self.W_dec = nn.Parameter(w_dec)
        self.W_enc = nn.Parameter(w_dec.permute(1, 2, 0).clone())  # [m, d, s]
        self.b_enc = nn.Parameter(torch.zeros(s))
        self.b_dec = nn.Parameter(torch.zeros(m, d))
        self.register_buffer("threshold", torch.tensor(-1.0))  # < 0: not yet estimated
        self.register_buffer("input_scale", torch.ones(m))

    # shapes: x [batch, n_models, d_in] in the models' own units
    def _normalize(self, x: Tensor) -> Tensor:
        return x / self.input_scale[None, :, None]

    def decoder_norms(self) -> Float[Tensor, "d_sae n_models"]:
        """Decoder vector norms per latent and model (in the normalised space where models are comparable)."""
        return self.W_dec.norm(dim=-1)

    def _pre(self, xn: Tensor) -> Tensor:
        return torch.relu(torch.einsum("bmd,mds->bs", xn, self.W_enc) + self.b_enc)

    def _scores(self, pre: Tensor) -> Tensor:
        return pre * self.decoder_norms().sum(-1)

    def encode(self, x: Float[Tensor, "batch n_models d_in"], batch_topk: bool = False) -> Float[Tensor, "batch d_sae"]:
        """Latent activations. Inference uses the learned threshold; ``batch_topk=True`` uses the batch rule."""
        pre = self._pre(self._normalize(x))
        scores = self._scores(pre)
        if batch_topk or float(self.threshold) < 0:
            flat = scores.flatten()
            n_keep = min(flat.numel(), self.config.k * x.shape[0])
            keep = torch.zeros_like(flat, dtype=torch.bool)
            keep[flat.topk(n_keep).indices] = True
            keep = keep.view_as(scores) & (scores > 0)
        else:
            keep = scores > self.threshold
        return pre * keep

    def decode_normalized(self, f: Float[Tensor, "batch d_sae"]) -> Float[Tensor, "batch n_models d_in"]:
        return torch.einsum("bs,smd->bmd", f, self.W_dec) + self.b_dec

    def decode(self, f: Float[Tensor, "batch d_sae"]) -> Float[Tensor, "batch n_models d_in"]:
        """Reconstruction in the models' own units."""
        return self.decode_normalized(f) * self.input_scale[None, :, None]

    def forward(self, x: Float[Tensor, "batch n_models d_in"]) -> Float[Tensor, "batch n_models d_in"]:
        return self.decode(self.encode(x))


def _stack_pair(acts: list[Tensor], d_in: int | None = None) -> Tensor:
    checked = [_check_acts(a, f"acts[{i}]", d_in) for i, a in enumerate(acts)]
    if len({tuple(a.shape) for a in checked}) != 1:
        raise InvalidConfigError(
            f"Crosscoder inputs must be paired rows of equal shape (same prompts and positions in every model), got"
            f" {[tuple(a.shape) for a in checked]}."
        )
    return torch.stack(checked, 1)  # [n, n_models, d_in]


def train_crosscoder(
    acts_base: Float[Tensor, "n d_in"],
    acts_rl: Float[Tensor, "n d_in"],
    config: CrosscoderConfig,
    *,
    progress: bool = False,
    checkpoint_dir: str | os.PathLike | None = None,
    checkpoint_every: int = 500,
    on_checkpoint: Callable[[int], None] | None = None,
    device: str = "cpu",
) -> BatchTopKCrosscoder:
    """Train a BatchTopK crosscoder on paired rows (row ``i`` is the same token in both models).

    ``checkpoint_dir`` / ``checkpoint_every`` / ``on_checkpoint``: checkpoint and resume as :func:`train_sae` does
    (one ``step_<N>.pt`` file, written atomically, read back with ``torch.load(weights_only=True)``).
    ``device``: where training runs, as for :func:`train_sae`; the crosscoder comes back on it.
    """
    x = _stack_pair([acts_base, acts_rl], config.d_in)
    if config.n_models != 2:
        raise InvalidConfigError("train_crosscoder trains on a (base, RL) pair: set CrosscoderConfig.n_models=2.")
    _check_every(checkpoint_every)
    dev = _training_device(device)
    acts_hash = hash_tensors({"base": x[:, BASE], "rl": x[:, RL]}) if checkpoint_dir is not None else None
    x = x.to(dev)
    cc = BatchTopKCrosscoder(config).to(dev)
    with torch.no_grad():
        cc.input_scale.copy_((x.pow(2).sum(-1).mean(0) / config.d_in).sqrt().clamp_min(1e-12))
        xn_all = cc._normalize(x)
        cc.b_dec.copy_(xn_all.mean(0))
    opt = torch.optim.Adam(cc.parameters(), lr=config.lr)
    decay_start = int(config.steps * (1 - config.decay_fraction))

    def lr_lambda(step: int) -> float:
        if step < decay_start:
            return 1.0
        return max(0.0, (config.steps - step) / max(1, config.steps - decay_start))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda)
    g = torch.Generator().manual_seed(config.seed)
    n = x.shape[0]
    since_fired = torch.zeros(config.d_sae, device=dev)
    first_step = 0
    folder = fingerprint = None
    if checkpoint_dir is not None:
        folder = Path(checkpoint_dir)
        fingerprint = _fingerprint({
            "kind": "crosscoder", "config": config.to_dict(), "torch": torch.__version__, "acts": acts_hash,
            **_device_part(dev),
        })
        latest = _latest_checkpoint(folder)
        if latest is not None:
            try:
                state = torch.load(latest, map_location="cpu", weights_only=True)
            except Exception as e:  # torch raises several types on truncated or foreign files
                raise CorruptedCheckpointError(
                    f"Cannot read the crosscoder checkpoint {latest} ({type(e).__name__}: {e}): delete {latest} and"
                    " rerun (earlier checkpoints are pruned once a newer one is written, so training normally restarts"
                    " from scratch)."
                ) from e
            _check_fingerprint(state.get("fingerprint", ""), fingerprint, latest)
            cc.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            sched.load_state_dict(state["scheduler"])
            g.set_state(state["data_rng"])
            torch.set_rng_state(state["torch_rng"])
            since_fired = state["since_fired"].to(dev)
            first_step = int(state["step"])
            log.info("train_crosscoder: resuming from step %d (%s)", first_step, latest)

    def save_checkpoint(done: int) -> None:
        assert folder is not None
        final = folder / f"step_{done:09d}.pt"
        with atomic_path(final) as tmp:
            torch.save({
                "fingerprint": fingerprint, "step": done, "model": cc.state_dict(), "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(), "data_rng": g.get_state(), "torch_rng": torch.get_rng_state(),
                "since_fired": since_fired,
            }, tmp)
        _prune_checkpoints(folder, final)
        log.info("train_crosscoder: checkpoint at step %d in %s", done, final)
        if on_checkpoint is not None:
            on_checkpoint(done)

    for step in tqdm(range(first_step, config.steps), desc="crosscoder", disable=not progress, leave=False,
                     initial=first_step, total=config.steps):
        xb = xn_all[torch.randint(0, n, (config.batch_size,), generator=g)]
        pre = cc._pre(xb)
        scores = cc._scores(pre)
        flat = scores.flatten()
        top = flat.topk(min(flat.numel(), config.k * config.batch_size))
        keep = torch.zeros_like(flat, dtype=torch.bool)
        keep[top.indices] = True
        keep = keep.view_as(scores) & (scores > 0)
        f = pre * keep
        recon = cc.decode_normalized(f)
        err = xb - recon
        loss = err.pow(2).sum((-1, -2)).mean()
        fired = keep.any(0)
        since_fired = torch.where(fired, torch.zeros_like(since_fired), since_fired + 1)
        dead = since_fired > config.dead_steps
        if config.aux_k > 0 and config.aux_coefficient > 0 and bool(dead.any()):
            aux_scores = torch.where(dead[None, :], scores, torch.zeros_like(scores))
            k_aux = min(config.aux_k, int(dead.sum()))
            idx = aux_scores.topk(k_aux, dim=-1).indices
            f_aux = torch.zeros_like(pre).scatter(-1, idx, pre.gather(-1, idx))
            aux_recon = torch.einsum("bs,smd->bmd", f_aux, cc.W_dec)
            residual = err.detach()
            aux = (residual - aux_recon).pow(2).sum((-1, -2)).mean() / residual.pow(2).sum((-1, -2)).mean().clamp_min(1e-12)
            loss = loss + config.aux_coefficient * aux
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        with torch.no_grad():
            kept = scores[keep]
            if kept.numel():
                m = float(kept.min())
                t = float(cc.threshold)
                cc.threshold.fill_(m if t < 0 else config.threshold_momentum * t + (1 - config.threshold_momentum) * m)
        done = step + 1
        if folder is not None and (done % checkpoint_every == 0 or done == config.steps):
            save_checkpoint(done)
    cc.eval()
    return cc


def save_crosscoder(cc: BatchTopKCrosscoder, path: str | os.PathLike) -> Path:
    """One safetensors file (written atomically) holding the weights, with the config JSON in its metadata."""
    return save_tensors_atomic(path, dict(cc.state_dict()), metadata={"crosscoder_config": json.dumps(cc.config.to_dict())})


def load_crosscoder(path: str | os.PathLike) -> BatchTopKCrosscoder:
    """Load a crosscoder written by :func:`save_crosscoder`."""
    from safetensors import safe_open

    tensors = load_tensors(path)  # raises typed errors for missing / truncated files
    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata() or {}
    if "crosscoder_config" not in meta:
        raise CorruptedCheckpointError(f"{path} has no crosscoder config in its metadata: it was not written by save_crosscoder.")
    cc = BatchTopKCrosscoder(CrosscoderConfig.from_dict(json.loads(meta["crosscoder_config"])))
    cc.load_state_dict(tensors)
    return cc.eval()


@torch.no_grad()
def crosscoder_latents(
    cc: BatchTopKCrosscoder,
    acts_base: Float[Tensor, "n d_in"],
    acts_rl: Float[Tensor, "n d_in"],
    *,
    exclusive_margin: float = 0.1,
    shared_band: tuple[float, float] = (0.3, 0.7),
    max_scaling_ratio: float = 0.3,
    batch: int = 4096,
) -> pd.DataFrame:
    """One row per latent: relative decoder norm, decoder cosine, frequency, Latent Scaling, and a class.

    - ``rel_norm`` r_j = ||d_RL|| / (||d_base|| + ||d_RL||) (normalised space): near 0 base-only, near 1 RL-only,
      near 0.5 shared. ``dec_cos``: cosine of the two decoder vectors (meaningful for shared latents).
    - Latent Scaling (Minder et al. 2504.02922): with ``u_j`` the unit decoder direction of the model owning the
      latent (larger decoder norm) and ``t_m = x_m - x_hat_m + f_j d_j^m`` (model m's activation minus the
      reconstruction by all *other* latents), ``beta_m = sum f_j <u_j, t_m> / sum f_j^2`` is the least-squares
      scale of the latent's direction in model m. ``scaling_ratio`` = beta of the non-owning model / beta of the
      owner: near 0 confirms the latent is exclusive; near 1 says the other model carries it too (the
      "complete shrinkage" artefact of crosscoders).
    - ``category``: ``rl_only`` (r >= 1 - margin), ``base_only`` (r <= margin), ``shared`` (r in
      ``shared_band``) or ``other``; ``confirmed`` is True for exclusive latents whose ``scaling_ratio`` is below
      ``max_scaling_ratio`` (and for shared latents, which need no confirmation); dead latents get NaN betas.
    """
    x = _stack_pair([acts_base, acts_rl], cc.config.d_in)
    s = cc.config.d_sae
    dev = cc.W_dec.device  # batches go to the crosscoder's device; the table is built on CPU
    norms = cc.decoder_norms()  # [s, 2]
    owner = torch.where(norms[:, RL] >= norms[:, BASE], RL, BASE)
    u = cc.W_dec[torch.arange(s), owner]  # [s, d]
    u = u / u.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    dec_dot_u = torch.einsum("smd,sd->sm", cc.W_dec, u)  # <d_j^m, u_j>
    num = torch.zeros(s, 2, dtype=torch.float64, device=dev)
    f2 = torch.zeros(s, dtype=torch.float64, device=dev)
    freq = torch.zeros(s, dtype=torch.float64, device=dev)
    for start in range(0, x.shape[0], batch):
        rows = x[start : start + batch].to(dev)
        xb = cc._normalize(rows)
        f = cc.encode(rows)
        recon = cc.decode_normalized(f)
        for m in (BASE, RL):
            t = (xb[:, m] - recon[:, m]) @ u.T + f * dec_dot_u[:, m]  # <u_j, t_m> for every latent: [b, s]
            num[:, m] += (f * t).sum(0).double()
        f2 += f.pow(2).sum(0).double()
        freq += (f > 0).sum(0).double()
    num, f2, freq, norms, owner = num.cpu(), f2.cpu(), freq.cpu(), norms.cpu(), owner.cpu()
    with np.errstate(invalid="ignore", divide="ignore"):
        beta = (num / f2[:, None]).numpy()
    nb, nr = norms[:, BASE].double().numpy(), norms[:, RL].double().numpy()
    rel = nr / np.maximum(nb + nr, 1e-12)
    cos = torch.nn.functional.cosine_similarity(cc.W_dec[:, BASE], cc.W_dec[:, RL], dim=-1).double().cpu().numpy()
    own = owner.numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(own == RL, beta[:, BASE] / beta[:, RL], beta[:, RL] / beta[:, BASE])
    category = np.where(rel >= 1 - exclusive_margin, "rl_only", np.where(rel <= exclusive_margin, "base_only",
                        np.where((rel >= shared_band[0]) & (rel <= shared_band[1]), "shared", "other")))
    confirmed = np.where(np.isin(category, ["rl_only", "base_only"]), np.abs(ratio) < max_scaling_ratio, category == "shared")
    return pd.DataFrame({
        "latent": np.arange(s), "rel_norm": rel, "dec_norm_base": nb, "dec_norm_rl": nr, "dec_cos": cos,
        "freq": freq.numpy() / x.shape[0], "beta_base": beta[:, BASE], "beta_rl": beta[:, RL],
        "scaling_ratio": ratio, "category": category, "confirmed": confirmed & (freq.numpy() > 0),
    })


def fvu(x: Float[Tensor, "n d"], recon: Float[Tensor, "n d"]) -> float:
    """Fraction of variance unexplained: ``sum ||x - recon||^2 / sum ||x - mean(x)||^2``."""
    x, recon = x.detach().double(), recon.detach().double()
    sst = float(((x - x.mean(0)) ** 2).sum())
    return float(((x - recon) ** 2).sum()) / sst if sst > 0 else math.nan
