"""LoRA adapters as a source: the adapter folder format, merging into a plain folder, and the adapter pairs.

An adapter folder holds peft's ``adapter_model.safetensors`` and ``adapter_config.json`` plus ``manifest.json``
(the run's config, metrics, and the sha256 of every file; ``base_model`` names the model it was trained on). Every
adapter folder under :func:`adapter_roots` whose base is a known model is a pair: the base model against base +
adapter. The RL member is merged once (peft ``merge_and_unload``) into an ordinary Hugging Face folder cached under
``$RLMETA_HOME/merged``, so both members load the same way and TransformerLens sees plain weights.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import ModelSpec, PairSpec, SourceKind
from ..errors import CorruptedCheckpointError, ManifestMismatchError, MissingWeightsError
from ..io import ensure_dir, read_json, sha256_file, verify_sha256, write_json_atomic
from ..paths import data_dir, home_dir
from ..provenance import package_versions
from .base import MANIFEST_NAME, read_manifest
from .hf_folder import load_hf_folder

if TYPE_CHECKING:
    from peft import PeftModel
    from transformers import PreTrainedModel

log = logging.getLogger(__name__)

ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_KIND = "rl-adapter"  # the manifest "kind" of an adapter folder
MERGED_MARKER = "merged_from.json"
_VERSIONED = ("torch", "transformers", "trl", "peft", "accelerate", "safetensors")


def adapter_roots() -> list[Path]:
    """Folders searched for ``<name>/manifest.json`` adapters: the shipped ``data/adapters``, then the user's."""
    return [data_dir() / "adapters", home_dir() / "adapters"]


def _fresh_build_dir(out_dir: Path) -> Path:
    """A temporary sibling of ``out_dir`` to build in, renamed into place when complete (never a half folder)."""
    ensure_dir(out_dir.parent)
    build = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".building", dir=out_dir.parent))
    os.chmod(build, 0o755)  # mkdtemp makes it private; the finished folder is an ordinary shared one
    return build


def _replace(build: Path, out_dir: Path) -> None:
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.rename(out_dir, old)
        os.rename(build, out_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(build, out_dir)


def save_adapter(peft_model: PeftModel, out_dir: str | os.PathLike, manifest: dict[str, Any],
                 checkpoints: str | os.PathLike | None = None) -> Path:
    """Save a peft model's adapter (safetensors) plus ``manifest.json`` with sha256 of every file.

    Built in a temporary sibling folder and renamed into place; an existing ``out_dir`` is replaced.
    ``checkpoints`` (a folder of ``step_NNNNNN`` adapter folders) is moved in as ``checkpoints/``.
    """
    out_dir = Path(out_dir)
    build = _fresh_build_dir(out_dir)
    try:
        peft_model.save_pretrained(str(build), safe_serialization=True)
        if not (build / ADAPTER_WEIGHTS).exists():
            raise CorruptedCheckpointError(f"peft did not write {ADAPTER_WEIGHTS} into {build}.")
        # keep machine paths out of shippable files: peft records the base folder's absolute path
        (build / "README.md").unlink(missing_ok=True)  # peft's empty model-card template
        adapter_cfg = read_json(build / "adapter_config.json")
        adapter_cfg["base_model_name_or_path"] = manifest.get("base_model", adapter_cfg.get("base_model_name_or_path"))
        write_json_atomic(build / "adapter_config.json", adapter_cfg)
        if checkpoints is not None and Path(checkpoints).is_dir():
            shutil.move(str(checkpoints), str(build / "checkpoints"))
            for cfg_file in (build / "checkpoints").glob("*/adapter_config.json"):
                write_json_atomic(cfg_file, {**read_json(cfg_file),
                                             "base_model_name_or_path": adapter_cfg["base_model_name_or_path"]})
        files = {str(p.relative_to(build)): sha256_file(p) for p in sorted(build.rglob("*"))
                 if p.is_file() and p.name != MANIFEST_NAME}
        write_json_atomic(build / MANIFEST_NAME, {**manifest, "files": files, "versions": package_versions(_VERSIONED)})
        _replace(build, out_dir)
    finally:
        if build.exists():
            shutil.rmtree(build, ignore_errors=True)
    return out_dir


def verify_adapter(adapter_dir: str | os.PathLike) -> dict[str, Any]:
    """Check the adapter files against their manifest sha256; return the manifest."""
    adapter_dir = Path(adapter_dir)
    if not (adapter_dir / MANIFEST_NAME).exists():
        raise MissingWeightsError(
            f"{adapter_dir} has no {MANIFEST_NAME}, so it is not an adapter folder written by"
            " `python -m rlmeta_interp.realrl`. Pass such a folder."
        )
    manifest = read_manifest(adapter_dir / MANIFEST_NAME)
    files = manifest.get("files") or {}
    if ADAPTER_WEIGHTS not in files:
        raise CorruptedCheckpointError(f"{adapter_dir / MANIFEST_NAME} lists no {ADAPTER_WEIGHTS}: re-copy the folder.")
    for rel, sha in files.items():
        verify_sha256(adapter_dir / rel, sha)
    return manifest


def load_with_adapter(base_model: PreTrainedModel, adapter_dir: str | os.PathLike, *,
                      merge: bool = True) -> PreTrainedModel | PeftModel:
    """Attach a verified adapter to ``base_model``; with ``merge`` return a plain merged model (``merge_and_unload``)."""
    from peft import PeftModel

    verify_adapter(adapter_dir)
    peft_model = PeftModel.from_pretrained(base_model, str(adapter_dir), is_trainable=False)
    return peft_model.merge_and_unload().eval() if merge else peft_model.eval()


def _merged_is_current(out_dir: Path, adapter_sha: str) -> bool:
    """True when ``out_dir`` was merged from this adapter and every file still has the hash recorded then."""
    marker = out_dir / MERGED_MARKER
    if not marker.exists():
        return False
    record = read_json(marker)
    if record.get("adapter_sha256") != adapter_sha:
        return False
    try:
        for rel, sha in (record.get("files") or {}).items():
            verify_sha256(out_dir / rel, sha)
    except (ManifestMismatchError, MissingWeightsError) as e:
        log.warning("Merged folder %s is damaged (%s); merging it again.", out_dir, e)
        return False
    return True


def merged_folder(adapter_dir: str | os.PathLike, out_dir: str | os.PathLike, base_folder: str | os.PathLike) -> Path:
    """Write base + adapter, merged, as a Hugging Face folder (the RL member of an adapter pair).

    Reused when ``out_dir`` was merged from the same adapter and its files still match their recorded hashes;
    otherwise (re)built in a temporary sibling and renamed into place.
    """
    out_dir = Path(out_dir)
    manifest = verify_adapter(adapter_dir)
    adapter_sha = manifest["files"][ADAPTER_WEIGHTS]
    if _merged_is_current(out_dir, adapter_sha):
        return out_dir
    model, tok = load_hf_folder(base_folder)
    merged = load_with_adapter(model, adapter_dir, merge=True)
    build = _fresh_build_dir(out_dir)
    try:
        merged.save_pretrained(str(build))
        tok.save_pretrained(str(build))
        write_json_atomic(build / MERGED_MARKER, {
            "adapter_dir": str(Path(adapter_dir).resolve()),
            "adapter_sha256": adapter_sha,
            "base_folder": str(Path(base_folder).resolve()),
            "files": {str(p.relative_to(build)): sha256_file(p) for p in sorted(build.rglob("*")) if p.is_file()},
        })
        _replace(build, out_dir)
    finally:
        if build.exists():
            shutil.rmtree(build, ignore_errors=True)
    return out_dir


class AdapterSource:
    """Adapter folders under :func:`adapter_roots` as pairs; an adapter model resolves to its merged folder.

    ``resolve`` turns the parent (base) spec into its folder and ``available`` says whether it can load; the source
    table passes its own functions, so this module needs no other source.
    """

    kind: SourceKind = "adapter"

    def __init__(self, resolve: Callable[[ModelSpec], Path], available: Callable[[ModelSpec], bool]) -> None:
        self._resolve = resolve
        self._available = available

    def models(self) -> dict[str, ModelSpec]:
        return {}

    def folder(self, spec: ModelSpec) -> Path:
        assert spec.parent is not None  # ModelSpec guarantees a parent for every adapter spec
        adapter = Path(spec.location)
        sha = verify_adapter(adapter)["files"][ADAPTER_WEIGHTS]
        base_folder = self._resolve(spec.parent)
        tag = adapter.name.replace(spec.parent.name, "").strip("-") or "rl"
        return merged_folder(adapter, home_dir() / "merged" / f"{base_folder.name}-{tag}-{sha[:8]}", base_folder)

    def manifest(self, spec: ModelSpec) -> dict[str, Any] | None:
        return read_manifest(Path(spec.location) / MANIFEST_NAME)

    def available(self, spec: ModelSpec) -> bool:
        """The adapter folder is here and its parent model can load."""
        assert spec.parent is not None  # ModelSpec guarantees a parent for every adapter spec
        return (Path(spec.location) / ADAPTER_WEIGHTS).exists() and self._available(spec.parent)

    def pairs(self, models: Mapping[str, ModelSpec]) -> dict[str, PairSpec]:
        """One pair per adapter folder whose manifest's ``base_model`` is a known model (first root wins)."""
        out: dict[str, PairSpec] = {}
        for root in adapter_roots():
            if not root.is_dir():
                continue
            for mpath in sorted(root.glob(f"*/{MANIFEST_NAME}")):
                m = read_manifest(mpath)
                name, base = m.get("name", mpath.parent.name), models.get(str(m.get("base_model")))
                if m.get("kind") != ADAPTER_KIND or name in out:
                    continue
                if base is None:
                    log.debug("Adapter %s names base %r, which no source knows; not listed.", mpath.parent,
                              m.get("base_model"))
                    continue
                out[name] = _adapter_pair(name, base, mpath.parent, m)
        return out


def _adapter_pair(name: str, base: ModelSpec, adapter: Path, m: Mapping[str, Any]) -> PairSpec:
    rl = ModelSpec(name=name, source="adapter", location=str(adapter), parent=base,
                   description=f"{base.name} + {m.get('method', 'LoRA adapter')}, merged on load")
    rebuild = f"`python -m rlmeta_interp.realrl --config {adapter / 'run.json'} --out DIR`"
    install = "pip install -e '.[real]'; " if base.source == "embedded" else ""
    return PairSpec(
        name=name, base=base, rl=rl, world=m.get("world"), dose=None,
        description=f"{base.name} base vs the project's RL adapter on {m.get('world')} problems (real LM, dose unknown)",
        how_to_obtain=f"{install}the adapter lies in {adapter}; rebuild it with {rebuild}",
        label=m.get("label"), split=m.get("split"), recipe=m.get("recipe") or "",
        extra={"adapter": str(adapter)},
    )
