"""GPU benchmark: Hugging Face vs TransformerLens on random-weight models with the exact Qwen2.5 shapes.

Run by hand on a CUDA machine (no download: the configs are written out from the published shapes)::

    python benchmarks/gpu.py                        # Qwen2.5-0.5B and -1.5B shapes, bf16, batch 16 x 512
    python benchmarks/gpu.py --device cpu --tiny    # smoke check of every path in seconds

Measures, each as the median of ``--repeats`` timed runs after a warm-up:
HF forward tokens/s; harvesting one mid-layer with a torch forward hook (ratio to HF forward);
TransformerLens ``HookedTransformer`` forward and ``run_with_cache`` of one hook (ratios);
HF ``generate`` of 64 samples x 128 tokens from one prompt (and TransformerLens ``generate``, ratio);
one SAELens TopK SAE training step on the harvested activations. Prints ratios and the device and
writes JSON (default ``results/benchmarks/gpu_<device>.json``).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from rlmeta_interp.benchtools import QWEN_SHAPES, sync  # published Qwen2.5 shapes (vocab 151936 here)
from rlmeta_interp.provenance import package_versions

TINY_SHAPE = {"tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                           num_key_value_heads=2, tie_word_embeddings=True)}


def qwen2_config(shape: dict, vocab_size: int, max_positions: int):
    from transformers import Qwen2Config

    cfg = Qwen2Config(vocab_size=vocab_size, max_position_embeddings=max_positions, rms_norm_eps=1e-6,
                      rope_theta=1_000_000.0, hidden_act="silu", attention_dropout=0.0, use_sliding_window=False,
                      bos_token_id=vocab_size - 2, eos_token_id=vocab_size - 1, pad_token_id=vocab_size - 1, **shape)
    cfg.architectures = ["Qwen2ForCausalLM"]
    return cfg


def timed(fn: Callable[[], object], device: torch.device, repeats: int) -> float:
    """Median seconds of ``repeats`` calls after one warm-up call."""
    fn()
    sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def peak_memory(fn: Callable[[], object], device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats(device)
    fn()
    sync(device)
    return torch.cuda.max_memory_allocated(device) / 2**30


def build_hooked_transformer(hf_model, hf_cfg, dtype: torch.dtype, device: torch.device, n_ctx: int):
    """A HookedTransformer with the HF model's weights and no weight processing, via TL's own converters."""
    from transformer_lens import HookedTransformer
    from transformer_lens import loading_from_pretrained as loading

    # TL reads a local folder's config.json; the folder name must stay neutral (TL sniffs "llama"/"gemma")
    with tempfile.TemporaryDirectory(prefix="benchcfg-") as folder:
        hf_cfg.save_pretrained(folder)
        cfg = loading.get_pretrained_model_config(folder, dtype=dtype, device=str(device), n_ctx=n_ctx,
                                                  fold_ln=False)
        state = loading.get_pretrained_state_dict(folder, cfg, hf_model=hf_model, dtype=dtype)
    cfg.tokenizer_name = None  # random weights, token ids only: the temporary folder holds no tokenizer
    model = HookedTransformer(cfg, move_to_device=False)
    model.load_and_process_state_dict(state, fold_ln=False, center_writing_weights=False, center_unembed=False,
                                      fold_value_biases=False, refactor_factored_attn_matrices=False)
    return model.to(device).eval()


def bench_shape(name: str, shape: dict, args, device: torch.device, dtype: torch.dtype) -> dict:
    from transformers import Qwen2ForCausalLM

    from rlmeta_interp.hooks import hook_name

    vocab = 1000 if args.tiny else 151936
    cfg = qwen2_config(shape, vocab, max_positions=max(args.seq, args.gen_tokens + 16) * 2)
    torch.manual_seed(0)
    hf = Qwen2ForCausalLM(cfg).to(device=device, dtype=dtype).eval()
    n_params = sum(p.numel() for p in hf.parameters())
    layer = cfg.num_hidden_layers // 2
    tokens = torch.randint(0, vocab - 2, (args.batch, args.seq), device=device)
    n_tokens = tokens.numel()
    out: dict = {"shape": name, "n_params": n_params, "layer": layer, "batch": args.batch, "seq": args.seq}

    @torch.inference_mode()
    def hf_forward():
        return hf(tokens, use_cache=False).logits

    stored = {}

    def store(_module, _inputs, output):
        stored["x"] = (output[0] if isinstance(output, tuple) else output).detach()

    @torch.inference_mode()
    def hf_harvest():
        handle = hf.model.layers[layer].register_forward_hook(store)
        try:
            hf(tokens, use_cache=False)
        finally:
            handle.remove()
        return stored["x"]

    t_hf = timed(hf_forward, device, args.repeats)
    t_harvest = timed(hf_harvest, device, args.repeats)
    out["hf_forward_tokens_per_s"] = n_tokens / t_hf
    out["hf_forward_tflops_2n"] = 2 * n_params * n_tokens / t_hf / 1e12  # 2 x params x tokens/s (attention not counted)
    out["hf_forward_s"] = t_hf
    out["harvest_hook_ratio"] = t_harvest / t_hf
    out["hf_forward_peak_gib"] = peak_memory(hf_forward, device)

    tl = build_hooked_transformer(hf, cfg, dtype, device, n_ctx=cfg.max_position_embeddings)
    hook = hook_name(layer, "resid_post")

    @torch.inference_mode()
    def tl_forward():
        return tl(tokens)

    @torch.inference_mode()
    def tl_cache():
        return tl.run_with_cache(tokens, names_filter=hook)[1][hook]

    t_tl = timed(tl_forward, device, args.repeats)
    t_tl_cache = timed(tl_cache, device, args.repeats)
    out["tl_forward_ratio"] = t_tl / t_hf
    out["tl_run_with_cache_one_hook_ratio"] = t_tl_cache / t_hf
    out["tl_run_with_cache_peak_gib"] = peak_memory(tl_cache, device)
    with torch.inference_mode():
        harvested = hf_harvest().float()
        tl_acts = tl_cache().float()
    scale = harvested.abs().max().item()
    out["harvest_vs_tl_max_abs_diff_rel"] = (harvested - tl_acts).abs().max().item() / max(scale, 1e-12)

    # sampling: one prompt, 64 samples x 128 new tokens (forced length)
    prompt = tokens[:1, :16]

    @torch.inference_mode()
    def hf_generate():
        return hf.generate(prompt, attention_mask=torch.ones_like(prompt), do_sample=True, top_k=0, top_p=1.0,
                           temperature=1.0, num_return_sequences=args.gen_samples, max_new_tokens=args.gen_tokens,
                           min_new_tokens=args.gen_tokens, pad_token_id=cfg.pad_token_id)

    t_gen = timed(hf_generate, device, max(1, args.repeats // 2))
    out["hf_generate_tokens_per_s"] = args.gen_samples * args.gen_tokens / t_gen
    out["hf_generate_s"] = t_gen
    if not args.skip_tl_generate:
        @torch.inference_mode()
        def tl_generate():
            return tl.generate(prompt.repeat(args.gen_samples, 1), max_new_tokens=args.gen_tokens, do_sample=True,
                               temperature=1.0, stop_at_eos=False, verbose=False, return_type="tokens")

        out["tl_generate_ratio"] = timed(tl_generate, device, 1) / t_gen
    tl = None  # release the TransformerLens copy before the next measurement

    # one SAELens TopK SAE training step on the harvested activations
    from sae_lens.saes.sae import TrainStepInput
    from sae_lens.saes.topk_sae import TopKTrainingSAE, TopKTrainingSAEConfig

    d_in = cfg.hidden_size
    sae = TopKTrainingSAE(TopKTrainingSAEConfig(d_in=d_in, d_sae=args.sae_expansion * d_in, k=args.sae_k,
                                                dtype="float32", device=str(device)))
    opt = torch.optim.Adam(sae.parameters(), lr=1e-4)
    acts = harvested.reshape(-1, d_in)[: args.sae_batch].clone()  # clone: an inference tensor cannot enter autograd

    def sae_step():
        opt.zero_grad(set_to_none=True)
        res = sae.training_forward_pass(TrainStepInput(sae_in=acts, coefficients={}, dead_neuron_mask=None,
                                                       n_training_steps=0, is_logging_step=False))
        res.loss.backward()
        opt.step()
        return res.loss

    t_sae = timed(sae_step, device, args.repeats)
    out["sae_step_s"] = t_sae
    out["sae_tokens_per_s"] = acts.shape[0] / t_sae
    out["sae"] = {"d_in": d_in, "d_sae": args.sae_expansion * d_in, "k": args.sae_k, "batch": acts.shape[0]}
    hf = None  # release the model before the next shape
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    p.add_argument("--tiny", action="store_true", help="tiny shapes and sizes: a smoke check of every path")
    p.add_argument("--shapes", nargs="+", default=list(QWEN_SHAPES), choices=list(QWEN_SHAPES))
    p.add_argument("--dtype", default=None, choices=["bfloat16", "float32"], help="default: bf16 on cuda, fp32 on cpu")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--seq", type=int, default=512)
    p.add_argument("--gen-samples", type=int, default=64)
    p.add_argument("--gen-tokens", type=int, default=128)
    p.add_argument("--skip-tl-generate", action="store_true")
    p.add_argument("--sae-expansion", type=int, default=8)
    p.add_argument("--sae-k", type=int, default=64)
    p.add_argument("--sae-batch", type=int, default=4096)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", type=Path, default=None, help="JSON output path")
    args = p.parse_args(argv)

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print(
            "benchmarks/gpu.py: no CUDA device is visible on this machine (torch.cuda.is_available() is False)."
            " Run it on a GPU machine, or smoke-check every path on CPU with `--device cpu --tiny`.",
            file=sys.stderr,
        )
        return 2
    if args.tiny:
        args.batch, args.seq, args.gen_samples, args.gen_tokens = 2, 32, 4, 8
        args.sae_batch, args.sae_k, args.repeats = 64, 8, min(args.repeats, 2)
        shapes = TINY_SHAPE
    else:
        shapes = {k: QWEN_SHAPES[k] for k in args.shapes}
    dtype = getattr(torch, args.dtype) if args.dtype else (torch.bfloat16 if device.type == "cuda" else torch.float32)
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"

    from rlmeta_interp.paths import results_dir

    out_path = args.out or results_dir() / "benchmarks" / f"gpu_{device.type}{'_tiny' if args.tiny else ''}.json"
    report = {"device": device_name, "device_type": device.type, "dtype": str(dtype).replace("torch.", ""),
              "torch_threads": torch.get_num_threads(), "versions": package_versions(("torch", "transformers", "transformer-lens", "sae-lens")), "results": []}
    print(f"device: {device_name} ({device.type}), dtype {report['dtype']}, versions {report['versions']}")
    for name, shape in shapes.items():
        res = bench_shape(name, shape, args, device, dtype)
        report["results"].append(res)
        print(f"\n== {name}: {res['n_params'] / 1e6:.0f}M params, batch {res['batch']} x {res['seq']}, layer {res['layer']}")
        print(f"  HF forward                      {res['hf_forward_tokens_per_s']:>12,.0f} tokens/s"
              f" ({res['hf_forward_tflops_2n']:.0f} TFLOP/s by 2 x params x tokens/s)")
        print(f"  HF forward + forward hook       {res['harvest_hook_ratio']:>12.2f} x HF time")
        print(f"  HookedTransformer forward       {res['tl_forward_ratio']:>12.2f} x HF time")
        print(f"  HookedTransformer run_with_cache{res['tl_run_with_cache_one_hook_ratio']:>12.2f} x HF time (one hook)")
        print(f"  hook vs TL activation max diff  {res['harvest_vs_tl_max_abs_diff_rel']:>12.2e} (relative)")
        print(f"  HF generate {args.gen_samples}x{args.gen_tokens}          {res['hf_generate_tokens_per_s']:>12,.0f} tokens/s")
        if "tl_generate_ratio" in res:
            print(f"  HookedTransformer generate      {res['tl_generate_ratio']:>12.2f} x HF time")
        print(f"  SAELens TopK SAE step           {res['sae_step_s'] * 1e3:>12.1f} ms ({res['sae']['batch']} rows)")
    from rlmeta_interp.io import write_json_atomic

    write_json_atomic(out_path, report)
    print(f"\nwrote {out_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
