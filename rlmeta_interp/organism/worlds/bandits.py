"""Bernoulli bandits as text: the meta-learning / in-context RL world.

An episode is ``T`` pulls of ``K`` arms with hidden Bernoulli means, written one character per token:
arm letters ``a b c ...`` followed by the reward the environment sampled, ``0`` or ``1``::

    prompt      ""                   (the loader prepends BOS; the episode starts right after it)
    completion  "a1b0c1c1c0..."      (2*T characters: arm, reward, arm, reward, ...)

The model writes arm tokens; the environment writes reward tokens (multi-turn; see ``rl.py``).
Reference policies: uniform random and Thompson sampling with Beta(1,1) priors; ``posterior_means``
gives the Bayes posterior mean of every arm before every pull (targets for probes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from jaxtyping import Float

from ...config import FrozenConfig, check_range
from ...errors import InvalidConfigError
from .base import Problem, World, draw_in_split

ARM_LETTERS = "abcdefgh"
REWARD_CHARS = "01"


@dataclass(frozen=True)
class BanditConfig(FrozenConfig):
    """K arms, T pulls; arm means drawn uniform in [mean_low, mean_high] per episode."""

    n_arms: int = 3
    horizon: int = 24
    mean_low: float = 0.0
    mean_high: float = 1.0
    # draw pretraining, RL and evaluation bandits from disjoint hash splits of their rounded means
    leak_free: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range(self, "n_arms", 2, len(ARM_LETTERS))
        check_range(self, "horizon", 1, 200)
        check_range(self, "mean_low", 0.0, 1.0)
        check_range(self, "mean_high", 0.0, 1.0)
        if self.mean_low > self.mean_high:
            raise InvalidConfigError(f"BanditConfig.mean_low={self.mean_low} > mean_high={self.mean_high}: swap them.")


def arms_of(config: BanditConfig) -> str:
    return ARM_LETTERS[: config.n_arms]


def parse_episode(text: str, config: BanditConfig) -> list[tuple[int, int]] | None:
    """``[(arm, reward), ...]`` from episode text, or None if any pair is malformed."""
    arms = arms_of(config)
    if len(text) % 2:
        text = text[:-1]  # an unfinished last pull (arm without reward) is dropped
    pulls: list[tuple[int, int]] = []
    for i in range(0, len(text), 2):
        a, r = text[i], text[i + 1]
        if a not in arms or r not in REWARD_CHARS:
            return None
        pulls.append((arms.index(a), int(r)))
    return pulls


def render_episode(pulls: list[tuple[int, int]], config: BanditConfig) -> str:
    arms = arms_of(config)
    return "".join(f"{arms[a]}{r}" for a, r in pulls)


def posterior_means(pulls: list[tuple[int, int]], n_arms: int) -> Float[np.ndarray, "pulls_plus_one arms"]:
    """Beta(1,1) posterior mean of each arm before each pull, and after the last: ``[T+1, K]``."""
    succ = np.zeros(n_arms)
    fail = np.zeros(n_arms)
    out = [(succ + 1) / (succ + fail + 2)]
    for a, r in pulls:
        succ[a] += r
        fail[a] += 1 - r
        out.append((succ + 1) / (succ + fail + 2))
    return np.stack(out)


def thompson_choice(pulls: list[tuple[int, int]], n_arms: int, rng: np.random.Generator) -> int:
    succ = np.zeros(n_arms)
    fail = np.zeros(n_arms)
    for a, r in pulls:
        succ[a] += r
        fail[a] += 1 - r
    return int(np.argmax(rng.beta(succ + 1, fail + 1)))


def simulate(policy: str, means: np.ndarray, horizon: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """One episode of ``policy`` ("random" or "thompson") on arms with ``means``."""
    k = len(means)
    pulls: list[tuple[int, int]] = []
    for _ in range(horizon):
        if policy == "random":
            a = int(rng.integers(k))
        elif policy == "thompson":
            a = thompson_choice(pulls, k, rng)
        else:
            raise InvalidConfigError(f"Unknown bandit policy {policy!r}; choose 'random' or 'thompson'.")
        pulls.append((a, int(rng.random() < means[a])))
    return pulls


def regret(pulls: list[tuple[int, int]], means: np.ndarray) -> float:
    """Expected (pseudo-)regret: sum over pulls of ``max(means) - means[arm]``."""
    best = float(np.max(means))
    return float(sum(best - means[a] for a, _ in pulls))


class BanditWorld(World):
    """Problems are bandits (hidden means in ``meta``); the reward is the episode's mean reward in [0, 1].

    ``reward(problem, completion)`` parses a finished episode; malformed episodes score 0. The
    reward tokens in a completion are the environment's samples, so the verifier only trusts them
    when ``trust_rewards`` is True (RL rollouts written by the environment); otherwise it scores the
    expected reward of the chosen arms, which the model cannot fake.
    """

    name = "bandits"

    def __init__(self, config: BanditConfig | None = None) -> None:
        self.config = config or BanditConfig()

    def problem_key(self, problem: Problem) -> str:
        """A bandit is its arm means, rounded to 3 decimals (closer bandits count as the same problem)."""
        return ",".join(f"{m:.3f}" for m in problem.meta["means"])

    def sample(self, n: int, seed: int, split: str | None = None, **difficulty: Any) -> list[Problem]:
        if difficulty:
            raise InvalidConfigError(f"Bandits take no difficulty keys (got {sorted(difficulty)}); change BanditConfig.")
        cfg = self.config
        rng = np.random.default_rng([seed, 0xBA4D])

        def draw() -> Problem:
            means = rng.uniform(cfg.mean_low, cfg.mean_high, size=cfg.n_arms)
            return Problem(prompt="", answer=arms_of(cfg)[int(np.argmax(means))],
                           meta={"means": [float(m) for m in means], "difficulty": cfg.horizon})

        return draw_in_split(draw, n, split, self.split_of, self.name)

    def reward(self, problem: Problem, completion: str, *, trust_rewards: bool = False) -> float:
        pulls = parse_episode(completion[: 2 * self.config.horizon], self.config)
        if not pulls:
            return 0.0
        means = np.asarray(problem.meta["means"])
        n = self.config.horizon
        if trust_rewards:
            return float(sum(r for _, r in pulls)) / n
        return float(sum(means[a] for a, _ in pulls)) / n

    def is_correct(self, problem: Problem, completion: str) -> bool:
        """An episode is "correct" when it ends on the best arm (for pass@k-style summaries)."""
        pulls = parse_episode(completion[: 2 * self.config.horizon], self.config)
        return bool(pulls) and arms_of(self.config)[pulls[-1][0]] == problem.answer

    def env_reward(self, problem: Problem, arm: int, rng: np.random.Generator) -> int:
        """The environment's step: sample the reward token for pulling ``arm``."""
        return int(rng.random() < problem.meta["means"][arm])
