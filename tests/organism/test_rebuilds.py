import json

import pytest

from rlmeta_interp.errors import InvalidConfigError
from rlmeta_interp.organism import rebuilds
from rlmeta_interp.organism.manifests import validation_manifests_dir


def test_rebuild_rows_set_each_rebuild_beside_its_record(tmp_path):
    rec_dir, re_dir = tmp_path / "validation", tmp_path / "rebuilds"
    rec_dir.mkdir()
    re_dir.mkdir()

    def write(folder, name, weights, gain=None, base=None, base_weights=None, regret=5.0):
        m = {"name": name, "label": "creation" if base else "", "files": {"model.safetensors": weights},
             "metrics": {"regret_sampled": regret}}
        if base:
            m.update(base=base, base_weights_sha256=base_weights)
        if gain:
            m["gain_check"] = gain
        (folder / f"{name}.json").write_text(json.dumps(m))

    passed = {"kind": "regret", "passed": True, "regret_reduction": 1.37, "regret_reduction_ci": [0.79, 1.95]}
    failed = {"kind": "regret", "passed": False, "regret_reduction": -0.15, "regret_reduction_ci": [-0.65, 0.35]}
    write(rec_dir, "b", "w1")
    write(rec_dir, "r", "w2", passed, base="b", base_weights="w1", regret=4.8)
    write(re_dir, "b", "w1")  # the same weights as recorded
    write(re_dir, "r", "w3", failed, base="b", base_weights="w9", regret=6.33)
    rows = {r["model"]: r for r in rebuilds.rebuild_rows(re_dir, rec_dir)}
    assert rows["b"]["same weights as the record"] == "yes" and rows["b"]["label"] == "(base)"
    assert rows["r"] == {"model": "r", "label": "creation", "same weights as the record": "no; base no",
                         "sampled regret, record / rebuild": "4.80 / 6.33",
                         "recorded gain check": "passed: regret reduction 1.37 [0.79, 1.95]",
                         "rebuilt gain check": "failed: regret reduction -0.15 [-0.65, 0.35]"}
    assert rebuilds.rebuild_rows(tmp_path / "none", rec_dir) == []
    write(re_dir, "x", "w4")  # a rebuild with no record to sit beside
    with pytest.raises(InvalidConfigError, match="holds no record"):
        rebuilds.rebuild_rows(re_dir, rec_dir)


def test_export_rebuilds_records_only_models_built_with_other_weights(tmp_path, monkeypatch):
    from rlmeta_interp.io import sha256_file, write_json_atomic
    from rlmeta_interp.organism import presets

    monkeypatch.setenv("RLMETA_DATA", str(tmp_path / "data"))
    zoo_dir = tmp_path / "zoo"
    same, other = presets.depth_base(0.0, "val", 0), presets.depth_base(0.1, "val", 0)
    for spec, recorded in ((same, b"w-same"), (other, b"w-recorded")):
        (zoo_dir / spec.name).mkdir(parents=True)
        weights = zoo_dir / spec.name / "model.safetensors"
        weights.write_bytes(b"w-same" if spec is same else b"w-rebuilt")
        m = {"name": spec.name, "kind": "base", "world": "arithmetic", "dose": spec.dose, "seed": 0,
             "config": spec.to_dict(), "files": {weights.name: sha256_file(weights)}}
        (zoo_dir / spec.name / "manifest.json").write_text(json.dumps(m))
        record = tmp_path / "rec.bin"
        record.write_bytes(recorded)
        write_json_atomic(validation_manifests_dir() / f"{spec.name}.json.gz",
                          {**m, "files": {weights.name: sha256_file(record)}}, compact=True)
    written = rebuilds.export_rebuilds(zoo_dir)
    assert written == [rebuilds.rebuilds_dir() / f"{other.name}.json.gz"]  # the same weights are no rebuild
    (row,) = rebuilds.rebuild_rows(rebuilds.rebuilds_dir(), validation_manifests_dir())
    assert row["model"] == other.name and row["same weights as the record"] == "no"
    assert (validation_manifests_dir() / f"{other.name}.json.gz").exists()  # the record stays


def _manifest(name, weights, *, base=None, base_weights=None, rl_seed=0, passed=None, label="creation"):
    m = {"name": name, "label": "" if base is None else label, "files": {"model.safetensors": weights},
         "config": {"rl": {"seed": rl_seed} if base else None}}
    if base is not None:
        m.update(base=base, base_weights_sha256=base_weights)
        m["gain_check"] = {"kind": "regret", "passed": passed, "regret_reduction": 1.0 if passed else -0.1,
                           "regret_reduction_ci": [0.5, 1.5] if passed else [-0.6, 0.4]}
    return m


def test_rl_seed_rows_list_every_run_from_a_rebuilt_base_with_its_record(tmp_path):
    rec, re_dir, added = tmp_path / "validation", tmp_path / "rebuilds", tmp_path / "added"
    for folder in (rec, re_dir, added):
        folder.mkdir()

    def write(folder, m):
        (folder / f"{m['name']}.json").write_text(json.dumps(m))

    write(re_dir, _manifest("b0", "w-b0"))
    write(re_dir, _manifest("b5", "w-b5"))
    write(re_dir, _manifest("b0-rl-s1", "w1", base="b0", base_weights="w-b0", rl_seed=1, passed=True))
    write(re_dir, _manifest("b0-rl", "w0", base="b0", base_weights="w-b0", rl_seed=0, passed=False))
    write(rec, _manifest("b0-rl", "w-rec", base="b0", base_weights="w-old", rl_seed=0, passed=True))
    write(rec, _manifest("b0-rl-s1", "w-rec1", base="b0", base_weights="w-old", rl_seed=1, passed=False))
    write(added, _manifest("b0-rl-s2", "w2", base="b0", base_weights="w-b0", rl_seed=2, passed=True))
    write(added, _manifest("b5-rl-s2", "w3", base="b5", base_weights="w-b5", rl_seed=2, passed=False,
                           label="activation"))
    rows = rebuilds.rl_seed_rows(added, re_dir, rec)
    # by base, then RL seed; bases themselves are no runs
    assert [(r["run"], r["RL seed"], r["built"]) for r in rows] == [
        ("b0-rl", 0, "rebuilt validation run"), ("b0-rl-s1", 1, "rebuilt validation run"),
        ("b0-rl-s2", 2, "added RL seed"), ("b5-rl-s2", 2, "added RL seed")]
    assert rows[0]["gain check"].startswith("failed") and rows[0]["recorded gain check"].startswith("passed")
    assert rows[1]["recorded gain check"].startswith("failed") and rows[2]["recorded gain check"] == "(no record)"
    assert [r["passed"] for r in rows] == [False, True, True, False]
    summary = rebuilds.rl_seed_summary(rows)
    # exact intervals: 2 of 3 -> [0.094, 0.992]; 0 of 1 -> [0, 0.975]; 2 of 4 -> [0.068, 0.932]
    assert "- b0 (creation by design): 2 of 3 runs passed the gain check (share 0.67, exact 95% interval 0.09 to" \
           " 0.99)." in summary
    assert "- b5 (activation by design): 0 of 1 runs passed the gain check (share 0.00, exact 95% interval 0.00" \
           " to 0.97)." in summary
    assert "- all bases: 2 of 4 runs passed the gain check (share 0.50, exact 95% interval 0.07 to 0.93)." in summary
    assert summary.endswith("- The records of the rebuilt validation runs (built from the recorded bases): 1 of 2"
                            " passed.\n")
    assert rebuilds.rl_seed_summary([]) == "(no RL run from a rebuilt base recorded)\n"
    assert rebuilds.rl_seed_headline(rows) == (
        "Under the validation bandit RL budget, 2 of 4 RL runs from 2 rebuilt bases passed their gain check (exact 95%"
        " interval 0.07 to 0.93; data/README.md, \"How often a run of this budget gains\"); 2 of those runs rebuild"
        " validation runs, whose records (trained from the recorded bases) passed 1 of 2.")
    # a run trained from other weights than the rebuilt base is refused, not credited to it
    write(added, _manifest("b5-rl-s3", "w4", base="b5", base_weights="w-other", rl_seed=3, passed=True))
    with pytest.raises(InvalidConfigError, match="not trained from the rebuilt b5"):
        rebuilds.rl_seed_rows(added, re_dir, rec)


def test_export_rlseeds_records_the_tests_runs_and_not_their_bases(tmp_path, monkeypatch):
    from rlmeta_interp.io import sha256_file
    from rlmeta_interp.organism.presets import preset_specs

    monkeypatch.setenv("RLMETA_DATA", str(tmp_path / "data"))
    zoo_dir = tmp_path / "zoo"
    specs = preset_specs("bandit-rlseeds")
    for spec in specs:  # bases first, so each run can name its base's weights as a build does
        (zoo_dir / spec.name).mkdir(parents=True)
        weights = zoo_dir / spec.name / "model.safetensors"
        weights.write_bytes(spec.name.encode())
        m = {"name": spec.name, "kind": spec.kind, "config": spec.to_dict(), "files": {weights.name: sha256_file(weights)}}
        if spec.base:
            m["base_weights_sha256"] = sha256_file(zoo_dir / spec.base / "model.safetensors")
        (zoo_dir / spec.name / "manifest.json").write_text(json.dumps(m))
    written = rebuilds.export_rlseeds(zoo_dir)
    runs = [s.name for s in specs if s.kind == "rl"]
    assert len(runs) == 4 and sorted(p.name for p in written) == sorted(f"{n}.json.gz" for n in runs)
    assert all(p.parent == rebuilds.rlseeds_dir() for p in written)
