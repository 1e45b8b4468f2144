"""Strict weight loading: a folder whose weights do not fit its config.json is a typed error naming the file and the
keys, never a partly random model. Tiny random models of every supported architecture, saved as real folders."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from rlmeta_interp import load_model
from rlmeta_interp.errors import WeightMismatchError
from rlmeta_interp.sources.hf_folder import load_hf_folder

from ..conftest import ARCHS


def _copy(src, dst):
    shutil.copytree(src, dst)
    return dst


def _edit_weights(folder, edit):
    path = folder / "model.safetensors"
    sd = load_file(path)
    edit(sd)
    save_file(sd, str(path), metadata={"format": "pt"})


@pytest.mark.parametrize("arch", ARCHS)
def test_every_architecture_loads_every_tensor_from_the_files(tiny_folders, arch):
    hf, _ = load_hf_folder(tiny_folders[arch])
    saved = load_file(tiny_folders[arch] / "model.safetensors")
    state = hf.state_dict()
    for key, value in saved.items():  # each saved tensor is the one in the model (tied copies included)
        assert torch.equal(state[key], value), key


@pytest.mark.parametrize("arch", ARCHS)
def test_a_missing_tensor_is_an_error_naming_the_file_and_key(tiny_folders, tmp_path, arch):
    folder = _copy(tiny_folders[arch], tmp_path / "m")
    dropped = sorted(k for k in load_file(folder / "model.safetensors") if "layers.1" in k or "h.1." in k)[0]
    _edit_weights(folder, lambda sd: sd.pop(dropped))
    with pytest.raises(WeightMismatchError, match=rf"model\.safetensors.*missing from the weights.*{dropped}"):
        load_model(folder)


@pytest.mark.parametrize("arch", ARCHS)
def test_an_unexpected_tensor_is_an_error(tiny_folders, tmp_path, arch):
    folder = _copy(tiny_folders[arch], tmp_path / "m")
    _edit_weights(folder, lambda sd: sd.__setitem__("model.layers.9.extra.weight", torch.zeros(2)))
    with pytest.raises(WeightMismatchError, match=r"in the weights but not in .*model\.layers\.9\.extra\.weight"):
        load_model(folder)


@pytest.mark.parametrize(("weights", "config"), [("gpt2", "qwen2"), ("llama", "gpt2"), ("qwen2", "llama"),
                                                 ("gemma3", "llama")])
def test_a_config_of_another_architecture_is_an_error(tiny_folders, tmp_path, weights, config):
    folder = _copy(tiny_folders[weights], tmp_path / "m")
    shutil.copy(tiny_folders[config] / "config.json", folder / "config.json")
    with pytest.raises(WeightMismatchError, match=r"do not fit .* tensors (missing|in the weights but not)"):
        load_model(folder)


def test_architectures_field_contradicting_model_type_is_an_error(tiny_folders, tmp_path):
    folder = _copy(tiny_folders["llama"], tmp_path / "m")
    cfg = json.loads((folder / "config.json").read_text())
    cfg["architectures"] = ["Qwen2ForCausalLM"]
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(WeightMismatchError, match=r"config\.json names architecture Qwen2ForCausalLM but its"
                                                  r" model_type 'llama' builds LlamaForCausalLM"):
        load_model(folder)


def test_a_tokenizer_reaching_past_the_embedding_table(tiny_folders, tmp_path, caplog):
    from transformers import AutoTokenizer

    folder = _copy(tiny_folders["qwen2"], tmp_path / "m")
    tok = AutoTokenizer.from_pretrained(folder)
    rows = load_hf_folder(folder)[0].get_input_embeddings().num_embeddings
    last = f"<extra{rows - len(tok)}>"  # the first added token with id == rows
    tok.add_tokens([f"<extra{i}>" for i in range(rows - len(tok) + 1)])
    tok.save_pretrained(folder)
    assert load_model(folder).tokenizer.convert_tokens_to_ids(last) == rows  # it loads, and says so:
    assert "1 added tokens have ids past the embedding table" in caplog.text
    tok.add_special_tokens({"bos_token": last})  # BOS starts every input: refused
    tok.save_pretrained(folder)
    with pytest.raises(WeightMismatchError, match=rf"special token ids \{{'bos': {rows}\}} but the model's embedding"
                                                  rf" table has {rows} rows"):
        load_model(folder)


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
def test_integer_weights_are_refused_not_cast(tiny_folders, tmp_path, arch):
    folder = _copy(tiny_folders[arch], tmp_path / "m")
    key = sorted(k for k in load_file(folder / "model.safetensors") if k.endswith("weight") and "norm" not in k
                 and "ln_" not in k)[0]
    _edit_weights(folder, lambda sd: sd.__setitem__(key, (sd[key] * 100).to(torch.int32)))
    with pytest.raises(WeightMismatchError, match=rf"store 1 \({key}\) as I32.*floating point.*quantized or damaged"):
        load_model(folder)


def test_integer_weights_in_a_pytorch_bin_are_refused(tiny_folders, tmp_path):
    folder = _copy(tiny_folders["gpt2"], tmp_path / "m")
    sd = load_file(folder / "model.safetensors")
    key = next(k for k in sd if k.endswith("c_fc.weight"))
    sd[key] = sd[key].to(torch.int8)
    (folder / "model.safetensors").unlink()
    torch.save(sd, folder / "pytorch_model.bin")
    with pytest.raises(WeightMismatchError, match=rf"{key}.*as int8"):
        load_hf_folder(folder)
    # the pickle format before torch's zip files cannot be memory-mapped: it is read whole, and checked the same
    torch.save(sd, folder / "pytorch_model.bin", _use_new_zipfile_serialization=False)
    with pytest.raises(WeightMismatchError, match=rf"{key}.*as int8"):
        load_hf_folder(folder)
    sd[key] = sd[key].float()
    torch.save(sd, folder / "pytorch_model.bin", _use_new_zipfile_serialization=False)
    hf, _ = load_hf_folder(folder)
    assert torch.equal(hf.state_dict()[key], sd[key])


def test_a_config_with_other_shapes_is_an_error(tiny_folders, tmp_path):
    folder = _copy(tiny_folders["gpt2"], tmp_path / "m")
    cfg = json.loads((folder / "config.json").read_text())
    cfg["n_positions"] = 64  # the position table in the weights has 128 rows
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(WeightMismatchError, match="config.json"):
        load_model(folder)


def test_configs_that_cannot_be_a_causal_lm_are_named_before_any_weight_is_read(tiny_folders, tmp_path):
    """Not JSON, no model_type, an unknown model_type, an encoder-decoder: each a typed error that says which, not a
    'truncated or corrupted files' error whose fix (re-copy) cannot help."""
    from rlmeta_interp.errors import CorruptedCheckpointError, InvalidConfigError, MissingWeightsError

    src = tiny_folders["llama"]
    cfg = json.loads((src / "config.json").read_text())
    cases = {"not_json": ("{model_type: llama", CorruptedCheckpointError, "not valid JSON"),
             "no_type": (json.dumps({k: v for k, v in cfg.items() if k != "model_type"}), InvalidConfigError,
                         "names no model_type"),
             "typo": (json.dumps({**cfg, "model_type": "llamaa"}), InvalidConfigError, "does not know"),
             "t5": (json.dumps({**cfg, "model_type": "t5"}), InvalidConfigError, "no causal-LM"),
             # custom code for an architecture transformers lacks: the fix is trust, not a spelling
             "custom": (json.dumps({**cfg, "model_type": "my_lm", "auto_map": {"AutoModelForCausalLM": "m.MyLM"}}),
                        InvalidConfigError, r"needs custom code.*trust_remote_code=True")}
    for name, (text, error, words) in cases.items():
        folder = _copy(src, tmp_path / name)
        (folder / "config.json").write_text(text)
        with pytest.raises(error, match=words):
            load_hf_folder(folder)
    # an auto_map beside a model_type transformers has is not used: the model loads without trust_remote_code
    native = _copy(src, tmp_path / "native")
    (native / "config.json").write_text(json.dumps({**cfg, "auto_map": {"AutoModelForCausalLM": "m.MyLM"}}))
    assert load_hf_folder(native)[0].config.model_type == "llama"
    # a peft adapter folder is not a model folder: the error says how to merge it
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 8}))
    (adapter / "adapter_model.safetensors").write_bytes(b"")
    with pytest.raises(MissingWeightsError, match="LoRA adapter.*merge_and_unload"):
        load_hf_folder(adapter)
