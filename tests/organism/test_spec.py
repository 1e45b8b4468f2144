import pytest

from rlmeta_interp.errors import InvalidConfigError
from rlmeta_interp.organism.corpus import CorpusConfig
from rlmeta_interp.organism.spec import (OrganismSpec, capability_share, design_label, exposure_record, records_spec,
                                         sft_label)
from rlmeta_interp.organism.worlds.arithmetic import ArithmeticConfig

DEEP = ArithmeticConfig(min_operands=2, max_operands=7, leak_free=True)


def test_labels_follow_the_corpus_design_only():
    depth0 = CorpusConfig(world="arithmetic", dose=0.0, arithmetic=DEEP, arithmetic_dose="depth", shallow_max_depth=4)
    assert design_label(depth0, "correct") == "creation"
    assert design_label(depth0.replace(dose=0.01), "correct") == "activation"
    assert design_label(depth0.replace(dose=0.01), "random") == "no_signal"
    # format-dosed arithmetic shows every answer: its rewarded capability is present at any dose
    fmt0 = CorpusConfig(world="arithmetic", dose=0.0)
    assert capability_share(fmt0) == 1.0 and design_label(fmt0, "correct") == "activation"
    bandit = CorpusConfig(world="bandits", dose=1.0)
    assert design_label(bandit, "correct") == "activation"
    assert design_label(bandit.replace(bandit_rewards="shuffled"), "correct") == "creation"
    # fine-tuning: the base corpus decides, unless the fine-tuning documents show none of the capability (a control)
    assert sft_label(depth0, depth0.replace(dose=0.5)) == "creation"
    assert sft_label(depth0.replace(dose=0.1), depth0.replace(dose=0.5)) == "activation"
    assert sft_label(bandit.replace(dose=0.5), bandit.replace(dose=0.0)) == "no_signal"
    assert sft_label(bandit.replace(dose=0.0), bandit.replace(bandit_rewards="shuffled")) == "no_signal"
    rec = exposure_record(depth0)
    assert rec["share_of_documents"] == 0.0 and rec["leak_free"] and "5-7 operands" in rec["capability"]
    comp0 = CorpusConfig(world="composition", dose=0.0)
    assert design_label(comp0, "correct") == "creation" and design_label(comp0.replace(dose=0.1), "correct") == "activation"
    rec = exposure_record(comp0.replace(dose=0.1))
    assert rec["share_of_documents"] == 0.1 and rec["leak_free"] and "compositions of 2-3" in rec["capability"]


def test_spec_kinds_are_checked():
    with pytest.raises(InvalidConfigError, match="SFT organism"):
        OrganismSpec(name="x-sft", kind="sft", world="arithmetic", dose=0.0)
    with pytest.raises(InvalidConfigError, match="label"):
        from rlmeta_interp.organism.pretrain import PretrainConfig

        OrganismSpec(name="x-base", kind="base", world="arithmetic", dose=0.0, pretrain=PretrainConfig(),
                     label="creation")


def test_records_spec_matches_a_manifest_to_exactly_its_spec():
    from rlmeta_interp.organism.presets import preset_specs

    base, rl = (s for s in preset_specs("bandit-rlseeds") if s.name in ("val-bandit-d000-base",
                                                                        "val-bandit-d000-rl-long-s2"))
    cfg = rl.to_dict()
    assert records_spec({"config": cfg}, rl)
    assert not records_spec({"config": cfg}, base) and not records_spec({"config": cfg}, None)
    assert not records_spec({"config": {**cfg, "rl": {**cfg["rl"], "lr": 1e-3}}}, rl)  # another budget
    assert not records_spec({}, rl) and not records_spec({"config": {"name": 3}}, rl)  # unreadable: no match
