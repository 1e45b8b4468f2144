"""The committed validation table as other code reads it: the rules it fitted for a world, and a pair's reading."""

from __future__ import annotations

import pytest

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


def test_pairs_outside_the_table_are_read_by_its_fit_without_touching_it(tmp_path, monkeypatch, capsys):
    import json

    import pandas as pd

    from rlmeta_interp.analysis.validation import report as vr
    from rlmeta_interp.cli import main
    from rlmeta_interp.errors import InvalidConfigError, UnknownModelError
    from rlmeta_interp.io import read_csv, sha256_file

    from ...conftest import save_noisy_twin
    from .test_report import tiny_labelled_zoo

    cfg = tiny_labelled_zoo(tmp_path, monkeypatch)
    table = tmp_path / "table"
    vr.run_validation(tmp_path / "cards", table_dir=table, config=cfg, n_boot=50, progress=False)
    before = {p.name: sha256_file(p) for p in table.iterdir() if p.is_file()}
    # a labelled pair of another world, built outside the validation preset (as a pilot's pairs are)
    zoo = tmp_path / "home" / "zoo"
    save_noisy_twin(zoo / "vt-base", zoo / "x-pilot", scale=0.05, seed=9)
    (zoo / "x-pilot" / "manifest.json").write_text(json.dumps({
        "name": "x-pilot", "kind": "rl", "base": "vt-base", "world": "planning", "dose": 0.0, "label": "creation",
        "recipe": "pilot", "gain_check": {"kind": "passk", "passed": False}}))
    readings = tmp_path / "readings.csv"
    argv = ["--quiet", "validate", "--read", "x-pilot", "--table-dir", str(table), "--out", str(tmp_path / "rc"),
            "--readings", str(readings)]
    assert main(argv) == 0
    assert "x-pilot" in capsys.readouterr().out
    got = read_csv(readings)  # written with its checksum
    row = got.iloc[0]
    assert len(got) == 1 and row["pair"] == "x-pilot" and row["label"] == "creation"
    assert row["gain_check"] == "failed" and not row["case"] and not row["world_calibrated"]
    assert row["reading"] == "no_signal"  # random weights gain nothing
    summary = vrd.committed_summary(table)
    assert set(summary["fitted"]["inputs"]) <= set(got.columns)
    # the table is left as it was, and the pair stays out of it
    assert before == {p.name: sha256_file(p) for p in table.iterdir() if p.is_file()}
    assert "x-pilot" not in set(pd.read_csv(table / vr.PAIRS_CSV)["pair"])
    with pytest.raises(InvalidConfigError, match="rows of the committed table"):
        vrd.read_pairs(["c-test"], folder=table, progress=False)
    with pytest.raises(UnknownModelError):
        vrd.read_pairs(["no-such-pair"], folder=table, progress=False)
    assert main(["validate", "--read", "x-pilot", "--refit"]) == 2
    assert "--read cannot take --refit" in capsys.readouterr().err
    assert main(["validate", "--readings", str(readings)]) == 2
