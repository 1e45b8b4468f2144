"""Tests of rlmeta_interp.benchtools: the timing helpers and the published shapes the GPU benchmarks build."""

from __future__ import annotations

import time

import pytest
import torch

from rlmeta_interp import benchtools


def test_median_seconds_times_the_call_and_sync_is_a_noop_on_cpu():
    calls = []

    def work():
        calls.append(1)
        time.sleep(0.01)

    t = benchtools.median_seconds(work, repeats=3, warmup=2)
    assert len(calls) == 5 and 0.009 <= t < 0.5
    benchtools.sync("cpu")  # must not touch CUDA on a CPU machine
    assert benchtools.matmul_peak_flops(n=64, repeats=2) > 0


@pytest.mark.parametrize(("shapes", "name", "vocab", "published"), [
    (benchtools.QWEN_SHAPES, "qwen2.5-0.5b", 151_936, 494_032_768),
    (benchtools.QWEN_SHAPES, "qwen2.5-1.5b", 151_936, 1_543_714_304),
    (benchtools.LLAMA_SHAPES, "llama-3.2-1b", 128_256, 1_235_814_400),
])
def test_shapes_give_the_published_parameter_counts(shapes, name, vocab, published):
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    cfg_cls, model_cls = (Qwen2Config, Qwen2ForCausalLM) if name.startswith("qwen") else (LlamaConfig, LlamaForCausalLM)
    with torch.device("meta"):
        n = sum(p.numel() for p in model_cls(cfg_cls(vocab_size=vocab, **shapes[name])).parameters())
    assert n == published
