from __future__ import annotations

import json
import shutil

import pytest
import torch

from rlmeta_interp import LoadConfig, load_model, load_pair
from rlmeta_interp.errors import (CorruptedCheckpointError, HookNotFoundError, IncompatiblePairError,
                                  InvalidConfigError, LayerOutOfRangeError, MissingWeightsError, UnknownModelError)
from rlmeta_interp.hooks import hook_name

from .conftest import ARCHS, save_tiny, save_tiny_hub

PROMPTS = ["12+3=", "7-4+22=", "a1b0c"]


@pytest.mark.parametrize("arch", ARCHS)
def test_tl_logits_match_hf(tiny_folders, arch):
    m = load_model(tiny_folders[arch])
    ids, _ = m.to_tokens(PROMPTS[:1])
    with torch.no_grad():
        hf_logits = m.hf(ids).logits
        tl_logits = m.tl(ids)
    assert torch.allclose(hf_logits, tl_logits, atol=1e-4), (hf_logits - tl_logits).abs().max()
    assert m.tl.rlmeta_processing == "none"
    assert m.n_layers == 2 and m.d_model == 32


def test_a_gpt2_folder_without_n_ctx_gets_its_transformerlens_view(tiny_folders, tmp_path):
    """transformers 5 saves GPT-2 with n_positions and no n_ctx, which TransformerLens' GPT-2 conversion reads: the
    view is built from a fixed copy of the config (n_ctx = n_positions), and the user's folder is left as it was."""
    folder = tmp_path / "gpt2"
    shutil.copytree(tiny_folders["gpt2"], folder)
    cfg = json.loads((folder / "config.json").read_text())
    cfg.pop("n_ctx", None)
    (folder / "config.json").write_text(json.dumps(cfg))
    before = (folder / "config.json").read_bytes()
    m = load_model(folder)
    ids, _ = m.to_tokens(PROMPTS[:1])
    with torch.no_grad():
        assert torch.allclose(m.hf(ids).logits, m.tl(ids), atol=1e-4)
    assert m.tl.cfg.n_ctx == cfg["n_positions"] and (folder / "config.json").read_bytes() == before


@pytest.mark.parametrize("arch", ARCHS)
def test_cached_and_uncached_greedy_generation_agree(tiny_folders, arch):
    m = load_model(tiny_folders[arch])
    ids, mask = m.to_tokens(PROMPTS[:1])
    with torch.no_grad():
        cached = m.hf.generate(ids, attention_mask=mask, max_new_tokens=12, do_sample=False, use_cache=True,
                               pad_token_id=m.tokenizer.pad_token_id)
        uncached = m.hf.generate(ids, attention_mask=mask, max_new_tokens=12, do_sample=False, use_cache=False,
                                 pad_token_id=m.tokenizer.pad_token_id)
        tl_gen = m.tl.generate(ids, max_new_tokens=12, do_sample=False, verbose=False, use_past_kv_cache=True)
    assert torch.equal(cached, uncached)
    assert torch.equal(cached[0, : tl_gen.shape[1]], tl_gen[0, : cached.shape[1]])


def test_qwen_has_no_bos_and_tl_agrees(tiny_folders):
    m = load_model(tiny_folders["qwen2"])
    assert not m.prepend_bos
    ids, _ = m.to_tokens(["12+3="])
    assert torch.equal(ids, m.tl.to_tokens("12+3="))
    llama = load_model(tiny_folders["llama"])
    assert llama.prepend_bos and int(llama.to_tokens(["1"])[0][0, 0]) == llama.tokenizer.bos_token_id


def test_pair_records_shared_processing(tiny_folders, tmp_path):
    rl = save_tiny(tmp_path / "rl_llama", "llama", seed=1)
    pair = load_pair((tiny_folders["llama"], rl))
    assert pair.base.load_config == pair.rl.load_config == LoadConfig()
    assert not torch.equal(next(pair.base.hf.parameters()), next(pair.rl.hf.parameters()))


def test_incompatible_pairs_name_the_mismatch(tiny_folders, tmp_path):
    wide = save_tiny(tmp_path / "wide", "llama", d_model=48)
    with pytest.raises(IncompatiblePairError, match="d_model differs"):
        load_pair((tiny_folders["llama"], wide))
    deep = save_tiny(tmp_path / "deep", "llama", n_layers=3)
    with pytest.raises(IncompatiblePairError, match="number of layers"):
        load_pair((tiny_folders["llama"], deep))
    other_tok = tmp_path / "other_tok"
    shutil.copytree(tiny_folders["llama"], other_tok)
    from rlmeta_interp.organism.tokenizer import build_tokenizer

    build_tokenizer(charset="0123456789+-=").save_pretrained(other_tok)
    with pytest.raises(IncompatiblePairError, match="tokenizers differ"):
        load_pair((tiny_folders["llama"], other_tok))


def _retokenize(base, folder, **special):
    from transformers import AutoTokenizer

    shutil.copytree(base, folder)
    tok = AutoTokenizer.from_pretrained(folder)
    tok.add_special_tokens(special)
    tok.save_pretrained(folder)
    return folder


@pytest.mark.parametrize("arch", ARCHS)
def test_pairs_whose_special_tokens_or_context_differ_are_refused(tiny_folders, tmp_path, arch):
    """Identical weights, but the RL tokenizer's BOS (or another special token) or the context length differs: the
    activations would not be comparable, so load_pair names the mismatch and the fix."""
    base = tiny_folders[arch]
    tok = load_model(base).tokenizer
    bos = _retokenize(base, tmp_path / "bos", bos_token=tok.eos_token)
    with pytest.raises(IncompatiblePairError, match=rf"BOS token differs \(id {tok.bos_token_id} vs"
                                                    rf" {tok.eos_token_id}\).*copy the base folder's tokenizer"):
        load_pair((base, bos))
    marked = _retokenize(base, tmp_path / "special", additional_special_tokens=["#"])  # "#" keeps its id
    assert load_model(marked).tokenizer.get_vocab() == tok.get_vocab()
    with pytest.raises(IncompatiblePairError, match=r"special tokens differ \(only in base: \[\], only in RL: \['#'\]"):
        load_pair((base, marked))
    if arch == "gpt2":  # GPT-2's context length shapes its position table: strict loading refuses that (test_hf_folder)
        return
    longer = tmp_path / "ctx"
    shutil.copytree(base, longer)
    cfg = json.loads((longer / "config.json").read_text())
    cfg["max_position_embeddings"] = 256
    (longer / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(IncompatiblePairError, match=r"context length differs \(128 vs 256\).*max_position_embeddings"):
        load_pair((base, longer))


def test_unknown_name_lists_close_matches():
    with pytest.raises(UnknownModelError) as e:
        load_model("orz-0.5")
    assert "orz-0.5b" in str(e.value) or "Did you mean" in str(e.value)
    with pytest.raises(UnknownModelError, match="orz-0.5b"):
        load_pair("orz-05b")


def test_hub_pair_without_cache_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty_hf_home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty_hf_home" / "hub"))
    with pytest.raises(MissingWeightsError, match="huggingface-cli download"):
        load_pair("orz-0.5b")


def test_hub_id_loads_from_local_cache(tmp_path, monkeypatch):
    """A hub id already in the hub cache loads offline (cache laid out as huggingface_hub writes it)."""
    cache = tmp_path / "hub"
    save_tiny_hub(cache, "someorg/tiny-qwen", "qwen2")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(cache))
    m = load_model("someorg/tiny-qwen")
    assert m.architecture == "Qwen2ForCausalLM"


def test_missing_and_corrupted_weights(tiny_folders, tmp_path):
    with pytest.raises(MissingWeightsError, match="does not exist"):
        load_model(tmp_path / "nope" / "model")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(MissingWeightsError, match="config.json"):
        load_model(empty)
    broken = tmp_path / "broken"
    shutil.copytree(tiny_folders["llama"], broken)
    w = broken / "model.safetensors"
    w.write_bytes(w.read_bytes()[: w.stat().st_size // 2])
    with pytest.raises(CorruptedCheckpointError, match="truncated|corrupted"):
        load_model(broken)
    (broken / "model.safetensors").unlink()
    with pytest.raises(MissingWeightsError, match="no weight files"):
        load_model(broken)


def test_an_empty_name_is_not_the_working_directory():
    with pytest.raises(InvalidConfigError, match="model name is empty"):
        load_model("")


def test_a_pair_of_one_folder_twice_is_loaded_with_a_warning(tiny_folders, caplog):
    import logging

    with caplog.at_level(logging.WARNING, logger="rlmeta_interp.models"):
        pair = load_pair((tiny_folders["llama"], tiny_folders["llama"]))
    assert pair.base.folder == pair.rl.folder and "are the same folder" in caplog.text


def test_a_tuned_model_is_paired_only_with_the_weights_it_was_tuned_from(tmp_path, caplog):
    import logging
    import shutil

    from rlmeta_interp.paths import shipped_zoo_dir

    zoo = shipped_zoo_dir()
    rl = zoo / "paper-bandit-d000-rl-correct"
    assert load_pair((zoo / "paper-bandit-d000-base", rl)).rl.name == "paper-bandit-d000-rl-correct"
    with pytest.raises(IncompatiblePairError, match=r"tuned from paper-bandit-d000-base .* demo-arith-d050-base holds"
                                                    r" other weights"):
        load_pair((zoo / "demo-arith-d050-base", rl))
    # a base folder without a manifest is checked by its weights file, and a mismatch only warns (a copy saved again
    # differs byte for byte though its numbers are the same)
    bare = shutil.copytree(zoo / "paper-bandit-d000-base", tmp_path / "bare")
    (bare / "manifest.json").unlink()
    with caplog.at_level(logging.WARNING, logger="rlmeta_interp.models"):
        assert load_pair((bare, rl)).base.manifest is None
        assert "make sure it is that base" not in caplog.text
        other = shutil.copytree(zoo / "demo-arith-d050-base", tmp_path / "other")
        (other / "manifest.json").unlink()
        load_pair((other, rl))
    assert "is not that one" in caplog.text


def test_a_dict_for_the_load_config_names_loadconfig(tiny_folders):
    for call in (lambda: load_model(tiny_folders["llama"], {"dtype": "float32"}),
                 lambda: load_pair((tiny_folders["llama"], tiny_folders["llama"]), {"dtype": "float32"})):
        with pytest.raises(InvalidConfigError, match=r"LoadConfig.from_dict"):
            call()


def test_bad_hook_and_layer(tiny_folders):
    m = load_model(tiny_folders["llama"])
    with pytest.raises(HookNotFoundError, match="blocks.1.hook_resid_post"):
        m.check_hook("blocks.1.hook_resid_pots")
    with pytest.raises(LayerOutOfRangeError, match="2 layers"):
        m.check_hook(hook_name(5))
    assert m.layer(-1) == 1


def test_transformerlens_build_leaves_no_temporary_links(tiny_folders, tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    m = load_model(tiny_folders["llama"])
    assert not m.tl_built
    assert m.tl is not None and m.tl(m.to_tokens(["1+1="])[0]).shape[-1] == len(m.tokenizer)
    assert m.tl_built
    assert list(tmp_path.iterdir()) == []
