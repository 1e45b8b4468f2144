"""Loading a real causal LM and held-out pass@k (``rlmeta_interp.realrl.evaluate``), on a tiny random Llama with the
project's char tokenizer."""

from __future__ import annotations

import pytest

from rlmeta_interp.analysis.passk import pass_at_k
from rlmeta_interp.errors import InvalidConfigError
from rlmeta_interp.realrl import WordSumConfig, WordSumWorld, evaluate_passk, load_causal_lm

from .shared import save_tiny_llama


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    return save_tiny_llama(tmp_path_factory.mktemp("tinyrand"))


def test_evaluate_passk_matches_brute_force(tiny_folder):
    model, tok = load_causal_lm(tiny_folder)
    world = WordSumWorld(WordSumConfig(n_operands=2, min_value=0, max_value=2, n_shots=0))
    problems = world.sample(3, seed=0)
    # a verifier that accepts any completion whose first character is a digit 0-4, so c varies per problem
    class Lenient(WordSumWorld):
        def reward(self, problem, completion):
            return 1.0 if completion[:1] in set("01234") else 0.0

    res = evaluate_passk(model, tok, Lenient(world.config), problems, n=6, ks=(1, 3, 6), max_new_tokens=2, seed=5)
    c = res["correct_per_problem"]
    assert len(c) == 3 and all(0 <= x <= 6 for x in c)
    assert res["pass@1"] == pytest.approx(sum(x / 6 for x in c) / 3)
    assert res["pass@6"] == pytest.approx(sum(x > 0 for x in c) / 3)
    assert res["pass@3"] == pytest.approx(sum(pass_at_k(6, x, 3) for x in c) / 3)
    with pytest.raises(InvalidConfigError, match="extrapolate"):
        evaluate_passk(model, tok, world, problems, n=2, ks=(4,))
