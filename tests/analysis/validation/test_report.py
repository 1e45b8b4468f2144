"""The validation table, its figures, and the README trust paragraph rendered from the committed table."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from rlmeta_interp.analysis.validation import fit as vf
from rlmeta_interp.analysis.validation import reading as vrd
from rlmeta_interp.analysis.validation import bar as vb
from rlmeta_interp.analysis.validation import report as vr
from rlmeta_interp.analysis.indicators.core import INDICATORS
from rlmeta_interp.errors import EmptyInputError, InvalidConfigError
from rlmeta_interp.io import read_json
from rlmeta_interp.paths import REPO_ROOT

from .test_fit import synthetic


def test_readme_trust_paragraph_is_the_rendering_of_the_committed_table():
    readme = (REPO_ROOT / "README.md").read_text()
    summary = vr.committed_summary(REPO_ROOT / "figures")
    pairs = vr.stored_pair_rows(REPO_ROOT / "figures")
    assert vr.trust_paragraph_in(readme) == vr.render_trust_paragraph(summary, pairs)


def test_table_figures_and_paragraph_from_a_synthetic_validation(tmp_path):
    calib, test = synthetic(noise=0.05), synthetic(seed=3, split="test", noise=0.05)
    table = pd.concat([calib, test], ignore_index=True)
    fitted = vf.fit_rules(calib, n_boot=100)
    summary = vr.validation_summary(table, fitted, n_boot=100)
    paths = vr.write_validation_table(summary, table, tmp_path)
    names = {p.name for p in paths}
    assert {vr.SUMMARY_JSON, vr.SUMMARY_CSV, vr.PAIRS_CSV, "validation_confusion.png", "validation_roc.png",
            "validation_statistics.png"} <= names
    # checksummed: reading with required=True verifies the sidecar, and a tampered file is refused
    back = vrd.committed_summary(tmp_path)
    assert back["evaluation"]["summary"]["balanced_accuracy"] == 1.0
    # the headline block the demo report reads: held-out balanced accuracy with its CI, pairs and split
    assert back["summary"]["balanced_accuracy"]["value"] == 1.0 and back["summary"]["n_pairs"] == len(test)
    assert back["summary"]["split"] == "test" and back["summary"]["creation_recall"] == 1.0
    assert json.loads((tmp_path / "validation_roc.json").read_text())["caption"].startswith("ROC curve")
    assert vrd.fitted_rules(tmp_path, world=None) == fitted.rules
    assert vrd.fitted_rules(tmp_path / "nothing", world=None) is None
    text = vr.render_trust_paragraph(back)
    assert "balanced accuracy 1.00" in text and "directions (calibration AUC CI" in text
    # only boundary reaches AUC >= 0.8 with a CI above 0.6 among voting indicators, so the bar is not met
    assert "do not meet the project's bar" in text
    assert "Other readings, scored but not voting, held-out AUC: steering: KL recovered 1.00" in " ".join(text.split())
    assert all(len(line) <= 118 for line in text.splitlines())
    # indicators left out with `validate --skip` are named (the run records what it measured)
    back["run"] = {"scorecard_config": {"indicators": [i for i in INDICATORS if i not in ("steering", "hybrid")]}}
    assert "it; they do not vote by fitted rules): steering, hybrid." in " ".join(vr.render_trust_paragraph(back).split())
    # a run over a partial build names the preset's models it did not have; a complete build adds nothing
    assert "Partial build" not in text
    partial = {**back, "build": {"preset": "validation", "labelled_models": 40, "not_built": ["m-1", "m-2"]}}
    assert ("**Partial build:** 2 of the `validation` preset's 40 labelled models were not built (or were built from"
            " another config) when this ran: m-1, m-2.") in " ".join(vr.render_trust_paragraph(partial).split())
    assert "Partial build" not in vr.render_trust_paragraph({**back, "build": {**partial["build"], "not_built": []}})
    # a --pairs restriction and pairs the gain check left out are named too
    narrowed = {**back, "build": {**partial["build"], "not_built": [], "pairs_requested": ["p-1", "p-2", "p-3"],
                                  "not_validation_cases": ["f-1"]}}
    said = " ".join(vr.render_trust_paragraph(narrowed).split())
    assert "This run was restricted to 3 named pairs (`validate --pairs`)." in said
    assert ("1 labelled pair is not counted because training did not give the gain the label calls for (gain check"
            " failed): f-1.") in said
    # held-out pairs a voting indicator could not read are counted per class
    # (the synthetic table has no beliefs statistic, so beliefs reads none of them)
    assert "per class: beliefs activation 8/8, creation 8/8." in " ".join(text.split())
    unread = json.loads(json.dumps(back))
    for r in unread["evaluation"]["indicators"]:
        r["test_unread"] = {"creation": [0, 7], "activation": [0, 6]}
    assert "could not read" not in vr.render_trust_paragraph(unread)
    first = next(r for r in unread["evaluation"]["indicators"] if r["votes"])
    first["test_unread"] = {"creation": [2, 7], "activation": [0, 6]}
    assert (f"per class: {first['indicator']} activation 0/6, creation 2/7."
            in " ".join(vr.render_trust_paragraph(unread).split()))
    # and the rules read back from such a table keep them descriptive: never validated, they must not vote
    from rlmeta_interp.analysis.validation.report import write_validation_table

    write_validation_table(back, table, tmp_path / "skipped")
    rules = vrd.fitted_rules(tmp_path / "skipped", world=None)
    assert {"steering", "hybrid"} <= set(rules.descriptive)
    assert set(rules.descriptive) - {"steering", "hybrid"} == set(fitted.rules.descriptive) - {"steering", "hybrid"}
    # an indicator added afterwards with `validate --add-indicator` counts as measured: named, and fitted rules kept
    added = {**back, "run": {**back["run"], "added_indicators": {"steering": {"pairs": ["p-1", "p-2"],
                                                                              "not_measured_test": ["t-9"]}}}}
    said = " ".join(vr.render_trust_paragraph(added).split())
    assert ("the others have no reading of it): steering, run on 2 pairs; those it could not read (another world, or no"
            " statistic) have an empty steering column in `figures/validation_pairs.csv`; held-out pairs of its worlds"
            " not measured: t-9.") in said
    assert "fitted rules): hybrid." in said
    write_validation_table(added, table, tmp_path / "added")
    assert vrd.measured_indicators(added) == [*back["run"]["scorecard_config"]["indicators"], "steering"]
    added_rules = vrd.fitted_rules(tmp_path / "added", world=None)
    assert "steering" not in set(added_rules.descriptive) - set(fitted.rules.descriptive)
    # per-recipe AUC is listed where a voting indicator was scored within more than one recipe
    per_recipe = json.loads(json.dumps(back))
    voting = next(r for r in per_recipe["evaluation"]["indicators"] if r["votes"])
    voting["test_by_recipe"] = {"bandit-dose": {"auc": 0.5, "lo": 0.2, "hi": 0.8, "n": 6},
                                "sft-calibration": {"auc": 1.0, "lo": 1.0, "hi": 1.0, "n": 8}}
    assert (f"{voting['indicator']}: bandit-dose 0.50 (6 pairs), sft-calibration 1.00 (8 pairs)"
            in " ".join(vr.render_trust_paragraph(per_recipe).split()))
    assert "within each recipe" not in " ".join(text.split())
    # the held-out pairs read wrong are named with label and reading (none here); a mislabelled pair shows up there
    assert "- Held-out pairs the summary reads wrong: none." in text
    flipped = table.copy()
    i = flipped.index[(flipped["split"] == "test") & (flipped["label"] == "activation")][0]
    flipped.loc[i, "label"] = "creation"
    misread = vr.validation_summary(flipped, fitted, n_boot=100)
    assert misread["evaluation"]["summary"]["read_wrong"] == {flipped.loc[i, "pair"]: ["creation", "activation"]}
    assert (f"reads wrong: creation read as activation: {flipped.loc[i, 'pair']}."
            in " ".join(vr.render_trust_paragraph(misread).split()))
    older = json.loads(json.dumps(back))
    del older["evaluation"]["summary"]["read_wrong"]
    assert "reads wrong: not recorded in this table" in " ".join(vr.render_trust_paragraph(older).split())
    # controls are read by the gain test, said so; held-out pairs on a calibration pair's base are counted apart
    assert "tests the gain test, not the indicators" in " ".join(text.split())
    shared = table.assign(base=table["pair"].str.replace("test-", "calibration-"))
    again = vr.validation_summary(shared, fitted, n_boot=100)["summary"]["test_sharing_a_calibration_base"]
    assert len(again["pairs"]) == len(test) and again["read_right"] == len(test)  # every one read right here
    assert "of the test pairs start from a base that calibration pairs start from too" in " ".join(
        vr.render_trust_paragraph(vr.validation_summary(shared, fitted, n_boot=100)).split())
    with pytest.raises(InvalidConfigError, match="unknown indicators"):
        vr.validate_command(skip=("steer",), table_dir=tmp_path)
    (tmp_path / vr.SUMMARY_JSON).write_text((tmp_path / vr.SUMMARY_JSON).read_text().replace("1.0", "0.9", 1))
    with pytest.raises(Exception, match="(?i)checksum|sha256"):
        read_json(tmp_path / vr.SUMMARY_JSON, required=True)


def test_readme_markers_are_required_and_replaced():
    text = f"intro\n{vr.TRUST_BEGIN}\nold\n{vr.TRUST_END}\nrest\n"
    new = vr.readme_with_trust(text, "new paragraph")
    assert vr.trust_paragraph_in(new) == "new paragraph" and new.endswith("rest\n")
    with pytest.raises(EmptyInputError, match="markers"):
        vr.readme_with_trust("no markers here", "x")


def test_validate_of_pairs_that_are_no_labelled_pairs_names_them(tmp_path):
    from rlmeta_interp.errors import UnknownModelError

    # a misspelt name is named, never dropped from the run (an empty zoo gets the build hint: test_cli)
    with pytest.raises(UnknownModelError, match="'no-such-pair'.*--pairs names 1 pair"):
        vr.run_validation(tmp_path, table_dir=tmp_path, pairs=["no-such-pair"])


def tiny_labelled_zoo(tmp_path, monkeypatch):
    """Four labelled tiny pairs (two per split) and a second-seed base in a user zoo that is the only zoo the
    registry sees; returns the scorecard sizes the validation tests use."""
    from rlmeta_interp.analysis.scorecard import ScorecardConfig

    from ...conftest import save_noisy_twin, save_tiny

    zoo = tmp_path / "home" / "zoo"
    # zoo naming: <stem>-base for pretraining seed 0, <stem>-s<k>-base for seed k
    save_tiny(zoo / "vt-base", "llama", seed=0)
    save_tiny(zoo / "vt-s1-base", "llama", seed=5)
    for name in ("vt-base", "vt-s1-base"):
        (zoo / name / "manifest.json").write_text(json.dumps({"name": name, "kind": "base", "world": "arithmetic",
                                                               "dose": 0.0, "preset": "validation"}))
    layout = [("c-cal", "creation", "calibration", 0.05), ("a-cal", "activation", "calibration", 0.005),
              ("c-test", "creation", "test", 0.05), ("a-test", "activation", "test", 0.005)]
    for i, (name, label, split, scale) in enumerate(layout):
        save_noisy_twin(zoo / "vt-base", zoo / name, scale=scale, seed=i + 1)
        (zoo / name / "manifest.json").write_text(json.dumps({
            "name": name, "kind": "rl", "base": "vt-base", "world": "arithmetic", "dose": 0.0, "label": label,
            "split": split, "recipe": "edge", "preset": "validation",
            # synthetic cases: the gain check is what admits a labelled pair into the validation set
            "gain_check": {"kind": "passk", "passed": True},
            "config": {"arithmetic": {"min_operands": 3, "max_operands": 3}, "eval": {"levels": [2, 3, 4]}}}))
    monkeypatch.setenv("RLMETA_HOME", str(tmp_path / "home"))
    (tmp_path / "data" / "zoo").mkdir(parents=True)
    monkeypatch.setenv("RLMETA_DATA", str(tmp_path / "data"))  # only this test's zoo, not the shipped one
    return ScorecardConfig.smoke().replace(indicators=("boundary", "directions", "weights"))


def test_run_validation_on_a_labelled_zoo_of_real_tiny_pairs(tmp_path, monkeypatch):
    """Four labelled tiny pairs (two per split) and a second-seed base in a user zoo: scorecards, the fit, the table,
    the figures. Random weights solve nothing, so every pair reads no gain (no_signal), whatever its label."""
    from rlmeta_interp.analysis.scorecard import load_scorecard

    cfg = tiny_labelled_zoo(tmp_path, monkeypatch)
    summary = vr.run_validation(tmp_path / "cards", table_dir=tmp_path / "table", config=cfg, n_boot=50,
                                progress=False)
    assert sorted(summary["pairs"]["calibration"]) == ["a-cal", "c-cal"]
    assert sorted(summary["pairs"]["test"]) == ["a-test", "c-test"]
    ev = summary["evaluation"]
    assert set(ev["summary"]["predictions"].values()) == {"no_signal"}
    assert ev["summary"]["balanced_accuracy"] == 0.0 and ev["summary"]["recall"]["creation"] == 0.0
    # none of the validation preset's models is in this zoo, and the run records so
    from rlmeta_interp.organism.presets import preset_specs

    labelled = [s.name for s in preset_specs("validation") if s.kind != "base"]
    assert summary["build"] == {"preset": "validation", "labelled_models": len(labelled), "not_built": labelled,
                                "pairs_requested": None, "not_validation_cases": [], "not_in_table": sorted(labelled)}
    # per class, the held-out pairs each indicator had no statistic for, as the pair table has them
    table = pd.read_csv(tmp_path / "table" / vr.PAIRS_CSV)
    held = table[table["split"] == "test"]
    for r in ev["indicators"]:
        for c, (k, n) in r["test_unread"].items():
            assert (k, n) == (int(held.loc[held["label"] == c, r["indicator"]].isna().sum()), 1)
    assert (tmp_path / "table" / vr.SUMMARY_JSON).exists() and (tmp_path / "table" / "validation_roc.png").exists()
    pairs = pd.read_csv(tmp_path / "table" / vr.PAIRS_CSV)
    assert pairs["directions: CKA"].between(-1.0, 0.0).all()  # a candidate reading, from the saved metrics
    # the second pretraining seed scales the directions indicator
    card = load_scorecard(tmp_path / "cards" / "c-test")
    # RL trained on 3 operands; the boundary is read at every level the manifest evaluates
    assert set(card.results["boundary"].tables["by_level"]["level"]) == {2, 3, 4}
    assert card.label == "creation" and card.split == "test"
    assert vrd.fitted_reading(card, tmp_path / "table") == "no_signal"  # no gain, whatever the label
    assert vrd.fitted_reading(card, tmp_path / "no-table") is None
    assert card.results["directions"].metric("scaled_distance") > 0


def test_a_full_run_keeps_the_tables_history_of_fit_changes(tmp_path, monkeypatch):
    """A full run over an earlier table in the same folder keeps that table's history and adds its own record, so
    held-out readings seen when an earlier fit changed never count as a clean test again; a run whose fit differs
    from the earlier table's is itself a fit change with the earlier held-out pairs in view."""
    from rlmeta_interp.io import write_json_atomic

    cfg = tiny_labelled_zoo(tmp_path, monkeypatch)
    first = vr.run_validation(tmp_path / "cards", table_dir=tmp_path / "table", config=cfg, n_boot=50,
                              progress=False)
    assert "added" not in first["run"] and "clean_test" not in first  # nothing before it
    # an earlier change of the fit, with both held-out pairs in view, and a fit the run will not reproduce
    earlier = {"pairs": ["c-cal"], "calibration": ["c-cal"], "test_in_view": ["a-test", "c-test"]}
    doctored = {**first, "run": {**first["run"], "added": [earlier]},
                "fitted": {**first["fitted"], "notes": ["another fit"]}}
    write_json_atomic(tmp_path / "table" / vr.SUMMARY_JSON, doctored, checksum=True)
    again = vr.run_validation(tmp_path / "cards", table_dir=tmp_path / "table", config=cfg, n_boot=50,
                              progress=False)
    history = again["run"]["added"]
    assert history[0] == earlier and history[-1]["full_run"] and history[-1]["new_pairs"] == []
    assert history[-1]["fit_changed"] and history[-1]["test_in_view"] == ["a-test", "c-test"]
    assert again["clean_test"]["pairs"] == []
    # the same fit again: the run is recorded, not as a change; nothing becomes clean
    third = vr.run_validation(tmp_path / "cards", table_dir=tmp_path / "table", config=cfg, n_boot=50,
                              progress=False)
    assert len(third["run"]["added"]) == 3 and "fit_changed" not in third["run"]["added"][-1]
    assert third["clean_test"]["pairs"] == []
    # a pair first measured after the last change stays clean through a full run that leaves the fit as it was
    history = [{**earlier, "test_in_view": ["a-test"]}, {"pairs": ["c-test"], "new_pairs": ["c-test"]}]
    write_json_atomic(tmp_path / "table" / vr.SUMMARY_JSON, {**third, "run": {**third["run"], "added": history}},
                      checksum=True)
    fourth = vr.run_validation(tmp_path / "cards", table_dir=tmp_path / "table", config=cfg, n_boot=50,
                               progress=False)
    assert "fit_changed" not in fourth["run"]["added"][-1] and fourth["clean_test"]["pairs"] == ["c-test"]


def test_the_verdict_waits_for_every_designed_pair_of_the_clean_test():
    summary = vrd.committed_summary(REPO_ROOT / "figures")
    assert summary["clean_test"]["evaluation"] is not None, "the committed table has a clean test"
    waiting = " ".join(vr.render_trust_paragraph({**summary, "build": {**summary["build"],
                                                                      "not_in_table": ["p", "q"]}}).split())
    kind = "bar test" if vb.judged_since_fit_change(summary["run"]) else "clean test"
    assert f"The {kind} is not complete (2 designed pairs have no row yet), so the current fit is not judged" in waiting
    complete = {**summary, "build": {**summary["build"], "not_in_table": []}}
    done = " ".join(vr.render_trust_paragraph(complete).split())
    assert "not complete" not in done and (f"The {kind}'s pairs meet" in done or "do not meet" in done)
    # a pass after a judged miss of the same fit says so beside the pass
    missed = [a for a in vb.judgements_since_fit_change(summary["run"]) if not a["judged_before"]["met_bar"]]
    after_miss = f"The same fit missed the bar on {len(missed)} earlier judged test"
    assert (after_miss in done) == bool(vb.meets_bar(complete) and missed)
    if after_miss in done:
        assert "so this is a pass after a miss, not a first pass: read a *creation* verdict only beside" in done
    # the same table with every judged test of its fit recorded as met: no miss is named
    met = json.loads(json.dumps(complete))
    for a in vb.judgements_since_fit_change(met["run"]):
        a["judged_before"]["met_bar"] = True
    assert "missed the bar on" not in " ".join(vr.render_trust_paragraph(met).split())
