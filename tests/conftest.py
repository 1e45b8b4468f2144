"""Shared fixtures: tiny random models of every supported architecture, saved as real Hugging Face folders."""

from __future__ import annotations

import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "disabled")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

# Test models are tiny and overhead-bound: a second torch thread only adds contention (10x slowdowns were measured
# on the shared 2-core machine). `make test` runs two pytest workers instead.
torch.set_num_threads(1)

ARCHS = ("llama", "qwen2", "gpt2", "gemma3")


def make_tiny_hf(arch: str, vocab_size: int, seed: int = 0, d_model: int = 32, n_layers: int = 2):
    from transformers import (GPT2Config, GPT2LMHeadModel, Gemma3ForCausalLM, Gemma3TextConfig, LlamaConfig,
                              LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM)

    torch.manual_seed(seed)
    common = dict(vocab_size=vocab_size, hidden_size=d_model, intermediate_size=2 * d_model,
                  num_hidden_layers=n_layers, num_attention_heads=4, num_key_value_heads=2,
                  max_position_embeddings=128)
    if arch == "llama":
        return LlamaForCausalLM(LlamaConfig(**common)).eval()
    if arch == "qwen2":
        return Qwen2ForCausalLM(Qwen2Config(**common)).eval()
    if arch == "gpt2":
        return GPT2LMHeadModel(GPT2Config(vocab_size=vocab_size, n_embd=d_model, n_layer=n_layers, n_head=4,
                                          n_positions=128, n_ctx=128)).eval()
    if arch == "gemma3":
        return Gemma3ForCausalLM(Gemma3TextConfig(**common, head_dim=d_model // 4, sliding_window=16)).eval()
    raise ValueError(arch)


def save_tiny(folder: Path, arch: str, seed: int = 0, **kw) -> Path:
    from rlmeta_interp.organism.tokenizer import build_tokenizer

    tok = build_tokenizer()
    model = make_tiny_hf(arch, len(tok), seed=seed, **kw)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def save_tiny_hub(cache: Path, repo_id: str, arch: str, seed: int = 0) -> Path:
    """A tiny random model stored in the hub cache ``cache`` under ``repo_id``, laid out as huggingface_hub writes it
    (``models--org--name/snapshots/<revision>`` and ``refs/main``), so the hub id loads offline from that cache."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    save_tiny(repo / "snapshots" / "abc123", arch, seed=seed)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123")
    return repo


@pytest.fixture(scope="session")
def tiny_folders(tmp_path_factory) -> dict[str, Path]:
    """``{arch: folder}``; folder names contain the words TransformerLens 3.9 sniffs (llama, gemma)."""
    root = tmp_path_factory.mktemp("tiny_models")
    return {arch: save_tiny(root / f"tiny_{arch}_model", arch) for arch in ARCHS}


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """Every test gets its own RLMETA_HOME (activation cache, user zoo) so nothing leaks between tests."""
    monkeypatch.setenv("RLMETA_HOME", str(tmp_path / "rlmeta_home"))


def save_noisy_twin(base: Path, twin: Path, scale: float, seed: int) -> Path:
    """Copy of the model in ``base`` with Gaussian noise of std ``scale`` on every weight: a stand-in RL update."""
    import shutil

    from safetensors.torch import load_file, save_file

    shutil.copytree(base, twin)
    g = torch.Generator().manual_seed(seed)
    weights = twin / "model.safetensors"
    sd = {k: v + scale * torch.randn(v.shape, generator=g) for k, v in load_file(weights).items()}
    save_file(sd, str(weights), metadata={"format": "pt"})
    return twin


def save_tiny_pair(root: Path, scale: float, seed: int) -> tuple[Path, Path]:
    """``(root/base, root/rl)``: a tiny random Llama and its :func:`save_noisy_twin` (an RL-like update of std
    ``scale``), the folder pair that scorecard and boundary tests load with ``load_pair``."""
    save_tiny(root / "base", "llama", seed=0)
    return root / "base", save_noisy_twin(root / "base", root / "rl", scale=scale, seed=seed)


# ---------------------------------------------------------------- the test command leaves the work tree as it found it


def _git_status() -> str | None:
    import subprocess

    try:
        out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=Path(__file__).parent.parent,
                             capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout if out.returncode == 0 else None


GIT_STATUS = pytest.StashKey[str | None]()


def pytest_sessionstart(session):
    if not hasattr(session.config, "workerinput"):  # the controller only (pytest-xdist workers skip this)
        session.config.stash[GIT_STATUS] = _git_status()


def pytest_sessionfinish(session, exitstatus):
    before = session.config.stash.get(GIT_STATUS, None)
    if hasattr(session.config, "workerinput") or before is None:
        return
    after = _git_status()
    if after is not None and after != before:
        changed = sorted(set(after.splitlines()) ^ set(before.splitlines()))
        session.exitstatus = 1
        session.config.get_terminal_writer().line(
            "FAILED: the test run changed the work tree (tests must write only into temporary folders):\n  "
            + "\n  ".join(changed[:20]), red=True)


@pytest.fixture(scope="module")
def smoke_bandits(tmp_path_factory):
    """A tiny bandit base/RL pair (a few pretraining and RL steps), loaded, with its world and folder: built once per
    test module that asks for it."""
    from rlmeta_interp.experiments.bandits import smoke_bandit_pair
    from rlmeta_interp.models import load_pair
    from rlmeta_interp.organism.trained_world import world_for

    root = tmp_path_factory.mktemp("smoke_bandits")
    base, rl = smoke_bandit_pair(root, horizon=6, pretrain_steps=20, rl_steps=2)
    p = load_pair((base, rl))
    return p, world_for(p, "bandits"), root


def organism_manifest(root, name, *, preset, world="arithmetic", dose=0.5, base=None, variant="correct", seed=0,
                      ckpt=False):
    """A manifest-only zoo folder ``root/zoo/name`` (pair selection reads nothing else): a base, or with ``base`` an RL
    model of it; ``ckpt`` lists a dynamics checkpoint among its files."""
    folder = root / "zoo" / name
    folder.mkdir(parents=True)
    files = {"model.safetensors": "0" * 64}
    if ckpt:
        files["checkpoints/step_000010/model.safetensors"] = "1" * 64
    m = {"name": name, "kind": "rl" if base else "base", "world": world, "dose": dose, "seed": seed, "preset": preset,
         "files": files}
    if base:
        m.update(base=base, variant=variant)
    (folder / "manifest.json").write_text(json.dumps(m))
