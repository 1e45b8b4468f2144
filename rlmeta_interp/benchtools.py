"""Shared measurement helpers for ``benchmarks/`` (hand-run): medians of repeats and the machine's matmul peak.

Timings on a shared 2-core machine are noisy, so every benchmark reports *ratios measured in one run* and medians.
"""

from __future__ import annotations

import logging
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

log = logging.getLogger(__name__)


# Published layer shapes of real models (hidden, intermediate, layers, heads, kv heads, tied embeddings); the GPU
# benchmarks build random-weight models of these shapes, so nothing is downloaded.
QWEN_SHAPES: dict[str, dict] = {
    "qwen2.5-0.5b": dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                         num_key_value_heads=2, tie_word_embeddings=True),
    "qwen2.5-1.5b": dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12,
                         num_key_value_heads=2, tie_word_embeddings=True),
}
LLAMA_SHAPES: dict[str, dict] = {
    "llama-3.2-1b": dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
                         num_key_value_heads=8, tie_word_embeddings=True),
}


def sync(device: str | torch.device) -> None:
    """Wait for queued CUDA work on ``device`` (no-op elsewhere), so a wall-clock timing covers it."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def median_seconds(fn: Callable[[], object], repeats: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` over ``repeats`` runs after ``warmup`` runs (CUDA-synchronised when needed)."""
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def matmul_peak_flops(n: int = 1024, dtype: torch.dtype = torch.float32, device: str = "cpu", repeats: int = 5) -> float:
    """Measured FLOP/s of a square ``n x n`` matmul: the ceiling every throughput figure is compared to."""
    a = torch.randn(n, n, dtype=dtype, device=device)
    b = torch.randn(n, n, dtype=dtype, device=device)
    t = median_seconds(lambda: a @ b, repeats=repeats)
    return 2 * n**3 / t


def machine_summary() -> str:
    """The machine a results section was measured on: architecture, torch's CPU vector instruction set (timings and
    even trained weights have been seen to differ between AVX2 and AVX512 machines), cores and torch version."""
    import os
    import platform

    gpu = f" gpu={torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""
    return (f"machine: {platform.machine()} cpu_capability={torch.backends.cpu.get_cpu_capability()}"
            f" cores={os.cpu_count()}{gpu} torch={torch.__version__}")


def machine_line() -> str:
    dev = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    return f"device={dev} torch={torch.__version__} threads={torch.get_num_threads()}"


_HEADING = re.compile(r"^## (\S+\.py): (.*?)(?: \(run (\d{4}-\d{2}-\d{2})\))?$", re.M)
_WRITTEN_ON = re.compile(r"Written by `rlmeta-interp bench` on (\d{4}-\d{2}-\d{2})")


def results_sections(text: str) -> dict[str, tuple[str, str, str]]:
    """The sections of a ``benchmarks/RESULTS.md``: ``{script: (status, date run, body)}``. A heading counts only
    outside code fences (a benchmark's output may print anything). A section without its own date takes the file's
    "Written ... on" date (files written before sections carried one)."""
    written = _WRITTEN_ON.search(text)
    default = written.group(1) if written else "unknown date"
    out: dict[str, tuple[str, str, str]] = {}
    name, status, date, body, fenced = None, "", "", [], False
    for line in [*text.splitlines(), None]:
        head = _HEADING.match(line) if line is not None and not fenced else None
        if line is None or head:
            if name is not None:
                out[name] = (status, date, "\n".join(body).strip("\n"))
            if head:
                name, status, date, body = head.group(1), head.group(2), head.group(3) or default, []
            continue
        fenced ^= line.startswith("```")
        if name is not None:
            body.append(line)
    return out


def results_markdown(sections: dict[str, tuple[str, str, str]], scripts: list[str]) -> str:
    """``benchmarks/RESULTS.md`` from ``sections`` (:func:`results_sections`' form), in ``scripts`` order (names with
    no section are left out), each heading with the date its benchmark ran: a ``bench --only`` run replaces its own
    sections and keeps the others, so the dates say which were measured together."""
    parts = ["# Benchmark results\n\nWritten by `rlmeta-interp bench`; each section gives the date it ran and, when"
             " it was measured since sections carried it, its machine (first line). Ratios are measured within one run"
             " (medians of repeats); absolute speeds vary with machine and load, so compare only numbers of one"
             " section.\n"]
    for name in scripts:
        if name in sections:
            status, date, body = sections[name]
            parts.append(f"## {name}: {status} (run {date})\n\n{body}\n")
    return "\n".join(parts)


def run_benchmarks(every: Sequence[Path], run: Sequence[Path], out: Path, *,
                   keep_others: bool) -> list[tuple[str, str, str]]:
    """Run the benchmark scripts ``run`` (each in its own process from the repository root; CUDA-only ``gpu*``
    scripts are recorded as skipped on a machine without CUDA) and write ``out`` with a section per script of
    ``every``: the sections of ``run`` replaced, the others kept from ``out`` when ``keep_others`` (a run of some
    benchmarks), each with the date it ran. Returns ``(script, status, its output)`` per script run; a failed
    script's output tail is kept in its section."""
    import datetime

    from .io import write_text_atomic
    from .paths import REPO_ROOT

    sections = results_sections(out.read_text()) if keep_others and out.exists() else {}
    today = str(datetime.date.today())
    done = []
    for script in run:
        if script.stem.startswith("gpu") and not torch.cuda.is_available():
            sections[script.name] = ("skipped", today, "No CUDA device on this machine; run it on a GPU machine."
                                     " Results measured on one are in `RESULTS_GPU.md`.")
            done.append((script.name, "skipped (no CUDA)", ""))
            continue
        log.info("running %s", script.name)
        proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=REPO_ROOT)
        status = "ok" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
        body = proc.stdout.strip() if proc.returncode == 0 else (proc.stdout + proc.stderr).strip()[-3000:]
        sections[script.name] = (status, today, f"```\n{machine_summary()}\n{body}\n```")
        done.append((script.name, status, proc.stdout))
    write_text_atomic(out, results_markdown(sections, [p.name for p in every]))
    return done
