"""The shared input validator (rlmeta_interp.inputs), checked directly on the values the public functions pass it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlmeta_interp.errors import EmptyInputError, InputTooLongError, InvalidConfigError, NonFiniteError
from rlmeta_interp.inputs import (check_float_array, check_int, check_number, check_prompt_pairs, check_prompts,
                                  check_token_batch)


def test_prompts():
    assert check_prompts(("a", np.str_("b"))) == ["a", "b"]  # any iterable of strings, numpy strings included
    with pytest.raises(InvalidConfigError, match=r"Pass a list: \['ab'\]"):
        check_prompts("ab")
    with pytest.raises(InvalidConfigError, match="must be a list of strings, got Tensor"):
        check_prompts(torch.zeros(2))
    with pytest.raises(EmptyInputError, match="at least one prompt"):
        check_prompts(iter(()))


def test_prompt_pairs():
    assert check_prompt_pairs(["1+1="], ["2"]) == (["1+1="], ["2"])
    with pytest.raises(InvalidConfigError, match="completions is a single string"):
        check_prompt_pairs(["1+1="], "2")
    with pytest.raises(InvalidConfigError, match="2 prompts but 1 completions: pass one completion per prompt"):
        check_prompt_pairs(["a", "b"], ["c"])


def test_numbers():
    assert check_int(np.int64(3), "n", lo=1) == 3 and isinstance(check_int(np.int64(3), "n"), int)
    assert check_number(torch.tensor(2.0), "m") == 2.0 and check_number(np.float32(0.5), "m", lo=0.0) == 0.5
    with pytest.raises(InvalidConfigError, match=r"n=0 is outside \[1, 5\]"):
        check_int(0, "n", lo=1, hi=5)
    with pytest.raises(NonFiniteError, match="m is nan"):
        check_number(float("nan"), "m")
    with pytest.raises(InvalidConfigError, match=r"m=0 is outside \(0, inf\]"):
        check_number(0.0, "m", lo=0, lo_open=True)


def test_token_batch_accepts_right_padding_and_rejects_the_rest():
    ids = torch.tensor([[1, 2, 3], [4, 5, 0]])
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    out_ids, out_mask = check_token_batch(ids.int(), mask.bool(), vocab_size=6, n_ctx=3)
    assert out_ids.dtype == torch.long and torch.equal(out_mask, mask)
    with pytest.raises(InvalidConfigError, match="Row 1 of the attention mask is not right-padded"):
        check_token_batch(ids, torch.tensor([[1, 1, 1], [0, 1, 1]]), vocab_size=6, n_ctx=None)
    with pytest.raises(InvalidConfigError, match="vocabulary has ids 0..4"):
        check_token_batch(ids, mask, vocab_size=5, n_ctx=None)
    with pytest.raises(InputTooLongError, match="3 tokens, more than the model's context of 2"):
        check_token_batch(ids, mask, vocab_size=6, n_ctx=2)
    with pytest.raises(InvalidConfigError, match="must be a torch tensor"):
        check_token_batch([[1, 2]], None, vocab_size=6, n_ctx=None)


def test_float_arrays():
    out = check_float_array(torch.tensor([[1, 2]], dtype=torch.float16), "acts")
    assert out.dtype == np.float64 and out.tolist() == [[1.0, 2.0]]
    assert check_float_array([0.5, 1], "targets").tolist() == [0.5, 1.0]
    with pytest.raises(EmptyInputError, match="acts is empty"):
        check_float_array(torch.zeros(0, 4), "acts")
    with pytest.raises(NonFiniteError, match="targets holds NaN"):
        check_float_array(np.array([1.0, np.inf]), "targets")
