"""Function composition: atomic functions learnt one application at a time, composed only where the corpus shows it.

The world holds ``n_functions`` atomic functions, named ``a``, ``b``, ..., each a fixed random permutation of the
digits ``0 .. domain-1`` (drawn from ``function_seed``). Text layout (one character = one token)::

    composition   "5ca="  ->  "c5=1;a1=4;A:4"      (apply c to 5, then a to the result)
    unchained     "5ca="  ->  "c5=1;a7=3;A:3"      (the same prompt; each later step applies its function to a
                                                     uniformly drawn input instead of the output before it)

The atomic fact (one function) is the same text in both (``"5c="`` -> ``"c5=1;A:1"``). An unchained document shows
every atomic fact and the whole step layout of a composition except one thing: that a step's input is the output of
the step before it (it is, only by chance, one time in ``domain``). That link is the rewarded capability of the
composition recipe (``corpus.py``): a model that never saw it writes the right composition exactly when its drawn
inputs happen to be the right ones.

Splits: each ordered pair of functions falls in the evaluation, RL or pretraining split by its hash, and a problem of
two or more functions takes the split of the pairs it chains (any evaluation pair makes it an evaluation problem,
else any RL pair an RL problem), whatever its input. So the evaluation compositions chain function pairs that no
pretraining document and no RL prompt shows, chained or unchained, even inside a longer sequence. Atomic facts are
the skills themselves: always "pretrain".

The verifier reads every ``<f><x>=<y>;`` step; with ``verify="chain"`` each step must be the right function applied
to the right input with the right output, in order, and the ``A:`` answer must be the last output.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ...config import FrozenConfig, check_range
from ...errors import InvalidConfigError
from .base import Problem, World, draw_in_split, leave_one_out_frequencies, split_of_key

ANSWER_MARKER = "A:"
_STEP_RE = re.compile(r"([a-z])(\d)=(\d);")
_ANSWER_RE = re.compile(r"A:(\d)(?!\d)")
_COMPOSE_PROMPT_RE = re.compile(r"\d([a-z]{2,})=")


@dataclass(frozen=True)
class CompositionConfig(FrozenConfig):
    """The atomic functions and the composition levels sampled (``level`` = number of functions applied)."""

    n_functions: int = 12
    domain: int = 10  # the functions map the digits 0 .. domain-1 to themselves
    function_seed: int = 0  # which permutations the functions are: every model of a design shares them
    min_level: int = 2
    max_level: int = 3
    leak_free: bool = True
    verify: Literal["answer", "chain"] = "chain"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range(self, "n_functions", 2, 26)
        check_range(self, "domain", 2, 10)
        check_range(self, "function_seed", 0)
        check_range(self, "min_level", 1, 8)
        check_range(self, "max_level", 1, 8)
        if self.min_level > self.max_level:
            raise InvalidConfigError(
                f"CompositionConfig.min_level={self.min_level} > max_level={self.max_level}: swap them."
            )


def function_tables(config: CompositionConfig) -> dict[str, list[int]]:
    """Each atomic function's table (``table[x]`` is its value at ``x``), a pure function of the config."""
    rng = np.random.default_rng([config.function_seed, config.domain, 0xF00C])
    return {string.ascii_lowercase[i]: [int(v) for v in rng.permutation(config.domain)]
            for i in range(config.n_functions)}


def parse_steps(completion: str) -> list[tuple[str, int, int]]:
    """The ``(function, input, output)`` steps written before the ``A:`` marker, in order."""
    body = completion.split(ANSWER_MARKER)[0]
    return [(f, int(x), int(y)) for f, x, y in _STEP_RE.findall(body)]


def parse_answer(completion: str) -> int | None:
    """The digit after the single ``A:`` marker, or None (no marker, several markers, or more than one digit)."""
    if completion.count(ANSWER_MARKER) != 1:
        return None
    m = _ANSWER_RE.search(completion)
    return int(m.group(1)) if m else None


class CompositionWorld(World):
    """Compositions of atomic digit functions. ``reward`` is 1.0 iff the answer (and, under chain verification,
    every step) is right."""

    name = "composition"

    def __init__(self, config: CompositionConfig | None = None) -> None:
        self.config = config or CompositionConfig()
        self.tables = function_tables(self.config)

    # ------------------------------------------------------------------ problems
    def _problem(self, functions: str, x: int, later_inputs: list[int] | None = None) -> Problem:
        """A composition, or with ``later_inputs`` (one per function after the first) an unchained document."""
        steps, value = [], x
        for j, f in enumerate(functions):
            arg = value if later_inputs is None or j == 0 else later_inputs[j - 1]
            value = self.tables[f][arg]
            steps.append((f, arg, value))
        kind = "composition" if later_inputs is None or len(functions) == 1 else "unchained"
        return Problem(prompt=f"{x}{functions}=", answer=str(steps[-1][2]),
                       meta={"kind": kind, "functions": functions, "inputs": [a for _, a, _ in steps],
                             "outputs": [y for _, _, y in steps], "level": len(functions),
                             "difficulty": len(functions)})

    def composition(self, functions: str, x: int) -> Problem:
        """The composition applying ``functions`` (letters, in order) to the input digit ``x``."""
        names = string.ascii_lowercase[: self.config.n_functions]
        if not functions or set(functions) - set(names) or not 0 <= x < self.config.domain:
            raise InvalidConfigError(f"Composition {functions!r} of {x!r}: use letters from {names!r} and an input"
                                     f" from 0 to {self.config.domain - 1}.")
        return self._problem(functions, x)

    def _letters(self, rng: np.random.Generator, k: int) -> str:
        return "".join(string.ascii_lowercase[int(i)] for i in rng.integers(self.config.n_functions, size=k))

    def problem_key(self, problem: Problem) -> str:
        """A problem of two or more functions is identified by its function sequence (its input does not matter, so
        a held-out sequence is held out at every input, chained or not); an atomic fact by its prompt."""
        if problem.meta["level"] > 1:
            return "compose:" + problem.meta["functions"]
        return problem.prompt

    def document_key(self, prompt: str) -> str:
        """A prompt of two or more functions is keyed by its function sequence, as in :meth:`problem_key`; an atomic
        fact by itself."""
        m = _COMPOSE_PROMPT_RE.fullmatch(prompt)
        return "compose:" + m.group(1) if m else prompt

    def pair_split(self, pair: str) -> str:
        """The split of one ordered pair of functions (two letters), by the hash of the pair."""
        return split_of_key(self.name, "compose:" + pair)

    def split_of(self, problem: Problem) -> str:
        """Atomic facts are the skills every corpus teaches ("pretrain"). A problem of two or more functions goes by
        the adjacent pairs it chains: "eval" if any pair is an evaluation pair, else "rl" if any is an RL pair, else
        "pretrain". So no pretraining document or RL prompt ever chains an evaluation pair, not even inside a longer
        sequence, and no pretraining document chains an RL pair."""
        functions = problem.meta["functions"]
        if problem.meta["level"] == 1:
            return "pretrain"
        splits = {self.pair_split(functions[j:j + 2]) for j in range(len(functions) - 1)}
        return next(s for s in ("eval", "rl", "pretrain") if s in splits)

    def sample(self, n: int, seed: int, level: int | None = None, split: str | None = None,
               **difficulty: Any) -> list[Problem]:
        """``n`` compositions; ``level`` pins the number of functions, else drawn from the config's range."""
        if difficulty:
            raise InvalidConfigError(f"Unknown composition difficulty keys {sorted(difficulty)}; use level=.")
        if n < 0:
            raise InvalidConfigError(f"n must be >= 0, got {n}.")
        cfg = self.config
        if level is not None:
            check_level(level)
        rng = np.random.default_rng([seed, 0xC0F0])

        def draw() -> Problem:
            k = level if level is not None else int(rng.integers(cfg.min_level, cfg.max_level + 1))
            return self._problem(self._letters(rng, k), int(rng.integers(cfg.domain)))

        return draw_in_split(draw, n, split, self.split_of, self.name)

    def sample_unchained(self, n: int, seed: int, split: str | None = None) -> list[Problem]:
        """``n`` unchained documents of 1 .. ``max_level`` functions (module docstring): the documents every corpus
        holds outside its dose share. ``split`` as in :meth:`sample`."""
        if n < 0:
            raise InvalidConfigError(f"n must be >= 0, got {n}.")
        cfg = self.config
        rng = np.random.default_rng([seed, 0x7157])

        def draw() -> Problem:
            k = int(rng.integers(1, cfg.max_level + 1))
            letters, x = self._letters(rng, k), int(rng.integers(cfg.domain))
            return self._problem(letters, x, [int(a) for a in rng.integers(cfg.domain, size=k - 1)])

        return draw_in_split(draw, n, split, self.split_of, self.name)

    def solution(self, problem: Problem, fmt: str = "steps") -> str:
        if fmt != "steps":
            raise InvalidConfigError(f"Unknown composition format {fmt!r}: the world writes 'steps' only.")
        m = problem.meta
        return "".join(f"{f}{a}={y};" for f, a, y in zip(m["functions"], m["inputs"], m["outputs"], strict=True)) + (
            f"{ANSWER_MARKER}{problem.answer}")

    # ------------------------------------------------------------------ verifier
    def correct_step_share(self, problem: Problem, completion: str) -> float:
        """Share of the problem's steps written right, in order, before the first wrong one."""
        m = problem.meta
        want = list(zip(m["functions"], m["inputs"], m["outputs"], strict=True))
        good = 0
        for got, step in zip(parse_steps(completion), want, strict=False):
            if got != step:
                break
            good += 1
        return good / len(want)

    def reward(self, problem: Problem, completion: str) -> float:
        got = parse_answer(completion)
        if got is None or str(got) != problem.answer:
            return 0.0
        if self.config.verify == "chain":
            steps = parse_steps(completion)
            if len(steps) != problem.meta["level"] or self.correct_step_share(problem, completion) < 1.0:
                return 0.0
        return 1.0

    def process_reward(self, problem: Problem, completion: str) -> float:
        """Dense reward: half for the share of steps right in order, half for the final answer."""
        return 0.5 * self.correct_step_share(problem, completion) + 0.5 * self.reward(problem, completion)

    def guess_probabilities(self, problems: list[Problem]) -> list[float]:
        """One try's chance for a guesser that knows every atomic function but does not compose: the first step's
        input is in the prompt, and each later step's input is guessed from the evaluated problems' inputs at that
        step (leave-one-out frequencies), after which the atomic fact gives its output. Under answer-only
        verification, the answer drawn from the other problems' answers."""
        if self.config.verify == "answer":
            return leave_one_out_frequencies([p.answer for p in problems])
        out = [1.0] * len(problems)
        for j in range(1, max(p.meta["level"] for p in problems)):
            # the j-th step's input, guessed from the problems that have a j-th step
            deep = [i for i, p in enumerate(problems) if p.meta["level"] > j]
            if len(deep) < 2:
                for i in deep:
                    out[i] = 0.0  # no other problem to learn that step's inputs from
                continue
            freq = leave_one_out_frequencies([problems[i].meta["inputs"][j] for i in deep])
            for i, f in zip(deep, freq, strict=True):
                out[i] *= f
        return out

    def format_of(self, completion: str) -> str:
        """"steps" for a completion of well-formed steps and an answer, "direct" for a bare answer, else "other"."""
        body = completion.split(ANSWER_MARKER)[0]
        if parse_answer(completion) is None:
            return "other"
        if not body:
            return "direct"
        return "steps" if _STEP_RE.sub("", body) == "" else "other"

    def max_completion_chars(self) -> int:
        """Upper bound on a correct completion's length (for ``max_new_tokens``)."""
        return 5 * self.config.max_level + len(ANSWER_MARKER) + 1 + 1

    def max_prompt_chars(self) -> int:
        return self.config.max_level + 2


def check_level(level: int) -> None:
    if not isinstance(level, int) or isinstance(level, bool) or not 1 <= level <= 8:
        raise InvalidConfigError(f"Composition level {level!r}: pass an integer from 1 to 8 (functions applied).")
