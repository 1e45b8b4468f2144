"""A tiny TransformerLens model whose "RL" twin is the base model plus a known shift (shared by the
steering-recovery and hybrid-decoding tests).

Adding ``v`` to ``blocks[L].mlp.b_out`` adds ``v`` to ``blocks.L.hook_resid_post`` at every position, so the RL twin
equals the base model steered by ``v`` at layer ``L``: the exact answer every steering measurement is checked against.
"""

from __future__ import annotations

import copy

import torch
from transformer_lens import HookedTransformer, HookedTransformerConfig
from transformers import AutoTokenizer

from rlmeta_interp.organism.tokenizer import build_tokenizer
from rlmeta_interp.steering import SteeringVector

LAYER = 0
PROMPTS = ["12+3=", "7*8=", "(4+4)", "99-1=", "ab", "x:"]
NEW = 6


def shifted_twin(folder) -> tuple[HookedTransformer, HookedTransformer, SteeringVector]:
    """``(base, rl, v)``: a random HookedTransformer and its twin whose layer-LAYER MLP bias is shifted by ``v``."""
    build_tokenizer().save_pretrained(str(folder))
    tok = AutoTokenizer.from_pretrained(str(folder))
    cfg = HookedTransformerConfig(n_layers=2, d_model=32, n_ctx=64, d_head=8, n_heads=4, d_mlp=64, d_vocab=len(tok),
                                  act_fn="gelu", normalization_type="LN", seed=1)
    base = HookedTransformer(cfg, tokenizer=tok).eval()
    g = torch.Generator().manual_seed(1234)  # not a seed SteeringVector.random_like uses below
    v = torch.randn(32, generator=g)
    v = v / v.norm() * 4.0
    rl = copy.deepcopy(base)
    with torch.no_grad():
        rl.blocks[LAYER].mlp.b_out += v
    return base, rl, SteeringVector({LAYER: v})


def greedy(tl: HookedTransformer) -> list[str]:
    outs = []
    for p in PROMPTS:
        toks = tl.to_tokens(p)
        seq = tl.generate(toks, max_new_tokens=NEW, do_sample=False, verbose=False, stop_at_eos=False)
        outs.append(tl.tokenizer.decode(seq[0, toks.shape[1]:], skip_special_tokens=True))
    return outs


def match(a: str, b: str) -> float:
    return sum(x == y for x, y in zip(a, b, strict=False)) / max(len(a), len(b), 1)
