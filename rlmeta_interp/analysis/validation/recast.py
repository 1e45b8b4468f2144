"""Votes cast again under a new fit, from a committed pair table: which indicators' rules a fit moved (world by
world, since a fit may cut a statistic per world), their votes recast from the table's statistics where an
indicator votes from its statistic alone, else from its metrics on the pairs built here, and the vote rule's
reading of the rows that changed; and the check that a table's votes are those its rules give."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ...errors import CheckpointMismatchError
from ..indicators import REGISTRY, Estimate, revote
from ..indicators.core import INDICATORS, ScorecardConfig, ScorecardRules
from .fit import FittedRules, no_gain
from .measure import measure_committed

if TYPE_CHECKING:
    from ..scorecard import Scorecard

RERUN = "run `rlmeta-interp validate` on a built validation zoo, which measures and votes every pair again"


Rules = ScorecardRules | FittedRules  # one set of voting rules for every world, or a fit with per-world cuts


def rules_of(rules: Rules, world: Any) -> ScorecardRules:
    """The voting rules of pairs of ``world`` under ``rules``."""
    return rules.rules_for(world) if isinstance(rules, FittedRules) else rules


def recast_changed(table: pd.DataFrame, rules: Rules, voted_under: Rules, fresh: Mapping[str, Scorecard],
                   cfg: ScorecardConfig, *, out: str | Path | None, progress: bool,
                   measure: bool = True) -> dict[str, list[str]]:
    """Cast again, in place, the votes of every indicator whose rules differ between ``voted_under`` (the rules the
    table's votes were cast under) and ``rules`` (a new fit), world by world (a fit's rules differ between worlds
    where it has per-world cuts), and the vote rule's reading of the rows that changed; returns, per such
    indicator, the pairs of the table (other than ``fresh``) whose votes were cast again.

    An indicator that became descriptive votes ``n/a`` everywhere. A moved cut of an indicator that voted before and
    votes now, and whose module votes from its statistic alone (``vote_from_statistic``: no guard depends on the
    rules), is applied to the table's statistics and CIs; a row whose vote was ``n/a`` keeps it (a guard failed or
    there was no statistic). Any other change (a cut of another kind of indicator, one that starts voting) needs the
    indicator's metrics on every row that has its statistic or a vote: the scorecards in ``fresh`` (pairs measured
    in this call), else (with ``measure``) a measurement of the pair built here, which must be the model its row was
    measured on (:func:`same_weights`) and give the statistic its row holds. A rule key that belongs to no
    indicator's cut, or a row that cannot be measured here (or ``measure=False``), is refused: its votes would be
    stale."""
    recast: dict[str, set[str]] = {}
    touched: set[int] = set()
    for world in sorted(set(table["world"]), key=str):
        rows = table.index[table["world"] == world]
        done = _recast_rows(table, rows, rules_of(rules, world), rules_of(voted_under, world), fresh, cfg,
                            out=out, progress=progress, measure=measure)
        for name, pairs in done.items():
            recast.setdefault(name, set()).update(table.loc[pairs, "pair"])
            touched |= set(pairs)
    recast_vote_rule(table, sorted(touched))
    return {name: sorted(p for p in pairs if p not in fresh) for name, pairs in recast.items()}


def _recast_rows(table: pd.DataFrame, within: pd.Index, rules: ScorecardRules, voted_under: ScorecardRules,
                 fresh: Mapping[str, Scorecard], cfg: ScorecardConfig, *, out: str | Path | None, progress: bool,
                 measure: bool) -> dict[str, list[Any]]:
    """:func:`recast_changed` on the rows ``within`` (one world), all under ``rules``; returns, per indicator cast
    again, the row indices."""
    now, before = rules.to_dict(), voted_under.to_dict()
    changed = {k for k in set(now) | set(before) if now.get(k) != before.get(k)} - {"descriptive"}
    moved = set(set(now["descriptive"]) ^ set(before.get("descriptive", ())))
    owned: set[str] = set()
    for name in INDICATORS:
        keys = indicator_keys(name, voted_under) if REGISTRY[name].with_cut is not None else set()
        owned |= keys
        if keys & changed:
            moved.add(name)
    if changed - owned:
        raise CheckpointMismatchError(f"The new fit changes rules no indicator's cut sets ({sorted(changed - owned)}),"
                                      f" so the table's votes would be stale: {RERUN}.")
    done: dict[str, list[Any]] = {}
    for name in sorted(moved):
        part = table.loc[within]
        rows = part.index[part[name].notna() | (part[f"{name}_vote"] != "n/a")].tolist()
        if not rows:
            continue
        from_statistic = REGISTRY[name].vote_from_statistic
        if name in now["descriptive"]:
            table.loc[rows, f"{name}_vote"] = "n/a"
        elif from_statistic is not None and name not in before.get("descriptive", ()):
            for i in rows:
                if table.loc[i, f"{name}_vote"] != "n/a":
                    table.loc[i, f"{name}_vote"] = from_statistic(table_estimate(table, i, name), rules)
        else:
            need = [table.loc[i, "pair"] for i in rows if table.loc[i, "pair"] not in fresh]
            if need and not measure:
                raise CheckpointMismatchError(
                    f"The new fit changes {name!r}'s rules, whose votes need its metrics on {need[:5]}, which the"
                    f" table does not keep: {RERUN}.")
            cards = dict(fresh)
            cards |= {c.pair: c for c in measure_committed(need, cfg.replace(indicators=(name,)), out=out,
                                                              progress=progress)}
            for i in rows:
                result = cards[table.loc[i, "pair"]].results[name]
                if table.loc[i, "pair"] not in fresh and not _same_estimate(result.statistic, table_estimate(table, i, name)):
                    raise CheckpointMismatchError(
                        f"{table.loc[i, 'pair']}: {name} measured here gives {result.statistic}, its committed row"
                        f" {table_estimate(table, i, name)}; the measuring code or the model changed: {RERUN}.")
                table.loc[i, f"{name}_vote"] = revote(result, rules).vote
        done[name] = rows
    return done


def table_estimate(table: pd.DataFrame, i: Any, name: str) -> Estimate:
    """Indicator ``name``'s statistic with its CI in row ``i`` of a pair table."""
    return Estimate(*(table.loc[i, c] for c in (name, f"{name}_lo", f"{name}_hi")))


def _same_estimate(a: Estimate, b: Estimate) -> bool:
    """Equal values and CI ends (both unknown, or within 1e-6 relative): the same models measured with another
    thread count differ in the 7th-8th digit (float sums in another order)."""
    return all((x is None and y is None) or (x is not None and y is not None and math.isclose(x, y, rel_tol=1e-6,
                                                                                            abs_tol=1e-9))
               for x, y in ((a.value, b.value), (a.lo, b.lo), (a.hi, b.hi)))


def check_votes(table: pd.DataFrame, rules: Rules) -> None:
    """Refuse a pair table whose votes are not those ``rules`` give (each row under its world's rules): a descriptive
    indicator with a vote, a vote of an indicator that votes from its statistic alone that its statistic does not
    give, or a vote rule's reading that the votes do not give."""
    bad: list[str] = []
    for name in INDICATORS:
        votes = table[f"{name}_vote"]
        for i in table.index:
            here = rules_of(rules, table.loc[i, "world"])
            if votes[i] == "n/a":
                continue
            if name in here.descriptive:
                bad.append(f"{table.loc[i, 'pair']}: {name} is descriptive but votes")
            elif (REGISTRY[name].vote_from_statistic is not None
                  and REGISTRY[name].vote_from_statistic(table_estimate(table, i, name), here) != votes[i]):
                bad.append(f"{table.loc[i, 'pair']}: {name} votes {votes[i]}")
    for i in table.index:
        want = vote_rule_reading(table, i)
        if table.loc[i, "vote_summary"] != want:
            bad.append(f"{table.loc[i, 'pair']}: the vote rule reads {table.loc[i, 'vote_summary']}, its votes {want}")
    if bad:
        raise CheckpointMismatchError(f"Votes not cast under the fitted rules: {bad[:5]}: {RERUN}.")


def vote_rule_reading(table: pd.DataFrame, i: Any) -> str:
    """The vote rule's reading of row ``i`` from its vote columns, as :func:`pair_table` makes it (``no_signal``
    without a gain)."""
    from ..scorecard import summarize_votes

    if no_gain(table.loc[i, "gain"]):
        return "no_signal"
    return summarize_votes({n: table.loc[i, f"{n}_vote"] for n in INDICATORS})[0]


def recast_vote_rule(table: pd.DataFrame, index: Any) -> None:
    """Set, in place, the vote rule's reading (``vote_summary``) of the rows at ``index`` from their vote columns."""
    for i in index:
        table.loc[i, "vote_summary"] = vote_rule_reading(table, i)


def indicator_keys(name: str, rules: Any) -> set[str]:
    """The rule thresholds indicator ``name``'s fitted cut sets (the keys its ``with_cut`` changes)."""
    before = rules.to_dict()
    after = REGISTRY[name].with_cut(rules, 0.123456789).to_dict()
    return {k for k in before if before[k] != after[k]}
