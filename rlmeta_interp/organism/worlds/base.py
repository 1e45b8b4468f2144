"""The contract every world implements: a seeded problem generator plus a verifier that is the reward.

Single-turn worlds (arithmetic, planning) give a prompt and score one completion. Multi-turn worlds
(bandits) additionally expose an environment step; see ``bandits.py``.
"""

from __future__ import annotations

import abc
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from ...errors import InvalidConfigError

Split = Literal["pretrain", "rl", "eval"]
SPLITS: tuple[str, ...] = ("pretrain", "rl", "eval")
# Shares of the hash space: a problem is an evaluation problem when its hash falls below 0.10, an RL-training problem
# below 0.30, and a pretraining problem otherwise. The three sets are disjoint by construction, whatever the seeds.
SPLIT_UPPER: dict[str, float] = {"eval": 0.10, "rl": 0.30, "pretrain": 1.0}
MAX_DRAWS_PER_PROBLEM = 2000


@dataclass(frozen=True)
class Problem:
    """One problem. ``prompt`` is exactly the text the model is conditioned on (no BOS; the loader adds it).

    ``answer`` is the canonical final answer (for the verifier and for incorrect-label rewards);
    ``meta`` holds world-specific facts (difficulty, graph, arm means, ...), JSON-serialisable.
    """

    prompt: str
    answer: str
    meta: dict[str, Any] = field(default_factory=dict)


def split_of_key(world: str, key: str) -> str:
    """The split ("pretrain", "rl" or "eval") that a problem with canonical ``key`` belongs to in ``world``.

    A pure function of the problem (sha256 of the world name and the key), so pretraining corpora, RL prompt sets
    and evaluation sets drawn with any seeds never share a problem.
    """
    digest = hashlib.sha256(f"{world}\x00{key}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2.0**64
    return next(s for s in ("eval", "rl", "pretrain") if u < SPLIT_UPPER[s])


def draw_in_split(draw: Callable[[], Problem], n: int, split: str | None, split_of: Callable[[Problem], str],
                  world: str) -> list[Problem]:
    """``n`` problems from ``draw()``, keeping only those that ``split_of`` assigns to ``split`` (all of them when
    None); ``world`` names the world in the error message.

    Rejection sampling keeps the generator's own distribution within the split, and with ``split=None`` the draws
    are exactly the generator's (so configs without leak-free splits reproduce their problems bit for bit).
    """
    if split is None:
        return [draw() for _ in range(n)]
    if split not in SPLITS:
        raise InvalidConfigError(f"Unknown split {split!r}; choose one of {SPLITS}.")
    out: list[Problem] = []
    for _ in range(MAX_DRAWS_PER_PROBLEM * max(n, 1)):
        if len(out) == n:
            break
        p = draw()
        if split_of(p) == split:
            out.append(p)
    if len(out) < n:
        raise InvalidConfigError(
            f"Could draw only {len(out)} of {n} {world} problems in the {split!r} split: the difficulty asked for has too"
            " few distinct problems; widen it (more operands or digits, a larger graph) or ask for fewer problems."
        )
    return out


def leave_one_out_frequencies(values: list[Any]) -> list[float]:
    """For each item, the share of the *other* items equal to it (a guesser that knows the distribution but not the
    item itself)."""
    if len(values) < 2:
        raise InvalidConfigError("Leave-one-out frequencies need at least two problems: evaluate more problems.")
    counts: dict[Any, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return [(counts[v] - 1) / (len(values) - 1) for v in values]


class World(abc.ABC):
    """A generator of problems and the verifier that scores completions.

    ``problem_key`` is the canonical identity of a problem (what two equal problems share); ``split_of`` assigns it
    to pretraining, RL training or evaluation by a hash of that key (:func:`split_of_key`).
    """

    name: str = "world"
    config: Any  # the world's FrozenConfig; every world config has a ``leak_free`` flag

    def problem_key(self, problem: Problem) -> str:
        """Canonical identity of a problem: by default its prompt."""
        return problem.prompt

    def split_of(self, problem: Problem) -> str:
        return split_of_key(self.name, self.problem_key(problem))

    def document_key(self, prompt: str) -> str:
        """The :meth:`problem_key` of the problem a training document with this prompt shows (for leakage checks on
        regenerated corpora, whose documents keep only their text): by default the prompt itself."""
        return prompt

    def guess_probabilities(self, problems: list[Problem]) -> list[float]:
        """Probability that one guess is right, per problem, for a guesser that knows the evaluated problems' answer
        distribution but does not solve them (leave-one-out frequencies). Worlds whose verifier checks more than the
        answer override this."""
        return leave_one_out_frequencies([p.answer for p in problems])

    def sample_held_out(self, n: int, seed: int, **difficulty: Any) -> list[Problem]:
        """``n`` problems for measurements: from the "eval" hash split when the world is leak-free (never in any
        pretraining corpus or RL prompt set), else from the whole space."""
        return self.sample(n, seed, split="eval" if self.config.leak_free else None, **difficulty)

    @abc.abstractmethod
    def sample(self, n: int, seed: int, **difficulty: Any) -> list[Problem]:
        """``n`` problems, deterministic in ``seed`` (and the world's own config)."""

    @abc.abstractmethod
    def reward(self, problem: Problem, completion: str) -> float:
        """Verifier: 1.0 for a correct completion, 0.0 otherwise (completions may carry trailing junk)."""

    def is_correct(self, problem: Problem, completion: str) -> bool:
        return self.reward(problem, completion) >= 1.0
