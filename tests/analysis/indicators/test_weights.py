"""Weights: descriptive on a real tiny pair; it reports how far weights moved and never votes."""

from __future__ import annotations

import pytest

from rlmeta_interp import load_pair
from rlmeta_interp.analysis.indicators import weights as wt
from rlmeta_interp.analysis.indicators.core import Context, ScorecardConfig, ScorecardRules

from ...conftest import save_tiny_pair


def test_weights_measure_and_never_vote(tmp_path):
    def measure(scale):
        pair = load_pair(save_tiny_pair(tmp_path / str(scale), scale=scale, seed=1))
        return wt.measure(Context(pair=pair, world=None, config=ScorecardConfig.smoke(), layer=0, problems=[]))

    m, tables = measure(0.02)
    small, _ = measure(0.002)
    assert m.frac_updated_fp32.value == 1.0 and "update_sparsity" in tables  # dense noise touches every entry
    # ten times less noise, ten times smaller relative update
    assert small.relative_update_norm.value / m.relative_update_norm.value == pytest.approx(0.1, rel=0.05)
    assert wt.vote(m, ScorecardRules(descriptive=())) == "n/a" and "DESCRIPTIVE" in wt.rule(ScorecardRules())
