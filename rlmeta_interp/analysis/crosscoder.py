"""The BatchTopK crosscoder (indicator 5, features): one sparse dictionary over paired ``[base; RL]`` activations.

One decoder per model (Lindsey et al. 2024; BatchTopK as Minder et al. 2504.02922 recommend over L1).
:func:`crosscoder_latents` gives each latent's relative decoder norm ``r_j = ||d_RL|| / (||d_base|| + ||d_RL||)``,
the cosine of its two decoder vectors, its firing frequency, and Latent Scaling betas. :func:`save_crosscoder` /
:func:`load_crosscoder`: one safetensors file with the config in its metadata. :func:`train_crosscoder` checkpoints
and resumes as described in :mod:`rlmeta_interp.analysis.checkpointing` (one ``step_<N>.pt`` file per checkpoint,
read back with ``torch.load(weights_only=True)``), and ends with bit-for-bit the weights of an uninterrupted run.

Hand-written: SAELens 6.54 has no crosscoder, and the one PyPI package with crosscoders in its source tree
(dictionary-learning) ships none in its released 0.1.0 and pins nnsight<0.4, which does not fit this stack.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from jaxtyping import Float
from torch import Tensor, nn
from tqdm.auto import tqdm

from ..config import FrozenConfig, check_range
from ..errors import CorruptedCheckpointError, InvalidConfigError
from ..inputs import check_int, check_number
from ..io import atomic_path, hash_tensors, load_tensors, save_tensors_atomic
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

log = logging.getLogger(__name__)

BASE, RL = 0, 1  # crosscoder model index: 0 = base, 1 = RL


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
        check_range(self, "dead_steps", 0)
        check_range(self, "dec_init_norm", 0.0, lo_open=True)
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


def stack_pair(acts: list[Tensor], d_in: int | None = None) -> Float[Tensor, "n n_models d_in"]:
    """Check paired activation sets (same rows in every model) and stack them along a model axis."""
    checked = [check_acts(a, f"acts[{i}]", d_in) for i, a in enumerate(acts)]
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
    x = stack_pair([acts_base, acts_rl], config.d_in)
    if config.n_models != 2:
        raise InvalidConfigError("train_crosscoder trains on a (base, RL) pair: set CrosscoderConfig.n_models=2.")
    check_every(checkpoint_every)
    dev = training_device(device)
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
    folder = run_id = None
    if checkpoint_dir is not None:
        folder = Path(checkpoint_dir)
        run_id = fingerprint({
            "kind": "crosscoder", "config": config.to_dict(), "torch": torch.__version__, "acts": acts_hash,
            **device_part(dev),
        })
        latest = latest_checkpoint(folder)
        if latest is not None:
            try:
                state = torch.load(latest, map_location="cpu", weights_only=True)
            except Exception as e:  # torch raises several types on truncated or foreign files
                raise CorruptedCheckpointError(
                    f"Cannot read the crosscoder checkpoint {latest} ({type(e).__name__}: {e}): delete {latest} and"
                    " rerun (earlier checkpoints are pruned once a newer one is written, so training normally restarts"
                    " from scratch)."
                ) from e
            check_fingerprint(state.get("fingerprint", ""), run_id, latest)
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
                "fingerprint": run_id, "step": done, "model": cc.state_dict(), "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(), "data_rng": g.get_state(), "torch_rng": torch.get_rng_state(),
                "since_fired": since_fired,
            }, tmp)
        prune_checkpoints(folder, final)
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
    try:
        cc = BatchTopKCrosscoder(CrosscoderConfig.from_dict(json.loads(meta["crosscoder_config"])))
        cc.load_state_dict(tensors)
    except (json.JSONDecodeError, RuntimeError) as e:  # bad JSON, or tensors of other shapes than the config's
        raise CorruptedCheckpointError(f"{path}: its stored config and tensors do not fit together ({type(e).__name__}:"
                                       f" {str(e)[:200]}). Train or save the crosscoder again.") from e
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
    exclusive_margin = check_number(exclusive_margin, "exclusive_margin", 0.0, 0.5)
    if exclusive_margin >= 0.5:  # at 0.5 the rl_only and base_only bands meet, and every latent is exclusive
        raise InvalidConfigError(f"exclusive_margin={exclusive_margin}: pass a margin below 0.5 (e.g. 0.1), so that"
                                 " the rl_only and base_only bands do not overlap.")
    if not isinstance(shared_band, (tuple, list)) or len(shared_band) != 2:
        raise InvalidConfigError(f"shared_band={shared_band!r}: pass (lo, hi), e.g. (0.3, 0.7).")
    lo_band, hi_band = (check_number(b, "shared_band", 0.0, 1.0) for b in shared_band)
    if lo_band > hi_band:
        raise InvalidConfigError(f"shared_band={tuple(shared_band)} ends below where it starts: pass (lo, hi), lo <= hi.")
    max_scaling_ratio = check_number(max_scaling_ratio, "max_scaling_ratio", 0.0, lo_open=True)
    batch = check_int(batch, "batch", lo=1)
    x = stack_pair([acts_base, acts_rl], cc.config.d_in)
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
