"""Tests of analysis.hybrid (hybrid decoding and behaviour categories) on a tiny TransformerLens model whose "RL"
twin is the base model plus a known shift (see shifted_twin.py)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from sklearn.metrics import adjusted_rand_score
from transformer_lens import HookedTransformer

from rlmeta_interp.analysis.hybrid import (
    CategoryConfig,
    HybridConfig,
    category_vectors,
    fit_categories,
    hybrid_decode,
    hybrid_gap_recovery,
)
from rlmeta_interp.errors import InvalidConfigError
from rlmeta_interp.hooks import hook_name
from rlmeta_interp.organism.tokenizer import build_tokenizer
from rlmeta_interp.steering import SteeringVector

from .shifted_twin import LAYER, NEW, PROMPTS, greedy, match, shifted_twin


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    return shifted_twin(tmp_path_factory.mktemp("tok"))


def _steer_generated_reference(tl: HookedTransformer, vec: SteeringVector, mult: float = 1.0) -> list[str]:
    """Independent reference for firing="always": greedy decoding with v added at the last prompt position and
    every generated position (what a KV-cached run steering each newly decoded token computes)."""
    outs = []
    for p in PROMPTS:
        toks = tl.to_tokens(p)
        start = toks.shape[1] - 1

        def add(act, hook, start=start):
            act = act.clone()
            act[:, start:, :] += mult * vec.vectors[LAYER]
            return act

        for _ in range(NEW):
            with torch.no_grad():
                logits = tl.run_with_hooks(toks, fwd_hooks=[(hook_name(LAYER), add)])
            toks = torch.cat([toks, logits[:, -1].argmax(-1, keepdim=True)], 1)
        outs.append(tl.tokenizer.decode(toks[0, start + 1:], skip_special_tokens=True))
    return outs


def test_hybrid_always_and_never_match_references(pair):
    base, rl, vec = pair
    always = hybrid_decode(base, rl, PROMPTS, vec, config=HybridConfig(max_new_tokens=NEW, firing="always",
                                                                       multiplier=1.5, stop_at_eos=False))
    never = hybrid_decode(base, rl, PROMPTS, vec, config=HybridConfig(max_new_tokens=NEW, firing="never", stop_at_eos=False))
    assert always.completions == _steer_generated_reference(base, vec, 1.5)
    assert always.completions != never.completions
    assert never.completions == greedy(base)
    assert always.frac_steered == 1.0 and never.frac_steered == 0.0


def test_hybrid_disagreement_firing(pair):
    base, rl, vec = pair
    res = hybrid_decode(base, rl, PROMPTS, vec, config=HybridConfig(max_new_tokens=NEW, stop_at_eos=False))
    assert 0.0 < res.frac_steered <= 1.0
    assert res.steered == res.disagreed  # disagreement firing steers exactly where the models disagreed
    target = greedy(rl)
    hyb = np.mean([match(c, t) for c, t in zip(res.completions, target, strict=True)])
    bas = np.mean([match(c, t) for c, t in zip(greedy(base), target, strict=True)])
    assert hyb > bas
    same = hybrid_decode(base, base, PROMPTS, vec, config=HybridConfig(max_new_tokens=NEW, stop_at_eos=False))
    assert same.frac_steered == 0.0 and same.completions == greedy(base)


def test_hybrid_gap_recovery_table(pair):
    base, rl, vec = pair
    target = greedy(rl)
    cfg = HybridConfig(max_new_tokens=NEW, stop_at_eos=False)
    df, runs = hybrid_gap_recovery(base, rl, PROMPTS, lambda i, c: match(c, target[i]), vec,
                                   bias=vec * 0.1, config=cfg, n_random=2, n_boot=200)
    assert set(df.condition) == {"base", "rl", "hybrid", "random_firing", "random_vectors", "bias_only"}
    rl_row = df[df.condition == "rl"].iloc[0]
    hyb = df[df.condition == "hybrid"].iloc[0]
    assert rl_row["gap_recovered"] == pytest.approx(1.0) and hyb["gap_recovered"] > 0.5
    assert rl_row["accuracy"] == 1.0 and rl_row["acc_ci_lo"] < 1.0 == rl_row["acc_ci_hi"]  # Wilson: width at 1
    assert hyb["gap_recovered"] > df[df.condition == "random_vectors"]["gap_recovered"].mean()
    rate, fired = runs["hybrid"].frac_steered, runs["random_firing:0"]
    assert abs(fired.frac_steered - rate) <= 4 * np.sqrt(rate * (1 - rate) / fired.n_tokens) + 1e-9
    assert runs["base"].frac_steered == 0.0 and df[df.condition == "base"]["gap_recovered"].item() == 0.0


def test_categories_recover_clusters_and_vectors():
    g = torch.Generator().manual_seed(0)
    centers = torch.eye(8)[:3] * 5
    labels = torch.arange(300) % 3
    acts = centers[labels] + 0.3 * torch.randn(300, 8, generator=g)
    km = fit_categories(acts, CategoryConfig(n_categories=3, method="kmeans"))
    for kw in ({"training_samples": -1}, {"dead_feature_window": -3}):
        with pytest.raises(InvalidConfigError, match=next(iter(kw))):
            CategoryConfig(**kw)
    assert adjusted_rand_score(labels.numpy(), km.predict(acts).numpy()) == pytest.approx(1.0)
    sae = fit_categories(acts, CategoryConfig(n_categories=3, method="sae"))
    assert adjusted_rand_score(labels.numpy(), sae.predict(acts).numpy()) > 0.9
    vecs = category_vectors(acts, labels, 4, layer=1)
    torch.testing.assert_close(vecs[2].vectors[1], acts[labels == 2].mean(0) - acts.mean(0))
    assert float(vecs[3].vectors[1].norm()) == 0.0  # an empty category steers nothing
    with pytest.raises(InvalidConfigError):
        fit_categories(acts[:2], CategoryConfig(n_categories=3))


def test_hybrid_with_categories_uses_classifier(pair):
    base, rl, vec = pair
    cats = {0: vec, 1: vec * 0.0}
    picks_zero = hybrid_decode(base, rl, PROMPTS, cats, lambda a: torch.zeros(a.shape[0], dtype=torch.long),
                               HybridConfig(max_new_tokens=NEW, firing="always", stop_at_eos=False))
    picks_one = hybrid_decode(base, rl, PROMPTS, cats, lambda a: torch.ones(a.shape[0], dtype=torch.long),
                              HybridConfig(max_new_tokens=NEW, firing="always", stop_at_eos=False))
    assert picks_zero.completions == _steer_generated_reference(base, vec)
    assert picks_one.completions == greedy(base)
    assert {c for row in picks_one.categories for c in row} == {1}
    with pytest.raises(InvalidConfigError, match="classifier"):
        hybrid_decode(base, rl, PROMPTS, cats, None, HybridConfig(max_new_tokens=2))


def test_hybrid_accepts_loaded_models_and_matches_hf_greedy(tmp_path):
    """On a LoadedModel, unsteered hybrid decoding (TransformerLens, no KV cache) equals HF greedy generate."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from rlmeta_interp.models import load_model
    from rlmeta_interp.sampling import sample_completions

    tok = build_tokenizer()
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=64,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    LlamaForCausalLM(cfg).save_pretrained(tmp_path / "m")
    tok.save_pretrained(tmp_path / "m")
    model = load_model(str(tmp_path / "m"))
    vec = SteeringVector({1: torch.randn(32)})
    res = hybrid_decode(model, model, PROMPTS, vec, config=HybridConfig(max_new_tokens=NEW, firing="never"))
    ref = sample_completions(model.hf, model.tokenizer, PROMPTS, n=1, max_new_tokens=NEW, greedy=True)
    assert res.completions == [row[0] for row in ref]
    assert sum(len(c) for c in res.completions) > len(PROMPTS)  # real text, not empty completions
    assert res.frac_steered == 0.0


@pytest.mark.parametrize("arch", ["llama", "gemma3"])  # HookedTransformer (TL cache) and TransformerBridge (HF cache)
def test_hybrid_kv_cache_gives_the_uncached_tokens(tiny_folders, tmp_path, arch):
    """Cached hybrid decoding (one token per model and step) picks exactly the uncached reference's tokens."""
    from rlmeta_interp.models import load_model

    from ..conftest import save_noisy_twin

    base = load_model(tiny_folders[arch])
    rl = load_model(save_noisy_twin(tiny_folders[arch], tmp_path / f"rl_{arch}_model", scale=0.01, seed=3))
    g = torch.Generator().manual_seed(5)
    vecs = {c: SteeringVector({1: 3.0 * torch.randn(32, generator=g)}) for c in range(2)}

    def classify(a):  # a real, activation-dependent choice between the two categories
        return (a.sum(-1) > 0).long()

    # 24 new tokens after the prompt run past gemma3's 16-token sliding window, so cache roll-back covers it too
    prompts = ["12+3=", "7-4+22=45", "9"]
    for firing, rate in (("disagree", 0.0), ("random", 0.4), ("always", 0.0)):
        cfg = HybridConfig(max_new_tokens=24, firing=firing, fire_rate=rate, multiplier=2.0, stop_at_eos=False, seed=1)
        cached = hybrid_decode(base, rl, prompts, vecs, classify, cfg)
        plain = hybrid_decode(base, rl, prompts, vecs, classify, cfg.replace(kv_cache=False))
        assert cached.tokens == plain.tokens and cached.completions == plain.completions, firing
        assert (cached.steered, cached.categories, cached.disagreed) == (plain.steered, plain.categories, plain.disagreed)
        if firing == "disagree":
            assert 0.0 < cached.frac_steered < 1.0  # steering fired mid-sequence and changed what followed
            assert {c for row in cached.categories for c in row if c >= 0} == {0, 1}


def test_hybrid_kv_cache_gives_the_uncached_tokens_with_a_left_padding_tokenizer(pair):
    """With left padding and no mask, a HookedTransformer masks leading pad-id tokens (and shifts positions past
    them); the cached and the uncached paths both attend to every token, so they still pick the same tokens."""
    base, rl = copy.deepcopy(pair[0]), copy.deepcopy(pair[1])
    for m in (base, rl):
        m.tokenizer.padding_side = "left"
        m.cfg.default_prepend_bos = False
    prompts = ["<pad>12+3=", "<pad><pad>7*8=", "99-1="]
    assert base.to_tokens(prompts[1])[0, :2].tolist() == [base.tokenizer.pad_token_id] * 2  # leading pad ids
    g = torch.Generator().manual_seed(7)
    vecs = {c: SteeringVector({LAYER: 3.0 * torch.randn(32, generator=g)}) for c in range(2)}
    for firing in ("disagree", "always", "never"):
        cfg = HybridConfig(max_new_tokens=NEW, firing=firing, multiplier=1.5, stop_at_eos=False)
        cached = hybrid_decode(base, rl, prompts, vecs, lambda a: (a.sum(-1) > 0).long(), cfg)
        plain = hybrid_decode(base, rl, prompts, vecs, lambda a: (a.sum(-1) > 0).long(), cfg.replace(kv_cache=False))
        assert cached.tokens == plain.tokens and cached.categories == plain.categories, firing
