"""Tests of pair selection (rlmeta_interp.selection) on manifest-only zoo folders and the shipped zoo."""

from __future__ import annotations

import json

import pytest

from rlmeta_interp import selection
from rlmeta_interp.errors import EmptyInputError, InvalidConfigError, MissingWeightsError

from .conftest import organism_manifest

# Manifest-only zoo folders: pair selection reads nothing else. Names avoid the real presets' names, so the build
# hints (computed from the real presets) list every model they need.
def _names(pairs):
    return [p.name for p in pairs]


@pytest.fixture
def zoo(tmp_path, monkeypatch):
    """Demo arithmetic pairs at doses 0 and 0.5 (0.5 with checkpoints, plus a second seed); no shipped zoo."""
    monkeypatch.setenv("RLMETA_DATA", str(tmp_path))
    for d, tag in ((0.0, "0"), (0.5, "5")):
        organism_manifest(tmp_path, f"d-b{tag}", preset="demo", dose=d)
        organism_manifest(tmp_path, f"d-r{tag}", preset="demo", dose=d, base=f"d-b{tag}", ckpt=d > 0)
    organism_manifest(tmp_path, "d-r5-s1", preset="demo", base="d-b5", seed=1)
    return tmp_path


def test_select_pairs_auto_preset_prefers_the_fuller_preset_never_mixes_and_ties_go_to_paper(zoo):
    assert _names(selection.select_pairs("arithmetic", variant="correct", seed=0)) == ["d-r0", "d-r5"]
    assert _names(selection.select_pairs("arithmetic", variant="correct", seed=0, dose=[0.5])) == ["d-r5"]
    assert _names(selection.select_pairs("arithmetic", variant="correct", dose=0.5)) == ["d-r5", "d-r5-s1"]
    organism_manifest(zoo, "p-b1", preset="paper", dose=0.1)
    organism_manifest(zoo, "p-r1", preset="paper", dose=0.1, base="p-b1")
    # a partly built paper zoo loses to a complete demo zoo; asked for its dose, it wins
    assert _names(selection.select_pairs("arithmetic", variant="correct", seed=0)) == ["d-r0", "d-r5"]
    assert _names(selection.select_pairs("arithmetic", variant="correct", seed=0, dose=[0.1])) == ["p-r1"]
    organism_manifest(zoo, "p-b5", preset="paper", dose=0.5)
    organism_manifest(zoo, "p-r5", preset="paper", dose=0.5, base="p-b5")
    sel = selection.select_pairs("arithmetic", variant="correct", seed=0)
    assert _names(sel) == ["p-r1", "p-r5"] and sel.source == "preset paper"  # a tie goes to the paper preset
    assert _names(selection.select_pairs("arithmetic", variant="correct", seed=0, preset="demo")) == ["d-r0", "d-r5"]
    mixed = selection.select_pairs("arithmetic", variant="correct", seed=0, preset=None)  # None: any preset, mixed
    assert _names(mixed) == ["d-r0", "p-r1", "d-r5", "p-r5"] and mixed.source == "preset paper/demo"
    assert set(mixed.by("preset")) == {"demo", "paper"} and list(mixed.by("dose")) == [0.0, 0.1, 0.5]


def test_select_pairs_missing_values_raise_with_the_build_command(zoo):
    with pytest.raises(MissingWeightsError, match=r"no pair with world='arithmetic', variant='correct', dose=0.1"
                                                  r".*zoo build --preset paper --only paper-arith-d010-base"
                                                  r" paper-arith-d010-rl-correct`.*SMOKE=True"):
        selection.select_pairs("arithmetic", variant="correct", seed=0, dose=0.1)
    # some variants exist: the error names the missing ones, and the build command the ones a paper zoo needs
    with pytest.raises(MissingWeightsError, match=r"No variant oneshot, random among.*--preset paper --only"
                                                  r" (\S+ )*paper-arith-d050-base paper-arith-d050-rl-correct"
                                                  r" paper-arith-d050-rl-random paper-arith-d050-rl-oneshot`"):
        selection.select_pairs("arithmetic", variant=["correct", "oneshot", "random"], dose=0.5, seed=0)
    with pytest.raises(InvalidConfigError, match="no zoo preset or built pair has variant 'nonexistent'"):
        selection.select_pairs("arithmetic", variant=["correct", "nonexistent"], dose=0.5, seed=0)
    # a variant the paper preset defines gets its build command, not the "no preset defines" note
    with pytest.raises(MissingWeightsError, match=r"--only (\S+ )*paper-arith-d050-base paper-arith-d050-rl-correct"
                                                  r" paper-arith-d050-rl-hard`\. Then rerun"):
        selection.select_pairs("arithmetic", variant=["correct", "hard"], dose=0.5, seed=0)
    with pytest.raises(MissingWeightsError, match=r"No world planning among.*--preset paper --only paper-plan"):
        selection.select_pairs(["arithmetic", "planning"], variant="correct")
    with pytest.raises(MissingWeightsError, match=r"preset='paper', with RL checkpoints.*--preset paper --only"):
        selection.select_pairs("arithmetic", variant="correct", preset="paper", need_checkpoints=True)
    # require="any": missing worlds are tolerated as long as one pair exists
    sel = selection.select_pairs(["arithmetic", "bandits"], preset=None, require="any")
    assert _names(sel) == ["d-r0", "d-r5", "d-r5-s1"] and sel.missing == [{"world": "bandits"}]


def test_select_pairs_smoke_drops_what_is_missing_then_relaxes_preset_dose_seed_variant(zoo):
    sel = selection.select_pairs("arithmetic", variant=["correct", "oneshot"], dose=0.5, seed=0, smoke=True)
    assert _names(sel) == ["d-r5"] and sel.missing == [{"world": "arithmetic", "variant": "oneshot"}]
    assert "no variant oneshot" in sel.source
    # nothing at dose 0.1: the dose is relaxed (the pairs of the fullest preset)
    sel = selection.select_pairs("arithmetic", variant="correct", seed=0, dose=0.1, smoke=True)
    assert _names(sel) == ["d-r0", "d-r5"] and "smoke fallback: no pairs with dose 0.1" in sel.source
    # no paper pairs: any preset (dynamics notebooks), keeping need_checkpoints
    sel = selection.select_pairs("arithmetic", variant="correct", preset="paper", need_checkpoints=True, smoke=True)
    assert _names(sel) == ["d-r5"] and sel.source == "preset demo (smoke fallback: no pairs with preset paper here)"
    sel = selection.select_pairs("arithmetic", variant=["random", "easy"], dose=0.1, smoke=True)
    assert _names(sel) == ["d-r0", "d-r5", "d-r5-s1"]  # no such variant at any dose or seed: the world's pairs
    assert list(selection.select_pairs(["arithmetic", "planning"], variant="correct", seed=0, smoke=True)
                .by("world")) == ["arithmetic"]
    # the world and need_checkpoints are never relaxed; a smoke error names the smallest build that has them
    with pytest.raises(MissingWeightsError, match=r"nor any smoke fallback.*--preset paper --only paper-plan"):
        selection.select_pairs("planning", variant="correct", smoke=True)
    assert _names(selection.select_pairs("arithmetic", dose=0.0, need_checkpoints=True, preset="demo", smoke=True)) \
        == ["d-r5"]  # dose 0 has no checkpoints: the dose is relaxed, never need_checkpoints


def test_select_pairs_orders_as_requested_and_checks_arguments(zoo):
    organism_manifest(zoo, "d-r5-random", preset="demo", base="d-b5", variant="random")
    sel = selection.select_pairs("arithmetic", variant=["random", "correct"], dose=0.5, seed=0)
    assert _names(sel) == ["d-r5-random", "d-r5"] and list(sel.by("variant")) == ["random", "correct"]
    with pytest.raises(EmptyInputError, match="variant=\\[\\] selects nothing"):
        selection.select_pairs("arithmetic", variant=[])
    with pytest.raises(InvalidConfigError, match="require"):
        selection.select_pairs("arithmetic", require="some")
    with pytest.raises(InvalidConfigError, match="group"):
        sel.by("colour")


def test_a_misspelt_world_or_variant_is_named_not_dropped(zoo):
    with pytest.raises(InvalidConfigError, match="no zoo preset or built pair has world 'bandts'"):
        selection.select_pairs(["arithmetic", "bandts"], require="any")
    with pytest.raises(InvalidConfigError, match="variant 'corect'"):
        selection.select_pairs("arithmetic", variant=["correct", "corect"], require="any", smoke=True)
    with pytest.raises(InvalidConfigError, match="dose='abc': pass numbers"):
        selection.select_pairs("arithmetic", dose="abc")
    for flag in ("smoke", "need_checkpoints"):
        with pytest.raises(InvalidConfigError, match=f"{flag}='false': pass True or False"):
            selection.select_pairs("arithmetic", **{flag: "false"})
    assert selection.undefined_values({"world": ("arithmetic",), "variant": ("correct",)}) == {"world": [],
                                                                                               "variant": []}
    # a fine-tuned variant a preset defines is no misspelling: missing, it gets the build hint
    assert selection.undefined_values({"variant": ("thompson",)}) == {"variant": []}
    with pytest.raises(MissingWeightsError, match="zoo build"):
        selection.select_pairs("bandits", variant="thompson")


def test_select_pairs_requires_every_value_in_every_requested_world(zoo):
    """require="all" is checked per world: a world lacking a seed the other world has is not silently accepted."""
    organism_manifest(zoo, "d-p0", preset="demo", world="planning", dose=0.5)
    organism_manifest(zoo, "d-p0-r", preset="demo", world="planning", dose=0.5, base="d-p0")
    # arithmetic has seeds 0 and 1 (at dose 0.5), planning only seed 0: seed 1 is there, but not in planning
    with pytest.raises(MissingWeightsError, match=r"Planning: no seed 1 among the zoo pairs with world=\['arithmetic',"
                                                  r" 'planning'\], seed=\[0, 1\].*--preset paper --only paper-plan"):
        selection.select_pairs(["arithmetic", "planning"], seed=[0, 1])
    sel = selection.select_pairs(["arithmetic", "planning"], seed=[0, 1], smoke=True)
    assert _names(sel) == ["d-r0", "d-r5", "d-r5-s1", "d-p0-r"]
    assert sel.missing == [{"world": "planning", "seed": 1}] and "planning: no seed 1" in sel.source
    sel = selection.select_pairs(["arithmetic", "planning"], seed=[0, 1], require="any")
    assert len(sel) == 4 and sel.missing == [{"world": "planning", "seed": 1}]
    assert _names(selection.select_pairs(["arithmetic", "planning"], seed=0)) == ["d-r0", "d-r5", "d-p0-r"]
    # without a world, the values may come from any world
    assert selection.select_pairs(seed=[0, 1], dose=0.5).missing == []


def test_select_pairs_requires_every_requested_combination(zoo):
    """Two multi-valued fields: every (variant, dose) combination is needed, not just every value somewhere."""
    organism_manifest(zoo, "d-r5-random", preset="demo", base="d-b5", variant="random")  # random at 0.5; correct at 0 and 0.5
    with pytest.raises(MissingWeightsError, match=r"No pair with \(variant random, dose 0.0, seed 0\) among"):
        selection.select_pairs("arithmetic", variant=["correct", "random"], dose=[0.0, 0.5], seed=0)
    sel = selection.select_pairs("arithmetic", variant=["correct", "random"], dose=[0.0, 0.5], seed=0, smoke=True)
    assert _names(sel) == ["d-r0", "d-r5", "d-r5-random"]
    assert sel.missing == [{"world": "arithmetic", "variant": "random", "dose": 0.0, "seed": 0}]
    organism_manifest(zoo, "d-r0-random", preset="demo", base="d-b0", variant="random", dose=0.0)
    sel = selection.select_pairs("arithmetic", variant=["correct", "random"], dose=[0.0, 0.5], seed=0)
    assert _names(sel) == ["d-r0", "d-r0-random", "d-r5", "d-r5-random"] and sel.missing == []


def test_select_pairs_auto_preset_ranks_by_the_requested_values(zoo):
    """A preset with more models but without a requested dose loses to one holding every requested dose."""
    organism_manifest(zoo, "d-bb0", preset="demo", world="bandits", dose=0.0)
    for seed in (0, 1, 2):
        organism_manifest(zoo, f"d-bb0-r{seed}", preset="demo", world="bandits", dose=0.0, base="d-bb0", seed=seed)
    for d, tag in ((0.0, "0"), (0.5, "5")):
        organism_manifest(zoo, f"p-bb{tag}", preset="paper", world="bandits", dose=d)
        organism_manifest(zoo, f"p-bb{tag}-r", preset="paper", world="bandits", dose=d, base=f"p-bb{tag}")
    sel = selection.select_pairs("bandits", variant="correct", dose=[0.0, 0.5])
    assert _names(sel) == ["p-bb0-r", "p-bb5-r"] and sel.source == "preset paper" and sel.missing == []
    # asked only for dose 0, both presets hold it: the one with more models wins
    assert _names(selection.select_pairs("bandits", variant="correct", dose=0.0)) == ["d-bb0-r0", "d-bb0-r1", "d-bb0-r2"]


def test_named_pairs_keep_the_order_asked_and_name_the_build(zoo):
    sel = selection.named_pairs(["d-r5-s1", "d-r0"])
    assert _names(sel) == ["d-r5-s1", "d-r0"] and sel.source == "preset demo (pairs named)"
    # a pair the zoo lacks: the build command of the preset that defines it, its base included
    with pytest.raises(MissingWeightsError, match=r"lacks the pair\(s\) \['val-bandit-d000-rl-long-s1'\]: build them"
                                                  r" with `rlmeta-interp zoo build --preset validation --only"
                                                  r" val-bandit-d000-base val-bandit-d000-rl-long-s1`"):
        selection.named_pairs(["d-r0", "val-bandit-d000-rl-long-s1"])
    with pytest.raises(InvalidConfigError, match=r"No zoo preset defines the pair\(s\) \['d-r9'\]"):
        selection.named_pairs(["d-r9"])
    # a name the demo preset shares with validation is built under validation (whose name notebooks filter on)
    with pytest.raises(MissingWeightsError, match=r"--preset validation --only val-arith-depth-d010-base"
                                                  r" val-arith-depth-d010-sft-deep`\.$"):
        selection.named_pairs(["val-arith-depth-d010-sft-deep"])
    # a base already built is left out of the command
    organism_manifest(zoo, "val-bandit-d050-base", preset="validation", world="bandits", dose=0.5)
    with pytest.raises(MissingWeightsError, match=r"--preset validation --only val-bandit-d050-rl-long`\.$"):
        selection.named_pairs(["val-bandit-d050-rl-long"])
    with pytest.raises(InvalidConfigError, match=r"\['val-bandit-d050-base'\] name base models"):
        selection.named_pairs(["val-bandit-d050-base"])
    for bad in ([], ["d-r0", "d-r0"]):
        with pytest.raises(InvalidConfigError, match="name each pair once"):
            selection.named_pairs(bad)
    # a registered pair outside the zoo (a hub pair) is taken by name; its weights are looked for when it loads
    hub = selection.named_pairs(["d-r0", "orz-0.5b"])
    assert _names(hub) == ["d-r0", "orz-0.5b"] and hub.source == "preset demo/hub (pairs named)"
    assert hub.titles()["orz-0.5b"] == "orz-0.5b" and hub.case_labels()["orz-0.5b"] == ""


def test_choose_pairs_names_pairs_or_selects_them_and_refuses_a_depth_without_names(zoo):
    assert _names(selection.choose_pairs(["d-r5-s1", "d-r0"], "arithmetic", operands=5)) == ["d-r5-s1", "d-r0"]
    chosen = selection.choose_pairs([], "arithmetic", variant="correct", seed=0)
    assert _names(chosen) == ["d-r0", "d-r5"] and chosen.source == "preset demo"
    assert _names(selection.choose_pairs([], "arithmetic", variant="correct", need_checkpoints=True)) == ["d-r5"]
    with pytest.raises(InvalidConfigError, match=r"kept no RL checkpoints"):
        selection.choose_pairs(["d-r0"], need_checkpoints=True)
    with pytest.raises(InvalidConfigError, match=r"OPERANDS=5 applies to named pairs only"):
        selection.choose_pairs([], "arithmetic", operands=5, variant="correct")


def test_named_pairs_needing_checkpoints_refuse_a_pair_without_them(zoo):
    # d-r5 kept checkpoints, d-r0 did not
    assert _names(selection.named_pairs(["d-r5"], need_checkpoints=True)) == ["d-r5"]
    assert _names(selection.named_pairs(["d-r5", "d-r0"])) == ["d-r5", "d-r0"]
    with pytest.raises(InvalidConfigError, match=r"\['d-r0'\] kept no RL checkpoints.*--preset depth-dynamics"):
        selection.named_pairs(["d-r5", "d-r0"], need_checkpoints=True)


def test_pair_selection_note_names_each_pairs_recipe_and_label():
    pairs = selection.named_pairs(["val-arith-depth-d000-sft-deep", "val-arith-depth-d010-sft-deep"])
    assert pairs.note() == (" Pairs: val-arith-depth-d000-sft-deep (sft-calibration, label creation),"
                            " val-arith-depth-d010-sft-deep (sft-calibration, label activation); 'RL' names each"
                            " pair's tuned model.")
    # figures that name each model in full leave out what "RL" stands for
    assert pairs.note(rl_named=False) == (" Pairs: val-arith-depth-d000-sft-deep (sft-calibration, label creation),"
                                          " val-arith-depth-d010-sft-deep (sft-calibration, label activation).")
    demo = selection.named_pairs(["demo-arith-d050-rl-correct"])
    assert demo.note() == " Pairs: demo-arith-d050-rl-correct (no recipe, no label); 'RL' names each pair's tuned model."


def test_case_labels_mark_a_failed_gain_check_and_the_note_uses_them(tmp_path, monkeypatch):
    monkeypatch.setenv("RLMETA_DATA", str(tmp_path))
    organism_manifest(tmp_path, "v-b", preset="validation", dose=0.0)
    for name, label, passed in (("v-gain", "creation", True), ("v-flat", "creation", False), ("v-ctl", "no_signal", False)):
        organism_manifest(tmp_path, name, preset="validation", base="v-b")
        m = json.loads((tmp_path / "zoo" / name / "manifest.json").read_text())
        m.update(label=label, recipe="r", gain_check={"passed": passed})
        (tmp_path / "zoo" / name / "manifest.json").write_text(json.dumps(m))
    organism_manifest(tmp_path, "v-plain", preset="validation", base="v-b")
    sel = selection.named_pairs(["v-gain", "v-flat", "v-ctl", "v-plain"])
    assert sel.case_labels() == {"v-gain": "creation", "v-flat": "creation, no gain", "v-ctl": "no_signal",
                                 "v-plain": ""}
    assert sel.note() == (" Pairs: v-gain (r, label creation), v-flat (r, label creation, no gain), v-ctl (r, label"
                          " no_signal), v-plain (no recipe, no label); 'RL' names each pair's tuned model.")
    assert sel.gain_passed() == {"v-gain": True, "v-flat": False, "v-ctl": None, "v-plain": None}
    assert sel.titles() == {"v-gain": "v-gain (dose 0.5, creation)", "v-flat": "v-flat (dose 0.5, creation, no gain)",
                            "v-ctl": "v-ctl (dose 0.5, no_signal)", "v-plain": "v-plain (dose 0.5)"}


def test_a_preset_that_is_part_of_another_selects_its_own_models_recorded_under_the_fuller_one(tmp_path, monkeypatch):
    """Models built under validation-core record 'validation'; selecting the core finds exactly its own models."""
    from rlmeta_interp import registry

    monkeypatch.setenv("RLMETA_DATA", str(tmp_path))
    for tag in ("", "-s4"):  # seed 0 is in the core, seed 4 (a later clean-test seed) is not
        organism_manifest(tmp_path, f"val-bandit-d000{tag}-base", preset="validation", world="bandits", dose=0.0)
        organism_manifest(tmp_path, f"val-bandit-d000{tag}-rl-long", preset="validation", world="bandits", dose=0.0,
                          base=f"val-bandit-d000{tag}-base", variant="long")
    assert _names(selection.select_pairs("bandits", preset="validation-core")) == ["val-bandit-d000-rl-long"]
    assert _names(registry.find_pairs("bandits", preset="validation-core")) == ["val-bandit-d000-rl-long"]
    assert len(registry.find_pairs("bandits", preset="validation")) == 2
    assert registry.find_pairs("bandits", preset="demo") == []
