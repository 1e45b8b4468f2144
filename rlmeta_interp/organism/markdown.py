"""Markdown for the generated sections of data/README.md: a table from rows of dicts, and numbers that may be
missing. Hand-written because pandas' ``to_markdown`` needs tabulate, which nothing else here does."""

from __future__ import annotations

import math
from typing import Any


def markdown_rows(rows: list[dict[str, Any]], empty: str) -> str:
    """``rows`` as a Markdown table whose columns are every key in order of first appearance; ``empty`` if none."""
    if not rows:
        return empty + "\n"
    cols: list[str] = []
    for r in rows:
        cols += [c for c in r if c not in cols]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def fmt_num(x: Any, fmt: str) -> str:
    """``x`` formatted by ``fmt``, or "n/a" when it is missing or NaN."""
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else fmt.format(float(x))
