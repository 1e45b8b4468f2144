import pytest
from transformers import AutoTokenizer

from rlmeta_interp.organism.tokenizer import BOS, CHARSET, SPECIALS, build_tokenizer, save_tokenizer


def test_every_character_is_one_token_and_roundtrips(tmp_path):
    tok = build_tokenizer()
    ids = tok(CHARSET, add_special_tokens=False)["input_ids"]
    assert ids == list(range(len(SPECIALS), len(SPECIALS) + len(CHARSET)))
    assert tok.decode(ids) == CHARSET
    assert tok("12+3=", add_special_tokens=True)["input_ids"] == tok("12+3=", add_special_tokens=False)["input_ids"]
    save_tokenizer(tok, tmp_path)
    again = AutoTokenizer.from_pretrained(tmp_path)
    assert again(CHARSET, add_special_tokens=False)["input_ids"] == ids
    assert again.bos_token == BOS and again.pad_token_id == 0
    assert again(BOS + "a1", add_special_tokens=False)["input_ids"][0] == tok.bos_token_id


def test_repeated_charset_is_rejected():
    with pytest.raises(ValueError):
        build_tokenizer("aa")
