"""Confidence intervals shared by every analysis module: bootstrap intervals, and score intervals for shares.

All resampling goes through :func:`scipy.stats.bootstrap` (percentile method by default, BCa on
request). The unit of resampling is always the independent unit of the experiment: problems for
pass@k, episodes for regret, samples for format shares. Curves are resampled jointly (one resample
of the units gives one whole curve), so a curve's band is a pointwise band of a joint resample.

Conventions:
- ``ci`` is the two-sided coverage (0.95 -> the 2.5% and 97.5% percentiles).
- Fewer than two units: the interval is undefined and returned as ``(nan, nan)`` (a warning is logged).
- Degenerate data (all units equal): a bootstrap interval collapses to the point ``(v, v)``. Shares of 0/1 outcomes
  therefore have score intervals as well (:func:`proportion_ci`, Wilson; :func:`paired_proportion_diff_ci`, Newcombe,
  for paired differences), which keep width there and are defined for a single unit; :func:`mean_ci` and
  :func:`mean_diff_ci` choose them for 0/1 data and the bootstrap otherwise. The share of a gap recovered, a ratio
  of two paired differences, gets its limits from those intervals (:mod:`rlmeta_interp.analysis.ratios`, with the
  other ratio intervals).
"""

from __future__ import annotations

import logging
import numbers
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
import pandas as pd
from jaxtyping import Float
from scipy import stats as sps

from ..errors import EmptyInputError, InvalidConfigError, NonFiniteError
from ..inputs import check_int, is_int

log = logging.getLogger(__name__)

Method = Literal["percentile", "basic", "BCa"]
_METHODS = ("percentile", "basic", "BCa")
# Resamples evaluated per vectorised call: bounds memory at batch * n_units * n_points floats.
BOOTSTRAP_BATCH = 200


def _check_coverage(ci: float) -> None:
    if not (isinstance(ci, numbers.Real) and not isinstance(ci, (bool, np.bool_)) and 0.0 < ci < 1.0):
        raise InvalidConfigError(f"ci must be a number in (0, 1), the two-sided coverage (e.g. 0.95); got {ci!r}.")


def check_interval_params(n_boot: int, ci: float, method: str) -> None:
    """A typed error unless ``n_boot`` is a positive integer, ``ci`` lies in (0, 1) and ``method`` is a bootstrap
    method."""
    if not is_int(n_boot) or n_boot < 1:
        raise InvalidConfigError(f"n_boot must be a positive integer (e.g. 1000), got {n_boot!r}.")
    _check_coverage(ci)
    if method not in _METHODS:
        raise InvalidConfigError(f"method={method!r} is not a bootstrap method; choose one of {list(_METHODS)}.")


def as_units(values: Sequence[float] | np.ndarray, name: str, ndim: int | None = None) -> np.ndarray:
    """``values`` (one per unit: problem, episode, sample) as a float64 array, or a typed error when it is empty,
    has another number of dimensions than ``ndim``, or holds NaN or inf."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0 or arr.shape[0] == 0:
        raise EmptyInputError(f"{name} is empty: pass at least one value (one per problem / episode / sample).")
    if ndim is not None and arr.ndim != ndim:
        raise InvalidConfigError(f"{name} must be a {ndim}-D array, got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise NonFiniteError(f"{name} holds NaN or inf ({int((~np.isfinite(arr)).sum())} entries): drop or fix them first.")
    return arr


def bootstrap_ci(
    values: Sequence[float] | Float[np.ndarray, " n"],
    stat: Callable[..., float] = np.mean,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
    method: Method = "percentile",
) -> tuple[float, float]:
    """Bootstrap CI ``(lo, hi)`` of ``stat(values)`` resampling the entries of ``values``.

    ``stat`` is any reducer accepting ``axis=`` (numpy reducers do); it is vectorised over resamples.
    """
    check_interval_params(n_boot, ci, method)
    arr = as_units(values, "values", ndim=1)
    if arr.shape[0] < 2:
        log.warning("bootstrap_ci: one value only; the interval is undefined (nan, nan).")
        return (float("nan"), float("nan"))
    if np.ptp(arr) == 0:
        v = float(stat(arr))
        return (v, v)
    res = sps.bootstrap(
        (arr,), stat, n_resamples=n_boot, confidence_level=ci, method=method,
        vectorized=True, axis=-1, batch=BOOTSTRAP_BATCH, rng=np.random.default_rng(seed),
    )
    return (float(res.confidence_interval.low), float(res.confidence_interval.high))


def bootstrap_ci_dropping_nan(units: Float[np.ndarray, " n"], stat: Callable[..., np.ndarray], n_boot: int = 1000,
                              ci: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """:func:`bootstrap_ci` of ``stat`` over ``units`` (row indices), for statistics that are undefined on some
    resamples (a resample can lose a class, or a whole column's variance): those resamples take the median of the
    finite ones, since scipy's percentile interval cannot skip NaN."""

    def safe(idx: np.ndarray, axis: int = -1) -> np.ndarray:
        out = np.asarray(stat(idx, axis=axis), dtype=np.float64)
        if np.ndim(out) == 0:
            return out
        finite = np.isfinite(out)
        if not finite.all() and finite.any():
            out = np.where(finite, out, np.median(out[finite]))
        return out

    return bootstrap_ci(units, stat=safe, n_boot=n_boot, ci=ci, seed=seed)


def fold_scale(train: Float[np.ndarray, "n d"]) -> tuple[Float[np.ndarray, " d"], Float[np.ndarray, " d"]]:
    """Column means and standard deviations of a training fold (a constant column's deviation is 1), to standardise
    that fold and the rows it is scored on with the fold's own statistics."""
    sd = train.std(0)
    return train.mean(0), np.where(sd > 0, sd, 1.0)


def bootstrap_curve_ci(
    values: Float[np.ndarray, "units points"],
    stat: Callable[..., np.ndarray] = np.mean,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
    method: Method = "percentile",
) -> tuple[Float[np.ndarray, " points"], Float[np.ndarray, " points"]]:
    """Pointwise CI of a curve ``stat(values, axis=0)`` resampling rows (units, e.g. problems) jointly.

    ``values[i, j]`` is unit ``i``'s value at curve point ``j`` (e.g. problem ``i``'s pass@k at k=ks[j]).
    Returns ``(lo, hi)``, each of length ``points``; points where every unit agrees get ``lo == hi``.
    """
    check_interval_params(n_boot, ci, method)
    arr = as_units(values, "values", ndim=2)
    n_units, n_points = arr.shape
    if n_units < 2:
        log.warning("bootstrap_curve_ci: one unit only; the band is undefined (nan).")
        nan = np.full(n_points, np.nan)
        return nan, nan.copy()
    point = np.asarray(stat(arr, axis=0), dtype=np.float64)
    lo, hi = point.copy(), point.copy()
    varying = np.ptp(arr, axis=0) > 0
    if varying.any():
        sub = arr[:, varying]
        res = sps.bootstrap(
            (sub,), stat, n_resamples=n_boot, confidence_level=ci, method=method,
            vectorized=True, axis=0, batch=BOOTSTRAP_BATCH, rng=np.random.default_rng(seed),
        )
        lo[varying] = res.confidence_interval.low
        hi[varying] = res.confidence_interval.high
    return lo, hi


def are_shares(*arrays: np.ndarray) -> bool:
    """Whether every value of ``arrays`` is 0 or 1 (outcomes whose shares get score intervals here)."""
    return all(np.isin(a, (0.0, 1.0)).all() for a in arrays)


def proportion_ci(values: Sequence[float] | Float[np.ndarray, " n"], ci: float = 0.95) -> tuple[float, float]:
    """Wilson score interval ``(lo, hi)`` of the share of 1s among 0/1 ``values`` (scipy's ``binomtest``).

    Unlike a bootstrap, it has width when every value is the same (0 of 256 is not "exactly 0"), and it stays inside
    [0, 1]. Values other than 0 and 1 raise :class:`InvalidConfigError` (use :func:`bootstrap_ci` for those)."""
    from scipy.stats import binomtest

    _check_coverage(ci)
    arr = as_units(values, "values", ndim=1)
    if not are_shares(arr):
        raise InvalidConfigError("proportion_ci takes 0/1 values (a share); use bootstrap_ci for other values.")
    iv = binomtest(int(arr.sum()), int(arr.size)).proportion_ci(confidence_level=ci, method="wilson")
    return (float(iv.low), float(iv.high))


#: how :func:`mean_ci` and :func:`mean_diff_ci` make 95% intervals over problems, in words for captions and notebooks
MEAN_CI_WORDS = ("95% CIs over problems (a bootstrap; where every problem's value is 0 or 1, as pass@n's solved or not"
                 " is, Wilson's score interval, and Newcombe's paired one for a difference)")


def mean_ci(values: Sequence[float] | Float[np.ndarray, " n"], n_boot: int = 1000, ci: float = 0.95,
            seed: int = 0) -> tuple[float, float]:
    """CI of ``mean(values)`` over units: :func:`proportion_ci` (Wilson) when they are 0/1 outcomes, whose bootstrap
    interval has no width when all are equal, else :func:`bootstrap_ci`."""
    check_interval_params(n_boot, ci, "percentile")
    arr = as_units(values, "values", ndim=1)
    if are_shares(arr):
        return proportion_ci(arr, ci=ci)
    return bootstrap_ci(arr, n_boot=n_boot, ci=ci, seed=seed)


def paired_diff_ci(
    a: Sequence[float] | Float[np.ndarray, " n"],
    b: Sequence[float] | Float[np.ndarray, " n"],
    stat: Callable[..., float] = np.mean,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
    method: Method = "percentile",
) -> tuple[float, float]:
    """CI of ``stat(a) - stat(b)`` where ``a[i]`` and ``b[i]`` belong to the same unit (paired resampling)."""
    check_interval_params(n_boot, ci, method)
    a_arr = as_units(a, "a", ndim=1)
    b_arr = as_units(b, "b", ndim=1)
    if a_arr.shape != b_arr.shape:
        raise InvalidConfigError(
            f"Paired samples must have equal length (one value per unit in each), got {a_arr.shape[0]} and {b_arr.shape[0]}."
        )
    if a_arr.shape[0] < 2:
        log.warning("paired_diff_ci: one unit only; the interval is undefined (nan, nan).")
        return (float("nan"), float("nan"))
    if np.ptp(a_arr) == 0 and np.ptp(b_arr) == 0:
        v = float(stat(a_arr) - stat(b_arr))
        return (v, v)

    def diff(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
        return stat(x, axis=axis) - stat(y, axis=axis)

    res = sps.bootstrap(
        (a_arr, b_arr), diff, paired=True, n_resamples=n_boot, confidence_level=ci, method=method,
        vectorized=True, axis=-1, batch=BOOTSTRAP_BATCH, rng=np.random.default_rng(seed),
    )
    return (float(res.confidence_interval.low), float(res.confidence_interval.high))


def paired_gain_p(a: Sequence[float] | Float[np.ndarray, " n"], b: Sequence[float] | Float[np.ndarray, " n"],
                  n_resamples: int = 4000, seed: int = 0) -> float:
    """One-sided p-value that ``mean(a) > mean(b)``, where ``a[i]`` and ``b[i]`` belong to the same unit: a paired
    sign-flip permutation test (scipy's ``permutation_test`` on the differences). Units with no difference carry no
    sign, so the test runs on the others, exactly where there are at most ``log2(n_resamples)`` of them; 5 units
    gained and none lost read p = 1/32 however many are unchanged. A paired percentile bootstrap is narrow there: for
    5 gains of 1 among 64 units its 98.3% interval is about [0.016, 0.17], above 0 at a level the test does not
    reach (p = 1/32 > 0.0083), hence this as a second reading. 1.0 when no unit differs."""
    a_arr, b_arr = as_units(a, "a", ndim=1), as_units(b, "b", ndim=1)
    if a_arr.shape != b_arr.shape:
        raise InvalidConfigError(f"Paired samples must have equal length, got {a_arr.shape[0]} and {b_arr.shape[0]}.")
    check_int(n_resamples, "n_resamples", lo=1)
    d = (a_arr - b_arr)[a_arr != b_arr]
    if d.size == 0:
        return 1.0
    if d.size == 1:  # scipy needs two values; one unit's sign is up or down with probability 1/2 each
        return 0.5 if d[0] > 0 else 1.0
    res = sps.permutation_test((d,), lambda x, axis=-1: x.sum(axis=axis), permutation_type="samples",
                               alternative="greater", n_resamples=n_resamples, vectorized=True,
                               batch=BOOTSTRAP_BATCH, rng=np.random.default_rng(seed))
    return float(res.pvalue)


def paired_proportion_diff_ci(a: Sequence[float] | Float[np.ndarray, " n"], b: Sequence[float] | Float[np.ndarray, " n"],
                              ci: float = 0.95) -> tuple[float, float]:
    """Newcombe's hybrid score interval ``(lo, hi)`` for ``mean(a) - mean(b)``, where ``a[i]`` and ``b[i]`` are 0/1
    outcomes of the same unit (Newcombe 1998, Stat Med 17:2635, method 10: each share's Wilson interval, combined
    with the continuity-corrected correlation of the pairs).

    Unlike a paired bootstrap, it has width when every pair differs the same way (0 of 256 against 256 of 256 is not
    "exactly +1") and it stays inside [-1, 1]. Written here because neither scipy nor statsmodels has an interval
    for the difference of two paired proportions. Values other than 0 and 1 raise :class:`InvalidConfigError` (use
    :func:`paired_diff_ci` for those)."""
    a_arr, b_arr = as_units(a, "a", ndim=1), as_units(b, "b", ndim=1)
    if a_arr.shape != b_arr.shape:
        raise InvalidConfigError(f"Paired samples must have equal length (one value per unit in each), got"
                                 f" {a_arr.shape[0]} and {b_arr.shape[0]}.")
    if not are_shares(a_arr, b_arr):
        raise InvalidConfigError("paired_proportion_diff_ci takes 0/1 values (shares); use paired_diff_ci for others.")
    n = a_arr.size
    both, only_a = int(np.sum((a_arr == 1) & (b_arr == 1))), int(np.sum((a_arr == 1) & (b_arr == 0)))
    only_b = int(np.sum((a_arr == 0) & (b_arr == 1)))
    neither = n - both - only_a - only_b
    p1, p2 = (both + only_a) / n, (both + only_b) / n
    l1, u1 = proportion_ci(a_arr, ci=ci)
    l2, u2 = proportion_ci(b_arr, ci=ci)
    margins = (both + only_a) * (only_b + neither) * (both + only_b) * (only_a + neither)
    cross = both * neither - only_a * only_b
    # the correlation of the pairs, continuity-corrected towards 0 (0 where a margin is empty)
    corrected = cross - n / 2 if cross > n / 2 else (cross if cross < 0 else 0.0)
    phi = corrected / np.sqrt(margins) if margins > 0 else 0.0
    lo = p1 - p2 - np.sqrt(max((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2, 0.0))
    hi = p1 - p2 + np.sqrt(max((u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2, 0.0))
    return (float(max(lo, -1.0)), float(min(hi, 1.0)))


def mean_diff_ci(a: Sequence[float] | Float[np.ndarray, " n"], b: Sequence[float] | Float[np.ndarray, " n"],
                 n_boot: int = 1000, ci: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """CI of ``mean(a) - mean(b)`` over paired units: :func:`paired_proportion_diff_ci` when both hold only 0/1
    outcomes, else :func:`paired_diff_ci` (a paired bootstrap)."""
    check_interval_params(n_boot, ci, "percentile")
    a_arr, b_arr = as_units(a, "a", ndim=1), as_units(b, "b", ndim=1)
    if are_shares(a_arr, b_arr):
        return paired_proportion_diff_ci(a_arr, b_arr, ci=ci)
    return paired_diff_ci(a_arr, b_arr, n_boot=n_boot, ci=ci, seed=seed)


def bootstrap_pooled_ci(
    counts: Float[np.ndarray, "units categories"],
    stat: Callable[[np.ndarray], np.ndarray],
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile CI of ``stat(pooled)`` where ``pooled = counts.sum(0)`` and units (rows) are resampled.

    For statistics of pooled category counts that are not means of per-unit values (entropy of an
    n-gram distribution, a share of formats). ``stat`` maps ``[n_boot, categories]`` pooled counts to
    ``[n_boot]``. Hand-written because scipy.stats.bootstrap resamples 1-D samples and cannot pool a
    [units, categories] table per resample; a resample is drawn as multinomial unit weights, so the
    pooled counts of all resamples are one matrix product.
    """
    check_interval_params(n_boot, ci, "percentile")
    arr = as_units(counts, "counts", ndim=2)
    n_units = arr.shape[0]
    if n_units < 2:
        log.warning("bootstrap_pooled_ci: one unit only; the interval is undefined (nan, nan).")
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(n_units, np.full(n_units, 1.0 / n_units), size=n_boot).astype(np.float64)
    values = np.asarray(stat(weights @ arr), dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return (float("nan"), float("nan"))
    a = (1.0 - ci) / 2.0
    return (float(np.quantile(values, a)), float(np.quantile(values, 1.0 - a)))


def summarize(
    values: Sequence[float] | Float[np.ndarray, " n"],
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
    **labels: object,
) -> dict[str, object]:
    """One tidy row: ``labels..., mean, ci_lo, ci_hi, n`` (bootstrap CI of the mean)."""
    arr = as_units(values, "values", ndim=1)
    lo, hi = bootstrap_ci(arr, n_boot=n_boot, ci=ci, seed=seed)
    return {**labels, "mean": float(arr.mean()), "ci_lo": lo, "ci_hi": hi, "n": int(arr.shape[0])}


def summarize_groups(
    groups: dict[str, Sequence[float] | np.ndarray],
    key: str = "group",
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """DataFrame with one :func:`summarize` row per named group (columns ``key, mean, ci_lo, ci_hi, n``)."""
    if not groups:
        raise EmptyInputError("No groups given: pass a dict of name -> values.")
    return pd.DataFrame([summarize(v, n_boot=n_boot, ci=ci, seed=seed, **{key: name}) for name, v in groups.items()])


def linear_cka(x: Float[np.ndarray, "n d"], y: Float[np.ndarray, "n e"]) -> float:
    """Linear centred kernel alignment (Kornblith et al. 2019) between two representations of the same ``n`` rows:
    1 for representations equal up to rotation and isotropic scaling, near 0 for unrelated ones. Written out
    (five lines of linear algebra) because no installed library exposes it for plain arrays."""
    a, b = as_units(x, "x", ndim=2), as_units(y, "y", ndim=2)
    if a.shape[0] != b.shape[0] or a.shape[0] < 2:
        raise InvalidConfigError(f"linear_cka needs the same rows (>= 2) in both, got {a.shape[0]} and {b.shape[0]}.")
    a = a - a.mean(0)
    b = b - b.mean(0)
    cross = np.linalg.norm(a.T @ b) ** 2
    denom = np.linalg.norm(a.T @ a) * np.linalg.norm(b.T @ b)
    return float(cross / denom) if denom > 0 else float("nan")
