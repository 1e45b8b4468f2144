"""Load a model or a base/RL pair, offline, into TransformerLens, with the Hugging Face model alongside.

Every name, folder or hub id resolves to a :class:`~rlmeta_interp.config.ModelSpec` (:func:`registry.resolve_model
<rlmeta_interp.registry.resolve_model>`), every spec to a verified local folder through its model source
(:mod:`rlmeta_interp.sources`), and every folder is read by the one strict loader
(:func:`~rlmeta_interp.sources.hf_folder.load_hf_folder`: no tensor is ever silently random).

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
import dataclasses
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from jaxtyping import Int
from torch import Tensor
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from . import registry, sources
from .config import LoadConfig, ModelSpec, PairSpec
from .errors import HookNotFoundError, IncompatiblePairError, InvalidConfigError
from .hooks import SITES, hook_name, parse_hook_name, resolve_layer
from .io import WEIGHTS_FILE, sha256_file
from .sampling import context_length, encode_prompts
from .sources.hf_folder import DTYPES, check_device, load_hf_folder

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer
    from transformer_lens.model_bridge import TransformerBridge

log = logging.getLogger(__name__)

__all__ = ["BRIDGE_ARCHS", "HOOKED_ARCHS", "LoadedModel", "Pair", "check_device", "load_hf_folder", "load_model",
           "load_pair", "load_spec", "validate_pair"]

# Architectures whose folders TransformerLens 3.9 converts into a HookedTransformer.
HOOKED_ARCHS = frozenset({"LlamaForCausalLM", "Qwen2ForCausalLM", "GPT2LMHeadModel", "MistralForCausalLM",
                          "Qwen3ForCausalLM", "GemmaForCausalLM", "Gemma2ForCausalLM"})
# Architectures that go through TransformerBridge instead.
BRIDGE_ARCHS = frozenset({"Gemma3ForCausalLM"})


# --------------------------------------------------------------------------------------------------- LoadedModel
@dataclass
class LoadedModel:
    """A model ready for analysis: the Hugging Face model plus a lazily built TransformerLens view."""

    name: str
    spec: ModelSpec
    folder: Path
    hf: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    load_config: LoadConfig
    manifest: dict[str, Any] | None = None
    _tl: HookedTransformer | TransformerBridge | None = field(default=None, repr=False)

    # ---- facts
    @property
    def architecture(self) -> str:
        archs = getattr(self.hf.config, "architectures", None) or [type(self.hf).__name__]
        return archs[0]

    @property
    def n_layers(self) -> int:
        c = self.hf.config
        return int(getattr(c, "num_hidden_layers", None) or c.n_layer)

    @property
    def d_model(self) -> int:
        c = self.hf.config
        return int(getattr(c, "hidden_size", None) or c.n_embd)

    @property
    def n_ctx(self) -> int | None:
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
    def tl(self) -> HookedTransformer | TransformerBridge:
        if self._tl is None:
            self._tl = _build_tl(self)
        return self._tl

    @property
    def tl_built(self) -> bool:
        """Whether :attr:`tl` has been built (it is built on first use)."""
        return self._tl is not None

    def hook_names(self) -> list[str]:
        return [hook_name(layer, site) for layer in range(self.n_layers) for site in SITES]

    def check_hook(self, name: str) -> str:
        if name in self.hook_names():
            return name
        parsed = parse_hook_name(name)
        if parsed is not None:  # canonical spelling, wrong layer
            resolve_layer(parsed[0], self.n_layers)
        elif name in self.tl.hook_dict:  # any other TransformerLens hook point
            return name
        raise HookNotFoundError(name, self.hook_names())

    def layer(self, layer: int) -> int:
        return resolve_layer(layer, self.n_layers)

    def with_hf(self, hf: PreTrainedModel, name: str) -> LoadedModel:
        """This model with its Hugging Face network replaced by ``hf`` (same tokenizer, folder and load config; e.g. a
        fine-tuned copy), named ``name``. Its TransformerLens view is built afresh from ``hf``'s weights on first use."""
        return dataclasses.replace(self, name=name, hf=hf, _tl=None)

    def to_tokens(self, prompts: list[str] | str, padding_side: str = "right") -> tuple[Int[Tensor, "batch pos"], Int[Tensor, "batch pos"]]:
        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        return encode_prompts(self.tokenizer, prompts, prepend_bos=self.prepend_bos, padding_side=padding_side,
                              max_len=self.n_ctx)


def _fixed_config(folder: Path) -> dict[str, Any] | None:
    """``folder``'s ``config.json`` with the keys TransformerLens 3.9 reads and the installed transformers no longer
    writes, or None when it needs none: a GPT-2 folder saved by transformers 5 has ``n_positions`` but no ``n_ctx``,
    which TransformerLens' GPT-2 conversion reads (the two are the same context length)."""
    cfg = json.loads((folder / "config.json").read_text())
    if cfg.get("model_type") == "gpt2" and "n_ctx" not in cfg and "n_positions" in cfg:
        return {**cfg, "n_ctx": cfg["n_positions"]}
    return None


@contextlib.contextmanager
def _neutral_link(folder: Path) -> Iterator[Path]:
    """A path to ``folder``'s files that contains no architecture words (TransformerLens 3.9 sniffs paths), removed
    when the block ends (TransformerLens reads the folder only while it builds the model): a symlink to the folder,
    or, when its config needs fixing (:func:`_fixed_config`), a folder of symlinks to its files with the fixed
    ``config.json`` (the user's folder is never written)."""
    fixed = _fixed_config(folder)
    for _ in range(10):
        with tempfile.TemporaryDirectory(prefix="rlm") as tmp:
            link = Path(tmp) / "model"
            lowered = str(link).lower()
            if any(w in lowered for w in ("llama", "gemma", "qwen", "gpt", "mistral", "pythia", "bert", "t5")):
                continue
            if fixed is None:
                link.symlink_to(folder.resolve(), target_is_directory=True)
            else:
                link.mkdir()
                for f in folder.resolve().iterdir():
                    if f.name != "config.json":
                        (link / f.name).symlink_to(f)
                (link / "config.json").write_text(json.dumps(fixed))
            yield link
            return
    raise InvalidConfigError("Could not make a temporary path free of architecture words; set TMPDIR to a plain"
                             " folder name such as /tmp.")


def _build_tl(m: LoadedModel) -> HookedTransformer | TransformerBridge:
    with _neutral_link(m.folder) as link:
        return _build_tl_from(m, link)


def _build_tl_from(m: LoadedModel, link: Path) -> HookedTransformer | TransformerBridge:
    arch = m.architecture
    dtype = DTYPES[m.load_config.dtype]
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
            f"{sorted(HOOKED_ARCHS | BRIDGE_ARCHS)}). Sampling and pass@k still work through `.hf`; harvesting"
            " activations, steering and the scorecard's indicators need one of those architectures."
        )
    tl.eval()
    tl.rlmeta_processing = m.load_config.processing  # recorded on the object itself
    return tl


def _check_load_config(config: Any) -> LoadConfig:
    if not isinstance(config, LoadConfig):
        raise InvalidConfigError(f"config must be a LoadConfig, got {type(config).__name__}: pass LoadConfig(dtype=...)"
                                 " or LoadConfig.from_dict(...).")
    return config


def load_spec(spec: ModelSpec, config: LoadConfig = LoadConfig()) -> LoadedModel:
    """Load the model a spec describes: its source gives the verified folder and the manifest."""
    config = _check_load_config(config)
    source = sources.source_for(spec)
    folder = source.folder(spec)
    hf, tok = load_hf_folder(folder, config)
    log.info("Loaded %s (%s, %d layers, d_model %d) from %s", spec.name, type(hf).__name__,
             getattr(hf.config, "num_hidden_layers", -1), getattr(hf.config, "hidden_size", -1), folder)
    return LoadedModel(name=spec.name, spec=spec, folder=folder, hf=hf, tokenizer=tok, load_config=config,
                       manifest=source.manifest(spec))


def load_model(name_or_path: str | os.PathLike | LoadedModel, config: LoadConfig = LoadConfig()) -> LoadedModel:
    """A registry name (zoo, embedded, hub id in the local cache) or a local folder -> :class:`LoadedModel`."""
    if isinstance(name_or_path, LoadedModel):
        return name_or_path
    return load_spec(registry.resolve_model(name_or_path), config)


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

    def __iter__(self) -> Iterator[LoadedModel]:
        return iter((self.base, self.rl))


_SPECIAL = ("bos", "eos", "pad", "unk")


def _tokenizer_mismatches(base: LoadedModel, rl: LoadedModel) -> list[str]:
    """What differs between the two tokenizers: the vocabulary, the BOS/EOS/pad/unk ids, the other special tokens."""
    out = []
    vb, vr = base.tokenizer.get_vocab(), rl.tokenizer.get_vocab()
    if vb != vr:
        only_b, only_r = len(set(vb) - set(vr)), len(set(vr) - set(vb))
        moved = sum(1 for t in set(vb) & set(vr) if vb[t] != vr[t])
        out.append(f"tokenizers differ ({len(vb)} vs {len(vr)} tokens; {only_b} only in base,"
                   f" {only_r} only in RL, {moved} with different ids)")
    for kind in _SPECIAL:
        b, r = (getattr(m.tokenizer, f"{kind}_token_id") for m in (base, rl))
        if b != r:
            out.append(f"{kind.upper()} token differs (id {b} vs {r})")
    if base.prepend_bos != rl.prepend_bos:
        out.append(f"one prepends BOS and the other does not ({base.prepend_bos} vs {rl.prepend_bos})")
    sb, sr = set(base.tokenizer.all_special_tokens), set(rl.tokenizer.all_special_tokens)
    if sb != sr:
        out.append(f"special tokens differ (only in base: {sorted(sb - sr)[:5]}, only in RL: {sorted(sr - sb)[:5]})")
    return out


def validate_pair(base: LoadedModel, rl: LoadedModel) -> None:
    """Raise IncompatiblePairError naming every mismatch that makes base and RL incomparable.

    Compared: the vocabulary, the BOS/EOS/pad/unk token ids and the other special tokens, whether inputs start with
    BOS, the context length, ``d_model``, the number of layers, and the :class:`LoadConfig`.
    """
    problems = _tokenizer_mismatches(base, rl)
    fixes = []
    if problems:
        fixes.append("if the RL run did not change the tokenizer, copy the base folder's tokenizer files"
                     " (tokenizer.json, tokenizer_config.json, special_tokens_map.json) into the RL folder")
    if base.n_ctx != rl.n_ctx:
        problems.append(f"context length differs ({base.n_ctx} vs {rl.n_ctx})")
        fixes.append("if the RL run kept the base's positions, set max_position_embeddings in the RL folder's"
                     " config.json to the base's value")
    if base.d_model != rl.d_model:
        problems.append(f"d_model differs ({base.d_model} vs {rl.d_model})")
    if base.n_layers != rl.n_layers:
        problems.append(f"number of layers differs ({base.n_layers} vs {rl.n_layers})")
    if base.load_config != rl.load_config:
        problems.append("they were loaded with different LoadConfigs")
        fixes.append("load both with one LoadConfig (load_pair does)")
    if problems:
        fixes.append("otherwise check that the RL model was tuned from this base")
        raise IncompatiblePairError(
            f"{base.name} and {rl.name} are not a comparable base/RL pair: " + "; ".join(problems)
            + ". A pair must be one architecture and tokenizer before and after RL. Fix: " + "; ".join(fixes) + "."
        )


def check_tuned_from(base: LoadedModel, rl: LoadedModel) -> None:
    """Raise IncompatiblePairError when the tuned model's manifest records the weights it was tuned from
    (``base_weights_sha256``, as every zoo model's does) and ``base`` is a zoo model whose manifest records other
    weights: every reading of such a "pair" would measure two unrelated models. A base folder without a zoo manifest
    whose weights file differs gets a warning (a copy saved again differs byte for byte); a tuned model without that
    record (a real RL checkpoint) is not checked."""
    want = (rl.manifest or {}).get("base_weights_sha256")
    if not want:
        return
    named = (rl.manifest or {}).get("base") or "its base"
    have = ((base.manifest or {}).get("files") or {}).get(WEIGHTS_FILE)
    if not have:  # a folder without a zoo manifest: a copy saved again (or sharded) can hold the same numbers
        weights = Path(base.folder) / WEIGHTS_FILE
        if not weights.exists() or sha256_file(weights) != want:
            log.warning("load_pair: %s records being tuned from %s, and the weights file of %s is not that one (a copy"
                        " saved again differs byte for byte even with the same numbers): make sure it is that base.",
                        rl.name, named, base.name)
        return
    if have != want:
        raise IncompatiblePairError(
            f"{rl.name} was tuned from {named} (its manifest records base weights {want[:12]}...), but {base.name}"
            f" holds other weights ({have[:12]}...): the two are not a base"
            f" and its tuned model. Pass the folder of {named} as the base (the zoo names it: `rlmeta-interp list`)."
        )


def load_pair(name_or_models: str | tuple[str | os.PathLike, str | os.PathLike] | PairSpec,
              config: LoadConfig = LoadConfig()) -> Pair:
    """A registered pair name, a :class:`PairSpec`, or ``(base, rl)`` as names/folders -> validated :class:`Pair`."""
    config = _check_load_config(config)
    if isinstance(name_or_models, (tuple, list)):
        if len(name_or_models) != 2:
            raise InvalidConfigError("load_pair((base, rl)) takes exactly two models.")
        base, rl = (load_model(x, config) for x in name_or_models)
        if Path(base.folder).resolve() == Path(rl.folder).resolve():
            log.warning("load_pair: the base and the tuned model are the same folder (%s): every comparison reads no"
                        " change. Pass the tuned model's folder as the second one.", base.folder)
        spec = PairSpec(name=f"{base.name}~{rl.name}", base=base.spec, rl=rl.spec)
        check_tuned_from(base, rl)
    else:
        spec = name_or_models if isinstance(name_or_models, PairSpec) else registry.get_pair(str(name_or_models))
        base = load_spec(spec.base, config)
        rl = load_spec(spec.rl, config)
    validate_pair(base, rl)
    return Pair(name=spec.name, base=base, rl=rl, spec=spec)
