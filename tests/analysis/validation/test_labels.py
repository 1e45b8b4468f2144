"""The design facts of labelled pairs and the validation preset's build status."""

from __future__ import annotations

import json


def test_preset_build_status_counts_up_to_date_models_only(tmp_path, monkeypatch):
    """A data folder holding two of the validation preset's models as shipped (the demo preset's depth pairs and
    their base), then one of them with a manifest built from another config (another budget), then the other with
    weights that no longer match its manifest: only unchanged models count as built."""
    import shutil

    from rlmeta_interp import registry
    from rlmeta_interp.analysis.validation.labels import preset_build_status
    from rlmeta_interp.organism.presets import preset_specs

    demo = [s for s in preset_specs("demo")]
    tuned = [s.name for s in demo if s.kind != "base"]
    assert len(tuned) == 2
    for s in demo:
        shutil.copytree(registry.zoo_entries()[s.name].spec.location, tmp_path / "data" / "zoo" / s.name)
    monkeypatch.setenv("RLMETA_DATA", str(tmp_path / "data"))
    labelled = [s.name for s in preset_specs("validation") if s.kind != "base"]
    status = preset_build_status("validation")
    assert status["labelled_models"] == len(labelled)
    assert set(status["not_built"]) == set(labelled) - set(tuned)
    changed = tmp_path / "data" / "zoo" / tuned[0] / "manifest.json"
    m = json.loads(changed.read_text())
    m["config"]["eval"]["seed"] += 1
    changed.write_text(json.dumps(m))
    (tmp_path / "data" / "zoo").touch()  # the registry rescans a zoo root whose time stamp moved
    assert set(preset_build_status("validation")["not_built"]) == set(labelled) - {tuned[1]}
    # a trained model is out of date once its base's weights are not the ones it was trained from
    base = tmp_path / "data" / "zoo" / next(s.base for s in demo if s.name == tuned[1]) / "manifest.json"
    kept = base.read_text()
    bm = json.loads(kept)
    bm["files"]["model.safetensors"] = "0" * 64
    base.write_text(json.dumps(bm))
    (tmp_path / "data" / "zoo").touch()
    assert set(preset_build_status("validation")["not_built"]) == set(labelled)
    base.write_text(kept)
    (tmp_path / "data" / "zoo").touch()
    assert set(preset_build_status("validation")["not_built"]) == set(labelled) - {tuned[1]}
    weights = tmp_path / "data" / "zoo" / tuned[1] / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # one flipped byte
    weights.write_bytes(bytes(data))
    (tmp_path / "data" / "zoo").touch()
    assert set(preset_build_status("validation")["not_built"]) == set(labelled)


def test_pending_pairs_are_the_designed_pairs_neither_in_the_table_nor_failed():
    from rlmeta_interp.analysis.validation.labels import pending_pairs, preset_labelled_names

    names = preset_labelled_names("validation")
    assert len(names) > 3
    assert pending_pairs(names) == []
    assert pending_pairs(names[2:], not_cases=[names[0]]) == [names[1]]
    assert pending_pairs(["not-designed", *names[1:]]) == [names[0]]  # a row the preset does not design is no help


def test_scorecard_selection_of_the_shipped_zoo():
    import pytest

    from rlmeta_interp.analysis.validation.labels import scorecard_selection
    from rlmeta_interp.errors import InvalidConfigError

    # the shipped labelled pairs are all calibration pairs: nothing to validate, so the zoo's pairs are scored
    sel = scorecard_selection(["arithmetic"], preset="demo", smoke=True)
    assert not sel.validate and sel.specs and all(s.world == "arithmetic" for s in sel.specs)
    assert len(scorecard_selection(["arithmetic"], preset="demo", max_pairs=1, smoke=True).specs) == 1
    named = scorecard_selection(["arithmetic"], preset="", pairs=["val-arith-depth-d000-sft-deep"], smoke=True)
    assert [s.name for s in named.specs] == ["val-arith-depth-d000-sft-deep"]
    assert [p.name for p in named.labelled] == ["val-arith-depth-d000-sft-deep"]
    with pytest.raises(InvalidConfigError, match="WORLDS or PRESET leave out"):
        scorecard_selection(["bandits"], preset="", pairs=["val-arith-depth-d000-sft-deep"], smoke=True)
    with pytest.raises(InvalidConfigError, match="No zoo preset defines the pair"):
        scorecard_selection(["arithmetic"], preset="", pairs=["val-arith-depth-d000-sft-dep"], smoke=True)
