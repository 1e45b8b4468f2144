"""The spec builders: names from world, dose, seed and variant, and labels fixed by design from the corpus and the
reward."""

import pytest

from rlmeta_interp.errors import InvalidConfigError
from rlmeta_interp.organism import builders
from rlmeta_interp.organism.pretrain import ModelConfig
from rlmeta_interp.organism.spec import EvalConfig
from rlmeta_interp.organism.worlds.arithmetic import ArithmeticConfig
from rlmeta_interp.organism.worlds.composition import CompositionConfig

ARITH = ArithmeticConfig(max_operands=2, max_digits=1)
COMP = CompositionConfig(n_functions=4, domain=5, min_level=2, max_level=3, leak_free=True, verify="chain")
TINY = ModelConfig(d_model=32, n_layers=2, n_heads=2, d_mlp=64, max_len=48)


def test_dose_tag_names_whole_percents_and_refuses_what_would_collide():
    assert [builders.dose_tag(d) for d in (0.0, 0.01, 0.05, 0.1, 0.5, 1.0)] == [
        "d000", "d001", "d005", "d010", "d050", "d100"]
    for bad in (0.002, 0.015, -0.01, 1.5):
        with pytest.raises(InvalidConfigError, match="multiple of 0.01"):
            builders.dose_tag(bad)


def _base(dose: float, seed: int = 0):
    return builders.base_spec("arithmetic", dose, "t", steps=2, model=TINY, batch_size=4, seed=seed, arithmetic=ARITH,
                              eval_cfg=EvalConfig(n_problems=2, n_samples=2))


def test_names_carry_dose_seed_and_variant():
    assert _base(0.05).name == "t-arith-d005-base" and _base(0.05, seed=3).name == "t-arith-d005-s3-base"
    rl = builders.rl_spec(_base(0.05, seed=3), "long", steps=1, seed=1, recipe="r")
    assert rl.name == "t-arith-d005-s3-rl-long-s1" and rl.base == "t-arith-d005-s3-base"
    with pytest.raises(InvalidConfigError, match="multiple of 0.01"):
        _base(0.002)


def _comp(dose: float):
    return builders.base_spec("composition", dose, "t", steps=2, model=TINY, batch_size=4, composition=COMP,
                              eval_cfg=EvalConfig(n_problems=2, n_samples=2))


def test_labels_follow_the_corpus_and_reward_not_the_model():
    # arithmetic outside the depth recipe shows correct answers at every dose: never a creation case
    assert builders.rl_spec(_base(0.0), "c", steps=1, recipe="r").label == "activation"
    zero, low = _comp(0.0), _comp(0.01)
    assert builders.rl_spec(zero, "c", steps=1, recipe="r").label == "creation"
    assert builders.rl_spec(low, "c", steps=1, recipe="r").label == "activation"  # any share of the skill
    assert builders.rl_spec(low, "c", steps=1, reward="random", recipe="r").label == "no_signal"
    assert builders.rl_spec(low, "c", steps=1).label == ""  # outside a recipe: no label
    assert zero.pretrain is not None
    demo = zero.pretrain.corpus.replace(dose=1.0)
    assert builders.sft_spec(zero, "deep", demo, steps=1, lr=1e-3).label == "creation"
    assert builders.sft_spec(_comp(0.1), "deep", demo, steps=1, lr=1e-3).label == "activation"
