"""The world a pair was trained in, rebuilt from its manifest, refusing a world that contradicts it."""

from __future__ import annotations

from typing import Any

from ...errors import InvalidConfigError, WorldMismatchError


def world_for(pair: Any, world: str | None = None) -> Any:
    """The world ``pair`` was trained in, rebuilt from the RL model's manifest config when there is one (else the
    base's).

    ``world`` names it for pairs without a known world; naming a world that contradicts the pair's manifest raises
    :class:`~rlmeta_interp.errors.WorldMismatchError`.
    """
    from ..trained_world import world_from_manifest  # above the worlds package: imported when called

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
