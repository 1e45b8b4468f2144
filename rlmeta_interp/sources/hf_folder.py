"""Load a Hugging Face causal LM and its tokenizer from a local folder: offline, eval mode, strict about weights.

Every source ends in a local folder, and every folder is read here. transformers fills a tensor the weight files
lack with random values and only logs it, so a folder whose ``config.json`` names another architecture than its
weights, or whose safetensors lacks a tensor, would load as a partly random model. :func:`load_hf_folder` asks
transformers for its loading report and raises :class:`~rlmeta_interp.errors.WeightMismatchError` naming the file
and the keys instead.
"""

from __future__ import annotations

import json
import logging
import os
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ..config import LoadConfig
from ..errors import CorruptedCheckpointError, InvalidConfigError, MissingWeightsError, WeightMismatchError

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

log = logging.getLogger(__name__)

WEIGHT_GLOBS = ("*.safetensors", "pytorch_model*.bin")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
_SHOW_KEYS = 6  # keys named in an error message; the count says how many there are in all


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


def check_folder(folder: Path) -> None:
    """Raise MissingWeightsError unless ``folder`` holds a config.json and at least one weight file."""
    if not (folder / "config.json").exists() and (folder / "adapter_config.json").exists():
        raise MissingWeightsError(
            f"{folder} holds a LoRA adapter (adapter_config.json), not a whole model. Merge it into its base and save"
            " the result (peft: PeftModel.from_pretrained(base, folder).merge_and_unload().save_pretrained(out)), then"
            " pass that folder; or give the adapter folder a manifest.json naming its base_model, as the adapter"
            " pairs under data/adapters and $RLMETA_HOME/adapters have, and load it by its registry name."
        )
    if not (folder / "config.json").exists():
        raise MissingWeightsError(
            f"{folder} has no config.json, so it is not a Hugging Face model folder. Pass a folder written by"
            " `save_pretrained`, or a registry name (`rlmeta-interp list`)."
        )
    if not any(any(folder.glob(g)) for g in WEIGHT_GLOBS):
        raise MissingWeightsError(
            f"{folder} has a config.json but no weight files (*.safetensors or pytorch_model*.bin). Copy the weights"
            " into the folder or rebuild the model (`rlmeta-interp zoo build`)."
        )


def check_model_path(path: str | os.PathLike, what: str) -> None:
    """MissingWeightsError naming ``what`` (e.g. a command-line flag) when ``path`` is a file, does not exist, or is
    a folder without a model in it (:func:`check_folder`)."""
    fix = "Pass a Hugging Face model folder (one written by save_pretrained, or a zoo model folder)."
    folder = Path(path)
    if folder.is_file():
        raise MissingWeightsError(f"{what} {path} is a file, not a folder. {fix}")
    if not folder.is_dir():
        raise MissingWeightsError(f"{what} {path}: no such folder. {fix}")
    check_folder(folder)


def _keys(keys: Any) -> str:
    keys = sorted(str(k) for k in keys or ())
    more = f" and {len(keys) - _SHOW_KEYS} more" if len(keys) > _SHOW_KEYS else ""
    return f"{len(keys)} ({', '.join(keys[:_SHOW_KEYS])}{more})"


def check_loading_report(folder: Path, model: PreTrainedModel, report: dict[str, Any]) -> None:
    """Raise WeightMismatchError when transformers' loading report shows tensors it had to invent or drop, or when
    ``config.json``'s ``architectures`` names another class than the one its ``model_type`` built."""
    weights = ", ".join(sorted(p.name for g in WEIGHT_GLOBS for p in folder.glob(g))) or "(no weight files)"
    config_file = folder / "config.json"
    named = list(getattr(model.config, "architectures", None) or [])
    built = type(model).__name__
    if named and named[0] != built:
        raise WeightMismatchError(
            f"{config_file} names architecture {named[0]} but its model_type {model.config.model_type!r} builds"
            f" {built}: the config was edited or copied from another model. Restore the config.json saved with the"
            f" weights ({weights})."
        )
    missing, unexpected = report.get("missing_keys") or (), report.get("unexpected_keys") or ()
    mismatched = report.get("mismatched_keys") or ()
    if missing or unexpected or mismatched:
        parts = []
        if missing:
            parts.append(f"missing from the weights (they would be random): {_keys(missing)}")
        if unexpected:
            parts.append(f"in the weights but not in {built}: {_keys(unexpected)}")
        if mismatched:
            parts.append(f"of another shape than config.json says: {_keys(k[0] if isinstance(k, tuple) else k for k in mismatched)}")
        raise WeightMismatchError(
            f"The weights in {folder} ({weights}) do not fit the {built} that {config_file.name} describes; tensors "
            + "; ".join(parts) + ". Copy the complete weights and the config.json they were saved with into the"
            " folder (or rebuild the model)."
        )


def _stored_dtypes(folder: Path) -> dict[str, str]:
    """``{key: dtype}`` of every tensor in the folder's weight files: from their headers (safetensors, no tensor data
    read), or a memory map of ``pytorch_model*.bin`` (pickles older than torch's zip format are read whole)."""
    from safetensors import safe_open

    out: dict[str, str] = {}
    for path in sorted(folder.glob("*.safetensors")):
        with safe_open(path, "pt") as f:
            out.update({k: str(f.get_slice(k).get_dtype()) for k in f.keys()})
    if not out:
        for path in sorted(folder.glob("pytorch_model*.bin")):
            # a memory map needs the zip format torch.save writes; older pickles are read whole
            state = torch.load(path, map_location="cpu", mmap=zipfile.is_zipfile(path), weights_only=True)
            out.update({k: str(v.dtype).removeprefix("torch.") for k, v in state.items() if torch.is_tensor(v)})
    return out


def _is_float(dtype: str) -> bool:
    """Whether a stored dtype name is floating point: safetensors' (F32, BF16, F8_E4M3) or torch's (float32)."""
    return dtype.upper().startswith(("F", "BF"))


def check_weight_dtypes(folder: Path, model: PreTrainedModel) -> None:
    """Raise WeightMismatchError when a weight file stores an integer or boolean tensor where the model holds a
    floating one: transformers casts it without a word (3 becomes 3.0), so a quantized or damaged file would load
    as a model of whole-number weights. Integer buffers the model itself keeps as integers (position ids) pass."""
    floating = {k for k, v in model.state_dict().items() if v.is_floating_point()}
    by_suffix = {k.split(".", 1)[1] for k in floating if "." in k}  # checkpoints saved without the base prefix

    def lands_in_float(key: str) -> bool:
        return key in floating or key in by_suffix or ("." in key and key.split(".", 1)[1] in floating)

    bad = {k: d for k, d in _stored_dtypes(folder).items() if not _is_float(d) and lands_in_float(k)}
    if bad:
        kinds = ", ".join(sorted(set(bad.values())))
        raise WeightMismatchError(
            f"The weights in {folder} store {_keys(bad)} as {kinds}, where the model's tensors are floating point;"
            " loading would cast them to whole-number floats without a word. The files are quantized or damaged:"
            " copy the floating-point checkpoint (or dequantize the model and save it with save_pretrained)."
        )


def check_tokenizer_fits(folder: Path, tok: PreTrainedTokenizerBase, rows: int) -> None:
    """Raise WeightMismatchError when the tokenizer's own vocabulary or its BOS/EOS/pad/unk ids reach past the
    embedding table (every such id would fail in a forward pass). Added tokens past the table (some releases list
    image placeholders a text model never sees) are only logged."""
    added = tok.get_added_vocab()
    own = [i for t, i in tok.get_vocab().items() if t not in added]
    special = {k: getattr(tok, f"{k}_token_id") for k in ("bos", "eos", "pad", "unk")}
    bad = {k: i for k, i in special.items() if i is not None and i >= rows}
    if (own and max(own) >= rows) or bad:
        what = f"special token ids {bad}" if bad else f"vocabulary ids up to {max(own)}"
        raise WeightMismatchError(
            f"The tokenizer in {folder} has {what} but the model's embedding table has {rows} rows: the tokenizer"
            " files belong to another model. Copy the tokenizer saved with these weights into the folder."
        )
    past = sorted(t for t, i in added.items() if i >= rows)
    if past:
        log.warning("%s: %d added tokens have ids past the embedding table (%d rows), e.g. %s; text containing them"
                    " cannot be run through this model.", folder, len(past), rows, past[:3])


def check_config(folder: Path, trust_remote_code: bool) -> None:
    """A typed error, before any weight is read, when ``folder/config.json`` cannot be a causal LM this package loads:
    not JSON, no ``model_type``, a ``model_type`` the installed transformers does not know, or an architecture
    without a causal-LM head (an encoder-decoder such as T5). A config with custom code (``auto_map``) for an
    architecture transformers lacks needs ``trust_remote_code``, and is then left to transformers."""
    from transformers import __version__ as tf_version
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    path = folder / "config.json"
    try:
        cfg = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CorruptedCheckpointError(f"{path} is not valid JSON ({e}): re-copy it, or save the model again with"
                                       " save_pretrained.") from e
    if not isinstance(cfg, dict):
        raise CorruptedCheckpointError(f"{path} holds a JSON {type(cfg).__name__}, not an object: re-copy it.")
    model_type = cfg.get("model_type")
    if model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:  # a causal LM transformers has (an auto_map is then unused)
        return
    if "auto_map" in cfg:  # custom code: transformers loads it only when the user trusts it
        if not trust_remote_code:
            raise InvalidConfigError(f"{folder} needs custom code to load (its config.json has an auto_map and"
                                     f" model_type={model_type!r}). Only if you trust its author, pass"
                                     " LoadConfig(trust_remote_code=True).")
        return
    if not model_type:
        raise InvalidConfigError(f"{path} names no model_type, so the architecture is unknown: save the model with"
                                 " save_pretrained (which writes it), or add the model_type of its architecture.")
    if model_type not in CONFIG_MAPPING_NAMES:
        raise InvalidConfigError(
            f"{path} has model_type={model_type!r}, which transformers {tf_version} does not know: check its spelling"
            " (e.g. 'llama', 'qwen2', 'gpt2', 'gemma3_text'), or install a transformers that has the architecture."
        )
    raise InvalidConfigError(
        f"{folder} holds a {model_type!r} model, which has no causal-LM (decoder-only) head in transformers; this"
        " package loads causal language models (e.g. Llama, Qwen2, GPT-2, Gemma-3)."
    )


def load_hf_folder(folder: str | os.PathLike, config: LoadConfig = LoadConfig()
                   ) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Hugging Face causal LM and tokenizer from a local folder, offline, eval mode, every weight from the files.

    The tokenizer's pad token falls back to its EOS token. No TransformerLens.
    """
    from safetensors import SafetensorError
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a weight-loading bar per model clutters notebooks and logs
    folder = Path(folder)
    check_folder(folder)
    check_config(folder, config.trust_remote_code)
    check_device(config.device)
    has_st = any(folder.glob("*.safetensors"))
    try:
        hf, report = AutoModelForCausalLM.from_pretrained(
            folder, dtype=DTYPES[config.dtype], local_files_only=True, use_safetensors=has_st,
            trust_remote_code=config.trust_remote_code, output_loading_info=True,
            ignore_mismatched_sizes=True,  # shape mismatches come back in the report, so the error can name them
        )
    except (OSError, ValueError, RuntimeError, KeyError, SafetensorError) as e:
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
    check_loading_report(folder, hf, report)
    check_weight_dtypes(folder, hf)
    try:
        tok = AutoTokenizer.from_pretrained(folder, local_files_only=True, trust_remote_code=config.trust_remote_code)
    except (OSError, ValueError) as e:
        raise MissingWeightsError(f"{folder} has no usable tokenizer files ({e}). Save the tokenizer into the folder.") from e
    check_tokenizer_fits(folder, tok, hf.get_input_embeddings().num_embeddings)
    if tok.pad_token_id is None and tok.eos_token_id is not None:
        tok.pad_token = tok.eos_token
    return hf.to(config.device).eval(), tok
