"""Bad input to harvest (and its cache) is a typed error naming the fix, or the correct result (issue 15, items 1, 4-6,
10, 11)."""

from __future__ import annotations

import pytest
import torch

from rlmeta_interp import harvest, hook_name, load_model
from rlmeta_interp.errors import CorruptedCheckpointError, EmptyInputError, InputTooLongError, InvalidConfigError

PROMPTS = ["12+3=", "7-4+22=", "9", "45+1="]


@pytest.fixture(scope="module")
def llama(tiny_folders):
    return load_model(tiny_folders["llama"])


def test_bare_string_prompts_are_rejected_not_split_into_characters(llama):
    with pytest.raises(InvalidConfigError, match=r"single string.*one prompt per character.*Pass a list: \['12\+3='\]"):
        harvest(llama, "12+3=", [hook_name(0)], cache=False)
    with pytest.raises(InvalidConfigError, match=r"prompts\[1\] is int 2, not a string"):
        harvest(llama, ["1", 2], [hook_name(0)], cache=False)
    with pytest.raises(InvalidConfigError, match=r"hooks is a single string.*pass a list"):
        harvest(llama, PROMPTS, hook_name(0), cache=False)


@pytest.mark.parametrize("bs", [0, -1, 2.5, True, "8"])
def test_bad_batch_size(llama, bs):
    with pytest.raises(InvalidConfigError, match="batch_size"):
        harvest(llama, PROMPTS, [hook_name(0)], batch_size=bs, cache=False)


def test_left_padding_is_rejected(llama):
    ids, mask = llama.to_tokens(PROMPTS, padding_side="left")
    with pytest.raises(InvalidConfigError, match="not right-padded.*padding_side='right'"):
        harvest(llama, ids, [hook_name(1)], attention_mask=mask, cache=False)
    right_ids, right_mask = llama.to_tokens(PROMPTS, padding_side="right")
    got = harvest(llama, right_ids, [hook_name(1)], attention_mask=right_mask, cache=False)
    ref = harvest(llama, PROMPTS, [hook_name(1)], cache=False)
    assert torch.equal(got[hook_name(1)], ref[hook_name(1)])


@pytest.mark.parametrize("bad", ["too_big", "negative"])
def test_ids_outside_the_vocabulary(llama, bad):
    ids, mask = llama.to_tokens(PROMPTS)
    vocab = llama.hf.get_input_embeddings().num_embeddings
    ids[0, 1] = vocab + 5 if bad == "too_big" else -1
    with pytest.raises(InvalidConfigError, match=rf"vocabulary has ids 0..{vocab - 1}.*model.to_tokens"):
        harvest(llama, ids, [hook_name(0)], attention_mask=mask, cache=False)


def test_token_tensor_longer_than_the_context(llama):
    ids = torch.ones(1, llama.n_ctx + 1, dtype=torch.long)
    with pytest.raises(InputTooLongError, match=f"context of {llama.n_ctx}: shorten it"):
        harvest(llama, ids, [hook_name(0)], cache=False)


@pytest.mark.parametrize("case", ["shape", "values", "empty_row", "1d", "mask_with_strings"])
def test_bad_token_tensors_and_masks(llama, case):
    ids, mask = llama.to_tokens(PROMPTS)
    kw: dict = {"attention_mask": mask}
    err, fix = InvalidConfigError, "attention_mask"
    if case == "shape":
        kw["attention_mask"] = mask[:, :-1]
        fix = "ids' shape"
    elif case == "values":
        kw["attention_mask"] = mask * 2
        fix = "only 0 and 1"
    elif case == "empty_row":
        mask[2] = 0
        err, fix = EmptyInputError, "Row 2 .* no real tokens: drop that row"
    elif case == "1d":
        ids, kw = ids[0], {}
        err, fix = EmptyInputError, r"ids\[None\]"
    else:
        ids, kw = PROMPTS, {"attention_mask": mask}
        fix = "applies to a token tensor only"
    with pytest.raises(err, match=fix):
        harvest(llama, ids, [hook_name(0)], cache=False, **kw)


@pytest.mark.parametrize("caller_in_inference_mode", [False, True])
def test_tl_built_inside_harvest_still_trains(tiny_folders, caller_in_inference_mode):
    """The TransformerLens model built by harvest (backend='tl') must allow forward passes with gradients later,
    also when harvest itself was called inside torch.inference_mode()."""
    m = load_model(tiny_folders["llama"])
    assert m._tl is None
    with torch.inference_mode(caller_in_inference_mode):
        harvest(m, PROMPTS, [hook_name(0)], backend="tl", cache=False)
    ids, _ = m.to_tokens(PROMPTS[:1])
    loss = m.tl(ids, return_type="loss")
    loss.backward()
    grads = [p.grad for p in m.tl.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)


def test_flipped_byte_in_the_activation_cache_is_detected(llama, tmp_path):
    hooks = [hook_name(0), hook_name(1)]
    first = harvest(llama, PROMPTS, hooks, cache_dir=tmp_path)
    (path,) = tmp_path.glob("*.safetensors")
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x01  # one bit of one float in the payload
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptedCheckpointError, match=rf"fails its sha256 check.*Delete it \(rm {path}\).*harvest"):
        harvest(llama, PROMPTS, hooks, cache_dir=tmp_path)
    path.unlink()  # the fix the message names
    again = harvest(llama, PROMPTS, hooks, cache_dir=tmp_path)
    assert not again.from_cache and all(torch.equal(again[h], first[h]) for h in hooks)
    assert harvest(llama, PROMPTS, hooks, cache_dir=tmp_path).from_cache


def test_truncated_activation_cache_names_the_harvest_not_the_zoo(llama, tmp_path):
    harvest(llama, PROMPTS, [hook_name(0)], cache_dir=tmp_path)
    (path,) = tmp_path.glob("*.safetensors")
    path.write_bytes(path.read_bytes()[:-50])
    with pytest.raises(CorruptedCheckpointError, match="truncated or corrupted.*call harvest") as e:
        harvest(llama, PROMPTS, [hook_name(0)], cache_dir=tmp_path)
    assert "zoo build" not in str(e.value)


def test_harvest_needs_a_loaded_model(llama):
    with pytest.raises(InvalidConfigError, match=r"harvest takes a LoadedModel \(rlmeta_interp.load_model"):
        harvest(llama.hf, PROMPTS, [hook_name(0)], cache=False)


def test_a_hook_without_one_vector_per_position_names_run_with_cache(llama):
    """An attention pattern ([batch, head, query, key]) passes check_hook; it gave an IndexError at the last position.
    A per-head hook ([batch, pos, head, d_head]) is harvested flattened over its heads, at either positions setting."""
    for positions in ("last", "all"):
        with pytest.raises(InvalidConfigError, match=r"not one vector per position.*run_with_cache"):
            harvest(llama, PROMPTS, ["blocks.0.attn.hook_pattern"], positions=positions, cache=False)
    z = "blocks.0.attn.hook_z"
    last = harvest(llama, PROMPTS, [z], positions="last", cache=False)[z]
    every = harvest(llama, PROMPTS, [z], positions="all", cache=False)[z]
    ids, mask = llama.to_tokens(PROMPTS[:1])
    _, cache = llama.tl.run_with_cache(ids, names_filter=z)
    width = llama.tl.cfg.n_heads * llama.tl.cfg.d_head
    assert last.shape == (len(PROMPTS), width) and every.shape[0] == len(PROMPTS) and every.shape[2] == width
    n = int(mask[0].sum())
    assert torch.allclose(every[0, :n], cache[z][0, :n].flatten(1), atol=1e-5)
    assert torch.allclose(last[0], cache[z][0, n - 1].flatten(), atol=1e-5)
