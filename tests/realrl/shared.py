"""Helpers shared by the tests of ``rlmeta_interp.realrl``: a tiny random Llama saved as a Hugging Face folder (so
the real TRL ``GRPOTrainer`` and peft run on CPU in seconds), and a run config written to a JSON file."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from rlmeta_interp.organism.tokenizer import build_tokenizer


def write_json(data: dict) -> str:
    """``data`` written to a new temporary ``.json`` file; returns its path."""
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(data, f)
    return f.name


def save_tiny_llama(folder: Path) -> Path:
    """A tiny random Llama + char tokenizer saved as an HF folder (neutral name: TL sniffs 'llama')."""
    tok = build_tokenizer()
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    LlamaForCausalLM(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder
