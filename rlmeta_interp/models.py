"""Load a model or a base/RL pair, offline, into TransformerLens, with the Hugging Face model alongside.

Design (see STACK.md for the measurements behind it):
- Every :class:`LoadedModel` holds the Hugging Face model (``.hf``: bulk harvesting and sampling, the fast path) and
  builds a TransformerLens model (``.tl``) lazily from the same weights (interactive hooks and steering).
- ``.tl`` is a ``HookedTransformer`` for Llama, Qwen2 and GPT-2 folders, and a ``TransformerBridge`` (canonical hook
  names, no compatibility-mode folding) for architectures TransformerLens 3.9 cannot read from a folder, e.g. Gemma-3.
- Default weight processing is ``"none"``, so TransformerLens activations equal the Hugging Face model's and the
  fast path is exact; both members of a pair always share one :class:`LoadConfig`, recorded on each model.
- TransformerLens 3.9 sniffs words such as ``llama``/``gemma`` in a *path* before reading ``config.json``; it is
  always handed a neutrally named symlink to the folder.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from jaxtyping import Int
from torch import Tensor

from . import registry
from .config import LoadConfig, ModelSpec, PairSpec
from .errors import (
    CorruptedCheckpointError,
    HookNotFoundError,
    IncompatiblePairError,
    InvalidConfigError,
    MissingWeightsError,
    UnknownModelError,
)
from .hooks import SITES, hook_name, resolve_layer
from .io import verify_sha256

log = logging.getLogger(__name__)

# Architectures whose folders TransformerLens 3.9 converts into a HookedTransformer.
HOOKED_ARCHS = frozenset({"LlamaForCausalLM", "Qwen2ForCausalLM", "GPT2LMHeadModel", "MistralForCausalLM",
                          "Qwen3ForCausalLM", "GemmaForCausalLM", "Gemma2ForCausalLM"})
# Architectures that go through TransformerBridge instead.
BRIDGE_ARCHS = frozenset({"Gemma3ForCausalLM"})
_WEIGHT_GLOBS = ("*.safetensors", "pytorch_model*.bin")
_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


# --------------------------------------------------------------------------------------------------------- folders
def check_device(device: str, fix: str = "LoadConfig(device='cpu')") -> None:
    """Raise InvalidConfigError for a device this machine does not have; ``fix`` is the setting the message suggests."""
    try:
        dev = torch.device(device)
    except RuntimeError as e:
        raise InvalidConfigError(f"{device!r} is not a torch device; use 'cpu', 'cuda' or 'cuda:N'.") from e
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise InvalidConfigError(f"device={device!r} but this machine has no CUDA GPU: use {fix}.")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise InvalidConfigError(f"device={device!r} but only {torch.cuda.device_count()} GPU(s) exist.")
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise InvalidConfigError(f"device='mps' is not available here: use {fix}.")


def _check_folder(folder: Path) -> None:
    if not (folder / "config.json").exists():
        raise MissingWeightsError(
            f"{folder} has no config.json, so it is not a Hugging Face model folder. Pass a folder written by"
            " `save_pretrained`, or a registry name (`rlmeta-interp list`)."
        )
    if not any(any(folder.glob(g)) for g in _WEIGHT_GLOBS):
        raise MissingWeightsError(
            f"{folder} has a config.json but no weight files (*.safetensors). Copy the weights into the folder"
            " or rebuild the model (`rlmeta-interp zoo build`)."
        )


def _verify_manifest(folder: Path, manifest: dict) -> None:
    """Check the sha256 of the top-level weight files a manifest lists (checkpoints are checked when read)."""
    for rel, sha in manifest.get("files", {}).items():
        if "/" not in rel:
            verify_sha256(folder / rel, sha)


def _hub_folder(repo_id: str, revision: str | None) -> Path:
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id, revision=revision, local_files_only=True))
    except Exception as e:  # huggingface_hub raises LocalEntryNotFoundError / OSError when not cached
        raise MissingWeightsError(
            f"{repo_id} is not in the local hub cache ({type(e).__name__}). " + registry._HUB_HOW.format(rid=repo_id)
        ) from e


def resolve_folder(spec: ModelSpec) -> Path:
    if spec.source in ("zoo", "folder"):
        return Path(spec.location)
    if spec.source == "hub":
        return _hub_folder(spec.location, spec.revision)
    if spec.source == "embedded":
        from . import embedded

        return embedded.ensure_local_folder(spec.location)
    raise InvalidConfigError(f"Unknown model source {spec.source!r}.")


def load_hf_folder(folder: str | os.PathLike, config: LoadConfig = LoadConfig()) -> tuple[Any, Any]:
    """Hugging Face causal LM and tokenizer from a local folder, offline, eval mode. No TransformerLens."""
    from safetensors import SafetensorError
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a weight-loading bar per model clutters notebooks and logs
    folder = Path(folder)
    _check_folder(folder)
    check_device(config.device)
    has_st = any(folder.glob("*.safetensors"))
    try:
        hf = AutoModelForCausalLM.from_pretrained(
            folder, dtype=_DTYPES[config.dtype], local_files_only=True, use_safetensors=has_st,
            trust_remote_code=config.trust_remote_code,
        )
    except (OSError, ValueError, RuntimeError, SafetensorError) as e:
        text = str(e)
        if "trust_remote_code" in text:
            raise InvalidConfigError(
                f"{folder} needs custom code to load. Only if you trust its author, pass"
                " LoadConfig(trust_remote_code=True)."
            ) from e
        raise CorruptedCheckpointError(
            f"Could not load the weights in {folder} ({type(e).__name__}: {text[:300]}). The files are truncated,"
            " corrupted or incomplete: re-copy or rebuild them."
        ) from e
    try:
        tok = AutoTokenizer.from_pretrained(folder, local_files_only=True, trust_remote_code=config.trust_remote_code)
    except (OSError, ValueError) as e:
        raise MissingWeightsError(f"{folder} has no usable tokenizer files ({e}). Save the tokenizer into the folder.") from e
    if tok.pad_token_id is None and tok.eos_token_id is not None:
        tok.pad_token = tok.eos_token
    return hf.to(config.device).eval(), tok


# --------------------------------------------------------------------------------------------------- LoadedModel
@dataclass
class LoadedModel:
    """A model ready for analysis: the Hugging Face model plus a lazily built TransformerLens view."""

    name: str
    spec: ModelSpec
    folder: Path
    hf: Any
    tokenizer: Any
    load_config: LoadConfig
    manifest: dict | None = None
    _tl: Any = field(default=None, repr=False)

    # ---- facts
    @property
    def architecture(self) -> str:
        archs = getattr(self.hf.config, "architectures", None) or [type(self.hf).__name__]
        return archs[0]

    @property
    def n_layers(self) -> int:
        c = self.hf.config
        return int(getattr(c, "num_hidden_layers", None) or getattr(c, "n_layer"))

    @property
    def d_model(self) -> int:
        c = self.hf.config
        return int(getattr(c, "hidden_size", None) or getattr(c, "n_embd"))

    @property
    def n_ctx(self) -> int | None:
        from .sampling import context_length

        return context_length(self.hf)

    @property
    def device(self) -> torch.device:
        return next(self.hf.parameters()).device

    @property
    def prepend_bos(self) -> bool:
        """Whether inputs start with BOS. Qwen-family models have none; the same rule feeds TL and the HF path."""
        if self.tokenizer.bos_token_id is None:
            return False
        return not self.architecture.startswith("Qwen")

    @property
    def processing(self) -> str:
        return self.load_config.processing

    # ---- TransformerLens
    @property
    def tl(self) -> Any:
        if self._tl is None:
            self._tl = _build_tl(self)
        return self._tl

    def hook_names(self) -> list[str]:
        return [hook_name(layer, site) for layer in range(self.n_layers) for site in SITES]

    def check_hook(self, name: str) -> str:
        if name in self.hook_names():
            return name
        from .hooks import parse_hook_name

        parsed = parse_hook_name(name)
        if parsed is not None:  # canonical spelling, wrong layer
            resolve_layer(parsed[0], self.n_layers)
        elif name in self.tl.hook_dict:  # any other TransformerLens hook point
            return name
        raise HookNotFoundError(name, self.hook_names())

    def layer(self, layer: int) -> int:
        return resolve_layer(layer, self.n_layers)

    def to_tokens(self, prompts: list[str] | str, padding_side: str = "right") -> tuple[Int[Tensor, "batch pos"], Int[Tensor, "batch pos"]]:
        from .sampling import encode_prompts

        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        return encode_prompts(self.tokenizer, prompts, prepend_bos=self.prepend_bos, padding_side=padding_side,
                              max_len=self.n_ctx)


@contextlib.contextmanager
def _neutral_link(folder: Path) -> Iterator[Path]:
    """A symlink to ``folder`` whose path contains no architecture words (TransformerLens 3.9 sniffs paths),
    removed when the block ends (TransformerLens reads the folder only while it builds the model)."""
    for _ in range(10):
        with tempfile.TemporaryDirectory(prefix="rlm") as tmp:
            link = Path(tmp) / "model"
            lowered = str(link).lower()
            if any(w in lowered for w in ("llama", "gemma", "qwen", "gpt", "mistral", "pythia", "bert", "t5")):
                continue
            link.symlink_to(folder.resolve(), target_is_directory=True)
            yield link
            return
    raise RuntimeError("Could not make a neutral temporary path; set TMPDIR to a plain folder name.")


def _build_tl(m: LoadedModel) -> Any:
    with _neutral_link(m.folder) as link:
        return _build_tl_from(m, link)


def _build_tl_from(m: LoadedModel, link: Path) -> Any:
    arch = m.architecture
    dtype = _DTYPES[m.load_config.dtype]
    fold = m.load_config.processing == "fold_ln"
    if arch in HOOKED_ARCHS:
        import transformer_lens.loading_from_pretrained as lfp
        from transformer_lens import HookedTransformer

        cfg = lfp.get_pretrained_model_config(str(link), fold_ln=fold, device=m.load_config.device, dtype=dtype)
        cfg.default_prepend_bos = m.prepend_bos
        tl = HookedTransformer(cfg, tokenizer=m.tokenizer, move_to_device=False, default_padding_side="right")
        sd = lfp.get_pretrained_state_dict(str(link), cfg, hf_model=m.hf, dtype=dtype)
        tl.load_and_process_state_dict(sd, fold_ln=fold, center_writing_weights=fold, center_unembed=fold,
                                       fold_value_biases=fold, refactor_factored_attn_matrices=False)
        tl.to(m.load_config.device, print_details=False)
    elif arch in BRIDGE_ARCHS:
        from transformer_lens.model_bridge import TransformerBridge

        tl = TransformerBridge.boot_transformers(str(link), device=m.load_config.device, dtype=dtype,
                                                 tokenizer=m.tokenizer, hf_model=m.hf,
                                                 trust_remote_code=m.load_config.trust_remote_code)
        if fold:
            tl.enable_compatibility_mode(disable_warnings=True)
        tl.cfg.default_prepend_bos = m.prepend_bos
    else:
        raise IncompatiblePairError(
            f"Architecture {arch} of {m.name} has no TransformerLens path here (supported: "
            f"{sorted(HOOKED_ARCHS | BRIDGE_ARCHS)}). Harvesting and sampling still work through `.hf`."
        )
    tl.eval()
    tl.rlmeta_processing = m.load_config.processing  # recorded on the object itself
    return tl


def load_model(name_or_path: str | os.PathLike, config: LoadConfig = LoadConfig()) -> LoadedModel:
    """A registry name (zoo, embedded, hub id in the local cache) or a local folder -> :class:`LoadedModel`."""
    if isinstance(name_or_path, LoadedModel):
        return name_or_path
    text = str(name_or_path)
    path = Path(text).expanduser()
    manifest = None
    if path.is_dir():
        spec = ModelSpec(name=path.name, source="folder", location=str(path.resolve()))
        mpath = path / "manifest.json"
        if mpath.exists():
            manifest = registry._read_manifest(mpath)
    else:
        looks_like_path = text.startswith(("/", ".", "~")) or text.count("/") > 1 or path.exists()
        if looks_like_path:
            raise MissingWeightsError(f"Folder {path} does not exist (or is not a folder). Check the path.")
        try:
            spec = registry.get_model(text)
        except UnknownModelError:
            if text.count("/") == 1:  # looks like a hub id that is not in the table: try the local cache
                spec = ModelSpec(name=text, source="hub", location=text)
            else:
                raise
        manifest = registry.manifest_of(spec.name) if spec.source == "zoo" else None
    folder = resolve_folder(spec)
    _check_folder(folder)
    if manifest is not None:
        _verify_manifest(folder, manifest)
    elif spec.source == "embedded" and (folder / "manifest.json").exists():
        # ensure_local_folder has just checked every hash; attach the manifest (licence notice, provenance)
        manifest = registry._read_manifest(folder / "manifest.json")
    hf, tok = load_hf_folder(folder, config)
    log.info("Loaded %s (%s, %d layers, d_model %d) from %s", spec.name, type(hf).__name__,
             hf.config.num_hidden_layers if hasattr(hf.config, "num_hidden_layers") else -1,
             getattr(hf.config, "hidden_size", -1), folder)
    return LoadedModel(name=spec.name, spec=spec, folder=folder, hf=hf, tokenizer=tok, load_config=config, manifest=manifest)


# ------------------------------------------------------------------------------------------------------------ pairs
@dataclass
class Pair:
    name: str
    base: LoadedModel
    rl: LoadedModel
    spec: PairSpec

    @property
    def world(self) -> str | None:
        return self.spec.world

    @property
    def dose(self) -> float | None:
        return self.spec.dose

    @property
    def n_layers(self) -> int:
        return self.base.n_layers

    def __iter__(self):
        return iter((self.base, self.rl))


def validate_pair(base: LoadedModel, rl: LoadedModel) -> None:
    """Raise IncompatiblePairError naming every mismatch that makes base and RL incomparable."""
    problems = []
    vb, vr = base.tokenizer.get_vocab(), rl.tokenizer.get_vocab()
    if vb != vr:
        only_b, only_r = len(set(vb) - set(vr)), len(set(vr) - set(vb))
        moved = sum(1 for t in set(vb) & set(vr) if vb[t] != vr[t])
        problems.append(f"tokenizers differ ({len(vb)} vs {len(vr)} tokens; {only_b} only in base,"
                        f" {only_r} only in RL, {moved} with different ids)")
    if base.d_model != rl.d_model:
        problems.append(f"d_model differs ({base.d_model} vs {rl.d_model})")
    if base.n_layers != rl.n_layers:
        problems.append(f"number of layers differs ({base.n_layers} vs {rl.n_layers})")
    if base.load_config != rl.load_config:
        problems.append("they were loaded with different LoadConfigs")
    if problems:
        raise IncompatiblePairError(
            f"{base.name} and {rl.name} are not a comparable base/RL pair: " + "; ".join(problems)
            + ". A pair must be one architecture and tokenizer before and after RL: check that the RL model was"
            " tuned from this base."
        )


def load_pair(name_or_models: str | tuple[str | os.PathLike, str | os.PathLike], config: LoadConfig = LoadConfig()) -> Pair:
    """A registered pair name, or ``(base, rl)`` as names/folders -> validated :class:`Pair`."""
    if isinstance(name_or_models, (tuple, list)):
        if len(name_or_models) != 2:
            raise InvalidConfigError("load_pair((base, rl)) takes exactly two models.")
        base, rl = (load_model(x, config) for x in name_or_models)
        spec = PairSpec(name=f"{base.name}~{rl.name}", base=base.spec, rl=rl.spec)
    else:
        spec = registry.get_pair(str(name_or_models))
        if spec.extra.get("loader"):  # pairs contributed by optional modules load themselves (e.g. adapters)
            from . import embedded

            base, rl = embedded.load_pair_models(spec, config)
        else:
            base = load_model(spec.base.name if spec.base.source == "zoo" else spec.base.location, config) \
                if spec.base.source != "embedded" else load_model(spec.base.name, config)
            rl = load_model(spec.rl.name if spec.rl.source == "zoo" else spec.rl.location, config)
    validate_pair(base, rl)
    return Pair(name=spec.name, base=base, rl=rl, spec=spec)
