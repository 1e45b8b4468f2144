"""Pairs outside the validation table, read by its fit at its sizes without touching it, and evaluated as a
held-out test over the validation cases among them."""

from __future__ import annotations

import pytest

from rlmeta_interp.analysis.validation import outside as vo


def test_pairs_outside_the_table_are_read_by_its_fit_without_touching_it(tmp_path, monkeypatch, capsys):
    """validate --read: a labelled pair outside the validation preset is scored at the table's sizes and read as
    ``validate --add`` reads a pair, and the table is left as it was; validation pairs and stale builds are refused."""
    import json

    import pandas as pd

    from rlmeta_interp.analysis.validation import committed as vc
    from rlmeta_interp.analysis.validation import report as vr
    from rlmeta_interp.analysis.validation.reading import committed_summary, fit_sha256
    from rlmeta_interp.cli import main
    from rlmeta_interp.errors import InvalidConfigError, UnknownModelError
    from rlmeta_interp.io import read_csv, read_json, sha256_file, write_json_atomic
    from rlmeta_interp.jobs import read_pairs_job

    from ...conftest import save_noisy_twin
    from .test_report import tiny_labelled_zoo

    cfg = tiny_labelled_zoo(tmp_path, monkeypatch)
    table = tmp_path / "table"
    vr.run_validation(tmp_path / "cards", table_dir=table, config=cfg, n_boot=50, progress=False)
    before = {p.name: sha256_file(p) for p in table.iterdir() if p.is_file()}
    # a labelled pair built outside the validation preset (as a pilot's pairs are), of a world without cuts
    zoo = tmp_path / "home" / "zoo"
    save_noisy_twin(zoo / "vt-base", zoo / "x-pilot", scale=0.05, seed=9)
    (zoo / "x-pilot" / "manifest.json").write_text(json.dumps({
        "name": "x-pilot", "kind": "rl", "base": "vt-base", "world": "planning", "dose": 0.0, "label": "creation",
        "recipe": "pilot", "gain_check": {"kind": "passk", "passed": False}}))
    got, result, dest = read_pairs_job(["x-pilot"], out=tmp_path / "rc", readings=tmp_path / "readings.csv",
                                       table_dir=table, progress=False)
    assert dest == tmp_path / "readings.csv"
    pd.testing.assert_frame_equal(read_csv(dest, keep_default_na=False, na_values=[""]), got, check_dtype=False)
    # its gain check failed: not a case, so nothing to evaluate
    assert read_json(dest.with_suffix(".json"), required=True) == result
    assert result["pairs"] == [] and "evaluation" not in result
    # what the reading rests on: the table's two files, the code, and each pair's gain check
    assert result["pairs_csv_sha256"] == sha256_file(table / vr.PAIRS_CSV) and result["preset"] is None
    assert set(result["code"]) == {"rlmeta_interp", "git_commit", "git_dirty", "packages"}
    assert result["read"] == {"x-pilot": {"label": "creation", "gain_check": "failed", "case": False,
                                          "reading": got.iloc[0]["reading"], "expansion_reading": "n/a"}}
    assert got.iloc[0]["expansion_reading"] == "n/a"  # its base has no per-level evaluation here
    # a registered table checksum: another one is refused before anything is measured, a prefix of the right one reads
    with pytest.raises(InvalidConfigError, match="the table file changed since"):
        vo.read_pairs(["x-pilot"], out=tmp_path / "rc", folder=table, progress=False, expected_table="0" * 64)
    with pytest.raises(InvalidConfigError, match="pairs_csv is"):  # the per-pair table's checksum, given second
        vo.read_pairs(["x-pilot"], folder=table, progress=False, expected_table=[result["table_sha256"], "0" * 12])
    with pytest.raises(InvalidConfigError, match="not 3 values"):
        vo.read_pairs(["x-pilot"], folder=table, progress=False, expected_table=["0" * 12] * 3)
    with pytest.raises(InvalidConfigError, match="at least its first 12"):
        vo.read_pairs(["x-pilot"], out=tmp_path / "rc", folder=table, progress=False, expected_table="abc")
    same, _ = vo.read_pairs(["x-pilot"], out=tmp_path / "rc", folder=table, progress=False,
                            expected_table=[result["table_sha256"][:16].upper(), result["pairs_csv_sha256"]])
    pd.testing.assert_frame_equal(same, got)
    # with per-level evaluations in both manifests, the expansion reading is made from the trained model's own base
    # (named in its manifest; the spec's ``base`` is a spec, not a name): pass@n expanded at level 3 reads creation
    def by_level(counts2, counts3):
        return {"n_samples": 8, "by_level": {"2": {"correct_counts": counts2, "guess_pass@8": 0.0},
                                             "3": {"correct_counts": counts3, "guess_pass@8": 0.1}}}

    for name, metrics in (("vt-base", by_level([2] * 20, [0] * 20)), ("x-pilot", by_level([8] * 20, [4] * 20))):
        m = json.loads((zoo / name / "manifest.json").read_text())
        (zoo / name / "manifest.json").write_text(json.dumps({**m, "metrics": {**m.get("metrics", {}), **metrics}}))
    _touch(zoo)
    expanded, _ = vo.read_pairs(["x-pilot"], out=tmp_path / "rc", folder=table, progress=False)
    assert expanded.iloc[0]["expansion_reading"] == "creation"
    assert expanded.drop(columns="expansion_reading").equals(got.drop(columns="expansion_reading"))
    # a preset is read whole: not a subset of it, nor other pairs, nor the validation preset
    with pytest.raises(InvalidConfigError, match="read exactly its"):
        vo.read_pairs(["x-pilot"], folder=table, progress=False, preset="composition-test")
    with pytest.raises(InvalidConfigError, match="validate --add"):
        vo.preset_pairs("validation")
    from rlmeta_interp.organism.presets import preset_specs

    assert vo.preset_pairs("composition-test") == [s.name for s in preset_specs("composition-test") if s.label]
    with pytest.raises(InvalidConfigError, match="name none"):
        read_pairs_job(["x-pilot"], out=None, readings=None, preset="composition-test")
    row = got.iloc[0]
    assert len(got) == 1 and row["pair"] == "x-pilot" and row["label"] == "creation"
    assert row["gain_check"] == "failed" and not row["case"] and not row["own_world_cuts"]
    assert row["table_sha256"] == sha256_file(table / vr.SUMMARY_JSON)
    assert row["fit_sha256"] == fit_sha256(committed_summary(table))
    # the table is left as it was, and the pair stays out of it
    assert before == {p.name: sha256_file(p) for p in table.iterdir() if p.is_file()}
    assert "x-pilot" not in set(pd.read_csv(table / vr.PAIRS_CSV)["pair"])
    # read as validate --add reads a pair: c-test, taken out of a copy of the table, then read and added
    partial = tmp_path / "partial"
    partial.mkdir()
    summary = json.loads((table / vr.SUMMARY_JSON).read_text())
    summary["pairs"] = {k: [p for p in v if p != "c-test"] for k, v in summary["pairs"].items()}
    write_json_atomic(partial / vr.SUMMARY_JSON, summary, checksum=True)
    rows = pd.read_csv(table / vr.PAIRS_CSV, keep_default_na=False, na_values=[""])
    (partial / vr.PAIRS_CSV).write_text(rows[rows["pair"] != "c-test"].to_csv(index=False))
    from rlmeta_interp.io import write_checksum

    write_checksum(partial / vr.PAIRS_CSV)
    with pytest.raises(InvalidConfigError, match="are validation pairs"):  # its manifest says so
        vo.read_pairs(["c-test"], folder=partial, progress=False)
    manifest = zoo / "c-test" / "manifest.json"
    m = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({k: v for k, v in m.items() if k != "preset"}))
    _touch(zoo)
    rows, result = vo.read_pairs(["c-test"], out=tmp_path / "rc", folder=partial, progress=False)
    read = rows.iloc[0]
    added = vc.add_to_committed(["c-test"], out=tmp_path / "rc", folder=partial, table_dir=tmp_path / "added",
                                progress=False)
    assert read["reading"] == added["evaluation"]["summary"]["predictions"]["c-test"]
    # a case: evaluated as the table evaluates its held-out pairs, over the cases read
    ev = result["evaluation"]
    assert result["pairs"] == ["c-test"] and ev["n_test"] == 1
    assert ev["summary"]["predictions"] == {"c-test": read["reading"]} and ev["meets_bar"] is False
    assert ev["indicators"] and all(r["counts_for_bar"] is False for r in ev["indicators"])  # one pair, one base
    assert ev["summary"]["creation_vs_activation"] is None  # one class among the cases
    rule = ev["expansion_rule"]  # the label-free baseline, scored over the same cases
    assert list(rule["predictions"]) == ["c-test"] and rule["predictions"]["c-test"] == read["expansion_reading"]
    added_row = pd.read_csv(tmp_path / "added" / vr.PAIRS_CSV).set_index("pair").loc["c-test"]
    assert read["vote_rule"] == added_row["vote_summary"]
    with pytest.raises(InvalidConfigError, match="are validation pairs"):
        vo.read_pairs(["c-test"], folder=table, progress=False)
    with pytest.raises(UnknownModelError):
        vo.read_pairs(["no-such-pair"], folder=table, progress=False)
    # a pair of a preset that no longer builds it so
    m = json.loads((zoo / "x-pilot" / "manifest.json").read_text())
    (zoo / "x-pilot" / "manifest.json").write_text(json.dumps({**m, "preset": "composition"}))
    _touch(zoo)
    with pytest.raises(InvalidConfigError, match="not built up to date"):
        vo.read_pairs(["x-pilot"], folder=table, progress=False)
    for argv, why in ((["validate", "--read", "x-pilot", "--refit"], "--read cannot take --refit"),
                      (["validate", "--read", "x-pilot", "--table-dir", str(table)], "cannot take --table-dir"),
                      (["validate", "--readings", str(dest)], "go with --read"),
                      (["validate", "--preset", "composition-test"], "go with --read")):
        assert main(argv) == 2
        assert why in capsys.readouterr().err


def _touch(folder) -> None:
    """Move ``folder``'s mtime on: the registry rescans a zoo root when its mtime changes, and a manifest rewritten in
    place (as a test does) does not change it."""
    import os

    st = folder.stat()
    os.utime(folder, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def test_the_expansion_reading_reads_pass_at_k_alone_without_the_label():
    """The label-free baseline: pass@n expanded at a deeper level reads creation, pass@1 up without it activation,
    neither no-signal, whatever the pair's label; without per-level evaluations, n/a."""
    def level(counts, guess=0.0):
        return {"correct_counts": counts, "guess_pass@8": guess}

    def metrics(levels):
        return {"n_samples": 8, "by_level": levels}

    base = metrics({"2": level([2] * 20), "3": level([0] * 20)})
    expanded = metrics({"2": level([8] * 20), "3": level([4] * 20, guess=0.1)})
    sharpened = metrics({"2": level([8] * 20), "3": level([0] * 20)})
    assert vo.expansion_reading(base, expanded) == "creation"
    assert vo.expansion_reading(base, sharpened) == "activation"
    assert vo.expansion_reading(base, base) == "no_signal"
    # above the base but not above the guesser at the same n: no expansion
    assert vo.expansion_reading(base, metrics({"2": level([8] * 20), "3": level([4] * 20, guess=1.0)})) == "activation"
    assert vo.expansion_reading(None, expanded) == "n/a" and vo.expansion_reading(base, {"regret": 1.0}) == "n/a"
