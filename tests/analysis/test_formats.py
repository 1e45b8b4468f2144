import itertools

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from rlmeta_interp.analysis.formats import (
    biggest_accuracy_jump,
    detect_collapse,
    format_dynamics,
    format_shares,
    passk_by_format,
)
from rlmeta_interp.analysis.stats import bootstrap_ci, bootstrap_pooled_ci, proportion_ci
from rlmeta_interp.errors import EmptyInputError, InvalidConfigError
from rlmeta_interp.organism.tokenizer import build_tokenizer
from rlmeta_interp.organism.worlds.arithmetic import format_of


def fmt(c):
    if "=" in c:
        return "eq"
    if " is " in c:
        return "sum"
    if c.startswith("A:"):
        return "direct"
    return "other"


class P:
    def __init__(self, prompt, answer):
        self.prompt, self.answer = prompt, answer


def verifier(p, c):
    return c.endswith("A:" + p.answer)


def test_shares_by_hand_and_dead_format():
    by_step = {
        0: [["1+2=3;A:3", "1 plus 2 is 3. A:3", "A:3"], ["A:5", "2+3=5;A:5", "junk"]],
        5: [["1+2=3;A:3", "1+2=3;A:3", "1+2=3;A:3"], ["2+3=5;A:5", "2+3=5;A:5", "2+3=5;A:4"]],
    }
    df = format_shares(by_step, fmt, formats=["direct", "sum", "eq", "other"], n_boot=300)
    s0 = df[df.step == 0].set_index("format")
    assert s0["count"].to_dict() == {"direct": 2, "sum": 1, "eq": 2, "other": 1}
    assert s0["share"].sum() == pytest.approx(1.0) and (s0["n"] == 6).all()
    s5 = df[df.step == 5].set_index("format")
    assert s5.loc["eq", "share"] == 1.0 and s5.loc["sum", "share"] == 0.0
    # every prompt's samples are all equations or none of them: Wilson's interval over the 2 prompts, not a point
    assert (s5.loc["sum", "ci_lo"], s5.loc["sum", "ci_hi"]) == pytest.approx(proportion_ci([0, 0]))
    assert (s5.loc["eq", "ci_lo"], s5.loc["eq", "ci_hi"]) == pytest.approx(proportion_ci([1, 1]))
    assert s5.loc["sum", "ci_hi"] > 0.5 and s5.loc["eq", "ci_lo"] < 0.5
    assert ((df.ci_lo <= df.share + 1e-12) & (df.share <= df.ci_hi + 1e-12)).all()
    assert detect_collapse(df) == {"step": 5, "format": "eq", "share": 1.0}
    assert detect_collapse(df[df.step == 0]) is None
    # a base that is already single-format (step 0 at share 1) has nothing to collapse from
    assert detect_collapse(df[df.step == 5].assign(step=0)) is None


def test_share_ci_matches_prompt_resampling_reference():
    rng = np.random.default_rng(0)
    samples = [["A:1" if rng.random() < p else "1=1" for _ in range(8)] for p in rng.uniform(0, 1, size=60)]
    df = format_shares({0: samples}, fmt, n_boot=3000).set_index("format")
    lab = np.array([[c.startswith("A:") for c in row] for row in samples], dtype=float)
    idx = np.random.default_rng(5).integers(0, 60, size=(3000, 60))
    boot = lab[idx].sum((1, 2)) / (60 * 8)
    rlo, rhi = np.quantile(boot, [0.025, 0.975])
    lo, hi = df.loc["direct", "ci_lo"], df.loc["direct", "ci_hi"]
    assert abs(lo - rlo) < 0.1 * (hi - lo) and abs(hi - rhi) < 0.1 * (hi - lo)


def test_share_ci_is_wilson_only_where_every_prompt_agrees_with_as_many_samples():
    collapsed = [["1=1"] * 4 for _ in range(64)]
    df = format_shares({0: collapsed}, fmt, formats=["eq", "direct"]).set_index("format")
    assert (df.loc["eq", "ci_lo"], df.loc["eq", "ci_hi"]) == pytest.approx(proportion_ci(np.ones(64)))
    assert df.loc["eq", "ci_lo"] == pytest.approx(0.943, abs=1e-3)  # 64 / (64 + 1.96^2)
    assert df.loc["direct", "ci_hi"] == pytest.approx(1 - 0.943, abs=1e-3)
    # prompts with unequal sample counts: the pooled share is no mean of the prompts' shares, so the bootstrap stays
    uneven = [["1=1"] * 4, ["1=1"] * 2, ["A:1"] * 3]
    df = format_shares({0: uneven}, fmt, formats=["eq"], n_boot=200).iloc[0]
    counts = np.array([[4, 4], [2, 2], [0, 3]], dtype=float)
    assert (df["ci_lo"], df["ci_hi"]) == pytest.approx(bootstrap_pooled_ci(
        counts, lambda c: c[..., 0] / c[..., 1], n_boot=200, seed=0))
    # a flat list is one sample per prompt: Wilson's interval over the samples; n_boot is checked on either path
    df = format_shares({0: ["1=1", "A:1", "1=1"]}, fmt, formats=["eq"]).iloc[0]
    assert (df["ci_lo"], df["ci_hi"]) == pytest.approx(proportion_ci([1, 0, 1]))
    for samples in (collapsed, uneven):
        with pytest.raises(InvalidConfigError, match="n_boot"):
            format_shares({0: samples}, fmt, n_boot=0)


def test_passk_by_format_ci_is_wilson_where_every_problem_is_solved_or_not():
    probs = [P(f"{i}+0=", str(i)) for i in range(8)]
    samples = [[f"{i}+0={i};A:{i}", f"A:{i + 1}"] if i < 5 else [f"A:{i + 1}", f"A:{i + 2}"] for i in range(8)]
    df = passk_by_format(probs, samples, verifier, fmt, ks=[1, 2], n_boot=200).set_index(["format", "k"])
    solved = [1.0] * 5 + [0.0] * 3
    assert (df.loc[("all", 2), "ci_lo"], df.loc[("all", 2), "ci_hi"]) == pytest.approx(proportion_ci(solved))
    half = [0.5] * 5 + [0.0] * 3  # pass@1 mixes 0.5s and 0s: the bootstrap over problems
    assert (df.loc[("all", 1), "ci_lo"], df.loc[("all", 1), "ci_hi"]) == pytest.approx(
        bootstrap_ci(half, n_boot=200, seed=0))
    # within "eq" every problem with an equation sample got it right: a share of 1 over 5 problems, with width
    assert df.loc[("eq", 1), "pass@k"] == 1.0 and df.loc[("eq", 1), "ci_lo"] < 0.6


def test_passk_by_format_vs_subset_enumeration():
    probs = [P("1+2=", "3"), P("2+3=", "5")]
    samples = [["1+2=3;A:3", "1+2=4;A:4", "1 plus 2 is 3. A:3", "A:4"],
               ["2+3=5;A:5", "2+3=6;A:6", "2+3=7;A:7", "A:5"]]
    df = passk_by_format(probs, samples, verifier, fmt, ks=[1, 2], n_boot=100).set_index(["format", "k"])

    def brute(cs, k):
        subs = list(itertools.combinations(cs, k))
        return np.mean([any(s) for s in subs])

    # "all": problem 0 has c=2 of 4, problem 1 c=2 of 4
    assert df.loc[("all", 2), "pass@k"] == pytest.approx(np.mean([brute([1, 0, 1, 0], 2), brute([1, 0, 0, 1], 2)]))
    # eq: problem 0 has [1, 0], problem 1 has [1, 0, 0]
    assert df.loc[("eq", 1), "pass@k"] == pytest.approx(np.mean([0.5, 1 / 3]))
    assert df.loc[("eq", 2), "pass@k"] == pytest.approx(np.mean([1.0, brute([1, 0, 0], 2)]))
    # sum appears once (problem 0): pass@2 not estimable anywhere
    assert df.loc[("sum", 1), "n_problems"] == 1 and df.loc[("sum", 1), "pass@k"] == 1.0
    assert df.loc[("sum", 2), "n_problems"] == 0 and np.isnan(df.loc[("sum", 2), "pass@k"])
    with pytest.raises(InvalidConfigError, match="exceed n"):
        passk_by_format(probs, samples, verifier, fmt, ks=[5])


def test_jump_and_errors():
    assert biggest_accuracy_jump({0: 0.1, 10: 0.2, 20: 0.6, 30: 0.65}) == {"step": 20, "from_step": 10, "jump": pytest.approx(0.4)}
    assert biggest_accuracy_jump({0: 0.1}) is None
    with pytest.raises(EmptyInputError):
        format_shares({}, fmt)
    with pytest.raises(EmptyInputError):
        format_shares({0: []}, fmt)
    with pytest.raises(InvalidConfigError, match="str label"):
        format_shares({0: ["a"]}, lambda c: 3)
    with pytest.raises(InvalidConfigError, match="threshold"):
        detect_collapse(pd.DataFrame({"step": [0], "format": ["a"], "share": [1.0]}), threshold=1.5)
    with pytest.raises(InvalidConfigError, match="column"):
        detect_collapse(pd.DataFrame({"step": [0]}))
    # ignored labels never count as a collapse
    df = pd.DataFrame({"step": [0, 0], "format": ["other", "eq"], "share": [0.95, 0.05]})
    assert detect_collapse(df, ignore=["other"]) is None


def _tiny(seed):
    tok = build_tokenizer()
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    return LlamaForCausalLM(cfg).eval(), tok


def test_format_dynamics_end_to_end():
    m0, tok = _tiny(0)
    m1, _ = _tiny(1)
    probs = [P("1+2=", "3"), P("4+4=", "8")]
    out = format_dynamics([(0, m0), (10, m1)], tok, probs, lambda p, c: True,
                          lambda c: "long" if len(c) >= 4 else "short", n=4, ks=[1, 2], max_new_tokens=6,
                          formats=["short", "long"], n_boot=50)
    shares = out["shares"]
    assert sorted(shares.step.unique()) == [0, 10]
    assert shares.groupby("step")["share"].sum().tolist() == pytest.approx([1.0, 1.0])
    pk = out["passk"]
    assert (pk[pk.format == "all"]["pass@k"] == 1.0).all()
    assert out["biggest_jump"]["jump"] == 0.0


def test_collapse_summary_from_tables_built_by_hand():
    from rlmeta_interp.analysis.formats import collapse_summary

    samples = {0: [["A:1", "1+1=2;A:2"], ["2 plus 1 is 3. A:3", "A:4"]],
               10: [["1+1=2;A:2", "1+1=2;A:2"], ["1+2=3;A:3", "A:5"]],
               20: [["1+1=2;A:2"] * 2, ["1+2=3;A:3"] * 2]}
    shares = format_shares(samples, format_of, formats=["direct", "sum", "eq", "other"], n_boot=20)
    acc = {0: 0.25, 10: 0.75, 20: 0.8}
    passk = pd.DataFrame([{"step": s, "format": f, "k": k, "pass@k": a if f == "all" else 0.0, "ci_lo": a - 0.1,
                           "ci_hi": a + 0.1} for s, a in acc.items() for f in ("all", "eq") for k in (1, 2)])
    res = {"shares": shares, "passk": passk, "collapse": detect_collapse(shares, 0.9, ignore=["other"]),
           "biggest_jump": biggest_accuracy_jump(acc)}
    s = collapse_summary(res)
    assert s["first_shares"]["direct"][0] == pytest.approx(0.5) and s["last_shares"]["eq"][0] == 1.0
    assert s["top_format"] == "eq" and s["collapse"]["step"] == 20 and s["biggest_jump"]["step"] == 10
    assert s["coincide"] is False and s["chance"] == pytest.approx(0.5) and s["n_steps"] == 3
    assert s["k"] == 1 and s["pass_first"] == pytest.approx((0.25, 0.15, 0.35)) and s["pass_last"][0] == 0.8
    s2 = collapse_summary({**res, "collapse": None})
    assert s2["coincide"] is None
