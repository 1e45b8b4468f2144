"""The two views of a model that every measurement accepts: a ``LoadedModel`` or the bare library model.

A :class:`rlmeta_interp.models.LoadedModel` carries the Hugging Face model (``.hf``), its tokenizer and a
TransformerLens view (``.tl``). Functions that need one of these accept either the ``LoadedModel`` or the bare model,
and take the view they need through these helpers (duck-typed, so this module imports nothing above it).
"""

from __future__ import annotations

from typing import Any

from .errors import InvalidConfigError


def tl_view(model: Any) -> Any:
    """The TransformerLens model of a ``LoadedModel`` (its ``.tl``), or ``model`` itself when it already is one.

    Whether ``model`` has a ``.tl`` is asked of its class: ``hasattr`` on the instance would build the view and
    swallow any ``AttributeError`` raised while building it, sending the model down the wrong path."""
    return model.tl if hasattr(type(model), "tl") and not hasattr(model, "run_with_hooks") else model


def hf_view(model: Any, tokenizer: Any | None = None, *, require_tokenizer: bool = False) -> tuple[Any, Any]:
    """``(hf_model, tokenizer)`` of a ``LoadedModel`` (``tokenizer`` overrides its own), or ``(model, tokenizer)``.

    ``require_tokenizer``: raise a typed error when a bare Hugging Face model comes without a tokenizer.
    """
    if hasattr(model, "hf") and hasattr(model, "tokenizer"):
        return model.hf, tokenizer if tokenizer is not None else model.tokenizer
    if tokenizer is None and require_tokenizer:
        raise InvalidConfigError("Pass tokenizer= with a Hugging Face model (or pass a LoadedModel, which carries one).")
    return model, tokenizer
