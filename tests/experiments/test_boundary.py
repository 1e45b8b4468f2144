"""Tests of experiments.boundary: tables across pairs, relative gains of spurious rewards, and the sentences."""

from __future__ import annotations

import numpy as np
import pandas as pd
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
    assert (t.loc["correct", "fraction_lo"], t.loc["correct", "fraction_hi"]) == (1.0, 1.0)  # by definition
    assert t.loc["random", "fraction_of_reference"] == pytest.approx(
        (np.array(half.counts_rl) - base).sum() / (np.array(ref.counts_rl) - base).sum())
    assert t.loc["format", "gain"] == 0.0 and t.loc["format", "fraction_of_reference"] == 0.0
    assert t.loc["random", "fraction_lo"] <= t.loc["random", "fraction_of_reference"] <= t.loc["random", "fraction_hi"]
    # the fraction's interval is that of a share of the reference's gap recovered, paired by problem
    from rlmeta_interp.analysis.passk import pass_at_k_matrix
    from rlmeta_interp.analysis.ratios import recovered_share_ci

    p1 = lambda c: pass_at_k_matrix(np.array(c), 4, [1])[:, 0]  # noqa: E731
    assert (t.loc["random", "fraction_lo"], t.loc["random", "fraction_hi"]) == pytest.approx(
        recovered_share_ci(p1(half.counts_rl), p1(base), p1(ref.counts_rl), n_boot=200))
    # at k = n the per-problem values are solved-or-not: the gain's interval is Newcombe's, with width at no change
    tn = bd.relative_gains([ref, half, none], "correct", k=4).set_index("variant")
    assert tn.loc["format", "gain"] == 0.0 and tn.loc["format", "gain_lo"] < 0 < tn.loc["format", "gain_hi"]
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


def _row(world, dose, *, base, rl, guess, change="no detectable change"):
    """A boundary_table row with pass@1 = pass@n / 4 for brevity; ``guess`` is the guesser's pass@n (None: none)."""
    row = {"world": world, "dose": dose, "pass@n_change": change, "pass@1_base": base / 4, "pass@1_rl": rl / 4,
           "pass@n_base": base, "pass@n_rl": rl}
    if guess is not None:
        row |= {"guess_pass@1": guess / 4, "guess_pass@n": guess}
    return row


def test_below_guesser_at_either_k_and_either_model():
    assert not bd.below_guesser(_row("planning", 0.1, base=0.6, rl=0.7, guess=0.5))
    assert bd.below_guesser(_row("planning", 0.1, base=0.6, rl=0.7, guess=0.65))  # above RL, below the base
    assert bd.below_guesser(_row("planning", 0.1, base=0.6, rl=0.7, guess=0.6))  # a tie counts as not beating it
    low_k1 = _row("planning", 0.1, base=0.6, rl=0.7, guess=0.5) | {"guess_pass@1": 0.2}
    assert bd.below_guesser(low_k1)  # pass@1 0.15 <= 0.2 although pass@n beats the guesser
    assert not bd.below_guesser(_row("bandits", 0.0, base=0.1, rl=0.1, guess=None))  # no baseline: nothing to say


def test_domain_verdict_skips_worlds_below_the_guesser():
    ar = [_row("arithmetic", d, base=0.9, rl=0.95, guess=0.5) for d in (0.0, 0.5)]
    plan_low = [_row("planning", d, base=0.6, rl=0.8, guess=0.95, change="up") for d in (0.1, 0.5)]
    v = bd.domain_verdict(pd.DataFrame(ar + plan_low))
    assert v.startswith("**Claim 4 is not tested") and "in planning" in v and "Agrees" not in v
    note = bd.guesser_note(pd.DataFrame(ar + plan_low))
    assert "planning dose 0.1, planning dose 0.5" in note and "arithmetic" not in note
    assert bd.guesser_note(pd.DataFrame(ar)) == ""
    # one planning dose above the guesser with expansion there: the claim is read on that dose only
    plan_mixed = [plan_low[0], _row("planning", 0.5, base=0.6, rl=0.8, guess=0.3, change="up")]
    v2 = bd.domain_verdict(pd.DataFrame(ar + plan_mixed))
    assert v2.startswith("**Agrees with claim 4**") and "planning [0.5]" in v2
    up_ar = [_row("arithmetic", 0.0, base=0.5, rl=0.9, guess=0.1, change="up")]
    assert bd.domain_verdict(pd.DataFrame(up_ar + plan_mixed)).startswith("**Does not agree")
    # the textbook creation case: the base at the guesser's level, RL far above it; it must count, not be dropped
    creation = [_row("planning", 0.1, base=0.0, rl=0.9, guess=0.2, change="up")]
    assert bd.beats_guesser(creation[0]) and not bd.beats_guesser(plan_low[0])
    assert bd.domain_verdict(pd.DataFrame(ar + creation)).startswith("**Agrees with claim 4**")
    assert bd.beats_guesser(_row("bandits", 0.0, base=0.1, rl=0.1, guess=None))  # no baseline: nothing to hold back
    flat = [_row("planning", 0.5, base=0.6, rl=0.6, guess=0.3)]
    assert "in neither world" in bd.domain_verdict(pd.DataFrame(ar + flat))
    assert bd.domain_verdict(pd.DataFrame(ar)).startswith("Only ['arithmetic']")
