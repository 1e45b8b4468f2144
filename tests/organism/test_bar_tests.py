"""Reading a test of the bar from its design (``rlmeta_interp.organism.bar_tests``), on the fourth test as the
``validation`` preset builds it: it meets the base-level minimums from its design alone, its labels follow from the
corpus design, and it is held out of every fit."""

from __future__ import annotations

import hashlib

from rlmeta_interp.analysis.validation import bar
from rlmeta_interp.organism import presets
from rlmeta_interp.organism.bar_tests import design_bases
from rlmeta_interp.organism.presets import (FOURTH_TEST_EXTRA_SEEDS, FOURTH_TEST_SEEDS, extra_activation_specs,
                                            fourth_test_specs)
from rlmeta_interp.organism.spec import design_label, sft_label

#: bases of each class the base-level criteria need: 6 of 6 right is the fewest whose exact interval clears one half
MIN_BASES = 6


def test_the_fourth_test_has_enough_bases_of_each_class_overall_and_where_reliance_reads():
    specs = fourth_test_specs()
    overall, bandits = design_bases(specs), design_bases(specs, "bandits")
    # the counts docs/preregistration.md registers for the design
    assert (len(specs), sum(s.kind == "base" for s in specs)) == (80, 19)
    assert {c: len(b) for c, b in overall.items()} == {"creation": 9, "activation": 10, "no_signal": 10}
    assert {c: len(b) for c, b in bandits.items()} == {"creation": 6, "activation": 7, "no_signal": 10}
    assert all(len(overall[c]) >= MIN_BASES for c in ("creation", "activation", "no_signal")), overall
    # reliance reads bandit pairs only: that world alone holds 6 bases of each of the two classes, and one spare
    # activation base
    assert len(bandits["creation"]) >= MIN_BASES and len(bandits["activation"]) >= MIN_BASES + 1
    # one class per base among the pairs an AUC over bases reads (a base of both classes has no reading)
    assert not overall["creation"] & overall["activation"]
    # 6 of 6 right: the lower end of the exact interval clears the bar's level, 5 of 6 would not
    from rlmeta_interp.analysis.validation.bases import all_right_lower

    assert all_right_lower(MIN_BASES) > bar.MIN_RECALL_LO > all_right_lower(MIN_BASES - 1)


def test_the_fourth_test_is_held_out_labelled_by_design_and_leak_free():
    specs = fourth_test_specs()
    by_name = {s.name: s for s in specs}
    assert len(by_name) == len(specs)  # names unique
    for s in specs:
        if s.kind == "base":
            continue
        base = by_name[s.base]  # every tuned model's base is built by the test itself
        assert s.split == "test"
        # the label the design gives, written out here rather than recomputed by the functions that set it: random
        # rewards or random play teach nothing (no-signal); a dose-0 base, or a bandit base whose rewards were
        # shuffled, never saw the capability (creation); a dosed base saw it (activation)
        if "random" in s.variant:
            want = "no_signal"
        elif base.dose == 0.0 or (s.world == "bandits" and "-shuf-" in base.name):
            want = "creation"
        else:
            want = "activation"
        assert s.label == want, s.name
        assert s.label == (design_label(base.pretrain.corpus, s.rl.reward) if s.kind == "rl"
                           else sft_label(base.pretrain.corpus, s.pretrain.corpus)), s.name
        assert (s.bandits.leak_free if s.world == "bandits" else s.arithmetic.leak_free), s.name
    # the extra seeds add dose-0.5 bandit bases only, labelled activation (controls no_signal)
    extra = [s for seed in FOURTH_TEST_EXTRA_SEEDS for s in extra_activation_specs(seed)]
    assert {s.label for s in extra if s.kind != "base"} == {"activation", "no_signal"}
    assert {s.dose for s in extra} == {0.5} and {s.world for s in extra} == {"bandits"}


def test_the_validation_preset_builds_the_fourth_test_as_registered_and_the_core_leaves_it_out():
    # added to the preset with nothing else changed: the preset's other models are those it held before, in order
    # (the checksum of their names, one per line, as the preset listed them before the fourth test entered it)
    names = [s.name for s in fourth_test_specs()]
    full = [s.name for s in presets.preset_specs("validation")]
    assert full[-len(names):] == names and not set(names) & set(full[:-len(names)])
    before = full[:-len(names)]
    assert len(before) == 197
    assert hashlib.sha256("\n".join(before).encode()).hexdigest() == (
        "ab418570e8652221b163296fab33746d58f1183e1f0340a708b5d0bcec9790b5")
    assert not set(names) & {s.name for s in presets.preset_specs("validation-core")}
    assert set(FOURTH_TEST_SEEDS) | set(FOURTH_TEST_EXTRA_SEEDS) <= set(presets.CLEAN_TEST_SEEDS)
    # fresh pretraining seeds in the validation worlds: none of the third test's design or before
    used = set(presets.FRESH_TEST_SEEDS) | set(presets.PRETRAIN_SEEDS) | set(presets.BANDIT_CALIBRATION_ONLY_SEEDS)
    assert not (set(FOURTH_TEST_SEEDS) | set(FOURTH_TEST_EXTRA_SEEDS)) & used
