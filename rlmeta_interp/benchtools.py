"""Shared measurement helpers for ``benchmarks/`` (hand-run): medians of repeats and the machine's matmul peak.

Timings on a shared 2-core machine are noisy, so every benchmark reports *ratios measured in one run* and medians.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch


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


def machine_line() -> str:
    dev = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    return f"device={dev} torch={torch.__version__} threads={torch.get_num_threads()}"
