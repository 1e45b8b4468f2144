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

:func:`base_reading` applies the bar's criteria to these: at least 3 of the indicators the bar counts reach AUC
>= 0.8 over bases with p < 0.05, and every class's interval lies above 0.5. The permutation assigns the labels over
all the test's bases, of both worlds together, as the pooled AUC reads them; a design with few bases per class cannot
meet these criteria whatever its readings (``p_min``: the smallest p of any ordering of its bases; a class of n bases
all right has the Clopper-Pearson lower end (0.025)^(1/n)), and the text built from it says when that is so.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import PermutationMethod, binomtest, mannwhitneyu

from ...errors import InvalidConfigError
from .bar import (MIN_AUC, MIN_INDICATORS, MIN_RECALL_LO, counts_for_bar, fit_changes, judged_since_fit_change,
                  judgements)
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


def base_reading(ev: Mapping[str, Any], pairs: pd.DataFrame, fitted: FittedRules,
                 test_pairs: Sequence[str]) -> dict[str, Any]:
    """One held-out evaluation (``ev``, of the pairs ``test_pairs``) read over bases from the stored per-pair table
    ``pairs``: ``indicators`` (:func:`base_auc` of each indicator the bar counts, on the statistic as the fit reads
    it), ``recall`` (:func:`base_recall` of the summary's predictions) and ``established`` (the bar's criteria over
    bases, module docstring)."""
    missing = sorted(set(test_pairs) - set(pairs["pair"]))
    if missing:
        raise InvalidConfigError(f"The pair table lacks test pairs {missing[:5]}: read it from the same table folder.")
    test = pairs[pairs["pair"].isin(list(test_pairs))]
    two = test[test["label"].isin(["creation", "activation"])]
    counted = [r["indicator"] for r in ev["indicators"] if counts_for_bar(r)]
    indicators = {name: base_auc(fitted.standardised(two, name), (two["label"] == "creation").tolist(),
                                 two["base"].tolist()) for name in counted}
    predictions = ev["summary"]["predictions"]
    recall = base_recall(test["label"].tolist(), [predictions[p] for p in test["pair"]], test["base"].tolist())
    strong = [n for n, r in indicators.items() if r["auc"] >= MIN_AUC and r["p"] < ALPHA]
    return {"indicators": indicators, "recall": recall, "strong": strong,
            "established": len(strong) >= MIN_INDICATORS and all(lo > MIN_RECALL_LO for _, _, lo, _ in recall.values())}


def judged_now(summary: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The test the bar is judged on now, ``{evaluation, pairs}``: the bar test after a judged test, the clean test
    after a fit change, else the pooled held-out pairs; None when that test has no evaluation yet."""
    run = summary.get("run") or {}
    if judgements(run) or fit_changes(run):
        now = summary.get("bar_test" if judged_since_fit_change(run) else "clean_test") or {}
        return now if now.get("evaluation") is not None else None
    return {"evaluation": summary["evaluation"], "pairs": (summary.get("pairs") or {}).get("test") or []}


def judged_test_over_bases(summary: Mapping[str, Any], pairs: pd.DataFrame) -> dict[str, Any] | None:
    """:func:`base_reading` of the test the bar is judged on now (:func:`judged_now`), with its ``n_pairs`` and
    ``n_bases``, from the summary and its per-pair table as stored; None without such a test."""
    now = judged_now(summary)
    if now is None or not now.get("pairs") or "base" not in pairs.columns:
        return None
    names = list(now["pairs"])
    try:
        reading = base_reading(now["evaluation"], pairs, FittedRules.from_dict(summary["fitted"]), names)
    except InvalidConfigError as e:  # a table this reading does not fit (a base of both classes, pairs missing)
        log.warning("No reading over base models: %s", e)
        return None
    return {**reading, "n_pairs": len(names), "n_bases": int(pairs.loc[pairs["pair"].isin(names), "base"].nunique())}
