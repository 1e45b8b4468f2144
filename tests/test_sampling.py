from __future__ import annotations

import pytest
import torch

from rlmeta_interp import load_model
from rlmeta_interp.errors import EmptyInputError, InputTooLongError, InvalidConfigError
from rlmeta_interp.sampling import encode_prompts, sample_completions


def test_batched_sampling_matches_single_prompt_greedy(tiny_folders):
    m = load_model(tiny_folders["llama"])
    prompts = ["12+3=", "7-4+22=", "9"]
    batched = sample_completions(m.hf, m.tokenizer, prompts, n=2, greedy=True, max_new_tokens=6)
    for p, outs in zip(prompts, batched, strict=True):
        ids, _ = encode_prompts(m.tokenizer, [p])
        ref = m.hf.generate(ids, max_new_tokens=6, do_sample=False, pad_token_id=m.tokenizer.pad_token_id)
        ref_text = m.tokenizer.decode(ref[0, ids.shape[1]:].tolist(), skip_special_tokens=True)
        assert outs == [ref_text, ref_text] or ref_text.startswith(outs[0])


def test_sampling_is_seeded_and_shaped(tiny_folders):
    m = load_model(tiny_folders["llama"])
    a = sample_completions(m.hf, m.tokenizer, ["1+1="] * 3, n=5, max_new_tokens=5, seed=7, max_batch=4)
    b = sample_completions(m.hf, m.tokenizer, ["1+1="] * 3, n=5, max_new_tokens=5, seed=7, max_batch=4)
    assert a == b and len(a) == 3 and all(len(x) == 5 for x in a)
    assert len({s for row in a for s in row}) > 1  # random weights: samples differ


def test_sampling_errors(tiny_folders):
    m = load_model(tiny_folders["llama"])
    with pytest.raises(EmptyInputError):
        sample_completions(m.hf, m.tokenizer, [], n=1)
    with pytest.raises(InvalidConfigError):
        sample_completions(m.hf, m.tokenizer, ["1"], n=0)
    with pytest.raises(InputTooLongError, match="context"):
        sample_completions(m.hf, m.tokenizer, ["1" * 200], n=1, max_new_tokens=4)
    ids, mask = encode_prompts(m.tokenizer, ["12", "1"], padding_side="left")
    assert ids[1, 0] == m.tokenizer.pad_token_id and mask.tolist() == [[1, 1, 1], [0, 1, 1]]
    assert torch.all(ids[:, -1] != m.tokenizer.pad_token_id)


def test_greedy_generate_tl_matches_hf_greedy(tiny_folders):
    from rlmeta_interp.sampling import greedy_generate_tl

    m = load_model(tiny_folders["llama"])
    prompts = ["12+3=", "7-4+22=", "9", "45+1="]
    tl_out = greedy_generate_tl(m.tl, prompts, max_new_tokens=6, batch_size=2)
    hf_out = sample_completions(m.hf, m.tokenizer, prompts, n=1, greedy=True, max_new_tokens=6)
    assert tl_out == [row[0] for row in hf_out]
    with pytest.raises(EmptyInputError):
        greedy_generate_tl(m.tl, [])


class _Killed(Exception):
    """Raised from a forward hook: stands in for a job killed mid-run."""


def _kill_after(model, n_forwards: int):
    calls = {"n": 0}

    def hook(module, args):
        calls["n"] += 1
        if calls["n"] > n_forwards:
            raise _Killed

    return model.register_forward_pre_hook(hook), calls


def _count_forwards(model):
    calls = {"n": 0}

    def hook(module, args):
        calls["n"] += 1

    return model.register_forward_pre_hook(hook), calls


def test_sampling_cache_resumes_a_killed_run_identically(tiny_folders, tmp_path):
    from rlmeta_interp.errors import CorruptedCheckpointError

    m = load_model(tiny_folders["llama"])
    prompts = ["12+3=", "7-4+22=", "9", "45+1=", "3*3=", "8-1="]
    kw = dict(n=3, max_new_tokens=5, seed=11, max_batch=6)  # 2 prompts per chunk: 3 chunks of 6 forwards each
    per_chunk = 1 + 5  # the shared prompt prefill, then one forward per new token
    ref = sample_completions(m.hf, m.tokenizer, prompts, **kw)
    handle, _ = _kill_after(m.hf, 7)  # dies inside the second chunk
    with pytest.raises(_Killed):
        sample_completions(m.hf, m.tokenizer, prompts, cache_dir=tmp_path / "cache", **kw)
    handle.remove()
    (folder,) = (tmp_path / "cache").iterdir()
    assert sorted(p.name for p in folder.glob("chunk_*")) == ["chunk_0000000.safetensors"]
    assert not list(folder.glob(".*tmp"))  # no half-written chunk left behind
    handle, calls = _count_forwards(m.hf)
    resumed = sample_completions(m.hf, m.tokenizer, prompts, cache_dir=tmp_path / "cache", **kw)
    assert resumed == ref and calls["n"] == 2 * per_chunk  # only the two missing chunks were sampled
    again = sample_completions(m.hf, m.tokenizer, prompts, cache_dir=tmp_path / "cache", **kw)
    assert again == ref and calls["n"] == 2 * per_chunk  # everything read back
    handle.remove()
    # another seed, another prompt list or other weights: another folder, never a stale read
    other = sample_completions(m.hf, m.tokenizer, prompts, cache_dir=tmp_path / "cache", **{**kw, "seed": 12})
    assert other != ref and len(list((tmp_path / "cache").iterdir())) == 2
    fewer = sample_completions(m.hf, m.tokenizer, prompts[1:], cache_dir=tmp_path / "cache", **kw)
    assert len(fewer) == 5 and len(list((tmp_path / "cache").iterdir())) == 3
    original = m.hf.lm_head.weight.detach().clone()
    with torch.no_grad():
        m.hf.lm_head.weight.mul_(1.5)
    sample_completions(m.hf, m.tokenizer, prompts, cache_dir=tmp_path / "cache", **kw)
    assert len(list((tmp_path / "cache").iterdir())) == 4
    from rlmeta_interp.io import save_tensors_atomic

    save_tensors_atomic(folder / "chunk_0000002.safetensors", {"tokens": torch.zeros(1, 5, dtype=torch.long)})
    with torch.no_grad():
        m.hf.lm_head.weight.copy_(original)
    with pytest.raises(CorruptedCheckpointError, match="Delete it"):
        sample_completions(m.hf, m.tokenizer, prompts, cache_dir=tmp_path / "cache", **kw)


def test_sampling_cache_key_covers_the_model_config_and_the_sampler_code(tiny_folders, tmp_path, monkeypatch):
    """Same weights and arguments, but another model config or other sampler code: another cache folder."""
    import json
    import shutil

    from rlmeta_interp import sampling

    prompts = ["12+3=", "7-4+22=45+1"]
    kw = dict(n=1, greedy=True, max_new_tokens=8, cache_dir=tmp_path / "cache")

    def folders() -> int:
        return len(list((tmp_path / "cache").iterdir()))

    m = load_model(tiny_folders["llama"])
    ref = sample_completions(m.hf, m.tokenizer, prompts, **kw)
    assert sample_completions(m.hf, m.tokenizer, prompts, **kw) == ref and folders() == 1  # read back
    # the same weights under a config with another RoPE base generate other tokens: never the cached ones
    other = shutil.copytree(tiny_folders["llama"], tmp_path / "tiny_llama_theta")
    cfg = json.loads((other / "config.json").read_text())
    cfg["rope_parameters"]["rope_theta"] = 3.0
    (other / "config.json").write_text(json.dumps(cfg))
    m2 = load_model(str(other))
    fresh = sample_completions(m2.hf, m2.tokenizer, prompts, **{**kw, "cache_dir": None})
    assert fresh != ref  # the config change matters to generation
    assert sample_completions(m2.hf, m2.tokenizer, prompts, **kw) == fresh and folders() == 2
    # the attention kernel is not in config.to_dict(): eager and sdpa attention may round differently
    m.hf.set_attn_implementation("eager")
    sample_completions(m.hf, m.tokenizer, prompts, **kw)
    assert folders() == 3
    # the key holds the digest of the sampler's code: another digest (as an edit to it would give) samples anew
    monkeypatch.setattr(sampling, "code_digest", lambda *m, **kw: "0" * 16)
    sample_completions(m.hf, m.tokenizer, prompts, **kw)
    assert folders() == 4


@pytest.mark.parametrize("arch", ["llama", "qwen2", "gpt2", "gemma3"])
def test_shared_prompt_prefill_matches_plain_generate(tiny_folders, arch):
    """Sampling n per prompt from one prefilled, copied KV cache gives the tokens of generate(num_return_sequences=n)."""
    m = load_model(tiny_folders[arch])
    prompts = ["12+3=", "7-4+22=", "9", "45+1=+1+2+3+4+5+6+7+8+9+10+11"]  # left padding; gemma3 past its 16-token window
    got = sample_completions(m.hf, m.tokenizer, prompts, n=3, max_new_tokens=8, seed=4, max_batch=6)
    ids, mask = encode_prompts(m.tokenizer, prompts)
    gen = torch.Generator().manual_seed(4)
    ref = []
    for start in range(0, len(prompts), 2):  # the same chunks and per-chunk seeds as sample_completions
        torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=gen)))
        sub, sub_mask = ids[start:start + 2], mask[start:start + 2]
        first = int((sub_mask.sum(0) > 0).nonzero()[0])
        sub, sub_mask = sub[:, first:], sub_mask[:, first:]
        seqs = m.hf.generate(input_ids=sub, attention_mask=sub_mask, max_new_tokens=8, do_sample=True, temperature=1.0,
                             top_k=0, top_p=1.0, num_return_sequences=3, pad_token_id=m.tokenizer.pad_token_id,
                             eos_token_id=m.tokenizer.eos_token_id)
        texts = [m.tokenizer.decode(_cut(r.tolist(), m.tokenizer.eos_token_id), skip_special_tokens=True)
                 for r in seqs[:, sub.shape[1]:]]
        ref += [texts[i * 3:(i + 1) * 3] for i in range(sub.shape[0])]
    assert got == ref


def _cut(ids: list[int], eos: int) -> list[int]:
    return ids[: ids.index(eos)] if eos in ids else ids
