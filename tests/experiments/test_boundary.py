"""Tests of experiments.boundary: tables across pairs, relative gains of spurious rewards, and the sentences."""

from __future__ import annotations

import numpy as np
import pytest

from rlmeta_interp.analysis import capability as cap
from rlmeta_interp.errors import InvalidConfigError
from rlmeta_interp.experiments import boundary as bd


def _result(label, counts_base, counts_rl, n=4, base="b0", prompts=None):
    k = len(counts_base)
    return cap.BoundaryResult(pair=f"p-{label}", base=base, world="arithmetic", dose=0.5, variant=label, rl_seed=0,
                             config=cap.BoundaryConfig(n_samples=n, likelihood_samples=0, n_boot=200),
                             prompts=prompts or [f"{i}=" for i in range(k)], counts_base=np.array(counts_base),
                             counts_rl=np.array(counts_rl), guess_p=None, completions_base=[], completions_rl=[])


def test_relative_gains_against_direct_computation():
    base = [0, 1, 2, 0, 1, 3, 0, 2]
    ref = _result("correct", base, [4, 3, 4, 2, 3, 4, 1, 4])
    half = _result("random", base, [2, 2, 3, 1, 2, 3, 0, 3])
    none = _result("format", base, base)
    t = bd.relative_gains([ref, half, none], "correct").set_index("variant")
    gain = lambda c: np.mean(np.array(c) - np.array(base)) / 4  # noqa: E731
    assert t.loc["correct", "gain"] == pytest.approx(gain(ref.counts_rl))
    assert t.loc["correct", "fraction_of_reference"] == pytest.approx(1.0)
    assert t.loc["random", "fraction_of_reference"] == pytest.approx(
        (np.array(half.counts_rl) - base).sum() / (np.array(ref.counts_rl) - base).sum())
    assert t.loc["format", "gain"] == 0.0 and t.loc["format", "fraction_of_reference"] == 0.0
    assert t.loc["random", "fraction_lo"] <= t.loc["random", "fraction_of_reference"] <= t.loc["random", "fraction_hi"]
    # a reference without a clear gain makes the fraction undefined, not a number
    t2 = bd.relative_gains([none, half], "format").set_index("variant")
    assert np.isnan(t2.loc["random", "fraction_of_reference"])
    with pytest.raises(InvalidConfigError, match="share a base"):
        bd.relative_gains([ref, _result("x", base, base, base="other")], "correct")
    with pytest.raises(InvalidConfigError, match="reference variant"):
        bd.relative_gains([half], "correct")


def test_prose_helpers():
    assert bd.fmt_ci(0.4213, 0.3, 0.55) == "0.42 [0.30, 0.55]"
    assert bd.fmt_ci(0.5) == "0.50" and bd.fmt_ci(float("nan")) == "n/a" and bd.fmt_ci(1.0, float("nan"), 2.0) == "1.00"
    base = [0, 1, 2, 0, 1, 3, 0, 2]
    up = bd.boundary_table([_result("correct", [0, 0, 0, 0, 1, 3, 0, 2], [4, 3, 4, 2, 3, 4, 1, 4])]).iloc[0]
    assert up["pass@n_change"] == "up" and "boundary expanded" in bd.boundary_sentence(up)
    down = bd.boundary_table([_result("x", [3, 3, 3, 3, 3, 3, 3, 3], [4, 0, 4, 0, 4, 0, 4, 0])]).iloc[0]
    assert down["pass@n_change"] == "down" and "narrowed" in bd.boundary_sentence(down)
    same = bd.boundary_table([_result("y", base, base)]).iloc[0]
    assert "stays inside" in bd.boundary_sentence(same) and "first reaches RL's at k = 1" in bd.boundary_sentence(same)
