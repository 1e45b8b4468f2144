"""Indicator 4, steering recovery (claims 1-2): how much of the base-to-RL gap does steering the base model close?

:func:`steering_recovery` steers the base model with named vectors (its own behaviour direction, the RL model's) at
several multipliers and scores it; ``gap_recovered = (acc_steered - acc_base) / (acc_rl - acc_base)`` with a
MOVER-R interval over problems (:func:`rlmeta_interp.analysis.ratios.recovered_share_ci`). Controls: random vectors
of equal per-layer norm (several seeds) and a bias-only vector (:func:`bias_vector`: mean RL activation minus mean
base activation, no behaviour information).
:func:`greedy_scores` is the usual scoring callback (greedy TransformerLens completions scored by the world's
verifier). The gap arithmetic (:func:`gap_recovered`, :func:`score_array`) is shared with hybrid
decoding (:mod:`rlmeta_interp.analysis.hybrid`).

Steering goes through :class:`rlmeta_interp.steering.SteeringVector` (TransformerLens hooks), so scoring callbacks
must run the model's TransformerLens forward (``tl.generate`` or a forward pass), not the HF model.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from jaxtyping import Float
from torch import Tensor

from ..config import FrozenConfig, check_range
from ..errors import EmptyInputError, InvalidConfigError, NonFiniteError
from ..hooks import Site
from ..organism.worlds.base import World
from ..steering import SteeringVector
from ..views import tl_view
from .ratios import recovered_share_ci
from .stats import mean_ci

log = logging.getLogger(__name__)

Scores = Sequence[float] | np.ndarray


def max_new_tokens(world: World) -> int:
    """Enough greedy tokens for the longest correct completion of ``world`` (plus EOS)."""
    return int(world.max_completion_chars()) + 2


def greedy_scores(world: World, problems: Sequence[Any], new_tokens: int | None = None) -> Callable[[Any], np.ndarray]:
    """``evaluate(tl) -> [n]`` verifier scores of TransformerLens greedy completions of ``problems`` (steering hooks
    act), with ``new_tokens`` (default :func:`max_new_tokens`) new tokens per completion."""
    from ..sampling import greedy_generate_tl

    prompts = [p.prompt for p in problems]
    n_new = new_tokens or max_new_tokens(world)

    def evaluate(tl: Any) -> np.ndarray:
        outs = greedy_generate_tl(tl, prompts, max_new_tokens=n_new)
        return np.array([world.reward(p, o) for p, o in zip(problems, outs, strict=True)], dtype=float)

    return evaluate


def score_array(values: Scores, name: str, n: int | None = None) -> Float[np.ndarray, " n"]:
    """``values`` as a finite 1-D float array (one score per problem), or a typed error naming the problem."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise EmptyInputError(f"{name} must be a non-empty 1-D sequence with one score per problem, got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise NonFiniteError(f"{name} holds NaN or inf: the scoring function must return finite rewards.")
    if n is not None and arr.shape[0] != n:
        raise InvalidConfigError(f"{name} has {arr.shape[0]} scores but the base model has {n}: score the same problems.")
    return arr


def gap_recovered(acc_steered: float, acc_base: float, acc_rl: float) -> float:
    """``(acc_steered - acc_base) / (acc_rl - acc_base)``; NaN when the RL model is no better than the base."""
    den = acc_rl - acc_base
    return float((acc_steered - acc_base) / den) if den != 0 else float("nan")


def bias_vector(
    acts_base: Mapping[int, Float[Tensor, "n d_model"]],
    acts_rl: Mapping[int, Float[Tensor, "n d_model"]],
    site: Site = "resid_post",
) -> SteeringVector:
    """The bias-only control: ``mean(RL activations) - mean(base activations)`` per layer (no behaviour labels)."""
    if set(acts_base) != set(acts_rl) or not acts_base:
        raise InvalidConfigError("bias_vector needs activations of both models at the same, non-empty set of layers.")
    return SteeringVector({k: acts_rl[k].float().mean(0) - acts_base[k].float().mean(0) for k in acts_base}, site)


# ---------------------------------------------------------------------------------------------------------------
# (a) gap recovered by steering the base model
# ---------------------------------------------------------------------------------------------------------------


_RESERVED = ("unsteered_base", "rl_model", "bias")


@dataclass(frozen=True)
class SteerRecoveryConfig(FrozenConfig):
    """``multipliers`` scale every vector; ``n_random`` random equal-norm control vectors per named vector;
    ``positions``: ``"all"`` steers every position (prompt and generated tokens), ``"last"`` only the newest."""

    multipliers: tuple[float, ...] = (1.0,)
    n_random: int = 3
    positions: Literal["all", "last"] = "all"
    n_boot: int = 1000
    ci: float = 0.95
    seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.multipliers:
            raise InvalidConfigError("SteerRecoveryConfig.multipliers is empty: give at least one, e.g. (1.0,).")
        check_range(self, "n_random", 0)
        check_range(self, "n_boot", 1)
        check_range(self, "ci", 0.0, 1.0, lo_open=True, hi_open=True)


def steering_recovery(
    base: Any,
    rl: Any,
    vectors: Mapping[str, SteeringVector],
    evaluate: Callable[[Any], Scores],
    *,
    bias: SteeringVector | None = None,
    config: SteerRecoveryConfig = SteerRecoveryConfig(),
) -> pd.DataFrame:
    """Gap recovered by steering ``base`` with each vector in ``vectors`` (e.g. ``{"own": v_base, "rl": v_rl}``).

    ``evaluate(tl_model)`` returns one score per problem (same problems, same order, every call) and must run the
    TransformerLens model it is given (``tl.generate`` / forward) so that the steering hooks act. It is called on
    ``rl`` and ``base`` unsteered, then on ``base`` inside each steering context. Rows: ``condition``
    (``unsteered_base``, ``rl_model``, a vector name, ``random:<name>``, ``bias``), ``seed`` (random controls), ``multiplier``, ``accuracy,
    acc_ci_lo, acc_ci_hi, gap_recovered, ci_lo, ci_hi, n`` (accuracy: a Wilson interval for 0/1 scores, else a
    bootstrap over problems; gap recovered: MOVER-R over problems, ``(-inf, inf)`` where the
    RL-base gap's own interval reaches 0).
    """
    if not vectors:
        raise EmptyInputError("No steering vectors given: pass {name: SteeringVector}.")
    reserved = [k for k in vectors if k in _RESERVED or k.startswith("random:")]
    if reserved:
        raise InvalidConfigError(f"Vector names {reserved} are reserved for reference rows; use e.g. 'own' and 'from_rl'.")
    base_tl, rl_tl = tl_view(base), tl_view(rl)
    s_base = score_array(evaluate(base_tl), "evaluate(base)")
    s_rl = score_array(evaluate(rl_tl), "evaluate(rl)", s_base.shape[0])
    if s_rl.mean() <= s_base.mean():
        log.warning("steering_recovery: the RL model (%.3f) is not better than the base (%.3f); the gap is undefined"
                    " or negative.", s_rl.mean(), s_base.mean())
    positions = None if config.positions == "all" else "last"
    cfg = config

    def row(condition: str, scores: np.ndarray, multiplier: float, seed: int | None) -> dict[str, Any]:
        lo, hi = mean_ci(scores, n_boot=cfg.n_boot, ci=cfg.ci, seed=cfg.seed)  # Wilson for 0/1 verifier scores
        g_lo, g_hi = recovered_share_ci(scores, s_base, s_rl, n_boot=cfg.n_boot, ci=cfg.ci, seed=cfg.seed)
        return {
            "condition": condition, "seed": seed, "multiplier": multiplier, "accuracy": float(scores.mean()),
            "acc_ci_lo": lo, "acc_ci_hi": hi, "gap_recovered": gap_recovered(scores.mean(), s_base.mean(), s_rl.mean()),
            "ci_lo": g_lo, "ci_hi": g_hi, "n": int(scores.shape[0]),
        }

    rows = [row("unsteered_base", s_base, 0.0, None), row("rl_model", s_rl, 0.0, None)]
    runs: list[tuple[str, SteeringVector, int | None]] = []
    for name, vec in vectors.items():
        runs.append((name, vec, None))
        runs += [(f"random:{name}", SteeringVector.random_like(vec, seed=config.seed + i), config.seed + i)
                 for i in range(config.n_random)]
    if bias is not None:
        runs.append(("bias", bias, None))
    for condition, vec, seed in runs:
        for mult in config.multipliers:
            with vec.apply(base_tl, multiplier=mult, positions=positions) as steered:
                scores = score_array(evaluate(steered), f"evaluate(base steered by {condition})", s_base.shape[0])
            rows.append(row(condition, scores, float(mult), seed))
    return pd.DataFrame(rows)
