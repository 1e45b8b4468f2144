"""Planted-feature activations and resume helpers shared by the SAE, crosscoder and checkpointing tests."""

from __future__ import annotations

import torch

D = 32
N_SHARED, N_EXCL = 8, 4


def planted_pair(n: int = 6000, seed: int = 0):
    """Orthonormal features: 8 shared (RL copy scaled by 1.2), 4 base-only, 4 RL-only; sparse codes."""
    g = torch.Generator().manual_seed(seed)
    nf = N_SHARED + 2 * N_EXCL
    feats = torch.linalg.qr(torch.randn(D, D, generator=g))[0][:, :nf].T
    codes = (torch.rand(n, nf, generator=g) < 0.08).float() * (0.5 + torch.rand(n, nf, generator=g))
    sh, bo, ro = slice(0, N_SHARED), slice(N_SHARED, N_SHARED + N_EXCL), slice(N_SHARED + N_EXCL, nf)
    base = codes[:, sh] @ feats[sh] + codes[:, bo] @ feats[bo] + 0.02 * torch.randn(n, D, generator=g)
    rl = 1.2 * codes[:, sh] @ feats[sh] + codes[:, ro] @ feats[ro] + 0.02 * torch.randn(n, D, generator=g)
    return base, rl, feats, {"shared": sh, "base_only": bo, "rl_only": ro}


class Stop(Exception):
    """Raised from on_checkpoint: stands in for a job killed right after a checkpoint."""


def stop_at(step: int):
    def hook(done: int) -> None:
        if done == step:
            raise Stop(done)
    return hook


def assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
