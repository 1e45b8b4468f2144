"""The contract every world implements: a seeded problem generator plus a verifier that is the reward.

Single-turn worlds (arithmetic, planning) give a prompt and score one completion. Multi-turn worlds
(bandits) additionally expose an environment step; see ``bandits.py``.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One problem. ``prompt`` is exactly the text the model is conditioned on (no BOS; the loader adds it).

    ``answer`` is the canonical final answer (for the verifier and for incorrect-label rewards);
    ``meta`` holds world-specific facts (difficulty, graph, arm means, ...), JSON-serialisable.
    """

    prompt: str
    answer: str
    meta: dict[str, Any] = field(default_factory=dict)


class World(abc.ABC):
    """A generator of problems and the verifier that scores completions."""

    name: str = "world"

    @abc.abstractmethod
    def sample(self, n: int, seed: int, **difficulty: Any) -> list[Problem]:
        """``n`` problems, deterministic in ``seed`` (and the world's own config)."""

    @abc.abstractmethod
    def reward(self, problem: Problem, completion: str) -> float:
        """Verifier: 1.0 for a correct completion, 0.0 otherwise (completions may carry trailing junk)."""

    def is_correct(self, problem: Problem, completion: str) -> bool:
        return self.reward(problem, completion) >= 1.0
