"""Word sums (the real-LM world): answers read back from the question text, determinism, held-out problems."""

from __future__ import annotations

import re

import pytest

from rlmeta_interp.errors import EmptyInputError, InvalidConfigError
from rlmeta_interp.organism.worlds.wordsum import WordSumConfig, WordSumWorld, first_integer, held_out_problems


def test_wordsum_answers_match_the_question_text():
    world = WordSumWorld(WordSumConfig(n_operands=4, min_value=1, max_value=50, n_shots=1))
    problems = world.sample(40, seed=3)
    assert len({p.prompt for p in problems}) == 40
    assert [p.prompt for p in problems] == [p.prompt for p in world.sample(40, seed=3)]
    assert [p.prompt for p in problems] != [p.prompt for p in world.sample(40, seed=4)]
    for p in problems:
        # independent reading of the question: every number in it, summed
        numbers = [int(x) for x in re.findall(r"\d+", p.meta["question"])]
        assert len(numbers) == 4 and str(sum(numbers)) == p.answer
        assert p.prompt.endswith("Answer:") and p.prompt.count("Question:") == 2
        assert world.reward(p, f" {p.answer}\n\nQuestion: junk 7") == 1.0
        assert world.reward(p, f" {int(p.answer) + 1}") == 0.0
        assert world.reward(p, " no digits") == 0.0


def test_symbolic_style_and_first_integer():
    (p,) = WordSumWorld(WordSumConfig(style="symbolic", n_shots=0)).sample(1, seed=0)
    assert p.prompt.startswith("Question: ") and " = ?" in p.prompt
    assert first_integer(" 42 apples, not 7") == "42" and first_integer("x -3") == "-3"
    assert first_integer("none") is None


def test_held_out_problems_are_disjoint_from_training():
    world = WordSumWorld(WordSumConfig(n_operands=2, min_value=1, max_value=9, n_shots=0))
    train = world.sample(60, seed=0)
    held = held_out_problems(world, 30, seed=1, exclude=train)
    assert len(held) == 30
    assert not {p.meta["question"] for p in held} & {p.meta["question"] for p in train}


def test_bad_configs_and_requests_name_the_fix():
    with pytest.raises(InvalidConfigError, match="max_value"):
        WordSumConfig(min_value=10, max_value=5)
    with pytest.raises(EmptyInputError, match="positive"):
        WordSumWorld().sample(0, seed=0)
    with pytest.raises(InvalidConfigError, match="ask for fewer"):
        WordSumWorld(WordSumConfig(n_operands=2, min_value=1, max_value=1, n_shots=0, style="symbolic")).sample(5, 0)
