"""GRPO+LoRA training on a real LM (``rlmeta_interp.realrl.train``): the reward kinds, the LoRA-target check before
any training, and a tiny end-to-end run through the command line.

The end-to-end test uses a tiny random ``LlamaForCausalLM`` with the project's char tokenizer, so it runs the real
TRL ``GRPOTrainer`` and peft on CPU in seconds.
"""

from __future__ import annotations

import json

import pytest
import torch

from rlmeta_interp.errors import InvalidConfigError, ManifestMismatchError
from rlmeta_interp.realrl import (
    RealRLConfig,
    WordSumConfig,
    load_causal_lm,
    load_with_adapter,
    main,
    make_reward,
    merged_folder,
    verify_adapter,
)

from .shared import save_tiny_llama


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    return save_tiny_llama(tmp_path_factory.mktemp("tinyrand"))


def test_reward_kinds():
    comps, answers = [" 5", " 6", " x"], ["5", "5", "5"]
    assert make_reward("correct")(comps, answers) == [1.0, 0.0, 0.0]
    assert make_reward("format")(comps, answers) == [1.0, 1.0, 0.0]
    coin = make_reward("random", seed=1)(["a"] * 200, ["1"] * 200)
    assert set(coin) == {0.0, 1.0} and 60 < sum(coin) < 140


def test_lora_targets_the_model_lacks_are_named_before_any_training(tiny_folder, tmp_path, capsys):
    """peft raised NoMatchingPeftModuleError from inside the trainer; the run now stops first with the model's own
    linear-layer names (and its layer range), exit code 2 from the command line."""
    from rlmeta_interp.realrl.train import check_lora_targets, load_causal_lm

    model, _ = load_causal_lm(tiny_folder)
    base = dict(model=str(tiny_folder), wordsum=WordSumConfig(n_operands=2, min_value=1, max_value=9, n_shots=0))
    with pytest.raises(InvalidConfigError, match=r"names \['c_attn'\].*linear and embedding layers are \[.*'q_proj'"):
        check_lora_targets(model, RealRLConfig(**base, target_modules=("c_attn",)))
    with pytest.raises(InvalidConfigError, match=r"lora_layers has \[99\], but the model has layers 0..1"):
        check_lora_targets(model, RealRLConfig(**base, lora_layers=(99,)))
    check_lora_targets(model, RealRLConfig(**base, target_modules=("self_attn.q_proj", "v_proj"), lora_layers=(1,)))
    check_lora_targets(model, RealRLConfig(**base, target_modules=("embed_tokens", "q_proj")))  # peft adapts those too
    cfg_path = tmp_path / "run.json"
    cfg_path.write_text(json.dumps(RealRLConfig(**base, target_modules=("qproj",), steps=1).to_dict()))
    assert main(["--config", str(cfg_path), "--out", str(tmp_path / "adapter"), "--no-eval"]) == 2
    assert "'qproj'" in capsys.readouterr().err and not (tmp_path / "adapter").exists()


@pytest.mark.slow
def test_grpo_lora_end_to_end_via_main(tiny_folder, tmp_path):
    cfg = RealRLConfig(
        model=str(tiny_folder), wordsum=WordSumConfig(n_operands=2, min_value=1, max_value=9, n_shots=0),
        n_train_problems=16, n_eval_problems=3, steps=2, prompts_per_step=2, num_generations=4,
        max_completion_length=3, lr=5e-2, reward="random", lora_r=4, lora_alpha=8,
        target_modules=("q_proj", "v_proj"), eval_samples=2, eval_ks=(1, 2), torch_threads=1, checkpoint_every=1,
    )
    cfg_path = tmp_path / "run.json"
    cfg_path.write_text(json.dumps(cfg.to_dict()))
    out = tmp_path / "adapter"
    assert main(["--config", str(cfg_path), "--out", str(out)]) == 0

    manifest = verify_adapter(out)
    assert manifest["config"] == cfg.to_dict() and manifest["seed"] == 0
    assert set(manifest["files"]) >= {"adapter_model.safetensors", "adapter_config.json",
                                      "checkpoints/step_000001/adapter_model.safetensors",
                                      "checkpoints/step_000002/adapter_model.safetensors"}
    assert not (tmp_path / ".adapter.checkpoints").exists()
    # no machine paths in the shippable adapter config
    assert json.loads((out / "adapter_config.json").read_text())["base_model_name_or_path"] == tiny_folder.name
    assert len(manifest["timing"]["step_seconds"]) == 2
    assert {"base", "rl", "delta"} <= set(manifest["metrics"])
    assert any("reward" in row for row in manifest["training_curve"])

    # reload, merge, and compare against the unmerged peft model (an independent forward path)
    ids = torch.tensor([[1, 5, 6, 7, 8]])
    base, _ = load_causal_lm(tiny_folder)
    with torch.no_grad():
        base_logits = base(ids).logits
    unmerged = load_with_adapter(load_causal_lm(tiny_folder)[0], out, merge=False)
    merged = load_with_adapter(load_causal_lm(tiny_folder)[0], out, merge=True)
    assert not hasattr(merged, "peft_config")
    with torch.no_grad():
        lu, lm = unmerged(ids).logits, merged(ids).logits
    torch.testing.assert_close(lm, lu, atol=1e-5, rtol=1e-5)
    assert (lm - base_logits).abs().max() > 1e-4  # the adapter moved the model
    # the last checkpoint is the final adapter
    from safetensors.torch import load_file

    final = load_file(out / "adapter_model.safetensors")
    last = load_file(out / "checkpoints/step_000002/adapter_model.safetensors")
    assert final.keys() == last.keys() and all(torch.equal(final[k], last[k]) for k in final)

    # merged folder is an ordinary HF folder with the same logits
    folder = merged_folder(out, tmp_path / "merged", base_folder=tiny_folder)
    again, _ = load_causal_lm(folder)
    with torch.no_grad():
        torch.testing.assert_close(again(ids).logits, lm, atol=1e-5, rtol=1e-5)

    # tampering with the adapter is caught
    weights = out / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-8] + b"\x00" * 8)
    with pytest.raises(ManifestMismatchError):
        verify_adapter(out)
