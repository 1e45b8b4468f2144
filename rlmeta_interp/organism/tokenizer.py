"""One character-level tokenizer shared by every organism world.

Built with ``tokenizers`` (a BPE model with an empty merge list is exactly a character vocabulary)
and wrapped in ``PreTrainedTokenizerFast`` so transformers, TransformerLens and TRL accept it and
``save_pretrained`` / ``AutoTokenizer.from_pretrained`` round-trip it.
"""

from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from ..errors import InvalidConfigError

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS: tuple[str, ...] = (PAD, BOS, EOS, UNK)
# Every character any world writes. Order is part of the model: append only, never reorder.
CHARSET: str = "0123456789+-*=()[]<>,.:;?| abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\n#"


def build_tokenizer(charset: str = CHARSET) -> PreTrainedTokenizerFast:
    if len(set(charset)) != len(charset):
        raise InvalidConfigError("build_tokenizer: the charset has repeated characters; list each character once.")
    vocab = {tok: i for i, tok in enumerate(SPECIALS)}
    for ch in charset:
        vocab[ch] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    tok.decoder = decoders.Fuse()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=BOS, eos_token=EOS, pad_token=PAD, unk_token=UNK,
        padding_side="right", model_max_length=4096,
    )
    fast.add_bos_token = False
    return fast


def save_tokenizer(tokenizer: PreTrainedTokenizerFast, folder: str | Path) -> None:
    tokenizer.save_pretrained(str(folder))
