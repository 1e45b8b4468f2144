"""LoRA adapters as a source: the folder format, merging, the registered pair, caching and tampering.

A tiny random Llama plays the base (a zoo model) and a peft LoRA adapter with random (non-zero) weights plays the
RL update, saved by :func:`save_adapter` as an adapter folder under ``$RLMETA_DATA/adapters``.
"""

from __future__ import annotations

import json

import pytest
import torch

from rlmeta_interp import load_pair, registry, sources
from rlmeta_interp.errors import ManifestMismatchError, MissingWeightsError
from rlmeta_interp.sources.adapter import load_with_adapter, merged_folder, save_adapter, verify_adapter
from rlmeta_interp.sources.hf_folder import load_hf_folder

from ..conftest import save_tiny

IDS = torch.tensor([[1, 5, 6, 7, 8]])


def _adapter(base_folder, out, name="toy-grpo", base_model="toy-base", **manifest):
    from peft import LoraConfig, get_peft_model

    model, _ = load_hf_folder(base_folder)
    torch.manual_seed(3)
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                                                  init_lora_weights=False))  # random B: the adapter moves the model
    return save_adapter(peft_model, out, {"name": name, "kind": "rl-adapter", "base_model": base_model,
                                          "world": "wordsum", **manifest})


@pytest.fixture
def data(tmp_path, monkeypatch):
    """``$RLMETA_DATA`` with a zoo base model ``toy-base`` and an adapter ``toy-grpo`` trained on it."""
    monkeypatch.setenv("RLMETA_DATA", str(tmp_path / "data"))
    base = save_tiny(tmp_path / "data" / "zoo" / "toy-base", "llama")
    (base / "manifest.json").write_text(json.dumps({"name": "toy-base", "kind": "base", "world": "arithmetic",
                                                    "dose": 0.5, "files": {}}))
    _adapter(base, tmp_path / "data" / "adapters" / "toy-grpo", label="activation", split="test", recipe="lora")
    return tmp_path / "data"


def test_adapter_folder_format_round_trips(tmp_path):
    base = save_tiny(tmp_path / "b", "llama")
    out = _adapter(base, tmp_path / "a")
    manifest = verify_adapter(out)
    assert {"adapter_model.safetensors", "adapter_config.json"} <= set(manifest["files"])
    assert json.loads((out / "adapter_config.json").read_text())["base_model_name_or_path"] == "toy-base"
    model, _ = load_hf_folder(base)
    unmerged = load_with_adapter(load_hf_folder(base)[0], out, merge=False)
    merged = load_with_adapter(model, out, merge=True)
    with torch.no_grad():
        torch.testing.assert_close(merged(IDS).logits, unmerged(IDS).logits, atol=1e-5, rtol=1e-5)
    folder = merged_folder(out, tmp_path / "merged", base)
    with torch.no_grad():
        torch.testing.assert_close(load_hf_folder(folder)[0](IDS).logits, unmerged(IDS).logits, atol=1e-5, rtol=1e-5)
    with pytest.raises(MissingWeightsError, match="not an adapter folder"):
        verify_adapter(base)


def test_adapter_pair_is_registered_and_loads_merged(data, tmp_path, caplog):
    spec = registry.get_pair("toy-grpo")
    assert spec.rl.source == "adapter" and spec.rl.parent == spec.base and spec.base.name == "toy-base"
    assert (spec.world, spec.label, spec.split, spec.recipe) == ("wordsum", "activation", "test", "lora")
    assert [p.name for p in registry.labelled_pairs("test")] == ["toy-grpo"] and registry.labelled_pairs("calibration") == []
    assert sources.available(spec.rl) and sources.available(spec.base)
    pair = load_pair("toy-grpo")
    assert pair.rl.manifest["kind"] == "rl-adapter" and pair.base.manifest["world"] == "arithmetic"
    merged = pair.rl.folder
    assert merged.parent == tmp_path / "rlmeta_home" / "merged"
    with torch.no_grad():
        expected = load_with_adapter(load_hf_folder(pair.base.folder)[0], data / "adapters" / "toy-grpo",
                                     merge=False)(IDS).logits
        rl_logits, base_logits = pair.rl.hf(IDS).logits, pair.base.hf(IDS).logits
    torch.testing.assert_close(rl_logits, expected, atol=1e-5, rtol=1e-5)
    assert (rl_logits - base_logits).abs().max() > 1e-3

    # the merged folder is reused while intact, and merged again when a byte of it changed
    weights = merged / "model.safetensors"
    stamp = weights.stat().st_mtime_ns
    assert load_pair("toy-grpo").rl.folder == merged and weights.stat().st_mtime_ns == stamp
    raw = bytearray(weights.read_bytes())
    raw[-1] ^= 0xFF
    weights.write_bytes(bytes(raw))
    with torch.no_grad():
        torch.testing.assert_close(load_pair("toy-grpo").rl.hf(IDS).logits, expected, atol=1e-5, rtol=1e-5)
    assert "is damaged" in caplog.text and weights.stat().st_mtime_ns != stamp

    # a changed adapter is refused, naming the file
    adapter_weights = data / "adapters" / "toy-grpo" / "adapter_model.safetensors"
    adapter_weights.write_bytes(adapter_weights.read_bytes()[:-8] + b"\0" * 8)
    with pytest.raises(ManifestMismatchError, match="adapter_model.safetensors"):
        load_pair("toy-grpo")


def test_adapter_on_an_unknown_base_is_not_listed(data, tmp_path):
    _adapter(data / "zoo" / "toy-base", data / "adapters" / "orphan", name="orphan", base_model="no-such-model")
    assert "orphan" not in registry.all_pairs() and "toy-grpo" in registry.all_pairs()
    (data / "zoo" / "toy-base" / "model.safetensors").unlink()  # the parent cannot load: neither can the adapter
    assert not sources.available(registry.get_pair("toy-grpo").rl)
