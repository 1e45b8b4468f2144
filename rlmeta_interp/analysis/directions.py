"""Indicator 3, direction pre-existence: does the behaviour direction of the RL model already exist in the base model?

Every function takes activations, not models: ``{layer: Float[Tensor, "n d_model"]}`` for the base and the RL
model on the *same* prompts (row ``i`` is prompt ``i`` in both), harvested the same way (same hook site, same
position rule). That pairing is what makes the paired bootstrap and the shuffled-label null meaningful.

- :func:`direction_cosines`: per layer, a difference-of-means or logistic-probe direction fitted in each model;
  cosine between the base and the RL direction, a bootstrap CI over prompts, and a null from shuffled labels.
- :func:`probe_transfer`: a logistic probe fitted on one model's activations, scored on held-out prompts of the
  same model and of the other model (cross-fitted over stratified folds, so every prompt is scored out of fold).
- :func:`ridge_probe_r2` / :func:`belief_probe_report`: cross-validated ridge R^2 of continuous targets (bandits:
  each arm's posterior mean) with the controls docs/claims.md ("Bandit measurement traps") asks for: centred
  targets, a random-init model, a bag-of-token-counts baseline and shuffled targets.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from jaxtyping import Float, Int
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.metrics import r2_score
from sklearn.model_selection import GroupKFold, KFold, StratifiedGroupKFold, StratifiedKFold
from torch import Tensor
from transformers import PreTrainedModel

from ..config import FrozenConfig, check_range
from ..errors import EmptyInputError, InvalidConfigError, NonFiniteError
from .stats import bootstrap_ci, mean_ci

log = logging.getLogger(__name__)

Acts = Mapping[int, Float[Tensor, "n d_model"]]


# ---------------------------------------------------------------------------------------------------------------
# configs
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DirectionConfig(FrozenConfig):
    """How behaviour directions are fitted and compared.

    ``method``: ``"diff_means"`` (mean of label-1 rows minus mean of label-0 rows) or ``"probe"`` (the weight
    vector of an L2 logistic regression with inverse strength ``probe_C`` on raw activations).
    ``n_shuffles``: label permutations for the null. ``n_boot``: bootstrap resamples of prompts for the CI
    (probe resamples refit a logistic regression each: keep it modest). ``n_folds``: stratified folds for probe
    transfer. ``standardize``: ``"own"`` scales each model's activations with its own training-fold mean and
    standard deviation (the probe transfers a direction, not an offset); ``"source"`` applies the source model's
    scaler to the target model too; ``"none"`` uses raw activations.
    """

    method: Literal["diff_means", "probe"] = "diff_means"
    probe_C: float = 1.0
    probe_max_iter: int = 2000
    n_shuffles: int = 100
    n_boot: int = 200
    ci: float = 0.95
    n_folds: int = 5
    standardize: Literal["own", "source", "none"] = "own"
    seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range(self, "probe_C", 0.0, lo_open=True)
        check_range(self, "probe_max_iter", 1)
        check_range(self, "n_shuffles", 0)
        check_range(self, "n_boot", 1)
        check_range(self, "ci", 0.0, 1.0, lo_open=True, hi_open=True)
        check_range(self, "n_folds", 2)


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


# ---------------------------------------------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------------------------------------------


def _np(x: Tensor | np.ndarray, name: str) -> np.ndarray:
    arr = x.detach().cpu().double().numpy() if isinstance(x, Tensor) else np.asarray(x, dtype=np.float64)
    if arr.size == 0:
        raise EmptyInputError(f"{name} is empty: pass at least one row of activations / labels.")
    if not np.all(np.isfinite(arr)):
        raise NonFiniteError(f"{name} holds NaN or inf: harvest again in float32 or drop those rows.")
    return arr


def _labels(labels: Tensor | np.ndarray | list, n: int, name: str = "labels") -> np.ndarray:
    y = np.asarray(labels.detach().cpu().numpy() if isinstance(labels, Tensor) else labels)
    if y.ndim != 1 or y.shape[0] != n:
        raise InvalidConfigError(f"{name} must have one entry per activation row ({n}), got shape {y.shape}.")
    values = set(np.unique(y).tolist())
    if not values <= {0, 1}:  # True and False compare equal to 1 and 0
        raise InvalidConfigError(f"{name} must be binary (0/1 or bool), got values {sorted(values)[:6]}.")
    y = y.astype(np.int64)
    counts = np.bincount(y, minlength=2)
    if counts.min() < 2:
        raise InvalidConfigError(
            f"{name} needs at least 2 rows of each class, got {counts.tolist()} (class 0, class 1): collect more"
            " prompts showing and not showing the behaviour."
        )
    return y


def _paired_layers(acts_base: Acts, acts_rl: Acts) -> list[int]:
    if not acts_base or not acts_rl:
        raise EmptyInputError("No layers given: pass {layer: activations} for both models.")
    if set(acts_base) != set(acts_rl):
        raise InvalidConfigError(
            f"Base and RL activations cover different layers ({sorted(acts_base)} vs {sorted(acts_rl)}): harvest"
            " the same hooks in both models."
        )
    for layer in acts_base:
        b, r = acts_base[layer], acts_rl[layer]
        if b.ndim != 2 or r.ndim != 2 or b.shape != r.shape:
            raise InvalidConfigError(
                f"Layer {layer}: activations must be [n, d_model] with equal shapes in both models (same prompts,"
                f" same positions), got {tuple(b.shape)} and {tuple(r.shape)}."
            )
    return sorted(acts_base)


# ---------------------------------------------------------------------------------------------------------------
# directions
# ---------------------------------------------------------------------------------------------------------------


def diff_of_means_direction(
    acts: Float[Tensor, "n d_model"], labels: Int[Tensor, " n"] | np.ndarray
) -> Float[Tensor, " d_model"]:
    """``mean(acts[labels == 1]) - mean(acts[labels == 0])`` (not normalised)."""
    x = _np(acts, "acts")
    y = _labels(labels, x.shape[0])
    return torch.from_numpy(x[y == 1].mean(0) - x[y == 0].mean(0)).float()


def probe_direction(
    acts: Float[Tensor, "n d_model"],
    labels: Int[Tensor, " n"] | np.ndarray,
    C: float = 1.0,
    max_iter: int = 2000,
) -> Float[Tensor, " d_model"]:
    """Weight vector of an L2 logistic regression (scikit-learn, lbfgs) fitted on raw activations."""
    x = _np(acts, "acts")
    y = _labels(labels, x.shape[0])
    clf = LogisticRegression(C=C, max_iter=max_iter).fit(x, y)
    return torch.from_numpy(clf.coef_[0].copy()).float()


def _dm_batch(x: np.ndarray, y: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Difference-of-means directions for a batch of row resamples ``idx`` [B, n] -> [B, d]."""
    n = x.shape[0]
    counts = np.stack([np.bincount(row, minlength=n) for row in idx]).astype(np.float64)  # [B, n]
    w1 = counts * (y == 1)
    w0 = counts * (y == 0)
    n1 = w1.sum(1, keepdims=True)
    n0 = w0.sum(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (w1 @ x) / n1 - (w0 @ x) / n0


def _cos_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray | np.floating:
    num = (a * b).sum(-1)
    den = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / den


def _fit_dir(x: np.ndarray, y: np.ndarray, cfg: DirectionConfig) -> np.ndarray:
    if cfg.method == "diff_means":
        return x[y == 1].mean(0) - x[y == 0].mean(0)
    return LogisticRegression(C=cfg.probe_C, max_iter=cfg.probe_max_iter).fit(x, y).coef_[0]


def direction_cosines(
    acts_base: Acts,
    acts_rl: Acts,
    labels: Int[Tensor, " n"] | np.ndarray,
    labels_rl: Int[Tensor, " n"] | np.ndarray | None = None,
    config: DirectionConfig = DirectionConfig(),
) -> pd.DataFrame:
    """Cosine between the base model's and the RL model's behaviour direction, per layer.

    ``labels`` label the prompts (1 = behaviour present); ``labels_rl`` if each model's rows are labelled by its
    own behaviour (default: the same labels). Columns: ``layer, method, cosine, ci_lo, ci_hi`` (bootstrap over
    prompts, both models resampled together), then two shuffled-label nulls, each as ``_mean``, ``_hi`` (upper
    ``ci`` quantile) and a one-sided permutation p-value ``(1 + #null >= cosine) / (1 + n_shuffles)``:

    - ``null_indep_*`` / ``p_indep``: labels permuted independently in each model: the cosine of two unrelated
      directions in these activation spaces. Beating it says the two directions are aligned at all.
    - ``null_shared_*`` / ``p_shared``: *one* permutation shared by both models: how aligned the two models'
      directions are for a random split of the same prompts. When RL changed the model little, every direction is
      shared and this null is high; beating it says the *behaviour* direction is more shared than an arbitrary
      one. Report both.
    """
    layers = _paired_layers(acts_base, acts_rl)
    n = acts_base[layers[0]].shape[0]
    y_b = _labels(labels, n)
    y_r = y_b if labels_rl is None else _labels(labels_rl, n, "labels_rl")
    rng = np.random.default_rng(config.seed)
    perms = [(rng.permutation(n), rng.permutation(n)) for _ in range(config.n_shuffles)]
    rows = []
    for layer in layers:
        xb, xr = _np(acts_base[layer], f"acts_base[{layer}]"), _np(acts_rl[layer], f"acts_rl[{layer}]")
        cos = float(_cos_rows(_fit_dir(xb, y_b, config), _fit_dir(xr, y_r, config)))

        def stat(idx_f: np.ndarray, axis: int = -1) -> np.ndarray:
            idx = np.atleast_2d(idx_f).astype(np.int64)
            if config.method == "diff_means":
                out = _cos_rows(_dm_batch(xb, y_b, idx), _dm_batch(xr, y_r, idx))  # noqa: B023 (used in this iteration)
            else:
                out = np.array([_cos_or_nan(xb[i], y_b[i], xr[i], y_r[i], config) for i in idx])  # noqa: B023
            return out if np.ndim(idx_f) > 1 else out[0]

        lo, hi = _nan_safe_ci(np.arange(n, dtype=np.float64), stat, config)
        row: dict[str, object] = {"layer": layer, "method": config.method, "cosine": cos, "ci_lo": lo, "ci_hi": hi}
        for kind in ("indep", "shared"):
            null = np.array([
                float(_cos_rows(_fit_dir(xb, y_b[p], config), _fit_dir(xr, y_r[q if kind == "indep" else p], config)))
                for p, q in perms
            ])
            empty = null.size == 0
            row[f"null_{kind}_mean"] = float("nan") if empty else float(null.mean())
            row[f"null_{kind}_hi"] = float("nan") if empty else float(np.quantile(null, (1 + config.ci) / 2))
            row[f"p_{kind}"] = float("nan") if empty else float((1 + (null >= cos).sum()) / (1 + null.size))
        row["n"] = n
        rows.append(row)
    return pd.DataFrame(rows)


def _cos_or_nan(xb: np.ndarray, yb: np.ndarray, xr: np.ndarray, yr: np.ndarray, cfg: DirectionConfig) -> float:
    # a resample can lose a class entirely; that resample has no direction
    if np.bincount(yb, minlength=2).min() == 0 or np.bincount(yr, minlength=2).min() == 0:
        return float("nan")
    return float(_cos_rows(_fit_dir(xb, yb, cfg), _fit_dir(xr, yr, cfg)))


def _nan_safe_ci(units: np.ndarray, stat: Callable[..., np.ndarray], cfg_like: DirectionConfig | RidgeProbeConfig) -> tuple[float, float]:
    """Bootstrap over units (row indices) through analysis.stats; resamples whose statistic is NaN are dropped."""

    def safe(idx: np.ndarray, axis: int = -1) -> np.ndarray:
        out = np.asarray(stat(idx, axis=axis), dtype=np.float64)
        if np.ndim(out) == 0:
            return out
        # scipy's percentile interval cannot skip NaN: replace by the median of the finite resamples
        finite = np.isfinite(out)
        if not finite.all() and finite.any():
            out = np.where(finite, out, np.median(out[finite]))
        return out

    return bootstrap_ci(units, stat=safe, n_boot=cfg_like.n_boot, ci=cfg_like.ci, seed=cfg_like.seed)


# ---------------------------------------------------------------------------------------------------------------
# probe transfer
# ---------------------------------------------------------------------------------------------------------------


def _scale(train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mu = train.mean(0)
    sd = train.std(0)
    return mu, np.where(sd > 0, sd, 1.0)


def probe_transfer(
    acts_base: Acts,
    acts_rl: Acts,
    labels: Int[Tensor, " n"] | np.ndarray,
    labels_rl: Int[Tensor, " n"] | np.ndarray | None = None,
    config: DirectionConfig = DirectionConfig(),
    groups: Sequence[Any] | None = None,
) -> pd.DataFrame:
    """Held-out accuracy of a logistic probe fitted on one model and applied to both, per layer.

    Cross-fitted over ``n_folds`` stratified folds: prompt ``i`` is scored by a probe that never saw prompt ``i``
    (in either model). Where rows repeat (a contrast drawn from a small problem space can hold the same text twice),
    pass ``groups`` (e.g. the texts): rows of one group then share a fold, so no probe is scored on a copy of a row
    it was fitted on (sklearn's ``StratifiedGroupKFold``; the interval below still counts rows as independent). Rows:
    ``layer, source, target, accuracy, ci_lo, ci_hi`` (a Wilson interval over prompts), ``chance`` (majority-class rate of the target
    labels), ``n``. ``source == target`` is the within-model accuracy; a pre-existing direction shows as transfer
    accuracy near the within-model accuracy.
    """
    layers = _paired_layers(acts_base, acts_rl)
    n = acts_base[layers[0]].shape[0]
    ys = {"base": _labels(labels, n), "rl": _labels(labels, n) if labels_rl is None else _labels(labels_rl, n, "labels_rl")}
    n_folds = min(config.n_folds, int(min(np.bincount(ys["base"]).min(), np.bincount(ys["rl"]).min())))
    if n_folds < 2:
        raise InvalidConfigError("probe_transfer needs at least 2 rows of each class in each model for held-out folds.")
    if groups is not None:
        if len(groups) != n:
            raise InvalidConfigError(f"probe_transfer got {len(groups)} groups for {n} rows: give one group per row.")
        group_ids = pd.factorize(pd.Series(list(groups), dtype=object))[0]
        n_folds = min(n_folds, int(pd.Series(group_ids).nunique()))
    rows = []
    for layer in layers:
        xs = {"base": _np(acts_base[layer], "acts_base"), "rl": _np(acts_rl[layer], "acts_rl")}
        for src in ("base", "rl"):
            correct = {"base": np.zeros(n), "rl": np.zeros(n)}
            if groups is None:
                splits = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=config.seed).split(xs[src], ys[src])
            else:
                splits = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=config.seed).split(
                    xs[src], ys[src], group_ids)
            for tr, te in splits:
                mu_s, sd_s = _scale(xs[src][tr]) if config.standardize != "none" else (0.0, 1.0)
                clf = LogisticRegression(C=config.probe_C, max_iter=config.probe_max_iter)
                clf.fit((xs[src][tr] - mu_s) / sd_s, ys[src][tr])
                for tgt in ("base", "rl"):
                    if config.standardize == "own":
                        mu_t, sd_t = _scale(xs[tgt][tr])
                    else:
                        mu_t, sd_t = mu_s, sd_s
                    pred = clf.predict((xs[tgt][te] - mu_t) / sd_t)
                    correct[tgt][te] = (pred == ys[tgt][te]).astype(np.float64)
            for tgt in ("base", "rl"):
                # Wilson: a probe right on every held-out text reads [0.97, 1] on 128 of them, not a bootstrap's [1, 1]
                lo, hi = mean_ci(correct[tgt], n_boot=config.n_boot, ci=config.ci, seed=config.seed)
                rows.append({
                    "layer": layer, "source": src, "target": tgt, "accuracy": float(correct[tgt].mean()),
                    "ci_lo": lo, "ci_hi": hi, "chance": float(max(ys[tgt].mean(), 1 - ys[tgt].mean())), "n": n,
                })
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------------------------
# ridge probes of continuous targets (bandit beliefs)
# ---------------------------------------------------------------------------------------------------------------


def center_targets(targets: Float[Tensor, "n t"] | np.ndarray, mode: Literal["row", "none"] = "row") -> np.ndarray:
    """``"row"``: subtract each row's mean over target columns; ``"none"``: unchanged (as float64 numpy)."""
    y = _np(targets, "targets")
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
            mu, sd = _scale(x[tr])
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
        x = _np(f, f"features[{layer}]")
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

        lo, hi = _nan_safe_ci(units, stat, config)
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
            " layers from directions.random_init_like(model) (or set require_random_init=False to skip the control)."
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

