"""Every known model and pair in one table.

Three sources, one lookup:
- the organism zoo: discovered from ``manifest.json`` files under the zoo roots (shipped ``data/zoo`` first, then
  the user zoo), so a freshly built model is registered without editing any list;
- embedded real LMs that install from the package registry (``rlmeta_interp.embedded``);
- hub pairs from SOURCES.md, which load only when their weights are already in the local hub cache.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .config import ModelSpec, PairSpec
from .errors import CorruptedCheckpointError, UnknownModelError
from .paths import shipped_zoo_dir, user_zoo_dir

log = logging.getLogger(__name__)

_HUB_HOW = (
    "Download it on a machine with hub access (`huggingface-cli download {rid}`), then copy the hub cache"
    " (HF_HOME) to this machine, or pass a local folder instead of the name."
)


def _hub(name: str, rid: str, desc: str = "") -> ModelSpec:
    return ModelSpec(name=name, source="hub", location=rid, description=desc)


def _hub_pair(name: str, base: str, rl: str, desc: str, layer: int | None = None) -> PairSpec:
    return PairSpec(
        name=name, base=_hub(f"{name}:base", base), rl=_hub(f"{name}:rl", rl), description=desc,
        suggested_layer=layer, how_to_obtain=" ".join(_HUB_HOW.format(rid=r) for r in (base, rl)),
    )


HUB_PAIRS: tuple[PairSpec, ...] = (
    _hub_pair("orz-0.5b", "Qwen/Qwen2.5-0.5B", "Open-Reasoner-Zero/Open-Reasoner-Zero-0.5B",
              "RL from base (Venhoff et al. 2510.07364: steering layer 9, SAE layer 8).", layer=9),
    _hub_pair("simplerl-7b", "Qwen/Qwen2.5-7B", "hkust-nlp/Qwen-2.5-7B-SimpleRL-Zoo",
              "The pass@k boundary pair of Yue et al. 2504.13837."),
    _hub_pair("one-shot-1.5b", "Qwen/Qwen2.5-Math-1.5B", "ypwang61/One-Shot-RLVR-Qwen2.5-Math-1.5B-pi1",
              "One-shot RLVR (Wang et al. 2504.20571). The RL id is unverified here (no hub access): check the"
              " release page of ypwang61/One-Shot-RLVR and pass the folder if it differs."),
    _hub_pair("prorl-1.5b", "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", "nvidia/Nemotron-Research-Reasoning-Qwen-1.5B",
              "Prolonged RL (ProRL, Liu et al. 2505.24864)."),
)


@dataclass(frozen=True)
class ZooEntry:
    spec: ModelSpec
    manifest: dict


def _zoo_roots() -> list[Path]:
    return [shipped_zoo_dir(), user_zoo_dir()]


def _read_manifest(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise CorruptedCheckpointError(f"{path} is not valid JSON ({e}): delete that model folder and rebuild it.") from e


@lru_cache(maxsize=8)
def _scan(roots: tuple[Path, ...], stamps: tuple[float, ...]) -> dict[str, ZooEntry]:
    entries: dict[str, ZooEntry] = {}
    for root in roots:
        if not root.is_dir():
            continue
        for mpath in sorted(root.glob("*/manifest.json")):
            m = _read_manifest(mpath)
            name = m.get("name", mpath.parent.name)
            if name in entries:  # shipped zoo wins over a user rebuild of the same name
                continue
            entries[name] = ZooEntry(
                ModelSpec(name=name, source="zoo", location=str(mpath.parent),
                          description=f"{m.get('world')} organism, dose {m.get('dose')}, {m.get('kind')}"), m)
    return entries


def zoo_entries() -> dict[str, ZooEntry]:
    """Name -> entry for every organism model found under the zoo roots."""
    roots = tuple(_zoo_roots())
    stamps = tuple(r.stat().st_mtime if r.is_dir() else 0.0 for r in roots)
    return _scan(roots, stamps)


def embedded_specs() -> dict[str, ModelSpec]:
    try:
        from . import embedded
    except ImportError:  # the embedded module is optional machinery; without it there are no embedded LMs
        return {}
    table = getattr(embedded, "EMBEDDED", {})
    return {name: ModelSpec(name=name, source="embedded", location=name, description=getattr(e, "description", ""))
            for name, e in table.items()}


def zoo_pairs() -> dict[str, PairSpec]:
    entries = zoo_entries()
    pairs: dict[str, PairSpec] = {}
    for name, e in entries.items():
        m = e.manifest
        if m.get("kind") != "rl":
            continue
        base = entries.get(m.get("base", ""))
        if base is None:
            log.warning("Zoo RL model %s names base %r, which is not in the zoo; skipping its pair.", name, m.get("base"))
            continue
        pairs[name] = PairSpec(
            name=name, base=base.spec, rl=e.spec, world=m.get("world"), dose=m.get("dose"),
            description=f"{m.get('world')} organism, dose {m.get('dose')}, RL variant {m.get('variant')}, seed {m.get('seed')}",
            extra={"variant": m.get("variant"), "seed": m.get("seed"), "preset": m.get("preset")},
        )
    return pairs


def extra_pairs() -> dict[str, PairSpec]:
    """Pairs contributed by optional modules (e.g. the embedded Gemma base + the project's GRPO adapter)."""
    try:
        from . import embedded
    except ImportError:
        return {}
    return {p.name: p for p in getattr(embedded, "PAIRS", ())}


def all_models() -> dict[str, ModelSpec]:
    out = {n: e.spec for n, e in zoo_entries().items()}
    out.update(embedded_specs())
    for p in HUB_PAIRS:
        out[p.base.location] = _hub(p.base.location, p.base.location)
        out[p.rl.location] = _hub(p.rl.location, p.rl.location)
    return out


def all_pairs() -> dict[str, PairSpec]:
    out = zoo_pairs()
    out.update(extra_pairs())
    out.update({p.name: p for p in HUB_PAIRS})
    return out


def get_model(name: str) -> ModelSpec:
    models = all_models()
    if name in models:
        return models[name]
    raise UnknownModelError(name, list(models) + list(all_pairs()))


def get_pair(name: str) -> PairSpec:
    pairs = all_pairs()
    if name in pairs:
        return pairs[name]
    raise UnknownModelError(name, list(pairs), hint="For two arbitrary models use load_pair((base, rl)).")


def manifest_of(name: str) -> dict | None:
    e = zoo_entries().get(name)
    return e.manifest if e else None


def find_pairs(world: str | None = None, *, preset: str | None = None, variant: str | None = None,
               dose: float | None = None, seed: int | None = None) -> list[PairSpec]:
    """Zoo pairs matching every given field, sorted by (world, dose, variant, seed). Empty list if none match."""
    out = []
    for p in zoo_pairs().values():
        e = p.extra
        if world is not None and p.world != world:
            continue
        if preset is not None and e.get("preset") != preset:
            continue
        if variant is not None and e.get("variant") != variant:
            continue
        if dose is not None and (p.dose is None or abs(p.dose - dose) > 1e-9):
            continue
        if seed is not None and e.get("seed") != seed:
            continue
        out.append(p)
    return sorted(out, key=lambda p: (p.world or "", p.dose or 0.0, str(p.extra.get("variant")), p.extra.get("seed") or 0))
