from __future__ import annotations

import pytest
import torch

from rlmeta_interp import SteeringVector, load_model
from rlmeta_interp.errors import EmptyInputError, InvalidConfigError, LayerOutOfRangeError, NonFiniteError
from rlmeta_interp.hooks import hook_name


@pytest.fixture(scope="module")
def model(tiny_folders):
    return load_model(tiny_folders["llama"])


def _vec(d=32, seed=0, layers=(1,)):
    g = torch.Generator().manual_seed(seed)
    return SteeringVector({layer: torch.randn(d, generator=g) for layer in layers})


def test_steering_equals_manual_addition(model):
    vec = _vec(layers=(0,))
    ids, _ = model.to_tokens(["12+3="])
    with vec.apply(model, multiplier=3.0):
        steered = model.tl(ids)
    # reference: add by hand at the same hook through a bare TransformerLens hook
    def manual(act, hook):
        return act + 3.0 * vec.vectors[0]
    ref = model.tl.run_with_hooks(ids, fwd_hooks=[(hook_name(0), manual)])
    assert torch.allclose(steered, ref, atol=1e-6)
    assert not torch.allclose(steered, model.tl(ids))


def test_positions_last_only_changes_the_last_position(model):
    vec = _vec()
    ids, _ = model.to_tokens(["12+3="])
    _, clean = model.tl.run_with_cache(ids)
    with vec.apply(model, positions="last"):
        _, steer = model.tl.run_with_cache(ids)
    h = hook_name(1)
    assert torch.allclose(steer[h][0, :-1], clean[h][0, :-1])
    assert torch.allclose(steer[h][0, -1], clean[h][0, -1] + vec.vectors[1], atol=1e-5)


def test_model_unchanged_after_exit_and_after_exception(model):
    ids, _ = model.to_tokens(["7-4="])
    before = model.tl(ids)
    with _vec().apply(model, multiplier=10.0):
        pass
    assert torch.equal(model.tl(ids), before)
    with pytest.raises(RuntimeError, match="boom"):
        with _vec().apply(model, multiplier=10.0):
            raise RuntimeError("boom")
    assert torch.equal(model.tl(ids), before)
    assert all(len(hp.fwd_hooks) == 0 for hp in model.tl.hook_dict.values())


def test_steering_works_during_generate(model):
    ids, _ = model.to_tokens(["1+1="])
    calls = []
    vec = _vec(layers=(1,)) * 50.0
    plain = model.tl.generate(ids, max_new_tokens=8, do_sample=False, verbose=False)
    with vec.apply(model) as tl:
        tl.add_hook(hook_name(1), lambda act, hook: calls.append(act.shape[1]))
        steered = tl.generate(ids, max_new_tokens=8, do_sample=False, verbose=False)
    assert len(calls) == 8 and calls[1:] == [1] * 7  # KV-cached steps see one position each
    assert not torch.equal(plain, steered)


def test_vector_arithmetic_and_roundtrip(tmp_path):
    a, b = _vec(seed=1, layers=(0, 1)), _vec(seed=2, layers=(1,))
    s = a + b
    assert torch.allclose(s.vectors[1], a.vectors[1] + b.vectors[1]) and torch.equal(s.vectors[0], a.vectors[0])
    assert torch.allclose((a - a).vectors[0], torch.zeros(32))
    assert torch.allclose((2 * a).vectors[0], a.vectors[0] * 2) and torch.allclose((-a).vectors[0], -a.vectors[0])
    r = SteeringVector.random_like(a, seed=3)
    assert all(abs(r.norms()[k] - a.norms()[k]) < 1e-4 for k in a.layers)
    p = a.save(tmp_path / "v.safetensors")
    assert SteeringVector.load(p) == a
    pos = {0: torch.ones(4, 32)}
    neg = {0: torch.zeros(4, 32)}
    assert torch.allclose(SteeringVector.from_means(pos, neg).vectors[0], torch.ones(32))


def test_bad_vectors(model):
    with pytest.raises(EmptyInputError):
        SteeringVector({})
    with pytest.raises(NonFiniteError):
        SteeringVector({0: torch.tensor([float("nan")] * 32)})
    with pytest.raises(InvalidConfigError):
        SteeringVector({0: torch.zeros(32)}, site="resid_side")
    with pytest.raises(LayerOutOfRangeError):
        with _vec(layers=(9,)).apply(model):
            pass
    with pytest.raises(InvalidConfigError, match="d_model"):
        with _vec(d=16).apply(model):
            pass
