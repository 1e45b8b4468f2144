

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
    # a run whose base lies in another folder: that base is read (the one with the weights it was trained from),
    # never written
    runs, bases = tmp_path / "runs", tmp_path / "bases"
    runs.mkdir()
    bases.mkdir()
    write_json_atomic(bases / "b.json", {**base, "files": {"model.safetensors": "w1"}}, compact=True)
    for name, sha in (("t1", "w1"), ("t2", "w2")):
        write_json_atomic(runs / f"{name}.json", {**trained, "name": name, "base_weights_sha256": sha}, compact=True)
    before = (bases / "b.json").read_bytes()
    assert tables.refresh_stored_gain_checks([runs]) == []  # no base in its own folder: checks kept
    assert tables.refresh_stored_gain_checks([runs], {runs: [bases]}) == [runs / "t1.json"]
    assert read_json(runs / "t1.json")["gain_check"]["passed"] is True
    assert read_json(runs / "t2.json")["gain_check"] == {"passed": False}  # trained from other weights: kept
    assert (bases / "b.json").read_bytes() == before
    # the folders may be named by other spellings of the same path
    write_json_atomic(runs / "t1.json", {**trained, "name": "t1", "base_weights_sha256": "w1"}, compact=True)
    assert tables.refresh_stored_gain_checks([str(runs)], {str(runs / ".." / "runs"): [bases]}) == [runs / "t1.json"]


def test_tables_refuse_an_unknown_option():
    import pytest

    from rlmeta_interp.errors import InvalidConfigError

    with pytest.raises(InvalidConfigError, match="Unknown option --export-dynamic: choose one of --export,"):
        tables.main(["--export-dynamic", "somewhere"])



def test_tables_name_the_missing_readme_before_any_work(tmp_path):
    import pytest

    from rlmeta_interp.errors import MissingWeightsError

    (tmp_path / "zoo").mkdir()  # a data folder without README.md, as an installed package carries it
    with pytest.raises(MissingWeightsError, match="README.md to write the generated tables into: run this from a"):
        tables.main([str(tmp_path / "zoo")])


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


def test_dynamics_rows_compare_each_run_with_the_run_it_repeats(tmp_path):
    import json

    runs, records = tmp_path / "runs", tmp_path / "validation"
    for folder in (runs, records):
        folder.mkdir()

    def manifest(name, sha):
        return {"name": name, "kind": "rl", "world": "arithmetic", "dose": 0.1, "seed": 0, "label": "activation",
                "recipe": "depth-edge", "metrics": {}, "budget": {"steps": 300}, "files": {"model.safetensors": sha},
                "base_weights_sha256": "b"}

    # real names: the first two repeat validation runs (presets.earlier_runs), the third repeats none
    same_run, other_run = "val-arith-depth-d010-rl-edge-ckpt", "val-arith-depth-d000-rl-edge-ckpt"
    alone = "val-arith-depth-d010-rl-edge-random-ckpt"
    for name, sha in ((same_run, "a"), (other_run, "b"), (alone, "c")):
        (runs / f"{name}.json").write_text(json.dumps(manifest(name, sha)))
    (records / "val-arith-depth-d010-rl-edge.json").write_text(json.dumps(manifest("x", "a")))
    rows = {r["model"]: r for r in tables.dynamics_rows(runs, [records])}
    assert {n: r["same weights as the run it repeats"] for n, r in rows.items()} == {
        same_run: "yes (val-arith-depth-d010-rl-edge)", alone: "(repeats no run)",
        other_run: "(no record of val-arith-depth-d000-rl-edge)"}
    assert {n: r["same weights as its base"] for n, r in rows.items()} == {same_run: "no", other_run: "yes", alone: "no"}
    (records / "val-arith-depth-d000-rl-edge.json").write_text(json.dumps(manifest("x", "z")))
    assert tables.dynamics_rows(runs, [records])[0]["same weights as the run it repeats"].startswith("no (")
    # trained from other base weights (a base built again as another draw): not compared
    (records / "val-arith-depth-d000-rl-edge.json").write_text(json.dumps({**manifest("x", "b"),
                                                                           "base_weights_sha256": "other"}))
    assert tables.dynamics_rows(runs, [records])[0]["same weights as the run it repeats"] == (
        "(from other base weights than val-arith-depth-d000-rl-edge)")


def test_shipped_dynamics_runs_have_the_weights_of_the_runs_they_repeat():
    """data/README.md says saving checkpoints did not change a run: every shipped dynamics run that repeats a
    recorded run from the same base weights has its weights."""
    from rlmeta_interp.organism.manifests import pilot_manifests_dir, validation_manifests_dir

    rows = tables.dynamics_rows(tables.dynamics_dir(), [validation_manifests_dir(), pilot_manifests_dir()])
    compared = [r["same weights as the run it repeats"] for r in rows
                if r["same weights as the run it repeats"].startswith(("yes (", "no ("))]
    assert compared and all(r.startswith("yes (") for r in compared), compared


def test_preset_budgets_count_each_presets_recorded_models_hours_and_cases(tmp_path, monkeypatch):
    import json

    from rlmeta_interp.organism import presets
    from rlmeta_interp.organism.worlds.arithmetic import ArithmeticConfig

    b = presets.base_spec("arithmetic", 0.0, "tinyb", steps=1, arithmetic=ArithmeticConfig(max_operands=2, max_digits=1))
    rl = presets.rl_spec(b, "correct", steps=1)
    monkeypatch.setitem(presets.PRESETS, "tinyb", lambda: [b, rl])
    monkeypatch.setitem(presets.PRESETS, "tinyb-part", lambda: [b])

    def write(name, cpu_s, earlier_s=0.0, **extra):
        (tmp_path / name).mkdir(exist_ok=True)
        (tmp_path / name / "manifest.json").write_text(json.dumps({
            "name": name, "build": {"cpu_seconds": cpu_s, "cpu_seconds_earlier_runs": earlier_s}, **extra}))

    write(b.name, 3600.0)
    assert "`tinyb` 1.00 (incomplete: 1 model not recorded)" in tables.preset_budgets(tmp_path, ["tinyb-part", "tinyb"])
    write(rl.name, 5400.0, 1800.0, label="creation", gain_check={"passed": True})
    part, whole = tables.preset_budget_rows(tmp_path, ["tinyb-part", "tinyb"])
    assert (part["models"], part["recorded"], part["CPU hours (records)"]) == (1, 1, "1.00")
    assert (whole["models"], whole["recorded"], whole["CPU hours (records)"], whole["creation cases"]) == (
        2, 2, "2.50", 1)
    assert (part["of which in killed runs"], whole["of which in killed runs"]) == ("0.00", "0.50")
    text = tables.preset_budgets(tmp_path, ["tinyb-part", "tinyb"])
    assert "`tinyb-part` 1.00 (within), `tinyb` 2.50 (within)" in text
    # a failed gain check is no case of its label, and a preset over the target says so
    write(rl.name, 36000.0, label="creation", gain_check={"passed": False})
    (whole,) = tables.preset_budget_rows(tmp_path, ["tinyb"])
    assert whole["creation cases"] == 0 and whole["pairs without a passed gain check"] == 1
    assert "`tinyb` 11.00 (over)" in tables.preset_budgets(tmp_path, ["tinyb"])
