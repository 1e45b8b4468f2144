"""Tests of organism.trained_world: the world rebuilt from a pair's manifest config, on a real shipped zoo pair."""

from __future__ import annotations

import pytest

from rlmeta_interp import load_pair
from rlmeta_interp.errors import InvalidConfigError, WorldMismatchError
from rlmeta_interp.organism.trained_world import WORLD_CONFIGS, world_for, world_from_manifest
from rlmeta_interp.organism.worlds.arithmetic import ArithmeticConfig


def test_world_from_manifest_uses_the_recorded_config():
    cfg = ArithmeticConfig(min_operands=3, max_operands=4)
    w = world_from_manifest("arithmetic", {"config": {"arithmetic": cfg.to_dict()}})
    assert w.name == "arithmetic" and w.config == cfg
    assert world_from_manifest("planning", {}).name == "planning"
    assert world_from_manifest("bandits").config == WORLD_CONFIGS["bandits"]()
    with pytest.raises(InvalidConfigError, match="choose one of"):
        world_from_manifest("chess")


def test_world_for_a_zoo_pair_reads_the_rl_manifest():
    pair = load_pair("demo-arith-d050-rl-correct")
    w = world_for(pair)
    assert w.name == "arithmetic"
    assert w.config == ArithmeticConfig.from_dict(pair.rl.manifest["config"]["arithmetic"])
    assert w.config != ArithmeticConfig()  # the zoo trained on its own distribution, not the defaults
    assert world_for(pair, "arithmetic").config == w.config
    with pytest.raises(WorldMismatchError, match="pass world='arithmetic'"):
        world_for(pair, "planning")
