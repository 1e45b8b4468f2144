"""Harvest one mid-layer hook vs a plain Hugging Face forward on the same weights (run by hand).

    python benchmarks/harvest.py [--repeats 5] [--threads 2]

Prints, per model size, the ratio harvest_time / hf_forward_time (target <= 1.25 for the large model), and for
context TransformerLens run_with_cache of the same hook. Random weights; batch 8 x 128 tokens.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from functools import partial
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from rlmeta_interp import harvest, hook_name, load_model
from rlmeta_interp.benchtools import machine_line, median_seconds
from rlmeta_interp.organism.tokenizer import build_tokenizer

SIZES = {  # name: (d_model, layers, mlp, vocab)
    "1M": (128, 4, 512, None),
    "110M": (768, 12, 3072, 32000),
}


def build(folder: Path, d: int, layers: int, mlp: int, vocab: int | None) -> Path:
    tok = build_tokenizer()
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=vocab or len(tok), hidden_size=d, intermediate_size=mlp, num_hidden_layers=layers,
                      num_attention_heads=max(4, d // 64), num_key_value_heads=max(4, d // 64),
                      max_position_embeddings=256)
    LlamaForCausalLM(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def run(repeats: int) -> list[dict]:
    rows = []
    for name, (d, layers, mlp, vocab) in SIZES.items():
        with tempfile.TemporaryDirectory() as tmp:
            m = load_model(build(Path(tmp) / "model", d, layers, mlp, vocab))
            params = sum(p.numel() for p in m.hf.parameters())
            g = torch.Generator().manual_seed(0)
            ids = torch.randint(4, len(m.tokenizer), (8, 128), generator=g)
            mask = torch.ones_like(ids)
            mid = hook_name(layers // 2)
            last = hook_name(layers - 1)
            with torch.inference_mode():
                t_hf = median_seconds(partial(m.hf, input_ids=ids, attention_mask=mask, use_cache=False), repeats)
                t_mid = median_seconds(partial(harvest, m, ids, [mid], attention_mask=mask, positions="all", cache=False),
                                       repeats)
                t_last = median_seconds(partial(harvest, m, ids, [last], attention_mask=mask, positions="all",
                                                cache=False), repeats)
                t_tl = median_seconds(partial(m.tl.run_with_cache, ids, names_filter=[mid]), repeats)
            rows.append({"model": name, "params": params, "hf_forward_s": t_hf, "tokens_per_s_hf": ids.numel() / t_hf,
                         "harvest_mid_ratio": t_mid / t_hf, "harvest_last_layer_ratio": t_last / t_hf,
                         "tl_run_with_cache_mid_ratio": t_tl / t_hf})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    rows = run(a.repeats)
    print(machine_line())
    print(f"{'model':6s} {'params':>11s} {'HF tok/s':>9s} {'harvest mid/HF':>15s} {'harvest last/HF':>16s} {'TL cache mid/HF':>16s}")
    for r in rows:
        print(f"{r['model']:6s} {r['params']:11,d} {r['tokens_per_s_hf']:9.0f} {r['harvest_mid_ratio']:15.2f}"
              f" {r['harvest_last_layer_ratio']:16.2f} {r['tl_run_with_cache_mid_ratio']:16.2f}")
    print("target: harvest/HF <= 1.25 for the large model (ratios < 1 mean harvest stops after the hooked layer)")
    if a.json:
        a.json.write_text(json.dumps({"machine": machine_line(), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
