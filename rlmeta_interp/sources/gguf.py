"""Embedded real LMs (GGUF inside package wheels, :mod:`rlmeta_interp.embedded`) as a model source."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import embedded
from ..config import ModelSpec, SourceKind
from .base import MANIFEST_NAME, read_manifest


class EmbeddedSource:
    """Every model of :data:`rlmeta_interp.embedded.EMBEDDED_MODELS`, converted once to a verified folder."""

    kind: SourceKind = "embedded"

    def models(self) -> dict[str, ModelSpec]:
        return {name: ModelSpec(name=name, source="embedded", location=name, description=e.description)
                for name, e in embedded.EMBEDDED_MODELS.items()}

    def folder(self, spec: ModelSpec) -> Path:
        """The converted folder; :func:`~rlmeta_interp.embedded.ensure_local_folder` checks every file's hash."""
        return embedded.ensure_local_folder(spec.location)

    def manifest(self, spec: ModelSpec) -> dict[str, Any] | None:
        """The conversion record (licence notice, GGUF hash, logit check) of the converted folder."""
        mpath = embedded.local_folder(spec.location) / MANIFEST_NAME
        return read_manifest(mpath) if mpath.exists() else None

    def available(self, spec: ModelSpec) -> bool:
        """Converted already, or convertible: the packages holding the GGUF are installed."""
        return (embedded.local_folder(spec.location) / MANIFEST_NAME).exists() or embedded.is_available(spec.location)
