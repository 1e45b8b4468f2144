"""Atomic file writes and hashing: no half-written artifact ever has its final name."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch

from .errors import CorruptedCheckpointError, ManifestMismatchError, MissingWeightsError, OutputNotWritableError


def ensure_dir(path: str | os.PathLike) -> Path:
    """Create ``path`` (and parents); raise a typed error naming the fix if that is impossible."""
    p = Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputNotWritableError(
            f"Cannot create output folder {p}: {e.strerror}. Choose a writable location"
            " (for example set RLMETA_HOME / RLMETA_RESULTS, or pass another out_dir)."
        ) from e
    if not os.access(p, os.W_OK):
        raise OutputNotWritableError(
            f"Output folder {p} is not writable. Fix its permissions or choose another location."
        )
    return p


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in the same folder; rename it onto ``final`` only if the body succeeds."""
    final = Path(final)
    ensure_dir(final.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, final)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_dir(final: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary folder next to ``final``; if the body succeeds, it takes the name ``final``.

    The folder is built as ``.<name>.<random>.tmp``. An existing ``final`` is first renamed aside (to
    ``.<name>.<random>.old.tmp``) and deleted only once the new folder has its name, so ``final`` only ever names a
    complete folder, old or new (between the two renames, an instant, the old one is whole under its aside name).
    If the body fails, ``final`` is left as it was. A process killed mid-way can leave ``.<name>.*.tmp`` entries,
    never a partial ``final``; their owner may delete them.
    """
    final = Path(final)
    ensure_dir(final.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    old: Path | None = None
    try:
        yield tmp
        if final.exists() or final.is_symlink():
            old = final.parent / f".{final.name}.{secrets.token_hex(4)}.old.tmp"
            os.replace(final, old)
        try:
            os.replace(tmp, final)
        except BaseException:
            if old is not None and not final.exists():  # put the old folder back rather than leave no final
                os.replace(old, final)
                old = None
            raise
    finally:
        for leftover in (tmp, old):
            if leftover is not None and (leftover.exists() or leftover.is_symlink()):
                if leftover.is_dir() and not leftover.is_symlink():
                    shutil.rmtree(leftover, ignore_errors=True)
                else:
                    leftover.unlink()


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json_atomic(path: str | os.PathLike, obj: Any) -> Path:
    return write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    p = Path(path)
    if not p.exists():
        raise MissingWeightsError(f"{p} does not exist.")
    try:
        return json.loads(p.read_text())
    except json.JSONDecodeError as e:
        raise CorruptedCheckpointError(f"{p} is not valid JSON ({e}). Delete it and rebuild the artifact.") from e


def save_tensors_atomic(path: str | os.PathLike, tensors: Mapping[str, torch.Tensor], metadata: dict[str, str] | None = None) -> Path:
    from safetensors.torch import save_file

    with atomic_path(path) as tmp:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp), metadata=metadata)
    return Path(path)


def load_tensors(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Load a safetensors file; a missing or truncated file raises a typed error naming the fix."""
    from safetensors.torch import load_file

    p = Path(path)
    if not p.exists():
        raise MissingWeightsError(f"Weight file {p} does not exist. Rebuild it (see data/README.md) or check the path.")
    try:
        return load_file(str(p))
    except Exception as e:  # safetensors raises SafetensorError / OSError on truncation
        raise CorruptedCheckpointError(
            f"Cannot read {p} as safetensors ({type(e).__name__}: {e}). The file is truncated or corrupted:"
            " delete it and rebuild (e.g. `rlmeta-interp zoo build`)."
        ) from e


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def verify_sha256(path: str | os.PathLike, expected: str) -> None:
    p = Path(path)
    if not p.exists():
        raise MissingWeightsError(f"{p} is missing. Rebuild it or restore it from version control.")
    actual = sha256_file(p)
    if actual != expected:
        raise ManifestMismatchError(
            f"{p} has sha256 {actual[:12]}..., but its manifest says {expected[:12]}...: the file was changed"
            " or corrupted. Rebuild it (`rlmeta-interp zoo build`) or restore it from version control."
        )


def hash_tensors(tensors: Mapping[str, torch.Tensor] | Iterator[tuple[str, torch.Tensor]]) -> str:
    """Content hash of named tensors (names, dtypes, shapes and bytes)."""
    h = hashlib.sha256()
    items = tensors.items() if isinstance(tensors, Mapping) else tensors
    for name, t in sorted(items, key=lambda kv: kv[0]):
        t = t.detach().contiguous().cpu()
        h.update(name.encode())
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")  # 0-dim tensors too
    return h.hexdigest()


def weights_id(model: Any) -> str:
    """The identity of a loaded model's weights in result keys: a zoo model's manifest sha256 (checked at load),
    else :func:`weights_hash` of its ``.hf`` module, so new weights at the same path never reuse a result."""
    sha = ((getattr(model, "manifest", None) or {}).get("files") or {}).get("model.safetensors")
    return str(sha) if sha else weights_hash(model.hf)


def weights_hash(module: torch.nn.Module) -> str:
    """Content hash of a model's weights (:func:`hash_tensors` of its state dict): the one weights key of the caches.

    Memoised on the module against torch's in-place version counters and storage pointers of its parameters and
    buffers, so an in-place edit (``mul_``, ``load_state_dict``) or a swapped tensor computes it again.
    """
    try:
        stamp = tuple((n, t._version, t.data_ptr()) for n, t in (*module.named_parameters(), *module.named_buffers()))
    except RuntimeError:  # inference tensors keep no version counter: hash every time
        return hash_tensors(dict(module.state_dict()))
    memo = module.__dict__.get("_rlmeta_weights_memo")
    if memo is not None and memo[0] == stamp:
        return memo[1]
    key = hash_tensors(dict(module.state_dict()))
    module.__dict__["_rlmeta_weights_memo"] = (stamp, key)
    return key
