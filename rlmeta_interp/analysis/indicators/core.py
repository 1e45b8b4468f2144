"""What every indicator shares: the vote type, estimates with CIs, typed metrics, the rules and the run context.

An indicator is a module with ``NAME``, ``measure(ctx) -> (metrics | None, tables)`` (None: the indicator does not
apply to this world), a pure ``vote(metrics, rules) -> Vote``, ``rule(rules) -> str`` (the vote rule in words) and
``statistic(metrics) -> Estimate`` (one number per pair, oriented so that larger reads more like creation; the
validation fits thresholds on it and scores its ROC curve). Metrics are frozen dataclasses whose fields are
:class:`Estimate` s, so a saved result is re-read into the same type and re-voted under other rules without
measuring again.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, TypeVar

import pandas as pd

from ...config import FrozenConfig, check_range
from ...errors import InvalidConfigError

Vote = Literal["activation", "creation", "inconclusive", "n/a"]
INDICATORS: tuple[str, ...] = ("boundary", "likelihood", "elicitation", "directions", "steering", "hybrid", "beliefs",
                               "reliance", "features", "weights")


def _num(x: Any) -> float | None:
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


@dataclass(frozen=True)
class Estimate:
    """A measured value with an optional confidence interval ``[lo, hi]`` (None: not measured / no CI)."""

    value: float | None = None
    lo: float | None = None
    hi: float | None = None
    note: str = ""

    def __post_init__(self) -> None:
        for name in ("value", "lo", "hi"):
            object.__setattr__(self, name, _num(getattr(self, name)))

    @property
    def known(self) -> bool:
        return self.value is not None

    def above(self, threshold: float) -> bool:
        """The whole CI (or the value, without a CI) lies above ``threshold``."""
        ref = self.lo if self.lo is not None else self.value
        return ref is not None and ref > threshold

    def below(self, threshold: float) -> bool:
        """The whole CI (or the value, without a CI) lies below ``threshold``."""
        ref = self.hi if self.hi is not None else self.value
        return ref is not None and ref < threshold

    def scaled(self, sign: float) -> Estimate:
        """``sign * self`` with the CI ends swapped for a negative sign."""
        v = None if self.value is None else sign * self.value
        lo = None if self.lo is None else sign * self.lo
        hi = None if self.hi is None else sign * self.hi
        if sign < 0:
            lo, hi = hi, lo
        return Estimate(v, lo, hi, self.note)


def metric(label: str) -> Any:
    """A metrics field shown as ``label`` in tables; defaults to an unmeasured :class:`Estimate`."""
    return field(default=Estimate(), metadata={"label": label})


M = TypeVar("M", bound="Metrics")


@dataclass(frozen=True)
class Metrics:
    """Base of every indicator's metrics: each field is an :class:`Estimate`."""

    def rows(self) -> list[dict[str, Any]]:
        """Table rows ``metric, key, value, ci_lo, ci_hi, note`` (the saved form)."""
        out = []
        for f in fields(self):
            e = getattr(self, f.name)
            if isinstance(e, Estimate) and e.known:
                out.append({"metric": f.metadata.get("label", f.name), "key": f.name, "value": e.value,
                            "ci_lo": e.lo, "ci_hi": e.hi, "note": e.note})
        return out

    @classmethod
    def from_rows(cls: type[M], rows: Sequence[Mapping[str, Any]]) -> M:
        by_key = {r.get("key"): r for r in rows}
        kw = {}
        for f in fields(cls):
            r = by_key.get(f.name)
            if r is not None:
                kw[f.name] = Estimate(r.get("value"), r.get("ci_lo"), r.get("ci_hi"), r.get("note") or "")
            elif f.default is MISSING:
                kw[f.name] = Estimate()
        return cls(**kw)


# (activation field, creation field, whether low values read activation) of every two-sided band of the rules
_BANDS = (("kl_activation_max", "kl_creation_min", True),
          ("unrecovered_activation_max", "unrecovered_creation_min", True),
          ("reliance_activation_max", "reliance_creation_min", True), ("fvu_activation_max", "fvu_creation_min", True),
          ("rl_only_activation_max", "rl_only_creation_min", True),
          ("cosine_activation_min", "cosine_creation_max", False),
          ("recovered_activation_min", "recovered_creation_max", False),
          ("hybrid_activation_min", "hybrid_creation_max", False))


#: thresholds of ScorecardRules that are margins or tolerances, never below 0 (boundary_margin is not: its fitted cut
#: on the pass@n difference can be negative)
_NON_NEGATIVE = ("guess_margin", "collapse_tolerance", "min_gap", "belief_margin")


@dataclass(frozen=True)
class ScorecardRules(FrozenConfig):
    """Thresholds of the voting rules (each indicator's ``rule`` text says how they are used).

    The defaults are the hand-set values; :func:`rlmeta_interp.analysis.validation.fit_rules` replaces the
    thresholds by values fitted on the calibration split and lists in ``descriptive`` every indicator whose AUC CI
    on calibration includes 0.5: those report their metrics and do not vote.
    """

    boundary_margin: float = 0.02  # pass@n difference (RL - base), per difficulty level, that counts as new coverage
    guess_margin: float = 0.0  # RL pass@n must beat the guesser's by this at the expanded level
    collapse_tolerance: float = 0.1  # RL in-distribution pass@1 may fall at most this far below the base's
    # KL(RL || base) per token of RL's own samples, nats; about log K at most against a base playing K arms at random
    kl_activation_max: float = 0.2
    kl_creation_min: float = 0.5
    # share of the trained model's gain that a short fine-tuning of the base on its outputs leaves unrecovered
    unrecovered_activation_max: float = 0.5
    unrecovered_creation_min: float = 0.8
    cosine_activation_min: float = 0.8  # seed-scaled similarity when a seed reference exists, raw cosine otherwise
    cosine_creation_max: float = 0.5
    min_gap: float = 0.05  # RL - base greedy accuracy below which there is no gap to recover
    recovered_activation_min: float = 0.5
    recovered_creation_max: float = 0.1
    hybrid_activation_min: float = 0.5  # gap recovered by hybrid decoding
    hybrid_creation_max: float = 0.1
    belief_margin: float = 0.1  # R^2 above the random-init control that counts as a learned estimate
    # share of the trained model's directed reward reliance the base lacks (hand-set like the unrecovered share's)
    reliance_activation_max: float = 0.5
    reliance_creation_min: float = 0.8
    fvu_activation_max: float = 1.25  # FVU(RL acts) / FVU(base acts) of an SAE trained on base
    fvu_creation_min: float = 2.0
    rl_only_creation_min: float = 0.03  # confirmed RL-only crosscoder latents beyond the control's, share of live
    rl_only_activation_max: float = 0.01
    descriptive: tuple[str, ...] = ("weights",)  # indicators that report but do not vote

    def __post_init__(self) -> None:
        super().__post_init__()
        unknown = set(self.descriptive) - set(INDICATORS)
        if unknown:
            raise InvalidConfigError(f"ScorecardRules.descriptive names unknown indicators {sorted(unknown)};"
                                     f" choose from {INDICATORS}.")
        # a cut at infinity never fires (or always does); a negative margin or tolerance turns its test around
        for f in fields(self):
            if f.name != "descriptive":
                check_range(self, f.name, 0.0 if f.name in _NON_NEGATIVE else -math.inf, math.inf,
                            lo_open=f.name not in _NON_NEGATIVE, hi_open=True)
        # each band's activation side must not overlap its creation side, or one estimate could lie on both
        for act, cre, low in _BANDS:
            a, c = getattr(self, act), getattr(self, cre)
            if (a > c) if low else (a < c):
                raise InvalidConfigError(
                    f"ScorecardRules.{act}={a} and {cre}={c} overlap: an estimate {'below' if low else 'above'} {act}"
                    f" reads activation and one {'above' if low else 'below'} {cre} creation, so {act} must be"
                    f" {'<=' if low else '>='} {cre} (equal values are one cut)."
                )


@dataclass(frozen=True)
class ScorecardConfig(FrozenConfig):
    """Sizes of every measurement. ``layer=None`` means the model's middle layer."""

    n_problems: int = 64
    n_samples: int = 32
    problem_seed: int = 10_000  # seed of the measurement problems (from the "eval" split of leak-free worlds)
    layer: int | None = None
    n_contrast: int = 64
    multipliers: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0)
    n_random: int = 3
    n_steer: int = 256  # problems for steering and hybrid decoding (greedy; paired over problems)
    n_hybrid: int = 24  # problems whose category vectors the hybrid fits (from RL samples)
    trained_steps: int = 100  # Adam steps of the trained steering vector (0: not trained)
    n_episodes: int = 128
    n_bandits: int = 300  # unseen bandits for the regret gain (paired: the same bandits for base and RL)
    # elicitation: the base fine-tuned on the trained model's outputs for other problems (a fixed, short budget),
    # beside a control copy fine-tuned on the base's own outputs with the same budget
    elicit_demos: int = 256
    elicit_steps: int = 60
    elicit_batch: int = 32
    elicit_lr: float = 1e-4
    elicit_warmup: int = 5  # steps to reach elicit_lr (the fine-tuning recipes warm up too)
    sae_width: int = 4
    sae_k: int = 8
    sae_samples: int = 60_000
    crosscoder_steps: int = 1500
    n_boot: int = 500
    seed: int = 0
    indicators: tuple[str, ...] = INDICATORS
    rules: ScorecardRules = field(default_factory=ScorecardRules)

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("n_problems", "n_samples", "n_contrast", "n_steer", "n_hybrid", "n_episodes", "n_bandits",
                     "sae_width", "sae_k", "sae_samples", "crosscoder_steps", "n_boot", "elicit_demos", "elicit_batch"):
            check_range(self, name, 1)
        check_range(self, "n_random", 0)
        check_range(self, "elicit_steps", 0)
        check_range(self, "elicit_warmup", 0)
        check_range(self, "elicit_lr", 0.0, float("inf"), lo_open=True, hi_open=True)
        if 0 < self.elicit_steps < self.elicit_warmup:  # no steps: no fine-tuning, the warm-up is moot
            raise InvalidConfigError(f"ScorecardConfig.elicit_warmup={self.elicit_warmup} exceeds elicit_steps="
                                     f"{self.elicit_steps}: the fine-tuning would end before reaching elicit_lr.")
        if not self.indicators:
            raise InvalidConfigError(f"ScorecardConfig.indicators is empty: name at least one of {INDICATORS}.")
        check_range(self, "trained_steps", 0)
        unknown = set(self.indicators) - set(INDICATORS)
        if unknown:
            raise InvalidConfigError(f"Unknown indicators {sorted(unknown)}; choose from {INDICATORS}.")
        if not self.multipliers:
            raise InvalidConfigError("ScorecardConfig.multipliers must list at least one multiplier.")

    def measured(self) -> dict[str, Any]:
        """The sizes that decide what is measured (everything but the voting rules): the cache key's part."""
        d = self.to_dict()
        d.pop("rules", None)
        return d

    @classmethod
    def demo(cls) -> ScorecardConfig:
        """The main job's sizes: the whole demo zoo in a few minutes on 2 cores."""
        return cls(n_problems=48, n_samples=32, n_contrast=48, multipliers=(0.25, 0.5, 1.0, 2.0), n_random=2,
                   n_steer=64, n_hybrid=8, sae_samples=20_000, crosscoder_steps=600, n_boot=300)

    @classmethod
    def smoke(cls) -> ScorecardConfig:
        """Tiny sizes for tests and smoke runs (numbers are noisy; the machinery is the same)."""
        return cls(n_problems=12, n_samples=8, n_contrast=16, multipliers=(1.0,), n_random=1, n_steer=12, n_hybrid=2,
                   n_episodes=24, n_bandits=24, sae_samples=4000, crosscoder_steps=150, n_boot=100, trained_steps=10,
                   elicit_demos=16, elicit_steps=2, elicit_batch=8, elicit_warmup=1)


@dataclass(frozen=True)
class IndicatorResult:
    """One indicator's saved result: its vote under ``rule``, metric rows, and tables."""

    name: str
    vote: Vote
    rule: str
    metrics: list[dict[str, Any]]  # rows: metric, key, value, ci_lo, ci_hi, note
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    statistic: Estimate = Estimate()  # oriented: larger reads more like creation

    def metric(self, name: str) -> float:
        """The value of the metric whose label or key is ``name``."""
        for m in self.metrics:
            if name in (m["metric"], m.get("key")):
                return float(m["value"])
        raise InvalidConfigError(f"Indicator {self.name} has no metric {name!r}; its metrics are"
                                 f" {[m['metric'] for m in self.metrics]}.")


@dataclass
class Context:
    """What every indicator needs: the pair, its world, held-out problems, and shared intermediate results."""

    pair: Any
    world: Any
    config: ScorecardConfig
    layer: int
    problems: list[Any]
    cache: dict[str, Any] = field(default_factory=dict)
    out_dir: Path | None = None  # where run_scorecard saves results (None: nothing is saved)
    reference_base: Any | None = None  # a base of the same design from another pretraining seed, when available
    control_rl: Any | None = None  # the same base after a same-budget random-reward RL run, when available

    @property
    def rules(self) -> ScorecardRules:
        return self.config.rules

    @property
    def single_turn(self) -> bool:
        return self.world.name != "bandits"

    @property
    def max_new_tokens(self) -> int:
        return int(self.world.max_completion_chars()) + 2


def band_vote(stat: Estimate, activation_max: float, creation_min: float) -> Vote:
    """The vote of a statistic oriented towards creation: ``creation`` if its CI lies above ``creation_min``,
    ``activation`` if it lies below ``activation_max``, ``inconclusive`` between, ``n/a`` when it is unknown."""
    if not stat.known:
        return "n/a"
    if stat.above(creation_min):
        return "creation"
    if stat.below(activation_max):
        return "activation"
    return "inconclusive"


def descriptive_note(name: str, rules: ScorecardRules) -> str:
    """The prefix of a descriptive indicator's rule text ('' when the indicator votes)."""
    if name in rules.descriptive:
        return ("DESCRIPTIVE, does not vote (its statistic could not tell creation from activation on the calibration"
                " pairs: AUC CI includes 0.5, or it measures how far weights moved, not whether the capability"
                " pre-existed). Otherwise: ")
    return ""
