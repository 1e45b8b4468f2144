"""The organism zoo as a model and pair source: discovered from ``manifest.json`` files under the zoo roots.

The shipped zoo (``data/zoo``) comes first, then the user zoo, so a freshly built model is registered without
editing any list and a user rebuild never shadows a shipped model of the same name. Every tuned model's manifest
(``kind`` "rl", or "sft" for the fine-tuned calibration organisms) that names its base becomes a pair; its
validation-zoo keys (``label``, ``split``, ``recipe``, ``budget``) fill the
:class:`~rlmeta_interp.config.PairSpec` fields of the same names (``budget`` goes to ``extra``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..config import TUNED_KINDS, ModelSpec, PairSpec, SourceKind
from ..errors import CorruptedCheckpointError, InvalidConfigError, MissingWeightsError
from ..paths import shipped_zoo_dir, user_zoo_dir
from .base import MANIFEST_NAME, has_weights, manifest_files, read_manifest, verify_top_level_files

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ZooEntry:
    """One zoo model: its spec and its manifest."""

    spec: ModelSpec
    manifest: dict[str, Any]


def zoo_roots() -> list[Path]:
    """The folders searched for ``<name>/manifest.json``, in priority order."""
    return [shipped_zoo_dir(), user_zoo_dir()]


_Broken = CorruptedCheckpointError | InvalidConfigError


def _named(mpath: Path, e: _Broken) -> _Broken:
    """``e`` with the manifest's path in its message (a config error raised while reading it may not name it)."""
    return e if str(mpath) in str(e) else type(e)(f"{mpath}: {e} Fix that key in the manifest (or rebuild the model).")


@lru_cache(maxsize=8)
def _scan(roots: tuple[Path, ...], stamps: tuple[float, ...]) -> tuple[dict[str, ZooEntry], dict[str, _Broken]]:
    """Every readable model under ``roots``, and the error of every folder whose manifest cannot be read (by folder
    name): one broken manifest is skipped with a warning, so it blocks only the model it describes. ``stamps`` (the
    roots' mtimes) is part of the cache key, so a new model folder is seen at once."""
    entries: dict[str, ZooEntry] = {}
    broken: dict[str, _Broken] = {}
    for root in roots:
        if not root.is_dir():
            continue
        for mpath in sorted(root.glob(f"*/{MANIFEST_NAME}")):
            try:
                m = read_manifest(mpath)
                name = m.get("name", mpath.parent.name)
                if not isinstance(name, str) or not name:
                    raise CorruptedCheckpointError(f"{mpath}: 'name' must be the model's name, a string; got {name!r}."
                                                   " Fix it (it is the folder's name) or rebuild the model.")
                if name in entries:  # shipped zoo wins over a user rebuild of the same name
                    continue
                manifest_files(mpath, m)
                spec = ModelSpec(name=name, source="zoo", location=str(mpath.parent),
                                 description=f"{m.get('world')} organism, dose {m.get('dose')}, {m.get('kind')}")
            except (CorruptedCheckpointError, InvalidConfigError) as e:
                broken.setdefault(mpath.parent.name, _named(mpath, e))
                log.warning("Skipping the zoo model in %s: %s", mpath.parent, e)
                continue
            entries[name] = ZooEntry(spec, m)
    return entries, broken


def _pair(name: str, base: ModelSpec, entry: ZooEntry) -> PairSpec:
    m = entry.manifest
    extra = {"variant": m.get("variant"), "seed": m.get("seed"), "preset": m.get("preset"), "kind": m.get("kind")}
    if "budget" in m:
        extra["budget"] = m["budget"]
    try:
        return PairSpec(
            name=name, base=base, rl=entry.spec, world=m.get("world"), dose=m.get("dose"),
            description=f"{m.get('world')} organism, dose {m.get('dose')}, {str(m.get('kind')).upper()} variant"
                        f" {m.get('variant')},"
                        f" seed {m.get('seed')}",
            label=m.get("label"), split=m.get("split"), recipe=m.get("recipe") or "", extra=extra,
        )
    except InvalidConfigError as e:
        raise InvalidConfigError(
            f"{Path(entry.spec.location) / MANIFEST_NAME}: {e} Fix that key in the manifest (or rebuild the model)."
        ) from e



class ZooSource:
    """Organism models and pairs found under :func:`zoo_roots`."""

    kind: SourceKind = "zoo"

    def __init__(self) -> None:
        self._broken_pairs: dict[str, _Broken] = {}
        # tuned models whose base is not in the zoo (a partial build): not broken, but no pair either
        self._no_base: dict[str, MissingWeightsError] = {}

    def _scanned(self) -> tuple[dict[str, ZooEntry], dict[str, _Broken]]:
        roots = tuple(zoo_roots())
        stamps = tuple(r.stat().st_mtime if r.is_dir() else 0.0 for r in roots)
        return _scan(roots, stamps)

    def entries(self) -> dict[str, ZooEntry]:
        """Name -> entry for every organism model under the zoo roots (re-scanned when a root changes)."""
        return self._scanned()[0]

    def broken(self, name: str) -> _Broken | MissingWeightsError | None:
        """Why zoo model or pair ``name`` was skipped (its manifest cannot be read or a key is invalid, or a tuned
        model's base is not in the zoo), or None."""
        return self._scanned()[1].get(name) or self._broken_pairs.get(name) or self._no_base.get(name)

    def broken_all(self) -> dict[str, _Broken]:
        """Every skipped zoo model and pair (by name) with its error; pairs as of the last :meth:`pairs` call."""
        return {**self._scanned()[1], **self._broken_pairs}

    def models(self) -> dict[str, ModelSpec]:
        return {n: e.spec for n, e in self.entries().items()}

    def folder(self, spec: ModelSpec) -> Path:
        folder = Path(spec.location)
        manifest = self.manifest(spec)
        if manifest is not None:
            verify_top_level_files(folder, manifest)
        return folder

    def manifest(self, spec: ModelSpec) -> dict[str, Any] | None:
        e = self.entries().get(spec.name)
        if e is not None and Path(e.spec.location) == Path(spec.location):
            return e.manifest
        mpath = Path(spec.location) / MANIFEST_NAME
        return read_manifest(mpath) if mpath.exists() else None

    def available(self, spec: ModelSpec) -> bool:
        return has_weights(Path(spec.location))

    def pairs(self, models: Mapping[str, ModelSpec]) -> dict[str, PairSpec]:
        """One pair per tuned manifest whose ``base`` is a zoo model (others are skipped with a warning)."""
        entries = self.entries()
        pairs: dict[str, PairSpec] = {}
        warned, self._broken_pairs = set(self._broken_pairs), {}  # as of this call: the zoo may have changed
        self._no_base = {}
        for name, e in entries.items():
            if e.manifest.get("kind") not in TUNED_KINDS:
                continue
            base = entries.get(e.manifest.get("base", ""))
            if base is None:
                log.warning("Zoo model %s names base %r, which is not in the zoo; skipping its pair.", name,
                            e.manifest.get("base"))
                self._no_base[name] = MissingWeightsError(
                    f"The pair {name} cannot be formed: its manifest names the base {e.manifest.get('base')!r}, which"
                    " is not in the zoo. Build it (rlmeta-interp zoo build --preset <its preset> --only <base>) or copy"
                    " its folder into $RLMETA_HOME/zoo."
                )
                continue
            try:
                pairs[name] = _pair(name, base.spec, e)
            except InvalidConfigError as err:  # one bad manifest blocks only its own pair
                if name not in warned:
                    log.warning("Skipping the zoo pair %s: %s", name, err)
                self._broken_pairs[name] = err
        return pairs
