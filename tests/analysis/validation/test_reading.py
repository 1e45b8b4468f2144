"""The committed validation table as other code reads it: the rules it fitted for a world, and a pair's reading."""

from __future__ import annotations

import pytest

from rlmeta_interp.analysis.validation import reading as vrd
from rlmeta_interp.analysis.validation.fit import FittedRules
from rlmeta_interp.paths import REPO_ROOT

FIGURES = REPO_ROOT / "figures"


def test_the_rules_of_a_world_carry_its_own_cuts_and_the_world_must_be_named():
    summary = vrd.committed_summary(FIGURES)
    fitted = FittedRules.from_dict(summary["fitted"])
    assert fitted.world_cuts, "the committed fit has per-world cuts"
    for world, cuts in fitted.world_cuts.items():
        rules = vrd.fitted_rules(FIGURES, world=world)
        assert rules.to_dict() | {"descriptive": None} == fitted.rules_for(world).to_dict() | {"descriptive": None}
        if "elicitation" in cuts:
            assert rules.unrecovered_creation_min == cuts["elicitation"]
    pooled = vrd.fitted_rules(FIGURES, world=None)
    assert pooled.unrecovered_creation_min == {f.name: f.cut for f in fitted.indicators}["elicitation"]
    assert vrd.fitted_rules(FIGURES, world="planning") == pooled  # a world without its own cuts: the pooled ones
    with pytest.raises(TypeError):
        vrd.fitted_rules(FIGURES)  # the world is required
    assert set(vrd.measured_indicators(summary)) >= {"elicitation", "likelihood", "reliance"}
