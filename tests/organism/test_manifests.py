import gzip

import pytest

from rlmeta_interp.errors import InvalidConfigError
from rlmeta_interp.organism import manifests, tables


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
    written = manifests.export_manifests(zoo_dir, dest, [base, sft])
    assert [p.name for p in written] == [f"{base.name}.json.gz"] and sorted(dest.iterdir()) == written
    assert manifests.exported_manifest_path(dest, base.name) == written[0]
    assert manifests.exported_manifest_path(dest, sft.name) is None
    assert tables.validation_rows(dest) == []  # a base carries no label
    assert "Models built: 1, 0.50 CPU hours" in tables.validation_counts(dest)
    # with the older model exported by hand, it is listed as a failed pair, not as a validation case
    manifests.export_manifests(zoo_dir, dest, [base, old])
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
    assert manifests.export_manifests(partial, dest, [base, old]) == [dest / f"{base.name}.json.gz"]
    assert sorted(dest.iterdir()) == kept
    # ... drops a pair whose base's record names other weights than it was trained from (the base's record stays)
    from rlmeta_interp.io import write_json_atomic

    recorded_base = read_json(dest / f"{base.name}.json.gz")
    write_json_atomic(dest / f"{base.name}.json.gz", {**recorded_base, "files": {"model.safetensors": "0" * 64}})
    assert manifests.export_manifests(tmp_path / "empty-zoo", dest, [base, old]) == []
    assert sorted(dest.iterdir()) == [dest / f"{base.name}.json.gz"]
    (dest / f"{base.name}.json.gz").unlink()
    assert manifests.export_manifests(zoo_dir, dest, [base, old]) and sorted(dest.iterdir()) == kept
    # ... and a record the preset no longer designs as recorded (the spec changed) or at all, with the pairs of a base
    # that went
    assert manifests.export_manifests(partial, dest, [base, sft]) == [dest / f"{base.name}.json.gz"]
    assert sorted(dest.iterdir()) == [dest / f"{base.name}.json.gz"]
    assert manifests.export_manifests(zoo_dir, dest, [base, old]) and sorted(dest.iterdir()) == kept
    assert manifests.export_manifests(tmp_path / "empty-zoo", dest, [old]) == [] and list(dest.iterdir()) == []
    # pilots: copied beside the manifests already there, which stay (models built outside any preset)
    pilots = tmp_path / "pilots"
    pilots.mkdir()
    (pilots / "built-outside-a-preset.json").write_text("{}")
    assert [p.name for p in manifests.copy_manifests(zoo_dir, pilots, [base, sft])] == [f"{base.name}.json"]
    assert sorted(p.name for p in pilots.iterdir()) == sorted([f"{base.name}.json", "built-outside-a-preset.json"])
    # compressed, as the shipped pilots are: the uncompressed copy goes, and the folder lists the model once
    (gz,) = manifests.copy_manifests(zoo_dir, pilots, [base, sft], suffix=".json.gz")
    assert gz.name == f"{base.name}.json.gz" and gz.read_bytes()[:2] == b"\x1f\x8b"
    assert read_json(gz)["name"] == base.name
    assert sorted(p.name for p in manifests.manifest_files(pilots)) == sorted([gz.name, "built-outside-a-preset.json"])
    with pytest.raises(InvalidConfigError, match="json.gz"):
        manifests.copy_manifests(zoo_dir, pilots, [base], suffix=".txt")
    # the first exported record of a model with a weights checksum is kept; one with other weights is refused
    weights = zoo_dir / base.name / "model.safetensors"

    def build(data, **extra):
        weights.write_bytes(data)
        m = read_json(zoo_dir / base.name / "manifest.json")
        (zoo_dir / base.name / "manifest.json").write_text(json.dumps(
            {**m, **extra, "files": {"model.safetensors": sha256_file(weights)}}))

    write_json_atomic(gz, {k: v for k, v in read_json(gz).items() if k != "files"})  # a record without a checksum
    build(b"first weights")
    assert manifests.copy_manifests(zoo_dir, pilots, [base], suffix=".json.gz") == [gz]  # the record had no checksum
    recorded = read_json(gz)
    assert recorded["files"]["model.safetensors"] == sha256_file(weights)
    build(b"first weights", note="evaluated again")
    assert manifests.copy_manifests(zoo_dir, pilots, [base], suffix=".json.gz") == [gz] and read_json(gz) == recorded
    build(b"other weights")
    with pytest.raises(InvalidConfigError, match="other weights"):
        manifests.copy_manifests(zoo_dir, pilots, [base], suffix=".json.gz")
    assert read_json(gz) == recorded  # the record stays
    # the validation export rewrites a record from the zoo: exported twice, nothing is lost, and a re-evaluation is
    # written
    build(b"first weights", note="evaluated again")
    for _ in range(2):
        assert [p.name for p in manifests.export_manifests(zoo_dir, dest, [base])] == [f"{base.name}.json.gz"]
    assert read_json(dest / f"{base.name}.json.gz")["note"] == "evaluated again"


def test_exported_manifests_thin_the_training_curve_to_evenly_spaced_rows():
    curve = [{"step": float(i + 1), "reward": i / 1500} for i in range(1500)]
    m = {"name": "x", "training_curve": curve, "metrics": {"regret_greedy": 0.5}}
    out = manifests.exported_manifest(m)
    steps = [r["step"] for r in out["training_curve"]]
    assert len(steps) == manifests.EXPORTED_CURVE_ROWS and steps[0] == 1.0 and steps[-1] == 1500.0
    gaps = {b - a for a, b in zip(steps, steps[1:], strict=False)}
    assert gaps <= {45.0, 46.0}  # evenly spaced: 1499 steps over 33 gaps
    assert out["training_curve_rows"] == 1500 and out["metrics"] == m["metrics"] and len(m["training_curve"]) == 1500
    # the rows are every third of a 100-row thinning: manifests exported at 100 rows thin to these exactly
    hundred = manifests.exported_manifest(m, rows=100)["training_curve"]
    assert out["training_curve"] == hundred[::3]
    # the full curve's take-off, from a 46-row forward mean (one thinned row's spacing): rows 728..773 average 0.5
    assert out["takeoff_step_full_curve"] == 729 and manifests.running_takeoff(m, 46) == 729
    assert manifests.running_takeoff({**m, "budget": {"reward": "random"}}, 46) is None
    assert manifests.running_takeoff(m, 2000) is None and manifests.running_takeoff({"name": "b"}, 46) is None
    short = {"name": "y", "training_curve": curve[:20]}
    assert manifests.exported_manifest(short) is short  # a short curve is kept whole, with no row count added
    assert manifests.exported_manifest({"name": "base"}) == {"name": "base"}
    with pytest.raises(InvalidConfigError, match="at least 2"):
        manifests.exported_manifest(m, rows=1)


def test_adopted_models_are_their_pilots_under_the_presets_names():
    """A validation model whose manifest says it was adopted from a pilot run is that run: the committed pilot
    manifest has the same spec but for name, variant and recipe, the same base weights and the same weights. Every
    trained pilot is either adopted so, once, or built by a preset of its own (the composition pilot) from that
    preset's current spec."""
    from rlmeta_interp.io import read_json
    from rlmeta_interp.organism.presets import PRESETS, preset_specs
    from rlmeta_interp.organism.spec import OrganismSpec

    specs = {s.name: s for preset in PRESETS for s in preset_specs(preset)}
    adopted = [m for m in map(read_json, manifests.manifest_files(manifests.validation_manifests_dir())) if "adopted_from" in m]
    trained = [m for m in map(read_json, manifests.manifest_files(manifests.pilot_manifests_dir())) if m.get("base")]
    in_preset = [m for m in trained if m["name"] in specs]
    assert all(OrganismSpec.from_dict(m["config"]) == specs[m["name"]] for m in in_preset)
    pilots = [m["name"] for m in trained if m["name"] not in specs]
    assert pilots and sorted(m["adopted_from"]["name"] for m in adopted) == sorted(pilots)  # every other one, once
    for m in adopted:
        pilot = read_json(manifests.pilot_manifests_dir() / f"{m['adopted_from']['name']}.json.gz")
        strip = {"name", "variant", "recipe"}
        assert {k: v for k, v in pilot["config"].items() if k not in strip} == {
            k: v for k, v in m["config"].items() if k not in strip}, m["name"]
        assert pilot["base_weights_sha256"] == m["base_weights_sha256"] and pilot["base"] == m["base"], m["name"]
        assert pilot["files"]["model.safetensors"] == m["files"]["model.safetensors"], m["name"]


def test_weights_moved_reads_the_recorded_checksums():
    from types import SimpleNamespace

    from rlmeta_interp import load_pair

    def files(sha):
        return {"files": {"model.safetensors": sha}} if sha else {}

    def pair(base_sha, rl_sha):
        return SimpleNamespace(base=SimpleNamespace(manifest=files(base_sha)), rl=SimpleNamespace(manifest=files(rl_sha)))

    assert manifests.weights_moved(pair("a", "b")) is True and manifests.weights_moved(pair("a", "a")) is False
    assert manifests.weights_moved(pair("a", None)) is None and manifests.weights_moved(pair(None, None)) is None
    assert manifests.weights_moved(load_pair("demo-arith-d050-rl-correct")) is True


def test_pretrain_corpus_reads_a_models_recorded_corpus():
    from types import SimpleNamespace

    from rlmeta_interp import load_pair

    pair = load_pair("val-arith-depth-d000-sft-deep")
    base, tuned = manifests.pretrain_corpus(pair.base), manifests.pretrain_corpus(pair.rl)
    assert base["arithmetic_dose"] == "depth" and base["dose"] == 0.0 and base["shallow_max_depth"] == 4
    assert tuned["dose"] == 0.5 and tuned["seed"] != base["seed"]  # a fine-tune records its own corpus
    assert manifests.pretrain_corpus(SimpleNamespace(manifest=None)) is None
    assert manifests.pretrain_corpus(SimpleNamespace()) is None
