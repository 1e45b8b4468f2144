"""Activation-vs-creation indicators, one module each: ``measure(ctx)``, a pure ``vote(metrics, rules)``, the rule
in words, and the ``statistic`` the validation scores (larger reads more like creation).

:func:`run_indicator` measures and votes; :func:`revote` re-applies other rules to a saved result without measuring.
"""

from __future__ import annotations

from types import ModuleType

from . import beliefs, boundary, directions, elicitation, features, hybrid, likelihood, reliance, steering, weights
from .core import (INDICATORS, Context, Estimate, IndicatorResult, Metrics, ScorecardConfig, ScorecardRules, Vote,
                   metric)

REGISTRY: dict[str, ModuleType] = {
    "boundary": boundary, "likelihood": likelihood, "elicitation": elicitation, "directions": directions, "steering": steering,
    "hybrid": hybrid, "beliefs": beliefs, "reliance": reliance, "features": features, "weights": weights,
}
METRICS = {"boundary": boundary.BoundaryMetrics, "likelihood": likelihood.LikelihoodMetrics,
           "elicitation": elicitation.ElicitationMetrics,
           "directions": directions.DirectionsMetrics, "steering": steering.SteeringMetrics,
           "hybrid": hybrid.HybridMetrics, "beliefs": beliefs.BeliefsMetrics, "reliance": reliance.RelianceMetrics,
           "features": features.FeaturesMetrics,
           "weights": weights.WeightsMetrics}


def _result(name: str, metrics: Metrics | None, tables: dict, rules: ScorecardRules) -> IndicatorResult:
    mod = REGISTRY[name]
    text = mod.rule(rules) if metrics is not None else getattr(mod, "NOT_APPLICABLE", "does not apply here.")
    stat = mod.statistic(metrics) if metrics is not None else Estimate()
    return IndicatorResult(name, mod.vote(metrics, rules), text, [] if metrics is None else metrics.rows(), tables,
                           stat)


def run_indicator(name: str, ctx: Context) -> IndicatorResult:
    """Measure indicator ``name`` on ``ctx`` and vote under ``ctx.rules``."""
    metrics, tables = REGISTRY[name].measure(ctx)
    return _result(name, metrics, tables, ctx.rules)


def metrics_of(result: IndicatorResult) -> Metrics | None:
    """The typed metrics behind a (saved) result; None where the indicator did not apply."""
    if not result.metrics:
        return None
    return METRICS[result.name].from_rows(result.metrics)


def revote(result: IndicatorResult, rules: ScorecardRules) -> IndicatorResult:
    """``result`` voted again under ``rules`` (same metrics and tables)."""
    return _result(result.name, metrics_of(result), result.tables, rules)


__all__ = ["INDICATORS", "METRICS", "REGISTRY", "Context", "Estimate", "IndicatorResult", "Metrics", "ScorecardConfig",
           "ScorecardRules", "Vote", "metric", "metrics_of", "revote", "run_indicator"]
