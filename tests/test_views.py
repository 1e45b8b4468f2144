"""Tests of views: a LoadedModel and the bare library models give the same views."""

from __future__ import annotations

import pytest

from rlmeta_interp import load_model
from rlmeta_interp.errors import InvalidConfigError
from rlmeta_interp.views import hf_view, tl_view


@pytest.fixture(scope="module")
def model(tiny_folders):
    return load_model(tiny_folders["llama"])


def test_tl_view_of_a_loaded_model_and_of_a_hooked_transformer(model):
    assert tl_view(model) is model.tl
    assert tl_view(model.tl) is model.tl


def test_hf_view_with_and_without_a_tokenizer(model):
    assert hf_view(model) == (model.hf, model.tokenizer)
    other = object()
    assert hf_view(model, other) == (model.hf, other)  # an explicit tokenizer wins
    assert hf_view(model.hf, model.tokenizer) == (model.hf, model.tokenizer)
    assert hf_view(model.hf) == (model.hf, None)
    with pytest.raises(InvalidConfigError, match="Pass tokenizer="):
        hf_view(model.hf, require_tokenizer=True)


def test_tl_view_lets_an_error_raised_while_building_the_view_through():
    """Asking the instance (hasattr) would build the view and swallow an AttributeError from inside the build, and
    the model would then be passed on as if it were a TransformerLens model."""

    class Broken:
        @property
        def tl(self):
            raise AttributeError("'GPT2Config' object has no attribute 'n_ctx'")

    with pytest.raises(AttributeError, match="n_ctx"):
        tl_view(Broken())
