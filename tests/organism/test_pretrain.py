import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from rlmeta_interp.errors import InvalidConfigError
from rlmeta_interp.organism.corpus import Corpus, CorpusConfig
from rlmeta_interp.organism.pretrain import (
    RESUME_DIR, ModelConfig, PretrainConfig, encode_documents, lr_at, pretrain,
)
from rlmeta_interp.organism.tokenizer import build_tokenizer
from rlmeta_interp.organism.worlds.bandits import BanditConfig

TINY = PretrainConfig(
    corpus=CorpusConfig(world="bandits", dose=0.5, bandits=BanditConfig(horizon=6)),
    model=ModelConfig(d_model=32, n_layers=2, n_heads=2, d_mlp=64, max_len=32),
    steps=8, batch_size=16, lr=3e-3, warmup_steps=2, checkpoint_every=2, log_every=2,
)


def test_encode_documents_packs_whole_documents():
    tok = build_tokenizer()
    docs = Corpus(CorpusConfig(world="arithmetic")).batch(0, 30)
    ids, labels = encode_documents(docs, tok, pack_len=64)
    assert ids.shape[1] <= 64
    assert int((ids == tok.bos_token_id).sum()) == 30 == int((ids == tok.eos_token_id).sum())
    assert int((labels != -100).sum()) == sum(len(d.text) + 2 for d in docs)
    assert (ids[:, 0] == tok.bos_token_id).all()
    text = tok.decode([i for i in ids.flatten().tolist() if i != tok.pad_token_id], skip_special_tokens=True)
    assert text == "".join(d.text for d in docs)


def test_lr_schedule():
    cfg = TINY.replace(steps=100, warmup_steps=10, lr=1e-3, min_lr_ratio=0.1)
    assert lr_at(0, cfg) == pytest.approx(1e-4)
    assert lr_at(9, cfg) == pytest.approx(1e-3)
    assert lr_at(100, cfg) == pytest.approx(1e-4)
    assert lr_at(55, cfg) < lr_at(20, cfg)


def test_config_validation():
    with pytest.raises(InvalidConfigError, match="max_len"):
        PretrainConfig(model=ModelConfig(max_len=16))
    with pytest.raises(InvalidConfigError, match="n_heads"):
        ModelConfig(d_model=30, n_heads=4)
    assert PretrainConfig.from_dict(json.loads(json.dumps(TINY.to_dict()))) == TINY


def test_pretrain_is_deterministic_and_loads(tmp_path):
    a = pretrain(TINY, tmp_path / "a", progress=False)
    b = pretrain(TINY, tmp_path / "b", progress=False)
    c = pretrain(TINY.replace(seed=1), tmp_path / "c", progress=False)
    assert a.weights_sha == b.weights_sha
    assert a.weights_sha != c.weights_sha
    assert not (tmp_path / "a" / RESUME_DIR).exists()
    assert [p["loss"] for p in a.curve] == [p["loss"] for p in b.curve]
    assert a.curve[-1]["loss"] < a.curve[0]["loss"]
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "a")
    tok = AutoTokenizer.from_pretrained(tmp_path / "a")
    ids = torch.tensor([[tok.bos_token_id, *tok("a1b0", add_special_tokens=False)["input_ids"]]])
    assert model(input_ids=ids).logits.shape == (1, 5, len(tok))


def test_resume_after_sigkill_is_bit_identical(tmp_path):
    reference = pretrain(TINY, tmp_path / "ref", progress=False)
    out = tmp_path / "crashed"
    script = textwrap.dedent(f"""
        import json, os, signal
        from rlmeta_interp.organism.pretrain import PretrainConfig, pretrain
        cfg = PretrainConfig.from_dict(json.loads({json.dumps(json.dumps(TINY.to_dict()))}))
        def crash(step):
            if step == 5:
                os.kill(os.getpid(), signal.SIGKILL)
        pretrain(cfg, {str(out)!r}, progress=False, on_step=crash)
    """)
    proc = subprocess.run([sys.executable, "-c", script], env={**os.environ}, capture_output=True, timeout=120)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    assert (out / RESUME_DIR / "state.safetensors").exists()
    assert not (out / "model.safetensors").exists()
    resumed = pretrain(TINY, out, progress=False)
    assert resumed.resumed_from == 4
    assert resumed.weights_sha == reference.weights_sha
    assert [p["loss"] for p in resumed.curve] == [p["loss"] for p in reference.curve]


def test_resume_state_of_other_config_is_ignored(tmp_path):
    pretrain(TINY, tmp_path / "x", progress=False, keep_resume_state=True)
    other = pretrain(TINY.replace(lr=1e-3), tmp_path / "x", progress=False)
    assert other.resumed_from is None
