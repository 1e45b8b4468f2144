"""GPU check of the library's own path: a shipped organism pair, run through the public API on CUDA and on CPU.

Run by hand on a CUDA machine (it needs the shipped zoo, or the pair built into the user zoo)::

    python benchmarks/gpu_library.py                      # demo-arith-d050 pair, CUDA against this machine's CPU
    python benchmarks/gpu_library.py --device cpu --tiny  # smoke check of every step in seconds (no GPU needed)

For each device, with the same seeds: ``load_pair`` (``LoadConfig(device=...)``); ``harvest`` of every layer at every
position; ``run_passk`` (batched, KV-cached sampling of ``--samples`` completions per problem from base and RL);
a scratchpad-minus-direct steering vector fitted in the base and its effect on greedy accuracy and scratchpad
share against an equal-norm random vector (``steering_effect``); ``train_sae`` on the harvested activations.
Prints and writes (JSON) the timings, the CUDA/CPU speed ratios, and the agreement between devices: the largest
relative activation difference, the pass@1 estimates with 95% CIs on both devices (samples differ by device, so
they must agree statistically, not exactly), and the share of identical greedy steered completions.

``--hub``: also the path users take with real model pairs, at real shapes with random weights (no download): a
Qwen2.5-0.5B- and a Llama-3.2-1B-shaped base, and an "RL" twin (base plus noise), saved as local Hugging Face folders
in bf16 and loaded with ``load_pair((base, rl), LoadConfig(device, dtype="bfloat16"))``; ``harvest`` through the HF
fast path against TransformerLens, batched sampling, and steered TransformerLens generation.
"""

from __future__ import annotations

import argparse
import logging
import platform
import sys
import time
from pathlib import Path

import torch

from rlmeta_interp.benchtools import LLAMA_SHAPES, QWEN_SHAPES
from rlmeta_interp.benchtools import sync as _sync


def run_device(device: str, args) -> tuple[dict, dict]:
    from rlmeta_interp import LoadConfig, harvest, hook_name, load_pair
    from rlmeta_interp.analysis import contrast as con
    from rlmeta_interp.analysis.recovery import max_new_tokens
    from rlmeta_interp.analysis.saes import SaeTrainConfig, reconstruction_quality, train_sae
    from rlmeta_interp.experiments import quickstart as qs
    from rlmeta_interp.organism.trained_world import world_for

    out: dict = {"device": device}
    keep: dict = {}
    t0 = time.perf_counter()
    pair = load_pair(args.pair, LoadConfig(device=device))
    _sync(device)
    out["load_pair_s"] = time.perf_counter() - t0
    world = world_for(pair)
    n_new = max_new_tokens(world)

    contrast = con.contrast_set(world, args.contrast, seed=11)
    hooks = [hook_name(layer) for layer in range(pair.n_layers)]
    harvest(pair.base, contrast.texts[:4], hooks, positions="all", cache=False)  # warm-up
    _sync(device)
    t0 = time.perf_counter()
    acts = harvest(pair.base, contrast.texts, hooks, positions="all", cache=False, batch_size=args.batch)
    _sync(device)
    out["harvest_s"] = time.perf_counter() - t0
    out["harvest_tokens"] = int(acts.mask.sum())
    keep["acts"] = {h: acts[h].float().cpu() for h in hooks}

    problems = world.sample(args.problems, seed=12)
    from rlmeta_interp.analysis.passk import run_passk

    t0 = time.perf_counter()
    res = run_passk(pair, problems, world, n=args.samples, ks=[1, args.samples], max_new_tokens=n_new, seed=0,
                    max_batch=args.max_batch)
    _sync(device)
    out["passk_s"] = time.perf_counter() - t0
    out["passk_sequences"] = 2 * args.problems * args.samples
    curve = res.curve.set_index(["model", "k"])
    out["pass@1"] = {m: [float(curve.loc[(m, 1), c]) for c in ("pass@k", "ci_lo", "ci_hi")] for m in ("base", "rl")}
    out[f"pass@{args.samples}"] = {m: float(curve.loc[(m, args.samples), "pass@k"]) for m in ("base", "rl")}

    means = con.completion_means(pair.base, contrast.prompts, contrast.completions, range(pair.n_layers), cache=False)
    vector = con.contrast_vector(means, contrast.labels)
    prompts = [p.prompt for p in problems[: args.steer_prompts]]
    score = lambda i, text: world.reward(problems[i], text)  # noqa: E731
    t0 = time.perf_counter()
    share = qs.scratchpad_share(world)
    effect = qs.steering_effect(pair.base, prompts, score, lambda i, text: share(text), vector, multipliers=(1.0,),
                                n_random=1, seed=0, max_new_tokens=n_new, n_boot=200)
    _sync(device)
    out["steering_s"] = time.perf_counter() - t0
    tab = effect.table
    out["steering"] = {
        f"{r.condition}/{r.metric}": [float(r.value), float(r.ci_lo), float(r.ci_hi)] for r in tab.itertuples()
    }
    keep["steered"] = {k: list(v) for k, v in effect.completions.items()}

    layer = hooks[pair.n_layers // 2]
    rows = acts[layer][acts.mask.bool()].float()
    cfg = SaeTrainConfig(d_sae=8 * rows.shape[1], k=16, lr=1e-3, training_samples=args.sae_samples, batch_size=1024)
    t0 = time.perf_counter()
    sae = train_sae(rows, cfg, device=device)
    _sync(device)
    out["sae_s"] = time.perf_counter() - t0
    out["sae_samples_per_s"] = args.sae_samples / out["sae_s"]
    out["sae_fvu"] = float(reconstruction_quality(sae, {"base": rows}, n_boot=50).set_index("model").loc["base", "fvu"])
    return out, keep


# published layer shapes; the vocabulary is the project's character tokenizer (random weights need no real one), so
# embedding and unembedding are small
HUB_SHAPES = {"qwen2.5-0.5b": ("qwen2", QWEN_SHAPES["qwen2.5-0.5b"]), "llama-3.2-1b": ("llama", LLAMA_SHAPES["llama-3.2-1b"])}
TINY_HUB = {"tiny-qwen2": ("qwen2", dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                         num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True))}


def save_hub_pair(root: Path, arch: str, shape: dict, noise: float = 1e-3) -> tuple[Path, Path]:
    """A random-weight base of ``arch`` with ``shape`` and its noisy twin, as bf16 Hugging Face folders under
    ``root`` (folder names avoid the words TransformerLens sniffs)."""
    from safetensors.torch import load_file, save_file
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    from rlmeta_interp.organism.tokenizer import build_tokenizer

    tok = build_tokenizer()
    cfg_cls, model_cls = {"qwen2": (Qwen2Config, Qwen2ForCausalLM), "llama": (LlamaConfig, LlamaForCausalLM)}[arch]
    torch.manual_seed(0)
    cfg = cfg_cls(vocab_size=len(tok), max_position_embeddings=512, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, **shape)
    model = model_cls(cfg).to(torch.bfloat16).eval()
    base, rl = root / "base", root / "twin"
    for folder in (base, rl):
        model.save_pretrained(folder)
        tok.save_pretrained(folder)
    g = torch.Generator().manual_seed(1)
    weights = rl / "model.safetensors"
    sd = {k: (v.float() + noise * torch.randn(v.shape, generator=g)).to(v.dtype) for k, v in load_file(weights).items()}
    save_file(sd, str(weights), metadata={"format": "pt"})
    return base, rl


def run_hub(name: str, arch: str, shape: dict, device: str, args) -> dict:
    import tempfile

    from rlmeta_interp import LoadConfig, SteeringVector, harvest, hook_name, load_pair
    from rlmeta_interp.sampling import sample_completions

    out: dict = {"shape": name, "arch": arch, "device": device, "dtype": "bfloat16"}
    with tempfile.TemporaryDirectory(prefix="hubpair-") as tmp:
        base_dir, rl_dir = save_hub_pair(Path(tmp), arch, shape)
        t0 = time.perf_counter()
        pair = load_pair((base_dir, rl_dir), LoadConfig(device=device, dtype="bfloat16"))
        _sync(device)
        out["load_pair_s"] = time.perf_counter() - t0
        out["n_params"] = sum(p.numel() for p in pair.base.hf.parameters())
        layer = pair.n_layers // 2
        hook = hook_name(layer)
        prompts = [f"{i % 9 + 1}+{(7 * i) % 10}-{i % 5}=" for i in range(args.hub_prompts)]
        acts = {}
        for backend in ("hf", "tl"):
            harvest(pair.base, prompts[:2], [hook], cache=False, backend=backend)  # warm-up
            _sync(device)
            t0 = time.perf_counter()
            acts[backend] = harvest(pair.base, prompts, [hook], cache=False, backend=backend, batch_size=64)[hook].float()
            _sync(device)
            out[f"harvest_{backend}_s"] = time.perf_counter() - t0
        out["harvest_tl_vs_hf_max_rel_diff"] = float((acts["tl"] - acts["hf"]).abs().max() / acts["hf"].abs().max())
        t0 = time.perf_counter()
        comps = sample_completions(pair.rl.hf, pair.rl.tokenizer, prompts, n=args.hub_samples, max_new_tokens=32, seed=0)
        _sync(device)
        out["sample_s"] = time.perf_counter() - t0
        out["sample_sequences"] = len(prompts) * args.hub_samples
        out["sample_nonempty_share"] = sum(bool(c) for row in comps for c in row) / out["sample_sequences"]
        rl_acts = harvest(pair.rl, prompts, [hook], cache=False)[hook].float()
        # the RL-minus-base mean difference, rescaled to hub_multiplier x the mean residual norm (a twin made by
        # small noise differs little, and the check is that steering acts, not how strongly this twin differs)
        diff = SteeringVector.from_means({layer: rl_acts}, {layer: acts["hf"]})
        vec = diff.normalized() * (args.hub_multiplier * float(acts["hf"].norm(dim=-1).mean()))
        tokens = pair.base.tl.to_tokens(prompts[:8])
        gen = dict(max_new_tokens=16, do_sample=False, verbose=False, stop_at_eos=False)
        plain = pair.base.tl.generate(tokens, **gen)
        t0 = time.perf_counter()
        with vec.apply(pair.base, multiplier=args.hub_multiplier) as tl:
            steered = tl.generate(tokens, **gen)
        _sync(device)
        out["steered_generate_s"] = time.perf_counter() - t0
        out["steered_tokens_changed_share"] = float((steered != plain).float()[:, tokens.shape[1]:].mean())
        out["steering_norm"] = vec.norms()[layer]
    return out


def compare(runs: list[dict], kept: list[dict]) -> dict:
    """Agreement and speed ratios of two runs (first: the device under test, second: the CPU reference)."""
    gpu, cpu = runs
    diffs = [float((kept[0]["acts"][h] - kept[1]["acts"][h]).abs().max() / kept[1]["acts"][h].abs().max().clamp_min(1e-12))
             for h in kept[1]["acts"]]
    same = [a == b for key in kept[1]["steered"] for a, b in zip(kept[0]["steered"][key], kept[1]["steered"][key], strict=True)]
    overlap = {m: gpu["pass@1"][m][1] <= cpu["pass@1"][m][2] and cpu["pass@1"][m][1] <= gpu["pass@1"][m][2]
               for m in ("base", "rl")}
    return {
        "agreement": {"harvest_max_rel_diff": max(diffs), "steered_greedy_identical_share": sum(same) / max(1, len(same)),
                      "pass@1_ci_overlap": overlap},
        "speedup_cpu_over_gpu": {k: cpu[k] / gpu[k] for k in ("harvest_s", "passk_s", "steering_s", "sae_s")},
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--pair", default="demo-arith-d050-rl-correct")
    p.add_argument("--tiny", action="store_true", help="small sizes: a smoke check of every step")
    p.add_argument("--contrast", type=int, default=256, help="contrast problems (2 texts each) for harvest/steering")
    p.add_argument("--problems", type=int, default=128)
    p.add_argument("--samples", type=int, default=64)
    p.add_argument("--max-batch", type=int, default=4096, help="sequences decoded together by run_passk")
    p.add_argument("--batch", type=int, default=256, help="harvest batch size")
    p.add_argument("--steer-prompts", type=int, default=128)
    p.add_argument("--sae-samples", type=int, default=2_000_000)
    p.add_argument("--no-cpu", action="store_true", help="skip the CPU comparison run")
    p.add_argument("--hub", action="store_true", help="also the real-shape hub-architecture pairs (bf16 on --device)")
    p.add_argument("--hub-prompts", type=int, default=256)
    p.add_argument("--hub-samples", type=int, default=16)
    p.add_argument("--hub-multiplier", type=float, default=1.0, help="steering norm / mean residual norm")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("benchmarks/gpu_library.py: no CUDA device is visible here; smoke-check with `--device cpu --tiny`.",
              file=sys.stderr)
        return 2
    if args.tiny:
        args.contrast, args.problems, args.samples, args.steer_prompts = 8, 4, 4, 4
        args.sae_samples, args.max_batch, args.batch = 4096, 64, 16
        args.hub_prompts, args.hub_samples = 8, 2
    devices = [args.device] + ([] if args.no_cpu or args.device == "cpu" else ["cpu"])
    report: dict = {"host": platform.node(), "cpu_threads": torch.get_num_threads(), "pair": args.pair,
                    "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None, "runs": []}
    kept = []
    for dev in devices:
        t0 = time.perf_counter()
        res, keep = run_device(dev, args)
        res["total_s"] = time.perf_counter() - t0
        report["runs"].append(res)
        kept.append(keep)
        print(f"[{dev}] " + ", ".join(f"{k} {v:.3g}" for k, v in res.items() if isinstance(v, float)), flush=True)
        print(f"[{dev}] pass@1 {res['pass@1']}  steering {res['steering']}", flush=True)
    if args.hub:
        report["hub"] = [run_hub(name, arch, shape, args.device, args)
                         for name, (arch, shape) in (TINY_HUB if args.tiny else HUB_SHAPES).items()]
        for res in report["hub"]:
            print(f"[hub {res['shape']}] " + ", ".join(f"{k} {v:.3g}" for k, v in res.items() if isinstance(v, float)),
                  flush=True)
    if len(kept) == 2:
        report.update(compare(report["runs"], kept))
        print("agreement", report["agreement"])
        print("CPU time / GPU time", {k: round(v, 2) for k, v in report["speedup_cpu_over_gpu"].items()})
    from rlmeta_interp.io import write_json_atomic
    from rlmeta_interp.paths import results_dir

    out_path = args.out or results_dir() / "benchmarks" / f"gpu_library_{args.device.split(':')[0]}.json"
    write_json_atomic(out_path, report)
    print(f"wrote {out_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
