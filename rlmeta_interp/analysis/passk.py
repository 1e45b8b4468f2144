"""Unbiased pass@k (Chen et al. 2107.03374), coverage, crossover and a guessing baseline."""

from __future__ import annotations

import numpy as np

from ..errors import InvalidConfigError


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from ``n`` samples with ``c`` correct, in the stable product form.

    ``1 - C(n-c, k) / C(n, k) = 1 - prod_{i=n-c+1}^{n} (1 - k / i)``; exactly 1 when ``n - c < k``.
    """
    if not isinstance(k, (int, np.integer)) or k <= 0:
        raise InvalidConfigError(f"k must be a positive integer, got {k!r}.")
    if n < k:
        raise InvalidConfigError(f"pass@{k} needs at least k={k} samples per problem, got n={n}: never extrapolate past n.")
    if not 0 <= c <= n:
        raise InvalidConfigError(f"c={c} correct out of n={n} is impossible.")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))
