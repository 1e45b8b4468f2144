"""Any local Hugging Face folder as a model source (``rlmeta_interp.sources.folder``): the spec named after the
folder, and the folder returned only when it exists and any ``manifest.json`` in it matches its files."""

from __future__ import annotations

import hashlib
import json

import pytest

from rlmeta_interp.errors import CorruptedCheckpointError, ManifestMismatchError, MissingWeightsError
from rlmeta_interp.sources.folder import FolderSource, folder_spec


def _model_folder(folder, manifest: bool):
    """A folder with a config and a weight file (bytes only: this source never loads them), optionally with a
    manifest listing the weight file's sha256."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"weights")
    if manifest:
        files = {"model.safetensors": hashlib.sha256(b"weights").hexdigest()}
        (folder / "manifest.json").write_text(json.dumps({"name": folder.name, "files": files}))
    return folder


def test_folder_spec_is_named_after_the_folder_at_its_absolute_path(tmp_path, monkeypatch):
    _model_folder(tmp_path / "my-model", manifest=False)
    monkeypatch.chdir(tmp_path)
    spec = folder_spec("my-model")
    assert (spec.name, spec.source, spec.location) == ("my-model", "folder", str(tmp_path.resolve() / "my-model"))
    monkeypatch.setenv("HOME", str(tmp_path))
    assert folder_spec("~/my-model").location == spec.location  # ~ is expanded


def test_folder_spec_of_a_missing_folder_or_a_file_is_a_missing_weights_error(tmp_path):
    with pytest.raises(MissingWeightsError, match="does not exist"):
        folder_spec(tmp_path / "absent")
    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(MissingWeightsError, match="is not a folder"):
        folder_spec(tmp_path / "weights.bin")


def test_a_folder_without_a_manifest_is_returned_as_is(tmp_path):
    folder = _model_folder(tmp_path / "plain", manifest=False)
    src, spec = FolderSource(), folder_spec(folder)
    assert src.kind == "folder" and src.models() == {}
    assert src.folder(spec) == folder.resolve() and src.manifest(spec) is None and src.available(spec)


def test_a_folders_manifest_is_read_and_its_hashes_checked(tmp_path):
    folder = _model_folder(tmp_path / "recorded", manifest=True)
    src, spec = FolderSource(), folder_spec(folder)
    assert src.manifest(spec)["files"] == {"model.safetensors": hashlib.sha256(b"weights").hexdigest()}
    assert src.folder(spec) == folder.resolve()
    (folder / "model.safetensors").write_bytes(b"weightz")
    with pytest.raises(ManifestMismatchError, match="model.safetensors has sha256"):
        src.folder(spec)
    (folder / "manifest.json").write_text("{")
    with pytest.raises(CorruptedCheckpointError, match="manifest.json is not valid JSON"):
        src.folder(spec)


def test_available_only_when_the_weights_are_there_and_folder_fails_once_it_is_gone(tmp_path):
    import shutil

    folder = _model_folder(tmp_path / "m", manifest=False)
    src, spec = FolderSource(), folder_spec(folder)
    (folder / "model.safetensors").unlink()
    assert not src.available(spec)
    shutil.rmtree(folder)
    assert not src.available(spec)
    with pytest.raises(MissingWeightsError, match="does not exist"):
        src.folder(spec)
