"""Benchmark: batched KV-cached sampling vs a loop of single ``generate`` calls (run by hand).

    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 WANDB_MODE=disabled \
        nice -n 5 .venv/bin/python benchmarks/sampling.py [--threads 1] [--repeats 3] [--json]

Model: a randomly initialised ~1M-parameter LlamaForCausalLM (d_model 128, 4 layers, 4 heads, MLP 512,
the organism char tokenizer), i.e. organism-sized. Workload: 8 prompts x 64 samples x 32 new tokens
through :func:`rlmeta_interp.sampling.sample_completions` (one KV-cached ``generate`` per chunk), vs the
same sampling done one sample at a time (a loop of single ``generate`` calls on a subset of the samples;
tokens/s is a rate, so the subset is enough). EOS is suppressed so every sample has exactly 32 tokens.

Prints medians of ``--repeats`` runs: tokens/s of both paths, their ratio (target >= 20x), and the
batched path as a fraction of the forward-pass limit ``peak_fp32_matmul_flops / (2 * params)`` tokens/s,
where the fp32 matmul peak is measured in the same run. The machine is shared: compare ratios measured
in one run, not absolute numbers across runs.

Hybrid decoding (``analysis.hybrid.hybrid_decode``, TransformerLens, greedy, one sequence at a time): the same
model as base and a noisy copy of it as "RL" model, disagreement firing, ``--hybrid-tokens`` new tokens for each
of the 8 prompts, with the KV cache (default) and without (the whole sequence recomputed every step); prints
both rates and their ratio. ``--hybrid-tokens 0`` skips it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from rlmeta_interp.benchtools import machine_line, matmul_peak_flops
from rlmeta_interp.organism.tokenizer import build_tokenizer
from rlmeta_interp.sampling import encode_prompts, sample_completions

PROMPTS = ["12+7-3=", "45-17+8=", "3+4+5=", "99-1-2=", "7+70=", "31-13=", "5+5+5+5=", "60-6="]


def build_model(seed: int = 0) -> tuple[LlamaForCausalLM, object]:
    tok = build_tokenizer()
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=128, intermediate_size=512, num_hidden_layers=4,
                      num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=256,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    model = LlamaForCausalLM(cfg).eval()
    model.generation_config.suppress_tokens = [tok.eos_token_id]  # every sample runs the full length
    return model, tok


def time_batched(model, tok, n: int, new: int, seed: int) -> tuple[float, int]:
    t0 = time.perf_counter()
    out = sample_completions(model, tok, PROMPTS, n=n, max_new_tokens=new, seed=seed)
    dt = time.perf_counter() - t0
    tokens = sum(len(tok(c, add_special_tokens=False)["input_ids"]) for row in out for c in row)
    return dt, tokens


@torch.inference_mode()
def time_loop(model, tok, n_calls: int, new: int, seed: int) -> tuple[float, int]:
    ids, mask = encode_prompts(tok, PROMPTS)
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    tokens = 0
    for i in range(n_calls):
        p = i % len(PROMPTS)
        keep = mask[p].bool()
        row = ids[p][keep][None]
        seq = model.generate(input_ids=row, attention_mask=torch.ones_like(row), max_new_tokens=new, do_sample=True,
                             temperature=1.0, top_k=0, top_p=1.0, pad_token_id=tok.pad_token_id,
                             eos_token_id=tok.eos_token_id)
        tokens += seq.shape[1] - row.shape[1]
    return time.perf_counter() - t0, tokens


def build_hybrid_pair(tmp: Path) -> tuple[object, object]:
    """The benchmark model (base) and a copy with Gaussian noise on every weight (RL), as LoadedModels."""
    from rlmeta_interp.models import load_model

    model, tok = build_model()
    model.generation_config.suppress_tokens = None
    model.save_pretrained(tmp / "base")
    tok.save_pretrained(tmp / "base")
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.002 * torch.randn(p.shape, generator=g))  # random logits are flat: small noise already disagrees often
    model.save_pretrained(tmp / "rl")
    tok.save_pretrained(tmp / "rl")
    return load_model(str(tmp / "base")), load_model(str(tmp / "rl"))


def time_hybrid(base, rl, new: int, kv_cache: bool) -> tuple[float, int, float]:
    """Seconds, generated tokens and steered fraction of hybrid decoding of PROMPTS."""
    from rlmeta_interp.analysis.hybrid import HybridConfig, hybrid_decode
    from rlmeta_interp.steering import SteeringVector

    vec = SteeringVector({2: torch.randn(128, generator=torch.Generator().manual_seed(2))})
    cfg = HybridConfig(max_new_tokens=new, stop_at_eos=False, kv_cache=kv_cache)
    t0 = time.perf_counter()
    res = hybrid_decode(base, rl, PROMPTS, vec, config=cfg)
    return time.perf_counter() - t0, res.n_tokens, res.frac_steered


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (default 1: with 2 threads a competing process slows torch by 10x or more)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--loop-calls", type=int, default=24, help="single-generate calls timed per repeat")
    ap.add_argument("--hybrid-tokens", type=int, default=128, help="new tokens per prompt for hybrid decoding (0: skip)")
    ap.add_argument("--json", action="store_true", help="print one JSON line instead of a table")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model, tok = build_model()
    params = sum(p.numel() for p in model.parameters())
    time_batched(model, tok, 2, 4, seed=99)  # warm-up
    time_loop(model, tok, 2, 4, seed=99)
    b_rates, l_rates, peaks = [], [], []
    for r in range(args.repeats):
        peaks.append(matmul_peak_flops())
        dt, toks = time_batched(model, tok, args.samples, args.new_tokens, seed=r)
        b_rates.append(toks / dt)
        dt, toks = time_loop(model, tok, args.loop_calls, args.new_tokens, seed=r)
        l_rates.append(toks / dt)
    batched, loop, peak = (statistics.median(x) for x in (b_rates, l_rates, peaks))
    hybrid: dict[str, float] = {}
    if args.hybrid_tokens > 0:
        with tempfile.TemporaryDirectory() as tmp:
            base, rl = build_hybrid_pair(Path(tmp))
            time_hybrid(base, rl, 2, True)  # warm-up
            time_hybrid(base, rl, 2, False)
            rates = {True: [], False: []}
            for _ in range(args.repeats):
                for kv in (True, False):
                    dt, toks, frac = time_hybrid(base, rl, args.hybrid_tokens, kv)
                    rates[kv].append(toks / dt)
            hybrid = {"hybrid_cached_tokens_per_s": statistics.median(rates[True]),
                      "hybrid_uncached_tokens_per_s": statistics.median(rates[False]), "hybrid_frac_steered": frac}
            hybrid["hybrid_ratio"] = hybrid["hybrid_cached_tokens_per_s"] / hybrid["hybrid_uncached_tokens_per_s"]
    limit = peak / (2 * params)
    result = {
        "params": params, "threads": torch.get_num_threads(), "repeats": args.repeats,
        "workload": f"{len(PROMPTS)} prompts x {args.samples} samples x {args.new_tokens} tokens",
        "batched_tokens_per_s": batched, "loop_tokens_per_s": loop, "ratio": batched / loop,
        "matmul_peak_gflops": peak / 1e9, "forward_limit_tokens_per_s": limit, "fraction_of_limit": batched / limit,
        **hybrid,
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"{machine_line()}; model: random Llama, {params / 1e6:.2f}M params; {result['workload']}")
    print(f"batched sample_completions : {batched:10.0f} tokens/s (median of {args.repeats})")
    print(f"loop of single generate    : {loop:10.0f} tokens/s ({args.loop_calls} calls per repeat)")
    print(f"ratio batched / loop       : {batched / loop:10.1f}x   (target >= 20x)")
    print(f"fp32 matmul peak           : {peak / 1e9:10.1f} GFLOP/s -> forward limit {limit:,.0f} tokens/s")
    print(f"batched as share of limit  : {batched / limit:10.1%}")
    if hybrid:
        print(f"hybrid decode, KV cache    : {hybrid['hybrid_cached_tokens_per_s']:10.0f} tokens/s"
              f" ({len(PROMPTS)} prompts x {args.hybrid_tokens} tokens, {hybrid['hybrid_frac_steered']:.0%} steered)")
        print(f"hybrid decode, no cache    : {hybrid['hybrid_uncached_tokens_per_s']:10.0f} tokens/s")
        print(f"ratio cached / uncached    : {hybrid['hybrid_ratio']:10.1f}x")


if __name__ == "__main__":
    main()
