"""The world a model or pair was trained in, rebuilt by name from its manifest: the one world-name dispatch above
:func:`rlmeta_interp.organism.corpus.make_world`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import InvalidConfigError, WorldMismatchError
from .corpus import make_world
from .worlds.arithmetic import ArithmeticConfig
from .worlds.bandits import BanditConfig
from .worlds.base import World
from .worlds.composition import CompositionConfig
from .worlds.planning import PlanningConfig

WORLD_CONFIGS: dict[str, type] = {"arithmetic": ArithmeticConfig, "bandits": BanditConfig, "planning": PlanningConfig,
                                  "composition": CompositionConfig}


def world_from_manifest(name: str, manifest: Mapping[str, Any] | None = None) -> World:
    """World ``name`` with the config a zoo manifest recorded for it (``manifest["config"][name]``), else defaults."""
    if name not in WORLD_CONFIGS:
        raise InvalidConfigError(f"Unknown world {name!r}; choose one of {sorted(WORLD_CONFIGS)}.")
    cfg = ((manifest or {}).get("config") or {}).get(name)
    if cfg:
        return make_world(name, **{name: WORLD_CONFIGS[name].from_dict(cfg)})
    return make_world(name)


def world_for(pair: Any, world: str | None = None) -> World:
    """The world a pair was trained in (its RL training distribution), rebuilt from the RL model's manifest config
    when there is one (else the base's).

    ``world`` names it for pairs without a known world; naming a world that contradicts the pair's manifest raises
    :class:`~rlmeta_interp.errors.WorldMismatchError`.
    """
    known = getattr(pair, "world", None)
    if world is not None and known is not None and world != known:
        raise WorldMismatchError(
            f"Pair {pair.name} was trained in the {known!r} world (its manifest says so), not {world!r}: drop the"
            f" world argument (or --world) or pass world={known!r}."
        )
    name = world or known
    if name is None:
        raise InvalidConfigError(
            f"Pair {pair.name} has no known world: pass world='arithmetic' | 'planning' | 'bandits'."
        )
    return world_from_manifest(name, pair.rl.manifest or pair.base.manifest or {})
