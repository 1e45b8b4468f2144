"""Boundary (Yue et al. 2504.13837): does RL solve problems the base cannot solve in n samples?

Measured per difficulty level (``problem.meta["difficulty"]``), beside the guessing baseline at the same n, with the
problems split into preserved (both solve), expanded (RL only) and shrunk (base only) as in The Invisible Leash
(2507.14843), and the in-distribution pass@1 (the easiest level) beside any claimed expansion: a policy that
collapsed can raise pass@n on hard problems by guessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..passk import pass_at_k_matrix
from ..stats import bootstrap_ci, paired_diff_ci
from .core import Context, Estimate, Metrics, ScorecardRules, Vote, descriptive_note, metric
from .shared import samples

NAME = "boundary"
NOT_APPLICABLE = "pass@k needs a single-turn world; bandits use 'beliefs' and regret."


@dataclass(frozen=True)
class BoundaryMetrics(Metrics):
    pass1_base: Estimate = metric("pass@1 base")
    pass1_rl: Estimate = metric("pass@1 RL")
    d_pass1: Estimate = metric("pass@1 RL - base")
    passn_base: Estimate = metric("pass@n base")
    passn_rl: Estimate = metric("pass@n RL")
    d_passn: Estimate = metric("pass@n RL - base")
    guess_passn: Estimate = metric("guessing baseline pass@n")
    crossover_k: Estimate = metric("crossover k")
    preserved: Estimate = metric("share preserved (both solve)")
    expanded: Estimate = metric("share expanded (RL only)")
    shrunk: Estimate = metric("share shrunk (base only)")
    level: Estimate = metric("difficulty level with the largest pass@n gain")
    d_passn_level: Estimate = metric("pass@n RL - base at that level")
    rl_minus_guess_level: Estimate = metric("pass@n RL - guesser at that level")
    d_pass1_in_dist: Estimate = metric("in-distribution pass@1 RL - base (easiest level)")
    scratchpad_base: Estimate = metric("base scratchpad share")
    scratchpad_rl: Estimate = metric("RL scratchpad share")


def rule(rules: ScorecardRules) -> str:
    r = rules
    return descriptive_note(NAME, r) + (
        f"per difficulty level, creation if pass@n(RL) - pass@n(base) has its paired CI above +{r.boundary_margin} at"
        f" some level, RL's pass@n there beats the guesser's by more than {r.guess_margin} (CI), and RL's"
        f" in-distribution pass@1 is at most {r.collapse_tolerance} below the base's (no collapse); activation if"
        f" the largest per-level difference is at most +{r.boundary_margin}; otherwise inconclusive.")


def vote(m: BoundaryMetrics | None, rules: ScorecardRules) -> Vote:
    if m is None or NAME in rules.descriptive or not m.d_passn_level.known:
        return "n/a"
    collapsed = m.d_pass1_in_dist.known and m.d_pass1_in_dist.value < -rules.collapse_tolerance
    beats_guess = not m.rl_minus_guess_level.known or m.rl_minus_guess_level.above(rules.guess_margin)
    if m.d_passn_level.above(rules.boundary_margin) and beats_guess and not collapsed:
        return "creation"
    if m.d_passn_level.value <= rules.boundary_margin:
        return "activation"
    return "inconclusive"


# its vote reads more than its statistic: a table of statistics cannot be voted again
vote_from_statistic = None


def statistic(m: BoundaryMetrics) -> Estimate:
    return m.d_passn_level if m.d_passn_level.known else m.d_passn


# Other readings of the same measurement, scored by the validation beside the statistic (they do not vote).
CANDIDATES = {
    "pass@n overall": lambda m: m.d_passn,
    "share expanded": lambda m: m.expanded,
}

def with_cut(rules: ScorecardRules, cut: float) -> ScorecardRules:
    """Rules whose creation/activation boundary sits at ``cut`` on :func:`statistic` (fitted on calibration)."""
    return rules.replace(boundary_margin=float(cut))


def _paired(a: np.ndarray, b: np.ndarray, n_boot: int, seed: int) -> Estimate:
    lo, hi = paired_diff_ci(a, b, n_boot=n_boot, seed=seed) if len(a) > 1 else (None, None)
    return Estimate(float(np.mean(a) - np.mean(b)), lo, hi)


def _mean(a: np.ndarray, n_boot: int, seed: int) -> Estimate:
    lo, hi = bootstrap_ci(a, n_boot=n_boot, seed=seed) if len(a) > 1 else (None, None)
    return Estimate(float(np.mean(a)), lo, hi)


def by_level(levels: np.ndarray, counts_base: np.ndarray, counts_rl: np.ndarray, guess_p: np.ndarray | None, n: int,
             n_boot: int = 500, seed: int = 0) -> pd.DataFrame:
    """One row per difficulty level: pass@1 and pass@n of base, RL and the guesser, the paired RL - base pass@n
    difference and RL - guesser pass@n with CIs, and the preserved / expanded / shrunk problem counts."""
    rows = []
    for lev in sorted(set(levels.tolist()), key=lambda v: (str(type(v)), v)):
        idx = levels == lev
        pb = pass_at_k_matrix(counts_base[idx], n, [1, n])
        pr = pass_at_k_matrix(counts_rl[idx], n, [1, n])
        g = None if guess_p is None else 1.0 - (1.0 - guess_p[idx]) ** n
        d = _paired(pr[:, 1], pb[:, 1], n_boot, seed)
        d1 = _paired(pr[:, 0], pb[:, 0], n_boot, seed)
        dg = _paired(pr[:, 1], g, n_boot, seed) if g is not None else Estimate()
        sb, sr = counts_base[idx] > 0, counts_rl[idx] > 0
        rows.append({"level": lev, "n_problems": int(idx.sum()), "pass@1_base": float(pb[:, 0].mean()),
                     "pass@1_rl": float(pr[:, 0].mean()), "d_pass@1": d1.value, "d_pass@1_lo": d1.lo,
                     "d_pass@1_hi": d1.hi, "pass@n_base": float(pb[:, 1].mean()), "pass@n_rl": float(pr[:, 1].mean()),
                     "pass@n_guess": None if g is None else float(g.mean()), "d_pass@n": d.value, "d_pass@n_lo": d.lo,
                     "d_pass@n_hi": d.hi, "rl_minus_guess": dg.value, "rl_minus_guess_lo": dg.lo,
                     "rl_minus_guess_hi": dg.hi, "preserved": int((sb & sr).sum()), "expanded": int((~sb & sr).sum()),
                     "shrunk": int((sb & ~sr).sum()), "neither": int((~sb & ~sr).sum())})
    return pd.DataFrame(rows)


def summarize(res: Any, levels: np.ndarray, n_boot: int, seed: int,
              scratchpad: tuple[float, float] | None = None) -> tuple[BoundaryMetrics, dict[str, pd.DataFrame]]:
    """Metrics from a ``BoundaryResult``-like ``res`` (``counts_base``, ``counts_rl``, ``guess_p``, ``n``,
    ``crossover_k``, ``curve()``) and each problem's difficulty level."""
    n = res.n
    pb = pass_at_k_matrix(res.counts_base, n, [1, n])
    pr = pass_at_k_matrix(res.counts_rl, n, [1, n])
    table = by_level(np.asarray(levels), res.counts_base, res.counts_rl, res.guess_p, n, n_boot, seed)
    lo_key = table["d_pass@n_lo"].fillna(table["d_pass@n"])
    best = table.loc[lo_key.idxmax()]
    easiest = table.iloc[0]
    sb, sr = res.counts_base > 0, res.counts_rl > 0
    guess = 1.0 - (1.0 - res.guess_p) ** n if res.guess_p is not None else None
    m = BoundaryMetrics(
        pass1_base=_mean(pb[:, 0], n_boot, seed), pass1_rl=_mean(pr[:, 0], n_boot, seed),
        d_pass1=_paired(pr[:, 0], pb[:, 0], n_boot, seed),
        passn_base=_mean(pb[:, 1], n_boot, seed), passn_rl=_mean(pr[:, 1], n_boot, seed),
        d_passn=_paired(pr[:, 1], pb[:, 1], n_boot, seed, ),
        guess_passn=Estimate() if guess is None else Estimate(float(guess.mean()), note=f"n = {n}"),
        crossover_k=Estimate(None if res.crossover_k is None else float(res.crossover_k),
                             note="first k where base >= RL; empty = none up to n"),
        preserved=Estimate(float((sb & sr).mean())), expanded=Estimate(float((~sb & sr).mean())),
        shrunk=Estimate(float((sb & ~sr).mean())),
        level=Estimate(float(best["level"]) if isinstance(best["level"], (int, float, np.number)) else None,
                       note="chosen as the level with the largest lower CI end (optimistic by selection)"),
        d_passn_level=Estimate(best["d_pass@n"], best["d_pass@n_lo"], best["d_pass@n_hi"],
                               note=f"{int(best['n_problems'])} problems at level {best['level']}"),
        rl_minus_guess_level=Estimate(best["rl_minus_guess"], best["rl_minus_guess_lo"], best["rl_minus_guess_hi"]),
        d_pass1_in_dist=Estimate(easiest["d_pass@1"], easiest["d_pass@1_lo"], easiest["d_pass@1_hi"],
                                 note=f"level {easiest['level']}"),
        scratchpad_base=Estimate(None if scratchpad is None else scratchpad[0]),
        scratchpad_rl=Estimate(None if scratchpad is None else scratchpad[1],
                               note="samples written with a scratchpad (the dose-controlled behaviour)"),
    )
    return m, {"by_level": table}


def measure(ctx: Context) -> tuple[BoundaryMetrics | None, dict[str, pd.DataFrame]]:
    if not ctx.single_turn:
        return None, {}
    res = samples(ctx)
    n = res.n
    levels = np.array([p.meta.get("difficulty", 0) for p in ctx.problems])
    scratch = None
    if ctx.world.name == "arithmetic":
        # any worked chain counts (sum, eq or rewrite): everything but a direct answer or an unreadable sample
        scratch = tuple(float(np.mean([ctx.world.format_of(c) not in ("direct", "other") for row in comps for c in row]))
                        for comps in (res.completions_base, res.completions_rl))
    m, tables = summarize(res, levels, ctx.config.n_boot, ctx.config.seed, scratch)
    ks = sorted({1, 2, 4, 8, 16, 32, 64, 128, n} & set(range(1, n + 1)))
    tables["passk_curve"] = res.curve(ks).drop(columns=["pair", "variant", "dose", "world"])
    return m, tables
