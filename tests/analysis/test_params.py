import numpy as np
import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from rlmeta_interp.analysis.params import (
    layer_of,
    matched_random_update,
    sparsity_by_layer,
    sparsity_summary,
    sparsity_verdict,
    sparsity_verdict_text,
    update_overlap,
    update_sparsity,
)
from rlmeta_interp.errors import IncompatiblePairError, InvalidConfigError


def _planted():
    g = torch.Generator().manual_seed(0)
    before = {
        "model.layers.0.sparse.weight": torch.randn(40, 30, generator=g),
        "model.layers.0.lowrank.weight": torch.randn(64, 48, generator=g),
        "model.layers.1.full.weight": torch.randn(32, 32, generator=g),
        "model.norm.weight": torch.ones(16),
    }
    after = {k: v.clone() for k, v in before.items()}
    mask = torch.rand(40, 30, generator=g) < 0.1
    after["model.layers.0.sparse.weight"] += mask * 0.05
    u, v = torch.randn(64, 3, generator=g), torch.randn(3, 48, generator=g)
    after["model.layers.0.lowrank.weight"] += 0.1 * u @ v
    after["model.layers.1.full.weight"] += 0.01 * torch.randn(32, 32, generator=g)
    return before, after, mask


def test_planted_sparse_lowrank_fullrank_against_numpy():
    before, after, mask = _planted()
    df = update_sparsity(before, after).set_index("name")
    for name in before:
        d = after[name].numpy().astype(np.float64) - before[name].numpy().astype(np.float64)
        assert df.loc[name, "frac_unchanged_fp32"] == pytest.approx(np.mean(d == 0))
        assert df.loc[name, "frac_within_atol_fp32"] == pytest.approx(np.mean(np.abs(d) <= 1e-5))
        if d.ndim == 2:
            ref_rank = np.linalg.matrix_rank(d.astype(np.float32))
            assert df.loc[name, "rank"] == ref_rank
            assert df.loc[name, "rank_frac"] == pytest.approx(ref_rank / min(d.shape))
        else:
            assert np.isnan(df.loc[name, "rank"])
    assert df.loc["model.layers.0.sparse.weight", "frac_unchanged_fp32"] == pytest.approx(1 - mask.float().mean().item())
    assert df.loc["model.layers.0.lowrank.weight", "rank"] == 3
    assert df.loc["model.layers.1.full.weight", "rank_frac"] == 1.0
    assert df.loc["model.norm.weight", "frac_unchanged_fp32"] == 1.0
    assert df.loc["model.layers.1.full.weight", "layer"] == 1 and df.loc["model.norm.weight", "layer"] == -1


def test_bf16_view_hides_small_updates():
    g = torch.Generator().manual_seed(1)
    w = torch.randn(100, 100, generator=g)
    d = 1e-4 * torch.ones_like(w)
    row = update_sparsity({"w": w}, {"w": w + d}, atol=1e-6).iloc[0]
    assert row["frac_unchanged_fp32"] < 0.01
    # bf16 keeps 8 significant bits: ulp(w) = 2**(floor(log2|w|) - 7). Under round-to-nearest an update d
    # moves the rounded value with probability about min(1, d / ulp(w)) for w spread across an ulp.
    ulp = 2.0 ** (np.floor(np.log2(np.abs(w.numpy().astype(np.float64)))) - 7)
    expected_changed = float(np.mean(np.minimum(1.0, 1e-4 / ulp)))
    assert row["frac_unchanged_bf16"] > 0.9
    assert 1 - row["frac_unchanged_bf16"] == pytest.approx(expected_changed, abs=0.015)


def test_summary_and_by_layer_are_numel_weighted():
    before, after, mask = _planted()
    df = update_sparsity(before, after)
    s = sparsity_summary(df)
    total = sum(v.numel() for v in before.values())
    unchanged = sum(int((after[k] == before[k]).sum()) for k in before)
    assert s["frac_unchanged_fp32"] == pytest.approx(unchanged / total)
    assert s["numel"] == total
    by = sparsity_by_layer(df).set_index("layer")
    assert set(by.index) == {-1, 0, 1}
    l0 = [k for k in before if layer_of(k) == 0]
    assert by.loc[0, "frac_unchanged_fp32"] == pytest.approx(
        sum(int((after[k] == before[k]).sum()) for k in l0) / sum(before[k].numel() for k in l0))


def test_overlap_vs_chance_reference():
    rng = np.random.default_rng(0)
    n = 20000
    w0 = torch.zeros(n)
    a_set = rng.random(n) < 0.2
    b_set = np.where(a_set, rng.random(n) < 0.5, rng.random(n) < 0.05)
    wa = w0 + torch.from_numpy(a_set.astype(np.float32))
    wb = w0 + torch.from_numpy(b_set.astype(np.float32))
    df = update_overlap({"p": w0}, {"p": wa}, {"p": wb}).set_index("name")
    both = np.sum(a_set & b_set)
    row = df.loc["p"]
    assert row["n_both"] == both and row["n_a"] == a_set.sum() and row["n_b"] == b_set.sum()
    assert row["overlap_a"] == pytest.approx(both / a_set.sum())
    assert row["jaccard"] == pytest.approx(both / np.sum(a_set | b_set))
    assert row["ratio"] == pytest.approx(both / (a_set.sum() * b_set.sum() / n))
    assert row["ratio"] > 2
    # independent sets -> ratio near 1
    c_set = rng.random(n) < 0.3
    df2 = update_overlap({"p": w0}, {"p": wa}, {"p": w0 + torch.from_numpy(c_set.astype(np.float32))})
    assert df2.set_index("name").loc["__total__", "ratio"] == pytest.approx(1.0, abs=0.1)


def _tiny(seed):
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=20, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=16)
    return LlamaForCausalLM(cfg)


def test_models_and_errors():
    m0 = _tiny(0)
    m1 = _tiny(0)
    with torch.no_grad():
        m1.model.layers[1].mlp.up_proj.weight.add_(0.5)
    df = update_sparsity(m0, m1).set_index("name")
    assert df.loc["model.layers.1.mlp.up_proj.weight", "frac_unchanged_fp32"] == 0.0
    assert df.drop("model.layers.1.mlp.up_proj.weight")["frac_unchanged_fp32"].eq(1.0).all()
    with pytest.raises(IncompatiblePairError, match="lacks"):
        update_sparsity(m0.state_dict(), {"x": torch.zeros(1)})
    big = LlamaForCausalLM(LlamaConfig(vocab_size=20, hidden_size=32, intermediate_size=32, num_hidden_layers=2,
                                       num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=16))
    with pytest.raises(IncompatiblePairError, match="Shapes differ"):
        update_sparsity(m0, big)
    with pytest.raises(InvalidConfigError, match="atol"):
        update_sparsity(m0, m1, atol=-1)
    with pytest.raises(InvalidConfigError):
        update_sparsity(3, m1)


def test_overlap_bf16_view_ignores_updates_lost_to_rounding():
    # run A changes every entry by far less than bf16 resolves; run B by far more: the fp32 view sees both
    # updated everywhere, the bf16 view sees only B (reference: numpy on explicitly rounded values)
    w0 = torch.full((1000,), 1.0)
    wa = w0 + 1e-4
    wb = w0 + torch.linspace(0.01, 0.5, 1000)
    f32 = update_overlap({"p": w0}, {"p": wa}, {"p": wb}, view="fp32").set_index("name").loc["p"]
    b16 = update_overlap({"p": w0}, {"p": wa}, {"p": wb}, view="bf16").set_index("name").loc["p"]
    assert f32["n_a"] == 1000 and f32["n_both"] == 1000
    changed_b = (wb.to(torch.bfloat16).float() != w0.to(torch.bfloat16).float()).sum().item()
    assert b16["n_a"] == 0 and b16["n_b"] == changed_b and b16["n_both"] == 0
    with pytest.raises(InvalidConfigError, match="view"):
        update_overlap({"p": w0}, {"p": wa}, {"p": wb}, view="fp16")


def test_matched_random_update_has_the_rl_norm_and_is_dense():
    m0, m1 = _tiny(0), _tiny(0)
    with torch.no_grad():
        m1.model.layers[0].self_attn.q_proj.weight[:2].add_(0.3)  # a sparse, low-rank RL update
    ctrl = matched_random_update(m0, m1, seed=3)
    name = "model.layers.0.self_attn.q_proj.weight"
    before, after = m0.state_dict()[name], m1.state_dict()[name]
    assert float((ctrl[name] - before).norm()) == pytest.approx(float((after - before).norm()), rel=1e-5)
    assert torch.equal(ctrl["model.layers.1.mlp.up_proj.weight"], m0.state_dict()["model.layers.1.mlp.up_proj.weight"])
    rl = update_sparsity(m0, m1).set_index("name").loc[name]
    rnd = update_sparsity(m0, ctrl).set_index("name").loc[name]
    assert rl["frac_unchanged_fp32"] > 0.8 and rnd["frac_unchanged_fp32"] == 0.0
    assert rl["rank"] <= 2 and rnd["rank_frac"] == 1.0
    # deterministic in its seed
    assert torch.equal(matched_random_update(m0, m1, seed=3)[name], ctrl[name])


def test_overlap_by_layer_sums_tensors_of_a_block():
    from rlmeta_interp.analysis.params import overlap_by_layer

    m0, ma, mb = _tiny(0), _tiny(0), _tiny(0)
    with torch.no_grad():
        ma.model.layers[1].mlp.up_proj.weight[:4].add_(1.0)
        mb.model.layers[1].mlp.up_proj.weight[2:6].add_(1.0)
        ma.model.layers[1].mlp.down_proj.weight[:, :1].add_(1.0)
        ma.model.embed_tokens.weight[0].add_(1.0)
        mb.model.embed_tokens.weight[0].add_(1.0)
    ov = update_overlap(m0, ma, mb).assign(view="fp32")
    g = overlap_by_layer(ov, by=["view"]).set_index("layer")
    assert set(g.index) == {-1, 0, 1} and (g["view"] == "fp32").all()
    up, down = ma.model.layers[1].mlp.up_proj.weight, ma.model.layers[1].mlp.down_proj.weight
    numel1 = sum(p.numel() for n, p in m0.named_parameters() if ".layers.1." in n)
    assert g.loc[1, "numel"] == numel1
    assert g.loc[1, "n_a"] == 4 * up.shape[1] + down.shape[0] and g.loc[1, "n_both"] == 2 * up.shape[1]
    assert g.loc[1, "ratio"] == pytest.approx(g.loc[1, "n_both"] / (g.loc[1, "n_a"] * g.loc[1, "n_b"] / numel1))
    e = g.loc[1, "n_a"] * g.loc[1, "n_b"] / numel1
    assert g.loc[1, "chance_jaccard"] == pytest.approx(e / (g.loc[1, "n_a"] + g.loc[1, "n_b"] - e))
    assert g.loc[-1, "jaccard"] == 1.0 and np.isnan(g.loc[0, "ratio"]) and np.isnan(g.loc[0, "jaccard"])


def test_label_contrasts_read_each_run_against_its_matched_random_update_and_the_seed_spread():
    import numpy as np
    import pandas as pd

    from rlmeta_interp.analysis.params import label_contrasts

    def row(pair, label, base, bf16, atol_share=0.0, rank=1.0, update="RL"):
        return {"pair": pair, "update": update, "label": label, "base": base, "frac_updated_bf16": bf16,
                "frac_within_atol_fp32": atol_share, "mean_rank_frac": rank}

    def ctrl(pair, bf16):
        return row(pair, None, "", bf16, update="random update, same norm")

    rows = [row("c0", "creation", "b0", 0.40, 0.02), ctrl("c0", 0.50), row("c1", "creation", "b0", 0.44, 0.01),
            ctrl("c1", 0.50), row("a0", "activation", "b5", 0.20, 0.10, 0.9), ctrl("a0", 0.30),
            row("n8", "no_signal", "b8", 0.30), ctrl("n8", 0.31), row("c8", "creation", "b8", 0.33), ctrl("c8", 0.40),
            row("u", None, "bx", 0.5), ctrl("u", 0.5)]
    lines = label_contrasts(pd.DataFrame(rows))
    assert lines[0].startswith(
        "RL updates by the label fixed before RL: activation (1 pair, 1 base): fp32 beyond atol 90.0%, bf16 view"
        " 20.0% (minus its matched random update's: -10.0%), mean rank / min(shape) 0.90; creation (3 pairs, 2 bases):"
        " fp32 beyond atol 98.0% to 100.0%, bf16 view 33.0% to 44.0% (minus its matched random update's: -10.0% to"
        " -6.0%)")
    assert "no_signal (1 pair, 1 base)" in lines[0] and "at most 2 bases per label" in lines[0]
    # the control's excess (-1%) beside its twin's (-7%): a 6-point gap, beyond the 4 points between c0 and c1
    assert lines[1] == ("The same-budget random-reward control n8: bf16 share minus its matched random update's -1.0%,"
                        " against -7.0% for c8 (creation) from the same base (gap 6.0%); RL seeds from one base lie up"
                        " to 4.0% apart here (1 base), so this gap is beyond that spread. One control run cannot show"
                        " whether the reward itself sets how much of the model RL updates.")
    assert len(lines) == 2  # unlabelled pairs and the matched random updates are not runs of their own
    # without two RL seeds of one base there is no yardstick, and the sentence says so
    alone = label_contrasts(pd.DataFrame([r for r in rows if r["pair"] != "c1"]))[1]
    assert "no base here has two RL seeds to compare it with" in alone
    # a missing statistic leaves its run out, by name, instead of printing nan
    hole = [dict(r, frac_updated_bf16=np.nan) if r["pair"] == "a0" and r["update"] == "RL" else r for r in rows]
    lines = label_contrasts(pd.DataFrame(hole))
    assert "activation" not in lines[0] and "nan" not in " ".join(lines) and lines[1] == "Left out (a statistic" \
        " missing): a0."
    assert label_contrasts(pd.DataFrame([row("u", "", "bx", 0.5)])) == []
    # a range that vanishes at the printed precision prints once, and a zero keeps no minus sign
    near = [row("c0", "creation", "b0", 0.9991), ctrl("c0", 0.9992), row("c1", "creation", "b0", 0.9994),
            ctrl("c1", 0.9995)]
    assert "bf16 view 99.9% (minus its matched random update's: +0.0%)" in label_contrasts(pd.DataFrame(near))[0]
    # an unsigned statistic rounding to zero from either side prints once, unsigned
    tiny = [dict(r, frac_updated_bf16=v) for r, v in zip(near[::2], (-0.0001, 0.0001), strict=True)] + near[1::2]
    assert "bf16 view 0.0% (minus" in label_contrasts(pd.DataFrame(tiny))[0]
    with pytest.raises(InvalidConfigError, match=r"lacks columns \['base', 'label'\]"):
        label_contrasts(pd.DataFrame(rows).drop(columns=["base", "label"]))


def test_sparsity_verdict_at_and_beside_its_thresholds():
    import pandas as pd

    from rlmeta_interp.errors import EmptyInputError

    def rows(fp32_updated, bf16_updated, ctrl_bf16_updated):
        return pd.DataFrame([{"pair": f"p{i}", "update": "RL", "frac_unchanged_fp32": 1 - a, "frac_unchanged_bf16": 1 - b}
                             for i, (a, b) in enumerate(zip(fp32_updated, bf16_updated, strict=True))]
                            + [{"pair": f"p{i}", "update": "random", "frac_unchanged_fp32": 0.0,
                                "frac_unchanged_bf16": 1 - c} for i, c in enumerate(ctrl_bf16_updated)])

    v = sparsity_verdict(rows([0.9, 0.31], [0.2, 0.5], [0.22, 0.5]))
    assert v == {"fp32_dense": True, "bf16_in_band": True, "bf16_like_control": True}
    v = sparsity_verdict(rows([0.9, 0.25], [0.04, 0.31], [0.2, 0.31]))  # one model at 25%: not dense everywhere
    assert v == {"fp32_dense": False, "bf16_in_band": False, "bf16_like_control": False}
    assert "not reproduced in full precision" in sparsity_verdict_text({**v, "fp32_dense": True})
    assert "does not bring the updated fraction into the 5-30% band" in sparsity_verdict_text(v)
    with pytest.raises(EmptyInputError):
        sparsity_verdict(rows([0.9], [0.2], [])[lambda d: d["update"] == "RL"])
    with pytest.raises(InvalidConfigError, match="lacks column 'update'"):
        sparsity_verdict(rows([0.9], [0.2], [0.2]).drop(columns=["update"]))
