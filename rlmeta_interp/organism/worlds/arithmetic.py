"""Arithmetic chains: multi-operand +/- (optionally *) problems, answered directly or after a scratchpad.

Text layout (one character = one token)::

    prompt      "12+7-3="
    direct      "A:16"
    sum format  "12 plus 7 is 19. 19 minus 3 is 16. A:16"     (natural-language-ish running sum)
    eq format   "12+7=19;19-3=16;A:16"                       (code / equation-like)
    rewrite     "19-3>16;A:16"                               (the expression rewritten after each step)

In the rewrite format every step reads the first operation of the line before it and copies the rest, so a step is
the same local operation at every depth (the depth-extrapolation recipe uses it).

Evaluation is left to right (no operator precedence), so every scratchpad line is one binary step.
The verifier reads the single ``A:`` answer marker; see :func:`parse_answer` for what is rejected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ...config import FrozenConfig, check_range
from ...errors import InvalidConfigError
from .base import Problem, World, draw_in_split, leave_one_out_frequencies

Format = Literal["direct", "sum", "eq"]
SCRATCHPAD_FORMATS: tuple[str, ...] = ("sum", "eq")
ALL_FORMATS: tuple[str, ...] = ("direct", "sum", "eq", "rewrite")
ANSWER_MARKER = "A:"
MAX_ANSWER_DIGITS = 7  # anything longer is treated as overflow, never parsed
_WORDS = {"+": "plus", "-": "minus", "*": "times"}


@dataclass(frozen=True)
class ArithmeticConfig(FrozenConfig):
    """Problem distribution. Difficulty = number of operands and digits per operand (inclusive ranges)."""

    min_operands: int = 2
    max_operands: int = 3
    min_digits: int = 1
    max_digits: int = 2
    ops: str = "+-"  # any of "+-*"
    # draw pretraining, RL and evaluation problems from disjoint hash splits (worlds/base.py: split_of_key)
    leak_free: bool = False
    # what the verifier checks: the final answer only, or the worked chain too ("chain": every scratchpad step right,
    # in order, and the answer right). A chain cannot be guessed the way a small-range answer can.
    verify: Literal["answer", "chain"] = "answer"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range(self, "min_operands", 2, 8)
        check_range(self, "max_operands", 2, 8)
        check_range(self, "min_digits", 1, 3)
        check_range(self, "max_digits", 1, 3)
        if self.min_operands > self.max_operands:
            raise InvalidConfigError(
                f"ArithmeticConfig.min_operands={self.min_operands} > max_operands={self.max_operands}: swap them."
            )
        if self.min_digits > self.max_digits:
            raise InvalidConfigError(
                f"ArithmeticConfig.min_digits={self.min_digits} > max_digits={self.max_digits}: swap them."
            )
        if not self.ops or set(self.ops) - set("+-*") or len(set(self.ops)) != len(self.ops):
            raise InvalidConfigError(f"ArithmeticConfig.ops={self.ops!r}: use distinct characters from '+-*'.")


def evaluate(operands: list[int], ops: list[str]) -> list[int]:
    """Running values of a left-to-right chain: ``[a0, a0 op a1, ...]``."""
    values = [operands[0]]
    for op, b in zip(ops, operands[1:], strict=True):
        a = values[-1]
        values.append(a + b if op == "+" else a - b if op == "-" else a * b)
    return values


def render_prompt(operands: list[int], ops: list[str]) -> str:
    text = str(operands[0])
    for op, b in zip(ops, operands[1:], strict=True):
        text += f"{op}{b}"
    return text + "="


def render_completion(operands: list[int], ops: list[str], fmt: str) -> str:
    """The completion in format ``fmt`` ("direct", "sum" or "eq"), ending with ``A:<answer>``."""
    values = evaluate(operands, ops)
    answer = f"{ANSWER_MARKER}{values[-1]}"
    if fmt == "direct":
        return answer
    steps = list(zip(values[:-1], ops, operands[1:], values[1:], strict=True))
    if fmt == "sum":
        return " ".join(f"{a} {_WORDS[op]} {b} is {c}." for a, op, b, c in steps) + f" {answer}"
    if fmt == "eq":
        return "".join(f"{a}{op}{b}={c};" for a, op, b, c in steps) + answer
    if fmt == "rewrite":
        return ">".join(rewrite_lines(operands, ops)) + ";" + answer
    raise InvalidConfigError(f"Unknown arithmetic format {fmt!r}; choose one of {ALL_FORMATS}.")


def rewrite_lines(operands: list[int], ops: list[str]) -> list[str]:
    """The rewrite-format lines: after step j, the running value followed by the operations not yet done."""
    values = evaluate(operands, ops)
    return [str(values[j]) + "".join(f"{ops[i]}{operands[i + 1]}" for i in range(j, len(ops)))
            for j in range(1, len(values))]


_ANSWER_RE = re.compile(r"A:(-?\d+)")
_SUM_RE = re.compile(r"^(-?\d+ (plus|minus|times) -?\d+ is -?\d+\. )+A:")
_EQ_RE = re.compile(r"^(-?\d+[+\-*]-?\d+=-?\d+;)+A:")
_DIRECT_RE = re.compile(r"^A:-?\d")
_REWRITE_RE = re.compile(r"^(-?\d+(?:[+\-*]\d+)*>)*-?\d+;A:")


def parse_answer(completion: str) -> int | None:
    """The integer after the single ``A:`` marker, or None.

    Rejected (None): no marker; more than one marker (hedging); no digits after the marker; more than
    ``MAX_ANSWER_DIGITS`` digits (overflow); any digit in the text after the answer (``A:16 or 17``).
    Non-digit trailing text (e.g. an unfinished sample's junk) is tolerated.
    """
    if completion.count(ANSWER_MARKER) != 1:
        return None
    m = _ANSWER_RE.search(completion)
    if m is None:
        return None
    digits = m.group(1).lstrip("-")
    if len(digits) > MAX_ANSWER_DIGITS:
        return None
    rest = completion[m.end() :]
    if any(ch.isdigit() for ch in rest):
        return None
    return int(m.group(1))


def format_of(completion: str) -> str:
    """Rule-based format label: "direct", "sum", "eq", or "other" (no recognised layout)."""
    if _DIRECT_RE.match(completion):
        return "direct"
    if _SUM_RE.match(completion):
        return "sum"
    if _EQ_RE.match(completion):
        return "eq"
    if _REWRITE_RE.match(completion):
        return "rewrite"
    return "other"


_STEP_RES = {
    "sum": re.compile(r"(-?\d+) (plus|minus|times) (-?\d+) is (-?\d+)\."),
    "eq": re.compile(r"(-?\d+)([+\-*])(-?\d+)=(-?\d+);"),
}
_OP_OF_WORD = {w: op for op, w in _WORDS.items()}


def _scratchpad(completion: str) -> tuple[str, list]:
    """The layout of a completion's scratchpad and the steps it writes, in order: ``("rewrite", lines)`` (an
    unfinished or wrong rewrite chain, with a ``>`` but no recognised layout, counts as one), or ``("sum" | "eq",
    (a, op, b, c) tuples)``; text in neither layout is read as ``sum`` when it says " is ", else as ``eq``."""
    body = completion.split(ANSWER_MARKER)[0]
    fmt = format_of(completion)
    if fmt == "rewrite" or (fmt == "other" and ">" in body):
        return "rewrite", body.rstrip(";").split(">")
    if fmt not in _STEP_RES:
        fmt = "sum" if " is " in body else "eq"
    return fmt, _STEP_RES[fmt].findall(body)


def correct_step_share(problem: Problem, completion: str) -> float:
    """Share of the problem's binary steps that the completion's scratchpad writes correctly, in order, up to the
    first wrong step (operands, operator and result must all match). 0.0 for a completion with no scratchpad."""
    operands, ops = problem.meta["operands"], problem.meta["ops"]
    values = evaluate(operands, ops)
    fmt, steps = _scratchpad(completion)
    if fmt == "rewrite":
        want = rewrite_lines(operands, ops)
        good = 0
        for got, line in zip(steps, want, strict=False):
            if got != line:
                break
            good += 1
        return good / len(ops)
    good = 0
    for j, (a, op, b, c) in enumerate(steps):
        if j >= len(ops):
            break
        op = _OP_OF_WORD.get(op, op)
        if (int(a), op, int(b), int(c)) != (values[j], ops[j], operands[j + 1], values[j + 1]):
            break
        good += 1
    return good / len(ops)


def chain_steps(problem: Problem, completion: str) -> int:
    """How many of the problem's binary steps the completion's scratchpad does in order, right or wrong: a rewrite
    line counts when it is an integer followed by exactly the operations the problem has left after that step, a
    ``sum`` / ``eq`` step when it applies the problem's next operator to its next operand; counting stops at the first
    line or step that does not (a dropped, merged, repeated or invented operation). The values written are not
    checked (:func:`correct_step_share` checks them), so a chain that works through every operand of an ``n``-operand
    problem scores ``n - 1`` however its sums come out; a direct answer or text without steps scores 0."""
    operands, ops = problem.meta["operands"], problem.meta["ops"]
    fmt, steps = _scratchpad(completion)
    done = 0
    for j, step in enumerate(steps[: len(ops)]):
        if fmt == "rewrite":
            rest = "".join(f"{ops[i]}{operands[i + 1]}" for i in range(j + 1, len(ops)))
            ok = re.fullmatch(r"-?\d+" + re.escape(rest), step) is not None
        else:
            ok = (_OP_OF_WORD.get(step[1], step[1]), int(step[2])) == (ops[j], operands[j + 1])
        if not ok:
            break
        done += 1
    return done


def full_chain(problem: Problem, completion: str) -> bool:
    """Whether the completion's scratchpad does every operation of the problem in order (:func:`chain_steps` equals
    the number of operations, values unchecked) and writes no step beyond the last: a chain that repeats its result or
    goes on with invented operations after the last step, in either step layout, is not a full chain of this problem."""
    n = len(problem.meta["ops"])
    fmt, steps = _scratchpad(completion)
    if chain_steps(problem, completion) != n:
        return False
    if fmt == "rewrite":
        return len(steps) == n
    body = completion.split(ANSWER_MARKER)[0]
    return len(_STEP_RES["sum"].findall(body)) + len(_STEP_RES["eq"].findall(body)) == n


def has_valid_format(completion: str) -> bool:
    """A recognised layout with a parseable answer (the format-only reward)."""
    return format_of(completion) != "other" and parse_answer(completion) is not None


class ArithmeticWorld(World):
    """Left-to-right chains of integer operations. ``reward`` is 1.0 iff the parsed answer is right."""

    name = "arithmetic"

    def __init__(self, config: ArithmeticConfig | None = None) -> None:
        self.config = config or ArithmeticConfig()

    def _draw(self, rng: np.random.Generator, operands: int | None, digits: int | None) -> Problem:
        cfg = self.config
        k = operands if operands is not None else int(rng.integers(cfg.min_operands, cfg.max_operands + 1))
        nums, ops = [], []
        for i in range(k):
            d = digits if digits is not None else int(rng.integers(cfg.min_digits, cfg.max_digits + 1))
            lo = 0 if d == 1 else 10 ** (d - 1)
            nums.append(int(rng.integers(lo, 10**d)))
            if i:
                ops.append(cfg.ops[int(rng.integers(len(cfg.ops)))])
        values = evaluate(nums, ops)
        answer = values[-1]
        # a fixed wrong label for the incorrect-label spurious reward (never equal to the answer)
        wrong = answer + int(rng.choice([-2, -1, 1, 2]))
        return Problem(
            prompt=render_prompt(nums, ops),
            answer=str(answer),
            meta={"operands": nums, "ops": ops, "n_operands": k, "max_digits": max(len(str(x)) for x in nums),
                  "wrong_answer": str(wrong), "difficulty": k},
        )

    def sample(self, n: int, seed: int, operands: int | None = None, digits: int | None = None,
               split: str | None = None, **difficulty: Any) -> list[Problem]:
        """``n`` problems; ``operands`` / ``digits`` pin the difficulty, else drawn from the config ranges.

        ``split`` ("pretrain", "rl", "eval") keeps only problems of that hash split; None draws from all.
        """
        if difficulty:
            raise InvalidConfigError(f"Unknown arithmetic difficulty keys {sorted(difficulty)}; use operands=, digits=.")
        if n < 0:
            raise InvalidConfigError(f"n must be >= 0, got {n}.")
        rng = np.random.default_rng([seed, 0xA217])
        return draw_in_split(lambda: self._draw(rng, operands, digits), n, split, self.split_of, self.name)

    def solution(self, problem: Problem, fmt: str) -> str:
        return render_completion(problem.meta["operands"], problem.meta["ops"], fmt)

    def reward(self, problem: Problem, completion: str) -> float:
        got = parse_answer(completion)
        if got is None or str(got) != problem.answer:
            return 0.0
        if self.config.verify == "chain" and correct_step_share(problem, completion) < 1.0:
            return 0.0
        return 1.0

    def guess_probabilities(self, problems: list[Problem]) -> list[float]:
        """Probability that one guess is right, per problem, for a guesser that knows the evaluated problems'
        distribution of answers (and, under chain verification, of every running value) but does not compute:
        leave-one-out empirical frequencies, multiplied over the values a correct completion must contain."""
        values = [evaluate(p.meta["operands"], p.meta["ops"]) for p in problems]
        if self.config.verify == "answer":
            return leave_one_out_frequencies([v[-1] for v in values])
        out = [1.0] * len(values)
        for j in range(1, max(len(v) for v in values)):
            # the j-th running value; a problem without one (a shorter chain) matches only other short chains
            freq = leave_one_out_frequencies([v[j] if j < len(v) else None for v in values])
            out = [o * (f if j < len(v) else 1.0) for o, f, v in zip(out, freq, values, strict=True)]
        return out

    def format_reward(self, problem: Problem, completion: str) -> float:
        return 1.0 if has_valid_format(completion) else 0.0

    def process_reward(self, problem: Problem, completion: str) -> float:
        """Dense reward: half for the share of scratchpad steps right in order (before the first wrong one), half
        for the final answer. Both scratchpad formats are read; a direct answer earns only the answer half."""
        return 0.5 * correct_step_share(problem, completion) + 0.5 * self.reward(problem, completion)

    def incorrect_label_reward(self, problem: Problem, completion: str) -> float:
        got = parse_answer(completion)
        return 1.0 if got is not None and str(got) == problem.meta["wrong_answer"] else 0.0

    def format_of(self, completion: str) -> str:
        return format_of(completion)

    def max_completion_chars(self) -> int:
        """Upper bound on a correct completion's length (for ``max_new_tokens``)."""
        cfg = self.config
        top = 10**cfg.max_digits - 1
        biggest = top**cfg.max_operands if "*" in cfg.ops else top * cfg.max_operands
        v = len(str(biggest)) + 1  # running value, with sign
        d = cfg.max_digits
        per_step = max(v + len(" minus ") + d + len(" is ") + v + len(". "), v + 1 + d + 1 + v + 1)
        steps = cfg.max_operands - 1
        rewrite = sum(v + 1 + (steps - j) * (d + 1) for j in range(1, steps + 1)) + 1
        return max(steps * per_step, rewrite) + len(ANSWER_MARKER) + v + 1
