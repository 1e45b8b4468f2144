"""Benchmark: organism pretraining throughput vs the matmul peak, and GRPO steps/s (run by hand).

    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 WANDB_MODE=disabled TRL_EXPERIMENTAL_SILENCE=1 \
        nice -n 5 .venv/bin/python benchmarks/organism.py [--threads 1] [--repeats 5] [--json]

Pretraining: the real training step of ``rlmeta_interp.organism.pretrain`` (fresh corpus batch, packing,
forward, backward, AdamW) on two shapes: the ~1.06M-parameter shape of the bandit pilot (d_model 128,
4 layers, MLP 512) and the zoo's default ``SMALL`` shape. Tokens/s counts real (non-padding) tokens.
Fraction of peak = ``6 * params * tokens/s`` over the fp32 matmul FLOP/s measured in the same run
(target >= 0.40 for the ~1M model). RL: steps/s of ``train_rl`` (TRL GRPOTrainer, 8 prompts x 8 completions)
on arithmetic and on bandit episodes (rollout_func). Medians of repeats; the machine is shared: compare
ratios from one run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from rlmeta_interp.benchtools import machine_line, matmul_peak_flops
from rlmeta_interp.organism.corpus import Corpus, CorpusConfig
from rlmeta_interp.organism.pretrain import ModelConfig, PretrainConfig, build_model, encode_documents, pretrain
from rlmeta_interp.organism.rl import RLConfig, train_rl
from rlmeta_interp.organism.tokenizer import build_tokenizer
from rlmeta_interp.organism.presets import ARITH, SMALL

REFERENCE = ModelConfig(d_model=128, n_layers=4, n_heads=4, d_mlp=512, max_len=128)


def pretrain_rate(model_cfg: ModelConfig, world: str, steps: int, batch: int) -> tuple[float, int]:
    tok = build_tokenizer()
    model = build_model(model_cfg, tok, seed=0)
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95), foreach=True)
    corpus = Corpus(CorpusConfig(world=world, dose=0.5))
    times, toks = [], []
    for step in range(steps + 2):
        t0 = time.perf_counter()
        ids, labels = encode_documents(corpus.batch(step, batch), tok, pack_len=model_cfg.max_len)
        loss = model(input_ids=ids, labels=labels).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step >= 2:  # warm-up steps excluded
            times.append(time.perf_counter() - t0)
            toks.append(int((labels != -100).sum()))
    return statistics.median(t / s for t, s in zip(toks, times, strict=True)), params


def rl_rate(world: str, steps: int) -> float:
    with tempfile.TemporaryDirectory() as d:
        base = Path(d) / "base"
        pc = PretrainConfig(corpus=CorpusConfig(world=world, dose=0.5, arithmetic=ARITH), model=SMALL, steps=1,
                            batch_size=8, checkpoint_every=0)
        pretrain(pc, base, progress=False)
        rc = RLConfig(world=world, arithmetic=ARITH, steps=steps, prompts_per_step=8, num_generations=8,
                      max_completion_length=40, save_every=0, reward="random")
        res = train_rl(base, rc, Path(d) / "rl", progress=False)
        step_times = [h["step_time"] for h in res.curve if "step_time" in h][1:]
        return 1.0 / statistics.median(step_times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=5, help="measured training steps per shape")
    ap.add_argument("--rl-steps", type=int, default=6)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    peak = matmul_peak_flops(1024)
    out: dict[str, float | str] = {"machine": machine_line(), "matmul_peak_gflops": peak / 1e9}
    for label, cfg in (("ref1M", REFERENCE), ("small", SMALL)):
        for world in ("bandits", "arithmetic"):
            rate, params = pretrain_rate(cfg, world, args.repeats, 128)
            out[f"pretrain_{label}_{world}_params"] = params
            out[f"pretrain_{label}_{world}_tokens_per_s"] = rate
            out[f"pretrain_{label}_{world}_fraction_of_peak"] = 6 * params * rate / peak
    peak_after = matmul_peak_flops(1024)
    out["matmul_peak_drift"] = peak_after / peak  # far from 1: the machine got busier or quieter mid-run
    for world in ("arithmetic", "bandits"):
        out[f"rl_{world}_steps_per_s"] = rl_rate(world, args.rl_steps)
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for k, v in out.items():
            print(f"{k:45s} {v:.4g}" if isinstance(v, float) else f"{k:45s} {v}")


if __name__ == "__main__":
    main()
