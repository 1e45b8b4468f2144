"""Every known model and pair in one table, gathered from the model sources (:mod:`rlmeta_interp.sources`).

The organism zoo (discovered from ``manifest.json`` files, shipped zoo first), embedded real LMs, LoRA adapter pairs,
and published hub pairs (loadable only from the local hub cache) all answer the same lookups; :func:`labelled_pairs`
lists the validation zoo. Which pairs a notebook or experiment reads is chosen in :mod:`rlmeta_interp.selection`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from . import sources
from .config import ModelSpec, PairSpec, PairSplit
from .errors import InvalidConfigError, MissingWeightsError, UnknownModelError
from .sources import ZooEntry
from .sources.hub import HUB_PAIRS

log = logging.getLogger(__name__)

__all__ = ["HUB_PAIRS", "ZooEntry", "all_models", "all_pairs", "find_pairs", "get_model", "get_pair", "labelled_pairs",
           "manifest_of", "resolve_model", "skipped_manifests", "zoo_entries", "zoo_pairs"]


def zoo_entries() -> dict[str, ZooEntry]:
    """Name -> entry (spec and manifest) for every organism model found under the zoo roots."""
    return sources.ZOO.entries()


def zoo_pairs() -> dict[str, PairSpec]:
    """Every organism pair: one per RL manifest whose base is in the zoo."""
    return sources.ZOO.pairs(all_models())


def all_models() -> dict[str, ModelSpec]:
    """Name -> spec of every model some source names (zoo first, then embedded, then hub ids)."""
    out: dict[str, ModelSpec] = {}
    for source in sources.MODEL_SOURCES.values():
        for name, spec in source.models().items():
            out.setdefault(name, spec)
    return out


def all_pairs() -> dict[str, PairSpec]:
    """Name -> spec of every pair some source names (zoo first, then adapters, then hub pairs)."""
    models = all_models()
    out: dict[str, PairSpec] = {}
    for source in sources.PAIR_SOURCES:
        for name, spec in source.pairs(models).items():
            out.setdefault(name, spec)
    return out


def get_model(name: str) -> ModelSpec:
    models = all_models()
    if name in models:
        return models[name]
    if (why := sources.ZOO.broken(name)) is not None:  # a zoo model skipped for a bad manifest: say why
        raise why
    raise UnknownModelError(name, list(models) + list(all_pairs()))


def get_pair(name: str) -> PairSpec:
    pairs = all_pairs()
    if name in pairs:
        return pairs[name]
    if (why := sources.ZOO.broken(name)) is not None:
        raise why
    raise UnknownModelError(name, list(pairs), hint="For two arbitrary models use load_pair((base, rl)).")


def resolve_model(name_or_path: str | os.PathLike) -> ModelSpec:
    """The spec of a local folder, a registry model name, or a hub id (``org/name``, from the local hub cache)."""
    text = str(name_or_path)
    if not text.strip():  # Path("") is the working directory: never load that by accident
        raise InvalidConfigError("The model name is empty: pass a registry name (rlmeta-interp list) or a folder.")
    path = Path(text).expanduser()
    if path.is_dir():
        return sources.folder_spec(path)
    if text.startswith(("/", ".", "~")) or text.count("/") > 1 or path.exists():
        raise MissingWeightsError(f"Folder {path} does not exist (or is not a folder). Check the path.")
    try:
        return get_model(text)
    except UnknownModelError:
        if text.count("/") == 1:  # looks like a hub id that is not in the table: try the local cache
            return sources.hub_spec(text)
        raise


def skipped_manifests() -> dict[str, Exception]:
    """Zoo models and pairs left out because their manifest cannot be read or holds an invalid key, by name, with the
    typed error (naming the file) that asking for them raises."""
    all_pairs()  # the pairs' errors are those of the latest listing
    return sources.ZOO.broken_all()


def manifest_of(name: str) -> dict | None:
    """The manifest of zoo model ``name``, or None when the zoo has no such model."""
    e = zoo_entries().get(name)
    return e.manifest if e else None


def find_pairs(world: str | None = None, *, preset: str | None = None, variant: str | None = None,
               dose: float | None = None, seed: int | None = None) -> list[PairSpec]:
    """Zoo pairs matching every given field, sorted by (world, dose, variant, seed). Empty list if none match."""
    if preset is not None:  # imported here: the presets import the training stack, which plain loading does not need
        from .organism.presets import of_preset
    out = []
    for p in zoo_pairs().values():
        e = p.extra
        if world is not None and p.world != world:
            continue
        if preset is not None and not of_preset(preset, p.name, e.get("preset")):
            continue
        if variant is not None and e.get("variant") != variant:
            continue
        if dose is not None and (p.dose is None or abs(p.dose - dose) > 1e-9):
            continue
        if seed is not None and e.get("seed") != seed:
            continue
        out.append(p)
    return sorted(out, key=lambda p: (p.world or "", p.dose or 0.0, str(p.extra.get("variant")), p.extra.get("seed") or 0))


def labelled_pairs(split: PairSplit | None = None) -> list[PairSpec]:
    """The validation zoo: every pair whose RL manifest carries a ``label`` (creation / activation / no_signal).

    ``split`` keeps the ``"calibration"`` or ``"test"`` pairs only (None: both, and pairs without a split). Sorted
    by (split, label, world, dose, name); empty when no manifest is labelled. A zoo manifest that cannot be read is
    an error here (it names the file), not a pair silently left out of the validation set.
    """
    if split not in (None, "calibration", "test"):
        raise InvalidConfigError(f"split={split!r}: choose 'calibration', 'test', or None for every labelled pair.")
    pairs = all_pairs()
    broken = sources.ZOO.broken_all()
    if broken:
        raise next(iter(broken.values()))
    out = [p for p in pairs.values() if p.label is not None and (split is None or p.split == split)]
    return sorted(out, key=lambda p: (p.split or "", p.label or "", p.world or "", p.dose or 0.0, p.name))
