"""The manifest helpers every model source shares (``rlmeta_interp.sources.base``): reading a ``manifest.json``,
the cheap weights check, the shape check of a manifest's ``files``, and the hash check of its top-level files."""

from __future__ import annotations

import hashlib
import json

import pytest

from rlmeta_interp.errors import CorruptedCheckpointError, ManifestMismatchError, MissingWeightsError
from rlmeta_interp.sources.base import (
    MANIFEST_NAME,
    has_weights,
    manifest_files,
    read_manifest,
    verify_top_level_files,
)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_read_manifest_returns_the_json_object(tmp_path):
    data = {"name": "m", "files": {"model.safetensors": "ab" * 32}, "dose": 0.5}
    (tmp_path / MANIFEST_NAME).write_text(json.dumps(data))
    assert MANIFEST_NAME == "manifest.json"
    assert read_manifest(tmp_path / MANIFEST_NAME) == data
    assert read_manifest(str(tmp_path / MANIFEST_NAME)) == data  # a str path too


@pytest.mark.parametrize("raw, said", [
    (b'{"name": "m"', "is not valid JSON"),
    (b'{"name": "m\xff"}', "is not valid JSON"),  # not UTF-8
    (b'["m"]', "holds a list, not a JSON object"),
    (b'"m"', "holds a str, not a JSON object"),
])
def test_a_manifest_that_is_not_a_json_object_is_a_corrupted_checkpoint_naming_the_file(tmp_path, raw, said):
    path = tmp_path / "broken" / MANIFEST_NAME
    path.parent.mkdir()
    path.write_bytes(raw)
    with pytest.raises(CorruptedCheckpointError, match=said) as e:
        read_manifest(path)
    assert str(path) in str(e.value)


def test_has_weights_needs_a_config_and_a_weight_file(tmp_path):
    assert not has_weights(tmp_path)  # empty
    (tmp_path / "model.safetensors").write_bytes(b"x")
    assert not has_weights(tmp_path)  # weights without config.json
    (tmp_path / "config.json").write_text("{}")
    assert has_weights(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    assert not has_weights(tmp_path)  # config.json alone
    (tmp_path / "pytorch_model.bin").write_bytes(b"x")
    assert has_weights(tmp_path)  # a .bin counts too
    assert not has_weights(tmp_path / "absent")


def test_manifest_files_accepts_a_mapping_or_nothing(tmp_path):
    files = {"model.safetensors": "a" * 64, "checkpoints/step_000001/model.safetensors": "b" * 64}
    assert manifest_files(tmp_path, {"files": files}) == files
    assert manifest_files(tmp_path, {"files": None}) == {}
    assert manifest_files(tmp_path, {}) == {}


@pytest.mark.parametrize("files, said", [
    (["model.safetensors"], r"'files' must map file names to sha256 digests, got a list"),
    ("model.safetensors", "got a str"),
    ({"model.safetensors": None}, r"the sha256 of 'model.safetensors' must be a hex string, got None"),
    ({"model.safetensors": 12}, "must be a hex string, got 12"),
])
def test_manifest_files_of_another_shape_name_the_manifest(tmp_path, files, said):
    where = tmp_path / "m" / MANIFEST_NAME
    with pytest.raises(CorruptedCheckpointError, match=said) as e:
        manifest_files(where, {"files": files})
    assert str(e.value).startswith(f"{where}: ")


def test_verify_top_level_files_checks_top_level_hashes_only(tmp_path):
    weights, config = b"\x00\x01weights", b'{"model_type": "llama"}'
    (tmp_path / "model.safetensors").write_bytes(weights)
    (tmp_path / "config.json").write_bytes(config)
    manifest = {"files": {"model.safetensors": _sha(weights), "config.json": _sha(config),
                          # sub-folder files are checked when read, not here: a wrong digest passes this check
                          "checkpoints/step_000001/model.safetensors": "0" * 64}}
    verify_top_level_files(tmp_path, manifest)
    verify_top_level_files(tmp_path, {})  # a manifest without files checks nothing
    (tmp_path / "model.safetensors").write_bytes(weights[:-1] + b"!")
    with pytest.raises(ManifestMismatchError, match="model.safetensors has sha256"):
        verify_top_level_files(tmp_path, manifest)
    (tmp_path / "model.safetensors").unlink()
    with pytest.raises(MissingWeightsError, match="model.safetensors is missing"):
        verify_top_level_files(tmp_path, manifest)
    with pytest.raises(CorruptedCheckpointError, match="'files' must map"):
        verify_top_level_files(tmp_path, {"files": ["config.json"]})
