import pytest

from rlmeta_interp.errors import InvalidConfigError
from rlmeta_interp.organism.worlds.base import Problem
from rlmeta_interp.organism.worlds.arithmetic import (
    ALL_FORMATS, ArithmeticConfig, ArithmeticWorld, chain_steps, evaluate, format_of, full_chain, parse_answer,
    render_completion,
)


def test_generator_is_deterministic_and_respects_difficulty():
    w = ArithmeticWorld(ArithmeticConfig(min_operands=2, max_operands=5, min_digits=1, max_digits=3))
    a, b = w.sample(50, seed=3), w.sample(50, seed=3)
    assert a == b
    assert a != w.sample(50, seed=4)
    pinned = w.sample(20, seed=0, operands=4, digits=2)
    for p in pinned:
        assert p.meta["n_operands"] == 4
        assert all(10 <= x <= 99 for x in p.meta["operands"])


def test_answer_matches_python_eval_left_to_right():
    w = ArithmeticWorld(ArithmeticConfig(ops="+-*", max_operands=4))
    for p in w.sample(100, seed=1):
        # independent reference: Python evaluation with explicit left-to-right parenthesisation
        expr = p.prompt[:-1]
        tokens = []
        num = ""
        for ch in expr:
            if ch in "+-*" and num:
                tokens += [num, ch]
                num = ""
            else:
                num += ch
        tokens.append(num)
        acc = tokens[0]
        for i in range(1, len(tokens), 2):
            acc = f"({acc}{tokens[i]}{tokens[i + 1]})"
        assert str(eval(acc)) == p.answer  # noqa: S307 - digits and operators only


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_every_format_is_correct_and_labelled(fmt):
    w = ArithmeticWorld(ArithmeticConfig(max_operands=4, max_digits=2))
    for p in w.sample(30, seed=2):
        c = w.solution(p, fmt)
        assert w.reward(p, c) == 1.0
        assert format_of(c) == fmt
        assert w.format_reward(p, c) == 1.0


def test_formats_look_as_documented():
    assert render_completion([12, 7, 3], ["+", "-"], "sum") == "12 plus 7 is 19. 19 minus 3 is 16. A:16"
    assert render_completion([12, 7, 3], ["+", "-"], "eq") == "12+7=19;19-3=16;A:16"
    assert render_completion([12, 7, 3], ["+", "-"], "direct") == "A:16"
    assert evaluate([2, 3, 4], ["*", "-"]) == [2, 6, 2]


@pytest.mark.parametrize(
    "completion, expected",
    [
        ("A:16", 16),
        ("A:-5", -5),
        ("12+4=16;A:16", 16),
        ("A:16 junk", 16),  # non-digit tail of an unfinished sample is tolerated
        ("16", None),  # missing answer marker
        ("A:", None),  # marker without a number
        ("A:16 A:16", None),  # two markers (hedging)
        ("A:16 or 17", None),  # digits after the answer
        ("A:99999999999999999999", None),  # overflow
        ("a:16", None),  # wrong marker case
        ("A: 16", None),  # space breaks the marker
        ("", None),
    ],
)
def test_parse_answer_adversarial(completion, expected):
    assert parse_answer(completion) == expected


def test_reward_rejects_wrong_and_adversarial_answers():
    w = ArithmeticWorld()
    p = w.sample(1, seed=0)[0]
    right = int(p.answer)
    assert w.reward(p, f"A:{right}") == 1.0
    assert w.reward(p, f"A:{right + 1}") == 0.0
    assert w.reward(p, f"A:{right}A:{right}") == 0.0
    assert w.reward(p, f"{right}") == 0.0
    assert w.reward(p, f"A:{right}{right}") == 0.0
    assert w.incorrect_label_reward(p, f"A:{p.meta['wrong_answer']}") == 1.0
    assert p.meta["wrong_answer"] != p.answer
    assert format_of("the answer is 5") == "other"
    assert w.format_reward(p, "A:") == 0.0


def test_config_validation_names_field():
    with pytest.raises(InvalidConfigError, match="min_operands"):
        ArithmeticConfig(min_operands=4, max_operands=2)
    with pytest.raises(InvalidConfigError, match="ops"):
        ArithmeticConfig(ops="/")
    assert ArithmeticConfig.from_dict(ArithmeticConfig(ops="+*").to_dict()) == ArithmeticConfig(ops="+*")


def test_max_completion_chars_bounds_every_solution():
    w = ArithmeticWorld(ArithmeticConfig(max_operands=4, max_digits=2, ops="+-"))
    bound = w.max_completion_chars()
    for p in w.sample(300, seed=5):
        assert max(len(w.solution(p, f)) for f in ALL_FORMATS) <= bound


def test_hash_splits_are_disjoint_and_reproducible():
    from rlmeta_interp.organism.worlds.base import SPLITS, split_of_key

    w = ArithmeticWorld(ArithmeticConfig(min_operands=3, max_operands=5, max_digits=1, leak_free=True))
    drawn = {s: {p.prompt for p in w.sample(300, seed=3, split=s)} for s in SPLITS}
    assert not drawn["eval"] & drawn["rl"] and not drawn["eval"] & drawn["pretrain"] and not drawn["rl"] & drawn["pretrain"]
    assert all(split_of_key("arithmetic", k) == s for s, keys in drawn.items() for k in keys)
    assert [p.prompt for p in w.sample(20, seed=3, split="eval")] == [p.prompt for p in w.sample(20, seed=3, split="eval")]
    # shares of the hash space: about 10% eval, 20% RL, 70% pretraining
    keys = [p.prompt for p in w.sample(4000, seed=9)]
    share = {s: sum(split_of_key("arithmetic", k) == s for k in keys) / len(keys) for s in SPLITS}
    assert abs(share["eval"] - 0.1) < 0.03 and abs(share["rl"] - 0.2) < 0.04
    # without a split the draws are exactly the generator's (old configs reproduce their problems)
    assert [p.prompt for p in w.sample(5, seed=1)] == [p.prompt for p in w.sample(5, seed=1, split=None)]
    with pytest.raises(InvalidConfigError, match="split"):
        w.sample(2, seed=0, split="train")
    # a generator whose only problem lies in another split cannot fill the request: a typed error, not a hang
    from rlmeta_interp.organism.worlds.base import draw_in_split

    (one,) = w.sample(1, seed=0)
    other = next(s for s in SPLITS if s != split_of_key("arithmetic", one.prompt))
    with pytest.raises(InvalidConfigError, match="too few distinct problems"):
        draw_in_split(lambda: one, 2, other, w.split_of, "arithmetic")


@pytest.mark.parametrize("fmt", ["sum", "eq", "rewrite"])
def test_chain_steps_counts_the_steps_done_in_order_right_or_wrong(fmt):
    w = ArithmeticWorld(ArithmeticConfig(min_operands=2, max_operands=6, max_digits=2))
    for p in w.sample(40, seed=5):
        assert chain_steps(p, w.solution(p, fmt)) == p.meta["n_operands"] - 1
    assert chain_steps(p, w.solution(p, "direct")) == 0
    assert chain_steps(p, "no steps here") == 0


def test_chain_steps_refuses_dropped_merged_and_invented_operations():
    w = ArithmeticWorld()
    p = Problem(prompt="3+5-7+4-8=", answer="-3", meta={"operands": [3, 5, 7, 4, 8], "ops": ["+", "-", "+", "-"]})
    assert w.solution(p, "rewrite") == "8-7+4-8>1+4-8>5-8>-3;A:-3"
    assert chain_steps(p, "8-7+4-8>1+4-8>5-8>-3;A:-3") == 4
    assert chain_steps(p, "9-7+4-8>0+4-8>2-8>-6;A:-6") == 4  # wrong values: the operations are what counts
    assert chain_steps(p, "1+4-8>5-8>-3;A:-3") == 0  # merged the first two operations into one line
    assert chain_steps(p, "8-7+4-8>1+4-8>-3;A:-3") == 2  # dropped the third operation
    assert chain_steps(p, "21>21>21>21;A:21") == 0  # as many lines as steps, none of them a step of this problem
    assert chain_steps(p, "10-9>-4>2-9>-2;A:-2") == 0  # operands this problem does not have
    assert chain_steps(p, "8-7+4-8>1+4-8") == 2  # an unfinished chain counts what it did
    assert chain_steps(p, "-1-7+4-8>1+4-8>5-8>-3;A:-3") == 4  # a negative value written is still a value
    assert chain_steps(p, w.solution(p, "eq")) == 4
    assert chain_steps(p, "3-5=-2;-2-7=-9;A:-9") == 0  # the first step applies the wrong operator
    assert chain_steps(p, "3 plus 5 is 8. 8 minus 9 is -1. A:-1") == 1  # the second step's operand is not the problem's


def test_full_chain_needs_every_operation_and_nothing_after_the_last():
    p = Problem(prompt="12+7-3=", answer="16", meta={"operands": [12, 7, 3], "ops": ["+", "-"]})
    w = ArithmeticWorld()
    for fmt in ("rewrite", "eq", "sum"):
        assert full_chain(p, w.solution(p, fmt))
    assert full_chain(p, "20-3>9;A:9")  # wrong values, every operation done
    assert not full_chain(p, "19-3>16>16>16;A:16")  # repeats its result after the last step
    assert not full_chain(p, "19-3>16>20+1>21;A:21")  # goes on with an operation the problem lacks
    assert not full_chain(p, "12+7=19;19-3=16;16+4=20;A:20")
    assert not full_chain(p, "12 plus 7 is 19. 19 minus 3 is 16. 16+0=16;A:16")  # a step in another layout after the last
    assert not full_chain(p, "19-3;A:19") and not full_chain(p, "A:16")


def test_process_reward_credits_correct_steps_in_order():
    w = ArithmeticWorld(ArithmeticConfig(min_operands=4, max_operands=4, max_digits=1))
    (p,) = w.sample(1, seed=2)
    full = w.solution(p, "eq")
    assert w.process_reward(p, full) == 1.0
    assert w.process_reward(p, w.solution(p, "sum")) == 1.0
    steps = full.split(";")
    wrong_second = ";".join([steps[0], "1+1=3", *steps[2:]])
    assert w.process_reward(p, wrong_second) == pytest.approx(0.5 * 1 / 3 + 0.5 * w.reward(p, wrong_second))
    assert w.process_reward(p, "A:" + p.answer) == 0.5  # the answer half only
    assert w.process_reward(p, "garbage") == 0.0


def test_chain_verification_and_its_guesser():
    cfg = ArithmeticConfig(min_operands=4, max_operands=4, max_digits=1, verify="chain")
    w = ArithmeticWorld(cfg)
    probs = w.sample(40, seed=5)
    p = probs[0]
    right = w.solution(p, "eq")
    assert w.reward(p, right) == 1.0 and w.reward(p, "A:" + p.answer) == 0.0  # the answer alone is not enough
    steps = right.split(";")
    wrong_step = ";".join([steps[0], steps[1].split("=")[0] + "=99", *steps[2:]])
    assert w.reward(p, wrong_step) == 0.0
    assert ArithmeticWorld(cfg.replace(verify="answer")).reward(p, "A:" + p.answer) == 1.0
    chain = w.guess_probabilities(probs)
    answer_only = ArithmeticWorld(cfg.replace(verify="answer")).guess_probabilities(probs)
    assert all(0 <= c <= a <= 1 for c, a in zip(chain, answer_only, strict=True))
    assert sum(chain) < sum(answer_only)
