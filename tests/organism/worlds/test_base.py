"""The contract every world implements (``rlmeta_interp.organism.worlds.base``): the hash split of a problem, drawing
problems within one split, the leave-one-out guesser, and the defaults a world inherits from ``World``."""

from __future__ import annotations

import hashlib
import random
from types import SimpleNamespace

import pytest

from rlmeta_interp.errors import InvalidConfigError
from rlmeta_interp.organism.worlds.base import (
    MAX_DRAWS_PER_PROBLEM,
    SPLITS,
    Problem,
    World,
    draw_in_split,
    split_of_key,
)


def _split_by_hand(world: str, key: str) -> str:
    """The documented rule: the first 8 bytes of sha256(world NUL key) as a fraction of 2**64; below 0.10 eval,
    below 0.30 RL, else pretraining."""
    u = int.from_bytes(hashlib.sha256(f"{world}\x00{key}".encode()).digest()[:8], "big") / 2**64
    return "eval" if u < 0.10 else "rl" if u < 0.30 else "pretrain"


class CountWorld(World):
    """A minimal world: numbers below 10**width; a completion is right when it is the number, half right when it
    only starts with it."""

    name = "count"

    def __init__(self, leak_free: bool = True) -> None:
        self.config = SimpleNamespace(leak_free=leak_free)

    def sample(self, n, seed, split=None, width=3):
        rng = random.Random(seed)

        def draw() -> Problem:
            x = rng.randrange(10**width)
            return Problem(f"{x}+0=", str(x))

        return draw_in_split(draw, n, split, self.split_of, self.name)

    def reward(self, problem, completion):
        if completion.strip() == problem.answer:
            return 1.0
        return 0.5 if completion.startswith(problem.answer) else 0.0


def test_split_of_key_follows_the_documented_hash_rule_and_shares():
    keys = [f"{a}+{b}=" for a in range(60) for b in range(50)]
    got = [split_of_key("arithmetic", k) for k in keys]
    assert got == [_split_by_hand("arithmetic", k) for k in keys]
    share = {s: got.count(s) / len(keys) for s in SPLITS}
    assert abs(share["eval"] - 0.10) < 0.02 and abs(share["rl"] - 0.20) < 0.025
    # the world's name is part of the hash: the same key falls in different splits of different worlds
    assert any(split_of_key("arithmetic", k) != split_of_key("planning", k) for k in keys[:100])


def test_draw_in_split_without_a_split_returns_the_generators_draws():
    rng = random.Random(0)
    got = draw_in_split(lambda: Problem(str(rng.random()), "a"), 5, None, lambda p: "eval", "w")
    again = random.Random(0)
    assert [p.prompt for p in got] == [str(again.random()) for _ in range(5)]


def test_draw_in_split_keeps_the_generators_order_within_the_split():
    world = CountWorld()
    got = world.sample(12, seed=4, split="rl")
    rng = random.Random(4)
    expected = []
    while len(expected) < 12:
        x = rng.randrange(1000)
        if _split_by_hand("count", f"{x}+0=") == "rl":
            expected.append(str(x))
    assert [p.answer for p in got] == expected


def test_draw_in_split_refuses_an_unknown_split_and_a_split_it_cannot_fill():
    with pytest.raises(InvalidConfigError, match=r"Unknown split 'train'; choose one of \('pretrain', 'rl', 'eval'\)"):
        draw_in_split(lambda: Problem("p", "a"), 1, "train", lambda p: "eval", "w")
    one = Problem("only", "a")
    draws = []

    def draw():
        draws.append(1)
        return one

    with pytest.raises(InvalidConfigError, match=r"Could draw only 0 of 2 count problems in the 'eval' split"):
        draw_in_split(draw, 2, "eval", lambda p: "pretrain", "count")
    assert len(draws) == 2 * MAX_DRAWS_PER_PROBLEM  # bounded: a typed error, not a hang
    assert draw_in_split(draw, 0, "eval", lambda p: "pretrain", "count") == []


def test_a_world_inherits_keys_splits_and_a_strict_verifier():
    w, p = CountWorld(), Problem("17+0=", "17")
    assert w.problem_key(p) == "17+0=" and w.document_key("17+0=") == "17+0="
    assert w.split_of(p) == _split_by_hand("count", "17+0=")
    assert w.is_correct(p, " 17") and not w.is_correct(p, "17x") and not w.is_correct(p, "4")
    with pytest.raises(TypeError):
        World()  # sample and reward are abstract


def test_held_out_problems_come_from_the_eval_split_only_when_the_world_is_leak_free():
    held = CountWorld(leak_free=True).sample_held_out(15, seed=2, width=2)
    assert all(_split_by_hand("count", p.prompt) == "eval" for p in held) and all(int(p.answer) < 100 for p in held)
    assert held == CountWorld().sample(15, seed=2, split="eval", width=2)
    open_world = CountWorld(leak_free=False)
    assert open_world.sample_held_out(15, seed=2) == open_world.sample(15, seed=2)
    assert {_split_by_hand("count", p.prompt) for p in open_world.sample_held_out(60, seed=2)} == set(SPLITS)


def test_default_guesser_uses_leave_one_out_answer_frequencies():
    from rlmeta_interp.organism.worlds.base import Problem, leave_one_out_frequencies
    from rlmeta_interp.organism.worlds.planning import PlanningWorld

    assert leave_one_out_frequencies(["a", "a", "b"]) == [0.5, 0.5, 0.0]
    probs = [Problem("x", "ab"), Problem("y", "ab"), Problem("z", "cd")]
    assert PlanningWorld().guess_probabilities(probs) == [0.5, 0.5, 0.0]
    with pytest.raises(InvalidConfigError, match="at least two"):
        leave_one_out_frequencies(["a"])
