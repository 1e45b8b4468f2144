"""Bad input to steering: multipliers, scales, positions and vectors are validated (issue 15, item 7)."""

from __future__ import annotations

import pytest
import torch

from rlmeta_interp import SteeringVector, load_model
from rlmeta_interp.errors import EmptyInputError, InvalidConfigError, LayerOutOfRangeError, NonFiniteError


@pytest.fixture(scope="module")
def model(tiny_folders):
    return load_model(tiny_folders["llama"])


def _vec():
    return SteeringVector({1: torch.randn(32, generator=torch.Generator().manual_seed(0))})


@pytest.mark.parametrize("mult,err,fix", [
    (float("nan"), NonFiniteError, "multiplier is nan: pass a finite number"),
    (float("inf"), NonFiniteError, "finite"),
    (-float("inf"), NonFiniteError, "finite"),
    (1e30, InvalidConfigError, "larger in magnitude than 1e\\+06.*typo"),
    ("4", InvalidConfigError, "multiplier must be a number"),
    (True, InvalidConfigError, "multiplier must be a number"),
])
def test_bad_multipliers(model, mult, err, fix):
    with pytest.raises(err, match=fix):
        with _vec().apply(model, multiplier=mult):
            pass
    assert all(len(hp.fwd_hooks) == 0 for hp in model.tl.hook_dict.values())  # nothing left attached


def test_good_multipliers_still_steer(model):
    ids, _ = model.to_tokens(["12+3="])
    clean = model.tl(ids)
    for mult in (0.5, -3, torch.tensor(2.0), 1e5):
        with _vec().apply(model, multiplier=mult):
            out = model.tl(ids)
        assert torch.isfinite(out).all() and not torch.equal(out, clean)


def test_vectors_are_checked_after_the_float32_cast():
    big = torch.full((32,), 1e300, dtype=torch.float64)  # finite in float64, inf in float32
    assert torch.isfinite(big).all()
    with pytest.raises(NonFiniteError, match=r"layer 0 \(as float32\) contains NaN or inf: recompute it, or rescale"):
        SteeringVector({0: big})
    with pytest.raises(NonFiniteError, match="as float32"):  # a product that overflows float32 is caught too
        SteeringVector({0: torch.full((32,), 3e38)}) * 10.0


@pytest.mark.parametrize("scale,err", [(float("nan"), NonFiniteError), (1e30, InvalidConfigError),
                                       ("2", InvalidConfigError)])
def test_bad_scales(scale, err):
    with pytest.raises(err, match="scale"):
        _vec() * scale


def test_product_overflowing_the_model_dtype(tiny_folders):
    m16 = load_model(tiny_folders["llama"], __import__("rlmeta_interp").LoadConfig(dtype="float16"))
    vec = SteeringVector({1: torch.full((32,), 1000.0)})
    with pytest.raises(NonFiniteError, match="multiplier 100 x the layer-1 vector in torch.float16.*smaller multiplier"):
        with vec.apply(m16, multiplier=100.0):
            pass


@pytest.mark.parametrize("positions,err,fix", [
    ("first", InvalidConfigError, "not understood"), (True, InvalidConfigError, "not a bool"),
    ([0, 1.5], InvalidConfigError, "position must be an integer"), ([], EmptyInputError, "pass None"),
    (3.0, InvalidConfigError, "not float"),
])
def test_bad_positions(model, positions, err, fix):
    with pytest.raises(err, match=fix):
        with _vec().apply(model, positions=positions):
            pass


def test_bad_vector_containers(model):
    with pytest.raises(InvalidConfigError, match=r"must be a dict \{layer: tensor\}"):
        SteeringVector([torch.zeros(32)])  # type: ignore[arg-type]
    with pytest.raises(InvalidConfigError, match="layer key must be an integer"):
        SteeringVector({"1": torch.zeros(32)})  # type: ignore[dict-item]
    with pytest.raises(InvalidConfigError, match="real torch tensor"):
        SteeringVector({1: [0.0] * 32})  # type: ignore[dict-item]
    with pytest.raises(InvalidConfigError, match="same layers"):
        SteeringVector.from_means({0: torch.ones(2, 32)}, {1: torch.ones(2, 32)})
    with pytest.raises(LayerOutOfRangeError):
        with SteeringVector({5: torch.zeros(32)}).apply(model):
            pass


def test_steering_a_bare_hf_model_names_the_fix(model):
    with pytest.raises(InvalidConfigError, match=r"pass the LoadedModel \(load_model\(...\)\) rather than its .hf"):
        with _vec().apply(model.hf):
            pass


def test_vector_arithmetic_persistence_and_construction_misuse(model, tmp_path):
    import numpy as np

    from rlmeta_interp.io import save_tensors_atomic

    with pytest.raises(InvalidConfigError, match=r"positive\[1\] must be a torch tensor.*torch.from_numpy"):
        SteeringVector.from_means({1: np.ones((2, 32))}, {1: torch.ones(2, 32)})  # type: ignore[dict-item]
    with pytest.raises(InvalidConfigError, match="same d_model"):
        SteeringVector.from_means({1: torch.ones(2, 32)}, {1: torch.ones(2, 7)})
    with pytest.raises(InvalidConfigError, match="d_model 32 and 7"):
        _vec() + SteeringVector({1: torch.ones(7)})
    with pytest.raises(InvalidConfigError, match=r"no layer\(s\) \[3\]"):
        _vec().only(3)
    with pytest.raises(InvalidConfigError, match="seed must be an integer"):
        SteeringVector.random_like(_vec(), seed="a")  # type: ignore[arg-type]
    with pytest.raises(InvalidConfigError, match="is a folder"):
        _vec().save(tmp_path)
    other = save_tensors_atomic(tmp_path / "model.safetensors", {"weight": torch.ones(3)})
    with pytest.raises(InvalidConfigError, match="not a steering vector file"):
        SteeringVector.load(other)


def test_positions_past_the_whole_prompt_warn_instead_of_steering_nothing_silently(model, caplog):
    """On a pass over more than one position (a prompt) positions that select nothing add the vector nowhere: a
    warning says so, once. Not an error: uncached generation steers a later position in a later, longer pass. A
    KV-cached step (one position) skips them without a word, as the docstring says."""
    import logging

    ids, _ = model.to_tokens(["12+3="])
    two_layers = SteeringVector({0: torch.ones(32), 1: torch.ones(32)})
    for positions in ([50], slice(40, 60)):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="rlmeta_interp.steering"):
            with two_layers.apply(model, positions=positions) as tl:
                steered = tl(ids)
            plain = model.tl(ids)
        assert torch.equal(steered, plain)  # nothing was added
        assert sum("select none of the" in r.getMessage() for r in caplog.records) == 1  # once, not per layer
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="rlmeta_interp.steering"):
        with _vec().apply(model, positions=[1]) as tl:
            tl(ids[:, :1])  # one position: a cached step's length, skipped without a word
    assert not caplog.records


def test_a_vector_with_negative_layers_round_trips(tmp_path):
    vec = SteeringVector({-1: torch.ones(32)})
    assert SteeringVector.load(vec.save(tmp_path / "v.safetensors")) == vec


def test_two_keys_of_one_layer_are_refused_not_added_twice(model):
    n = model.tl.cfg.n_layers
    v = torch.ones(model.tl.cfg.d_model)
    with pytest.raises(InvalidConfigError, match=rf"Layers \[-1, {n - 1}\] of this vector are the same layer"):
        with SteeringVector({n - 1: v, -1: v}).apply(model):
            pass
    assert all(len(hp.fwd_hooks) == 0 for hp in model.tl.hook_dict.values())
    with SteeringVector({0: v, -1: v}).apply(model):  # two layers, one key each
        pass
