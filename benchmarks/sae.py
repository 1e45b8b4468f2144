"""Benchmark: SAE training throughput through SAELens, and the memory cost of caching every hook (run by hand).

    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 WANDB_MODE=disabled \
        nice -n 5 .venv/bin/python benchmarks/sae.py [--threads 1] [--repeats 3] [--json]

1. Training samples (tokens) per second of :func:`rlmeta_interp.analysis.saes.train_sae` (SAELens ``SAETrainer``
   on a TopK SAE fed from a cached ``[n, d_in]`` tensor) at d_in=128 (d_sae 512, k 16) and d_in=640 (d_sae 2560,
   k 32), beside the hand-written BatchTopK crosscoder at the same width (two models, so twice the input), each as
   a share of the training limit ``peak_fp32_matmul_flops / (12 * d_in * d_sae * n_models)`` (encoder and dense
   decoder matmuls, forward plus backward), with the fp32 matmul peak measured in the same run.
2. Peak resident memory of harvesting activations from a small HookedTransformer (d_model 256, 4 layers, batch
   16 x 256 tokens): ``run_with_cache`` of every hook vs of one hook (``names_filter``), each in a fresh child
   process, as the peak increase of resident memory during the forward (RSS sampled every millisecond).
   On a GPU machine, CUDA peak allocated memory is reported instead.

Prints medians and ratios measured in one run: the machine is shared, so absolute numbers vary across runs.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import os
import subprocess
import sys
import threading
import time

import torch

from rlmeta_interp.benchtools import machine_line, matmul_peak_flops

SAE_SHAPES = {"d_in=128": (128, 512, 16), "d_in=640": (640, 2560, 32)}
HARVEST = {"d_model": 256, "n_layers": 4, "batch": 16, "pos": 256}


def sae_rate(d_in: int, d_sae: int, k: int, samples: int, seed: int) -> float:
    from rlmeta_interp.analysis.saes import SaeTrainConfig, train_sae

    acts = torch.randn(20_000, d_in, generator=torch.Generator().manual_seed(seed))
    cfg = SaeTrainConfig(d_sae=d_sae, k=k, lr=1e-3, training_samples=samples, batch_size=1024, seed=seed)
    t0 = time.perf_counter()
    train_sae(acts, cfg)
    return samples / (time.perf_counter() - t0)


def crosscoder_rate(d_in: int, d_sae: int, k: int, samples: int, seed: int) -> float:
    from rlmeta_interp.analysis.crosscoder import CrosscoderConfig, train_crosscoder

    g = torch.Generator().manual_seed(seed)
    a, b = torch.randn(20_000, d_in, generator=g), torch.randn(20_000, d_in, generator=g)
    cfg = CrosscoderConfig(d_in=d_in, d_sae=d_sae, k=k, steps=max(1, samples // 1024), batch_size=1024, seed=seed)
    t0 = time.perf_counter()
    train_crosscoder(a, b, cfg)
    return cfg.steps * cfg.batch_size / (time.perf_counter() - t0)


def _rss_bytes() -> int:
    """Current resident set size (Linux /proc; elsewhere the high-water mark, which only rises)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class _RssPeak:
    """Samples RSS every millisecond in a thread: a peak *during* a block, not since the process started."""

    def __enter__(self) -> _RssPeak:
        self.before = self.peak = _rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_bytes())
            time.sleep(0.001)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_bytes())


def _child(mode: str) -> None:
    """Run one harvest in this (fresh) process and print its peak memory increase in bytes."""
    from transformer_lens import HookedTransformer, HookedTransformerConfig

    from rlmeta_interp.hooks import hook_name

    dev = "cuda" if torch.cuda.is_available() else "cpu"
    h = HARVEST
    cfg = HookedTransformerConfig(n_layers=h["n_layers"], d_model=h["d_model"], n_ctx=h["pos"], d_head=32,
                                  n_heads=h["d_model"] // 32, d_mlp=4 * h["d_model"], d_vocab=512, act_fn="gelu",
                                  normalization_type="LN", seed=0, device=dev)
    model = HookedTransformer(cfg).eval()
    tokens = torch.randint(0, 512, (h["batch"], h["pos"]), generator=torch.Generator().manual_seed(0)).to(dev)
    names = None if mode == "full" else hook_name(h["n_layers"] // 2)
    with torch.no_grad():
        model(tokens[:1, :8])  # warm-up allocations outside the measurement
        if dev == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            before = torch.cuda.memory_allocated()
            _, cache = model.run_with_cache(tokens, names_filter=names)
            torch.cuda.synchronize()
            peak = torch.cuda.max_memory_allocated() - before
        else:
            with _RssPeak() as rss:
                _, cache = model.run_with_cache(tokens, names_filter=names)
            peak = rss.peak - rss.before
    print(json.dumps({"peak_bytes": peak, "n_hooks": len(cache), "device": dev}))


def harvest_peak(mode: str, threads: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", mode, "--threads", str(threads)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (default 1: with 2 threads a competing process slows torch by 10x or more)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--samples", type=int, default=100_000, help="training samples per timed SAE run")
    ap.add_argument("--json", action="store_true", help="print one JSON line instead of a table")
    ap.add_argument("--child", choices=["full", "one"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.child:
        _child(args.child)
        return
    import logging

    logging.getLogger("sae_lens").setLevel(logging.WARNING)
    result: dict = {"threads": torch.get_num_threads(), "repeats": args.repeats, "machine": machine_line()}
    sae_rate(128, 512, 16, 4096, seed=99)  # warm-up (imports, allocator)
    for name, (d_in, d_sae, k) in SAE_SHAPES.items():
        sae_r, cc_r, peaks = [], [], []
        for r in range(args.repeats):
            peaks.append(matmul_peak_flops())
            sae_r.append(sae_rate(d_in, d_sae, k, args.samples, seed=r))
            cc_r.append(crosscoder_rate(d_in, d_sae, k, args.samples // 2, seed=r))
        sae, cc, peak = (statistics.median(x) for x in (sae_r, cc_r, peaks))
        result[name] = {
            "d_sae": d_sae, "k": k, "sae_samples_per_s": sae, "crosscoder_samples_per_s": cc,
            "matmul_peak_gflops": peak / 1e9,
            "sae_share_of_limit": sae * 12 * d_in * d_sae / peak,
            "crosscoder_share_of_limit": cc * 12 * d_in * d_sae * 2 / peak,
        }
    full, one = harvest_peak("full", args.threads), harvest_peak("one", args.threads)
    result["harvest"] = {**HARVEST, "device": full["device"], "full_cache_bytes": full["peak_bytes"],
                         "full_cache_hooks": full["n_hooks"], "one_hook_bytes": one["peak_bytes"],
                         "ratio_full_over_one": full["peak_bytes"] / max(one["peak_bytes"], 1)}
    if args.json:
        print(json.dumps(result))
        return
    print(result["machine"])
    for name in SAE_SHAPES:
        r = result[name]
        print(f"SAE {name}, d_sae {r['d_sae']}, k {r['k']}: SAELens TopK {r['sae_samples_per_s']:9.0f} samples/s"
              f" ({r['sae_share_of_limit']:.1%} of the matmul limit); crosscoder (2 models)"
              f" {r['crosscoder_samples_per_s']:9.0f} samples/s ({r['crosscoder_share_of_limit']:.1%});"
              f" peak {r['matmul_peak_gflops']:.0f} GFLOP/s")
    h = result["harvest"]
    print(f"harvest, d_model {h['d_model']}, {h['n_layers']} layers, batch {h['batch']} x {h['pos']} on {h['device']}:"
          f" run_with_cache all {h['full_cache_hooks']} hooks {h['full_cache_bytes'] / 2**20:.1f} MiB vs one hook"
          f" {h['one_hook_bytes'] / 2**20:.1f} MiB -> ratio {h['ratio_full_over_one']:.1f}x")


if __name__ == "__main__":
    main()
