"""Model sources behind one interface: where every model's weights come from.

One source per :data:`~rlmeta_interp.config.SourceKind`: the organism zoo (manifests under the zoo roots), local
folders, the local hub cache, embedded GGUF models, and LoRA adapters. Each implements
:class:`~rlmeta_interp.sources.base.ModelSource` (``models``, ``folder``, ``manifest``); the zoo, hub and adapter
sources also implement :class:`~rlmeta_interp.sources.base.PairSource` (``pairs``). The registry iterates
:data:`MODEL_SOURCES` and :data:`PAIR_SOURCES`; :func:`rlmeta_interp.models.load_model` resolves every spec with
:func:`source_for`.
"""

from __future__ import annotations

from pathlib import Path

from ..config import ModelSpec, SourceKind
from ..errors import InvalidConfigError
from .adapter import AdapterSource
from .base import ModelSource, PairSource, read_manifest
from .folder import FolderSource, folder_spec
from .gguf import EmbeddedSource
from .hf_folder import check_device, load_hf_folder
from .hub import HubSource, hub_spec
from .zoo import ZooEntry, ZooSource

ZOO = ZooSource()
FOLDER = FolderSource()
HUB = HubSource()
EMBEDDED = EmbeddedSource()


def folder_of(spec: ModelSpec) -> Path:
    """The verified local folder of ``spec``, from its source."""
    return source_for(spec).folder(spec)


def available(spec: ModelSpec) -> bool:
    """Whether ``spec`` can load on this machine now (nothing is loaded, converted, hashed or downloaded)."""
    return source_for(spec).available(spec)


ADAPTER = AdapterSource(resolve=folder_of, available=available)

#: every model source by kind; the order is the registry's priority when two sources name the same model
MODEL_SOURCES: dict[SourceKind, ModelSource] = {
    "zoo": ZOO, "embedded": EMBEDDED, "hub": HUB, "folder": FOLDER, "adapter": ADAPTER,
}
#: every pair source, in the registry's priority order
PAIR_SOURCES: tuple[PairSource, ...] = (ZOO, ADAPTER, HUB)


def source_for(spec: ModelSpec) -> ModelSource:
    """The source that resolves ``spec`` (by ``spec.source``)."""
    try:
        return MODEL_SOURCES[spec.source]
    except KeyError:
        raise InvalidConfigError(
            f"Model {spec.name!r} has source {spec.source!r}, which no model source handles; choose one of"
            f" {sorted(MODEL_SOURCES)}."
        ) from None


__all__ = [
    "ADAPTER", "EMBEDDED", "FOLDER", "HUB", "MODEL_SOURCES", "PAIR_SOURCES", "ZOO", "AdapterSource", "EmbeddedSource",
    "FolderSource", "HubSource", "ModelSource", "PairSource", "ZooEntry", "ZooSource", "available", "check_device",
    "folder_of",
    "folder_spec", "hub_spec", "load_hf_folder", "read_manifest", "source_for",
]
