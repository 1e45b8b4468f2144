"""Held-out accuracy of a creation/activation meter: ROC AUC, confusion matrix, recall and balanced accuracy, each
with a bootstrap CI over pairs or over groups of them (their base models: the unit that was sampled), and the
constant-classifier baseline."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from jaxtyping import Bool, Float, Int
from sklearn.metrics import balanced_accuracy_score, confusion_matrix, roc_auc_score, roc_curve

from ...errors import EmptyInputError, InvalidConfigError


def _clean(scores: Sequence[float | None], positive: Sequence[bool]) -> tuple[np.ndarray, np.ndarray]:
    s = np.array([np.nan if v is None else float(v) for v in scores], dtype=float)
    y = np.asarray(positive, dtype=bool)
    if s.shape != y.shape:
        raise InvalidConfigError(f"One score per pair: got {s.shape[0]} scores for {y.shape[0]} labels.")
    keep = ~np.isnan(s)
    return s[keep], y[keep]


def resampler(n: int, groups: Sequence[str] | None) -> Callable[[np.random.Generator], Int[np.ndarray, " draw"]]:
    """A function of a generator that draws bootstrap indices: ``n`` units with replacement, or, with ``groups``,
    whole groups with replacement (a cluster bootstrap: pairs that share a base model are not independent
    evidence). The groups' members are found once here rather than on every draw; the random stream is that of
    drawing the group names themselves, as the report always drew them."""
    if groups is None:
        return lambda rng: rng.integers(0, n, n)
    g = np.asarray(groups, dtype=object)
    names = np.unique(g)
    members = [np.flatnonzero(g == k) for k in names]

    def draw(rng: np.random.Generator) -> np.ndarray:
        picked = rng.choice(len(names), len(names))  # the same stream as drawing the names themselves
        return np.concatenate([members[i] for i in picked])

    return draw


def resample(rng: np.random.Generator, n: int, groups: Sequence[str] | None) -> Int[np.ndarray, " draw"]:
    """One draw of :func:`resampler`: bootstrap indices over ``n`` units or over whole ``groups``."""
    return resampler(n, groups)(rng)


def rank_auc(y: Bool[np.ndarray, " n"], s: Float[np.ndarray, " n"]) -> float:
    """ROC AUC as the Mann-Whitney statistic (ties count half): the same number as ``roc_auc_score`` for a binary
    ``y`` holding both classes. Written out because the bootstrap calls it tens of thousands of times per report and
    scikit-learn's (and scipy's rankdata's) input checks cost more than the count; the point estimates still come
    from scikit-learn. The count of negatives below each positive (ties half) is a sum of halves, exact in floats,
    so the value is the rank-sum formula's to the last bit."""
    y = np.asarray(y, dtype=bool)  # an integer 0/1 y would index positions, not select the positives
    s = np.asarray(s, dtype=float)
    neg = np.sort(s[~y])
    pos = s[y]
    below = np.searchsorted(neg, pos, side="left")
    not_above = np.searchsorted(neg, pos, side="right")
    return float((below.sum() + (not_above - below).sum() / 2) / (len(pos) * len(neg)))


def roc_auc_ci(scores: Sequence[float | None], positive: Sequence[bool], *, n_boot: int = 1000, ci: float = 0.95,
               seed: int = 0, groups: Sequence[str] | None = None) -> tuple[float, float, float, int]:
    """``(auc, lo, hi, n)``: ROC AUC of ``scores`` for the ``positive`` class (larger score = positive), with a
    percentile bootstrap CI over pairs, or over ``groups`` of pairs (e.g. their base model) when given (resamples
    holding one class only are skipped); pairs without a score are left out. NaN AUC when either class is absent."""
    if groups is not None:
        keep = [v is not None and not (isinstance(v, float) and np.isnan(v)) for v in scores]
        groups = [gr for gr, k in zip(groups, keep, strict=True) if k]
    s, y = _clean(scores, positive)
    if y.all() or not y.any():
        return float("nan"), float("nan"), float("nan"), int(len(s))
    auc = float(roc_auc_score(y, s))
    rng = np.random.default_rng(seed)
    draw = resampler(len(s), groups)
    boots = []
    for _ in range(n_boot):
        idx = draw(rng)
        if y[idx].all() or not y[idx].any():
            continue
        boots.append(rank_auc(y[idx], s[idx]))
    if not boots:
        return auc, float("nan"), float("nan"), int(len(s))
    a = (1 - ci) / 2
    return auc, float(np.quantile(boots, a)), float(np.quantile(boots, 1 - a)), int(len(s))


def roc_points(scores: Sequence[float | None], positive: Sequence[bool]) -> pd.DataFrame:
    """The ROC curve: ``fpr, tpr, threshold`` (empty when either class is absent)."""
    s, y = _clean(scores, positive)
    if y.all() or not y.any():
        return pd.DataFrame(columns=["fpr", "tpr", "threshold"])
    fpr, tpr, th = roc_curve(y, s)
    return pd.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": th})


def youden_threshold(scores: Sequence[float | None], positive: Sequence[bool]) -> float:
    """The cut on ``scores`` that maximises sensitivity + specificity (Youden's J), placed midway between the two
    neighbouring scores so that it does not sit on a calibration pair."""
    s, y = _clean(scores, positive)
    if y.all() or not y.any():
        raise EmptyInputError("A threshold needs pairs of both classes: add creation and activation pairs.")
    vals = np.unique(s)
    cuts = np.concatenate([[vals[0] - 1.0], (vals[:-1] + vals[1:]) / 2, [vals[-1] + 1.0]])
    best, best_j = cuts[0], -np.inf
    for c in cuts:
        pred = s > c
        j = pred[y].mean() + (~pred[~y]).mean()
        if j > best_j + 1e-12:
            best, best_j = c, j
    return float(best)


def balanced_accuracy_ci(true: Sequence[str], pred: Sequence[str], *, n_boot: int = 1000, ci: float = 0.95,
                         seed: int = 0, groups: Sequence[str] | None = None) -> tuple[float, float, float]:
    """Balanced accuracy (mean per-class recall over the true classes) with a bootstrap CI over pairs, or over
    ``groups`` of pairs (their base model) when given."""
    t, p = np.asarray(true, dtype=object), np.asarray(pred, dtype=object)
    if len(t) == 0:
        raise EmptyInputError("No pairs to score: the held-out split is empty.")
    with warnings.catch_warnings():  # abstentions (inconclusive, mixed) are readings no pair is labelled with
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        return _balanced_accuracy_ci(t, p, n_boot, ci, seed, groups)


def _balanced_accuracy_ci(t: np.ndarray, p: np.ndarray, n_boot: int, ci: float, seed: int,
                          groups: Sequence[str] | None) -> tuple[float, float, float]:
    est = float(balanced_accuracy_score(t, p))
    # the resamples are scored on integer codes (scikit-learn's checks per call cost more than the score): per class
    # present, right readings over pairs, in sorted label order, averaged as balanced_accuracy_score does
    _, codes = np.unique(np.concatenate([t, p]), return_inverse=True)
    tc, pc = codes[:len(t)], codes[len(t):]
    n_labels = int(codes.max()) + 1
    rng = np.random.default_rng(seed)
    draw = resampler(len(t), groups)
    boots = []
    for _ in range(n_boot):
        idx = draw(rng)
        ti, pi = tc[idx], pc[idx]
        n_class = np.bincount(ti, minlength=n_labels)
        if np.count_nonzero(n_class) < 2:
            continue
        right = np.bincount(ti[ti == pi], minlength=n_labels)
        present = n_class > 0
        boots.append(float(np.mean(right[present] / n_class[present])))
    if not boots:
        return est, float("nan"), float("nan")
    a = (1 - ci) / 2
    return est, float(np.quantile(boots, a)), float(np.quantile(boots, 1 - a))


def confusion_table(true: Sequence[str], pred: Sequence[str], classes: Sequence[str],
                    predicted: Sequence[str] | None = None) -> pd.DataFrame:
    """Counts: rows = true classes, columns = predicted readings (``predicted`` adds abstentions such as
    ``inconclusive``)."""
    cols = list(predicted) if predicted is not None else list(classes)
    labels = list(dict.fromkeys(list(classes) + cols))
    m = confusion_matrix(list(true), list(pred), labels=labels)
    df = pd.DataFrame(m, index=labels, columns=labels)
    return df.loc[list(classes), cols]


def recall_by_class(true: Sequence[str], pred: Sequence[str]) -> dict[str, float]:
    """Per true class: the share of its pairs read as that class."""
    t, p = np.asarray(true, dtype=object), np.asarray(pred, dtype=object)
    return {str(c): float((p[t == c] == c).mean()) for c in dict.fromkeys(t.tolist())}


def recall_exact_ci(true: Sequence[str], pred: Sequence[str], ci: float = 0.95) -> dict[str, list[float]]:
    """Per true class: ``[k, n, lo, hi]``, the pairs read right out of the class's pairs with the exact
    (Clopper-Pearson, scipy) interval of the recall. A bootstrap over a handful of pairs read without error gives
    the degenerate interval [1, 1]; this one says how little 3 of 3 shows (lower end 0.29)."""
    from scipy.stats import binomtest

    t, p = np.asarray(true, dtype=object), np.asarray(pred, dtype=object)
    out = {}
    for c in dict.fromkeys(t.tolist()):
        n, k = int((t == c).sum()), int(((t == c) & (p == c)).sum())
        iv = binomtest(k, n).proportion_ci(confidence_level=ci, method="exact")
        out[str(c)] = [k, n, float(iv.low), float(iv.high)]
    return out


def constant_baseline(true_test: Sequence[str], majority_of: Sequence[str]) -> tuple[str, float]:
    """The classifier that always answers the majority class of ``majority_of`` (the calibration labels), and its
    balanced accuracy on ``true_test``: 1 / (number of true classes) whenever the answer is one of them."""
    values, counts = np.unique(np.asarray(majority_of, dtype=object), return_counts=True)
    answer = str(values[np.argmax(counts)])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        return answer, float(balanced_accuracy_score(list(true_test), [answer] * len(true_test)))
