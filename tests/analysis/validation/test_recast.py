"""Votes cast again under a new fit, from the committed pair table, and the check that a table's votes are those
its rules give."""

from __future__ import annotations

import pandas as pd
import pytest

from rlmeta_interp.analysis.validation.committed import committed_table
from rlmeta_interp.analysis.validation.fit import FittedRules
from rlmeta_interp.analysis.validation.recast import check_votes, recast_changed
from rlmeta_interp.errors import CheckpointMismatchError
from rlmeta_interp.paths import REPO_ROOT

FIGURES = REPO_ROOT / "figures"


def from_statistic(table, name, fitted):
    """Indicator ``name``'s votes from the table's statistics, each row under its world's rules of ``fitted``."""
    from rlmeta_interp.analysis.indicators import REGISTRY, Estimate

    return [REGISTRY[name].vote_from_statistic(Estimate(*(r[c] for c in (name, f"{name}_lo", f"{name}_hi"))),
                                               fitted.rules_for(r["world"]))
            if r[f"{name}_vote"] != "n/a" else "n/a" for _, r in table.iterrows()]


def _with_cut_everywhere(fitted, name, cut):
    """``fitted`` with indicator ``name``'s cut at ``cut`` in the pooled rules and in every world."""
    from dataclasses import replace

    from rlmeta_interp.analysis.indicators import REGISTRY

    return replace(fitted, rules=REGISTRY[name].with_cut(fitted.rules, cut),
                   world_cuts={w: {**c, name: cut} for w, c in fitted.world_cuts.items()})


def test_votes_cast_from_the_statistic_alone_are_the_committed_votes():
    """For the indicators that vote from their statistic alone, the committed table's statistics and CIs give back
    every committed vote under the committed rules: the table can be voted again under a moved cut."""
    from rlmeta_interp.analysis.indicators import REGISTRY

    summary, table = committed_table(FIGURES)
    rules = FittedRules.from_dict(summary["fitted"])
    names = [n for n, m in REGISTRY.items() if m.vote_from_statistic is not None and n not in rules.rules.descriptive]
    assert {"likelihood", "elicitation"} <= set(names)
    for name in names:
        assert (table[f"{name}_vote"] != "n/a").any(), name
        assert from_statistic(table, name, rules) == table[f"{name}_vote"].tolist(), name


def test_a_moved_cut_is_applied_to_the_committed_table_without_measuring(tmp_path, monkeypatch):
    """A fit that moves elicitation's cut casts its votes again from the table (no model is built here: a
    measurement would be refused), and the vote rule's reading of the rows whose votes it cast."""
    from rlmeta_interp.analysis.indicators.core import INDICATORS
    from rlmeta_interp.analysis.scorecard import ScorecardConfig, summarize_votes
    from rlmeta_interp.analysis.validation.fit import no_gain

    monkeypatch.setenv("RLMETA_HOME", str(tmp_path / "empty-home"))
    summary, table = committed_table(FIGURES)
    before = FittedRules.from_dict(summary["fitted"])
    values = table["elicitation"].dropna()
    cut = float(values.median())
    after = _with_cut_everywhere(before, "elicitation", cut)
    cfg = ScorecardConfig.from_dict(summary["run"]["scorecard_config"])
    new = table.copy()
    recast = recast_changed(new, after, before, {}, cfg, out=tmp_path / "cards", progress=False)
    assert list(recast) == ["elicitation"] and not (tmp_path / "cards").exists()
    assert new["elicitation_vote"].tolist() == from_statistic(table, "elicitation", after)
    assert new["elicitation_vote"].tolist() != table["elicitation_vote"].tolist()
    for i in new.index:
        want = ("no_signal" if no_gain(new.loc[i, "gain"])
                else summarize_votes({n: new.loc[i, f"{n}_vote"] for n in INDICATORS})[0])
        assert new.loc[i, "vote_summary"] == want, new.loc[i, "pair"]
    untouched = [c for c in table.columns if c not in ("elicitation_vote", "vote_summary")]
    pd.testing.assert_frame_equal(new[untouched], table[untouched])
    check_votes(new, after)
    with pytest.raises(CheckpointMismatchError, match="Votes not cast under the fitted rules"):
        check_votes(table, after)  # the committed votes were cast under the earlier cut


def test_check_votes_refuses_a_table_whose_votes_the_rules_do_not_give():
    summary, table = committed_table(FIGURES)
    rules = FittedRules.from_dict(summary["fitted"])
    check_votes(table, rules)
    for column, value in (("directions_vote", "creation"), ("vote_summary", "mixed")):
        bad = table.copy()
        bad.loc[bad.index[0], column] = value
        with pytest.raises(CheckpointMismatchError, match="Votes not cast under the fitted rules"):
            check_votes(bad, rules)


def test_a_cut_moved_in_one_world_recasts_that_worlds_votes_only(tmp_path, monkeypatch):
    """Per-world rules: elicitation's arithmetic cut moved above every arithmetic pair; the arithmetic votes are cast
    again under it and the bandit votes, under an unchanged bandit cut, stay as they were."""
    from dataclasses import replace

    from rlmeta_interp.analysis.scorecard import ScorecardConfig

    monkeypatch.setenv("RLMETA_HOME", str(tmp_path / "empty-home"))
    summary, table = committed_table(FIGURES)
    before = FittedRules.from_dict(summary["fitted"])
    assert "elicitation" in before.world_cuts["arithmetic"]
    high = float(table.loc[table["world"] == "arithmetic", "elicitation"].max()) + 1.0
    after = replace(before, world_cuts={**before.world_cuts,
                                        "arithmetic": {**before.world_cuts["arithmetic"], "elicitation": high}})
    cfg = ScorecardConfig.from_dict(summary["run"]["scorecard_config"])
    new = table.copy()
    recast = recast_changed(new, after, before, {}, cfg, out=tmp_path / "cards", progress=False)
    arith = table["world"] == "arithmetic"
    assert set(recast["elicitation"]) == set(table.loc[arith & (table["elicitation_vote"] != "n/a"), "pair"])
    assert set(new.loc[arith & (new["elicitation_vote"] != "n/a"), "elicitation_vote"]) <= {"activation",
                                                                                           "inconclusive"}
    assert new.loc[~arith, "elicitation_vote"].tolist() == table.loc[~arith, "elicitation_vote"].tolist()
    check_votes(new, after)

