"""In-context RL on bandits: regret curves within an episode (claim 6 in docs/claims.md).

A policy that learns in context chooses better arms as an episode goes on, without weight updates.
Every function takes plain arrays, so it works for any policy (a model's rollouts, Thompson sampling,
uniform random): ``choices[e, t]`` is the arm pulled at trial ``t`` of episode ``e`` and
``means[e, k]`` the hidden Bernoulli mean of arm ``k`` in that episode. Regret is the expected
(pseudo-)regret ``max_k means[e, k] - means[e, choices[e, t]]``, which does not depend on the sampled
reward tokens. Confidence intervals are bootstrap intervals over episodes.

The reference learners come from the bandit world (``organism.worlds.bandits.simulate``); see
:func:`reference_choices`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd
from jaxtyping import Float, Int
from scipy import stats as sps

from ..errors import EmptyInputError, InvalidConfigError, NonFiniteError
from .stats import bootstrap_ci, bootstrap_curve_ci, paired_diff_ci

Invalid = Literal["error", "worst", "uniform"]


def _check(choices: np.ndarray, means: np.ndarray, invalid: str) -> tuple[np.ndarray, np.ndarray]:
    c = np.asarray(choices)
    m = np.asarray(means, dtype=np.float64)
    if c.ndim != 2 or c.size == 0:
        raise EmptyInputError(f"choices must be a non-empty [episodes, T] array of arm indices, got shape {c.shape}.")
    if m.ndim != 2 or m.shape[0] != c.shape[0]:
        raise InvalidConfigError(
            f"means must be [episodes, K] with one row per episode of choices ({c.shape[0]}), got shape {m.shape}."
        )
    if not np.all(np.isfinite(m)):
        raise NonFiniteError("means holds NaN or inf: pass the hidden arm means of each episode.")
    if not np.issubdtype(c.dtype, np.integer):
        raise InvalidConfigError(f"choices must be integer arm indices (use -1 for an invalid pull), got dtype {c.dtype}.")
    if invalid not in ("error", "worst", "uniform"):
        raise InvalidConfigError(f"invalid={invalid!r}; choose 'error', 'worst' or 'uniform'.")
    bad = (c < 0) | (c >= m.shape[1])
    if bad.any() and invalid == "error":
        raise InvalidConfigError(
            f"{int(bad.sum())} choices are not arms 0..{m.shape[1] - 1} (e.g. malformed model output). Pass"
            " invalid='worst' (score them as the worst arm) or 'uniform' (as a random arm), or clean the choices."
        )
    return c, m


def per_trial_regret(
    choices: Int[np.ndarray, "episodes T"], means: Float[np.ndarray, "episodes K"], *, invalid: Invalid = "error"
) -> Float[np.ndarray, "episodes T"]:
    """``max(means[e]) - means[e, choices[e, t]]``; invalid choices (< 0 or >= K) per ``invalid``."""
    c, m = _check(choices, means, invalid)
    best = m.max(axis=1, keepdims=True)
    bad = (c < 0) | (c >= m.shape[1])
    chosen = np.take_along_axis(m, np.where(bad, 0, c), axis=1)
    if invalid == "worst":
        chosen = np.where(bad, m.min(axis=1, keepdims=True), chosen)
    elif invalid == "uniform":
        chosen = np.where(bad, m.mean(axis=1, keepdims=True), chosen)
    return best - chosen


def regret_curves(
    choices: Int[np.ndarray, "episodes T"],
    means: Float[np.ndarray, "episodes K"],
    *,
    policy: str = "model",
    invalid: Invalid = "error",
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Per-trial and cumulative regret curves with bootstrap bands over episodes.

    Columns: ``policy, t`` (1..T), ``regret, regret_lo, regret_hi`` (per-trial), ``cum_regret, cum_lo,
    cum_hi``, ``p_best, p_best_lo, p_best_hi`` (share of episodes pulling a best arm at trial t).
    """
    r = per_trial_regret(choices, means, invalid=invalid)
    c, m = np.asarray(choices), np.asarray(means, dtype=np.float64)
    cum = np.cumsum(r, axis=1)
    best = np.take_along_axis(m, np.clip(c, 0, m.shape[1] - 1), axis=1) >= m.max(axis=1, keepdims=True)
    best &= (c >= 0) & (c < m.shape[1])
    out = {"policy": policy, "t": np.arange(1, r.shape[1] + 1)}
    for key, mat in (("regret", r), ("cum", cum), ("p_best", best.astype(np.float64))):
        lo, hi = bootstrap_curve_ci(mat, n_boot=n_boot, ci=ci, seed=seed)
        name = "cum_regret" if key == "cum" else key
        out[name], out[f"{key}_lo"], out[f"{key}_hi"] = mat.mean(axis=0), lo, hi
    return pd.DataFrame(out)


def adaptation(
    choices: Int[np.ndarray, "episodes T"],
    means: Float[np.ndarray, "episodes K"],
    *,
    window: int | None = None,
    invalid: Invalid = "error",
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
) -> dict[str, float]:
    """Within-episode improvement: mean per-trial regret over the first vs the last ``window`` trials.

    ``improvement = early - late`` (> 0: the policy learns in context), with a paired bootstrap CI over
    episodes. ``window`` defaults to a quarter of the horizon (at least 1).
    """
    r = per_trial_regret(choices, means, invalid=invalid)
    T = r.shape[1]
    window = max(1, T // 4) if window is None else window
    if not 1 <= window <= T // 2:
        raise InvalidConfigError(f"window must be in [1, T//2={T // 2}] so early and late trials do not overlap, got {window}.")
    early, late = r[:, :window].mean(axis=1), r[:, -window:].mean(axis=1)
    lo, hi = paired_diff_ci(early, late, n_boot=n_boot, ci=ci, seed=seed)
    return {"early": float(early.mean()), "late": float(late.mean()), "improvement": float((early - late).mean()),
            "ci_lo": lo, "ci_hi": hi, "window": int(window), "n_episodes": int(r.shape[0])}


def regret_table(
    policies: Mapping[str, tuple[np.ndarray, np.ndarray]],
    *,
    random: str = "random",
    optimal: str = "thompson",
    invalid: Invalid = "error",
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Final cumulative regret of each policy and the share of the random-to-optimal gap it closes.

    ``policies`` maps a name to ``(choices, means)``; it should include ``random`` and ``optimal``
    (e.g. uniform random and Thompson sampling run on the same bandits). Columns: ``policy,
    final_regret, ci_lo, ci_hi, n_episodes, gap_closed, gap_lo, gap_hi`` where ``gap_closed =
    (R_random - R_policy) / (R_random - R_optimal)`` (0 = random, 1 = the optimal reference). Its CI
    resamples episodes jointly when all three share the same bandits (identical ``means``),
    independently otherwise. All policies must have the same horizon.
    """
    if not policies:
        raise EmptyInputError("No policies given: pass {name: (choices, means)}.")
    finals: dict[str, np.ndarray] = {}
    meanss: dict[str, np.ndarray] = {}
    horizons = set()
    for name, (ch, mu) in policies.items():
        r = per_trial_regret(ch, mu, invalid=invalid)
        horizons.add(r.shape[1])
        finals[name] = r.sum(axis=1)
        meanss[name] = np.asarray(mu, dtype=np.float64)
    if len(horizons) != 1:
        raise InvalidConfigError(f"Policies have different horizons {sorted(horizons)}: compare episodes of equal length.")
    have_refs = random in finals and optimal in finals
    rows = []
    for name, f in finals.items():
        lo, hi = bootstrap_ci(f, n_boot=n_boot, ci=ci, seed=seed)
        row = {"policy": name, "final_regret": float(f.mean()), "ci_lo": lo, "ci_hi": hi, "n_episodes": int(f.size),
               "gap_closed": np.nan, "gap_lo": np.nan, "gap_hi": np.nan}
        if have_refs:
            row.update(_gap(f, finals[random], finals[optimal],
                            paired=_same(meanss[name], meanss[random], meanss[optimal]),
                            n_boot=n_boot, ci=ci, seed=seed))
        rows.append(row)
    return pd.DataFrame(rows)


def _same(*arrays: np.ndarray) -> bool:
    return all(a.shape == arrays[0].shape and np.array_equal(a, arrays[0]) for a in arrays[1:])


def _gap(f: np.ndarray, fr: np.ndarray, fo: np.ndarray, *, paired: bool, n_boot: int, ci: float, seed: int) -> dict[str, float]:
    denom = fr.mean() - fo.mean()
    if denom <= 0:
        return {"gap_closed": np.nan, "gap_lo": np.nan, "gap_hi": np.nan}
    point = float((fr.mean() - f.mean()) / denom)

    def stat(a: np.ndarray, b: np.ndarray, c: np.ndarray, axis: int = -1) -> np.ndarray:
        return (b.mean(axis=axis) - a.mean(axis=axis)) / (b.mean(axis=axis) - c.mean(axis=axis))

    if min(f.size, fr.size, fo.size) < 2:
        return {"gap_closed": point, "gap_lo": np.nan, "gap_hi": np.nan}
    with np.errstate(divide="ignore", invalid="ignore"):
        res = sps.bootstrap((f, fr, fo), stat, paired=paired, vectorized=True, n_resamples=n_boot,
                            confidence_level=ci, method="percentile", rng=np.random.default_rng(seed))
    return {"gap_closed": point, "gap_lo": float(res.confidence_interval.low), "gap_hi": float(res.confidence_interval.high)}


def reference_choices(
    means: Float[np.ndarray, "episodes K"], horizon: int, policy: str = "thompson", seed: int = 0
) -> Int[np.ndarray, "episodes T"]:
    """Arm choices of a reference learner ("thompson" with Beta(1,1) priors, or "random") on given bandits,
    from the bandit world's own simulator."""
    from ..organism.worlds.bandits import simulate

    m = np.asarray(means, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] == 0:
        raise EmptyInputError(f"means must be a non-empty [episodes, K] array, got shape {m.shape}.")
    if horizon < 1:
        raise InvalidConfigError(f"horizon must be >= 1, got {horizon}.")
    rng = np.random.default_rng(seed)
    return np.array([[a for a, _ in simulate(policy, row, horizon, rng)] for row in m], dtype=np.int64)


def choices_from_texts(
    texts: Sequence[str], horizon: int, n_arms: int
) -> Int[np.ndarray, "episodes T"]:
    """Arm indices from episode texts (``"a1b0..."``: arm letter, reward digit); -1 where a pull is
    missing or malformed (score those with ``invalid="worst"`` or ``"uniform"``)."""
    from ..organism.worlds.bandits import ARM_LETTERS

    if len(texts) == 0:
        raise EmptyInputError("No episode texts given.")
    arms = ARM_LETTERS[:n_arms]
    out = np.full((len(texts), horizon), -1, dtype=np.int64)
    for e, text in enumerate(texts):
        for t in range(horizon):
            pair = text[2 * t : 2 * t + 2]
            if len(pair) == 2 and pair[0] in arms and pair[1] in "01":
                out[e, t] = arms.index(pair[0])
            else:
                break  # the episode is malformed from here on
    return out
