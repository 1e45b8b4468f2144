"""The run config of GRPO+LoRA on a real LM (``rlmeta_interp.realrl.config``): field checks, the JSON round trip, the
organism ``RLConfig``'s field names, the shipped run configs, and the error that names renamed keys."""

from __future__ import annotations

import json

import pytest

from rlmeta_interp.errors import InvalidConfigError, MissingWeightsError
from rlmeta_interp.realrl import RealRLConfig, WordSumConfig, main, resolve_model_folder

from .shared import write_json as _write


def test_config_validation_and_round_trip():
    cfg = RealRLConfig(steps=3, wordsum=WordSumConfig(n_operands=2))
    assert RealRLConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert cfg.world_obj().config == cfg.wordsum
    with pytest.raises(InvalidConfigError, match="eval_ks"):
        RealRLConfig(eval_samples=4, eval_ks=(1, 8))
    with pytest.raises(InvalidConfigError, match="num_generations"):
        RealRLConfig(num_generations=1)
    with pytest.raises(InvalidConfigError, match="reward"):
        RealRLConfig(reward="bogus")
    with pytest.raises(InvalidConfigError, match="max_value"):
        WordSumConfig(min_value=10, max_value=5)
    with pytest.raises(MissingWeightsError, match="does not exist"):
        resolve_model_folder("/nonexistent/folder")
    with pytest.raises(InvalidConfigError, match="lr"):
        RealRLConfig(lr=float("nan"))
    for kw, said in (({"lora_alpha": -4}, "lora_alpha"), ({"torch_threads": -2}, "torch_threads"),
                     ({"lora_layers": (-100,)}, "lora_layers"), ({"lora_layers": ()}, "lora_layers")):
        with pytest.raises(InvalidConfigError, match=said):
            RealRLConfig(**kw)


def test_field_names_match_the_organism_rl_config():
    from dataclasses import fields

    from rlmeta_interp.organism.rl import RLConfig

    shared = {f.name for f in fields(RealRLConfig)} & {f.name for f in fields(RLConfig)}
    assert {"world", "steps", "lr", "seed", "beta", "reward", "warmup_steps", "checkpoint_every",
            "n_train_problems", "prompts_per_step", "num_generations"} <= shared
    assert not {"task", "learning_rate", "max_steps"} & {f.name for f in fields(RealRLConfig)}


def test_shipped_run_configs_load_and_old_key_names_say_what_to_rename():
    from rlmeta_interp.paths import REPO_ROOT

    runs = sorted((REPO_ROOT / "data" / "adapters").glob("*/run.json"))
    assert runs
    for run in runs:
        cfg = RealRLConfig.from_dict(json.loads(run.read_text()))
        manifest = json.loads((run.parent / "manifest.json").read_text())
        assert RealRLConfig.from_dict(manifest["config"]).wordsum == cfg.wordsum  # the record reads back too
    old = {"task": {"n_operands": 2}, "learning_rate": 1e-4, "max_steps": 5, "checkpoint_every": None}
    with pytest.raises(InvalidConfigError, match=r"'task' -> 'wordsum', 'learning_rate' -> 'lr', 'max_steps' ->"
                                                 r" 'steps', 'checkpoint_every': null -> 0"):
        RealRLConfig.from_dict(old)
    assert main(["--config", str(_write(old)), "--out", "/nonexistent/never-written"]) == 2
