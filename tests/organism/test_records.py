"""The committed build records read back as tables: real exported manifests, and small written ones for the edges."""

from __future__ import annotations

import gzip
import json

import pytest

from rlmeta_interp.errors import EmptyInputError, InvalidConfigError
from rlmeta_interp.organism import records
from rlmeta_interp.organism.manifests import weights_sha


@pytest.fixture(scope="module")
def committed():
    recs = records.load_records()
    return recs, records.gain_frame(recs)


def test_gain_frame_rows_follow_the_recorded_gain_checks(committed):
    recs, frame = committed
    m = recs["ctest2-comp-d000-s8-rl-long"]
    rows = frame[frame["name"] == m["name"]].set_index("level")
    assert list(rows.index) == sorted(int(k) for k in m["gain_check"]["levels"])
    for level, r in m["gain_check"]["levels"].items():
        n = r["n_samples"]
        assert rows.loc[int(level), "d_pass@n"] == r[f"diff_pass@{n}"]
        assert [rows.loc[int(level), "d_pass@n_lo"], rows.loc[int(level), "d_pass@n_hi"]] == r[f"diff_pass@{n}_ci"]
        assert rows.loc[int(level), "deeper"] == (level != m["gain_check"]["in_distribution_level"])
    assert set(rows["pretrain_seed"]) == {recs[m["base"]]["seed"]} and set(rows["tune_seed"]) == {m["seed"]}
    assert set(rows["passed"]) == {m["gain_check"]["passed"]}
    bandit = frame[frame["name"] == "val-bandit-d000-rl-long"].iloc[0]
    assert bandit["measure"] == "regret" and bandit["regret_reduction"] == \
        recs["val-bandit-d000-rl-long"]["gain_check"]["regret_reduction"]


def test_repeats_with_the_same_weights_point_at_the_first_record(committed):
    recs, frame = committed
    per_run = frame.drop_duplicates("name").set_index("name")
    # the dose-0.1 depth-edge run with checkpoints reproduced its validation record bit for bit
    assert weights_sha(recs["val-arith-depth-d010-rl-edge-ckpt"]) == weights_sha(recs["val-arith-depth-d010-rl-edge"])
    assert per_run.loc["val-arith-depth-d010-rl-edge-ckpt", "same_weights_as"] == "val-arith-depth-d010-rl-edge"
    # the validation folder comes first, so its record is the one kept
    assert per_run.loc["val-arith-depth-d010-rl-edge", "same_weights_as"] == ""
    # a run that earned no reward kept its base's weights
    assert per_run.loc["val-arith-depth-d000-rl-edge", "kept_base_weights"]
    assert not per_run.loc["ctest2-comp-d000-s8-rl-long", "kept_base_weights"]


def test_dose_tag_marks_shuffled_reward_bases(committed):
    _, frame = committed
    tags = frame.drop_duplicates("name").set_index("name")["dose_tag"]
    assert tags["val-bandit-shuf-d100-rl-long"] == "1 shuffled"
    assert tags["val-bandit-d050-rl-long"] == "0.5"


def test_select_runs_and_its_refusal(committed):
    _, frame = committed
    runs = records.select_runs(frame, "composition", steps=1500, lr=1e-4, prompts_per_step=8)
    assert set(runs["steps"]) == {1500} and set(runs["recipe"]) == {"composition"}
    assert set(runs["prompts_per_step"]) == {8} and runs.groupby("weights")["name"].nunique().max() == 1
    # the budget's name carries the batch, so runs pooled under one name share it
    assert all(b.endswith("8x8 per step") for b in runs["budget"])
    # identical models count once within the selection: the pilot runs that the validation preset took over by
    # weights are dropped from the validation recipe, and kept when their own recipe is selected
    dose = records.select_runs(frame, "bandit-dose")
    assert "val-bandit-d000-rl-long" in set(dose["name"]) and "val-bandit-d000-rl-long-lr3e4" not in set(dose["name"])
    assert "val-bandit-d000-rl-long-lr3e4" in set(records.select_runs(frame, "bandit-pilot")["name"])
    with pytest.raises(EmptyInputError, match="composition"):
        records.select_runs(frame, "composition", steps=7)
    with pytest.raises(InvalidConfigError, match="Unknown budget keys"):
        records.select_runs(frame, "composition", step=7)


def test_record_curves_pair_base_and_run_on_recorded_counts(committed):
    recs, _ = committed
    m = recs["ctest2-comp-d000-s8-rl-long"]
    curves = records.record_curves(recs, m["name"], 3, n_boot=50)
    assert set(curves["model"]) == {"base", "rl", "guess"}
    r = m["gain_check"]["levels"]["3"]
    n = r["n_samples"]
    at_n = curves[curves["k"] == n].set_index("model")["pass@k"]
    assert at_n["rl"] == pytest.approx(r[f"trained_pass@{n}"]) and at_n["base"] == pytest.approx(r[f"base_pass@{n}"])
    assert curves[curves["model"] == "guess"]["ci_lo"].isna().all()
    with pytest.raises(InvalidConfigError, match="no per-problem counts at level 9"):
        records.record_curves(recs, m["name"], 9)
    with pytest.raises(InvalidConfigError, match="No record"):
        records.record_curves(recs, "not-a-model", 3)


def _write(folder, m):
    folder.mkdir(exist_ok=True)
    with gzip.open(folder / f"{m['name']}.json.gz", "wt") as f:
        json.dump(m, f)


def _run(name, passed, label="creation", sha="w1"):
    check = {"kind": "regret", "passed": passed, "regret_reduction": 0.5, "regret_reduction_ci": [0.1, 0.9]}
    return {"name": name, "kind": "rl", "label": label, "base": "b", "world": "bandits", "recipe": "r", "dose": 0.0,
            "seed": 0, "budget": {"steps": 10, "lr": 0.001}, "gain_check": check, "files": {"model.safetensors": sha},
            "base_weights_sha256": "w0"}


def test_first_folder_wins_and_the_tally_counts_checked_runs(tmp_path):
    _write(tmp_path / "a", _run("x", True))
    _write(tmp_path / "a", _run("c", None, label="no_signal", sha="w2"))
    _write(tmp_path / "b", _run("x", False, sha="w3"))  # the same name in a later folder: left out
    _write(tmp_path / "b", _run("y", False, sha="w4"))
    recs = records.load_records([str(tmp_path / "a"), str(tmp_path / "b")])
    assert recs["x"]["gain_check"]["passed"] is True
    frame = records.gain_frame(recs)
    tally = records.pass_tally(frame, by=["label"]).set_index("label")
    assert tally.loc["creation", ["runs", "checked", "passed"]].tolist() == [2, 2, 1]
    assert tally.loc["no_signal", ["runs", "checked", "passed"]].tolist() == [1, 0, 0]


def test_bad_folders_are_refused(tmp_path):
    with pytest.raises(InvalidConfigError, match="list of folder names"):
        records.load_records("validation")
    with pytest.raises(InvalidConfigError, match="No record folder"):
        records.load_records(["no-such-folder"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(EmptyInputError, match="No manifest"):
        records.load_records([str(tmp_path / "empty")])
