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


def _run(spec, weights, base_weights, *, passed=None):
    """An exported manifest of ``spec`` (a real preset spec, so the budget check reads its config)."""
    m = {"name": spec.name, "kind": spec.kind, "label": spec.label, "recipe": spec.recipe, "seed": spec.seed,
         "config": spec.to_dict(), "files": {"model.safetensors": weights}}
    if spec.base:
        m.update(base=spec.base, base_weights_sha256=base_weights, budget={"reward": spec.rl.reward if spec.rl else None},
                 gain_check={"kind": "regret", "passed": passed, "regret_reduction": 1.0 if passed else -0.1,
                             "regret_reduction_ci": [0.5, 1.5] if passed else [-0.6, 0.4]})
    return m


def _write(folder, m):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{m['name']}.json").write_text(json.dumps(m))


def test_rl_seed_rows_and_summaries_count_the_tests_runs_apart_from_the_runs_that_prompted_it(tmp_path):
    from rlmeta_interp.organism.presets import preset_specs

    val = {s.name: s for s in preset_specs("validation")}
    add = {s.name: s for s in preset_specs("bandit-rlseeds")}
    rec, re_dir, added = tmp_path / "validation", tmp_path / "rebuilds", tmp_path / "added"
    b0, b5 = "val-bandit-d000-base", "val-bandit-d050-base"
    _write(re_dir, _run(val[b0], "w-b0", None))
    _write(rec, _run(val[b5], "w-b5", None))  # the dose-0.5 rebuild reproduced its record: no rebuild is exported
    _write(re_dir, _run(val["val-bandit-d000-rl-long"], "w0", "w-b0", passed=False))
    _write(re_dir, _run(val["val-bandit-d000-rl-long-s1"], "w1", "w-b0", passed=True))
    _write(re_dir, _run(val["val-bandit-d000-rl-long-random"], "wr", "w-b0"))  # a control: not this test's question
    _write(re_dir, _run(val["val-bandit-d000-sft-thompson"], "ws", "w-b0"))  # fine-tuning: likewise
    _write(rec, _run(val["val-bandit-d000-rl-long"], "w-rec0", "w-old", passed=True))
    _write(rec, _run(val["val-bandit-d000-rl-long-s1"], "w-rec1", "w-old", passed=False))
    _write(added, _run(add["val-bandit-d000-rl-long-s2"], "w2", "w-b0", passed=True))
    _write(added, _run(add["val-bandit-d050-rl-long-s2"], "w3", "w-b5", passed=False))
    rows = rebuilds.rl_seed_rows(added, re_dir, rec)
    assert [(r["run"], r["RL seed"], r["built"], r["trained from"]) for r in rows] == [
        ("val-bandit-d000-rl-long", 0, "rebuilt validation run", "rebuilt base"),
        ("val-bandit-d000-rl-long-s1", 1, "rebuilt validation run", "rebuilt base"),
        ("val-bandit-d000-rl-long-s2", 2, "added RL seed (the test)", "rebuilt base"),
        ("val-bandit-d050-rl-long-s2", 2, "added RL seed (the test)", "recorded base")]
    assert rows[0]["gain check"].startswith("failed") and rows[0]["recorded gain check"].startswith("passed")
    assert rows[1]["recorded gain check"].startswith("failed") and rows[2]["recorded gain check"] == "(no record)"
    records = rebuilds.budget_records(rec)
    assert sorted(records) == [False, True]  # the two recorded RL runs; bases carry no label
    summary = rebuilds.rl_seed_summary(rows, records)
    # the test's answer is the added runs only, per base; exact intervals: 1 of 1 -> [0.025, 1]; 0 of 1 -> [0, 0.975]
    assert summary.startswith("The test's answer, its added runs (2 of the 4 planned built): passed the gain check in"
                              " 1 of 2.\n- from val-bandit-d000-base (creation by design): 1 of 1 (share 1.00, exact"
                              " 95% interval 0.03 to 1.00).\n- from val-bandit-d050-base (activation by design): 0 of"
                              " 1 (share 0.00, exact 95% interval 0.00 to 0.97).\n")
    # described apart: 2 of 3 from the dose-0 base -> [0.094, 0.992]; no interval pooled over the bases
    assert "- from val-bandit-d000-base (creation by design): 2 of 3 (share 0.67, exact 95% interval 0.09 to 0.99)." \
        in summary.split("Every run")[1]
    assert "seed 0: 0 of 1; seed 1: 1 of 1; seed 2: 1 of 2." in summary and "all bases" not in summary
    assert "(trained from the recorded bases): 1 of 2 passed." in summary
    assert summary.endswith("(recipe bandit-dose, creation or activation by design): 1 of 2 (share 0.50, exact 95%"
                            " interval 0.01 to 0.99) passed.\n")
    head = rebuilds.rl_seed_headline(rows, records)
    assert "rebuilt validation runs (RL seeds 0 and 1) passed their gain check in 1 of 2, and the bandit RL-seeds" \
           " test's added runs (RL seeds 2 and 3) in 1 of 2 (2 of 4 built so far)" in head
    assert head.endswith("The table's bandit RL cases are the runs that passed.")  # not all passed: no more said
    assert rebuilds.rl_seed_summary([], records) == "(no RL run from a rebuilt base recorded)\n"
    assert "added runs (RL seeds 2 and 3) are not built yet" in rebuilds.rl_seed_headline(rows[:2], records)


def test_rl_seed_rows_refuse_runs_they_cannot_credit(tmp_path):
    from rlmeta_interp.organism.presets import preset_specs

    val = {s.name: s for s in preset_specs("validation")}
    add = {s.name: s for s in preset_specs("bandit-rlseeds")}
    rec, re_dir, added = tmp_path / "validation", tmp_path / "rebuilds", tmp_path / "added"
    _write(re_dir, _run(val["val-bandit-d000-base"], "w-b0", None))
    rec.mkdir()
    run = _run(add["val-bandit-d000-rl-long-s2"], "w2", "w-other", passed=True)
    _write(added, run)  # trained from weights that neither the rebuild nor the record names
    with pytest.raises(InvalidConfigError, match="neither a rebuild of val-bandit-d000-base nor its record"):
        rebuilds.rl_seed_rows(added, re_dir, rec)
    _write(added, {**run, "base_weights_sha256": "w-b0", "config": {**run["config"], "rl": {**run["config"]["rl"],
                                                                                          "lr": 1e-3}}})
    with pytest.raises(InvalidConfigError, match="not a build of a current bandit-rlseeds spec"):
        rebuilds.rl_seed_rows(added, re_dir, rec)  # another budget is no run of this one
    _write(added, _run(val["val-bandit-d000-rl-long-random"], "wr", "w-b0"))
    with pytest.raises(InvalidConfigError, match="outside the RL-seeds test"):
        rebuilds.rl_seed_rows(added, re_dir, rec)


def _built_zoo(zoo_dir, specs):
    """A zoo folder with a manifest and a stand-in weights file per spec, each run naming its base's weights."""
    from rlmeta_interp.io import sha256_file

    for spec in specs:  # bases first, so each run can name its base's weights as a build does
        (zoo_dir / spec.name).mkdir(parents=True)
        weights = zoo_dir / spec.name / "model.safetensors"
        weights.write_bytes(spec.name.encode())
        m = {"name": spec.name, "kind": spec.kind, "config": spec.to_dict(), "files": {weights.name: sha256_file(weights)}}
        if spec.base:
            m.update(base=spec.base, base_weights_sha256=sha256_file(zoo_dir / spec.base / "model.safetensors"))
        (zoo_dir / spec.name / "manifest.json").write_text(json.dumps(m))


def test_export_rlseeds_records_the_tests_runs_and_not_their_bases(tmp_path, monkeypatch):
    from rlmeta_interp.organism.presets import preset_specs

    monkeypatch.setenv("RLMETA_DATA", str(tmp_path / "data"))
    zoo_dir = tmp_path / "zoo"
    specs = preset_specs("bandit-rlseeds")
    _built_zoo(zoo_dir, specs)
    # the bases' rebuilds are not exported yet: nothing is written, and the error says what to export
    with pytest.raises(InvalidConfigError, match="--export-rebuilds"):
        rebuilds.export_rlseeds(zoo_dir, tmp_path / "no-records")
    assert not rebuilds.rlseeds_dir().exists()
    for spec in specs[:2]:
        _write(rebuilds.rebuilds_dir(), json.loads((zoo_dir / spec.name / "manifest.json").read_text()))
    written = rebuilds.export_rlseeds(zoo_dir, tmp_path / "no-records")
    runs = [s.name for s in specs if s.kind == "rl"]
    assert len(runs) == 4 and sorted(p.name for p in written) == sorted(f"{n}.json.gz" for n in runs)
    assert all(p.parent == rebuilds.rlseeds_dir() for p in written)


def test_recorded_seed_rows_set_the_added_runs_beside_the_records_of_the_same_base_weights(tmp_path):
    from dataclasses import replace

    from rlmeta_interp.organism.presets import preset_specs

    val = {s.name: s for s in preset_specs("validation")}
    add = {s.name: s for s in preset_specs("bandit-rlseeds")}
    rec, added = tmp_path / "validation", tmp_path / "added"
    b0, b5 = "val-bandit-d000-base", "val-bandit-d050-base"
    _write(rec, _run(val[b0], "w-b0", None))
    _write(rec, _run(val[b5], "w-b5", None))
    _write(rec, _run(val["val-bandit-d000-rl-long"], "w-r0", "w-b0", passed=True))
    _write(rec, _run(val["val-bandit-d000-rl-long-s1"], "w-r1", "w-b0", passed=True))
    _write(rec, _run(val["val-bandit-d000-rl-long-random"], "w-rr", "w-b0"))  # a control: not counted
    _write(rec, _run(val["val-bandit-d050-rl-long"], "w-r5", "w-b5", passed=True))
    _write(rec, _run(val["val-bandit-d050-rl-long-s1"], "w-r6", "w-other", passed=False))  # other base weights
    slow = val["val-bandit-d050-rl-long-s1"]  # the same base weights under another budget: not this budget's run
    _write(rec, {**_run(replace(slow, name="val-bandit-d050-rl-slow", rl=replace(slow.rl, lr=1e-5)), "w-r7", "w-b5",
                        passed=False)})
    _write(added, _run(add["val-bandit-d000-rl-long-s2"], "w2", "w-b0", passed=False))
    _write(added, _run(add["val-bandit-d050-rl-long-s2"], "w3", "w-b5", passed=True))
    rows = rebuilds.recorded_seed_rows(added, rec)
    assert [(r["run"], r["RL seed"], r["built"]) for r in rows] == [
        ("val-bandit-d000-rl-long", 0, "validation record"), ("val-bandit-d000-rl-long-s1", 1, "validation record"),
        ("val-bandit-d000-rl-long-s2", 2, "added RL seed (from the recorded base)"),
        ("val-bandit-d050-rl-long", 0, "validation record"),
        ("val-bandit-d050-rl-long-s2", 2, "added RL seed (from the recorded base)")]
    assert [r["passed"] for r in rows] == [True, True, False, True, True]
    rebuilt = [{"base": b0, "passed": False, "RL seed": 0, "trained from": "rebuilt base"},
               {"base": b0, "passed": True, "RL seed": 1, "trained from": "rebuilt base"},
               {"base": b5, "passed": True, "RL seed": 3, "trained from": "rebuilt base"},
               {"base": b5, "passed": False, "RL seed": 2, "trained from": "recorded base"}]  # not a rebuilt base's
    summary = rebuilds.recorded_seed_summary(rows, rebuilt)
    assert summary.startswith("The test's answer, its added runs from the recorded bases (2 of the 4 planned built):"
                              " passed the gain check in 1 of 2.\n- from val-bandit-d000-base (creation by design): 0"
                              " of 1 (share 0.00, exact 95% interval 0.00 to 0.97).\n")
    assert "- from val-bandit-d000-base (creation by design): 2 of 3 (share 0.67" in summary.split("Every run")[1]
    assert "seed 0: 2 of 2; seed 1: 1 of 1; seed 2: 1 of 2." in summary
    assert "The runs of RL seeds 0, 1 and 3 from the rebuilt bases (trained on another machine)" in summary
    assert "- from the rebuild of val-bandit-d000-base (creation by design): 1 of 2 (share 0.50" in summary
    assert "- from the rebuild of val-bandit-d050-base (activation by design): 1 of 1" in summary
    head = rebuilds.recorded_seed_headline(rows, rebuilt)
    assert head == ("From bases rebuilt with their records' weights, the same test's runs passed in 1 of 2 (2 of 4"
                    " built so far), and with those bases' validation records 4 of 5 runs of this budget passed.")
    full = rows + [{**r, "run": r["run"][:-1] + "3", "RL seed": 3} for r in rows if r["RL seed"] == 2]
    assert rebuilds.recorded_seed_headline(full, rebuilt).endswith(
        "failures occur from the recorded bases too, so whether a run of this budget passes its gain check is a draw"
        " whichever weights its base has.")
    # judged on the added runs alone: a failed record beside four passing added runs still takes the passing branch
    passing = [{**r, "passed": True if r["built"] != "validation record" or r["RL seed"] else False} for r in full]
    said = rebuilds.recorded_seed_headline(passing, rebuilt)
    assert "passed in 4 of 4, and with those bases' validation records 5 of 7 runs" in said
    assert said.endswith("the 1 failure of the 3 runs from the rebuilt bases fell on bases with other weights,"
                         " trained on another machine, and this test cannot tell which of the two (or chance) made the"
                         " difference.")
    assert rebuilds.recorded_seed_summary([], rebuilt) == "(no RL run from a recorded base added)\n"
    assert "not built yet" in rebuilds.recorded_seed_headline(
        [r for r in rows if r["built"] == "validation record"], rebuilt)
    # a run trained from weights that are not its base's record is refused, with the export that files it elsewhere
    _write(added, _run(add["val-bandit-d000-rl-long-s3"], "w4", "w-b0-rebuilt", passed=True))
    with pytest.raises(InvalidConfigError, match="not trained from the recorded weights.*--export-rlseeds"):
        rebuilds.recorded_seed_rows(added, rec)


def test_export_rlseeds_sends_runs_from_a_recorded_base_to_their_own_folder(tmp_path, monkeypatch):
    from rlmeta_interp.organism.presets import preset_specs

    monkeypatch.setenv("RLMETA_DATA", str(tmp_path / "data"))
    zoo_dir, rec = tmp_path / "zoo", tmp_path / "records"
    specs = preset_specs("bandit-rlseeds")
    _built_zoo(zoo_dir, specs)
    bases = [s for s in specs if s.kind != "rl"]
    _write(rec, json.loads((zoo_dir / bases[0].name / "manifest.json").read_text()))  # built with its record's weights
    _write(rebuilds.rebuilds_dir(), json.loads((zoo_dir / bases[1].name / "manifest.json").read_text()))  # a rebuild
    rebuilds.rlseeds_dir().mkdir(parents=True)
    kept = rebuilds.rlseeds_dir() / "val-bandit-d000-rl-long-s2.json.gz"
    kept.write_bytes(b"a run of the same name from the rebuilt base")
    written = rebuilds.export_rlseeds(zoo_dir, rec)
    by_folder = {p.name: p.parent for p in written}
    assert len(written) == 4
    for spec in (s for s in specs if s.kind == "rl"):
        want = rebuilds.rlseeds_recorded_dir() if spec.base == bases[0].name else rebuilds.rlseeds_dir()
        assert by_folder[f"{spec.name}.json.gz"] == want
    assert kept.read_bytes() == b"a run of the same name from the rebuilt base"  # never overwritten by the other run
