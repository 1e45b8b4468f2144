"""Intervals for ratios: the share of a gap recovered (two paired differences, MOVER-R) and ratios of sums over
resampled units (:func:`bootstrap_ratio_ci` for positive denominators, :func:`signed_ratio_ci` for any sign).

The conventions are :mod:`rlmeta_interp.analysis.stats`' (``ci`` two-sided coverage, fewer than two units -> NaN,
typed errors for bad input); the differences' own intervals come from there.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np
from jaxtyping import Float
from scipy import stats as sps

from ..errors import InvalidConfigError
from .stats import BOOTSTRAP_BATCH, Method, are_shares, as_units, check_interval_params, mean_diff_ci

log = logging.getLogger(__name__)


def _first_root(qa: float, qb: float, qc: float, start: float, stop: float) -> float | None:
    """The root of ``qa c^2 + qb c + qc`` nearest ``start`` on the way to ``stop`` (either order), or None. A
    discriminant that is negative only by rounding counts as 0, so a double root (a tangent) is found."""
    scale = max(abs(qa), abs(qb), abs(qc))
    if scale == 0:
        return None
    qa, qb, qc = qa / scale, qb / scale, qc / scale
    if abs(qa) < 1e-12:
        roots = [-qc / qb] if abs(qb) > 1e-12 else []
    else:
        disc = qb * qb - 4 * qa * qc
        if disc < 0:
            if disc < -1e-12 * (qb * qb + 4 * abs(qa * qc)):  # more than rounding: no real root
                return None
            disc = 0.0
        q = -0.5 * (qb + math.copysign(math.sqrt(disc), qb))  # the stable form of the two roots
        roots = [q / qa] + ([qc / q] if q != 0 else [])
    lo, hi = min(start, stop), max(start, stop)
    inside = [x for x in roots if lo - 1e-12 <= x <= hi + 1e-12]
    return min(inside, key=lambda x: abs(x - start)) if inside else None


def _difference_correlation(num: np.ndarray, den: np.ndarray, shares: bool) -> float:
    """Correlation of two paired differences. For differences of 0/1 scores (values -1, 0, 1) the cross term
    ``n sum(xy) - sum(x) sum(y)`` is shrunk by ``n/2`` towards 0 when positive: an adaptation of Newcombe's
    continuity correction of the 2x2 table's ``AD - BC`` (which that term equals for two 0/1 variables), supported
    here by simulation only (tests/analysis/test_ratios.py). Without it a steered base that recovers exactly the RL
    model's problems reads a correlation of 1 and an interval far narrower than the count of those problems allows."""
    n = num.size
    vx, vy = n * (num ** 2).sum() - num.sum() ** 2, n * (den ** 2).sum() - den.sum() ** 2
    if vx <= 1e-12 * n * (num ** 2).sum() or vy <= 1e-12 * n * (den ** 2).sum():  # a constant difference
        return 0.0
    cross = n * (num * den).sum() - num.sum() * den.sum()
    if shares:
        cross = cross - n / 2 if cross > n / 2 else (cross if cross < 0 else 0.0)
    return float(np.clip(cross / math.sqrt(vx * vy), -1.0, 1.0))


def recovered_share_ci(part: Sequence[float] | Float[np.ndarray, " n"], base: Sequence[float] | Float[np.ndarray, " n"],
                       full: Sequence[float] | Float[np.ndarray, " n"], n_boot: int = 1000, ci: float = 0.95,
                       seed: int = 0) -> tuple[float, float]:
    """CI of the share of a gap recovered, ``(mean(part) - mean(base)) / (mean(full) - mean(base))``, where the three
    hold one score per unit of the same units (a steered model, the base, the RL model on the same problems).

    Method: the MOVER for a difference of correlated estimates (Zou & Donner 2008, Stat Med 27:1693), inverted for a
    ratio as Fieller did (the MOVER-R of Newcombe 2016, Stat Methods Med Res 25:1774, is the same inversion for
    independent estimates). The two differences' own intervals come from :func:`mean_diff_ci` (Newcombe's paired
    score interval for 0/1 scores, else a paired bootstrap); for 0/1 scores their correlation gets an adaptation of
    Newcombe's continuity correction (:func:`_difference_correlation`). The limits are the ``c`` at which the MOVER
    interval of ``numerator - c * denominator`` just reaches 0. This code's own additions: a limit below 0 is solved
    with the denominator's interval flipped (the published closed forms assume a positive ratio), and an RL model
    worse than the base is handled by negating both differences.

    So a steered base that solves what the base solves, nothing, has a narrow interval around 0 rather than the point
    ``[0, 0]`` a bootstrap of all-equal differences gives. When the denominator's interval reaches 0 (no gap to speak
    of) the confidence set is unbounded and the interval is ``(-inf, inf)``; otherwise both ends are finite. NaN when
    the gap is exactly 0 or there are fewer than two units. Hand-written: no library has an interval for a ratio of
    two paired differences."""
    check_interval_params(n_boot, ci, "percentile")
    s, b, r = (as_units(v, name, ndim=1) for v, name in ((part, "part"), (base, "base"), (full, "full")))
    if not s.shape == b.shape == r.shape:
        raise InvalidConfigError(f"part, base and full need one score per unit each; got lengths {s.size}, {b.size}"
                                 f" and {r.size}.")
    num, den = s - b, r - b
    t1, t2 = float(num.mean()), float(den.mean())
    if s.size < 2 or t2 == 0:
        return (float("nan"), float("nan"))
    l1, u1 = mean_diff_ci(s, b, n_boot=n_boot, ci=ci, seed=seed)
    l2, u2 = mean_diff_ci(r, b, n_boot=n_boot, ci=ci, seed=seed)
    if t2 < 0:  # the same ratio with both differences negated, so that the denominator is positive
        t1, l1, u1, t2, l2, u2 = -t1, -u1, -l1, -t2, -u2, -l2
    if l2 <= 0:
        return (float("-inf"), float("inf"))
    rho = _difference_correlation(num, den, shares=are_shares(s, b, r))
    est = t1 / t2
    # 0 leaves the MOVER interval of t1 - c*t2 where (c*t2 - t1)^2 equals the combined squared half-width; for
    # c < 0 the denominator's interval flips, so each side is a quadratic on c < 0 and another on c >= 0
    ends = []
    for err1, errs2, direction in (((u1 - t1), (u2 - t2, t2 - l2), 1.0), ((t1 - l1), (t2 - l2, u2 - t2), -1.0)):
        found = None
        pieces = [(est, 0.0, errs2[0]), (max(est, 0.0), np.inf, errs2[1])] if direction > 0 else \
                 [(est, 0.0, errs2[1]), (min(est, 0.0), -np.inf, errs2[0])]
        for start, stop, err2 in pieces:
            if (stop - start) * direction < 0:
                continue
            qa, qb, qc = t2 ** 2 - err2 ** 2, -2 * t1 * t2 + 2 * rho * err1 * err2, t1 ** 2 - err1 ** 2
            found = _first_root(qa, qb, qc, start, stop)
            if found is not None:
                break
        ends.append(found if found is not None else direction * np.inf)
    return (float(ends[1]), float(ends[0]))


def _units(num: Sequence[float] | np.ndarray, den: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``num`` and ``den`` as 1-D arrays of one value per unit each (a ratio's units), or a typed error."""
    a, b = as_units(num, "num", ndim=1), as_units(den, "den", ndim=1)
    if a.shape != b.shape:
        raise InvalidConfigError(f"num and den need one value per unit each; got lengths {a.shape[0]} and"
                                 f" {b.shape[0]}.")
    return a, b


def bootstrap_ratio_ci(
    num: Sequence[float] | Float[np.ndarray, " n"],
    den: Sequence[float] | Float[np.ndarray, " n"],
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
    method: Method = "percentile",
) -> tuple[float, float]:
    """CI of the ratio of sums ``sum(num) / sum(den)`` (e.g. total NLL / total tokens), resampling units
    (pairs ``num[i], den[i]``) jointly, so the denominator's variance is included."""
    check_interval_params(n_boot, ci, method)
    a, b = _units(num, den)
    if np.any(b <= 0):
        raise InvalidConfigError("den must be positive for every unit (e.g. drop units with zero tokens).")
    if a.shape[0] < 2:
        log.warning("bootstrap_ratio_ci: one unit only; the interval is undefined (nan, nan).")
        return (float("nan"), float("nan"))
    if np.ptp(a / b) == 0:
        v = float(a.sum() / b.sum())
        return (v, v)

    def ratio(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
        return x.sum(axis=axis) / y.sum(axis=axis)

    res = sps.bootstrap(
        (a, b), ratio, paired=True, n_resamples=n_boot, confidence_level=ci, method=method,
        vectorized=True, axis=-1, batch=BOOTSTRAP_BATCH, rng=np.random.default_rng(seed),
    )
    return (float(res.confidence_interval.low), float(res.confidence_interval.high))


def signed_ratio_ci(
    num: Sequence[float] | Float[np.ndarray, " n"],
    den: Sequence[float] | Float[np.ndarray, " n"],
    *,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
    max_undefined: float | None = None,
) -> tuple[float, float]:
    """Percentile CI of ``sum(num) / sum(den)`` where units may have any sign (e.g. per-problem gains), resampling
    units jointly. A resample whose ``sum(den) <= 0`` has no ratio and is dropped; when more than ``max_undefined``
    of them are, the ratio is not estimable and the CI is (nan, nan). Hand-written because scipy's bootstrap cannot
    drop undefined resamples, and :func:`bootstrap_ratio_ci` needs every unit's denominator positive. The default
    ``max_undefined`` is one tail's share, ``(1 - ci) / 2``: dropping more could remove a whole tail of the interval."""
    check_interval_params(n_boot, ci, "percentile")
    max_undefined = (1 - ci) / 2 if max_undefined is None else max_undefined
    if not (isinstance(max_undefined, (int, float)) and 0.0 <= max_undefined <= 1.0):
        raise InvalidConfigError(f"max_undefined is the share of resamples that may be dropped, in [0, 1]; got"
                                 f" {max_undefined!r}.")
    a, b = _units(num, den)
    if len(a) < 2:
        return float("nan"), float("nan")
    idx = np.random.default_rng(seed).integers(0, len(a), size=(n_boot, len(a)))
    top, bottom = a[idx].sum(1), b[idx].sum(1)
    ok = bottom > 0
    if np.mean(~ok) > max_undefined:
        return float("nan"), float("nan")
    vals = top[ok] / bottom[ok]
    q = (1 - ci) / 2
    return float(np.quantile(vals, q)), float(np.quantile(vals, 1 - q))
