"""analysis.elicit: the short fine-tuning on real tiny Llama models, and the demonstration tensors."""

from __future__ import annotations

import pytest
import torch

from rlmeta_interp.analysis import elicit
from rlmeta_interp.errors import EmptyInputError, InvalidConfigError


@pytest.fixture
def tiny(tmp_path):
    from rlmeta_interp import load_model

    from ..conftest import save_tiny

    return load_model(save_tiny(tmp_path / "m", "llama", seed=0))


def _nll(hf, ids, att, mask):
    with torch.no_grad():
        logp = torch.log_softmax(hf(input_ids=ids, attention_mask=att).logits[:, :-1].float(), -1)
    tok = logp.gather(-1, ids[:, 1:, None])[..., 0]
    m = mask[:, 1:].float()
    return float(-(tok * m).sum() / m.sum()), tok


def test_finetune_copy_learns_the_masked_tokens_and_leaves_the_model_alone(tiny):
    prompts, comps = ["12+3="] * 4, ["A:15"] * 4
    ids, att, mask = elicit.single_turn_demos(tiny.tokenizer, prompts, comps, tiny.n_ctx)
    assert mask[:, 0].sum() == 0 and mask.sum() > 0  # the prompt (and BOS) carry no loss
    before = {k: v.clone() for k, v in tiny.hf.state_dict().items()}
    tuned = elicit.finetune_copy(tiny.hf, ids, att, mask, steps=30, lr=1e-2, batch_size=4, seed=0)
    assert all(torch.equal(before[k], v) for k, v in tiny.hf.state_dict().items())  # the original is untouched
    assert not tuned.training
    nll0, _ = _nll(tiny.hf, ids, att, mask)
    nll1, _ = _nll(tuned, ids, att, mask)
    assert nll1 < 0.5 * nll0  # it learned the demonstrated completion
    same = elicit.finetune_copy(tiny.hf, ids, att, mask, steps=0, lr=1e-3, batch_size=2)
    assert all(torch.equal(before[k], v) for k, v in same.state_dict().items())
    with pytest.raises(EmptyInputError, match="loss mask is empty"):
        elicit.finetune_copy(tiny.hf, ids, att, torch.zeros_like(mask), steps=1, lr=1e-3, batch_size=2)
    with pytest.raises(InvalidConfigError, match="share one"):
        elicit.finetune_copy(tiny.hf, ids, att[:, :-1], mask, steps=1, lr=1e-3, batch_size=2)
    with pytest.raises(InvalidConfigError, match="lr > 0"):
        elicit.finetune_copy(tiny.hf, ids, att, mask, steps=1, lr=0.0, batch_size=2)


def test_bandit_demos_put_a_bos_first_and_train_only_the_models_tokens():
    tokens = torch.tensor([[3, 5, 4, 6], [4, 6, 3, 5]])
    model_mask = torch.tensor([[1, 0, 1, 0], [1, 0, 1, 0]])
    ids, att, mask = elicit.bandit_demos(tokens, model_mask, bos_token_id=1)
    assert ids.tolist() == [[1, 3, 5, 4, 6], [1, 4, 6, 3, 5]]
    assert mask.tolist() == [[0, 1, 0, 1, 0], [0, 1, 0, 1, 0]] and att.min() == 1
    with pytest.raises(InvalidConfigError, match="share one non-empty"):
        elicit.bandit_demos(tokens, model_mask[:, :3], bos_token_id=1)


def test_with_weights_swaps_the_network_and_builds_its_lens_view_from_it(tiny):
    tuned = elicit.finetune_copy(tiny.hf, *elicit.single_turn_demos(tiny.tokenizer, ["1+1="], ["A:2"], None),
                                 steps=5, lr=1e-2, batch_size=1)
    m = elicit.with_weights(tiny, tuned)
    assert m.name.endswith("+elicited") and m.hf is tuned and not m.tl_built and tiny.hf is not tuned
    ids, _ = m.to_tokens(["1+1=A:2"])
    with torch.no_grad():
        assert torch.allclose(m.tl(ids), tuned(input_ids=ids).logits, atol=1e-4)
    with pytest.raises(InvalidConfigError, match="LoadedModel"):
        elicit.with_weights(tiny.hf, tuned)
