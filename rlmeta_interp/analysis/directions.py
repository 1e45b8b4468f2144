"""Indicator 3, direction pre-existence: does the behaviour direction of the RL model already exist in the base model?

Every function takes activations, not models: ``{layer: Float[Tensor, "n d_model"]}`` for the base and the RL
model on the *same* prompts (row ``i`` is prompt ``i`` in both), harvested the same way (same hook site, same
position rule). That pairing is what makes the paired bootstrap and the shuffled-label null meaningful.

- :func:`direction_cosines`: per layer, a difference-of-means or logistic-probe direction fitted in each model;
  cosine between the base and the RL direction, a bootstrap CI over prompts, and a null from shuffled labels.
- :func:`probe_transfer`: a logistic probe fitted on one model's activations, scored on held-out prompts of the
  same model and of the other model (cross-fitted over stratified folds, so every prompt is scored out of fold).

Ridge probes of continuous targets (bandit beliefs) live in :mod:`rlmeta_interp.analysis.belief_probes`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from jaxtyping import Float, Int
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from torch import Tensor

from ..config import FrozenConfig, check_range
from ..errors import EmptyInputError, InvalidConfigError
from ..inputs import check_float_array
from .stats import bootstrap_ci_dropping_nan, fold_scale, mean_ci

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


# ---------------------------------------------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------------------------------------------


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
    x = check_float_array(acts, "acts")
    y = _labels(labels, x.shape[0])
    return torch.from_numpy(x[y == 1].mean(0) - x[y == 0].mean(0)).float()


def probe_direction(
    acts: Float[Tensor, "n d_model"],
    labels: Int[Tensor, " n"] | np.ndarray,
    C: float = 1.0,
    max_iter: int = 2000,
) -> Float[Tensor, " d_model"]:
    """Weight vector of an L2 logistic regression (scikit-learn, lbfgs) fitted on raw activations."""
    x = check_float_array(acts, "acts")
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
        xb = check_float_array(acts_base[layer], f"acts_base[{layer}]")
        xr = check_float_array(acts_rl[layer], f"acts_rl[{layer}]")
        cos = float(_cos_rows(_fit_dir(xb, y_b, config), _fit_dir(xr, y_r, config)))

        def stat(idx_f: np.ndarray, axis: int = -1) -> np.ndarray:
            idx = np.atleast_2d(idx_f).astype(np.int64)
            if config.method == "diff_means":
                out = _cos_rows(_dm_batch(xb, y_b, idx), _dm_batch(xr, y_r, idx))  # noqa: B023 (used in this iteration)
            else:
                out = np.array([_cos_or_nan(xb[i], y_b[i], xr[i], y_r[i], config) for i in idx])  # noqa: B023
            return out if np.ndim(idx_f) > 1 else out[0]

        lo, hi = bootstrap_ci_dropping_nan(np.arange(n, dtype=np.float64), stat, n_boot=config.n_boot, ci=config.ci,
                                            seed=config.seed)
        row: dict[str, object] = {"layer": layer, "method": config.method, "cosine": cos, "ci_lo": lo, "ci_hi": hi}
        for kind in ("indep", "shared"):
            null = np.array([
                float(_cos_rows(_fit_dir(xb, y_b[p], config), _fit_dir(xr, y_r[q if kind == "indep" else p], config)))
                for p, q in perms
            ])
            null = null[np.isfinite(null)]  # a permutation that leaves a model without a direction is no draw
            empty = null.size == 0
            row[f"null_{kind}_mean"] = float("nan") if empty else float(null.mean())
            row[f"null_{kind}_hi"] = float("nan") if empty else float(np.quantile(null, (1 + config.ci) / 2))
            # no cosine (a model without a direction: e.g. constant activations) has no p-value either; comparing
            # with NaN would count no null draw at or above it and read the smallest p there is
            undefined = empty or not np.isfinite(cos)
            row[f"p_{kind}"] = float("nan") if undefined else float((1 + (null >= cos).sum()) / (1 + null.size))
        row["n"] = n
        rows.append(row)
    return pd.DataFrame(rows)


def _cos_or_nan(xb: np.ndarray, yb: np.ndarray, xr: np.ndarray, yr: np.ndarray, cfg: DirectionConfig) -> float:
    # a resample can lose a class entirely; that resample has no direction
    if np.bincount(yb, minlength=2).min() == 0 or np.bincount(yr, minlength=2).min() == 0:
        return float("nan")
    return float(_cos_rows(_fit_dir(xb, yb, cfg), _fit_dir(xr, yr, cfg)))


# ---------------------------------------------------------------------------------------------------------------
# probe transfer
# ---------------------------------------------------------------------------------------------------------------


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
        xs = {"base": check_float_array(acts_base[layer], "acts_base"), "rl": check_float_array(acts_rl[layer], "acts_rl")}
        for src in ("base", "rl"):
            correct = {"base": np.zeros(n), "rl": np.zeros(n)}
            if groups is None:
                splits = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=config.seed).split(xs[src], ys[src])
            else:
                splits = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=config.seed).split(
                    xs[src], ys[src], group_ids)
            for tr, te in splits:
                mu_s, sd_s = fold_scale(xs[src][tr]) if config.standardize != "none" else (0.0, 1.0)
                clf = LogisticRegression(C=config.probe_C, max_iter=config.probe_max_iter)
                clf.fit((xs[src][tr] - mu_s) / sd_s, ys[src][tr])
                for tgt in ("base", "rl"):
                    if config.standardize == "own":
                        mu_t, sd_t = fold_scale(xs[tgt][tr])
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
