"""Tests of prose: estimates with CIs written the same way everywhere."""

from __future__ import annotations

import numpy as np

from rlmeta_interp.prose import ci_side, fmt2, fmt_ci, share_text


def test_fmt_ci_with_without_and_with_missing_bounds():
    assert fmt_ci(0.4242, 0.3111, 0.5555) == "0.42 [0.31, 0.56]"
    assert fmt_ci(0.4242, 0.3111, 0.5557, digits=3) == "0.424 [0.311, 0.556]"
    assert fmt_ci(0.5) == "0.50"
    assert fmt_ci(0.5, float("nan"), 0.7) == "0.50"
    assert fmt_ci(np.float64(0.5), np.float64(0.25), np.float64(0.75)) == "0.50 [0.25, 0.75]"
    assert fmt_ci(None) == "n/a" and fmt_ci(float("nan"), 0.1, 0.2) == "n/a [0.10, 0.20]"


def test_ci_side():
    assert ci_side(0.1, 0.4) == "above 0"
    assert ci_side(-0.4, -0.1) == "below 0"
    assert ci_side(-0.1, 0.1) == "CI includes 0"
    assert ci_side(1.2, 1.5, at=1.0) == "above 1"


def test_fmt2_gives_two_decimals_or_n_a():
    assert fmt2(0.456) == "0.46" and fmt2(np.float64(1.0)) == "1.00" and fmt2(3) == "3.00"
    assert fmt2(None) == "n/a" and fmt2(float("nan")) == "n/a"


def test_share_text_gives_the_exact_interval():
    assert share_text(0, 0) == "none built"
    assert share_text(1, 2) == "1 of 2 (share 0.50, exact 95% interval 0.01 to 0.99)"  # Clopper-Pearson
    assert share_text(4, 4).endswith("exact 95% interval 0.40 to 1.00)")


def test_criteria_note_marks_only_verdicts_that_include_the_reading_over_bases():
    from rlmeta_interp.prose import criteria_note

    assert criteria_note(1) == "" and criteria_note(2) == " (over base models too)"
