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
