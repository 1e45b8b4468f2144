"""A held-out test's numbers read over base models, the unit its pretraining seeds replicate.

The pairs of a test come several to a base (an RL run and fine-tuned runs, their seeds, the controls), so the
base is the independent unit. The bar's intervals resample bases, but where an ordering or a reading is perfect a
bootstrap has nothing to vary and reads the point [1, 1] however few bases there are. Here the same quantities are
read with exact tests over bases:

- an indicator's AUC over its bases' mean statistics (each pair's statistic as the fit reads it), with the exact
  one-sided p-value of an ordering at least as good when the class labels are assigned to the bases at random (a
  Mann-Whitney test by full permutation: scipy's ``PermutationMethod``, exact under ties); a perfect ordering of 2
  bases against 4 has p = 1/15;
- each class's recall as the share of its bases whose pairs of that class were all read right, with the exact
  (Clopper-Pearson) interval: 4 bases all right give [0.40, 1].

:func:`over_bases` applies the bar's criteria to these: at least 3 of the indicators the bar counts reach AUC
>= 0.8 over bases with p < 0.05, and every class's interval lies above 0.5. The permutation assigns the labels over
all the test's bases, of both worlds together, as the pooled AUC reads them; a design with few bases per class cannot
meet these criteria whatever its readings (``p_min``: the smallest p of any ordering of its bases; a class of n bases
all right has the Clopper-Pearson lower end (0.025)^(1/n)), and the text built from it says when that is so.
``fit.evaluate`` keeps this reading with every held-out evaluation (``over_bases``); a test started under the bar's
criteria version 2 must meet it (``bar.meets_evaluation``).
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.stats import PermutationMethod, binomtest, mannwhitneyu

from ...errors import InvalidConfigError
from .bar import MIN_AUC, MIN_INDICATORS, MIN_RECALL_LO, counts_for_bar

if TYPE_CHECKING:  # fit.evaluate reads its held-out pairs over bases with this module
    from .fit import FittedRules

log = logging.getLogger(__name__)

#: one-sided level of the exact AUC test over bases
ALPHA = 0.05
#: label assignments drawn for the AUC test where there are more than this many (below, all are enumerated)
N_PERMUTATIONS = 200_000


def base_auc(values: Sequence[float], creation: Sequence[bool], bases: Sequence[str]) -> dict[str, Any]:
    """AUC of creation over activation on the bases' mean statistics (pairs without the statistic left out), with
    the exact one-sided permutation p-value and the bases per class: ``{auc, p, creation, activation}``. NaN where a
    class has no base with the statistic. A base holding pairs of both classes is an error: its mean would mix them."""
    df = pd.DataFrame({"v": np.asarray(values, dtype=float), "c": list(creation), "b": list(bases)})
    df = df[np.isfinite(df["v"])]
    mixed = sorted(b for b, g in df.groupby("b")["c"] if g.nunique() > 1)
    if mixed:
        raise InvalidConfigError(f"Bases {mixed} hold pairs of both classes: a base-level AUC needs one class per base.")
    per = df.groupby("b").agg(v=("v", "mean"), c=("c", "first"))
    x, y = per.loc[per["c"], "v"].to_numpy(), per.loc[~per["c"], "v"].to_numpy()
    n_assign = math.comb(len(x) + len(y), len(x))
    # the smallest p any ordering of these bases can reach: what the design allows, whatever the readings
    out: dict[str, Any] = {"creation": len(x), "activation": len(y), "auc": float("nan"), "p": float("nan"),
                           "p_min": 1.0 / n_assign, "exact": n_assign <= N_PERMUTATIONS}
    if len(x) >= 2 and len(y) >= 2:
        # scipy enumerates every assignment when there are at most n_resamples, and draws that many otherwise
        method = PermutationMethod(n_resamples=N_PERMUTATIONS, rng=np.random.default_rng(0))
        res = mannwhitneyu(x, y, alternative="greater", method=method)
        out.update(auc=float(res.statistic) / (len(x) * len(y)), p=float(res.pvalue))
    elif len(x) and len(y):
        # scipy's permutation test needs two values per class; with one, the n assignments are enumerated here
        values = np.concatenate([x, y])

        def auc(idx: tuple[int, ...]) -> float:
            inside = np.isin(np.arange(values.size), idx)
            return float(mannwhitneyu(values[inside], values[~inside]).statistic) / (len(x) * len(y))

        observed = auc(tuple(range(len(x))))
        null = [auc(idx) for idx in itertools.combinations(range(values.size), len(x))]
        out.update(auc=observed, p=float(np.mean(np.asarray(null) >= observed - 1e-12)))
    return out


def base_recall(labels: Sequence[str], predictions: Sequence[str], bases: Sequence[str],
                ci: float = 0.95) -> dict[str, list[float]]:
    """Per class: ``[right, bases, lo, hi]``, the bases whose pairs of that class were all read as it, out of the
    bases with pairs of that class, with the exact (Clopper-Pearson) interval of the share."""
    df = pd.DataFrame({"label": list(labels), "pred": list(predictions), "base": list(bases)})
    out = {}
    for label, g in df.groupby("label", sort=True):
        right = g.groupby("base").apply(lambda b, lab=label: bool((b["pred"] == lab).all()), include_groups=False)
        k, n = int(right.sum()), int(right.size)
        interval = binomtest(k, n).proportion_ci(confidence_level=ci, method="exact")
        out[str(label)] = [k, n, float(interval.low), float(interval.high)]
    return out


def all_right_lower(n: int, ci: float = 0.95) -> float:
    """The highest lower end a class of ``n`` bases can reach: the Clopper-Pearson interval of ``n`` of ``n`` right."""
    return float(binomtest(n, n).proportion_ci(confidence_level=ci, method="exact").low)


def over_bases(test: pd.DataFrame, indicators: Sequence[Mapping[str, Any]], predictions: Mapping[str, str],
               standardised: Callable[[pd.DataFrame, str], np.ndarray]) -> dict[str, Any]:
    """The held-out rows ``test`` (pair, label, base, the statistics) read over bases: ``indicators``
    (:func:`base_auc` of each indicator row of the evaluation that the bar counts, on the statistic as the fit reads
    it, ``standardised(rows, name)``), ``recall`` (:func:`base_recall` of ``predictions``, the summary's reading of
    each pair), ``strong`` (the indicators at AUC >= 0.8 with p < 0.05), ``established`` (the bar's criteria over
    bases, module docstring), ``n_pairs`` and ``n_bases``. A base holding pairs of both classes is an error."""
    two = test[test["label"].isin(["creation", "activation"])]
    # checked here too, not only in base_auc: with no counted indicator, such a base would count as right (or wrong)
    # in both classes' recall
    mixed = sorted(str(b) for b, g in two.groupby("base")["label"] if g.nunique() > 1)
    if mixed:
        raise InvalidConfigError(f"Bases {mixed} hold pairs of both classes, creation and activation: reading over"
                                 " bases needs one of the two per base (a no-signal control may share its base).")
    # by name, as the table's JSON keeps them (sorted keys), so a reading kept and one computed again read alike
    counted = sorted(r["indicator"] for r in indicators if counts_for_bar(dict(r)))
    read = {name: base_auc(standardised(two, name), (two["label"] == "creation").tolist(), two["base"].tolist())
            for name in counted}
    recall = base_recall(test["label"].tolist(), [predictions[p] for p in test["pair"]], test["base"].tolist())
    strong = [n for n, r in read.items() if r["auc"] >= MIN_AUC and r["p"] < ALPHA]
    return {"indicators": read, "recall": recall, "strong": strong,
            "established": len(strong) >= MIN_INDICATORS and all(lo > MIN_RECALL_LO for _, _, lo, _ in recall.values()),
            "n_pairs": int(len(test)), "n_bases": int(test["base"].nunique())}


def kept_over_bases(test: pd.DataFrame, indicators: Sequence[Mapping[str, Any]], predictions: Mapping[str, str],
                    standardised: Callable[[pd.DataFrame, str], np.ndarray]) -> dict[str, Any] | None:
    """:func:`over_bases` as a held-out evaluation keeps it: None for rows without bases, or with a base holding
    pairs of both classes (one class per base is the zoo's design), which the log names."""
    if "base" not in test.columns:
        return None
    try:
        return over_bases(test, indicators, predictions, standardised)
    except InvalidConfigError as e:
        log.warning("The held-out pairs are not read over base models: %s", e)
        return None


def base_reading(ev: Mapping[str, Any], pairs: pd.DataFrame, fitted: FittedRules,
                 test_pairs: Sequence[str]) -> dict[str, Any]:
    """One held-out evaluation (``ev``, of the pairs ``test_pairs``) read over bases (:func:`over_bases`) from the
    stored per-pair table ``pairs`` under the fit ``fitted``: for tables whose evaluations were written without it."""
    missing = sorted(set(test_pairs) - set(pairs["pair"]))
    if missing:
        raise InvalidConfigError(f"The pair table lacks test pairs {missing[:5]}: read it from the same table folder.")
    test = pairs[pairs["pair"].isin(list(test_pairs))]
    return over_bases(test, ev["indicators"], ev["summary"]["predictions"], fitted.standardised)
