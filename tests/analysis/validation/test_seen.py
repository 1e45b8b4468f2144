"""Readings that were seen: which pairs a table's history measured, and which held-out readings a call that
measures pairs again would replace."""

from __future__ import annotations

import pandas as pd
import pytest

from rlmeta_interp.analysis.validation import seen


def _rows(**stat):
    """A per-pair table of three held-out pairs, with ``p1`` overriding pair p1's likelihood statistic."""
    return pd.DataFrame({"pair": ["p0", "p1", "p2"], "split": "test", "vote_summary": ["creation", "activation", "n/a"],
                         "likelihood": [0.5, stat.get("p1", 0.25), float("nan")], "n_runs": [3, 3, 3],
                         "gain": [True, True, None]})


def test_a_pair_measured_again_counts_as_remeasured_only_when_its_row_reads_otherwise():
    before = _rows()
    assert seen.remeasured(before, _rows(), ["p0", "p1", "p2"]) == {}  # the same rows; an empty cell stays empty
    assert seen.remeasured(before, _rows(p1=0.25 * (1 + 1e-8)), ["p1"]) == {}  # another thread count's last digits
    # stored values against freshly built ones: ints and floats, True and None, a shorter table
    fresh = _rows().astype({"n_runs": float}).iloc[:2]
    fresh["gain"] = [True, True]
    assert seen.remeasured(before, fresh, ["p0", "p1", "p2"]) == {}
    moved = _rows(p1=0.3)
    want = {"p1": {"read_before": "activation", "read_after": "activation", "columns": ["likelihood"]}}
    assert seen.remeasured(before, moved, ["p0", "p1", "p2"]) == want
    assert seen.remeasured(before, moved, ["p0"]) == {}  # only the pairs asked about
    flipped = moved.assign(vote_summary=["creation", "creation", "n/a"])
    assert seen.remeasured(before, flipped, ["p1"])["p1"]["read_after"] == "creation"
    # a column the earlier table lacks (an indicator measured since) is no reading that was seen; a new pair neither
    wider = pd.concat([_rows().assign(reliance=1.0), pd.DataFrame({"pair": ["p9"], "split": ["test"]})])
    assert seen.remeasured(before, wider, ["p0", "p1", "p2", "p9"]) == {}
    # a value that went missing (an indicator skipped) is a difference
    assert seen.remeasured(before, _rows().assign(likelihood=[0.5, float("nan"), float("nan")]),
                           ["p1"])["p1"]["columns"] == ["likelihood"]
    assert seen.remeasured(before, pd.DataFrame(), ["p0"]) == {}  # a call that measured no held-out pair
    # noise near 0 is judged against the column's magnitude, not against 0
    near = _rows().assign(likelihood=[0.5, 1e-9, float("nan")])
    assert seen.remeasured(near, near.assign(likelihood=[0.5, 3e-8, float("nan")]), ["p1"]) == {}
    assert seen.remeasured(near, near.assign(likelihood=[0.5, 1e-3, float("nan")]), ["p1"])
    # only the columns asked about: a statistic no reading rests on may move
    assert seen.remeasured(before, moved, ["p1"], columns=["vote_summary", "gain"]) == {}
    with pytest.raises(ValueError, match="p0.*twice"):
        seen.remeasured(pd.concat([before, before.iloc[:1]]), before, ["p0"])


def test_measured_before_collects_every_pair_a_table_or_its_history_has_seen():
    summary = {"pairs": {"test": ["t0"], "calibration": ["c0"]},
               "run": {"added": [{"pairs": ["t1"], "new_pairs": ["t1"]}, {"pairs": [], "test_in_view": ["t2"]},
                                 {"pairs": ["t3"], "judged_before": {"pairs": ["t4"]}}]}}
    assert seen.measured_before(summary) == {"t0", "c0", "t1", "t2", "t3", "t4"}
    assert seen.measured_before({}) == set()
    assert seen.replaced_text({"b": {"columns": ["x", "y"]}, "a": {"columns": None}}) == \
        "a (no row to compare); b (x, y)"


def test_a_reading_rests_on_the_gain_check_the_votes_and_the_summary_inputs():
    from rlmeta_interp.analysis.scorecard import ScorecardRules
    from rlmeta_interp.analysis.validation.fit import FittedRules

    cols = seen.reading_columns(FittedRules(rules=ScorecardRules(), indicators=(), inputs=("likelihood",)))
    assert {"gain", "vote_summary", "likelihood_vote", "likelihood"} <= set(cols)
    assert "likelihood_lo" not in cols and not any(":" in c for c in cols)  # CIs and candidates change no reading
