"""Tests of analysis.checkpointing: checkpoint folders, fingerprints and the device check of both trainers."""

from __future__ import annotations

import pytest
import torch

from rlmeta_interp.analysis.checkpointing import (
    check_acts,
    check_every,
    check_fingerprint,
    fingerprint,
    latest_checkpoint,
    prune_checkpoints,
)
from rlmeta_interp.analysis.crosscoder import CrosscoderConfig, train_crosscoder
from rlmeta_interp.analysis.saes import SaeTrainConfig, train_sae
from rlmeta_interp.errors import CheckpointMismatchError, EmptyInputError, InvalidConfigError, NonFiniteError

from .planted import D, planted_pair


@pytest.fixture(scope="module")
def planted():
    return planted_pair(n=400)


def test_latest_and_prune_keep_only_whole_step_entries(tmp_path):
    assert latest_checkpoint(tmp_path / "absent") is None
    for name in ("step_000000005", "step_000000012.pt", ".step_000000020.pt.abc.tmp", "notes.txt"):
        (tmp_path / name).write_text("x")
    assert latest_checkpoint(tmp_path).name == "step_000000012.pt"  # the half-written step 20 is not a checkpoint
    prune_checkpoints(tmp_path, tmp_path / "step_000000012.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "step_000000012.pt"]


def test_fingerprint_is_order_free_and_a_mismatch_names_the_fix(tmp_path):
    a = fingerprint({"config": {"k": 2, "lr": 0.1}, "acts": "h"})
    assert a == fingerprint({"acts": "h", "config": {"lr": 0.1, "k": 2}})
    assert a != fingerprint({"config": {"k": 3, "lr": 0.1}, "acts": "h"})
    check_fingerprint(a, a, tmp_path / "ck" / "step_000000001")
    with pytest.raises(CheckpointMismatchError, match="Delete .*ck to start afresh"):
        check_fingerprint(a, "0" * 64, tmp_path / "ck" / "step_000000001")


def test_input_checks_name_the_problem():
    assert check_acts(torch.ones(3, 4, dtype=torch.float64), "x").dtype == torch.float32
    with pytest.raises(InvalidConfigError, match=r"\[n, d_in\]"):
        check_acts(torch.ones(3), "x")
    with pytest.raises(EmptyInputError):
        check_acts(torch.ones(0, 4), "x")
    with pytest.raises(NonFiniteError):
        check_acts(torch.tensor([[float("nan")]]), "x")
    for bad in (0, -1, True, 1.5):
        with pytest.raises(InvalidConfigError, match="checkpoint_every"):
            check_every(bad)


def test_training_device_is_checked_before_any_work(planted):
    base, rl = planted[0][:300], planted[1][:300]
    for bad, fix in (("gpu", "use 'cpu', 'cuda'"), ("mps", "use device='cpu'")):
        with pytest.raises(InvalidConfigError, match=fix):
            train_sae(base, SaeTrainConfig(d_sae=8, k=2, training_samples=256, batch_size=64), device=bad)
        with pytest.raises(InvalidConfigError, match=fix):
            train_crosscoder(base, rl, CrosscoderConfig(d_in=D, d_sae=8, k=2, steps=2, batch_size=32), device=bad)
    if not torch.cuda.is_available():
        with pytest.raises(InvalidConfigError, match="no CUDA GPU: use device='cpu'"):
            train_sae(base, SaeTrainConfig(d_sae=8, k=2, training_samples=256, batch_size=64), device="cuda")
