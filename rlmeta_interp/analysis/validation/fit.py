"""Fit on calibration, report on test.

From one row per labelled pair (:func:`pair_table`: each indicator's statistic, CI and vote, the gain, the label and
the split), :func:`fit_rules` uses the calibration split only:

- per indicator, the ROC AUC of its statistic for creation vs activation with a bootstrap CI over base models; an
  indicator whose CI includes 0.5, that cannot be scored, or whose calibration pairs of a class start from fewer
  than :data:`MIN_CALIBRATION_BASES` bases (the CI over bases is then degenerate) becomes descriptive and does not
  vote; the others get the cut that maximises Youden's J as their vote threshold (``with_cut`` of the indicator
  module);
- a summary rule: a logistic regression (scikit-learn, L2, no intercept) over the voting indicators' statistics,
  each measured from its fitted cut and divided by its calibration standard deviation, for pairs with a gain; a pair
  without a gain reads ``no_signal``, and a pair with none of the inputs measured reads by the vote rule. Centring at
  the cuts puts the decision boundary through the point where every indicator sits at its own cut: that location is
  assumed, not estimated (the fit only weighs the inputs), which is what lets a statistic a world cannot measure
  (pass@k in bandits) enter as "at the cut", no evidence either way, so that the pair is read by the statistics it
  has rather than by another world's calibration mean. On calibration data that one statistic separates perfectly,
  the weights are set by the L2 penalty (C = 1), not by the data. Its parameters are kept as plain numbers, so a
  saved fit predicts without pickles.
- per world: a statistic's scale belongs to its world (the likelihood gains of arithmetic creation pairs are an
  order of magnitude above those of bandit creation pairs on the validation zoo), so a cut fitted on the worlds pooled can sit inside one world's activation pairs. Wherever a
  world's calibration pairs of each class start from at least :data:`MIN_CALIBRATION_BASES` bases, each voting
  statistic gets that world's own cut (Youden's J on its pairs: the vote threshold and the summary's centre for
  that world's pairs) and its own spread (the standard deviation over its gained two-class pairs, the summary's
  scale there); the summary's weights stay shared. A world without such pairs (planning, a pair of local models)
  is read by the pooled cuts and spreads. Which indicators vote is decided on the pooled calibration pairs, as
  before. :meth:`FittedRules.rules_for` gives the voting rules of one world.

:func:`evaluate` applies a fit to the held-out split.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from ...errors import CorruptedCheckpointError, EmptyInputError, InvalidConfigError
from ..indicators import REGISTRY, metrics_of
from ..indicators.core import INDICATORS, ScorecardRules
from .bases import kept_over_bases
from .fitcheck import check_fitted_rules, check_indicator_fit
from .labels import LABELS
from .metrics import (balanced_accuracy_ci, confusion_table, constant_baseline, recall_by_class, recall_exact_ci,
                      roc_auc_ci, roc_points, youden_threshold)

READINGS: tuple[str, ...] = LABELS + ("inconclusive", "mixed")


def candidates() -> list[tuple[str, str, Any]]:
    """``(column, indicator, reading)`` for every candidate reading the indicator modules list (``CANDIDATES``):
    other statistics of the same measurements, scored beside the voting statistic; they never vote."""
    return [(f"{name}: {c}", name, f) for name in INDICATORS
            for c, f in getattr(REGISTRY[name], "CANDIDATES", {}).items()]


def _base_of(pair: str) -> str:
    """The base model of a registered pair (the unit of the cluster bootstrap), or the pair's own name."""
    from ... import registry
    from ...errors import UnknownModelError

    try:
        return registry.get_pair(pair).base.name
    except UnknownModelError:  # a pair scored from local folders has no registry entry: it is its own unit
        return pair


def _groups(table: pd.DataFrame) -> list[str] | None:
    return table["base"].tolist() if "base" in table.columns else None


def pair_table(cards: Sequence[Any]) -> pd.DataFrame:
    """One row per scorecard: ``pair, world, label, split, recipe, gain, vote_summary`` and, per indicator,
    ``<name>`` (statistic), ``<name>_lo``, ``<name>_hi``, ``<name>_vote``, plus one column per candidate reading
    (``"<name>: <reading>"``)."""
    from ..scorecard import summarize_votes

    rows = []
    for c in cards:
        row: dict[str, Any] = {"pair": c.pair, "base": _base_of(c.pair), "world": c.world, "label": c.label,
                               "split": c.split, "recipe": c.recipe, "gain": c.gain}
        summary = "no_signal" if c.gain is False else summarize_votes(c.votes)[0]
        row["vote_summary"] = summary
        for name in INDICATORS:
            r = c.results.get(name)
            s = r.statistic if r is not None else None
            row[name] = None if s is None else s.value
            row[f"{name}_lo"] = None if s is None else s.lo
            row[f"{name}_hi"] = None if s is None else s.hi
            row[f"{name}_vote"] = "n/a" if r is None else r.vote
        for col, name, read in candidates():
            r = c.results.get(name)
            m = metrics_of(r) if r is not None else None
            row[col] = None if m is None else read(m).value
        rows.append(row)
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class IndicatorFit:
    """One indicator's calibration reading: its AUC with CI over ``n`` pairs (NaN where it could not be scored), the
    fitted cut (None where it does not vote by a cut), whether it votes, and why."""

    name: str
    auc: float
    lo: float
    hi: float
    n: int
    cut: float | None
    votes: bool
    reason: str

    def __post_init__(self) -> None:
        check_indicator_fit(self)


@dataclass(frozen=True)
class FittedRules:
    rules: ScorecardRules
    indicators: tuple[IndicatorFit, ...]
    inputs: tuple[str, ...] = ()  # the summary model's statistics
    impute: tuple[float, ...] = ()
    mean: tuple[float, ...] = ()
    scale: tuple[float, ...] = ()
    coef: tuple[float, ...] = ()
    intercept: float = 0.0
    n_calibration: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)
    # per world, the cut of each voting statistic fitted on that world's calibration pairs, and the spread of each
    # summary input there (worlds absent here use ``rules`` and ``mean``/``scale``)
    world_cuts: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    world_scale: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_fitted_rules(self, IndicatorFit)

    def to_dict(self) -> dict[str, Any]:
        return {"rules": self.rules.to_dict(), "indicators": [vars(f) for f in self.indicators],
                "inputs": list(self.inputs), "impute": list(self.impute), "mean": list(self.mean),
                "scale": list(self.scale), "coef": list(self.coef), "intercept": self.intercept,
                "n_calibration": self.n_calibration, "notes": list(self.notes),
                "world_cuts": {w: dict(c) for w, c in self.world_cuts.items()},
                "world_scale": {w: dict(c) for w, c in self.world_scale.items()}}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FittedRules:
        """The fit as a validation summary stores it (its ``fitted`` entry); a damaged or hand-edited entry is a
        CorruptedCheckpointError naming what is wrong."""
        try:
            return cls._from_dict(d)
        except (KeyError, TypeError, ValueError, AttributeError) as e:  # InvalidConfigError is a ValueError
            raise CorruptedCheckpointError(
                f"The fitted rules of a validation summary cannot be read ({type(e).__name__}: {e}). Restore the"
                " summary from git (figures/validation_summary.json) or write it again with `rlmeta-interp"
                " validate`.") from e

    @classmethod
    def _from_dict(cls, d: Mapping[str, Any]) -> FittedRules:
        return cls(ScorecardRules.from_dict(d["rules"]), tuple(IndicatorFit(**f) for f in d["indicators"]),
                   tuple(d["inputs"]), tuple(d["impute"]), tuple(d["mean"]), tuple(d["scale"]), tuple(d["coef"]),
                   float(d["intercept"]), int(d["n_calibration"]), tuple(d.get("notes", ())),
                   # a table fitted before per-world cuts existed has none: every world reads by the pooled fit
                   {w: {k: float(v) for k, v in c.items()} for w, c in (d.get("world_cuts") or {}).items()},
                   {w: {k: float(v) for k, v in c.items()} for w, c in (d.get("world_scale") or {}).items()})

    def rules_for(self, world: str | None) -> ScorecardRules:
        """The voting rules of pairs of ``world``: the pooled rules with that world's fitted cuts."""
        rules = self.rules
        for name, cut in (self.world_cuts.get(world) or {}).items() if world is not None else ():
            rules = REGISTRY[name].with_cut(rules, cut)
        return rules

    def _centre_spread(self, worlds: Sequence[Any], name: str, cut: float, spread: float) -> tuple[np.ndarray, np.ndarray]:
        """Per row (of world ``worlds[i]``), the centre and the spread of statistic ``name``: its world's fitted cut
        and spread, else ``cut`` and ``spread`` (the pooled ones)."""
        centre = np.asarray([(self.world_cuts.get(w) or {}).get(name, cut) for w in worlds], dtype=float)
        scale = np.asarray([(self.world_scale.get(w) or {}).get(name, spread) for w in worlds], dtype=float)
        return centre, scale

    def _centres(self, worlds: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
        """Per row (of world ``worlds[i]``) and summary input, the centre and the scale of its statistic."""
        cols = [self._centre_spread(worlds, n, c, s) for n, c, s in zip(self.inputs, self.mean, self.scale, strict=True)]
        return (np.stack([c for c, _ in cols], axis=1).reshape(len(worlds), len(cols)),
                np.stack([s for _, s in cols], axis=1).reshape(len(worlds), len(cols)))

    def standardised(self, table: pd.DataFrame, name: str) -> np.ndarray:
        """Statistic ``name`` of each row measured from its world's cut, in its world's spread (the pooled cut and
        spread where the world has none; spread 1 for a statistic that is no summary input): how the fit reads it,
        so that pairs of different worlds can be ranked together. The raw statistic for an indicator without a
        fitted cut."""
        x = table[name].astype(float).to_numpy()
        cut = {f.name: f.cut for f in self.indicators}.get(name)
        if cut is None:
            return x
        worlds = table["world"].tolist() if "world" in table.columns else [None] * len(table)
        centre, spread = self._centre_spread(worlds, name, cut, dict(zip(self.inputs, self.scale, strict=True)).get(name, 1.0))
        return (x - centre) / spread

    def creation_probability(self, table: pd.DataFrame) -> np.ndarray:
        """The summary model's P(creation) per row of a :func:`pair_table` (NaN without a model)."""
        if not self.inputs:
            return np.full(len(table), np.nan)
        mean, scale = self._centres(table["world"].tolist() if "world" in table.columns else [None] * len(table))
        x = table[list(self.inputs)].astype(float).to_numpy()
        x = np.where(np.isnan(x), mean, x)  # a missing statistic sits at its cut: no evidence either way
        z = (x - mean) / scale
        return expit(z @ np.asarray(self.coef) + self.intercept)  # the logistic function, without exp overflow

    def sources(self, table: pd.DataFrame) -> list[str]:
        """Where :meth:`predict`'s reading of each pair comes from: ``"no gain"`` (read no_signal), ``"vote rule"``
        (no model could be fitted, or none of the pair's inputs is measured: every input at its cut is no evidence,
        not creation), else ``"summary"``."""
        p = self.creation_probability(table)
        measured = (table[list(self.inputs)].astype(float).notna().any(axis=1).to_numpy() if self.inputs
                    else np.zeros(len(table), dtype=bool))
        return ["no gain" if no_gain(gain) else "vote rule" if np.isnan(prob) or not has else "summary"
                for gain, prob, has in zip(table["gain"], p, measured, strict=True)]

    def predict(self, table: pd.DataFrame) -> list[str]:
        """The summary reading per pair: ``no_signal`` without a gain; else creation when P(creation) >= 0.5, else
        activation; the vote rule's reading where :meth:`sources` says so."""
        p = self.creation_probability(table)
        return [{"no gain": "no_signal", "vote rule": vote}.get(src, "creation" if prob >= 0.5 else "activation")
                for src, prob, vote in zip(self.sources(table), p, table["vote_summary"], strict=True)]


def no_gain(gain: Any) -> bool:
    """Whether a pair table's ``gain`` cell says training gave no gain (False; None means not checked)."""
    return gain is False or (isinstance(gain, (bool, np.bool_)) and not gain)


def _two_class(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["label"].isin(["creation", "activation"])]


#: An indicator votes only if its calibration pairs of each class start from at least this many base models.
MIN_CALIBRATION_BASES = 2


def calibration_bases(two: pd.DataFrame, name: str) -> dict[str, int] | None:
    """Base models per class among the two-class rows with statistic ``name`` (None without a ``base`` column)."""
    if "base" not in two.columns:
        return None
    read = two[two[name].notna()]
    return {c: int(read.loc[read["label"] == c, "base"].nunique()) for c in ("creation", "activation")}


def fit_rules(calibration: pd.DataFrame, base: ScorecardRules | None = None, *, n_boot: int = 1000,
              seed: int = 0) -> FittedRules:
    """Thresholds, the descriptive set and the summary model, fitted on ``calibration`` rows only; ``base``
    (default :class:`ScorecardRules`) supplies the thresholds that are not fitted."""
    from sklearn.linear_model import LogisticRegression

    if calibration.empty:
        raise EmptyInputError("No calibration pairs: the registry lists none with split='calibration'. Build the"
                              " validation zoo (rlmeta-interp zoo build --preset validation) first.")
    base = base if base is not None else ScorecardRules()
    two = _two_class(calibration)
    y = (two["label"] == "creation").to_numpy()
    rules, fits, descriptive = base, [], set(base.descriptive)
    for name in INDICATORS:
        mod = REGISTRY[name]
        auc, lo, hi, n = roc_auc_ci(two[name].tolist(), y, n_boot=n_boot, seed=seed, groups=_groups(two))
        bases = calibration_bases(two, name)
        if mod.with_cut is None:
            votes, reason, cut = name not in descriptive, "rule not a cut on its statistic; thresholds kept", None
        elif np.isnan(auc) or np.isnan(lo):
            votes, reason, cut = False, "cannot be scored on calibration (a class or the statistic is missing)", None
        elif bases is not None and min(bases.values()) < MIN_CALIBRATION_BASES:
            # one base per class: every resample that holds both classes holds the same two bases, so the CI is
            # the point AUC with zero width and cannot say whether the ordering would hold on another base
            votes, cut = False, None
            reason = (f"calibration rests on {bases['creation']} creation and {bases['activation']} activation"
                      f" base(s): a CI resampling bases needs at least {MIN_CALIBRATION_BASES} of each")
        elif lo <= 0.5:
            # an AUC CI at or below 0.5 means the statistic does not point towards creation: it reports, never votes
            why = "includes 0.5" if hi >= 0.5 else "lies below 0.5 (it points the wrong way)"
            votes, reason, cut = False, f"calibration AUC CI [{lo:.2f}, {hi:.2f}] {why}", None
        else:
            cut = youden_threshold(two[name].tolist(), y)
            rules = mod.with_cut(rules, cut)
            votes, reason = name not in base.descriptive, f"calibration AUC {auc:.2f} [{lo:.2f}, {hi:.2f}]"
        if not votes:
            descriptive.add(name)
        fits.append(IndicatorFit(name, auc, lo, hi, n, cut, votes, reason))
    for col, _, _ in candidates():
        if col in two.columns:
            auc, lo, hi, n = roc_auc_ci(two[col].tolist(), y, n_boot=n_boot, seed=seed, groups=_groups(two))
            fits.append(IndicatorFit(col, auc, lo, hi, n, None, False, "candidate reading: scored, does not vote"))
    rules = rules.replace(descriptive=tuple(n for n in INDICATORS if n in descriptive))
    gained = two[two["gain"].map(lambda g: g is not False)]
    yg = (gained["label"] == "creation").to_numpy()
    voting = [f.name for f in fits if f.votes and f.name in REGISTRY and REGISTRY[f.name].with_cut is not None]
    world_cuts = _world_cuts(two, voting, n_boot=n_boot, seed=seed)
    inputs = [name for name in voting if gained[name].notna().sum() >= 2]
    notes = []
    if not inputs or yg.all() or not yg.any():
        notes.append("no summary model: calibration lacks gained pairs of both classes or voting statistics;"
                     " the summary is the vote rule")
        return FittedRules(rules, tuple(fits), n_calibration=len(calibration), notes=tuple(notes),
                           world_cuts=world_cuts)
    cut_of = {f.name: f.cut for f in fits}
    if any(cut_of[name] is None for name in inputs):  # every input is a voting statistic, which has a fitted cut
        raise InvalidConfigError(f"Summary inputs {inputs} include a statistic without a fitted cut: {cut_of}.")
    cuts = np.asarray([float(cut_of[name]) for name in inputs])
    raw = gained[inputs].astype(float).to_numpy()
    scale = _spread(raw)
    world_scale = {}
    for world, cut in world_cuts.items():
        part = _spread(gained.loc[gained["world"] == world, inputs].astype(float).to_numpy(), default=scale)
        world_scale[world] = {name: float(part[j]) for j, name in enumerate(inputs) if name in cut}
    fitted = FittedRules(rules, tuple(fits), tuple(inputs), tuple(map(float, cuts)), tuple(map(float, cuts)),
                         tuple(map(float, scale)), (), 0.0, len(calibration), tuple(notes), world_cuts, world_scale)
    mean, spread = fitted._centres(gained["world"].tolist())
    z = np.nan_to_num((raw - mean) / spread, nan=0.0)  # a missing statistic sits at its cut
    lr = LogisticRegression(C=1.0, fit_intercept=False).fit(z, yg)
    return replace(fitted, coef=tuple(map(float, lr.coef_[0])))


def _spread(raw: np.ndarray, default: np.ndarray | None = None) -> np.ndarray:
    """Per column, the standard deviation of the measured values; ``default`` (else 1) where it is undefined or 0."""
    with warnings.catch_warnings():  # a column with no value here: its spread comes from ``default``
        warnings.simplefilter("ignore", RuntimeWarning)
        sd = np.nanstd(raw, axis=0) if len(raw) else np.full(raw.shape[1], np.nan)
    fallback = default if default is not None else np.ones(raw.shape[1])
    return np.where(np.isfinite(sd) & (sd > 0), sd, fallback)


def _world_cuts(two: pd.DataFrame, voting: Sequence[str], *, n_boot: int, seed: int) -> dict[str, dict[str, float]]:
    """Per world, the cut of each voting statistic (:func:`youden_threshold`) on the world's two-class calibration
    pairs, where that world's pairs of each class with the statistic start from at least
    :data:`MIN_CALIBRATION_BASES` bases and its AUC CI there (over bases) lies above 0.5; only statistics whose
    module votes from a cut. Elsewhere the pooled cut stands: a statistic that does not point towards creation
    within a world would get a cut below every pair there (Youden's J on a reversed ordering)."""
    out: dict[str, dict[str, float]] = {}
    for world, part in two.groupby("world") if "world" in two.columns else ():
        cuts = {}
        for name in voting:
            bases = calibration_bases(part, name)
            read = part[part[name].notna()]
            if bases is None or min(bases.values()) < MIN_CALIBRATION_BASES:
                continue
            y = (read["label"] == "creation").to_numpy()
            _, lo, _, _ = roc_auc_ci(read[name].tolist(), y, n_boot=n_boot, seed=seed, groups=_groups(read))
            if not lo > 0.5:  # NaN too
                continue
            cuts[name] = youden_threshold(read[name].tolist(), y)
        if cuts:
            out[str(world)] = cuts
    return out


def _auc_within(two: pd.DataFrame, column: str, name: str, *, n_boot: int, seed: int) -> dict[str, dict[str, float]]:
    """Statistic ``name``'s AUC (creation vs activation) within each value of ``column`` where both classes occur."""
    out = {}
    for value, part in two.groupby(column) if column in two.columns else ():
        auc, lo, hi, n = roc_auc_ci(part[name].tolist(), (part["label"] == "creation").to_numpy(), n_boot=n_boot,
                                    seed=seed, groups=_groups(part))
        if n and auc == auc:  # both classes present here
            out[str(value)] = {"auc": auc, "lo": lo, "hi": hi, "n": n}
    return out


def creation_vs_activation(test: pd.DataFrame, pred: Sequence[str], *, n_boot: int = 1000,
                           seed: int = 0) -> dict[str, Any] | None:
    """Balanced accuracy of ``pred`` over ``test``'s creation and activation pairs alone, with its CI over bases:
    ``{"n", "balanced_accuracy", "ci_lo", "ci_hi"}``, or None unless both classes are there. Beside the three-class
    score, because a control without a gain is read no-signal by the gain check, so the controls make the
    three-class score easier than the question the meter exists for."""
    decided = (test["label"] != "no_signal").to_numpy()
    sub = test[decided]
    if set(sub["label"]) != {"creation", "activation"}:
        return None
    sub_pred = [p for p, d in zip(pred, decided, strict=True) if d]
    ba, lo, hi = balanced_accuracy_ci(sub["label"].tolist(), sub_pred, n_boot=n_boot, seed=seed, groups=_groups(sub))
    return {"n": int(decided.sum()), "balanced_accuracy": ba, "ci_lo": lo, "ci_hi": hi}


def rule_scores(test: pd.DataFrame, pred: Sequence[str], *, n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """How one rule's readings ``pred`` of the ``test`` rows score: its readings by pair, balanced accuracy with a CI
    over bases, the pairs read wrong, recall (with exact intervals), the confusion table, the share of no-signal
    controls read as creation and the pairs read right per recipe. :func:`evaluate` scores the fitted summary and the
    vote rule so; a baseline rule scored so reads beside them."""
    pred = list(pred)
    true = test["label"].tolist()
    classes = [c for c in LABELS if c in set(true)]
    controls = test["label"] == "no_signal"
    ba, lo, hi = balanced_accuracy_ci(true, pred, n_boot=n_boot, seed=seed, groups=_groups(test))
    conf = confusion_table(true, pred, classes, [c for c in READINGS if c in set(pred) | set(classes)])
    return {
        "predictions": dict(zip(test["pair"], pred, strict=True)), "balanced_accuracy": ba,
        # the pairs read wrong by name, with their label and reading: the errors a reader should see first
        "read_wrong": {p: [t, r] for p, t, r in zip(test["pair"], true, pred, strict=True) if t != r},
        "ci_lo": lo, "ci_hi": hi, "recall": recall_by_class(true, pred),
        "recall_exact_ci": recall_exact_ci(true, pred),
        "confusion": {"rows": list(conf.index), "columns": list(conf.columns), "counts": conf.to_numpy().tolist()},
        "no_signal_read_as_creation": float(np.mean([p == "creation" for p, c in zip(pred, controls, strict=True) if c]))
        if controls.any() else None,
        # pairs read right within each recipe (a fine-tuned recipe can carry a pooled score the RL one lacks)
        "right_by_recipe": {str(r): [int(sum(p == t for p, t, rr in zip(pred, true, test["recipe"], strict=True)
                                             if rr == r)), int((test["recipe"] == r).sum())]
                            for r in sorted(test["recipe"].dropna().unique())},
    }


def evaluate(fitted: FittedRules, test: pd.DataFrame, calibration: pd.DataFrame, *, n_boot: int = 1000,
             seed: int = 0) -> dict[str, Any]:
    """Held-out metrics of the fitted summary and of the vote rule, and each indicator's AUC on ``test`` rows."""
    if test.empty:
        raise EmptyInputError("No held-out pairs: the registry lists none with split='test'.")
    true = test["label"].tolist()
    classes = [c for c in LABELS if c in set(true)]
    out: dict[str, Any] = {"n_test": len(test), "n_calibration": len(calibration),
                           "test_classes": {c: int(true.count(c)) for c in classes}}
    const_answer, const_ba = constant_baseline(true, calibration["label"].tolist())
    out["constant_baseline"] = {"answer": const_answer, "balanced_accuracy": const_ba}
    # a harder baseline: the gain check alone (no gain reads no_signal), then always the calibration's majority of
    # creation / activation; the summary gets no-signal recall from the same gain check
    two_labels = _two_class(calibration)["label"].tolist() or [const_answer]
    two_answer = max(sorted(set(two_labels)), key=two_labels.count)
    gain_then = ["no_signal" if no_gain(g) else two_answer for g in test["gain"]]
    g_ba, g_lo, g_hi = balanced_accuracy_ci(true, gain_then, n_boot=n_boot, seed=seed, groups=_groups(test))
    out["gain_then_constant"] = {"answer": two_answer, "balanced_accuracy": g_ba, "ci_lo": g_lo, "ci_hi": g_hi}
    controls = test["label"] == "no_signal"
    for rule_name, pred in (("summary", fitted.predict(test)), ("vote_rule", test["vote_summary"].tolist())):
        out[rule_name] = rule_scores(test, pred, n_boot=n_boot, seed=seed)
    two = _two_class(test)
    y = (two["label"] == "creation").to_numpy()
    per = []
    for f in fitted.indicators:
        if f.name not in two.columns:
            continue
        # a statistic with a fitted cut is ranked as the fit reads it: measured from its world's cut, in its world's
        # spread (FittedRules.standardised); its raw values pooled over the worlds are reported beside
        # ``scored``: the pairs with this statistic as the fit reads it
        scored = two.assign(**{f.name: fitted.standardised(two, f.name)}) if f.cut is not None else two
        auc, lo, hi, n = roc_auc_ci(scored[f.name].tolist(), y, n_boot=n_boot, seed=seed, groups=_groups(scored))
        pooled_raw = None
        if f.cut is not None and fitted.world_cuts:
            r_auc, r_lo, r_hi, _ = roc_auc_ci(two[f.name].tolist(), y, n_boot=n_boot, seed=seed, groups=_groups(two))
            pooled_raw = {"auc": r_auc, "lo": r_lo, "hi": r_hi}
        vote_col = f"{f.name}_vote"
        ctrl_votes = test.loc[controls, vote_col].tolist() if vote_col in test.columns else []
        # one world, and one recipe, at a time too: a pooled AUC can rest on the worlds' different scales, and a
        # reading that works on fine-tuned pairs need not carry over to RL-made ones
        by_world = _auc_within(scored, "world", f.name, n_boot=n_boot, seed=seed)
        by_recipe = _auc_within(scored, "recipe", f.name, n_boot=n_boot, seed=seed)
        # pairs without a statistic drop out of the AUC; counted per class, since an indicator that cannot read
        # one class more often than the other looks better on the pairs it keeps
        unread = {c: [int(scored.loc[scored["label"] == c, f.name].isna().sum()), int((scored["label"] == c).sum())]
                  for c in ("creation", "activation")}
        read = scored[scored[f.name].notna()]
        # the votes at the fitted cut (an AUC of 1 can hide many inconclusive votes), and the bases the AUC rests on
        tally = None  # candidate readings have no votes
        if vote_col in read.columns:
            pairs = list(zip(read[vote_col], read["label"], strict=True))
            tally = {"right": sum(v == t for v, t in pairs),
                     "wrong": sum(v in ("creation", "activation") and v != t for v, t in pairs),
                     "undecided": sum(v not in ("creation", "activation") for v, _ in pairs)}
        bases = int(read["base"].nunique()) if "base" in read.columns else None
        # the bar counts bases per class, and only those no calibration pair starts from: a statistic of the base
        # alone (beliefs) reads a shared base's test pairs exactly as its calibration pairs
        by_class = ({c: int(read.loc[read["label"] == c, "base"].nunique()) for c in ("creation", "activation")}
                    if "base" in read.columns else None)
        cal_bases = set(calibration["base"]) if "base" in calibration.columns else set()
        unseen = int(read.loc[~read["base"].isin(cal_bases), "base"].nunique()) if "base" in read.columns else None
        # pairs whose readings were in view while the indicator was designed are no clean test of it
        seen = [p for p in getattr(REGISTRY.get(f.name.split(":")[0]), "SEEN_IN_DESIGN", ()) if p in set(scored["pair"])]
        clean = None
        if seen:
            rest = scored[~scored["pair"].isin(seen)]
            c_auc, c_lo, c_hi, c_n = roc_auc_ci(rest[f.name].tolist(), (rest["label"] == "creation").to_numpy(),
                                                n_boot=n_boot, seed=seed, groups=_groups(rest))
            clean = {"auc": c_auc, "lo": c_lo, "hi": c_hi, "n": c_n, "left_out": seen}
        per.append({"indicator": f.name, "votes": f.votes, "rule": f.reason, "cut": f.cut, "test_by_world": by_world,
                    "world_cuts": {w: c[f.name] for w, c in sorted(fitted.world_cuts.items()) if f.name in c},
                    "test_auc_raw_pooled": pooled_raw, "test_unseen_in_design": clean,
                    "test_by_recipe": by_recipe, "test_unread": unread, "test_votes": tally, "test_bases": bases,
                    "test_bases_by_class": by_class, "test_bases_unseen": unseen,
                    "calibration_auc": f.auc, "calibration_lo": f.lo, "calibration_hi": f.hi,
                    "test_auc": auc, "test_lo": lo, "test_hi": hi, "test_n": n,
                    "controls_read_as_creation": float(np.mean([v == "creation" for v in ctrl_votes]))
                    if ctrl_votes else None,
                    "roc": roc_points(scored[f.name].tolist(), y).to_dict(orient="list")})
    out["indicators"] = per
    # the same test read over base models with exact tests, which the bar's later criteria need
    out["over_bases"] = kept_over_bases(test, per, out["summary"]["predictions"], fitted.standardised)
    return out
