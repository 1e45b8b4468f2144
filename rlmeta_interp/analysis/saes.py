"""Indicator 5, features: an SAE trained with SAELens on base activations, and how well it explains each model.

- :func:`train_sae` trains a TopK or BatchTopK SAE with SAELens (``SAETrainer`` fed from a ``[n, d_in]`` tensor of
  cached activations); :func:`reconstruction_quality` measures how well it reconstructs each model's activations
  (FVU, explained variance, L0) with bootstrap CIs and the RL/base FVU ratio; :func:`splice_ce_loss` measures
  the CE-loss cost of splicing the SAE into a model at its hook.
- :func:`save_sae` / :func:`load_sae`: an SAELens folder, swapped in atomically.

Resume: ``train_sae`` takes ``checkpoint_dir`` / ``checkpoint_every`` and writes the full training state (weights,
optimizer, schedules, dead-latent counters, data-order and torch RNG state) as
:mod:`rlmeta_interp.analysis.checkpointing` describes. Called again with the same config and data, it resumes from
the newest checkpoint and ends with bit-for-bit the weights of an uninterrupted run (same machine and library
versions). The BatchTopK crosscoder is in :mod:`rlmeta_interp.analysis.crosscoder`.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from jaxtyping import Float, Int
from torch import Tensor

from ..config import FrozenConfig, check_range
from ..errors import CorruptedCheckpointError, EmptyInputError, InvalidConfigError, MissingWeightsError
from ..inputs import check_token_batch
from ..io import atomic_dir, hash_tensors, load_tensors, read_json, save_tensors_atomic, write_json_atomic
from ..views import tl_view
from .checkpointing import (
    check_acts,
    check_every,
    check_fingerprint,
    device_part,
    fingerprint,
    latest_checkpoint,
    prune_checkpoints,
    training_device,
)
from .ratios import bootstrap_ratio_ci
from .stats import bootstrap_ci

log = logging.getLogger(__name__)


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
        check_range(self, "lr", 0.0, float("inf"), lo_open=True, hi_open=True)
        check_range(self, "lr_warm_up_steps", 0)
        check_range(self, "aux_loss_coefficient", 0.0)
        check_range(self, "dead_feature_window", 1)
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

    x = check_acts(acts, "acts")
    check_every(checkpoint_every)
    dev = training_device(device)
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
        run_id = fingerprint({
            "kind": "sae", "config": config.to_dict(), "hook_name": hook_name, "model_name": model_name,
            "acts": acts_hash,
            "init_directions": None if init_directions is None else hash_tensors({"init": init_directions.float()}),
            "sae_lens": sae_lens_version, "torch": torch.__version__, **device_part(dev),
        })
        ckpt = _SaeCheckpointer(Path(checkpoint_dir), run_id, checkpoint_every, on_checkpoint, data)
    trainer = _resumable_trainer_cls()(cfg=trainer_cfg, sae=sae, data_provider=data)
    trainer.rlmeta_checkpointer = ckpt
    if ckpt is not None:
        ckpt.resume(trainer)
    trained = trainer.fit()
    # SAELens converts a training SAE to its inference class only through disk; a temp folder is cheap here
    with tempfile.TemporaryDirectory() as tmp:
        trained.save_inference_model(tmp)
        return SAE.load_from_disk(tmp, device=str(dev))


SAE_WEIGHTS, SAE_STATE = "training_sae.safetensors", "rlmeta_state.json"


@dataclass
class _SaeCheckpointer:
    """Writes and reads ``train_sae`` checkpoints: one ``step_<N>`` folder holding the training SAE's weights
    (safetensors), SAELens's own trainer state (``save_trainer_state``: optimizer, LR and coefficient schedules,
    dead-latent counters, activation scaler; read back with ``torch.load``'s default ``weights_only=True``) and ours
    (fingerprint, step, data batches consumed, torch RNG state)."""

    folder: Path
    run_id: str
    every: int
    on_checkpoint: Callable[[int], None] | None
    data: _RowBatches

    def save(self, trainer: Any, step: int) -> None:
        def build(tmp: Path) -> None:
            save_tensors_atomic(tmp / SAE_WEIGHTS, dict(trainer.sae.state_dict()))
            # fit() counts the step only after its checkpoint hook: record it as done, as a fresh trainer would
            counted = trainer.n_training_steps
            trainer.n_training_steps = step
            try:
                trainer.save_trainer_state(tmp)
            finally:
                trainer.n_training_steps = counted
            save_tensors_atomic(tmp / "rng.safetensors", {"torch": torch.get_rng_state()})
            write_json_atomic(tmp / SAE_STATE, {"fingerprint": self.run_id, "step": step,
                                                 "data_batches": self.data.n_yielded})

        final = self.folder / f"step_{step:09d}"
        with atomic_dir(final) as tmp:  # a checkpoint exists whole or not at all
            build(tmp)
        prune_checkpoints(self.folder, final)
        log.info("train_sae: checkpoint at step %d in %s", step, final)
        if self.on_checkpoint is not None:
            self.on_checkpoint(step)

    def resume(self, trainer: Any) -> None:
        latest = latest_checkpoint(self.folder)
        if latest is None:
            return
        fix = (f"delete the checkpoint folder {latest} and rerun (earlier checkpoints are pruned once a newer one is"
               " written, so training normally restarts from scratch).")
        try:
            state = read_json(latest / SAE_STATE)
        except (MissingWeightsError, CorruptedCheckpointError) as e:
            raise CorruptedCheckpointError(f"The checkpoint {latest} has no readable {SAE_STATE} ({e}): {fix}") from e
        check_fingerprint(state.get("fingerprint", ""), self.run_id, latest)
        try:
            trainer.load_trainer_state(latest)
        except Exception as e:  # torch.load / json raise several types on damaged files
            raise CorruptedCheckpointError(
                f"Cannot read the trainer state in {latest} ({type(e).__name__}: {e}): {fix}"
            ) from e
        try:
            weights, rng = load_tensors(latest / SAE_WEIGHTS), load_tensors(latest / "rng.safetensors")["torch"]
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
    stats = {name: _sae_stats(sae, check_acts(x, f"acts_by_model[{name!r}]", d_in)) for name, x in acts_by_model.items()}
    flat = sorted(name for name, (_, sst, _) in stats.items() if not float(sst.sum()) > 0)
    if flat:  # FVU divides by the activations' variance
        raise InvalidConfigError(f"The activations of {flat} have no variance (constant rows, or a single row), so the"
                                 " fraction of variance unexplained is undefined: pass activations of several"
                                 " different positions or prompts.")
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
    if not models:
        raise EmptyInputError("No models given: pass {name: model}.")
    if not isinstance(hook, str):
        raise InvalidConfigError(f"hook must be a hook name (e.g. rlmeta_interp.hooks.hook_name(layer)), got {hook!r}.")
    views = {name: tl_view(model) for name, model in models.items()}
    for name, tl in views.items():  # the model's own checks: ids in its vocabulary, right padding, its context
        tokens, mask = check_token_batch(tokens, attention_mask, vocab_size=tl.cfg.d_vocab, n_ctx=tl.cfg.n_ctx,
                                         what=f"tokens for {name}")
    if tokens.shape[1] < 2:
        raise InvalidConfigError(f"tokens must be [batch, pos] with pos >= 2, got shape {tuple(tokens.shape)}.")
    target_mask = mask[:, 1:].double()  # the loss at position t predicts token t + 1
    if target_mask.sum() == 0:
        raise EmptyInputError("No predicted tokens: every sequence is a single real token.")
    d_in = getattr(getattr(sae, "cfg", None), "d_in", None)

    def splice(act: Tensor, hook: Any) -> Tensor:
        if act.ndim != 3 or (d_in is not None and act.shape[-1] != d_in):
            raise InvalidConfigError(
                f"The SAE reads {d_in}-wide vectors but {hook.name} gives activations of shape {tuple(act.shape)}:"
                " splice it at the hook it was trained on (one vector per position, as hook_resid_post gives).")
        return sae.decode(sae.encode(act)).to(act.dtype)

    def zero(act: Tensor, hook: Any) -> Tensor:
        return torch.zeros_like(act)

    rows = []
    for name, tl in views.items():
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



def fvu(x: Float[Tensor, "n d"], recon: Float[Tensor, "n d"]) -> float:
    """Fraction of variance unexplained: ``sum ||x - recon||^2 / sum ||x - mean(x)||^2`` (NaN when ``x`` has no
    variance: no share of nothing can be unexplained)."""
    if not (isinstance(x, Tensor) and isinstance(recon, Tensor)) or x.shape != recon.shape or x.ndim != 2:
        raise InvalidConfigError(f"fvu needs activations and their reconstruction as tensors of one shape [n, d]; got"
                                 f" {tuple(getattr(x, 'shape', ()))} and {tuple(getattr(recon, 'shape', ()))}.")
    x, recon = x.detach().double(), recon.detach().double()
    sst = float(((x - x.mean(0)) ** 2).sum())
    return float(((x - recon) ** 2).sum()) / sst if sst > 0 else math.nan
