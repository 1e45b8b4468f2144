import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from rlmeta_interp.analysis.passk import (
    COVERAGE_CATEGORIES,
    correctness_matrix,
    coverage,
    coverage_summary,
    crossover_k,
    evaluate_samples,
    guess_probabilities,
    guessing_passk,
    pass_at_k,
    pass_at_k_matrix,
    passk_curve,
    passk_table,
    run_passk,
)
from rlmeta_interp.errors import EmptyInputError, InvalidConfigError
from rlmeta_interp.organism.tokenizer import build_tokenizer
from rlmeta_interp.organism.worlds.base import Problem, World


def brute_force_pass_at_k(n, c, k):
    """Fraction of all k-subsets of n samples (c correct) that hold at least one correct sample."""
    samples = [1] * c + [0] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(samples[i] for i in s) for s in subsets) / len(subsets)


@pytest.mark.parametrize("n", [1, 4, 7, 10])
def test_pass_at_k_equals_subset_enumeration(n):
    for c in range(n + 1):
        for k in range(1, n + 1):
            assert pass_at_k(n, c, k) == pytest.approx(brute_force_pass_at_k(n, c, k), abs=1e-12)


def test_pass_at_k_stable_for_large_n():
    # the naive binomial ratio overflows floats here; the product form does not
    v = pass_at_k(2000, 3, 1000)
    assert 0.0 < v < 1.0 and np.isfinite(v)
    # exact closed form for c=3: C(n-3, k) / C(n, k) = (n-k)(n-k-1)(n-k-2) / (n(n-1)(n-2))
    assert v == pytest.approx(1 - (1000 * 999 * 998) / (2000 * 1999 * 1998), rel=1e-12)
    # exact closed form for c=1: 1 - (n-k)/n = k/n
    assert pass_at_k(2000, 1, 1000) == pytest.approx(0.5)


def test_matrix_and_table_match_scalar_reference():
    counts = np.array([0, 1, 3, 8, 8])
    ks = [1, 2, 5, 8]
    mat = pass_at_k_matrix(counts, 8, ks)
    ref = np.array([[brute_force_pass_at_k(8, c, k) for k in ks] for c in counts])
    np.testing.assert_allclose(mat, ref, atol=1e-12)
    df = passk_table({"m": counts}, 8, ks, n_boot=200)
    assert list(df.columns) == ["model", "k", "pass@k", "ci_lo", "ci_hi", "n_problems"]
    np.testing.assert_allclose(df["pass@k"], ref.mean(0))
    assert (df["ci_lo"] <= df["pass@k"] + 1e-12).all() and (df["pass@k"] <= df["ci_hi"] + 1e-12).all()
    # default ks = 1..n
    assert passk_table({"m": counts}, 8, n_boot=50)["k"].tolist() == list(range(1, 9))


def test_passk_table_gives_a_share_solved_its_wilson_interval():
    from rlmeta_interp.analysis.stats import bootstrap_curve_ci, proportion_ci

    # every problem solved at least once in 8: pass@8 is 1 on all 40, which a bootstrap reads as [1, 1]
    counts = np.array([8, 3, 1, 5] * 10)
    df = passk_table({"m": counts}, 8, [1, 8], n_boot=200).set_index("k")
    assert df.loc[8, "ci_hi"] == 1.0 and df.loc[8, "ci_lo"] == pytest.approx(proportion_ci(np.ones(40))[0])
    assert 0.85 < df.loc[8, "ci_lo"] < 0.95
    # pass@1 is fractional per problem: the joint bootstrap, as before
    lo, hi = bootstrap_curve_ci(pass_at_k_matrix(counts, 8, [1, 8]), n_boot=200)
    assert (df.loc[1, "ci_lo"], df.loc[1, "ci_hi"]) == (lo[0], hi[0])
    # solved by some problems only: still 0/1 per problem, so Wilson of the share solved (3 of 4)
    mixed = passk_table({"m": np.array([0, 2, 2, 2] * 10)}, 8, [8], n_boot=200)
    assert (mixed.loc[0, "ci_lo"], mixed.loc[0, "ci_hi"]) == pytest.approx(proportion_ci(np.array([0, 1, 1, 1] * 10)))


def test_curve_crossover_and_coverage():
    n = 16
    # RL: sharp on easy problems, never on hard; base: diffuse, occasionally solves hard ones
    rl = np.array([16, 16, 15, 14, 0, 0, 0, 0])
    base = np.array([6, 5, 4, 3, 2, 1, 1, 0])
    curve = passk_curve(base, rl, n, n_boot=200)
    assert set(curve["model"]) == {"base", "rl"}
    k = crossover_k(curve)
    b = curve[curve.model == "base"].set_index("k")["pass@k"]
    r = curve[curve.model == "rl"].set_index("k")["pass@k"]
    assert k is not None and b[k] >= r[k] and all(b[j] < r[j] for j in range(1, k))
    # RL always ahead -> no crossover
    assert crossover_k(passk_curve(np.zeros(3, int), np.full(3, 2), 4, n_boot=50)) is None
    cov = coverage(base, rl)
    assert cov["category"].tolist() == ["both"] * 4 + ["base_only"] * 3 + ["neither"]
    summ = coverage_summary(base, rl)
    assert summ["category"].tolist() == list(COVERAGE_CATEGORIES)
    assert summ.set_index("category")["problems"].to_dict() == {"both": 4, "base_only": 3, "rl_only": 0, "neither": 1}
    assert summ["fraction"].sum() == pytest.approx(1.0)


def test_guessing_baseline():
    p = guess_probabilities(["1", "1", "2", "3"], leave_one_out=True)
    np.testing.assert_allclose(p, [1 / 3, 1 / 3, 0, 0])
    np.testing.assert_allclose(guess_probabilities(["1", "1", "2", "3"], leave_one_out=False), [0.5, 0.5, 0.25, 0.25])
    np.testing.assert_allclose(guess_probabilities(["1", "7"], candidates=[str(i) for i in range(5)]), [0.2, 0.0])
    df = guessing_passk([0.2, 0.0], [1, 4], n_boot=100)
    np.testing.assert_allclose(df["pass@k"], [0.1, (1 - 0.8**4) / 2])
    # the closed form equals the expectation of the unbiased estimator under Binomial(n, p) samples
    from scipy.stats import binom
    n, pr, k = 12, 0.2, 4
    expected = sum(binom.pmf(c, n, pr) * pass_at_k(n, c, k) for c in range(n + 1))
    assert guessing_passk([pr], [k], n_boot=10)["pass@k"].iloc[0] == pytest.approx(expected)


class ContainsWorld(World):
    name = "contains"

    def sample(self, n, seed, **difficulty):
        rng = np.random.default_rng(seed)
        return [Problem(prompt=f"q{i}:", answer=str(rng.integers(0, 10))) for i in range(n)]

    def reward(self, problem, completion):
        return 1.0 if problem.answer in completion else 0.0


def test_evaluate_samples_world_and_callable():
    world = ContainsWorld()
    probs = world.sample(3, seed=0)
    comps = [[p.answer, "x", p.answer + "y"] for p in probs]
    assert evaluate_samples(world, probs, comps).tolist() == [2, 2, 2]
    mat = correctness_matrix(lambda p, c: c == p.answer, probs, comps)
    assert mat.tolist() == [[True, False, False]] * 3
    with pytest.raises(InvalidConfigError, match="same non-zero number"):
        evaluate_samples(world, probs, [["a"], ["a", "b"], ["c"]])
    with pytest.raises(InvalidConfigError, match="one list of samples per problem"):
        evaluate_samples(world, probs, comps[:2])
    with pytest.raises(EmptyInputError):
        evaluate_samples(world, [], [])


def test_errors():
    with pytest.raises(InvalidConfigError, match="positive"):
        pass_at_k(4, 1, 0)
    with pytest.raises(InvalidConfigError, match="extrapolate"):
        pass_at_k(4, 1, 5)
    with pytest.raises(InvalidConfigError, match="exceed n"):
        passk_table({"m": [1, 2]}, 4, [1, 8])
    with pytest.raises(InvalidConfigError, match="positive"):
        passk_table({"m": [1, 2]}, 4, [0, 1])
    with pytest.raises(EmptyInputError):
        passk_table({"m": []}, 4, [1])
    with pytest.raises(EmptyInputError):
        passk_table({}, 4, [1])
    with pytest.raises(InvalidConfigError, match=r"\[0, n=4\]"):
        pass_at_k_matrix([5], 4)
    with pytest.raises(InvalidConfigError, match="same problems"):
        passk_curve([1, 2], [1], 4)
    # fractional or non-list ks, fractional n or c, and counts that are not numbers are refused, not truncated
    for ks in ([1, 2.7], "12", 3):
        with pytest.raises(InvalidConfigError, match="integer"):
            pass_at_k_matrix([1, 2], 4, ks)
    assert pass_at_k_matrix([1, 2], 4, np.array([1, 2])).shape == (2, 2)
    with pytest.raises(InvalidConfigError, match="integers"):
        pass_at_k(4.5, 1, 2)
    with pytest.raises(InvalidConfigError, match="integers"):
        pass_at_k(4, 1.5, 2)
    for counts in ([True, False], ["1", "2"], [1.0, np.nan]):
        with pytest.raises(InvalidConfigError, match="counts"):
            pass_at_k_matrix(counts, 4)
    # a flat list of completions would be read as one sample per character
    with pytest.raises(InvalidConfigError, match="single string"):
        evaluate_samples(lambda p, c: c == "A:7", ["7+0=", "3+0="], ["A:7", "A:3"])


@dataclass
class _M:
    hf: object
    tokenizer: object


@dataclass
class _Pair:
    base: _M
    rl: _M


def _tiny_llama(seed):
    tok = build_tokenizer()
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    return LlamaForCausalLM(cfg).eval(), tok


def test_run_passk_on_real_tiny_models():
    world = ContainsWorld()
    probs = world.sample(4, seed=1)
    m0, tok = _tiny_llama(0)
    m1, _ = _tiny_llama(1)
    same = run_passk(_Pair(_M(m0, tok), _M(m0, tok)), probs, world, n=6, ks=[1, 3, 6], max_new_tokens=6, n_boot=50)
    # same model and seed -> identical samples, identical curves, crossover at k=1
    assert same.completions_base == same.completions_rl
    assert same.crossover_k == 1
    res = run_passk(_Pair(_M(m0, tok), _M(m1, tok)), probs, world, n=6, ks=[1, 3, 6], max_new_tokens=6, n_boot=50,
                    guess_p=[0.1] * 4)
    assert [len(c) for c in res.completions_rl] == [6] * 4
    np.testing.assert_array_equal(res.counts_rl, evaluate_samples(world, probs, res.completions_rl))
    base_curve = res.curve[res.curve.model == "base"]["pass@k"].to_numpy()
    np.testing.assert_allclose(base_curve, pass_at_k_matrix(res.counts_base, 6, [1, 3, 6]).mean(0))
    assert set(res.curve["model"]) == {"base", "rl", "guess"}
    assert isinstance(res.coverage, pd.DataFrame) and len(res.coverage) == 4
    # typed errors for the usual mistakes: prompt strings for problems, one model for a pair, a guess per problem
    pair = _Pair(_M(m0, tok), _M(m1, tok))
    with pytest.raises(InvalidConfigError, match="Problem objects with a .prompt"):
        run_passk(pair, ["3+4="], world, n=2)
    with pytest.raises(InvalidConfigError, match="pair with .base and .rl"):
        run_passk(_M(m0, tok), probs, world, n=2)
    with pytest.raises(InvalidConfigError, match="one guessing probability per problem"):
        run_passk(pair, probs, world, n=2, guess_p=[0.5])


def test_run_passk_resumes_from_its_sample_cache(tmp_path):
    world = ContainsWorld()
    probs = world.sample(5, seed=2)
    m0, tok = _tiny_llama(0)
    m1, _ = _tiny_llama(1)
    pair = _Pair(_M(m0, tok), _M(m1, tok))
    kw = dict(n=4, ks=[1, 2, 4], max_new_tokens=5, n_boot=50, max_batch=8, seed=5)  # 2 problems per chunk
    ref = run_passk(pair, probs, world, **kw)

    class Killed(Exception):
        pass

    calls = {"n": 0}

    def die(module, args):  # the RL model dies in its second chunk
        calls["n"] += 1
        if calls["n"] > 7:
            raise Killed

    handle = m1.register_forward_pre_hook(die)
    with pytest.raises(Killed):
        run_passk(pair, probs, world, cache_dir=tmp_path / "samples", **kw)
    handle.remove()
    folders = sorted((tmp_path / "samples").iterdir())
    assert sorted(len(list(f.glob("chunk_*"))) for f in folders) == [1, 3]  # RL: 1 of 3 chunks; base: all 3
    res = run_passk(pair, probs, world, cache_dir=tmp_path / "samples", **kw)
    assert res.completions_base == ref.completions_base and res.completions_rl == ref.completions_rl
    np.testing.assert_array_equal(res.counts_rl, ref.counts_rl)
    pd.testing.assert_frame_equal(res.curve, ref.curve)
    assert res.crossover_k == ref.crossover_k
