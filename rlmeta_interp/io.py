"""Atomic file writes, checksums and locks: no half-written artifact ever has its final name, a cache or result
file that changed after it was written is detected when read, and concurrent writers of one file cannot crash
each other.

Checksums: :func:`save_tensors_atomic` stores a sha256 of the tensors (names, dtypes, shapes, bytes) and of its
metadata in the safetensors header, and :func:`load_tensors` verifies it; text, JSON and CSV results written with
``checksum=True`` get a ``<name>.sha256`` sidecar (``sha256sum -c`` format) that :func:`read_text`,
:func:`read_json` and :func:`verify_checksum` check. A failed check is a
:class:`~rlmeta_interp.errors.CorruptedCheckpointError` naming the file to delete and how to rebuild it.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import gzip
import json
import logging
import os
import secrets
import shutil
import tempfile
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch

from .errors import (
    CorruptedCheckpointError,
    EmptyInputError,
    InvalidConfigError,
    ManifestMismatchError,
    MissingWeightsError,
    OutputNotWritableError,
)


log = logging.getLogger(__name__)

CHECKSUM_KEY = "rlmeta_sha256"  # safetensors metadata key holding the content checksum
SIDECAR_SUFFIX = ".sha256"
WEIGHTS_FILE = "model.safetensors"  # a model folder's weights; a manifest names them by this file's checksum


def current_umask() -> int:
    """The process umask, read without changing it where /proc allows (os.umask can only set it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _default_mode(path: Path, directory: bool) -> None:
    """Give a file made by mkstemp/mkdtemp (always 0600/0700) the mode a plain open()/mkdir() would give it."""
    os.chmod(path, (0o777 if directory else 0o666) & ~current_umask())


def _rebuild_text(path: Path, rebuild: str | None) -> str:
    how = rebuild or "rerun the command that wrote it"
    return f"Delete it (rm {path}) and rebuild it: {how}."


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
    """Yield a temporary path in the same folder; rename it onto ``final`` only if the body succeeds. A ``final`` that
    is a folder is refused before anything is written (the rename would fail only after the work)."""
    final = Path(final)
    if final.is_dir():
        raise InvalidConfigError(f"{final} is a folder: pass a file name, e.g. {final / ('out' + final.suffix)}.")
    ensure_dir(final.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():
            _default_mode(tmp_path, directory=False)
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
    olds: list[Path] = []
    try:
        yield tmp
        _default_mode(tmp, directory=True)
        # Concurrent writers of one folder: each moves whatever holds the name aside and publishes its own; the last
        # one to publish wins, and nobody fails because another moved or published a folder between its two renames.
        for attempt in range(8):
            if final.exists() or final.is_symlink():
                old = final.parent / f".{final.name}.{secrets.token_hex(4)}.old.tmp"
                try:
                    os.replace(final, old)
                    olds.append(old)
                except FileNotFoundError:  # another writer moved it aside first
                    pass
            try:
                os.replace(tmp, final)
                break
            except OSError as e:
                if e.errno not in (errno.ENOTEMPTY, errno.EEXIST) or attempt == 7:
                    if olds and not final.exists():  # put the old folder back rather than leave no final
                        os.replace(olds.pop(), final)
                    raise
    finally:
        for leftover in (tmp, *olds):
            if leftover.exists() or leftover.is_symlink():
                if leftover.is_dir() and not leftover.is_symlink():
                    shutil.rmtree(leftover, ignore_errors=True)
                else:
                    leftover.unlink()


def sidecar_path(path: str | os.PathLike) -> Path:
    """``<path>.sha256``: where the checksum of a text/JSON/CSV file written with ``checksum=True`` lives."""
    p = Path(path)
    return p.with_name(p.name + SIDECAR_SUFFIX)


def write_checksum(path: str | os.PathLike, digest: str | None = None) -> Path:
    """Write ``<path>.sha256`` (``sha256sum`` format) for ``path``, or for ``digest`` when the file is not yet in
    place (writers record the checksum of the finished temporary file before it takes its final name, so a
    reader never sees a final file whose checksum is older than it)."""
    p = Path(path)
    side = sidecar_path(p)
    with atomic_path(side) as tmp:
        tmp.write_text(f"{digest or sha256_file(p)}  {p.name}\n")
    return side


def verify_checksum(path: str | os.PathLike, *, rebuild: str | None = None, required: bool = False) -> None:
    """Check ``path`` against its ``.sha256`` sidecar; a mismatch (or, if ``required``, no sidecar) raises
    CorruptedCheckpointError naming the file to delete and ``rebuild`` (how to make it again)."""
    p = Path(path)
    side = sidecar_path(p)
    if not side.exists():
        if required:
            raise CorruptedCheckpointError(f"{p} has no checksum file {side.name}, so it cannot be trusted. "
                                           + _rebuild_text(p, rebuild))
        return
    recorded = side.read_text().split()
    expected = recorded[0] if recorded else ""
    actual = sha256_file(p)
    if actual != expected:
        raise CorruptedCheckpointError(
            f"{p} fails its sha256 check (the checksum file {side.name} says {expected[:12]}..., the file hashes to"
            f" {actual[:12]}...): it was truncated or changed after it was written. " + _rebuild_text(p, rebuild)
        )


def write_text_atomic(path: str | os.PathLike, text: str, *, checksum: bool = False) -> Path:
    """Write ``text`` atomically; with ``checksum=True`` also its ``.sha256`` sidecar (checked by :func:`read_text`).
    A path ending in ``.gz`` is written gzip-compressed, with a zero timestamp so that the same text gives the same
    bytes (shipped files that count against the package's data budget)."""
    with atomic_path(path) as tmp:
        if Path(path).suffix == ".gz":
            tmp.write_bytes(gzip.compress(text.encode(), mtime=0))
        else:
            tmp.write_text(text)
        if checksum:
            write_checksum(path, sha256_file(tmp))
        else:  # a sidecar left by an earlier checksummed write would now refuse this file on every read
            sidecar_path(path).unlink(missing_ok=True)
    return Path(path)


def write_json_atomic(path: str | os.PathLike, obj: Any, *, checksum: bool = False, compact: bool = False) -> Path:
    """``obj`` as sorted JSON, atomically. ``compact``: one key or item per line without indentation or padding (a
    quarter smaller, still line-diffable), for shipped files that count against the package's data budget."""
    text = (json.dumps(obj, indent=0, separators=(",", ":"), sort_keys=True, default=str) if compact
            else json.dumps(obj, indent=2, sort_keys=True, default=str))
    return write_text_atomic(path, text + "\n", checksum=checksum)


def write_csv_atomic(path: str | os.PathLike, df: Any, **to_csv: Any) -> Path:
    """A result table (pandas DataFrame) as CSV, atomically, with its ``.sha256`` sidecar; read it with :func:`read_csv`."""
    return write_text_atomic(path, df.to_csv(**{"index": False, **to_csv}), checksum=True)


def read_text(path: str | os.PathLike, *, rebuild: str | None = None, required: bool = False) -> str:
    """The text of ``path``, verified against its ``.sha256`` sidecar when it has one (always, if ``required``)."""
    p = Path(path)
    if not p.exists():
        raise MissingWeightsError(f"{p} does not exist. Check the path, or rebuild it: "
                                  f"{rebuild or 'rerun the command that writes it'}.")
    verify_checksum(p, rebuild=rebuild, required=required)
    if p.suffix == ".gz":
        try:
            return gzip.decompress(p.read_bytes()).decode()
        except (OSError, EOFError, zlib.error, UnicodeDecodeError) as e:
            raise CorruptedCheckpointError(f"{p} is not a whole gzip file ({e}). " + _rebuild_text(p, rebuild)) from e
    return p.read_text()


def read_json(path: str | os.PathLike, *, rebuild: str | None = None, required: bool = False) -> Any:
    p = Path(path)
    text = read_text(p, rebuild=rebuild, required=required)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise CorruptedCheckpointError(f"{p} is not valid JSON ({e}). " + _rebuild_text(p, rebuild)) from e


def read_csv(path: str | os.PathLike, *, rebuild: str | None = None, required: bool = False, **kwargs: Any) -> Any:
    """``pandas.read_csv`` of a result file, verified against its ``.sha256`` sidecar first (a truncated CSV parses
    without complaint, so only the checksum can tell)."""
    import io as _io

    import pandas as pd

    text = read_text(path, rebuild=rebuild, required=required)
    if not text.strip():  # pandas would raise its own EmptyDataError, which names neither the file nor the fix
        raise EmptyInputError(f"{path} is empty (not even a header row). " + _rebuild_text(Path(path), rebuild))
    return pd.read_csv(_io.StringIO(text), **kwargs)


def tensors_checksum(tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str] | None = None) -> str:
    """sha256 of named tensors (:func:`hash_tensors`) and of the metadata stored beside them."""
    h = hashlib.sha256(hash_tensors(tensors).encode())
    meta = {k: v for k, v in (metadata or {}).items() if k != CHECKSUM_KEY}
    h.update(json.dumps(meta, sort_keys=True).encode())
    return h.hexdigest()


def save_tensors_atomic(path: str | os.PathLike, tensors: Mapping[str, torch.Tensor], metadata: dict[str, str] | None = None) -> Path:
    """Write a safetensors file atomically, with a sha256 of its tensors and metadata in its header."""
    from safetensors.torch import save_file

    plain = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    meta = dict(metadata or {})
    meta[CHECKSUM_KEY] = tensors_checksum(plain, meta)
    with atomic_path(path) as tmp:
        save_file(plain, str(tmp), metadata=meta)
    return Path(path)


def read_tensors(path: str | os.PathLike, *, rebuild: str | None = None,
                 required: bool = False) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """``(tensors, metadata)`` of a safetensors file, its stored checksum verified (a file without one is accepted
    unless ``required``). A missing, truncated or changed file raises a typed error naming the file and the fix."""
    from safetensors import safe_open

    p = Path(path)
    if not p.exists():
        raise MissingWeightsError(f"{p} does not exist. Check the path, or rebuild it: "
                                  f"{rebuild or 'rerun the command that writes it'}.")
    try:
        with safe_open(str(p), framework="pt") as f:
            meta = dict(f.metadata() or {})
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # safetensors raises SafetensorError / OSError on truncation
        raise CorruptedCheckpointError(
            f"Cannot read {p} as safetensors ({type(e).__name__}: {e}). The file is truncated or corrupted. "
            + _rebuild_text(p, rebuild)
        ) from e
    stored = meta.get(CHECKSUM_KEY)
    if stored is None:
        if required:
            raise CorruptedCheckpointError(f"{p} holds no checksum, so it cannot be trusted. " + _rebuild_text(p, rebuild))
    elif tensors_checksum(tensors, meta) != stored:
        raise CorruptedCheckpointError(
            f"{p} fails its sha256 check: its tensors or metadata changed after it was written. "
            + _rebuild_text(p, rebuild)
        )
    meta.pop(CHECKSUM_KEY, None)
    return tensors, meta


def load_tensors(path: str | os.PathLike, *, rebuild: str | None = None, required: bool = False) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file (see :func:`read_tensors`: checksum verified, typed errors)."""
    return read_tensors(path, rebuild=rebuild, required=required)[0]


def remove_tree(path: str | os.PathLike) -> None:
    """Delete a folder that another process may be deleting at the same moment (missing entries are not errors)."""
    shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def file_lock(path: str | os.PathLike, timeout: float | int = -1) -> Iterator[None]:
    """Hold an exclusive lock on ``<path>.lock`` (``filelock``: an OS lock, released when the process dies, so a
    killed holder never blocks the next run). Concurrent writers of one cache entry take turns through it."""
    from filelock import FileLock, Timeout

    lock_path = Path(str(path) + ".lock")
    ensure_dir(lock_path.parent)
    lock = FileLock(str(lock_path), timeout=timeout)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log.info("Waiting for another process that holds %s (the same job is running there).", lock_path)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


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
    sha = ((getattr(model, "manifest", None) or {}).get("files") or {}).get(WEIGHTS_FILE)
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
