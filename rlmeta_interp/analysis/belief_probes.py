"""Ridge probes of continuous targets (bandits: each arm's posterior mean) and the controls they need.

- :func:`ridge_probe_r2`: cross-validated ridge R^2 per layer, pooled over target columns, with a bootstrap CI and
  shuffled-target refits.
- :func:`belief_probe_report`: that R^2 per model beside the controls docs/claims.md ("Bandit measurement traps")
  asks for: centred targets (:func:`center_targets`), a random-init model (:func:`random_init_like`), a
  bag-of-token-counts baseline (:func:`bag_of_token_counts`) and shuffled targets.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import torch
from jaxtyping import Float, Int
from sklearn.linear_model import RidgeCV
from sklearn.metrics import r2_score
from sklearn.model_selection import GroupKFold, KFold
from torch import Tensor
from transformers import PreTrainedModel

from ..config import FrozenConfig, check_range
from ..errors import EmptyInputError, InvalidConfigError
from ..inputs import check_float_array
from .stats import bootstrap_ci_dropping_nan, fold_scale

log = logging.getLogger(__name__)

Acts = Mapping[int, Float[Tensor, "n d_model"]]


@dataclass(frozen=True)
class RidgeProbeConfig(FrozenConfig):
    """Cross-validated ridge probe of continuous targets.

    ``center``: ``"row"`` subtracts each row's mean over target columns (bandits: each arm's value minus the mean
    over arms in the episode, which removes the pooled success rate that token counts alone predict);
    ``"none"`` keeps raw targets. ``alphas``: ridge strengths searched by efficient leave-one-out inside each
    training fold (sklearn ``RidgeCV``). ``n_shuffles``: refits with rows of the targets permuted (control).
    ``standardize``: z-score features with training-fold statistics before the ridge.
    """

    center: Literal["row", "none"] = "row"
    alphas: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0)
    n_folds: int = 5
    n_shuffles: int = 3
    n_boot: int = 500
    ci: float = 0.95
    standardize: bool = True
    seed: int = 0
    random_init_key: str = "random_init"
    require_random_init: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.alphas or any(a <= 0 for a in self.alphas):
            raise InvalidConfigError(f"RidgeProbeConfig.alphas must be non-empty and positive, got {self.alphas!r}.")
        check_range(self, "n_folds", 2)
        check_range(self, "n_shuffles", 0)
        check_range(self, "n_boot", 1)
        check_range(self, "ci", 0.0, 1.0, lo_open=True, hi_open=True)


def center_targets(targets: Float[Tensor, "n t"] | np.ndarray, mode: Literal["row", "none"] = "row") -> np.ndarray:
    """``"row"``: subtract each row's mean over target columns; ``"none"``: unchanged (as float64 numpy)."""
    y = check_float_array(targets, "targets")
    if y.ndim == 1:
        y = y[:, None]
    if mode == "row":
        if y.shape[1] < 2:
            raise InvalidConfigError("center='row' needs at least 2 target columns (e.g. one per arm); use center='none'.")
        return y - y.mean(1, keepdims=True)
    if mode == "none":
        return y
    raise InvalidConfigError(f"center={mode!r}; choose 'row' or 'none'.")


def _oof_predictions(x: np.ndarray, y: np.ndarray, cfg: RidgeProbeConfig, seed: int,
                     groups: np.ndarray | None = None) -> np.ndarray:
    pred = np.zeros_like(y)
    folds = (KFold(n_splits=cfg.n_folds, shuffle=True, random_state=seed).split(x) if groups is None else
             GroupKFold(n_splits=cfg.n_folds, shuffle=True, random_state=seed).split(x, groups=groups))
    for tr, te in folds:
        if cfg.standardize:
            mu, sd = fold_scale(x[tr])
        else:
            mu, sd = 0.0, 1.0
        model = RidgeCV(alphas=np.asarray(cfg.alphas)).fit((x[tr] - mu) / sd, y[tr])
        pred[te] = model.predict((x[te] - mu) / sd).reshape(pred[te].shape)
    return pred


def _pooled_r2(y: np.ndarray, pred: np.ndarray, idx: np.ndarray | None = None) -> float:
    if idx is not None:
        y, pred = y[idx], pred[idx]
    return float(r2_score(y, pred, multioutput="variance_weighted"))


def ridge_probe_r2(
    features: Acts | Float[Tensor, "n f"],
    targets: Float[Tensor, "n t"] | np.ndarray,
    config: RidgeProbeConfig = RidgeProbeConfig(),
    groups: Int[Tensor, " n"] | np.ndarray | None = None,
) -> pd.DataFrame:
    """Cross-validated R^2 of a ridge probe from features (per layer) to (centred) targets.

    R^2 is pooled over target columns (variance-weighted) on out-of-fold predictions. Columns: ``layer``
    (``-1`` for a plain feature matrix), ``r2, ci_lo, ci_hi`` (bootstrap over rows of the out-of-fold
    predictions), ``r2_shuffled`` (mean over ``n_shuffles`` refits with target rows permuted), ``n``.
    ``groups`` (e.g. the episode of each row): folds never split a group and the bootstrap resamples whole groups,
    so rows of one episode (strongly correlated) never sit on both sides of a fold.
    """
    y = center_targets(targets, config.center)
    if y.shape[0] and not np.any(y.var(axis=0) > 0):  # sklearn's R^2 reads a constant target as 1.0, a perfect probe
        after = f" after centring (center={config.center!r})" if config.center != "none" else ""
        raise InvalidConfigError(
            f"The targets have no variance{after} in any column, so R^2 is undefined (sklearn would read 1.0, a"
            " perfect probe). Probe a quantity that varies across rows (with row centring, one whose entries differ"
            " within a row)."
        )
    g = None if groups is None else np.asarray(groups).reshape(-1)
    if g is not None and g.shape[0] != y.shape[0]:
        raise InvalidConfigError(f"groups has {g.shape[0]} entries for {y.shape[0]} target rows: give one per row.")
    if g is not None and np.unique(g).size < config.n_folds:
        raise InvalidConfigError(f"groups has {np.unique(g).size} distinct values, fewer than n_folds={config.n_folds}.")
    feats = {-1: features} if isinstance(features, Tensor) else dict(features)
    if not feats:
        raise EmptyInputError("No features given: pass {layer: activations} or a [n, f] tensor.")
    rows = []
    for layer, f in sorted(feats.items()):
        x = check_float_array(f, f"features[{layer}]")
        if x.ndim != 2 or x.shape[0] != y.shape[0]:
            raise InvalidConfigError(
                f"features[{layer}] must be [n, f] with n = {y.shape[0]} rows (one per target row), got {x.shape}."
            )
        if x.shape[0] < 2 * config.n_folds:
            raise InvalidConfigError(f"ridge_probe_r2 needs at least {2 * config.n_folds} rows for {config.n_folds} folds, got {x.shape[0]}.")
        pred = _oof_predictions(x, y, config, config.seed, g)
        r2 = _pooled_r2(y, pred)
        if g is None:
            units, rows_of = np.arange(x.shape[0], dtype=np.float64), None
        else:
            uniq, inverse = np.unique(g, return_inverse=True)
            units = np.arange(uniq.size, dtype=np.float64)
            rows_of = [np.flatnonzero(inverse == i) for i in range(uniq.size)]

        def stat(idx_f: np.ndarray, axis: int = -1, _y: np.ndarray = y, _p: np.ndarray = pred, _r=rows_of) -> np.ndarray:
            idx = np.atleast_2d(idx_f).astype(np.int64)
            if _r is not None:
                idx = [np.concatenate([_r[j] for j in row]) for row in idx]
            out = np.array([_pooled_r2(_y, _p, i) for i in idx])
            return out if np.ndim(idx_f) > 1 else out[0]

        lo, hi = bootstrap_ci_dropping_nan(units, stat, n_boot=config.n_boot, ci=config.ci, seed=config.seed)
        rng = np.random.default_rng(config.seed + 1)
        shuffled = [
            _pooled_r2(ys, _oof_predictions(x, ys, config, config.seed, g))
            for ys in (y[rng.permutation(y.shape[0])] for _ in range(config.n_shuffles))
        ]
        rows.append({
            "layer": layer, "r2": r2, "ci_lo": lo, "ci_hi": hi,
            "r2_shuffled": float(np.mean(shuffled)) if shuffled else float("nan"), "n": x.shape[0],
        })
    return pd.DataFrame(rows)


def bag_of_token_counts(
    tokens: Int[Tensor, "n pos"],
    vocab_size: int,
    attention_mask: Int[Tensor, "n pos"] | None = None,
) -> Float[Tensor, "n vocab"]:
    """Count of each token id in each row (padding excluded via ``attention_mask``): the counts-only baseline."""
    if tokens.ndim != 2:
        raise InvalidConfigError(f"tokens must be [n, pos], got shape {tuple(tokens.shape)}.")
    if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= vocab_size):
        raise InvalidConfigError(f"token ids must lie in [0, {vocab_size}); pass the tokenizer's vocabulary size.")
    if attention_mask is not None and tuple(attention_mask.shape) != tuple(tokens.shape):
        raise InvalidConfigError(f"attention_mask must have the tokens' shape {tuple(tokens.shape)}, got"
                                 f" {tuple(attention_mask.shape)}.")
    mask = torch.ones_like(tokens) if attention_mask is None else attention_mask.to(tokens.dtype)
    out = torch.zeros(tokens.shape[0], vocab_size, dtype=torch.float32)
    out.scatter_add_(1, tokens.long(), mask.float())
    return out


@torch.no_grad()
def random_init_like(model: PreTrainedModel, seed: int = 0) -> PreTrainedModel:
    """A freshly initialised model of the same class and config (the random-init control for probes)."""
    torch.manual_seed(seed)
    fresh = type(model)(model.config)
    return fresh.to(next(model.parameters()).device).eval()


def belief_probe_report(
    acts_by_model: Mapping[str, Acts],
    targets: Float[Tensor, "n t"] | np.ndarray,
    *,
    tokens: Int[Tensor, "n pos"],
    vocab_size: int,
    attention_mask: Int[Tensor, "n pos"] | None = None,
    config: RidgeProbeConfig = RidgeProbeConfig(),
    groups: Int[Tensor, " n"] | np.ndarray | None = None,
) -> pd.DataFrame:
    """Ridge R^2 of (centred) continuous targets per model and layer, beside the controls.

    ``acts_by_model``: e.g. ``{"base": {...}, "rl": {...}, "random_init": {...}}`` (activations on the same
    episodes; build the random-init one with :func:`random_init_like`). A ``"token_counts"`` row (bag of token
    counts of ``tokens``) is added. Columns: those of :func:`ridge_probe_r2` plus ``model`` and
    ``r2_minus_random_init`` / ``r2_minus_counts`` (R^2 minus the control's at the same layer / the counts'
    R^2): probe R^2 alone is not evidence of a learned representation (a random network decoded centred arm
    values with R^2 0.50 in the pilot).
    """
    if config.require_random_init and config.random_init_key not in acts_by_model:
        raise InvalidConfigError(
            f"belief_probe_report needs a random-init control under key {config.random_init_key!r}: harvest the same"
            " layers from belief_probes.random_init_like(model) (or set require_random_init=False to skip the control)."
        )
    frames = [ridge_probe_r2(acts, targets, config, groups).assign(model=name) for name, acts in acts_by_model.items()]
    counts = ridge_probe_r2(bag_of_token_counts(tokens, vocab_size, attention_mask), targets, config,
                            groups).assign(model="token_counts")
    df = pd.concat(frames + [counts], ignore_index=True)
    counts_r2 = float(counts["r2"].iloc[0])
    df["r2_minus_counts"] = df["r2"] - counts_r2
    if config.random_init_key in acts_by_model:
        ctrl = df[df["model"] == config.random_init_key].set_index("layer")["r2"]
        df["r2_minus_random_init"] = [
            r - ctrl.get(layer, np.nan) if m != "token_counts" else np.nan
            for r, layer, m in zip(df["r2"], df["layer"], df["model"], strict=True)
        ]
    else:
        df["r2_minus_random_init"] = np.nan
    cols = ["model", "layer", "r2", "ci_lo", "ci_hi", "r2_shuffled", "r2_minus_random_init", "r2_minus_counts", "n"]
    return df[cols]
