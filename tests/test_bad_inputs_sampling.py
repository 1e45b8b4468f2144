"""Bad input to sample_completions / greedy_generate_tl / encode_prompts: typed errors naming the fix (issue 15)."""

from __future__ import annotations

import pytest
import torch

from rlmeta_interp import load_model
from rlmeta_interp.errors import (CorruptedCheckpointError, EmptyInputError, InputTooLongError, InvalidConfigError,
                                  NonFiniteError)
from rlmeta_interp.sampling import encode_prompts, greedy_generate_tl, sample_completions


@pytest.fixture(scope="module")
def llama(tiny_folders):
    return load_model(tiny_folders["llama"])


def test_bare_string_is_rejected_everywhere(llama):
    for call in (lambda: sample_completions(llama.hf, llama.tokenizer, "1+1=", n=2, max_new_tokens=2),
                 lambda: greedy_generate_tl(llama.tl, "1+1=", max_new_tokens=2),
                 lambda: encode_prompts(llama.tokenizer, "1+1=")):
        with pytest.raises(InvalidConfigError, match=r"single string.*Pass a list: \['1\+1='\]"):
            call()
    with pytest.raises(EmptyInputError, match="at least one prompt"):
        greedy_generate_tl(llama.tl, [])


@pytest.mark.parametrize("kw,err,fix", [
    ({"n": 2.5}, InvalidConfigError, "n must be an integer"),
    ({"n": True}, InvalidConfigError, "n must be an integer"),
    ({"max_new_tokens": 0}, InvalidConfigError, r"max_new_tokens=0 is outside \[1, inf\]"),
    ({"max_batch": "8"}, InvalidConfigError, "max_batch must be an integer"),
    ({"seed": 1.5}, InvalidConfigError, "seed must be an integer"),
    ({"temperature": float("nan")}, NonFiniteError, "temperature is nan: pass a finite number"),
    ({"temperature": float("inf")}, NonFiniteError, "finite"),
    ({"temperature": 0.0}, InvalidConfigError, "use greedy=True"),
    ({"temperature": 1e30}, InvalidConfigError, "typo"),
    ({"greedy": "yes"}, InvalidConfigError, "greedy must be True or False"),
])
def test_bad_sampling_arguments(llama, kw, err, fix):
    with pytest.raises(err, match=fix):
        sample_completions(llama.hf, llama.tokenizer, ["1+1="], **{"max_new_tokens": 2, **kw})


def test_context_overflow_names_max_new_tokens_never_a_negative_context(llama):
    with pytest.raises(InputTooLongError, match=r"max_new_tokens=500 that is 505, more than the model's context of 128"
                                                 r" tokens.*max_new_tokens <= 123") as e:
        sample_completions(llama.hf, llama.tokenizer, ["1+1="], max_new_tokens=500)
    assert "-" not in str(e.value).split("context of")[1].split()[0]
    with pytest.raises(InputTooLongError, match="context of 128 tokens"):
        greedy_generate_tl(llama.tl, ["1+1="], max_new_tokens=500)


def test_a_foreign_tokenizer_is_caught(llama, tiny_folders, tmp_path):
    """A tokenizer whose ids do not exist in the model's embedding table: a typed error, not an IndexError."""
    from transformers import AutoTokenizer

    from .conftest import make_tiny_hf

    small = make_tiny_hf("llama", vocab_size=8)
    tok = AutoTokenizer.from_pretrained(tiny_folders["llama"])
    with pytest.raises(InvalidConfigError, match="vocabulary has ids 0..7: pass the tokenizer that belongs"):
        sample_completions(small, tok, ["12+3="], max_new_tokens=2)


def test_flipped_byte_in_a_sample_chunk_is_detected(llama, tmp_path):
    kw = dict(n=2, max_new_tokens=4, seed=3, cache_dir=tmp_path)
    ref = sample_completions(llama.hf, llama.tokenizer, ["1+1=", "2+2="], **kw)
    (chunk,) = tmp_path.glob("*/chunk_*.safetensors")
    raw = bytearray(chunk.read_bytes())
    raw[-2] ^= 0x04
    chunk.write_bytes(bytes(raw))
    with pytest.raises(CorruptedCheckpointError, match=r"sha256.*rm .*chunk_0000000.*sample_completions\(\.\.\.\) again"):
        sample_completions(llama.hf, llama.tokenizer, ["1+1=", "2+2="], **kw)
    chunk.unlink()
    assert sample_completions(llama.hf, llama.tokenizer, ["1+1=", "2+2="], **kw) == ref


def test_encode_prompts_bad_padding_side(llama):
    with pytest.raises(InvalidConfigError, match="padding_side must be 'left' or 'right'"):
        encode_prompts(llama.tokenizer, ["1"], padding_side="middle")
    ids, mask = encode_prompts(llama.tokenizer, ["1", "22"], padding_side="right")
    assert mask.tolist() == [[1, 1, 0], [1, 1, 1]] and torch.all(ids[:, 0] == llama.tokenizer.bos_token_id)


def test_a_missing_tokenizer_is_named(llama):
    with pytest.raises(InvalidConfigError, match="needs the model's tokenizer"):
        sample_completions(llama.hf, None, ["1+1="], max_new_tokens=2)


def test_a_loaded_model_instead_of_its_hf_model(llama):
    with pytest.raises(InvalidConfigError, match="pass model.hf and model.tokenizer"):
        sample_completions(llama, llama.tokenizer, ["1+1="], max_new_tokens=2)


def test_non_finite_scores_are_an_error_when_sampling_and_when_greedy(tiny_folders):
    """Sampling failed inside torch and greedy decoding returned empty strings that pass@k counted as wrong."""
    model = load_model(tiny_folders["llama"])
    with torch.no_grad():
        model.hf.lm_head.weight.fill_(float("nan"))
    for greedy in (False, True):
        with pytest.raises(NonFiniteError, match="float32"):
            sample_completions(model.hf, model.tokenizer, ["1+1="], n=2, greedy=greedy, max_new_tokens=2)
