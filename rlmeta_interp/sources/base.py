"""The interface every model source implements, and the manifest helpers the sources share.

A :class:`ModelSource` turns a :class:`~rlmeta_interp.config.ModelSpec` of its kind into a verified local Hugging
Face folder and lists the models it knows by name; a :class:`PairSource` lists the base/RL pairs it knows. The
registry iterates the sources; :func:`rlmeta_interp.models.load_model` resolves every spec through its source.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from ..config import ModelSpec, PairSpec, SourceKind
from ..errors import CorruptedCheckpointError
from ..io import verify_sha256

MANIFEST_NAME = "manifest.json"


class ModelSource(Protocol):
    """Where models of one :data:`~rlmeta_interp.config.SourceKind` come from."""

    kind: SourceKind

    def models(self) -> dict[str, ModelSpec]:
        """The models this source can name (empty for sources that only resolve paths or ids)."""
        ...

    def folder(self, spec: ModelSpec) -> Path:
        """A local Hugging Face folder holding ``spec``'s weights, checked against any hashes the source records."""
        ...

    def manifest(self, spec: ModelSpec) -> dict[str, Any] | None:
        """The provenance record of ``spec`` (world, dose, config, file hashes), or None when it has none."""
        ...

    def available(self, spec: ModelSpec) -> bool:
        """Whether ``spec`` can load on this machine now, found without loading, converting or hashing anything."""
        ...


class PairSource(Protocol):
    """Where base/RL pairs come from."""

    def pairs(self, models: Mapping[str, ModelSpec]) -> dict[str, PairSpec]:
        """The pairs this source knows; ``models`` is every named model of every source (to find a pair's base)."""
        ...


def read_manifest(path: str | os.PathLike) -> dict[str, Any]:
    """A ``manifest.json`` as a dict; a typed error naming the file when it is not valid JSON."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CorruptedCheckpointError(
            f"{path} is not valid JSON ({e}): delete that model folder and rebuild or re-copy it."
        ) from e
    if not isinstance(data, dict):
        raise CorruptedCheckpointError(f"{path} holds a {type(data).__name__}, not a JSON object: re-copy the folder.")
    return data


def has_weights(folder: Path) -> bool:
    """Whether ``folder`` holds a config.json and a weight file (a cheap check: nothing is read)."""
    return (folder / "config.json").exists() and any(any(folder.glob(g)) for g in ("*.safetensors", "*.bin"))


def manifest_files(where: Path, manifest: Mapping[str, Any]) -> Mapping[str, str]:
    """The manifest's ``files`` ({path: sha256}), or a typed error naming ``where`` when it has another shape."""
    files = {} if manifest.get("files") is None else manifest["files"]
    if not isinstance(files, Mapping):
        raise CorruptedCheckpointError(f"{where}: 'files' must map file names to sha256 digests, got a"
                                       f" {type(files).__name__}. Rebuild the model or re-copy its folder.")
    for rel, sha in files.items():
        if not isinstance(sha, str):
            raise CorruptedCheckpointError(f"{where}: the sha256 of {rel!r} must be a hex string, got {sha!r}."
                                           " Rebuild the model or re-copy its folder.")
    return files


def verify_top_level_files(folder: Path, manifest: Mapping[str, Any]) -> None:
    """Check the sha256 of the top-level files a manifest lists (checkpoints in sub-folders are checked when read)."""
    for rel, sha in manifest_files(folder / MANIFEST_NAME, manifest).items():
        if "/" not in rel:
            verify_sha256(folder / rel, sha)
