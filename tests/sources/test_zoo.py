"""The organism zoo as a model and pair source (``rlmeta_interp.sources.zoo``): models discovered from manifests
under the shipped and user zoo roots, the shipped zoo first, a broken manifest skipped on its own, pairs formed from
tuned models and their bases, and folders checked against their manifests' hashes."""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from rlmeta_interp.errors import (
    CorruptedCheckpointError,
    InvalidConfigError,
    ManifestMismatchError,
    MissingWeightsError,
)
from rlmeta_interp.sources.zoo import ZooSource, zoo_roots

from ..conftest import organism_manifest


@pytest.fixture
def roots(tmp_path, monkeypatch):
    """``(shipped, user)``: data root and home root, whose ``zoo`` folders the source scans."""
    shipped, user = tmp_path / "data", tmp_path / "home"
    monkeypatch.setenv("RLMETA_DATA", str(shipped))
    monkeypatch.setenv("RLMETA_HOME", str(user))
    return shipped, user


def _edit(root, name, **changes):
    path = root / "zoo" / name / "manifest.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def test_zoo_roots_are_the_shipped_zoo_then_the_user_zoo(roots):
    shipped, user = roots
    assert zoo_roots() == [shipped / "zoo", user / "zoo"]


def test_models_are_discovered_from_manifests_in_both_roots(roots):
    shipped, user = roots
    organism_manifest(shipped, "s-base", preset="demo", world="planning", dose=0.25)
    organism_manifest(user, "u-base", preset="demo")
    src = ZooSource()
    assert src.kind == "zoo" and set(src.models()) == {"s-base", "u-base"}
    spec = src.models()["s-base"]
    assert (spec.source, spec.location) == ("zoo", str(shipped / "zoo" / "s-base"))
    assert spec.description == "planning organism, dose 0.25, base"
    assert src.entries()["u-base"].manifest["world"] == "arithmetic"
    assert src.manifest(spec)["dose"] == 0.25


def test_the_shipped_model_wins_over_a_user_rebuild_of_the_same_name(roots):
    shipped, user = roots
    organism_manifest(shipped, "m", preset="demo", dose=0.0)
    organism_manifest(user, "m", preset="demo", dose=1.0)
    entry = ZooSource().entries()["m"]
    assert entry.spec.location == str(shipped / "zoo" / "m") and entry.manifest["dose"] == 0.0


def test_a_broken_manifest_is_skipped_and_its_error_names_the_file(roots):
    shipped, _ = roots
    organism_manifest(shipped, "good", preset="demo")
    for name, text in (("bad-json", "{"), ("bad-name", json.dumps({"name": ""})),
                       ("bad-files", json.dumps({"name": "bad-files", "files": ["model.safetensors"]}))):
        (shipped / "zoo" / name).mkdir()
        (shipped / "zoo" / name / "manifest.json").write_text(text)
    src = ZooSource()
    assert set(src.models()) == {"good"}
    assert set(src.broken_all()) == {"bad-json", "bad-name", "bad-files"} and src.broken("good") is None
    for name, said in (("bad-json", "is not valid JSON"), ("bad-name", "'name' must be the model's name"),
                       ("bad-files", "'files' must map file names")):
        err = src.broken(name)
        assert isinstance(err, CorruptedCheckpointError) and said in str(err)
        assert str(shipped / "zoo" / name / "manifest.json") in str(err)


def test_a_tuned_model_pairs_with_its_base_and_carries_its_manifest_keys(roots):
    shipped, user = roots
    organism_manifest(shipped, "b", preset="validation", dose=0.5)
    organism_manifest(user, "r", preset="validation", base="b", variant="random", seed=3)
    _edit(user, "r", label="activation", split="test", recipe="rl on seen skills", budget={"rl_steps": 40})
    src = ZooSource()
    pairs = src.pairs(src.models())
    assert set(pairs) == {"r"}  # the base model forms no pair of its own
    p = pairs["r"]
    assert p.base == src.models()["b"] and p.rl == src.models()["r"]
    assert (p.world, p.dose, p.label, p.split, p.recipe) == ("arithmetic", 0.5, "activation", "test",
                                                             "rl on seen skills")
    assert p.extra == {"variant": "random", "seed": 3, "preset": "validation", "kind": "rl", "budget": {"rl_steps": 40}}
    assert "RL variant random" in p.description and "seed 3" in p.description


def test_a_tuned_model_whose_base_is_absent_or_whose_label_is_invalid_forms_no_pair(roots):
    shipped, _ = roots
    organism_manifest(shipped, "b", preset="validation")
    organism_manifest(shipped, "orphan", preset="validation", base="gone")
    organism_manifest(shipped, "mislabelled", preset="validation", base="b")
    _edit(shipped, "mislabelled", label="created")
    organism_manifest(shipped, "fine", preset="validation", base="b")
    src = ZooSource()
    assert set(src.pairs(src.models())) == {"fine"}
    assert {"orphan", "mislabelled"} <= set(src.models())  # the models themselves are listed
    orphan = src.broken("orphan")
    assert isinstance(orphan, MissingWeightsError)
    assert re.search(r"pair orphan cannot be formed.*base 'gone'.*zoo build", str(orphan))
    err = src.broken("mislabelled")
    assert isinstance(err, InvalidConfigError) and str(shipped / "zoo" / "mislabelled" / "manifest.json") in str(err)
    assert "mislabelled" in src.broken_all() and "orphan" not in src.broken_all()  # a partial build is not broken


def test_folder_checks_the_top_level_hashes_and_available_needs_weights(roots):
    shipped, _ = roots
    folder = shipped / "zoo" / "m"
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"weights")
    (folder / "manifest.json").write_text(json.dumps(
        {"name": "m", "kind": "base", "files": {"model.safetensors": hashlib.sha256(b"weights").hexdigest()}}))
    src = ZooSource()
    spec = src.models()["m"]
    assert src.folder(spec) == folder
    assert not src.available(spec)  # no config.json
    (folder / "config.json").write_text("{}")
    assert src.available(spec)
    (folder / "model.safetensors").write_bytes(b"weightz")
    with pytest.raises(ManifestMismatchError, match="model.safetensors has sha256"):
        src.folder(spec)
