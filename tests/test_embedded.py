"""Embedded real LMs (GGUF inside wheels): the table, typed errors, and the one-time conversion.

Conversion tests need the optional `real` extra and skip with the install command when it is absent.
SmolLM2-135M-Instruct (about 30 s to convert on 2 cores) runs by default; the Gemma-3-270M conversion
(about 100 s, plus 30 s for the reference load) runs only with ``RLMETA_TEST_GEMMA=1``.
Also smoke-checks ``benchmarks/gpu.py --device cpu --tiny`` (seconds).
"""

from __future__ import annotations

import importlib.util
import json
import os
import time

import pytest
import torch

from rlmeta_interp.embedded import (
    EMBEDDED_MODELS,
    EmbeddedModel,
    MissingExtraError,
    ensure_local_folder,
    get_embedded,
    is_available,
    licence_notice,
    load_from_gguf,
    local_folder,
    verify_folder,
)
from rlmeta_interp.errors import InvalidConfigError, ManifestMismatchError, UnknownModelError
from rlmeta_interp.paths import REPO_ROOT


def test_table_has_the_two_models_with_neutral_folders():
    assert set(EMBEDDED_MODELS) == {"gemma-3-270m", "smollm2-135m-instruct"}
    gemma, smol = get_embedded("gemma-3-270m"), get_embedded("smollm2-135m-instruct")
    assert gemma.kind == "base" and smol.kind == "post-trained"
    assert gemma.pair_with is None and smol.pair_with is None  # not a pair with each other
    assert gemma.licence == "Gemma Terms of Use" and smol.licence == "Apache-2.0"
    for spec in EMBEDDED_MODELS.values():
        assert "gemma" not in spec.folder_name and "llama" not in spec.folder_name
        assert EmbeddedModel.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    with pytest.raises(InvalidConfigError, match="neutral"):
        gemma.replace(folder_name="my-gemma")
    with pytest.raises(UnknownModelError, match="gemma-3-270m"):
        get_embedded("gemma-3-27m")


def test_missing_extra_names_the_install_command(monkeypatch, tmp_path):
    fake = get_embedded("smollm2-135m-instruct").replace(
        name="absent-model", gguf_module="rlmeta_no_such_module_xyz", install="pip install -e '.[real]'")
    monkeypatch.setitem(EMBEDDED_MODELS, "absent-model", fake)
    assert not is_available("absent-model")
    with pytest.raises(MissingExtraError, match=r"pip install -e '\.\[real\]'"):
        ensure_local_folder("absent-model", tmp_path)
    assert not any(tmp_path.iterdir())  # nothing half-built left behind
    assert "Apache-2.0" in licence_notice("absent-model")


def test_local_folder_is_neutral_and_under_the_cache(tmp_path, monkeypatch):
    from rlmeta_interp import sources

    monkeypatch.setenv("RLMETA_HOME", str(tmp_path / "home"))
    assert local_folder("gemma-3-270m") == tmp_path / "home" / "embedded" / "g3-270m-base"
    assert local_folder("gemma-3-270m", tmp_path / "c") == (tmp_path / "c").resolve() / "g3-270m-base"
    spec = sources.EMBEDDED.models()["gemma-3-270m"]
    assert spec.source == "embedded" and sources.source_for(spec) is sources.EMBEDDED
    # not converted here and the packages absent: not available; a converted folder makes it available
    if not is_available("gemma-3-270m"):
        assert not sources.available(spec)
        local_folder("gemma-3-270m").mkdir(parents=True)
        (local_folder("gemma-3-270m") / "manifest.json").write_text("{}")
        assert sources.available(spec)


def _skip_unless(name: str) -> None:
    if not is_available(name):
        pytest.skip(f"{name} needs the optional packages {get_embedded(name).packages}: `{get_embedded(name).install}`")


def _check_conversion(name: str, cache_dir) -> None:
    t0 = time.perf_counter()
    folder = ensure_local_folder(name, cache_dir)
    build_s = time.perf_counter() - t0
    assert folder.name == get_embedded(name).folder_name
    manifest = verify_folder(folder)
    assert manifest["converted_from"]["gguf_sha256"] == get_embedded(name).gguf_sha256
    assert manifest["licence"] == get_embedded(name).licence and (folder / "LICENCE.txt").exists()
    assert {"model.safetensors", "config.json", "tokenizer.json"} <= set(manifest["files"])
    config = json.loads((folder / "config.json").read_text())
    assert config["architectures"] == [get_embedded(name).architecture] and "quantization_config" not in config

    # independent reference: the model transformers builds straight from the GGUF
    from transformers import AutoModelForCausalLM, AutoTokenizer

    ref, _ = load_from_gguf(name, cache_dir / "_ref", tokenizer=False)
    conv = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(str(folder))
    ids = tok(["One, two, three, four,", "The quick brown fox jumps over"], return_tensors="pt", padding=True)
    with torch.no_grad():
        torch.testing.assert_close(conv(**ids).logits, ref(**ids).logits, atol=1e-4, rtol=1e-4)
    # the converted model is a real LM: it continues a count
    with torch.no_grad():
        nxt = conv(**tok("One, two, three, four,", return_tensors="pt")).logits[0, -1].argmax()
    assert "five" in tok.decode(nxt).lower()

    # second call: a verified cache hit, no rebuild
    weights = folder / "model.safetensors"
    mtime = weights.stat().st_mtime_ns
    t1 = time.perf_counter()
    assert ensure_local_folder(name, cache_dir) == folder
    hit_s = time.perf_counter() - t1
    assert weights.stat().st_mtime_ns == mtime and hit_s < build_s / 3
    assert not [p for p in cache_dir.iterdir() if p.name.endswith(".building")]

    # tampering is caught on the next call
    cfg_file = folder / "config.json"
    cfg_file.write_text(cfg_file.read_text().replace('"float32"', '"float16"'))
    with pytest.raises(ManifestMismatchError, match="Delete"):
        ensure_local_folder(name, cache_dir)


@pytest.mark.real_lm
@pytest.mark.slow
def test_smollm2_conversion_matches_gguf_and_caches(tmp_path):
    _skip_unless("smollm2-135m-instruct")
    _check_conversion("smollm2-135m-instruct", tmp_path)


@pytest.mark.real_lm
@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("RLMETA_TEST_GEMMA") != "1",
                    reason="Gemma-3-270M conversion takes ~2 minutes; set RLMETA_TEST_GEMMA=1 to run it")
def test_gemma_conversion_matches_gguf_and_caches(tmp_path):
    _skip_unless("gemma-3-270m")
    _check_conversion("gemma-3-270m", tmp_path)


def _load_gpu_benchmark(name: str = "gpu"):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", REPO_ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gpu_benchmark_smoke_on_cpu(tmp_path, capsys):
    bench = _load_gpu_benchmark()
    out = tmp_path / "bench.json"
    assert bench.main(["--device", "cpu", "--tiny", "--skip-tl-generate", "--repeats", "1", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    (res,) = report["results"]
    assert report["device_type"] == "cpu" and res["shape"] == "tiny"
    for key in ("hf_forward_tokens_per_s", "harvest_hook_ratio", "tl_forward_ratio",
                "tl_run_with_cache_one_hook_ratio", "hf_generate_tokens_per_s", "sae_step_s"):
        assert res[key] > 0
    # the hand-built HookedTransformer reproduces the HF layer output the forward hook harvested
    assert res["harvest_vs_tl_max_abs_diff_rel"] < 1e-5
    if not torch.cuda.is_available():
        assert bench.main(["--device", "cuda"]) == 2
        assert "--device cpu --tiny" in capsys.readouterr().err


def test_gpu_benchmark_qwen_configs_match_published_shapes():
    bench = _load_gpu_benchmark()
    cfg = bench.qwen2_config(bench.QWEN_SHAPES["qwen2.5-0.5b"], 151936, 1024)
    assert (cfg.hidden_size, cfg.num_hidden_layers, cfg.num_attention_heads, cfg.num_key_value_heads) == (896, 24, 14, 2)
    from transformers import Qwen2ForCausalLM

    with torch.device("meta"):
        n = sum(p.numel() for p in Qwen2ForCausalLM(cfg).parameters())
    assert abs(n - 494_032_768) / 494_032_768 < 0.001  # Qwen2.5-0.5B: 0.49B parameters (tied embeddings)


def test_gpu_library_check_smoke_on_cpu(tmp_path, monkeypatch):
    """Every step of benchmarks/gpu_library.py on the shipped demo pair, CPU against CPU (the GPU run is by hand)."""
    monkeypatch.setenv("RLMETA_HOME", str(tmp_path / "home"))
    check = _load_gpu_benchmark("gpu_library")
    out = tmp_path / "lib.json"
    assert check.main(["--device", "cpu", "--tiny", "--hub", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    (run,) = report["runs"]
    (hub,) = report["hub"]  # a Qwen2 folder pair in bf16 through load_pair, harvest, sampling and steering
    assert hub["arch"] == "qwen2" and hub["sample_nonempty_share"] > 0 and hub["steered_tokens_changed_share"] > 0
    assert hub["harvest_tl_vs_hf_max_rel_diff"] < 0.05  # bf16 rounding, not a conversion error
    assert run["harvest_tokens"] > 0 and run["passk_sequences"] == 2 * 4 * 4 and 0 < run["sae_fvu"] < 1.5
    assert {"unsteered/accuracy", "steered/accuracy", "random/accuracy"} <= set(run["steering"])
    # two runs on the same device and seeds agree exactly: activations, pass@1 and greedy steered text
    args = type("A", (), dict(pair="demo-arith-d050-rl-correct", contrast=8, problems=4, samples=4, max_batch=64,
                              batch=16, steer_prompts=4, sae_samples=2048))()
    runs, kept = zip(*(check.run_device("cpu", args) for _ in range(2)), strict=True)
    agree = check.compare(list(runs), list(kept))
    assert agree["agreement"]["harvest_max_rel_diff"] == 0.0
    assert agree["agreement"]["steered_greedy_identical_share"] == 1.0
    assert runs[0]["pass@1"] == runs[1]["pass@1"] and all(agree["agreement"]["pass@1_ci_overlap"].values())
    if not torch.cuda.is_available():
        assert check.main(["--device", "cuda"]) == 2
