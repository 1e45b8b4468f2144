"""Embedded real LMs as a model source (``rlmeta_interp.sources.gguf``): the models it names, and its answers for a
converted folder in ``$RLMETA_HOME/embedded`` (a stand-in folder with a manifest; no GGUF is converted here)."""

from __future__ import annotations

import hashlib
import json

import pytest

from rlmeta_interp import embedded
from rlmeta_interp.errors import CorruptedCheckpointError, ManifestMismatchError
from rlmeta_interp.sources.gguf import EmbeddedSource

NAME = "gemma-3-270m"


def _converted(tmp_path, name: str = NAME):
    """A stand-in converted folder where the source looks for ``name`` (conftest sets RLMETA_HOME per test)."""
    folder = tmp_path / "rlmeta_home" / "embedded" / embedded.EMBEDDED_MODELS[name].folder_name
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"converted weights")
    files = {f: hashlib.sha256((folder / f).read_bytes()).hexdigest() for f in ("config.json", "model.safetensors")}
    (folder / "manifest.json").write_text(json.dumps({"name": name, "gguf_sha256": "g" * 64, "files": files}))
    return folder


def test_every_embedded_model_is_named_with_its_description():
    models = EmbeddedSource().models()
    assert EmbeddedSource.kind == "embedded"
    assert set(models) == set(embedded.EMBEDDED_MODELS) and NAME in models
    for name, spec in models.items():
        assert (spec.name, spec.source, spec.location) == (name, "embedded", name)
        assert spec.description == embedded.EMBEDDED_MODELS[name].description


def test_without_a_converted_folder_there_is_no_manifest_and_availability_is_the_packages(tmp_path):
    src = EmbeddedSource()
    for name, spec in src.models().items():
        assert src.manifest(spec) is None
        assert src.available(spec) == embedded.is_available(name)


def test_a_converted_folder_is_verified_returned_and_its_record_read(tmp_path):
    folder = _converted(tmp_path)
    src = EmbeddedSource()
    spec = src.models()[NAME]
    assert src.available(spec)  # converted already: no packages needed
    assert src.manifest(spec)["gguf_sha256"] == "g" * 64
    assert src.folder(spec) == folder


def test_a_changed_converted_file_or_an_unreadable_record_is_refused(tmp_path):
    folder = _converted(tmp_path)
    src = EmbeddedSource()
    spec = src.models()[NAME]
    (folder / "model.safetensors").write_bytes(b"converted weightz")
    with pytest.raises(ManifestMismatchError, match="converted folder was changed or corrupted"):
        src.folder(spec)
    (folder / "manifest.json").write_text("[1, 2]")
    with pytest.raises(CorruptedCheckpointError, match="holds a list, not a JSON object"):
        src.manifest(spec)
