"""Tests of rlmeta_interp.benchtools: the timing helpers and the published shapes the GPU benchmarks build."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import time
from pathlib import Path

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


@pytest.mark.parametrize("script", sorted((Path(__file__).resolve().parents[1] / "benchmarks").glob("*.py")),
                         ids=lambda p: p.name)
def test_every_benchmark_imports_against_the_current_library(script):
    """The hand-run benchmarks import what the library exports today (a refactor that moves a name breaks here, not
    on the next GPU run)."""
    spec = importlib.util.spec_from_file_location(f"bench_{script.stem}", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # top level only: main() runs under __name__ == "__main__"
    assert callable(getattr(module, "main", None)), f"{script.name} has no main()"
    # imports inside functions run only on a real run: resolve every name they take from the library now
    for node in ast.walk(ast.parse(script.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rlmeta_interp"):
            lib = importlib.import_module(node.module)
            for alias in node.names:
                assert hasattr(lib, alias.name) or importlib.util.find_spec(f"{node.module}.{alias.name}"), \
                    f"{script.name}:{node.lineno} imports {alias.name} from {node.module}, which has no such name"


def test_results_sections_round_trip_and_a_partial_run_keeps_the_other_sections():
    old = ("# Benchmark results\n\nWritten by `rlmeta-interp bench` on 2026-11-26; device=cpu.\nRatios ...\n\n"
           "## gpu.py: skipped\n\nNo CUDA device.\n\n## harvest.py: ok\n\n```\nratio 0.73\n## not.py: a heading\n```\n\n"
           "## sae.py: FAILED (exit 1)\n\n```\nboom\n```\n")
    sections = benchtools.results_sections(old)
    assert sections == {"gpu.py": ("skipped", "2026-11-26", "No CUDA device."),
                        "harvest.py": ("ok", "2026-11-26", "```\nratio 0.73\n## not.py: a heading\n```"),
                        "sae.py": ("FAILED (exit 1)", "2026-11-26", "```\nboom\n```")}
    sections["sae.py"] = ("ok", "2026-12-07", "```\nratio 2.0\n```")
    text = benchtools.results_markdown(sections, ["gpu.py", "harvest.py", "new.py", "sae.py"])
    assert "## harvest.py: ok (run 2026-11-26)\n\n```\nratio 0.73\n## not.py: a heading\n```\n" in text
    assert "## sae.py: ok (run 2026-12-07)" in text and "boom" not in text and "new.py" not in text
    assert text.index("gpu.py") < text.index("harvest.py") < text.index("sae.py")
    # read back: each section keeps its own date, whatever the file's header says
    assert benchtools.results_sections(text) == sections
    assert "cpu_capability=" in benchtools.machine_summary()


def test_run_benchmarks_replaces_the_sections_it_runs_and_keeps_the_others(tmp_path):
    ok, bad, other = tmp_path / "fast.py", tmp_path / "broken.py", tmp_path / "other.py"
    ok.write_text("print('ratio 2.0x')\n")
    bad.write_text("raise SystemExit('no input')\n")
    other.write_text("print('never run here')\n")
    out = tmp_path / "RESULTS.md"
    out.write_text("# Benchmark results\n\nWritten by `rlmeta-interp bench` on 2026-11-26; device=cpu.\n\n"
                   "## other.py: ok\n\n```\nkept 1.5x\n```\n\n## fast.py: ok\n\n```\nold 1.0x\n```\n")
    done = benchtools.run_benchmarks([bad, ok, other], [ok, bad], out, keep_others=True)
    assert [(n, s) for n, s, _ in done] == [("fast.py", "ok"), ("broken.py", "FAILED (exit 1)")]
    sections = benchtools.results_sections(out.read_text())
    assert list(sections) == ["broken.py", "fast.py", "other.py"]
    assert "ratio 2.0x" in sections["fast.py"][2] and "old 1.0x" not in out.read_text()
    assert "cpu_capability=" in sections["fast.py"][2] and "no input" in sections["broken.py"][2]
    assert sections["other.py"] == ("ok", "2026-11-26", "```\nkept 1.5x\n```")
    # a full run (keep_others False) writes only what it ran
    benchtools.run_benchmarks([bad, ok, other], [ok], out, keep_others=False)
    assert list(benchtools.results_sections(out.read_text())) == ["fast.py"]
