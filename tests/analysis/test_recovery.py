"""Tests of analysis.recovery on a tiny TransformerLens model whose "RL" twin is the base model plus a known shift.

Adding ``v`` to ``blocks[L].mlp.b_out`` adds ``v`` to ``blocks.L.hook_resid_post`` at every position, so the RL twin
equals the base model steered by ``v`` at layer ``L``: the exact answer every steering measurement is checked against.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlmeta_interp.analysis.recovery import SteerRecoveryConfig, bias_vector, gap_recovered, steering_recovery
from rlmeta_interp.analysis.stats import proportion_ci
from rlmeta_interp.errors import EmptyInputError, InvalidConfigError
from rlmeta_interp.hooks import hook_name

from .shifted_twin import LAYER, PROMPTS, greedy, match, shifted_twin


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    return shifted_twin(tmp_path_factory.mktemp("tok"))


def test_steering_hook_equals_manual_addition(pair):
    """Reference: the hook's effect equals adding v to the cached residual and running the remaining blocks."""
    base, _, vec = pair
    toks = base.to_tokens(PROMPTS[0])
    with torch.no_grad():
        with vec.apply(base, multiplier=2.5):
            steered = base(toks)
        _, cache = base.run_with_cache(toks, names_filter=hook_name(LAYER))
        manual = base(cache[hook_name(LAYER)] + 2.5 * vec.vectors[LAYER], start_at_layer=LAYER + 1)
    torch.testing.assert_close(steered, manual, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(steered, base(toks))


def test_rl_twin_equals_base_steered(pair):
    base, rl, vec = pair
    toks = base.to_tokens(PROMPTS[1])
    with torch.no_grad(), vec.apply(base):
        steered = base(toks)
    torch.testing.assert_close(steered, rl(toks), rtol=1e-5, atol=1e-5)


def test_gap_recovered_formula():
    assert gap_recovered(0.5, 0.2, 0.8) == pytest.approx(0.5)
    assert np.isnan(gap_recovered(0.5, 0.4, 0.4))


def test_steering_recovery_rows(pair):
    base, rl, vec = pair
    target = greedy(rl)

    def evaluate(tl):
        return [match(c, t) for c, t in zip(greedy(tl), target, strict=True)]

    acts_b = {LAYER: torch.randn(10, 32)}
    bias = bias_vector(acts_b, {LAYER: acts_b[LAYER] + 0.1})
    torch.testing.assert_close(bias.vectors[LAYER], torch.full((32,), 0.1))
    df = steering_recovery(base, rl, {"v": vec}, evaluate, bias=bias,
                           config=SteerRecoveryConfig(multipliers=(0.0, 1.0), n_random=2, n_boot=200))
    ref = df.set_index("condition")
    assert ref.loc["rl_model", "accuracy"] == 1.0 and ref.loc["rl_model", "gap_recovered"] == 1.0
    # every RL score is 1: its accuracy gets a Wilson interval, which keeps width (a bootstrap would give [1, 1])
    assert (ref.loc["rl_model", "acc_ci_lo"], ref.loc["rl_model", "acc_ci_hi"]) == proportion_ci(np.ones(len(PROMPTS)))
    assert ref.loc["rl_model", "acc_ci_lo"] < 1.0
    assert ref.loc["unsteered_base", "accuracy"] < 0.8  # the shift changes the greedy text: a gap to recover
    assert set(df[df.condition == "bias"].multiplier) == {0.0, 1.0}
    v = df[df.condition == "v"].set_index("multiplier")
    assert v.loc[1.0, "gap_recovered"] == pytest.approx(1.0)  # steering by v reproduces the RL twin exactly
    assert v.loc[0.0, "gap_recovered"] == pytest.approx(0.0)  # multiplier 0 is the base model
    rand = df[(df.condition == "random:v") & (df.multiplier == 1.0)]
    assert len(rand) == 2 and set(rand.seed) == {0, 1}
    assert (rand.gap_recovered < 0.9).all()
    with pytest.raises(EmptyInputError):
        steering_recovery(base, rl, {}, evaluate)
    with pytest.raises(InvalidConfigError, match="reserved"):
        steering_recovery(base, rl, {"bias": vec}, evaluate)
