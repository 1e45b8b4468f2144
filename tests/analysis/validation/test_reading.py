"""The committed validation table as other code reads it: the rules it fitted for a world, and a pair's reading."""

from __future__ import annotations

import json

import pytest

from rlmeta_interp.analysis.validation import bar
from rlmeta_interp.analysis.validation import reading as vrd
from rlmeta_interp.analysis.validation.fit import FittedRules
from rlmeta_interp.paths import REPO_ROOT

FIGURES = REPO_ROOT / "figures"


def test_the_rules_of_a_world_carry_its_own_cuts_and_the_world_must_be_named():
    summary = vrd.committed_summary(FIGURES)
    fitted = FittedRules.from_dict(summary["fitted"])
    assert fitted.world_cuts, "the committed fit has per-world cuts"
    for world, cuts in fitted.world_cuts.items():
        rules = vrd.fitted_rules(FIGURES, world=world)
        assert rules.to_dict() | {"descriptive": None} == fitted.rules_for(world).to_dict() | {"descriptive": None}
        if "elicitation" in cuts:
            assert rules.unrecovered_creation_min == cuts["elicitation"]
    pooled = vrd.fitted_rules(FIGURES, world=None)
    assert pooled.unrecovered_creation_min == {f.name: f.cut for f in fitted.indicators}["elicitation"]
    assert vrd.fitted_rules(FIGURES, world="planning") == pooled  # a world without its own cuts: the pooled ones
    with pytest.raises(TypeError):
        vrd.fitted_rules(FIGURES)  # the world is required
    assert set(vrd.measured_indicators(summary)) >= {"elicitation", "likelihood", "reliance"}


def test_held_out_record_counts_the_clean_tests_readings_from_its_predictions():
    from rlmeta_interp.analysis.validation.reading import committed_summary, held_out_record, validated_config

    summary = committed_summary()
    ev = summary["clean_test"]["evaluation"]["summary"]
    wrong = ev["read_wrong"]  # pair -> (label, reading)
    labels = {p: wrong[p][0] if p in wrong else r for p, r in ev["predictions"].items()}
    for cls in ("creation", "activation", "no_signal"):
        rec = held_out_record(summary, cls)
        read = [p for p, r in ev["predictions"].items() if r == cls]
        assert rec["test"] == "clean test" and rec["read"] == len(read)
        assert rec["right"] == sum(labels[p] == cls for p in read)
        assert rec["label_n"] == sum(v == cls for v in labels.values())
        assert 0.0 <= rec["lo"] <= rec["right"] / rec["read"] <= rec["hi"] <= 1.0
    assert held_out_record(summary, "inconclusive") is None
    # without a clean test: every held-out pair
    whole = {k: v for k, v in summary.items() if k != "clean_test"}
    assert held_out_record(whole, "creation")["test"] == "held-out pairs"
    # the sizes the table was measured at, with every indicator it measured
    cfg = validated_config(summary)
    assert cfg.n_problems == summary["run"]["scorecard_config"]["n_problems"]
    assert set(summary["run"]["scorecard_config"]["indicators"]) <= set(cfg.indicators)


def test_the_fit_digest_follows_the_fit_and_its_sizes_not_the_rows_the_table_holds():
    """validate --add rewrites the summary file (new held-out rows and tests) under an unchanged fit: the fit's digest
    stays, and it moves with any fitted number, the scorecard sizes, the calibration pairs or the bootstrap a reading's
    evaluation uses."""
    import copy

    summary = vrd.committed_summary(FIGURES)
    digest = vrd.fit_sha256(summary)
    assert len(digest) == 64 and digest == vrd.fit_sha256(copy.deepcopy(summary))
    # what validate --add rewrites: the held-out rows and tests, the build record, the added pairs of an indicator
    grown = copy.deepcopy(summary)
    grown.update(bar_test=None, clean_test=None, evaluation={}, build={})
    grown["pairs"]["test"] = [*grown["pairs"]["test"], "x"]
    grown["run"]["added"] = [*(grown["run"].get("added") or []), {"pairs": ["x"]}]
    for added in (grown["run"].get("added_indicators") or {}).values():
        added["pairs"] = [*(added.get("pairs") or []), "x"]
    assert vrd.fit_sha256(grown) == digest
    recalibrated = copy.deepcopy(summary)
    recalibrated["pairs"]["calibration"] = recalibrated["pairs"]["calibration"][1:]
    refit = copy.deepcopy(summary)
    refit["fitted"]["intercept"] = float(refit["fitted"]["intercept"]) + 1e-9
    resized = copy.deepcopy(summary)
    resized["run"]["scorecard_config"]["indicators"] = resized["run"]["scorecard_config"]["indicators"][:-1]
    reseeded = copy.deepcopy(summary)
    reseeded["run"]["seed"] = int(reseeded["run"]["seed"]) + 1
    assert len({digest, *map(vrd.fit_sha256, (refit, resized, reseeded, recalibrated))}) == 5


def test_the_stored_per_pair_table_keeps_n_a_votes_and_is_none_where_absent(tmp_path):
    from rlmeta_interp.errors import CorruptedCheckpointError
    from rlmeta_interp.io import write_text_atomic

    assert vrd.stored_pair_rows(tmp_path) is None
    write_text_atomic(tmp_path / vrd.PAIRS_CSV, "pair,boundary_vote,boundary\np,n/a,\n", checksum=True)
    rows = vrd.stored_pair_rows(tmp_path)
    assert rows.loc[0, "boundary_vote"] == "n/a" and rows["boundary"].isna().all()
    (tmp_path / vrd.PAIRS_CSV).write_text("pair,boundary_vote,boundary\np,creation,\n")  # edited by hand
    with pytest.raises(CorruptedCheckpointError):
        vrd.stored_pair_rows(tmp_path)


def _without_kept_readings(summary):
    """``summary`` as a table written before evaluations kept their reading over bases."""
    out = {**summary, "evaluation": {k: v for k, v in summary["evaluation"].items() if k != "over_bases"}}
    for part in ("clean_test", "bar_test"):
        if (summary.get(part) or {}).get("evaluation") is not None:
            ev = summary[part]["evaluation"]
            out[part] = {**summary[part], "evaluation": {k: v for k, v in ev.items() if k != "over_bases"}}
    return out


def test_the_judged_test_over_bases_is_read_as_kept_or_from_the_pair_table_for_older_tables():
    summary, pairs = vrd.committed_summary(FIGURES), vrd.stored_pair_rows(FIGURES)
    kept = vrd.judged_test_over_bases(summary)
    # the test being judged keeps its reading, with the criteria version its first record carries
    assert kept == {**summary["bar_test"]["evaluation"]["over_bases"], "bar_criteria": bar.criteria_now(summary["run"])}
    older = _without_kept_readings(summary)
    assert vrd.judged_test_over_bases(older) is None  # nothing kept and no pair table
    again = vrd.judged_test_over_bases(older, pairs)
    assert json.loads(json.dumps(again)) == kept
    # no test to read, or a table without bases: no reading
    assert vrd.judged_test_over_bases({**summary, "bar_test": {}}, pairs) is None
    assert vrd.judged_test_over_bases(older, pairs.drop(columns=["base"])) is None
    # one base for every pair: a base of both classes is never read over bases, with or without a counted indicator
    assert vrd.judged_test_over_bases(older, pairs.assign(base="one-base")) is None


def test_the_trust_paragraph_gives_the_reading_over_bases_where_there_is_one():
    from rlmeta_interp.analysis.validation.report import render_trust_paragraph

    summary, pairs = vrd.committed_summary(FIGURES), vrd.stored_pair_rows(FIGURES)
    read = vrd.judged_test_over_bases(summary)
    said = " ".join(render_trust_paragraph(summary, None).split())
    assert said == " ".join(render_trust_paragraph(_without_kept_readings(summary), pairs).split())
    assert "**The same test over base models**" not in " ".join(
        render_trust_paragraph(_without_kept_readings(summary), None).split())
    assert "**The same test over base models**" in said
    # a test that still lacks designed pairs is read so far, not judged
    so_far = " so far" if bar.pending(summary) else ""
    word = "is established" if read["established"] else "is not established"
    assert f"and over base models it {word}{so_far} (next line)" in said
    assert ("Read so far (the test is judged once every designed pair has a row)" in said) == bool(so_far)
    if read["bar_criteria"] < 2:
        assert "it stands beside the registered verdict, not in its place" in said
    else:
        assert "These criteria were registered before this test began" in said
    # a test judged before, under criteria without the reading over bases, keeps what its record read over bases (the
    # judged third test of the committed table is one)
    outside = [a["judged_before"] for a in bar.judgements(summary["run"])
               if a["judged_before"].get("over_bases") and a["judged_before"].get("bar_criteria", 1) < 2]
    assert outside
    for judged in outside:
        state = "established" if judged["over_bases"]["established"] else "not established"
        assert f"over base models it was {state} (not part of its bar): recall over bases" in said
    for name, r in read["indicators"].items():
        assert f"{name} {r['auc']:.2f} ({r['creation']} creation and {r['activation']} activation bases" in said
