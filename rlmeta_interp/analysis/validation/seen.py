"""Readings that were seen: which pairs a validation table's history has measured, and whether a call that
measures held-out pairs again would replace a reading seen before with another. Inside a test a seen reading is
never swapped: ``validate --add`` and ``--add-indicator`` refuse such a call, and a full run records it as ending
every test (:func:`~.bar.ending`)."""

from __future__ import annotations

import io
import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ...errors import CheckpointMismatchError, InvalidConfigError
from ..indicators.core import INDICATORS
from .bar import add_records, tested_pairs
from .fit import FittedRules, pair_table


def reading_columns(fitted: FittedRules) -> list[str]:
    """The columns of a per-pair table that a pair's reading rests on under ``fitted``: the gain check, the vote
    rule's reading (``vote_summary``), every indicator's vote and the statistics the fitted summary reads. Other
    statistics, their CIs and candidate readings change no reading, so measuring them afresh replaces nothing."""
    return ["gain", "vote_summary", *[f"{n}_vote" for n in INDICATORS], *fitted.inputs]


def remeasured(before: pd.DataFrame, after: pd.DataFrame, pairs: Iterable[str],
               columns: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
    """The ``pairs`` whose rows in the per-pair table ``before`` differ from their rows in ``after``, compared as
    the table is stored (a CSV round trip), over ``columns`` (default: all) that both hold, a number equal to 1e-6
    of the column's largest stored magnitude (so that noise on a statistic near 0 is not a difference): for each,
    the vote rule's reading (``vote_summary``) before and after and the columns that differ. Both tables must be
    voted under one fit, so that only measurements can differ. Such a pair was measured again and no longer reads
    as it did when it was seen: replacing its row inside a test would let the test be re-read until it passes. The
    same models measured again by the same code beside the same pairs (a pair's random-reward control and reference
    base come from the pairs measured with it) give the same row; a cell left empty now, or filled now, differs."""
    if before.empty or after.empty:  # no pair in both (and an empty table has no columns to read back)
        return {}

    def stored(table: pd.DataFrame) -> pd.DataFrame:
        out = pd.read_csv(io.StringIO(table.to_csv(index=False)), keep_default_na=False, na_values=[""])
        if out["pair"].duplicated().any():
            raise InvalidConfigError(f"A per-pair table names {sorted(set(out.loc[out['pair'].duplicated(), 'pair']))}"
                                     " twice: it holds one row per pair; write it again with a full `validate` run.")
        return out.set_index("pair")

    old, new = stored(before), stored(after)
    cols = [c for c in old.columns if c in new.columns and (columns is None or c in set(columns))]
    scale = {c: float(pd.to_numeric(old[c], errors="coerce").abs().max()) for c in cols}

    def cell(t: pd.DataFrame, p: str, c: str) -> Any:
        v = t.at[p, c]
        return None if v != v else v

    def same(a: Any, b: Any, c: str) -> bool:
        if a is None or b is None:
            return a is None and b is None
        if isinstance(a, numbers.Real) and isinstance(b, numbers.Real) and not isinstance(a, bool | np.bool_) \
                and not isinstance(b, bool | np.bool_):
            tol = 1e-6 * (scale[c] if scale[c] == scale[c] else 0.0)
            return math.isclose(a, b, rel_tol=1e-6, abs_tol=tol)
        return a == b

    out: dict[str, dict[str, Any]] = {}
    for p in dict.fromkeys(pairs):
        if p in old.index and p in new.index:
            changed = [c for c in cols if not same(cell(old, p, c), cell(new, p, c), c)]
            if changed:
                out[p] = {"read_before": cell(old, p, "vote_summary") if "vote_summary" in cols else None,
                          "read_after": cell(new, p, "vote_summary") if "vote_summary" in cols else None,
                          "columns": changed}
    return out


def measured_before(summary: dict[str, Any]) -> set[str]:
    """Every pair the table ``summary`` holds or that a call in its history measured, had in view, judged or
    dropped (a full run without it): a pair whose reading may have been seen, even if its row is gone since."""
    pairs = summary.get("pairs") or {}
    seen = {*(pairs.get("test") or []), *(pairs.get("calibration") or [])}
    for a in add_records(summary.get("run") or {}):
        seen |= {*a.get("pairs", ()), *a.get("new_pairs", ()), *a.get("test_in_view", ()), *a.get("dropped", ()),
                 *(a.get("judged_before") or {}).get("pairs", ())}
    return seen


def replaced_text(again: Mapping[str, Mapping[str, Any]]) -> str:
    """``pair (columns)`` for each pair of :func:`remeasured` (or ``pair (no row to compare)``)."""
    return "; ".join(f"{p} ({', '.join(r.get('columns') or ['no row to compare'])})" for p, r in sorted(again.items()))


def replaced_readings(summary: dict[str, Any], stored: pd.DataFrame | None, cards: Sequence[Any],
                      failed: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The held-out readings of the table ``summary`` (per-pair rows ``stored``) that a call measuring ``cards``
    (``failed``: pairs it found without a passed gain check) would replace inside the test the bar is judged on
    (:func:`~.bar.tested_pairs`): its pairs whose rows, voted under the table's fit, read otherwise
    (:func:`remeasured`) or that now fail their gain check, and held-out pairs an earlier call measured whose row
    is gone and that would count in that test if added now (nothing to compare with: they may have been in it).
    Pairs outside that test (seen when the fit or a reading last changed, or in a judged test, whose record keeps
    its readings) count towards no bar, so measuring them again, for example to fill an indicator added since,
    replaces nothing that is tested (it does change the pooled figures, which are no test)."""
    if stored is None or not summary.get("fitted"):
        return {}
    voted_under = FittedRules.from_dict(summary["fitted"])
    live = set(tested_pairs(summary))
    held_out = [c for c in cards if c.split == "test"]
    again = remeasured(stored, pair_table([c.revoted(voted_under.rules_for(c.world)) for c in held_out]),
                       [c.pair for c in held_out if c.pair in live], reading_columns(voted_under))
    rows = set(stored["pair"])
    seen = measured_before(summary)
    again.update({c.pair: {"columns": ["no row to compare"]} for c in held_out
                  if c.pair not in rows and c.pair in seen and _would_be_tested(summary, c.pair)})
    again.update({p: {"columns": ["gain check now failed"]} for p in failed if p in live})
    return again


def _would_be_tested(summary: dict[str, Any], pair: str) -> bool:
    """Whether held-out ``pair``, added to the table ``summary`` now, would count in the test the bar is judged on
    (:func:`~.bar.tested_pairs` of the table with a record adding it)."""
    run, pairs = summary.get("run") or {}, summary.get("pairs") or {}
    trial = {**summary, "pairs": {**pairs, "test": [*(pairs.get("test") or []), pair]},
             "run": {**run, "added": [*add_records(run), {"pairs": [pair], "new_pairs": [pair]}]}}
    return pair in tested_pairs(trial)


def refuse_replaced(call: str, again: Mapping[str, Mapping[str, Any]]) -> None:
    """Raise, naming the pairs and columns, when ``call`` (``validate --add`` or ``--add-indicator NAME``) would
    replace readings of the live test (``again``, :func:`replaced_readings` or :func:`remeasured`); nothing was
    written then."""
    if again:
        raise CheckpointMismatchError(
            f"{call} measured held-out pairs again that no longer read as the readings seen before:"
            f" {replaced_text(again)}. A reading that was seen is not replaced inside a test. A pair measured again"
            " reads the same only beside the pairs it was first measured with (its random-reward control and"
            " reference base come from them): add it with them; if the measuring code or the gain check changed, or"
            " a pair's row was lost, run a full `validate`, which records the change and ends every test. Nothing"
            " was written.")
