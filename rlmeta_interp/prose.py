"""Numbers into the sentences that notebooks, reports and verdicts write: one format for an estimate and its CI."""

from __future__ import annotations

import math


def _missing(x: float | None) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def fmt2(x: float | None, digits: int = 2) -> str:
    """A number with ``digits`` decimals (two by default); ``n/a`` for a missing or NaN one."""
    return "n/a" if _missing(x) else f"{float(x):.{digits}f}"


def fmt_ci(value: float | None, lo: float | None = None, hi: float | None = None, digits: int = 2) -> str:
    """``0.42 [0.31, 0.55]``; ``0.42`` without a CI (either bound missing or NaN); ``n/a`` for a missing value."""
    def f(x: float | None) -> str:
        return fmt2(x, digits)

    if _missing(lo) or _missing(hi):
        return f(value)
    return f"{f(value)} [{f(lo)}, {f(hi)}]"


def ci_side(lo: float, hi: float, at: float = 0.0) -> str:
    """Where a CI lies relative to ``at``: ``"above 0"``, ``"below 0"`` or ``"CI includes 0"``."""
    return f"above {at:g}" if lo > at else f"below {at:g}" if hi < at else f"CI includes {at:g}"


def share_text(k: int, n: int) -> str:
    """``k of n`` with the share and its exact (Clopper-Pearson) 95% interval; ``none built`` when ``n`` is 0."""
    from scipy.stats import binomtest

    if n == 0:
        return "none built"
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    return f"{k} of {n} (share {k / n:.2f}, exact 95% interval {ci.low:.2f} to {ci.high:.2f})"


def criteria_note(criteria: int) -> str:
    """The words a verdict of the project's bar carries when it was judged by the criteria that include the reading
    over base models (version 2 and later, ``analysis.validation.bar``); empty for version 1."""
    return " (over base models too)" if criteria >= 2 else ""
