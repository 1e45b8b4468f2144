"""Fitting and reporting again from a committed validation table, and adding held-out pairs to it."""

from __future__ import annotations

import json
import math
import shutil

import pandas as pd
import pytest

from rlmeta_interp.analysis.validation import bar
from rlmeta_interp.analysis.validation import committed as vc
from rlmeta_interp.analysis.validation.fit import FittedRules
from rlmeta_interp.analysis.validation.labels import preset_labelled_names
from rlmeta_interp.analysis.validation.recast import check_votes
from rlmeta_interp.analysis.validation import labels as vl
from rlmeta_interp.analysis.validation import report as vr
from rlmeta_interp.cli import main
from rlmeta_interp.errors import (CheckpointMismatchError, CorruptedCheckpointError, EmptyInputError,
                                  InvalidConfigError, UnknownModelError)
from rlmeta_interp.io import read_json, sha256_file, write_text_atomic
from rlmeta_interp.organism import presets
from rlmeta_interp.paths import REPO_ROOT

from .test_recast import from_statistic
from .test_report import tiny_labelled_zoo

FIGURES = REPO_ROOT / "figures"
_PARTS = ("summary", "fitted", "evaluation", "pairs", "clean_test", "bar_test")


def _plain(obj):
    return json.loads(json.dumps(obj, default=str))


def _same(a, b, path=""):
    """Equal JSON trees, floats to 1e-12 and NaN equal to NaN; the first difference is named."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert set(a) == set(b), f"{path}: keys {sorted(set(a) ^ set(b))}"
        for k in a:
            _same(a[k], b[k], f"{path}/{k}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), f"{path}: lengths {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-12, abs=1e-12), f"{path}: {a} != {b}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def _copy_table(dst):
    dst.mkdir(parents=True)
    for name in (vr.SUMMARY_JSON, vr.PAIRS_CSV):
        for f in (name, name + ".sha256"):
            shutil.copy(FIGURES / f, dst / f)
    return dst


def test_the_committed_summary_is_what_the_current_code_makes_of_the_committed_pairs_table():
    """Every number of the committed summary (and so of the README's trust paragraph) follows from the committed
    per-pair table by the current fitting and reporting code: a hand edit or an unregenerated code change fails."""
    summary, table = vc.committed_table(FIGURES)
    fitted, new, same = vc.refit(summary, table)
    pd.testing.assert_frame_equal(same, table)  # no vote recast
    assert fitted.rules.to_dict() == FittedRules.from_dict(summary["fitted"]).rules.to_dict()
    for part in _PARTS:
        _same(_plain(new[part]), summary[part], part)


def test_refit_writes_the_same_table_and_records_where_it_came_from(tmp_path):
    src = _copy_table(tmp_path / "src")
    new = vc.refit_committed(src, table_dir=tmp_path / "out")
    assert (tmp_path / "out" / vr.PAIRS_CSV).read_bytes() == (src / vr.PAIRS_CSV).read_bytes()
    written = read_json(tmp_path / "out" / vr.SUMMARY_JSON, required=True)
    assert written["run"]["refit_from"] == {"pairs_csv_sha256": sha256_file(src / vr.PAIRS_CSV)}
    # the run's build record, with the current preset's labelled pairs that have no row (designed after it ran) and
    # how many it designs now
    carried = read_json(src / vr.SUMMARY_JSON)["build"]
    now = ("not_in_table", "labelled_models")
    assert {k: v for k, v in written["build"].items() if k not in now} == {
        k: v for k, v in carried.items() if k not in now}
    assert written["build"]["labelled_models"] == len(preset_labelled_names())
    table = pd.read_csv(src / vr.PAIRS_CSV)
    want = set(preset_labelled_names()) - set(table["pair"]) - set(carried["not_validation_cases"])
    assert written["build"]["not_in_table"] == sorted(want)
    # only fresh seeds added later
    assert {n for n in want if not any(f"-s{k}-" in n for k in presets.CLEAN_TEST_SEEDS)} == set()
    before = read_json(src / vr.SUMMARY_JSON)
    n_before = len(before["run"]["added"])
    assert written["run"]["added"][:n_before] == before["run"]["added"]  # the same fit: no record of a change
    # a table whose bar was judged, rewritten after the preset grew, records that judged test once (and otherwise
    # nothing): it is never pooled with the pairs still to come
    judged = bar.judgement(before).get("judged_before")
    grown = written["run"]["added"][n_before:]
    assert [g["judged_before"] for g in grown] == ([judged] if judged and written["build"]["not_in_table"] else [])
    assert all(g["pairs"] == [] and g["refit"] for g in grown)
    assert new["summary"]["n_pairs"] == written["summary"]["n_pairs"]
    assert (tmp_path / "out" / "validation_roc.png").exists()


def _moved(tmp_path, name):
    """A copy of the committed table whose calibration statistic ``name`` is moved (x3 + 1): its fitted cut moves."""
    src = _copy_table(tmp_path / "src")
    table = pd.read_csv(src / vr.PAIRS_CSV, keep_default_na=False, na_values=[""])
    calib = table["split"] == "calibration"
    table.loc[calib, name] = table.loc[calib, name] * 3.0 + 1.0
    write_text_atomic(src / vr.PAIRS_CSV, table.to_csv(index=False), checksum=True)
    return src


def test_refit_casts_again_from_the_table_the_votes_of_a_moved_cut_voted_from_its_statistic(tmp_path):
    """Elicitation votes from its statistic alone: a refit that moves its cuts casts its votes again from the table
    (each world under its own cut), recasts the vote rule's readings and records a fit change."""
    src = _moved(tmp_path, "elicitation")
    summary, table = vc.committed_table(src)
    fitted, new, recast = vc.refit(summary, table)
    assert new["run"]["added"][-1]["fit_changed"] and new["run"]["added"][-1]["refit"]
    assert new["run"]["added"][-1]["test_in_view"] == sorted(summary["pairs"]["test"])
    assert "elicitation" in new["run"]["added"][-1]["revoted"]
    assert recast["elicitation_vote"].tolist() == from_statistic(table, "elicitation", fitted)
    check_votes(recast, fitted)
    assert new["clean_test"]["pairs"] == []  # every held-out pair was in view of the change
    # a clean test the change ends is kept with what it read before; the last one ended is named either way
    tested = summary.get(bar.tested_key(summary["run"])) or {}  # the bar test after a judged test
    clean = tested.get("evaluation")
    if clean is None:
        assert "clean_test_before" not in new["run"]["added"][-1]
    else:
        before = new["run"]["added"][-1]["clean_test_before"]
        assert before["pairs"] == tested["pairs"]
        assert before["summary"]["balanced_accuracy"] == clean["summary"]["balanced_accuracy"]
    ended = [a["clean_test_before"] for a in new["run"]["added"] if a.get("clean_test_before")]
    said = " ".join(vr.render_trust_paragraph(new).split())
    assert ended and f"The last clean test ({len(ended[-1]['pairs'])} pairs) ended with the change" in said


def test_refit_refuses_a_moved_cut_whose_votes_need_metrics(tmp_path):
    """Boundary's vote reads more than its statistic: a moved boundary cut cannot be applied from the table."""
    src = _moved(tmp_path, "boundary")
    with pytest.raises(CheckpointMismatchError, match="'boundary'.*metrics"):
        vc.refit_committed(src, table_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_refit_recasts_the_votes_of_an_indicator_that_stops_voting():
    """Calibration rows moved onto one base per class: every fitted indicator becomes descriptive, and its votes,
    which need no metrics (n/a), are recast from the table with the vote rule's reading of every gained pair."""
    from rlmeta_interp.analysis.indicators.core import INDICATORS
    from rlmeta_interp.analysis.scorecard import summarize_votes

    summary, table = vc.committed_table(FIGURES)
    cal = table["split"] == "calibration"
    table.loc[cal, "base"] = table.loc[cal, "label"]
    fitted, _, recast = vc.refit(summary, table)
    silenced = {"boundary", "likelihood", "elicitation"}
    assert silenced <= set(fitted.rules.descriptive)
    for name in silenced:
        assert (recast[f"{name}_vote"] == "n/a").all() and (table[f"{name}_vote"] != "n/a").any()
    for _, row in recast.iterrows():
        want = "no_signal" if row["gain"] is False else summarize_votes({n: row[f"{n}_vote"] for n in INDICATORS})[0]
        assert row["vote_summary"] == want


def test_refit_reads_only_a_table_that_matches_its_checksum(tmp_path):
    src = _copy_table(tmp_path / "src")
    text = (src / vr.PAIRS_CSV).read_text()
    (src / vr.PAIRS_CSV).write_text(text.replace("activation", "creation", 1))
    with pytest.raises(CorruptedCheckpointError):
        vc.refit_committed(src, table_dir=tmp_path / "out")
    with pytest.raises(EmptyInputError, match="rlmeta-interp validate"):
        vc.refit_committed(tmp_path / "empty", table_dir=tmp_path / "out")


def test_validate_refit_and_add_refuse_options_they_would_ignore(tmp_path, capsys):
    for argv in (["validate", "--refit", "--skip", "steering"], ["validate", "--refit", "--size", "smoke"],
                 ["validate", "--add", "x", "--pairs", "y"], ["validate", "--refit", "--add", "x"],
                 ["validate", "--add-indicator", "reliance", "--size", "smoke"]):
        assert main([*argv, "--table-dir", str(tmp_path)]) == 2
        assert "keep the committed table's pairs, sizes and indicators" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
    with pytest.raises(InvalidConfigError, match="no pairs"):
        vc.add_to_committed([], folder=FIGURES, table_dir=tmp_path)
    # --add-indicator takes --pairs, and reaches the committed table's checks through the CLI
    assert main(["validate", "--add-indicator", "weights", "--pairs", "x", "--table-dir", str(tmp_path)]) == 2
    assert "name a voting indicator" in capsys.readouterr().err
    assert main(["validate", "--add-indicator", "likelihood", "--table-dir", str(tmp_path)]) == 2
    assert "measured 'likelihood' on every pair" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_adding_a_held_out_pair_to_a_table_gives_the_full_run(tmp_path, monkeypatch):
    """A full run over four tiny pairs, and the same table without one held-out pair to which that pair is added
    (measured anew, in an empty scorecard folder): the same rows and the same report."""
    cfg = tiny_labelled_zoo(tmp_path, monkeypatch)
    full = vr.run_validation(tmp_path / "cards", table_dir=tmp_path / "full", config=cfg, n_boot=50, progress=False)
    partial = _partial(tmp_path / "full", tmp_path / "partial", drop="c-test")
    added = vc.add_to_committed(["c-test"], out=tmp_path / "new-cards", folder=partial, table_dir=tmp_path / "added",
                                progress=False)
    assert (tmp_path / "new-cards" / "c-test").is_dir()  # measured, not read from the full run's cache
    rows = [pd.read_csv(d / vr.PAIRS_CSV).sort_values("pair").reset_index(drop=True)
            for d in (tmp_path / "full", tmp_path / "added")]
    pd.testing.assert_frame_equal(rows[0], rows[1])
    for part in ("summary", "fitted"):
        _same(_plain(added[part]), _plain(full[part]), part)
    assert sorted(added["pairs"]["test"]) == sorted(full["pairs"]["test"])
    assert added["run"]["added"][-1]["pairs"] == ["c-test"]
    assert added["run"]["added"][-1]["to_pairs_csv_sha256"] == sha256_file(partial / vr.PAIRS_CSV)
    assert added["run"]["scorecard_config"] == full["run"]["scorecard_config"]
    assert "revoted" not in added["run"]["added"][-1]  # the fit did not change: no other vote was cast again
    with pytest.raises(UnknownModelError):
        vc.add_to_committed(["no-such-pair"], out=tmp_path / "new-cards", folder=partial, table_dir=tmp_path / "x")


def test_adding_a_calibration_pair_casts_again_the_votes_its_fit_changes(tmp_path, monkeypatch):
    """A table measured without its creation calibration pair fits no cut (one class); adding that pair fits the
    cuts, and every vote they change is cast again from the pairs built here: the same rows and report as the full
    run. Refused when a pair whose votes would change is not the model its row was measured on."""
    from rlmeta_interp.analysis.validation import fit

    # the tiny zoo's pairs share one base; with the production minimum of two bases per class no cut is fitted
    monkeypatch.setattr(fit, "MIN_CALIBRATION_BASES", 1)
    cfg = tiny_labelled_zoo(tmp_path, monkeypatch)
    pairs = ["a-cal", "a-test", "c-cal", "c-test"]
    exported = _export_with_checksums(tmp_path, pairs)
    full = vr.run_validation(tmp_path / "cards", table_dir=tmp_path / "full", config=cfg, n_boot=50, progress=False)
    without = vr.run_validation(tmp_path / "cards", table_dir=tmp_path / "without", config=cfg, n_boot=50,
                                pairs=["a-cal", "a-test", "c-test"], progress=False)
    voting = {f["name"] for f in full["fitted"]["indicators"] if f["votes"] and f["cut"] is not None}
    assert voting and not any(f["cut"] is not None for f in without["fitted"]["indicators"])
    added = vc.add_to_committed(["c-cal"], out=tmp_path / "new-cards", folder=tmp_path / "without",
                                table_dir=tmp_path / "added", progress=False)
    record = added["run"]["added"][-1]
    # the other pairs' votes were cast again; the added pair's are its own
    assert {n: sorted(p) for n, p in record["revoted"].items()} == {n: ["a-cal", "a-test", "c-test"] for n in voting}
    assert record["calibration"] == ["c-cal"]
    # the change ends every test: the clean test after it is judged by the criteria in force now
    assert record["bar_criteria"] == bar.BAR_CRITERIA == bar.criteria_now(added["run"])
    _same(record["headline_before"], _plain(without["summary"]), "headline_before")
    rows = [pd.read_csv(d / vr.PAIRS_CSV).sort_values("pair").reset_index(drop=True)
            for d in (tmp_path / "full", tmp_path / "added")]
    pd.testing.assert_frame_equal(rows[0], rows[1])
    for part in ("summary", "fitted", "evaluation"):
        _same(_plain(added[part]), _plain(full[part]), part)
    # every held-out reading was in view when the fit changed: no clean test, even for a held-out pair whose row is
    # dropped and added again
    assert added["clean_test"] == {"pairs": [], "evaluation": None, "summary": None}
    assert record["new_pairs"] == ["c-cal"] and record["test_in_view"] == ["a-test", "c-test"]
    assert "**Clean test:** none yet" in vr.render_trust_paragraph(added)
    again = vc.add_to_committed(["c-test"], out=tmp_path / "new-cards", progress=False, table_dir=tmp_path / "again",
                                folder=_partial(tmp_path / "added", tmp_path / "added-partial", drop="c-test"))
    assert again["run"]["added"][-1]["new_pairs"] == ["c-test"] and again["clean_test"]["pairs"] == []
    # a held-out pair first measured after the change is a clean test, evaluated apart
    only_a = vr.run_validation(tmp_path / "cards", table_dir=tmp_path / "only-a", config=cfg, n_boot=50,
                               pairs=["a-cal", "a-test"], progress=False)
    assert "clean_test" not in only_a
    vc.add_to_committed(["c-cal"], out=tmp_path / "new-cards", folder=tmp_path / "only-a",
                        table_dir=tmp_path / "only-a-cal", progress=False)
    later = vc.add_to_committed(["c-test"], out=tmp_path / "new-cards", folder=tmp_path / "only-a-cal",
                                table_dir=tmp_path / "later", progress=False)
    assert later["clean_test"]["pairs"] == ["c-test"]
    clean = later["clean_test"]["evaluation"]
    assert clean["n_test"] == 1 and clean["summary"]["predictions"] == {
        "c-test": later["evaluation"]["summary"]["predictions"]["c-test"]}
    said = " ".join(vr.render_trust_paragraph(later).split())
    assert "**Clean test** (1 held-out pair first measured after the fit last changed)" in said
    # random tiny weights gain nothing: the creation pair reads no signal, named as read wrong
    assert "read wrong: c-test (creation read as no_signal)" in said
    assert "Not judged until every designed pair is in the table (" in said  # the clean test's line follows the verdict
    # the validation preset designs pairs this table lacks: the verdict waits for them
    assert later["build"]["not_in_table"] and "The clean test is not complete" in said
    complete = {**later["build"], "not_in_table": [], "not_built": [], "pairs_requested": None}
    done = " ".join(vr.render_trust_paragraph({**later, "build": complete}).split())
    assert "The clean test's pairs do not meet the project's bar" in done
    m = json.loads((exported / "a-test.json").read_text())
    m["files"]["model.safetensors"] = "0" * 64  # the committed row was measured on other weights
    (exported / "a-test.json").write_text(json.dumps(m))
    with pytest.raises(InvalidConfigError, match="a-test: its weights built here differ"):
        vc.add_to_committed(["c-cal"], out=tmp_path / "new-cards", folder=tmp_path / "without",
                            table_dir=tmp_path / "x", progress=False)
    assert not (tmp_path / "x").exists()


def _partial(src, dst, *, drop):
    """``src``'s table without the row of pair ``drop``, as a committed table in ``dst`` whose summary (otherwise
    kept) does not list it either: a table that never held it."""
    from rlmeta_interp.io import write_json_atomic

    dst.mkdir()
    summary = read_json(src / vr.SUMMARY_JSON)
    summary["pairs"] = {k: [p for p in v if p != drop] for k, v in summary["pairs"].items()}
    write_json_atomic(dst / vr.SUMMARY_JSON, summary, checksum=True)
    table = pd.read_csv(src / vr.PAIRS_CSV, keep_default_na=False, na_values=[""])
    write_text_atomic(dst / vr.PAIRS_CSV, table[table["pair"] != drop].to_csv(index=False), checksum=True)
    return dst


def _export_with_checksums(tmp_path, pairs):
    """Record each tiny pair's weight checksums in its zoo manifest and export the manifests to the data folder's
    ``validation/``, as a validation build and ``tables --export`` do."""
    home, out = tmp_path / "home" / "zoo", tmp_path / "data" / "validation"
    out.mkdir(parents=True, exist_ok=True)
    for name in pairs:
        m = json.loads((home / name / "manifest.json").read_text())
        m["files"] = {"model.safetensors": sha256_file(home / name / "model.safetensors")}
        m["base_weights_sha256"] = sha256_file(home / m["base"] / "model.safetensors")
        (home / name / "manifest.json").write_text(json.dumps(m))
        (out / f"{name}.json").write_text(json.dumps(m))
    return out


def test_adding_an_indicator_to_a_table_gives_the_full_run(tmp_path, monkeypatch):
    """A full run with three indicators, and a run without one of them to which it is added afterwards on every
    pair: the same rows, fit and report; refused for an indicator the table has, one that cannot vote, and a pair
    whose weights differ from those the committed row was measured on."""
    cfg = tiny_labelled_zoo(tmp_path, monkeypatch)
    pairs = ["a-cal", "a-test", "c-cal", "c-test"]
    exported = _export_with_checksums(tmp_path, pairs)
    full = vr.run_validation(tmp_path / "cards", table_dir=tmp_path / "full", config=cfg, n_boot=50, progress=False)
    without = cfg.replace(indicators=tuple(n for n in cfg.indicators if n != "directions"))
    vr.run_validation(tmp_path / "cards-without", table_dir=tmp_path / "without", config=without, n_boot=50,
                      progress=False)
    added = vc.add_indicator_to_committed("directions", folder=tmp_path / "without", out=tmp_path / "new-cards",
                                          table_dir=tmp_path / "added", progress=False)
    assert sorted(added["run"]["added_indicators"]["directions"]["pairs"]) == pairs
    # the fit changed with every held-out reading in view: recorded, so no held-out pair is a clean test
    change = added["run"]["added"][-1]
    assert change["indicator"] == "directions" and change["fit_changed"] and change["test_in_view"] == ["a-test", "c-test"]
    assert added["clean_test"]["pairs"] == []
    rows = [pd.read_csv(d / vr.PAIRS_CSV).sort_values("pair").reset_index(drop=True)
            for d in (tmp_path / "full", tmp_path / "added")]
    pd.testing.assert_frame_equal(rows[0], rows[1][rows[0].columns])
    for part in ("summary", "fitted", "evaluation"):
        _same(_plain(added[part]), _plain(full[part]), part)
    with pytest.raises(InvalidConfigError, match="measured 'directions' on every pair"):
        vc.add_indicator_to_committed("directions", folder=tmp_path / "full", table_dir=tmp_path / "x")
    with pytest.raises(InvalidConfigError, match=r"added earlier to \['a-cal', 'a-test', 'c-test'\]"):
        vc.add_indicator_to_committed("directions", ["c-cal"], folder=tmp_path / "added", table_dir=tmp_path / "x")
    with pytest.raises(InvalidConfigError, match="voting indicator"):
        vc.add_indicator_to_committed("weights", folder=tmp_path / "without", table_dir=tmp_path / "x")
    # added on three pairs, it names the held-out one it did not read; adding that pair with --add measures it
    some = vc.add_indicator_to_committed("directions", ["a-cal", "a-test", "c-cal"], folder=tmp_path / "without",
                                         out=tmp_path / "new-cards", table_dir=tmp_path / "some", progress=False)
    assert some["run"]["added_indicators"]["directions"]["not_measured_test"] == ["c-test"]
    more = vc.add_to_committed(["c-test"], out=tmp_path / "new-cards", folder=tmp_path / "some",
                               table_dir=tmp_path / "more", progress=False)
    assert more["run"]["added_indicators"]["directions"]["not_measured_test"] == []
    assert sorted(more["run"]["added_indicators"]["directions"]["pairs"]) == pairs
    m = json.loads((exported / "c-cal.json").read_text())
    m["files"]["model.safetensors"] = "0" * 64  # the committed row was measured on other weights
    (exported / "c-cal.json").write_text(json.dumps(m))
    with pytest.raises(InvalidConfigError, match="c-cal: its weights built here differ"):
        vc.add_indicator_to_committed("directions", folder=tmp_path / "without", table_dir=tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_held_out_pairs_added_after_the_bar_was_judged_start_a_new_test_for_it(tmp_path, monkeypatch):
    """A table whose every designed pair had a row has had its bar judged: held-out pairs added later (the preset
    grew) are a new test of the bar, kept apart from the judged pairs, while the accuracy still pools every pair the
    fit never saw. Measuring a pair again adds no test; one that no longer reads as before is refused, and a full
    run that measures it so ends every test."""
    from rlmeta_interp.io import read_json, write_json_atomic

    cfg = tiny_labelled_zoo(tmp_path, monkeypatch)
    judged = vr.run_validation(tmp_path / "cards", table_dir=tmp_path / "judged", config=cfg, n_boot=50,
                               pairs=["a-cal", "a-test", "c-cal"], progress=False)
    assert "bar_test" not in judged and "clean_test" not in judged  # fitted once: every held-out pair is the test
    # a new table's test is judged by the criteria in force now, over base models too (bar.BAR_CRITERIA)
    assert judged["run"]["bar_criteria"] == bar.BAR_CRITERIA == 2 and "over_bases" in judged["evaluation"]
    # every pair the preset designed then had a row, built and measured: the bar was judged
    judged["build"].update(not_in_table=[], not_built=[], pairs_requested=None)
    write_json_atomic(tmp_path / "judged" / vr.SUMMARY_JSON, judged, checksum=True)
    grown = vc.add_to_committed(["c-test"], out=tmp_path / "new-cards", folder=tmp_path / "judged",
                                table_dir=tmp_path / "grown", progress=False)
    record = grown["run"]["added"][-1]
    assert record["new_pairs"] == ["c-test"] and "fit_changed" not in record
    before = record["judged_before"]
    assert before["pairs"] == ["a-test"] and before["judged"] is True and before["met_bar"] is False
    assert before["bar_criteria"] == 2 and record["bar_criteria"] == 2 and grown["run"]["bar_criteria"] == 2
    assert before["summary"]["balanced_accuracy"] == judged["evaluation"]["summary"]["balanced_accuracy"]
    assert grown["bar_test"]["pairs"] == ["c-test"] and grown["bar_test"]["evaluation"]["n_test"] == 1
    assert sorted(grown["pairs"]["test"]) == ["a-test", "c-test"]  # the headline still reads both
    said = " ".join(vr.render_trust_paragraph(grown).split())
    assert "**Judged test** (1 held-out pair; the bar was not met there)" in said
    assert "**Bar test** (1 held-out pair first measured after the last judged test)" in said
    assert read_json(tmp_path / "grown" / vr.SUMMARY_JSON)["bar_test"]["pairs"] == ["c-test"]
    # c-test measured again: nothing new, so no new judgement, and the bar test is unchanged
    again = vc.add_to_committed(["c-test"], out=tmp_path / "new-cards", folder=tmp_path / "grown",
                                table_dir=tmp_path / "again", progress=False)
    assert "judged_before" not in again["run"]["added"][-1] and again["bar_test"]["pairs"] == ["c-test"]
    assert "remeasured" not in again["run"]["added"][-1]  # the same rows: no reading replaced
    # c-test's stored reading as other measuring code might have left it: measured again, it reads otherwise, and
    # the reading that was seen is not swapped for the new one inside the test
    stored = pd.read_csv(tmp_path / "again" / vr.PAIRS_CSV, keep_default_na=False, na_values=[""])
    row = stored["pair"] == "c-test"
    col = "vote_summary"  # the vote rule's reading, which every indicator's vote feeds
    stored.loc[row, col] = "creation" if stored.loc[row, col].iloc[0] != "creation" else "activation"
    write_text_atomic(tmp_path / "again" / vr.PAIRS_CSV, stored.to_csv(index=False), checksum=True)
    with pytest.raises(CheckpointMismatchError, match=f"c-test \\({col}"):
        vc.add_to_committed(["c-test"], out=tmp_path / "new-cards", folder=tmp_path / "again",
                            table_dir=tmp_path / "moved", progress=False)
    assert not (tmp_path / "moved").exists()  # nothing written
    # a full run, the way to measure a table again under changed code, records it and ends every test
    full = vr.run_validation(tmp_path / "cards", table_dir=tmp_path / "again", config=cfg, n_boot=50,
                             pairs=["a-cal", "a-test", "c-cal", "c-test"], progress=False)
    record = full["run"]["added"][-1]
    assert record["full_run"] and "fit_changed" not in record and list(record["remeasured"]) == ["c-test"]
    assert col in record["remeasured"]["c-test"]["columns"] and record["test_in_view"] == ["a-test", "c-test"]
    assert record["clean_test_before"]["pairs"] == ["c-test"]  # the bar test it ended
    assert record["bar_criteria"] == 2 and full["run"]["bar_criteria"] == 2  # the run's version is carried over
    assert full["clean_test"]["pairs"] == [] and "bar_test" not in full
    said = " ".join(vr.render_trust_paragraph(full).split())
    assert "held-out pairs were measured again and no longer read as before (c-test)" in said
    assert "Held-out pair c-test was measured again and no longer read as before" in said
    assert "no held-out pair was first measured after held-out readings were last replaced" in said


def test_a_refit_or_full_run_of_a_judged_table_whose_preset_grew_starts_a_new_test(tmp_path, monkeypatch):
    """The validation preset designs pairs the tiny table lacks, as a grown preset would: rewriting a table whose bar
    was judged (by a refit, or a full run) before any new pair exists records the judged test, so that pairs added
    later are judged apart; rewriting it again records nothing more."""
    from rlmeta_interp.analysis.validation import bar as vb
    from rlmeta_interp.io import write_json_atomic

    cfg = tiny_labelled_zoo(tmp_path, monkeypatch)
    first = vr.run_validation(tmp_path / "cards", table_dir=tmp_path / "judged", config=cfg, n_boot=50,
                              progress=False)
    assert first["build"]["not_in_table"] and not vb.meets_bar(first)  # a full run knows which pairs it lacks
    first["build"].update(not_in_table=[], not_built=[])  # as if every designed pair had a row: the bar was judged
    write_json_atomic(tmp_path / "judged" / vr.SUMMARY_JSON, first, checksum=True)
    refit = vc.refit_committed(tmp_path / "judged", table_dir=tmp_path / "refit")
    record = refit["run"]["added"][-1]
    assert record["refit"] and record["judged_before"]["pairs"] == first["pairs"]["test"]
    assert refit["build"]["not_in_table"] and refit["bar_test"] == {"pairs": [], "evaluation": None, "summary": None}
    said = " ".join(vr.render_trust_paragraph(refit).split())
    assert "**Bar test:** none yet" in said and "No pair measured since the last judged test yet" in said
    again = vc.refit_committed(tmp_path / "refit", table_dir=tmp_path / "again")
    assert len(again["run"]["added"]) == len(refit["run"]["added"])  # not judged since: nothing more to record
    assert again["build"]["pairs_requested"] is None and again["build"]["labelled_models"] == len(
        vl.preset_labelled_names("validation"))
    # a full run over the judged table records it too
    full = vr.run_validation(tmp_path / "cards", table_dir=tmp_path / "judged", config=cfg, n_boot=50,
                             progress=False)
    assert full["run"]["added"][-1]["full_run"] and full["run"]["added"][-1]["judged_before"]["pairs"] == \
        first["pairs"]["test"]
