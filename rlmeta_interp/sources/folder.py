"""Any local Hugging Face folder as a model source (the folder is the name)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..config import ModelSpec, SourceKind
from ..errors import MissingWeightsError
from .base import MANIFEST_NAME, has_weights, read_manifest, verify_top_level_files


def folder_spec(path: str | os.PathLike) -> ModelSpec:
    """The spec of a local folder: named after the folder, located at its absolute path."""
    path = Path(path).expanduser()
    if not path.is_dir():
        raise MissingWeightsError(f"Folder {path} does not exist (or is not a folder). Check the path.")
    return ModelSpec(name=path.name, source="folder", location=str(path.resolve()))


class FolderSource:
    """Local folders: nothing to list; a ``manifest.json`` in the folder is read and its file hashes checked."""

    kind: SourceKind = "folder"

    def models(self) -> dict[str, ModelSpec]:
        return {}

    def folder(self, spec: ModelSpec) -> Path:
        folder = Path(spec.location)
        if not folder.is_dir():
            raise MissingWeightsError(f"Folder {folder} does not exist (or is not a folder). Check the path.")
        manifest = self.manifest(spec)
        if manifest is not None:
            verify_top_level_files(folder, manifest)
        return folder

    def manifest(self, spec: ModelSpec) -> dict[str, Any] | None:
        mpath = Path(spec.location) / MANIFEST_NAME
        return read_manifest(mpath) if mpath.exists() else None

    def available(self, spec: ModelSpec) -> bool:
        return has_weights(Path(spec.location))
