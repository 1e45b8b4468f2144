"""Worlds: seeded problem generators with verifiers (the rewards)."""

from __future__ import annotations

from .arithmetic import ArithmeticConfig, ArithmeticWorld
from .bandits import BanditConfig, BanditWorld
from .composition import CompositionConfig, CompositionWorld
from .base import Problem, World
from .planning import PlanningConfig, PlanningWorld

WORLD_NAMES: tuple[str, ...] = ("arithmetic", "bandits", "planning", "composition")

__all__ = ["ArithmeticConfig", "ArithmeticWorld", "BanditConfig", "BanditWorld", "CompositionConfig", "CompositionWorld",
           "PlanningConfig", "PlanningWorld", "Problem", "World", "WORLD_NAMES"]
