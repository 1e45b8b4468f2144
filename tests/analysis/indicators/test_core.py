"""Estimates, typed metrics and their saved form, and the rules' checks."""

from __future__ import annotations

import math

import pytest

from rlmeta_interp.analysis.indicators import METRICS, REGISTRY, revote
from rlmeta_interp.analysis.indicators.core import Estimate, IndicatorResult, ScorecardConfig, ScorecardRules
from rlmeta_interp.errors import InvalidConfigError


def test_estimate_sides_use_the_ci_and_fall_back_to_the_value():
    e = Estimate(0.5, 0.2, 0.8)
    assert e.above(0.1) and not e.above(0.2) and not e.above(0.3)
    assert e.below(0.9) and not e.below(0.8)
    assert Estimate(0.5).above(0.4) and not Estimate(0.5).above(0.5)
    assert not Estimate().above(-1.0) and not Estimate().below(1.0) and not Estimate(math.nan).known
    flipped = e.scaled(-1.0)
    assert (flipped.value, flipped.lo, flipped.hi) == (-0.5, -0.8, -0.2)


def test_every_metrics_type_round_trips_through_rows():
    for name, cls in METRICS.items():
        fields = cls.__dataclass_fields__
        m = cls(**{k: Estimate(float(i), float(i) - 1, float(i) + 1, "n") for i, k in enumerate(fields)})
        rows = m.rows()
        assert [r["key"] for r in rows] == list(fields) and all(r["metric"] for r in rows), name
        assert cls.from_rows(rows) == m, name
    # unmeasured fields are not written and come back unmeasured
    cls = METRICS["boundary"]
    assert cls.from_rows(cls(d_pass1=Estimate(0.1)).rows()) == cls(d_pass1=Estimate(0.1))


def test_revote_reapplies_rules_to_saved_metrics():
    m = METRICS["likelihood"](kl_rl_base=Estimate(0.5, 0.4, 0.6))
    res = IndicatorResult("likelihood", "inconclusive", "", m.rows())
    assert revote(res, ScorecardRules()).vote == "inconclusive"
    assert revote(res, ScorecardRules(kl_creation_min=0.3)).vote == "creation"
    assert revote(res, ScorecardRules(kl_activation_max=0.7, kl_creation_min=0.9)).vote == "activation"
    assert revote(res, ScorecardRules(descriptive=("likelihood",))).vote == "n/a"
    assert "DESCRIPTIVE" in revote(res, ScorecardRules(descriptive=("likelihood",))).rule


def test_not_applicable_results_vote_na_with_the_reason():
    res = IndicatorResult("beliefs", "n/a", "", [])
    again = revote(res, ScorecardRules())
    assert again.vote == "n/a" and again.rule == REGISTRY["beliefs"].NOT_APPLICABLE


def test_config_and_rules_validation():
    with pytest.raises(InvalidConfigError, match="Unknown indicators"):
        ScorecardConfig(indicators=("boundary", "vibes"))
    with pytest.raises(InvalidConfigError, match="n_steer"):
        ScorecardConfig(n_steer=0)
    with pytest.raises(InvalidConfigError, match="descriptive names unknown"):
        ScorecardRules(descriptive=("vibes",))
    # bands whose two sides overlap would read one estimate both ways; equal cuts are one cut and are allowed
    with pytest.raises(InvalidConfigError, match="kl_activation_max=0.9 and kl_creation_min=0.1 overlap"):
        ScorecardRules(kl_activation_max=0.9, kl_creation_min=0.1)
    with pytest.raises(InvalidConfigError, match="cosine_activation_min must be >= cosine_creation_max"):
        ScorecardRules(cosine_activation_min=0.3, cosine_creation_max=0.5)
    assert ScorecardRules(kl_activation_max=0.3, kl_creation_min=0.3).kl_creation_min == 0.3
    # a cut at infinity never (or always) fires; a negative margin turns its test around
    for kw, said in (({"min_gap": float("inf")}, "min_gap=inf"), ({"min_gap": -0.1}, "min_gap=-0.1"),
                     ({"kl_creation_min": float("-inf")}, "kl_creation_min=-inf")):
        with pytest.raises(InvalidConfigError, match=said):
            ScorecardRules(**kw)
    with pytest.raises(InvalidConfigError, match="elicit_lr=inf"):
        ScorecardConfig(elicit_lr=float("inf"))
    with pytest.raises(InvalidConfigError, match="indicators is empty"):
        ScorecardConfig(indicators=())
    with pytest.raises(InvalidConfigError, match="before reaching elicit_lr"):
        ScorecardConfig(elicit_steps=5, elicit_warmup=10)
    assert ScorecardConfig(elicit_steps=0, elicit_warmup=5).elicit_steps == 0  # no fine-tuning: the warm-up is moot
    # the voting rules are not part of what is measured (the cache key)
    a, b = ScorecardConfig(), ScorecardConfig(rules=ScorecardRules(boundary_margin=0.3))
    assert a.measured() == b.measured() and a.to_dict() != b.to_dict()
