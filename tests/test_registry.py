from __future__ import annotations

import json

import pytest

from rlmeta_interp import load_pair, registry
from rlmeta_interp.errors import EmptyInputError, InvalidConfigError, MissingWeightsError

from .conftest import save_tiny


def _manifest(folder, **kw):
    m = {"name": folder.name, "world": "arithmetic", "dose": 0.5, "seed": 0, "files": {}}
    m.update(kw)
    (folder / "manifest.json").write_text(json.dumps(m))


def test_hub_pairs_are_listed():
    pairs = registry.all_pairs()
    for name in ("orz-0.5b", "simplerl-7b", "one-shot-1.5b", "prorl-1.5b"):
        assert name in pairs and pairs[name].base.source == "hub"
    assert pairs["orz-0.5b"].base.location == "Qwen/Qwen2.5-0.5B"


def test_zoo_models_are_discovered_from_manifests(tmp_path, monkeypatch):
    zoo = tmp_path / "zoo"
    monkeypatch.setenv("RLMETA_DATA", str(tmp_path))
    base, rl = zoo / "toy-base", zoo / "toy-rl"
    save_tiny(base, "llama", seed=0)
    save_tiny(rl, "llama", seed=1)
    _manifest(base, kind="base")
    _manifest(rl, kind="rl", base="toy-base", variant="correct")
    assert "toy-rl" in registry.all_pairs() and "toy-base" in registry.all_models()
    pair = load_pair("toy-rl")
    assert pair.world == "arithmetic" and pair.dose == 0.5 and pair.base.name == "toy-base"
    assert pair.rl.manifest["variant"] == "correct"
    again = load_pair(registry.get_pair("toy-rl"))  # a PairSpec loads the same pair
    assert again.name == "toy-rl" and again.base.folder == pair.base.folder and again.rl.spec == pair.rl.spec


def test_find_pairs_filters(tmp_path, monkeypatch):
    zoo = tmp_path / "zoo"
    monkeypatch.setenv("RLMETA_DATA", str(tmp_path))
    save_tiny(zoo / "b0", "llama")
    _manifest(zoo / "b0", kind="base", dose=0.0, preset="demo")
    for name, variant, seed in (("r0", "correct", 0), ("r1", "random", 0), ("r2", "correct", 1)):
        save_tiny(zoo / name, "llama", seed=1)
        _manifest(zoo / name, kind="rl", base="b0", variant=variant, dose=0.0, seed=seed, preset="demo")
    assert [p.name for p in registry.find_pairs("arithmetic", variant="correct")] == ["r0", "r2"]
    assert [p.name for p in registry.find_pairs(seed=1)] == ["r2"]
    assert registry.find_pairs("bandits") == [] and registry.find_pairs(dose=0.5) == []


# ------------------------------------------------------------------------------------------------ select_pairs
# Manifest-only zoo folders: pair selection reads nothing else. Names avoid the real presets' names, so the build
# hints (computed from the real presets) list every model they need.
def _organism(root, name, *, preset, world="arithmetic", dose=0.5, base=None, variant="correct", seed=0,
              ckpt=False):
    folder = root / "zoo" / name
    folder.mkdir(parents=True)
    files = {"model.safetensors": "0" * 64}
    if ckpt:
        files["checkpoints/step_000010/model.safetensors"] = "1" * 64
    m = {"name": name, "kind": "rl" if base else "base", "world": world, "dose": dose, "seed": seed, "preset": preset,
         "files": files}
    if base:
        m.update(base=base, variant=variant)
    (folder / "manifest.json").write_text(json.dumps(m))


def _names(pairs):
    return [p.name for p in pairs]


@pytest.fixture
def zoo(tmp_path, monkeypatch):
    """Demo arithmetic pairs at doses 0 and 0.5 (0.5 with checkpoints, plus a second seed); no shipped zoo."""
    monkeypatch.setenv("RLMETA_DATA", str(tmp_path))
    for d, tag in ((0.0, "0"), (0.5, "5")):
        _organism(tmp_path, f"d-b{tag}", preset="demo", dose=d)
        _organism(tmp_path, f"d-r{tag}", preset="demo", dose=d, base=f"d-b{tag}", ckpt=d > 0)
    _organism(tmp_path, "d-r5-s1", preset="demo", base="d-b5", seed=1)
    return tmp_path


def test_select_pairs_auto_preset_prefers_the_fuller_preset_never_mixes_and_ties_go_to_paper(zoo):
    assert _names(registry.select_pairs("arithmetic", variant="correct", seed=0)) == ["d-r0", "d-r5"]
    assert _names(registry.select_pairs("arithmetic", variant="correct", seed=0, dose=[0.5])) == ["d-r5"]
    assert _names(registry.select_pairs("arithmetic", variant="correct", dose=0.5)) == ["d-r5", "d-r5-s1"]
    _organism(zoo, "p-b1", preset="paper", dose=0.1)
    _organism(zoo, "p-r1", preset="paper", dose=0.1, base="p-b1")
    # a partly built paper zoo loses to a complete demo zoo; asked for its dose, it wins
    assert _names(registry.select_pairs("arithmetic", variant="correct", seed=0)) == ["d-r0", "d-r5"]
    assert _names(registry.select_pairs("arithmetic", variant="correct", seed=0, dose=[0.1])) == ["p-r1"]
    _organism(zoo, "p-b5", preset="paper", dose=0.5)
    _organism(zoo, "p-r5", preset="paper", dose=0.5, base="p-b5")
    sel = registry.select_pairs("arithmetic", variant="correct", seed=0)
    assert _names(sel) == ["p-r1", "p-r5"] and sel.source == "preset paper"  # a tie goes to the paper preset
    assert _names(registry.select_pairs("arithmetic", variant="correct", seed=0, preset="demo")) == ["d-r0", "d-r5"]
    mixed = registry.select_pairs("arithmetic", variant="correct", seed=0, preset=None)  # None: any preset, mixed
    assert _names(mixed) == ["d-r0", "p-r1", "d-r5", "p-r5"] and mixed.source == "preset paper/demo"
    assert set(mixed.by("preset")) == {"demo", "paper"} and list(mixed.by("dose")) == [0.0, 0.1, 0.5]


def test_select_pairs_missing_values_raise_with_the_build_command(zoo):
    with pytest.raises(MissingWeightsError, match=r"no pair with world='arithmetic', variant='correct', dose=0.1"
                                                  r".*zoo build --preset paper --only paper-arith-d010-base"
                                                  r" paper-arith-d010-rl-correct`.*SMOKE=True"):
        registry.select_pairs("arithmetic", variant="correct", seed=0, dose=0.1)
    # some variants exist: the error names the missing ones, and the build command the ones a paper zoo needs
    with pytest.raises(MissingWeightsError, match=r"No variant oneshot, random among.*--preset paper --only"
                                                  r" (\S+ )*paper-arith-d050-base paper-arith-d050-rl-correct"
                                                  r" paper-arith-d050-rl-random paper-arith-d050-rl-oneshot`"):
        registry.select_pairs("arithmetic", variant=["correct", "oneshot", "random"], dose=0.5, seed=0)
    with pytest.raises(MissingWeightsError, match="no zoo preset defines variant 'nonexistent'"):
        registry.select_pairs("arithmetic", variant=["correct", "nonexistent"], dose=0.5, seed=0)
    # a variant the paper preset defines gets its build command, not the "no preset defines" note
    with pytest.raises(MissingWeightsError, match=r"--only (\S+ )*paper-arith-d050-base paper-arith-d050-rl-correct"
                                                  r" paper-arith-d050-rl-hard`\. Then rerun"):
        registry.select_pairs("arithmetic", variant=["correct", "hard"], dose=0.5, seed=0)
    with pytest.raises(MissingWeightsError, match=r"No world planning among.*--preset paper --only paper-plan"):
        registry.select_pairs(["arithmetic", "planning"], variant="correct")
    with pytest.raises(MissingWeightsError, match=r"preset='paper', with RL checkpoints.*--preset paper --only"):
        registry.select_pairs("arithmetic", variant="correct", preset="paper", need_checkpoints=True)
    # require="any": missing worlds are tolerated as long as one pair exists
    sel = registry.select_pairs(["arithmetic", "bandits"], preset=None, require="any")
    assert _names(sel) == ["d-r0", "d-r5", "d-r5-s1"] and sel.missing == [{"world": "bandits"}]


def test_select_pairs_smoke_drops_what_is_missing_then_relaxes_preset_dose_seed_variant(zoo):
    sel = registry.select_pairs("arithmetic", variant=["correct", "oneshot"], dose=0.5, seed=0, smoke=True)
    assert _names(sel) == ["d-r5"] and sel.missing == [{"world": "arithmetic", "variant": "oneshot"}]
    assert "no variant oneshot" in sel.source
    # nothing at dose 0.1: the dose is relaxed (the pairs of the fullest preset)
    sel = registry.select_pairs("arithmetic", variant="correct", seed=0, dose=0.1, smoke=True)
    assert _names(sel) == ["d-r0", "d-r5"] and "smoke fallback: no pairs with dose 0.1" in sel.source
    # no paper pairs: any preset (dynamics notebooks), keeping need_checkpoints
    sel = registry.select_pairs("arithmetic", variant="correct", preset="paper", need_checkpoints=True, smoke=True)
    assert _names(sel) == ["d-r5"] and sel.source == "preset demo (smoke fallback: no pairs with preset paper here)"
    sel = registry.select_pairs("arithmetic", variant=["random", "easy"], dose=0.1, smoke=True)
    assert _names(sel) == ["d-r0", "d-r5", "d-r5-s1"]  # no such variant at any dose or seed: the world's pairs
    assert list(registry.select_pairs(["arithmetic", "planning"], variant="correct", seed=0, smoke=True)
                .by("world")) == ["arithmetic"]
    # the world and need_checkpoints are never relaxed; a smoke error names the smallest build that has them
    with pytest.raises(MissingWeightsError, match=r"nor any smoke fallback.*--preset paper --only paper-plan"):
        registry.select_pairs("planning", variant="correct", smoke=True)
    assert _names(registry.select_pairs("arithmetic", dose=0.0, need_checkpoints=True, preset="demo", smoke=True)) \
        == ["d-r5"]  # dose 0 has no checkpoints: the dose is relaxed, never need_checkpoints


def test_select_pairs_orders_as_requested_and_checks_arguments(zoo):
    _organism(zoo, "d-r5-random", preset="demo", base="d-b5", variant="random")
    sel = registry.select_pairs("arithmetic", variant=["random", "correct"], dose=0.5, seed=0)
    assert _names(sel) == ["d-r5-random", "d-r5"] and list(sel.by("variant")) == ["random", "correct"]
    with pytest.raises(EmptyInputError, match="variant=\\[\\] selects nothing"):
        registry.select_pairs("arithmetic", variant=[])
    with pytest.raises(InvalidConfigError, match="require"):
        registry.select_pairs("arithmetic", require="some")
    with pytest.raises(InvalidConfigError, match="group"):
        sel.by("colour")


def test_select_pairs_requires_every_value_in_every_requested_world(zoo):
    """require="all" is checked per world: a world lacking a seed the other world has is not silently accepted."""
    _organism(zoo, "d-p0", preset="demo", world="planning", dose=0.5)
    _organism(zoo, "d-p0-r", preset="demo", world="planning", dose=0.5, base="d-p0")
    # arithmetic has seeds 0 and 1 (at dose 0.5), planning only seed 0: seed 1 is there, but not in planning
    with pytest.raises(MissingWeightsError, match=r"Planning: no seed 1 among the zoo pairs with world=\['arithmetic',"
                                                  r" 'planning'\], seed=\[0, 1\].*--preset paper --only paper-plan"):
        registry.select_pairs(["arithmetic", "planning"], seed=[0, 1])
    sel = registry.select_pairs(["arithmetic", "planning"], seed=[0, 1], smoke=True)
    assert _names(sel) == ["d-r0", "d-r5", "d-r5-s1", "d-p0-r"]
    assert sel.missing == [{"world": "planning", "seed": 1}] and "planning: no seed 1" in sel.source
    sel = registry.select_pairs(["arithmetic", "planning"], seed=[0, 1], require="any")
    assert len(sel) == 4 and sel.missing == [{"world": "planning", "seed": 1}]
    assert _names(registry.select_pairs(["arithmetic", "planning"], seed=0)) == ["d-r0", "d-r5", "d-p0-r"]
    # without a world, the values may come from any world
    assert registry.select_pairs(seed=[0, 1], dose=0.5).missing == []


def test_select_pairs_requires_every_requested_combination(zoo):
    """Two multi-valued fields: every (variant, dose) combination is needed, not just every value somewhere."""
    _organism(zoo, "d-r5-random", preset="demo", base="d-b5", variant="random")  # random at 0.5; correct at 0 and 0.5
    with pytest.raises(MissingWeightsError, match=r"No pair with \(variant random, dose 0.0, seed 0\) among"):
        registry.select_pairs("arithmetic", variant=["correct", "random"], dose=[0.0, 0.5], seed=0)
    sel = registry.select_pairs("arithmetic", variant=["correct", "random"], dose=[0.0, 0.5], seed=0, smoke=True)
    assert _names(sel) == ["d-r0", "d-r5", "d-r5-random"]
    assert sel.missing == [{"world": "arithmetic", "variant": "random", "dose": 0.0, "seed": 0}]
    _organism(zoo, "d-r0-random", preset="demo", base="d-b0", variant="random", dose=0.0)
    sel = registry.select_pairs("arithmetic", variant=["correct", "random"], dose=[0.0, 0.5], seed=0)
    assert _names(sel) == ["d-r0", "d-r0-random", "d-r5", "d-r5-random"] and sel.missing == []


def test_select_pairs_auto_preset_ranks_by_the_requested_values(zoo):
    """A preset with more models but without a requested dose loses to one holding every requested dose."""
    _organism(zoo, "d-bb0", preset="demo", world="bandits", dose=0.0)
    for seed in (0, 1, 2):
        _organism(zoo, f"d-bb0-r{seed}", preset="demo", world="bandits", dose=0.0, base="d-bb0", seed=seed)
    for d, tag in ((0.0, "0"), (0.5, "5")):
        _organism(zoo, f"p-bb{tag}", preset="paper", world="bandits", dose=d)
        _organism(zoo, f"p-bb{tag}-r", preset="paper", world="bandits", dose=d, base=f"p-bb{tag}")
    sel = registry.select_pairs("bandits", variant="correct", dose=[0.0, 0.5])
    assert _names(sel) == ["p-bb0-r", "p-bb5-r"] and sel.source == "preset paper" and sel.missing == []
    # asked only for dose 0, both presets hold it: the one with more models wins
    assert _names(registry.select_pairs("bandits", variant="correct", dose=0.0)) == ["d-bb0-r0", "d-bb0-r1", "d-bb0-r2"]


# ------------------------------------------------------------------------------------------------ validation zoo
def test_labels_from_rl_manifests_and_labelled_pairs(tmp_path, monkeypatch):
    monkeypatch.setenv("RLMETA_DATA", str(tmp_path))
    _organism(tmp_path, "v-b", preset="validation", dose=0.5)
    _organism(tmp_path, "v-plain", preset="validation", base="v-b")  # no label keys, as in the shipped zoo
    for name, label, split in (("v-c", "creation", "calibration"), ("v-a", "activation", "test"),
                               ("v-n", "no_signal", "test")):
        _organism(tmp_path, name, preset="validation", base="v-b")
        m = json.loads((tmp_path / "zoo" / name / "manifest.json").read_text())
        m.update(label=label, split=split, recipe=f"{label} recipe", budget={"rl_steps": 40})
        (tmp_path / "zoo" / name / "manifest.json").write_text(json.dumps(m))
    pairs = registry.all_pairs()
    plain, created = pairs["v-plain"], pairs["v-c"]
    assert (plain.label, plain.split, plain.recipe) == (None, None, "")
    assert (created.label, created.split, created.recipe) == ("creation", "calibration", "creation recipe")
    assert created.extra["budget"] == {"rl_steps": 40}
    assert [p.name for p in registry.labelled_pairs()] == ["v-c", "v-a", "v-n"]
    assert [p.name for p in registry.labelled_pairs("test")] == ["v-a", "v-n"]
    assert [p.name for p in registry.labelled_pairs(split="calibration")] == ["v-c"]
    # a fine-tuned (SFT) calibration organism is a pair with its base too
    _organism(tmp_path, "v-sft", preset="validation", base="v-b", variant="deep")
    m = json.loads((tmp_path / "zoo" / "v-sft" / "manifest.json").read_text())
    m.update(kind="sft", label="creation", split="calibration", recipe="sft-calibration")
    (tmp_path / "zoo" / "v-sft" / "manifest.json").write_text(json.dumps(m))
    sft = registry.get_pair("v-sft")
    assert sft.base.name == "v-b" and sft.extra["kind"] == "sft" and "SFT variant deep" in sft.description
    assert [p.name for p in registry.labelled_pairs(split="calibration")] == ["v-c", "v-sft"]
    with pytest.raises(InvalidConfigError, match="choose 'calibration', 'test'"):
        registry.labelled_pairs("train")


def test_a_bad_label_names_the_manifest(tmp_path, monkeypatch):
    monkeypatch.setenv("RLMETA_DATA", str(tmp_path))
    _organism(tmp_path, "v-b", preset="validation")
    _organism(tmp_path, "v-r", preset="validation", base="v-b")
    m = json.loads((tmp_path / "zoo" / "v-r" / "manifest.json").read_text())
    (tmp_path / "zoo" / "v-r" / "manifest.json").write_text(json.dumps({**m, "label": "created"}))
    with pytest.raises(InvalidConfigError, match=r"v-r/manifest\.json: PairSpec\.label='created'.*creation"):
        registry.all_pairs()


def test_every_source_answers_for_its_kind_and_names_resolve(tmp_path, monkeypatch):
    from rlmeta_interp import sources

    assert all(s.kind == kind for kind, s in sources.MODEL_SOURCES.items())
    assert set(sources.MODEL_SOURCES) == {"zoo", "folder", "hub", "embedded", "adapter"}
    models = registry.all_models()
    assert models["gemma-3-270m"].source == "embedded" and models["Qwen/Qwen2.5-0.5B"].source == "hub"
    folder = save_tiny(tmp_path / "m", "llama")
    assert registry.resolve_model(folder) == sources.folder_spec(folder)
    assert sources.available(sources.folder_spec(folder))
    (folder / "model.safetensors").unlink()
    assert not sources.available(sources.folder_spec(folder))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty_hub"))
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path / "empty_hub"))
    assert not sources.available(registry.get_pair("orz-0.5b").base)
    assert registry.resolve_model("someorg/not-listed").source == "hub"
    with pytest.raises(MissingWeightsError, match="does not exist"):
        registry.resolve_model(tmp_path / "absent")


def test_named_pairs_keep_the_order_asked_and_name_the_build(zoo):
    sel = registry.named_pairs(["d-r5-s1", "d-r0"])
    assert _names(sel) == ["d-r5-s1", "d-r0"] and sel.source == "preset demo (pairs named)"
    # a pair the zoo lacks: the build command of the preset that defines it, its base included
    with pytest.raises(MissingWeightsError, match=r"lacks the pair\(s\) \['val-bandit-d000-rl-long-s1'\]: build them"
                                                  r" with `rlmeta-interp zoo build --preset validation --only"
                                                  r" val-bandit-d000-base val-bandit-d000-rl-long-s1`"):
        registry.named_pairs(["d-r0", "val-bandit-d000-rl-long-s1"])
    with pytest.raises(InvalidConfigError, match=r"No zoo preset defines the pair\(s\) \['d-r9'\]"):
        registry.named_pairs(["d-r9"])
    # a name the demo preset shares with validation is built under validation (whose name notebooks filter on)
    with pytest.raises(MissingWeightsError, match=r"--preset validation --only val-arith-depth-d010-base"
                                                  r" val-arith-depth-d010-sft-deep`\.$"):
        registry.named_pairs(["val-arith-depth-d010-sft-deep"])
    # a base already built is left out of the command
    _organism(zoo, "val-bandit-d050-base", preset="validation", world="bandits", dose=0.5)
    with pytest.raises(MissingWeightsError, match=r"--preset validation --only val-bandit-d050-rl-long`\.$"):
        registry.named_pairs(["val-bandit-d050-rl-long"])
    with pytest.raises(InvalidConfigError, match=r"\['val-bandit-d050-base'\] name base models"):
        registry.named_pairs(["val-bandit-d050-base"])
    for bad in ([], ["d-r0", "d-r0"]):
        with pytest.raises(InvalidConfigError, match="name each pair once"):
            registry.named_pairs(bad)


def test_choose_pairs_names_pairs_or_selects_them_and_refuses_a_depth_without_names(zoo):
    assert _names(registry.choose_pairs(["d-r5-s1", "d-r0"], "arithmetic", operands=5)) == ["d-r5-s1", "d-r0"]
    chosen = registry.choose_pairs([], "arithmetic", variant="correct", seed=0)
    assert _names(chosen) == ["d-r0", "d-r5"] and chosen.source == "preset demo"
    assert _names(registry.choose_pairs([], "arithmetic", variant="correct", need_checkpoints=True)) == ["d-r5"]
    with pytest.raises(InvalidConfigError, match=r"kept no RL checkpoints"):
        registry.choose_pairs(["d-r0"], need_checkpoints=True)
    with pytest.raises(InvalidConfigError, match=r"OPERANDS=5 applies to named pairs only"):
        registry.choose_pairs([], "arithmetic", operands=5, variant="correct")


def test_named_pairs_needing_checkpoints_refuse_a_pair_without_them(zoo):
    # d-r5 kept checkpoints, d-r0 did not
    assert _names(registry.named_pairs(["d-r5"], need_checkpoints=True)) == ["d-r5"]
    assert _names(registry.named_pairs(["d-r5", "d-r0"])) == ["d-r5", "d-r0"]
    with pytest.raises(InvalidConfigError, match=r"\['d-r0'\] kept no RL checkpoints.*--preset depth-dynamics"):
        registry.named_pairs(["d-r5", "d-r0"], need_checkpoints=True)


def test_pair_selection_note_names_each_pairs_recipe_and_label():
    pairs = registry.named_pairs(["val-arith-depth-d000-sft-deep", "val-arith-depth-d010-sft-deep"])
    assert pairs.note() == (" Pairs: val-arith-depth-d000-sft-deep (sft-calibration, label creation),"
                            " val-arith-depth-d010-sft-deep (sft-calibration, label activation); 'RL' names each"
                            " pair's tuned model.")
    # figures that name each model in full leave out what "RL" stands for
    assert pairs.note(rl_named=False) == (" Pairs: val-arith-depth-d000-sft-deep (sft-calibration, label creation),"
                                          " val-arith-depth-d010-sft-deep (sft-calibration, label activation).")
    demo = registry.named_pairs(["demo-arith-d050-rl-correct"])
    assert demo.note().startswith(f" Pairs: demo-arith-d050-rl-correct ({demo[0].recipe or 'no recipe'}, label ")


def test_case_labels_mark_a_failed_gain_check_and_the_note_uses_them(tmp_path, monkeypatch):
    monkeypatch.setenv("RLMETA_DATA", str(tmp_path))
    _organism(tmp_path, "v-b", preset="validation", dose=0.0)
    for name, label, passed in (("v-gain", "creation", True), ("v-flat", "creation", False), ("v-ctl", "no_signal", False)):
        _organism(tmp_path, name, preset="validation", base="v-b")
        m = json.loads((tmp_path / "zoo" / name / "manifest.json").read_text())
        m.update(label=label, recipe="r", gain_check={"passed": passed})
        (tmp_path / "zoo" / name / "manifest.json").write_text(json.dumps(m))
    _organism(tmp_path, "v-plain", preset="validation", base="v-b")
    sel = registry.named_pairs(["v-gain", "v-flat", "v-ctl", "v-plain"])
    assert sel.case_labels() == {"v-gain": "creation", "v-flat": "creation, no gain", "v-ctl": "no_signal",
                                 "v-plain": ""}
    assert sel.note() == (" Pairs: v-gain (r, label creation), v-flat (r, label creation, no gain), v-ctl (r, label"
                          " no_signal), v-plain (no recipe, label none); 'RL' names each pair's tuned model.")
    assert sel.gain_passed() == {"v-gain": True, "v-flat": False, "v-ctl": None, "v-plain": None}
    assert sel.titles() == {"v-gain": "v-gain (dose 0.5, creation)", "v-flat": "v-flat (dose 0.5, creation, no gain)",
                            "v-ctl": "v-ctl (dose 0.5, no_signal)", "v-plain": "v-plain (dose 0.5)"}
