from dataclasses import dataclass

import numpy as np
import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from rlmeta_interp.analysis.likelihood import (
    completion_nll,
    cross_likelihood,
    nll_summary,
    samples_nll,
    token_logprobs,
)
from rlmeta_interp.errors import EmptyInputError, InputTooLongError, InvalidConfigError
from rlmeta_interp.organism.tokenizer import build_tokenizer


def _tiny(seed, ctx=64):
    tok = build_tokenizer()
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=ctx,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    return LlamaForCausalLM(cfg).eval(), tok


PROMPTS = ["12+3=", "7*8=", "(1+2)*3=", "9="]
COMPS = ["15", "56;ok", "9", "nine 9 9"]


def _loop_reference(model, tok, prompt, completion, add_eos=False):
    """One unpadded sequence at a time, log-softmax by hand."""
    head = [tok.bos_token_id] + tok(prompt, add_special_tokens=False)["input_ids"]
    tail = tok(completion, add_special_tokens=False)["input_ids"] + ([tok.eos_token_id] if add_eos else [])
    ids = torch.tensor([head + tail])
    with torch.no_grad():
        logp = torch.log_softmax(model(ids).logits[0].double(), -1)
    return torch.stack([logp[len(head) + j - 1, t] for j, t in enumerate(tail)]) if tail else torch.zeros(0)


@pytest.mark.parametrize("add_eos", [False, True])
def test_batched_equals_per_sample_loop(add_eos):
    model, tok = _tiny(0)
    lps = token_logprobs(model, PROMPTS, COMPS, tokenizer=tok, add_eos=add_eos, batch_size=3)
    for p, c, lp in zip(PROMPTS, COMPS, lps, strict=True):
        ref = _loop_reference(model, tok, p, c, add_eos)
        assert lp.shape == ref.shape
        torch.testing.assert_close(lp.double(), ref, atol=2e-5, rtol=1e-5)


def test_mean_nll_equals_hf_labels_loss():
    model, tok = _tiny(1)
    df = completion_nll(model, PROMPTS, COMPS, tokenizer=tok, batch_size=4)
    for i, (p, c) in enumerate(zip(PROMPTS, COMPS, strict=True)):
        head = [tok.bos_token_id] + tok(p, add_special_tokens=False)["input_ids"]
        tail = tok(c, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([head + tail])
        labels = ids.clone()
        labels[0, : len(head)] = -100
        with torch.no_grad():
            loss = model(input_ids=ids, labels=labels).loss.item()
        assert df.loc[i, "nll"] == pytest.approx(loss, abs=1e-5)
        assert df.loc[i, "n_tokens"] == len(tail)
        assert df.loc[i, "ppl"] == pytest.approx(np.exp(loss), rel=1e-4)


@dataclass
class _Loaded:
    hf: object
    tokenizer: object


def test_samples_summary_and_cross_table():
    m0, tok = _tiny(0)
    m1, _ = _tiny(1)
    samples = [["15", "16", ""], ["56", "5"], ["9", "99"], ["1", "2"]]
    df = samples_nll(_Loaded(m0, tok), PROMPTS, samples)
    assert df["prompt"].tolist() == [0, 0, 0, 1, 1, 2, 2, 3, 3]
    assert np.isnan(df.loc[2, "nll"]) and df.loc[2, "n_tokens"] == 0
    s = nll_summary(df, n_boot=200)
    valid = df[df.n_tokens > 0]
    assert s["nll"] == pytest.approx(valid.nll_sum.sum() / valid.n_tokens.sum())
    assert s["n_empty"] == 1 and s["n_samples"] == 9 and s["ci_lo"] <= s["nll"] <= s["ci_hi"]
    tab = cross_likelihood({"base": _Loaded(m0, tok), "rl": _Loaded(m1, tok)}, PROMPTS,
                           {"base": samples, "rl": samples}, n_boot=100)
    assert len(tab) == 4
    # same samples, same scorer -> identical numbers whichever label the samples carry
    a = tab[(tab.samples_from == "base") & (tab.scored_by == "rl")]["nll"].item()
    b = tab[(tab.samples_from == "rl") & (tab.scored_by == "rl")]["nll"].item()
    assert a == b
    # and different scorers give different numbers
    assert tab[tab.scored_by == "base"]["nll"].iloc[0] != a


def test_model_samples_are_likelier_under_their_own_model():
    from rlmeta_interp.sampling import sample_completions

    m0, tok = _tiny(0)
    m1, _ = _tiny(1)
    prompts = ["1+1=", "2+2="]
    s0 = sample_completions(m0, tok, prompts, n=16, max_new_tokens=8, seed=0)
    own = nll_summary(samples_nll(m0, prompts, s0, tokenizer=tok), n_boot=100)["nll"]
    other = nll_summary(samples_nll(m1, prompts, s0, tokenizer=tok), n_boot=100)["nll"]
    assert own < other


def test_errors():
    model, tok = _tiny(0, ctx=8)
    with pytest.raises(InvalidConfigError, match="tokenizer"):
        token_logprobs(model, ["1"], ["2"])
    with pytest.raises(InvalidConfigError, match="one completion per prompt"):
        token_logprobs(model, ["1", "2"], ["2"], tokenizer=tok)
    with pytest.raises(InvalidConfigError, match="single string"):  # not one completion per character
        token_logprobs(model, ["1", "2"], "23", tokenizer=tok)
    with pytest.raises(EmptyInputError):
        token_logprobs(model, [], [], tokenizer=tok)
    with pytest.raises(InputTooLongError, match="context"):
        token_logprobs(model, ["12345"], ["67890"], tokenizer=tok)
    df = completion_nll(model, ["1"], [""], tokenizer=tok)
    with pytest.raises(EmptyInputError, match="add_eos"):
        nll_summary(df)


def test_ppl_ratio_against_direct_computation():
    import pandas as pd

    from rlmeta_interp.analysis.likelihood import ppl_ratio

    a = pd.DataFrame({"prompt": [0, 0, 1, 1, 2], "n_tokens": [3, 2, 4, 1, 5], "nll_sum": [3.0, 1.0, 6.0, 0.5, 4.0]})
    b = pd.DataFrame({"prompt": [0, 1, 2, 2], "n_tokens": [2, 3, 4, 4], "nll_sum": [1.0, 2.0, 2.5, 3.5]})
    r = ppl_ratio(a, b, n_boot=300)
    expect = np.exp(a.nll_sum.sum() / a.n_tokens.sum() - b.nll_sum.sum() / b.n_tokens.sum())
    assert r["ratio"] == pytest.approx(expect)
    assert r["ci_lo"] <= r["ratio"] <= r["ci_hi"] and r["n_prompts"] == 3
    # swapping the sets inverts the ratio; a set against itself is exactly 1 in every resample
    assert ppl_ratio(b, a, n_boot=300)["ratio"] == pytest.approx(1 / expect)
    same = ppl_ratio(a, a, n_boot=300)
    assert same["ratio"] == pytest.approx(1.0) and same["ci_lo"] == pytest.approx(1.0) == same["ci_hi"]
    with pytest.raises(InvalidConfigError, match="different prompts"):
        ppl_ratio(a, b[b.prompt < 2], n_boot=100)


def test_policy_kl_is_the_token_weighted_nll_gap_on_the_policys_samples():
    import pandas as pd

    from rlmeta_interp.analysis.likelihood import policy_kl
    from rlmeta_interp.sampling import sample_completions

    m0, tok = _tiny(0)
    m1, _ = _tiny(1)
    prompts = ["1+1=", "2+2=", "3+4="]
    s0 = sample_completions(m0, tok, prompts, n=8, max_new_tokens=8, seed=0)
    under_policy = samples_nll(m0, prompts, s0, tokenizer=tok, add_eos=True)
    under_ref = samples_nll(m1, prompts, s0, tokenizer=tok, add_eos=True)
    r = policy_kl(under_ref, under_policy, n_boot=300)
    gap = (under_ref.nll_sum - under_policy.nll_sum).sum() / under_policy.n_tokens.sum()
    assert r["kl"] == pytest.approx(gap) and r["kl"] > 0  # another random model writes the policy's text less likely
    assert r["ci_lo"] <= r["kl"] <= r["ci_hi"] and r["n_units"] == 3
    same = policy_kl(under_policy, under_policy, n_boot=100)
    assert same["kl"] == 0.0 == same["ci_lo"] == same["ci_hi"]
    with pytest.raises(InvalidConfigError, match="same samples"):
        policy_kl(under_ref.iloc[:-1], under_policy)
    with pytest.raises(InvalidConfigError, match="same samples"):  # rows of other prompts
        policy_kl(under_ref, under_policy.assign(prompt=under_policy["prompt"].to_numpy()[::-1]))
    empty = pd.DataFrame({"prompt": [0], "n_tokens": [0], "nll_sum": [float("nan")]})
    with pytest.raises(EmptyInputError):
        policy_kl(empty, empty)
