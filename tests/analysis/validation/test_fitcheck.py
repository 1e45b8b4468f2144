"""Field checks of a validation fit (``rlmeta_interp.analysis.validation.fitcheck``): an indicator's calibration
reading and the fitted rules are refused with an InvalidConfigError naming the bad field, and good ones pass, with
numpy scalars as the fit code produces them."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from rlmeta_interp.analysis.indicators.core import ScorecardRules
from rlmeta_interp.analysis.validation.fit import FittedRules, IndicatorFit
from rlmeta_interp.analysis.validation.fitcheck import check_fitted_rules, check_indicator_fit
from rlmeta_interp.errors import InvalidConfigError

GOOD_FIT = dict(name="likelihood", auc=0.8, lo=0.65, hi=0.92, n=24, cut=0.3, votes=True, reason="AUC above 0.8")


def _fit(**changes) -> SimpleNamespace:
    return SimpleNamespace(**{**GOOD_FIT, **changes})


def test_a_sound_indicator_fit_passes_with_python_or_numpy_numbers():
    check_indicator_fit(_fit())
    check_indicator_fit(_fit(auc=np.float64(0.8), lo=np.float32(0.5), hi=1, n=np.int64(24), cut=None,
                             votes=np.bool_(False)))
    check_indicator_fit(_fit(auc=math.nan, lo=math.nan, hi=math.nan, n=0, cut=None, votes=False))  # unscored
    check_indicator_fit(_fit(lo=0.9, hi=math.nan))  # no CI end to compare with


@pytest.mark.parametrize("changes, said", [
    ({"name": ""}, "name and reason must be strings"),
    ({"reason": None}, "name and reason must be strings"),
    ({"auc": 1.2}, r"auc, lo and hi must be numbers in \[0, 1\]"),
    ({"lo": -0.1}, r"numbers in \[0, 1\]"),
    ({"hi": "0.9"}, r"numbers in \[0, 1\]"),
    ({"auc": True}, r"numbers in \[0, 1\]"),  # a bool is not a number here
    ({"lo": 0.9, "hi": 0.7}, r"its CI \[0.9, 0.7\] ends below where it starts"),
    ({"n": -1}, "n must be a count of pairs, got -1"),
    ({"n": 24.0}, "n must be a count of pairs"),
    ({"n": True}, "n must be a count of pairs"),
    ({"cut": math.inf}, "cut must be a finite number or None, got inf"),
    ({"cut": "0.3"}, "cut must be a finite number or None"),
    ({"votes": "yes"}, "votes must be True or False, got 'yes'"),
    ({"votes": 1}, "votes must be True or False"),
])
def test_a_damaged_indicator_fit_names_its_field(changes, said):
    with pytest.raises(InvalidConfigError, match=said) as e:
        check_indicator_fit(_fit(**changes))
    assert str(e.value).startswith(f"IndicatorFit {_fit(**changes).name!r}: ")


def test_indicator_fit_runs_the_check_when_built():
    assert IndicatorFit(**GOOD_FIT).auc == 0.8
    with pytest.raises(InvalidConfigError, match="ends below where it starts"):
        IndicatorFit(**{**GOOD_FIT, "lo": 0.95})


GOOD_RULES = dict(rules=ScorecardRules(), indicators=(IndicatorFit(**GOOD_FIT),), inputs=("likelihood", "boundary"),
                  impute=(0.0, 0.1), mean=(0.2, -0.3), scale=(1.5, 0.5), coef=(2.0, -1.0), intercept=0.25,
                  n_calibration=24, world_cuts={"arithmetic": {"likelihood": 0.4}},
                  world_scale={"arithmetic": {"likelihood": 0.7}})


def _rules(**changes) -> SimpleNamespace:
    return SimpleNamespace(**{**GOOD_RULES, **changes})


def test_sound_fitted_rules_pass_and_empty_vectors_are_allowed():
    check_fitted_rules(_rules(), IndicatorFit)
    check_fitted_rules(_rules(impute=(), mean=(), scale=(), coef=(), world_cuts={}, world_scale={},
                              n_calibration=np.int64(0), intercept=np.float64(0.0)), IndicatorFit)
    check_fitted_rules(_rules(inputs=(), impute=(), mean=(), scale=(), coef=()), IndicatorFit)


@pytest.mark.parametrize("changes, said", [
    ({"rules": {}}, "FittedRules takes ScorecardRules and a tuple of IndicatorFit"),
    ({"indicators": (GOOD_FIT,)}, "FittedRules takes ScorecardRules"),
    ({"mean": (0.2,)}, r"FittedRules.mean must hold 2 finite numbers, one per summary input \['likelihood',"
                       r" 'boundary'\] \(or none\), got \[0.2\]"),
    ({"coef": (2.0, math.nan)}, "FittedRules.coef must hold 2 finite numbers"),
    ({"impute": (0.0, "0.1")}, "FittedRules.impute must hold 2 finite numbers"),
    ({"scale": (1.5, 0.0)}, r"every scale must be a positive number, got \[1.5, 0.0, 0.7\]"),
    ({"world_scale": {"planning": {"boundary": -1.0}}}, "every scale must be a positive number"),
    ({"intercept": math.inf}, "FittedRules.intercept must be a finite number, got inf"),
    ({"intercept": None}, "FittedRules.intercept must be a finite number"),
    ({"n_calibration": -3}, "FittedRules.n_calibration must be a count of pairs, got -3"),
    ({"n_calibration": False}, "FittedRules.n_calibration must be a count of pairs"),
    ({"world_cuts": {"planning": {"boundary": math.nan, "likelihood": 0.1}}},
     r"FittedRules.world_cuts\['planning'\] holds values that are not finite: \{'boundary': nan\}"),
])
def test_damaged_fitted_rules_name_the_field(changes, said):
    with pytest.raises(InvalidConfigError, match=said):
        check_fitted_rules(_rules(**changes), IndicatorFit)


def test_fitted_rules_run_the_check_when_built():
    assert FittedRules(**GOOD_RULES).n_calibration == 24
    with pytest.raises(InvalidConfigError, match="FittedRules.scale must hold 2 finite numbers"):
        FittedRules(**{**GOOD_RULES, "scale": (1.0,)})
