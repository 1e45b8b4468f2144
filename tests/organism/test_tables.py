import gzip

import pytest

from rlmeta_interp.errors import InvalidConfigError
from rlmeta_interp.organism import tables
from rlmeta_interp.paths import shipped_zoo_dir


def test_data_readme_tables_are_generated_from_the_shipped_manifests():
    """Every number in the generated sections of data/README.md comes from the manifests (none typed by hand)."""
    readme = (shipped_zoo_dir().parent / "README.md").read_text()
    assert tables.render_sections(readme, tables.readme_sections(shipped_zoo_dir())) == readme, (
        "data/README.md is stale: run `python -m rlmeta_interp.organism.tables`")


def test_gain_rows_read_labelled_models(tmp_path):
    import json

    m = {"name": "x-rl", "kind": "rl", "world": "arithmetic", "dose": 0.0, "seed": 0, "label": "creation",
         "split": "test", "recipe": "depth-edge", "metrics": {},
         "gain_check": {"kind": "passk", "passed": True, "levels": {"5": {
             "n_samples": 8, "base_pass@1": 0.0, "trained_pass@1": 0.25, "diff_pass@1_ci": [0.1, 0.4],
             "base_pass@8": 0.0, "trained_pass@8": 0.5, "guess_pass@8": 0.05, "diff_pass@8_ci": [0.3, 0.7],
             "preserved": 0, "expanded": 10, "shrunk": 0}}}}
    (tmp_path / "x-rl").mkdir()
    (tmp_path / "x-rl" / "manifest.json").write_text(json.dumps(m))
    (row,) = tables.gain_rows(tmp_path)
    assert row["trained pass@n"] == "50.0" and row["diff pass@n (CI)"] == "[+30.0, +70.0]"
    assert row["gain check"] == "passed" and row["preserved/expanded/shrunk"] == "0/10/0"
    text = "a\n<!-- begin gain-table -->\nold\n<!-- end gain-table -->\nb"
    out = tables.render_sections(text, {"gain-table": tables.gain_markdown(tmp_path)})
    assert "old" not in out and "| x-rl |" in out and out.startswith("a\n") and out.endswith("b")


def test_export_keeps_only_manifests_built_from_the_current_specs(tmp_path):
    """The committed validation manifests are those of models built from exactly the preset's specs; a model built
    from an older config, or no longer in the preset, is dropped, and the counts name failed pairs apart."""
    import json

    from rlmeta_interp.io import read_json, sha256_file
    from rlmeta_interp.organism import presets

    base = presets.depth_base(0.0, "val", 0)
    sft = presets.depth_sft(base, "calibration")
    old = sft.replace(pretrain=sft.pretrain.replace(steps=7))
    zoo_dir, dest = tmp_path / "zoo", tmp_path / "validation"
    for spec, extra in ((base, {}), (old, {"label": "creation", "split": "calibration", "recipe": "sft-calibration",
                                            "gain_check": {"kind": "regret", "passed": False, "regret_reduction": -0.5,
                                                           "regret_reduction_ci": [-0.9, -0.1]}})):
        (zoo_dir / spec.name).mkdir(parents=True)
        weights = zoo_dir / spec.name / "model.safetensors"  # a built model has weights (their bytes matter not here)
        weights.write_bytes(b"first weights" if spec is base else b"sft weights")
        m = {"name": spec.name, "kind": spec.kind, "world": "arithmetic", "dose": 0.0, "seed": 0,
             "config": spec.to_dict(), "build": {"cpu_seconds": 1800.0}, "files": {weights.name: sha256_file(weights)},
             **({"base": base.name, "base_weights_sha256": sha256_file(zoo_dir / base.name / weights.name)}
                if spec.base else {}),
             **extra}
        (zoo_dir / spec.name / "manifest.json").write_text(json.dumps(m))
    dest.mkdir()
    (dest / "gone-from-preset.json").write_text("{}")
    (dest / "gone-too.json.gz").write_bytes(gzip.compress(b"{}"))
    (dest / f"{base.name}.json").write_text("{}")  # an uncompressed export of a model exported again goes
    written = tables.export_manifests(zoo_dir, dest, [base, sft])
    assert [p.name for p in written] == [f"{base.name}.json.gz"] and sorted(dest.iterdir()) == written
    assert tables.exported_manifest_path(dest, base.name) == written[0]
    assert tables.exported_manifest_path(dest, sft.name) is None
    assert tables.validation_rows(dest) == []  # a base carries no label
    assert "Models built: 1, 0.50 CPU hours" in tables.validation_counts(dest)
    # with the older model exported by hand, it is listed as a failed pair, not as a validation case
    tables.export_manifests(zoo_dir, dest, [base, old])
    counts = tables.validation_counts(dest)
    assert "creation, recipe sft-calibration: 1 pair without a passed gain check" in counts
    assert "validation case" not in counts
    (row,) = tables.validation_rows(dest)
    assert row["gain check"] == "failed" and row["model"] == old.name
    assert row["reading"] == "regret reduction -0.50 [-0.90, -0.10]"
    # an export from a zoo that holds only some models keeps the records of the others while they are of their spec
    partial = tmp_path / "partial-zoo"
    (partial / base.name).mkdir(parents=True)
    for f in (zoo_dir / base.name).iterdir():
        (partial / base.name / f.name).write_bytes(f.read_bytes())
    kept = sorted(dest.iterdir())
    assert tables.export_manifests(partial, dest, [base, old]) == [dest / f"{base.name}.json.gz"]
    assert sorted(dest.iterdir()) == kept
    # ... drops a pair whose base's record names other weights than it was trained from (the base's record stays)
    from rlmeta_interp.io import write_json_atomic

    recorded_base = read_json(dest / f"{base.name}.json.gz")
    write_json_atomic(dest / f"{base.name}.json.gz", {**recorded_base, "files": {"model.safetensors": "0" * 64}})
    assert tables.export_manifests(tmp_path / "empty-zoo", dest, [base, old]) == []
    assert sorted(dest.iterdir()) == [dest / f"{base.name}.json.gz"]
    (dest / f"{base.name}.json.gz").unlink()
    assert tables.export_manifests(zoo_dir, dest, [base, old]) and sorted(dest.iterdir()) == kept
    # ... and a record the preset no longer designs as recorded (the spec changed) or at all, with the pairs of a base
    # that went
    assert tables.export_manifests(partial, dest, [base, sft]) == [dest / f"{base.name}.json.gz"]
    assert sorted(dest.iterdir()) == [dest / f"{base.name}.json.gz"]
    assert tables.export_manifests(zoo_dir, dest, [base, old]) and sorted(dest.iterdir()) == kept
    assert tables.export_manifests(tmp_path / "empty-zoo", dest, [old]) == [] and list(dest.iterdir()) == []
    # pilots: copied beside the manifests already there, which stay (models built outside any preset)
    pilots = tmp_path / "pilots"
    pilots.mkdir()
    (pilots / "built-outside-a-preset.json").write_text("{}")
    assert [p.name for p in tables.copy_manifests(zoo_dir, pilots, [base, sft])] == [f"{base.name}.json"]
    assert sorted(p.name for p in pilots.iterdir()) == sorted([f"{base.name}.json", "built-outside-a-preset.json"])
    # compressed, as the shipped pilots are: the uncompressed copy goes, and the folder lists the model once
    (gz,) = tables.copy_manifests(zoo_dir, pilots, [base, sft], suffix=".json.gz")
    assert gz.name == f"{base.name}.json.gz" and gz.read_bytes()[:2] == b"\x1f\x8b"
    assert read_json(gz)["name"] == base.name
    assert sorted(p.name for p in tables.manifest_files(pilots)) == sorted([gz.name, "built-outside-a-preset.json"])
    with pytest.raises(InvalidConfigError, match="json.gz"):
        tables.copy_manifests(zoo_dir, pilots, [base], suffix=".txt")
    # the first exported record of a model with a weights checksum is kept; one with other weights is refused
    weights = zoo_dir / base.name / "model.safetensors"

    def build(data, **extra):
        weights.write_bytes(data)
        m = read_json(zoo_dir / base.name / "manifest.json")
        (zoo_dir / base.name / "manifest.json").write_text(json.dumps(
            {**m, **extra, "files": {"model.safetensors": sha256_file(weights)}}))

    write_json_atomic(gz, {k: v for k, v in read_json(gz).items() if k != "files"})  # a record without a checksum
    build(b"first weights")
    assert tables.copy_manifests(zoo_dir, pilots, [base], suffix=".json.gz") == [gz]  # the record had no checksum
    recorded = read_json(gz)
    assert recorded["files"]["model.safetensors"] == sha256_file(weights)
    build(b"first weights", note="evaluated again")
    assert tables.copy_manifests(zoo_dir, pilots, [base], suffix=".json.gz") == [gz] and read_json(gz) == recorded
    build(b"other weights")
    with pytest.raises(InvalidConfigError, match="other weights"):
        tables.copy_manifests(zoo_dir, pilots, [base], suffix=".json.gz")
    assert read_json(gz) == recorded  # the record stays
    # the validation export rewrites a record from the zoo: exported twice, nothing is lost, and a re-evaluation is
    # written
    build(b"first weights", note="evaluated again")
    for _ in range(2):
        assert [p.name for p in tables.export_manifests(zoo_dir, dest, [base])] == [f"{base.name}.json.gz"]
    assert read_json(dest / f"{base.name}.json.gz")["note"] == "evaluated again"


def test_stale_stored_gain_checks_are_rewritten(tmp_path):
    import json

    from rlmeta_interp.io import read_json

    level = {"correct_counts": [0] * 10, "guess_pass@8": 0.0}
    base = {"name": "b", "kind": "base", "metrics": {"n_samples": 8, "by_level": {"4": level, "5": level}}}
    up = {"correct_counts": [6] * 10, "guess_pass@8": 0.0}
    trained = {"name": "t", "kind": "rl", "base": "b", "label": "activation", "gain_check": {"passed": False},
               "metrics": {"n_samples": 8, "by_level": {"4": up, "5": up}}}
    (tmp_path / "b.json").write_text(json.dumps(base))
    (tmp_path / "t.json").write_text(json.dumps(trained))
    assert tables.refresh_stored_gain_checks([tmp_path]) == [tmp_path / "t.json"]
    assert read_json(tmp_path / "t.json")["gain_check"]["passed"] is True
    assert tables.refresh_stored_gain_checks([tmp_path]) == []  # current now
    # a compressed (shipped pilot) manifest is rewritten compressed
    from rlmeta_interp.io import write_json_atomic

    gz = tmp_path / "gz"
    gz.mkdir()
    write_json_atomic(gz / "b.json.gz", base, compact=True)
    write_json_atomic(gz / "t.json.gz", trained, compact=True)
    assert tables.refresh_stored_gain_checks([gz]) == [gz / "t.json.gz"]
    assert (gz / "t.json.gz").read_bytes()[:2] == b"\x1f\x8b" and read_json(gz / "t.json.gz")["gain_check"]["passed"]


def test_exported_manifests_thin_the_training_curve_to_evenly_spaced_rows():
    curve = [{"step": float(i + 1), "reward": i / 1500} for i in range(1500)]
    m = {"name": "x", "training_curve": curve, "metrics": {"regret_greedy": 0.5}}
    out = tables.exported_manifest(m)
    steps = [r["step"] for r in out["training_curve"]]
    assert len(steps) == tables.EXPORTED_CURVE_ROWS and steps[0] == 1.0 and steps[-1] == 1500.0
    gaps = {b - a for a, b in zip(steps, steps[1:], strict=False)}
    assert gaps <= {45.0, 46.0}  # evenly spaced: 1499 steps over 33 gaps
    assert out["training_curve_rows"] == 1500 and out["metrics"] == m["metrics"] and len(m["training_curve"]) == 1500
    # the rows are every third of a 100-row thinning: manifests exported at 100 rows thin to these exactly
    hundred = tables.exported_manifest(m, rows=100)["training_curve"]
    assert out["training_curve"] == hundred[::3]
    # the full curve's take-off, from a 46-row forward mean (one thinned row's spacing): rows 728..773 average 0.5
    assert out["takeoff_step_full_curve"] == 729 and tables.running_takeoff(m, 46) == 729
    assert tables.running_takeoff({**m, "budget": {"reward": "random"}}, 46) is None
    assert tables.running_takeoff(m, 2000) is None and tables.running_takeoff({"name": "b"}, 46) is None
    short = {"name": "y", "training_curve": curve[:20]}
    assert tables.exported_manifest(short) is short  # a short curve is kept whole, with no row count added
    assert tables.exported_manifest({"name": "base"}) == {"name": "base"}
    with pytest.raises(InvalidConfigError, match="at least 2"):
        tables.exported_manifest(m, rows=1)


def test_adopted_models_are_their_pilots_under_the_presets_names():
    """A validation model whose manifest says it was adopted from a pilot run is that run: the committed pilot
    manifest has the same spec but for name, variant and recipe, the same base weights and the same weights. Every
    trained pilot is either adopted so, once, or built by a preset of its own (the composition pilot) from that
    preset's current spec."""
    from rlmeta_interp.io import read_json
    from rlmeta_interp.organism.presets import PRESETS, preset_specs
    from rlmeta_interp.organism.spec import OrganismSpec

    specs = {s.name: s for preset in PRESETS for s in preset_specs(preset)}
    adopted = [m for m in map(read_json, tables.manifest_files(tables.validation_manifests_dir())) if "adopted_from" in m]
    trained = [m for m in map(read_json, tables.manifest_files(tables.pilot_manifests_dir())) if m.get("base")]
    in_preset = [m for m in trained if m["name"] in specs]
    assert all(OrganismSpec.from_dict(m["config"]) == specs[m["name"]] for m in in_preset)
    pilots = [m["name"] for m in trained if m["name"] not in specs]
    assert pilots and sorted(m["adopted_from"]["name"] for m in adopted) == sorted(pilots)  # every other one, once
    for m in adopted:
        pilot = read_json(tables.pilot_manifests_dir() / f"{m['adopted_from']['name']}.json.gz")
        strip = {"name", "variant", "recipe"}
        assert {k: v for k, v in pilot["config"].items() if k not in strip} == {
            k: v for k, v in m["config"].items() if k not in strip}, m["name"]
        assert pilot["base_weights_sha256"] == m["base_weights_sha256"] and pilot["base"] == m["base"], m["name"]
        assert pilot["files"]["model.safetensors"] == m["files"]["model.safetensors"], m["name"]


def test_takeoff_step_is_the_first_stored_step_at_half_reward_for_correctness_rewarded_runs(tmp_path):
    from rlmeta_interp.io import write_json_atomic

    curve = [{"step": 1.0, "reward": 0.05}, {"step": 41.0, "reward": 0.49}, {"step": 81.0, "reward": 0.5},
             {"step": 121.0, "reward": 0.2}]
    rl = {"name": "r", "kind": "rl", "world": "composition", "label": "creation", "seed": 0, "dose": 0.0,
          "budget": {"reward": "correct", "steps": 121}, "training_curve": curve}
    assert tables.takeoff_step(rl) == 81 and tables.takeoff_step(rl, level=0.9) is None
    assert tables.takeoff_step({**rl, "budget": {"reward": "random", "steps": 121}}) is None  # about 1/2 by design
    assert tables.takeoff_step({**rl, "training_curve": []}) is None
    # held for two stored rows: 81 falls back to 0.2 after it, so it is no take-off; a last row counts on its own
    assert tables.takeoff_step(rl, rows=2) is None and tables.takeoff_step(rl, level=0.2, rows=2) == 41
    assert tables.takeoff_step({**rl, "training_curve": [*curve, {"step": 161.0, "reward": 0.6}]}, rows=2) == 161
    write_json_atomic(tmp_path / "r.json.gz", rl, compact=True)
    write_json_atomic(tmp_path / "b.json", {"name": "b", "kind": "base", "world": "composition", "dose": 0.0,
                                            "seed": 0, "label": "", "training_curve": curve})
    (row,) = tables.pilot_rows(tmp_path)  # labelled models only, as in validation_rows
    assert row["model"] == "r" and row["RL steps"] == 121 and row["reward >= 0.5 from step"] == 81


def test_rebuild_rows_set_each_rebuild_beside_its_record(tmp_path):
    import json

    import pytest

    from rlmeta_interp.errors import InvalidConfigError
    from rlmeta_interp.organism import tables

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
    rows = {r["model"]: r for r in tables.rebuild_rows(re_dir, rec_dir)}
    assert rows["b"]["same weights as the record"] == "yes" and rows["b"]["label"] == "(base)"
    assert rows["r"] == {"model": "r", "label": "creation", "same weights as the record": "no; base no",
                         "sampled regret, record / rebuild": "4.80 / 6.33",
                         "recorded gain check": "passed: regret reduction 1.37 [0.79, 1.95]",
                         "rebuilt gain check": "failed: regret reduction -0.15 [-0.65, 0.35]"}
    assert tables.rebuild_rows(tmp_path / "none", rec_dir) == []
    write(re_dir, "x", "w4")  # a rebuild with no record to sit beside
    with pytest.raises(InvalidConfigError, match="holds no record"):
        tables.rebuild_rows(re_dir, rec_dir)


def test_export_rebuilds_records_only_models_built_with_other_weights(tmp_path, monkeypatch):
    import json

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
        write_json_atomic(tables.validation_manifests_dir() / f"{spec.name}.json.gz",
                          {**m, "files": {weights.name: sha256_file(record)}}, compact=True)
    written = tables.export_rebuilds(zoo_dir)
    assert written == [tables.rebuilds_dir() / f"{other.name}.json.gz"]  # the same weights are no rebuild
    (row,) = tables.rebuild_rows(tables.rebuilds_dir(), tables.validation_manifests_dir())
    assert row["model"] == other.name and row["same weights as the record"] == "no"
    assert (tables.validation_manifests_dir() / f"{other.name}.json.gz").exists()  # the record stays
