from __future__ import annotations

import pytest
import torch

from rlmeta_interp import harvest, load_model
from rlmeta_interp.activations import fast_path_available
from rlmeta_interp.errors import EmptyInputError, HookNotFoundError, LayerOutOfRangeError
from rlmeta_interp.hooks import SITES, hook_name

from .conftest import ARCHS

PROMPTS = ["12+3=", "7-4+22=", "a1b0c1a1", "9"]


def _manual(m, prompts, hooks):
    """Reference: TransformerLens run_with_cache one prompt at a time (no padding at all), last token."""
    out = {h: [] for h in hooks}
    for p in prompts:
        ids, _ = m.to_tokens([p])
        _, cache = m.tl.run_with_cache(ids)
        for h in hooks:
            out[h].append(cache[h][0, -1])
    return {h: torch.stack(v) for h, v in out.items()}


@pytest.mark.parametrize("arch", ARCHS)
def test_harvest_equals_transformerlens_cache(tiny_folders, arch):
    m = load_model(tiny_folders[arch])
    sites = SITES if arch != "gemma3" else ("resid_pre", "resid_post")
    hooks = [hook_name(layer, s) for layer in range(2) for s in sites]
    assert fast_path_available(m, hooks)
    ref = _manual(m, PROMPTS, hooks)
    for backend in ("hf", "tl"):
        got = harvest(m, PROMPTS, hooks, batch_size=3, cache=False, backend=backend)
        for h in hooks:
            assert torch.allclose(got[h], ref[h], atol=1e-4), (backend, h, (got[h] - ref[h]).abs().max())


def test_gemma_sandwich_sites_use_transformerlens(tiny_folders):
    m = load_model(tiny_folders["gemma3"])
    assert not fast_path_available(m, [hook_name(0, "mlp_out")])
    got = harvest(m, PROMPTS[:2], [hook_name(0, "mlp_out")], cache=False)
    assert got[hook_name(0, "mlp_out")].shape == (2, m.d_model)


def test_all_positions_respect_right_padding(tiny_folders):
    m = load_model(tiny_folders["llama"])
    h = hook_name(1)
    acts = harvest(m, PROMPTS, [h], positions="all", cache=False)
    assert acts.mask is not None and acts[h].shape[:2] == acts.mask.shape
    for i, p in enumerate(PROMPTS):
        ids, _ = m.to_tokens([p])
        _, cache = m.tl.run_with_cache(ids)
        n = ids.shape[1]
        assert torch.allclose(acts[h][i, :n], cache[h][0], atol=1e-4)
        assert acts[h][i, n:].abs().sum() == 0 and int(acts.mask[i].sum()) == n


def test_disk_cache_hit_and_invalidation(tiny_folders, tmp_path):
    m = load_model(tiny_folders["llama"])
    hooks = [hook_name(0), hook_name(1)]
    first = harvest(m, PROMPTS, hooks, cache_dir=tmp_path)
    assert not first.from_cache and len(list(tmp_path.glob("*.safetensors"))) == 1
    second = harvest(m, PROMPTS, hooks, cache_dir=tmp_path)
    assert second.from_cache
    for h in hooks:
        assert torch.equal(first[h], second[h])
    with torch.no_grad():  # change the weights in place: the cache must not be reused
        m.hf.model.layers[0].mlp.down_proj.weight.mul_(2.0)
    third = harvest(m, PROMPTS, hooks, cache_dir=tmp_path)
    assert not third.from_cache and not torch.allclose(third[hooks[0]], first[hooks[0]])
    assert len(list(tmp_path.glob("*.safetensors"))) == 2


def test_token_input_and_errors(tiny_folders):
    m = load_model(tiny_folders["gpt2"])
    ids, mask = m.to_tokens(PROMPTS)
    a = harvest(m, ids, [hook_name(1)], attention_mask=mask, cache=False)
    b = harvest(m, PROMPTS, [hook_name(1)], cache=False)
    assert torch.allclose(a[hook_name(1)], b[hook_name(1)])
    with pytest.raises(EmptyInputError):
        harvest(m, [], [hook_name(1)])
    with pytest.raises(EmptyInputError):
        harvest(m, PROMPTS, [])
    with pytest.raises(HookNotFoundError):
        harvest(m, PROMPTS, ["blocks.1.hook_resid"])
    with pytest.raises(LayerOutOfRangeError):
        harvest(m, PROMPTS, [hook_name(7)])


def test_killed_harvest_resumes_from_partial_batches(tiny_folders, tmp_path):
    """A harvest that dies after some batches reuses them; the result equals an uninterrupted harvest."""
    m = load_model(tiny_folders["llama"])
    hooks = [hook_name(1)]
    prompts = [f"{i}+{i}=" for i in range(10)]
    reference = harvest(m, prompts, hooks, batch_size=3, cache=False)

    calls = {"n": 0}
    real_forward = m.hf.forward

    def dying_forward(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("killed mid-harvest")
        return real_forward(*args, **kwargs)

    m.hf.forward = dying_forward
    with pytest.raises(KeyboardInterrupt):
        harvest(m, prompts, hooks, batch_size=3, cache_dir=tmp_path)
    partial = list(tmp_path.glob("*.partial"))
    assert len(partial) == 1 and len(list(partial[0].glob("batch_*.safetensors"))) == 2
    assert not list(tmp_path.glob("*.safetensors"))  # no final file from a dead run

    calls["n"] = -100  # no more deaths; count the batches the resumed run computes
    resumed = harvest(m, prompts, hooks, batch_size=3, cache_dir=tmp_path)
    assert calls["n"] == -100 + 2  # only the two missing batches (of four) were computed
    assert torch.allclose(resumed[hooks[0]], reference[hooks[0]])
    assert not list(tmp_path.glob("*.partial")) and len(list(tmp_path.glob("*.safetensors"))) == 1
