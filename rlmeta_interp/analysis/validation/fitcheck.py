"""Field checks of a validation fit (:class:`~.fit.IndicatorFit`, :class:`~.fit.FittedRules`), which are read back
from the committed summary: a damaged or hand-edited entry is named instead of voting by a string or scaling by
zero."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import InvalidConfigError
from ..indicators.core import ScorecardRules


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))


def check_indicator_fit(fit: Any) -> None:
    """InvalidConfigError unless an indicator's calibration reading has AUCs in [0, 1] (NaN where unscored), a CI
    that does not end below its start, a count of pairs, a finite cut or None, and a bool vote."""
    where = f"IndicatorFit {fit.name!r}"
    if not isinstance(fit.name, str) or not fit.name or not isinstance(fit.reason, str):
        raise InvalidConfigError(f"{where}: name and reason must be strings, got {fit.name!r}, {fit.reason!r}.")
    aucs = (fit.lo, fit.auc, fit.hi)
    if not all(_is_number(a) and (np.isnan(a) or 0.0 <= a <= 1.0) for a in aucs):
        raise InvalidConfigError(f"{where}: auc, lo and hi must be numbers in [0, 1] (NaN where unscored), got"
                                 f" {aucs}.")
    if not np.isnan(aucs).any() and fit.lo > fit.hi:
        raise InvalidConfigError(f"{where}: its CI [{fit.lo}, {fit.hi}] ends below where it starts.")
    if not isinstance(fit.n, (int, np.integer)) or isinstance(fit.n, bool) or fit.n < 0:
        raise InvalidConfigError(f"{where}: n must be a count of pairs, got {fit.n!r}.")
    if fit.cut is not None and not (_is_number(fit.cut) and np.isfinite(fit.cut)):
        raise InvalidConfigError(f"{where}: cut must be a finite number or None, got {fit.cut!r}.")
    if not isinstance(fit.votes, (bool, np.bool_)):
        raise InvalidConfigError(f"{where}: votes must be True or False, got {fit.votes!r}.")


def check_fitted_rules(rules: Any, fit_type: type) -> None:
    """InvalidConfigError unless a fit has its rules and indicator fits (of ``fit_type``), one finite value per summary input in each
    of its vectors (or none), positive scales, a finite intercept, a count of calibration pairs and finite world
    cuts."""
    if not isinstance(rules.rules, ScorecardRules) or not all(isinstance(f, fit_type) for f in rules.indicators):
        raise InvalidConfigError("FittedRules takes ScorecardRules and a tuple of IndicatorFit.")
    k = len(rules.inputs)
    for name in ("impute", "mean", "scale", "coef"):
        values = getattr(rules, name)
        if len(values) not in (0, k) or not all(_is_number(v) and np.isfinite(v) for v in values):
            raise InvalidConfigError(f"FittedRules.{name} must hold {k} finite numbers, one per summary input"
                                     f" {list(rules.inputs)} (or none), got {list(values)}.")
    spreads = [*rules.scale, *(v for c in rules.world_scale.values() for v in c.values())]
    if any(not (_is_number(v) and v > 0) for v in spreads):
        raise InvalidConfigError(f"FittedRules: every scale must be a positive number, got {spreads}.")
    if not (_is_number(rules.intercept) and np.isfinite(rules.intercept)):
        raise InvalidConfigError(f"FittedRules.intercept must be a finite number, got {rules.intercept!r}.")
    if not isinstance(rules.n_calibration, (int, np.integer)) or isinstance(rules.n_calibration, bool) \
            or rules.n_calibration < 0:
        raise InvalidConfigError(f"FittedRules.n_calibration must be a count of pairs, got {rules.n_calibration!r}.")
    for attr in ("world_cuts", "world_scale"):
        for world, cuts in getattr(rules, attr).items():
            bad = {n: v for n, v in cuts.items() if not (_is_number(v) and np.isfinite(v))}
            if bad:
                raise InvalidConfigError(f"FittedRules.{attr}[{world!r}] holds values that are not finite: {bad}.")
