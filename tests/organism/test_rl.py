import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from rlmeta_interp.errors import InvalidConfigError, MissingWeightsError
from rlmeta_interp.io import load_tensors
from rlmeta_interp.organism.corpus import CorpusConfig
from rlmeta_interp.organism.pretrain import ModelConfig, PretrainConfig, pretrain
from rlmeta_interp.organism.rl import (
    TRL_DIR, RLConfig, bandit_rewards, last_complete_checkpoint, score_completions, train_rl,
)
from rlmeta_interp.organism.worlds.arithmetic import ArithmeticConfig, ArithmeticWorld
from rlmeta_interp.organism.worlds.bandits import BanditConfig

ARITH = ArithmeticConfig(max_operands=2, max_digits=1)
TINY_MODEL = ModelConfig(d_model=32, n_layers=2, n_heads=2, d_mlp=64, max_len=64)
RL = RLConfig(world="arithmetic", arithmetic=ARITH, steps=4, prompts_per_step=2, num_generations=4,
              max_completion_length=12, n_train_problems=16, save_every=2, checkpoint_every=2, ref_reset_every=2,
              lr=1e-3, reward="random")  # random rewards: non-zero advantages even from a 6-step base


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    out = tmp_path_factory.mktemp("base")
    cfg = PretrainConfig(corpus=CorpusConfig(world="arithmetic", dose=0.5, arithmetic=ARITH), model=TINY_MODEL,
                         steps=6, batch_size=16, checkpoint_every=0)
    pretrain(cfg, out, progress=False)
    return out


def test_reward_variants():
    w = ArithmeticWorld(ARITH)
    probs = w.sample(4, seed=0)
    right = [f"A:{p.answer}" for p in probs]
    wrong = [f"A:{p.meta['wrong_answer']}" for p in probs]
    assert score_completions(w, "correct", probs, right, seed=0, step=0) == [1.0] * 4
    assert score_completions(w, "correct", probs, wrong, seed=0, step=0) == [0.0] * 4
    assert score_completions(w, "format", probs, wrong, seed=0, step=0) == [1.0] * 4
    assert score_completions(w, "format", probs, ["junk"] * 4, seed=0, step=0) == [0.0] * 4
    assert score_completions(w, "incorrect", probs, wrong, seed=0, step=0) == [1.0] * 4
    r1 = score_completions(w, "random", probs * 50, right * 50, seed=0, step=3)
    assert r1 == score_completions(w, "random", probs * 50, wrong * 50, seed=0, step=3)  # ignores the completion
    assert r1 != score_completions(w, "random", probs * 50, right * 50, seed=0, step=4)
    assert 0.3 < sum(r1) / len(r1) < 0.7
    assert bandit_rewards("incorrect", [0.25], [1.0], seed=0, step=0) == [0.75]
    with pytest.raises(InvalidConfigError):
        score_completions(w, "bogus", probs, right, seed=0, step=0)


def test_config_validation():
    with pytest.raises(InvalidConfigError, match="beta"):
        RLConfig(beta=0.0, ref_reset_every=5)
    with pytest.raises(InvalidConfigError, match="num_generations"):
        RLConfig(num_generations=1)
    assert RLConfig.from_dict(json.loads(json.dumps(RL.to_dict()))) == RL


def test_missing_base_is_a_typed_error(tmp_path):
    with pytest.raises(MissingWeightsError, match="pretrain"):
        train_rl(tmp_path / "nothing", RL, tmp_path / "out", progress=False)


def test_rl_resume_after_sigkill_is_bit_identical(base, tmp_path):
    ref = train_rl(base, RL, tmp_path / "ref", progress=False)
    # neither end is stored twice: step 0 is the base model and step 4 the final one (analysis.dynamics adds both)
    assert ref.checkpoints == ["checkpoints/step_000002/model.safetensors"]
    assert not (tmp_path / "ref" / TRL_DIR).exists()
    base_w = AutoModelForCausalLM.from_pretrained(base).state_dict()
    final = AutoModelForCausalLM.from_pretrained(tmp_path / "ref").state_dict()
    step2 = load_tensors(tmp_path / "ref" / "checkpoints/step_000002/model.safetensors")
    assert any(not torch.equal(step2[k], base_w[k]) for k in step2), "RL did not change the weights"
    assert any(not torch.equal(step2[k], final[k]) for k in step2), "steps 3-4 did not change the weights"

    out = tmp_path / "crashed"
    script = textwrap.dedent(f"""
        import json, os, signal
        from transformers import TrainerCallback
        from rlmeta_interp.organism.rl import RLConfig, train_rl
        cfg = RLConfig.from_dict(json.loads({json.dumps(json.dumps(RL.to_dict()))}))
        class Crash(TrainerCallback):
            def on_step_end(self, args, state, control, **kw):
                if state.global_step == 3:
                    os.kill(os.getpid(), signal.SIGKILL)
        train_rl({str(base)!r}, cfg, {str(out)!r}, progress=False, callbacks=[Crash()])
    """)
    proc = subprocess.run([sys.executable, "-c", script], env={**os.environ, "TRL_EXPERIMENTAL_SILENCE": "1"},
                          capture_output=True, timeout=300)
    assert proc.returncode == -9, proc.stderr.decode()[-3000:]
    assert last_complete_checkpoint(out / TRL_DIR).name == "checkpoint-2"
    resumed = train_rl(base, RL, out, progress=False)
    assert resumed.resumed_from == 2
    assert resumed.weights_sha == ref.weights_sha


def test_bandit_rl_masks_environment_tokens_and_loads(tmp_path):
    bc = BanditConfig(horizon=5)
    bdir = tmp_path / "bbase"
    pretrain(PretrainConfig(corpus=CorpusConfig(world="bandits", dose=1.0, bandits=bc), model=TINY_MODEL, steps=3,
                            batch_size=8, checkpoint_every=0), bdir, progress=False)
    cfg = RLConfig(world="bandits", bandits=bc, steps=2, prompts_per_step=2, num_generations=4, n_train_problems=8,
                   save_every=0)
    res = train_rl(bdir, cfg, tmp_path / "brl", progress=False)
    logged = [h for h in res.curve if "reward" in h]
    assert len(logged) == 2
    # TRL counts only env_mask == 1 tokens as the model's completion: the 5 arm tokens, not the 5 rewards
    assert all(h["completions/mean_length"] == 5.0 for h in logged)
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "brl")
    tok = AutoTokenizer.from_pretrained(tmp_path / "brl")
    assert model(input_ids=torch.tensor([[tok.bos_token_id]])).logits.shape[-1] == len(tok)


def test_trl_prompt_tokenizes_like_the_sampler(base):
    from rlmeta_interp.organism.rl import trl_prompt
    from rlmeta_interp.sampling import encode_prompts

    tok = AutoTokenizer.from_pretrained(base)
    p = ArithmeticWorld(ARITH).sample(1, seed=0)[0]
    ids, _ = encode_prompts(tok, [p.prompt])
    assert tok(trl_prompt(p, tok), add_special_tokens=False)["input_ids"] == ids[0].tolist()
    assert tok(trl_prompt(p, tok))["input_ids"] == ids[0].tolist()  # TRL's call, special tokens on


def test_composition_rl_trains_on_its_own_split_with_the_chain_verifier(tmp_path):
    from rlmeta_interp.organism.rl import training_problems
    from rlmeta_interp.organism.worlds.composition import CompositionConfig

    comp = CompositionConfig(min_level=2, max_level=2)
    bdir = tmp_path / "cbase"
    pretrain(PretrainConfig(corpus=CorpusConfig(world="composition", dose=0.5, composition=comp), model=TINY_MODEL,
                            steps=3, batch_size=8, checkpoint_every=0), bdir, progress=False)
    cfg = RLConfig(world="composition", composition=comp, steps=2, prompts_per_step=2, num_generations=4,
                   n_train_problems=8, save_every=0, max_completion_length=14)
    world = cfg.world_obj()
    problems = training_problems(cfg)
    assert {world.split_of(p) for p in problems} == {"rl"} and {p.meta["level"] for p in problems} == {2}
    good = [world.solution(p) for p in problems]
    assert score_completions(world, "correct", problems, good, seed=0, step=0) == [1.0] * len(problems)
    res = train_rl(bdir, cfg, tmp_path / "crl", progress=False)
    assert len([h for h in res.curve if "reward" in h]) == 2
    assert (tmp_path / "crl" / "model.safetensors").exists()
