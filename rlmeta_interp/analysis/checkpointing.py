"""Resumable training of sparse dictionaries (SAEs and crosscoders): input checks and checkpoint folders.

Every ``checkpoint_every`` steps (and at the last step) a trainer writes its full training state to
``checkpoint_dir/step_<N>`` (built under a temporary name and renamed, so a checkpoint either exists whole or not at
all; older ones, and temporary entries a killed save left behind, are then deleted). Each checkpoint records a
fingerprint of the config, the data and the library version; a checkpoint with another fingerprint raises
:class:`~rlmeta_interp.errors.CheckpointMismatchError` rather than being silently discarded (hours of training may
sit in it): delete the folder or pass another ``checkpoint_dir``.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor

from ..errors import CheckpointMismatchError, EmptyInputError, InvalidConfigError, NonFiniteError

STEP_DIR = re.compile(r"^step_(\d{9})(\.pt)?$")

def check_acts(x: Tensor, name: str, d_in: int | None = None) -> Float[Tensor, "n d_in"]:
    """``x`` as a detached float32 ``[n, d_in]`` tensor, or a typed error naming what is wrong with it."""
    if not isinstance(x, Tensor):
        raise InvalidConfigError(f"{name} must be a torch tensor [n, d_in], got {type(x).__name__}.")
    if x.ndim != 2:
        raise InvalidConfigError(f"{name} must be [n, d_in] (flatten batch and positions first), got shape {tuple(x.shape)}.")
    if x.shape[0] == 0:
        raise EmptyInputError(f"{name} has no rows: harvest activations first.")
    if d_in is not None and x.shape[1] != d_in:
        raise InvalidConfigError(f"{name} has width {x.shape[1]} but the dictionary expects d_in={d_in}: use the same hook.")
    if not torch.isfinite(x).all():
        raise NonFiniteError(f"{name} holds NaN or inf: harvest in float32 or drop those rows.")
    return x.detach().float()



def fingerprint(parts: Mapping[str, Any]) -> str:
    """sha256 of the JSON of everything that determines a training run's result."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def check_every(checkpoint_every: int) -> None:
    """Reject a ``checkpoint_every`` that is not a positive number of steps."""
    if not isinstance(checkpoint_every, int) or isinstance(checkpoint_every, bool) or checkpoint_every < 1:
        raise InvalidConfigError(f"checkpoint_every must be a positive number of steps, got {checkpoint_every!r}.")


def latest_checkpoint(folder: Path) -> Path | None:
    """Newest ``step_<N>`` entry of ``folder`` (temporary, half-written entries never carry that name)."""
    if not folder.is_dir():
        return None
    steps = sorted((int(m.group(1)), p) for p in folder.iterdir() if (m := STEP_DIR.match(p.name)))
    return steps[-1][1] if steps else None


def check_fingerprint(found: str, expected: str, where: Path) -> None:
    """Raise CheckpointMismatchError when the checkpoint ``where`` was written by another run."""
    if found != expected:
        raise CheckpointMismatchError(
            f"The checkpoint {where} was written for another config, other data or another library version"
            f" (fingerprint {found[:12]}... != {expected[:12]}...). Delete {where.parent} to start afresh, or pass"
            " another checkpoint_dir for this run."
        )


# what atomic_dir / atomic_path leave behind when a process is killed mid-write (never a step_<N> name)
_STALE_TMP = re.compile(r"^\.step_\d{9}(\.pt)?\..+\.tmp$")


def training_device(device: str) -> torch.device:
    """``device`` as a torch device, after checking that this machine has it."""
    from ..models import check_device

    check_device(device, fix="device='cpu'")  # typed error for a GPU this machine does not have
    return torch.device(device)


def device_part(dev: torch.device) -> dict[str, str]:
    """The device's entry in a checkpoint fingerprint: none on CPU, so CPU fingerprints predate the option."""
    return {} if dev.type == "cpu" else {"device": dev.type}


def prune_checkpoints(folder: Path, keep: Path) -> None:
    """Delete every checkpoint but ``keep``, and the temporary entries a killed save left behind."""
    for p in folder.iterdir():
        if p != keep and (STEP_DIR.match(p.name) or _STALE_TMP.match(p.name)):
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()

