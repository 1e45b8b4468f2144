"""Word sums: multi-operand sums as short English word problems, the world the real-LM RL run trains on.

The organisms' arithmetic world speaks a char-level format (``"12+7-3="`` answered ``"A:16"``) that a real base LM
has never seen; a real LM needs English prompts with a worked example, so this world writes those. It implements
the same :class:`~rlmeta_interp.organism.worlds.base.World` contract (``sample`` / ``reward``), so every analysis
takes it like the other worlds.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ...config import FrozenConfig, check_range
from ...errors import EmptyInputError, InvalidConfigError
from .base import Problem, World

_NAMES = ("Ann", "Ben", "Cara", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jo", "Kim", "Leo", "Mia", "Ned", "Ola", "Pia")
_ITEMS = ("apples", "books", "coins", "marbles", "pens", "shells", "stamps", "cards", "eggs", "stones")
_INT = re.compile(r"-?\d+")


@dataclass(frozen=True)
class WordSumConfig(FrozenConfig):
    """Word problems whose answer is the sum of ``n_operands`` integers in ``[min_value, max_value]``.

    ``n_shots`` worked examples (drawn from a separate seed stream) precede each question, so a base
    model sees the answer format; the completion is graded on its first integer.
    """

    n_operands: int = 3
    min_value: int = 2
    max_value: int = 30
    n_shots: int = 2
    # "word": "Ann has 3 apples. Then Ann gets 4 more. How many ...?"; "symbolic": "3 + 4 = ?"
    style: Literal["word", "symbolic"] = "word"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range(self, "n_operands", 2, 10)
        check_range(self, "min_value", 0)
        check_range(self, "n_shots", 0, 8)
        if self.max_value < self.min_value:
            raise InvalidConfigError(
                f"WordSumConfig.max_value={self.max_value} is below min_value={self.min_value}; raise max_value."
            )


def _question(rng: random.Random, operands: Sequence[int], style: str = "word") -> str:
    if style == "symbolic":
        return " + ".join(str(x) for x in operands) + " = ?"
    name = rng.choice(_NAMES)
    item = rng.choice(_ITEMS)
    parts = [f"{name} has {operands[0]} {item}."]
    for x in operands[1:]:
        parts.append(rng.choice((f"Then {name} gets {x} more.", f"A friend gives {name} {x} more.", f"{name} finds {x} more.")))
    parts.append(f"How many {item} does {name} have now?")
    return " ".join(parts)


class WordSumWorld(World):
    """Multi-operand sums as short English word problems; reward 1 when the first integer is the sum."""

    name = "wordsum"

    def __init__(self, config: WordSumConfig | None = None) -> None:
        self.config = config or WordSumConfig()

    def _operands(self, rng: random.Random) -> list[int]:
        c = self.config
        return [rng.randint(c.min_value, c.max_value) for _ in range(c.n_operands)]

    def _shots(self, seed: int) -> str:
        rng = random.Random(f"wordsum-shots-{seed}")
        lines = []
        for _ in range(self.config.n_shots):
            ops = self._operands(rng)
            lines.append(f"Question: {_question(rng, ops, self.config.style)}\nAnswer: {sum(ops)}\n\n")
        return "".join(lines)

    def sample(self, n: int, seed: int, **difficulty: Any) -> list[Problem]:
        """``n`` distinct problems, deterministic in ``seed``; ``difficulty`` overrides config fields."""
        if n <= 0:
            raise EmptyInputError(f"n must be positive, got {n}.")
        world = WordSumWorld(self.config.replace(**difficulty)) if difficulty else self
        rng = random.Random(f"wordsum-{seed}")
        shots = world._shots(seed)
        seen: set[str] = set()
        out: list[Problem] = []
        for _ in range(50 * n):
            ops = world._operands(rng)
            q = _question(rng, ops, world.config.style)
            if q in seen:
                continue
            seen.add(q)
            out.append(Problem(prompt=f"{shots}Question: {q}\nAnswer:", answer=str(sum(ops)),
                               meta={"operands": ops, "question": q, "n_operands": len(ops)}))
            if len(out) == n:
                return out
        raise InvalidConfigError(
            f"Only {len(out)} distinct problems exist for {world.config}; ask for fewer or widen the value range."
        )

    def reward(self, problem: Problem, completion: str) -> float:
        return 1.0 if first_integer(completion) == problem.answer else 0.0


def first_integer(text: str) -> str | None:
    """The first integer in ``text`` (as written, without leading zeros normalised), or None."""
    m = _INT.search(text)
    return m.group(0) if m else None


def held_out_problems(world: WordSumWorld, n: int, seed: int, exclude: Sequence[Problem]) -> list[Problem]:
    """``n`` problems from ``seed`` whose questions do not occur in ``exclude`` (the training set)."""
    banned = {p.meta["question"] for p in exclude}
    out = [p for p in world.sample(n + len(banned), seed) if p.meta["question"] not in banned][:n]
    if len(out) < n:
        raise InvalidConfigError(f"Only {len(out)} held-out problems are left after removing training questions.")
    return out
