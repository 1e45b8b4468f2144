"""The seed design data/README.md renders is read from the preset's specs."""

from __future__ import annotations

from rlmeta_interp.organism import design_table, presets


def test_seed_ranges_compress_runs():
    assert design_table.seed_ranges({0, 1, 2, 4, 5, 9}) == "0-2, 4-5, 9"
    assert design_table.seed_ranges(set()) == "none"


def test_seed_design_reads_the_splits_and_training_seeds_from_the_specs():
    rows = {(r["recipe"], r["world"]): r for r in design_table.seed_design("validation")}
    specs = presets.preset_specs("validation")
    bases = {s.name: s for s in specs if s.kind == "base"}
    for (recipe, world), row in rows.items():
        members = [s for s in specs if s.kind != "base" and s.recipe == recipe and s.world == world]
        assert row["pairs"] == len(members)
        held = {bases[s.base].seed for s in members if s.split == "test"}
        cal = {bases[s.base].seed for s in members if s.split == "calibration"}
        assert row["held-out seeds"] == design_table.seed_ranges(held)
        assert row["calibration seeds"] == design_table.seed_ranges(cal)
        assert not cal & held, f"{recipe}/{world}: a pretraining seed in both splits"
    # the bandit RL recipe is held out whole; its second RL seed is at the first pretraining seeds only
    rl = rows[("bandit-dose", "bandits")]
    assert rl["calibration seeds"] == "none"
    assert rl["second training seed at"] == design_table.seed_ranges(set(presets.PRETRAIN_SEEDS))
    assert rows[("sft-calibration", "arithmetic")]["calibration seeds"] == design_table.seed_ranges(
        set(presets.CALIBRATION_SEEDS))
    assert rows[("depth-edge", "arithmetic")]["no-signal control at"] == "none"
