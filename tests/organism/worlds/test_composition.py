import itertools

import numpy as np
import pytest

from rlmeta_interp.errors import InvalidConfigError
from rlmeta_interp.organism.worlds.base import split_of_key
from rlmeta_interp.organism.worlds.composition import (
    CompositionConfig, CompositionWorld, function_tables, parse_answer, parse_steps,
)


def test_functions_are_seeded_permutations_shared_by_every_world_of_a_config():
    cfg = CompositionConfig(n_functions=5, domain=7)
    tables = function_tables(cfg)
    assert sorted(tables) == list("abcde")
    assert all(sorted(t) == list(range(7)) for t in tables.values())
    assert tables == CompositionWorld(cfg).tables
    assert tables != function_tables(cfg.replace(function_seed=1))


def test_a_composition_feeds_each_output_into_the_next_step():
    w = CompositionWorld()
    for p in w.sample(50, seed=3, level=3):
        x, functions = int(p.prompt[0]), p.prompt[1:-1]
        value = x
        for f in functions:  # independent reference: apply the tables in prompt order
            value = w.tables[f][value]
        assert p.answer == str(value) and p.meta["level"] == 3
        assert p.meta["inputs"][1:] == p.meta["outputs"][:-1]
        assert w.reward(p, w.solution(p)) == 1.0


def test_an_unchained_document_applies_each_later_function_to_a_drawn_input():
    w = CompositionWorld()
    docs = w.sample_unchained(300, seed=0, split="pretrain")
    assert {p.meta["level"] for p in docs} == {1, 2, 3}
    chained = []
    for p in docs:
        steps = parse_steps(w.solution(p))
        assert steps[0][1] == int(p.prompt[0]) and [f for f, _, _ in steps] == list(p.prompt[1:-1])
        assert all(w.tables[f][x] == y for f, x, y in steps)  # every atomic fact shown is right
        chained += [x == y_before for (_, x, _), (_, _, y_before) in zip(steps[1:], steps[:-1], strict=True)]
        assert w.split_of(p) == "pretrain" and w.document_key(p.prompt) == w.problem_key(p)
    # a later input equals the output before it only by chance (one in ten)
    assert 0.03 < np.mean(chained) < 0.2
    # an atomic fact is the same text whether drawn as a composition or unchained
    one = next(p for p in docs if p.meta["level"] == 1)
    assert one.meta["kind"] == "composition" and one == w.composition(one.prompt[1], int(one.prompt[0]))


def test_chain_verification_checks_every_step_and_answer_only_does_not():
    chain = CompositionWorld()
    answer_only = CompositionWorld(CompositionConfig(verify="answer"))
    (p,) = chain.sample(1, seed=1, level=3)
    good = chain.solution(p)
    f1, x1, y1 = parse_steps(good)[0]
    bad_step = good.replace(f"{f1}{x1}={y1};", f"{f1}{x1}={(y1 + 1) % 10};", 1)
    assert chain.reward(p, good) == 1.0 and chain.reward(p, good + "junk") == 1.0
    assert chain.reward(p, bad_step) == 0.0 and answer_only.reward(p, bad_step) == 1.0
    assert chain.reward(p, f"A:{p.answer}") == 0.0 and answer_only.reward(p, f"A:{p.answer}") == 1.0
    wrong = f"A:{(int(p.answer) + 1) % 10}"
    assert chain.reward(p, good.replace(f"A:{p.answer}", wrong)) == 0.0
    assert chain.reward(p, good + good) == 0.0  # two answer markers: hedging
    assert chain.process_reward(p, good) == 1.0
    assert chain.process_reward(p, good[:5]) == pytest.approx(0.5 / 3)
    assert parse_answer("A:12") is None and parse_answer("A:3") == 3


def test_held_out_function_sequences_are_held_out_at_every_input():
    w = CompositionWorld()
    for level in (2, 3):
        splits = {}
        for letters in itertools.product("abcdefghijkl", repeat=level):
            seq = "".join(letters)
            keys = {w.split_of(w.composition(seq, x)) for x in range(10)}
            assert len(keys) == 1  # the input does not move a sequence between splits
            splits[seq] = keys.pop()
        shares = {s: list(splits.values()).count(s) / len(splits) for s in ("eval", "rl", "pretrain")}
        assert 0.04 < shares["eval"] < 0.2 and 0.1 < shares["rl"] < 0.35
    ev = w.sample(100, seed=2, level=2, split="eval")
    assert all(split_of_key("composition", w.problem_key(p)) == "eval" for p in ev)
    assert {w.document_key(p.prompt) for p in ev} == {w.problem_key(p) for p in ev}
    with pytest.raises(InvalidConfigError, match="too few distinct problems"):
        w.sample(2, seed=0, level=1, split="eval")  # atomic facts are never held out


def test_no_training_composition_chains_an_evaluation_pair_even_inside_a_longer_sequence():
    w = CompositionWorld(CompositionConfig(max_level=4))
    pairs = {"".join(t): w.pair_split("".join(t)) for t in itertools.product("abcdefghijkl", repeat=2)}
    assert {"eval", "rl", "pretrain"} == set(pairs.values())
    for split, banned in (("pretrain", {"eval", "rl"}), ("rl", {"eval"})):
        for level in (2, 3, 4):
            for p in w.sample(200, seed=level, level=level, split=split):
                chained = {pairs[p.meta["functions"][j:j + 2]] for j in range(level - 1)}
                assert not chained & banned, (split, p.prompt)
        for p in w.sample_unchained(300, seed=1, split=split):
            assert not {pairs[p.meta["functions"][j:j + 2]] for j in range(p.meta["level"] - 1)} & banned
    # every evaluation problem chains at least one evaluation pair
    for p in w.sample(100, seed=0, level=3, split="eval"):
        assert "eval" in {pairs[p.meta["functions"][j:j + 2]] for j in range(2)}


def test_guessing_baseline_is_the_chance_of_guessing_each_later_input():
    w = CompositionWorld()
    problems = w.sample(64, seed=5, level=3, split="eval")
    p = np.asarray(w.guess_probabilities(problems))
    assert np.all((p >= 0) & (p <= 1))
    # two guessed inputs of about ten values each
    assert 0.002 < p.mean() < 0.05
    two = w.sample(64, seed=5, level=2, split="eval")
    second = [q.meta["inputs"][1] for q in two]
    expected = [(second.count(v) - 1) / 63 for v in second]
    assert w.guess_probabilities(two) == pytest.approx(expected)
    # mixed levels: a later step is guessed from the problems that have that step only
    three = w.sample(64, seed=6, level=3, split="eval")
    mixed = w.guess_probabilities(two + three)
    step1 = [q.meta["inputs"][1] for q in two + three]
    step2 = [q.meta["inputs"][2] for q in three]
    want = [(step1.count(v) - 1) / 127 for v in step1]
    want[64:] = [a * (step2.count(v) - 1) / 63 for a, v in zip(want[64:], step2, strict=True)]
    assert mixed == pytest.approx(want)


def test_format_and_budget():
    w = CompositionWorld(CompositionConfig(max_level=4))
    (p,) = w.sample(1, seed=0, level=4)
    assert w.format_of(w.solution(p)) == "steps" and w.format_of("A:3") == "direct" and w.format_of("c5=1") == "other"
    assert len(w.solution(p)) <= w.max_completion_chars()
    assert len(p.prompt) <= w.max_prompt_chars()


@pytest.mark.parametrize("kwargs", [{"min_level": 3, "max_level": 2}, {"domain": 11}, {"n_functions": 27},
                                    {"max_level": 9}])
def test_bad_config_gets_a_typed_error(kwargs):
    with pytest.raises(InvalidConfigError):
        CompositionConfig(**kwargs)


def test_bad_difficulty_gets_a_typed_error():
    w = CompositionWorld()
    with pytest.raises(InvalidConfigError, match="level="):
        w.sample(2, seed=0, depth=2)
    with pytest.raises(InvalidConfigError, match="integer from 1 to 8"):
        w.sample(2, seed=0, level=0)
    with pytest.raises(InvalidConfigError, match="letters from"):
        w.composition("az", 3)
    with pytest.raises(InvalidConfigError, match="steps"):
        w.solution(w.sample(1, seed=0)[0], "eq")
