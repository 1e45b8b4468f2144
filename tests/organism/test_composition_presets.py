"""The composition recipe's presets: the pilot, the tests' designs as registered in docs/preregistration.md, and
their separation from each other and from the validation preset."""

from rlmeta_interp.organism import zoo
from rlmeta_interp.organism.builders import dose_tag


def test_composition_presets_follow_their_registered_designs():
    # the composition pilot: a dose-0 base (creation by design) and its dose-0.5 twin, one RL budget on two-function
    # compositions, evaluated deeper than RL trained, with a random-reward control; kept out of the validation set
    comp = zoo.preset_specs("composition")
    rl = [s for s in comp if s.kind == "rl" and s.recipe == "composition"]
    assert {s.label for s in rl} == {"activation", "creation", "no_signal"}
    # both classes at three pretraining seeds, and two RL seeds from one base
    for label in ("creation", "activation"):
        runs = {(s.base, s.rl.seed) for s in rl if s.label == label}
        assert len({b for b, _ in runs}) >= 3 and len(runs) >= 4
    for recipe in {s.recipe for s in comp if s.kind == "rl"}:
        assert len({(s.rl.steps, s.rl.lr, s.rl.beta, s.rl.prompts_per_step, s.rl.num_generations)
                    for s in comp if s.recipe == recipe}) == 1
    # evaluated deeper than RL trained
    assert all(max(s.eval.levels) > s.rl.composition.max_level for s in comp if s.kind == "rl")
    assert not {s.name for s in comp} & {s.name for s in zoo.preset_specs("validation")}
    # the composition test: the pilot's design (same base and RL specs but for seed and name) at fresh pretraining
    # seeds, both classes with two RL seeds and a control per base, apart from the pilot and the validation preset
    ctest = zoo.preset_specs("composition-test")
    seeds = {s.pretrain.seed for s in ctest if s.kind == "base"}
    # as pre-registered: pretraining seeds 3-7, RL seeds 0 and 1 per base, 30 labelled pairs from 10 bases
    assert seeds == {3, 4, 5, 6, 7} and not seeds & {s.pretrain.seed for s in comp if s.kind == "base"}
    assert {s.rl.seed for s in ctest if s.kind == "rl"} == {0, 1} and sum(s.kind == "rl" for s in ctest) == 30
    pilot_base = next(s for s in comp if s.kind == "base" and s.dose == 0.0)
    assert all(s.pretrain.replace(seed=0, corpus=s.pretrain.corpus.replace(seed=0)) == pilot_base.pretrain.replace(
        seed=0, corpus=pilot_base.pretrain.corpus.replace(seed=0)) for s in ctest if s.kind == "base" and s.dose == 0.0)
    assert not {s.name for s in ctest} & ({s.name for s in comp} | {s.name for s in zoo.preset_specs("validation")})
    pilot_rl = next(s for s in comp if s.kind == "rl" and s.label == "creation")
    for s in ctest:
        if s.kind == "rl":
            assert s.rl.replace(seed=0, reward="correct") == pilot_rl.rl.replace(seed=0, reward="correct")
    per_base = {}
    for s in ctest:
        if s.kind == "rl":
            per_base.setdefault(s.base, []).append(s.label)
    assert len(per_base) == 2 * len(seeds)
    assert all(sorted(v) in (["creation", "creation", "no_signal"], ["activation", "activation", "no_signal"])
               for v in per_base.values())
    # the longer-RL pilot: the test's seed-4 and seed-7 dose-0 bases under another name (same pretraining), RL seeds
    # 0 and 1 with the test's RL spec but for the number of steps, which grows
    clong = zoo.preset_specs("composition-long")
    ctest_bases = {s.pretrain: s for s in ctest if s.kind == "base"}
    assert sorted(ctest_bases[s.pretrain].name for s in clong if s.kind == "base") == [
        "ctest-comp-d000-s4-base", "ctest-comp-d000-s7-base"]
    long_rl = [s for s in clong if s.kind == "rl"]
    assert len(long_rl) == 4 and {s.label for s in long_rl} == {"creation"} and {s.rl.seed for s in long_rl} == {0, 1}
    assert all(s.rl.steps > pilot_rl.rl.steps and s.rl.replace(seed=0, steps=pilot_rl.rl.steps) == pilot_rl.rl
               for s in long_rl)
    assert not {s.name for s in clong} & {s.name for p in ("composition", "composition-test", "validation")
                                          for s in zoo.preset_specs(p)}
    # the second composition test: the longer-RL design at fresh pretraining seeds with other functions, both classes
    # with two RL seeds and a control per base, all under the one longer budget
    ctest2 = zoo.preset_specs("composition-test2")
    seeds2 = {s.pretrain.seed for s in ctest2 if s.kind == "base"}
    used = {s.pretrain.seed for p in ("composition", "composition-test", "composition-long")
            for s in zoo.preset_specs(p) if s.kind == "base"}
    assert seeds2 == {8, 9, 10, 11} and not seeds2 & used
    worlds = {(s.rl.composition if s.kind == "rl" else s.pretrain.corpus.composition).function_seed for s in ctest2}
    assert worlds == {1} and long_rl[0].rl.composition.function_seed == 0
    assert all(s.rl.steps == 1500 and s.rl.replace(seed=0, reward="correct", steps=1000,
                                                    composition=long_rl[0].rl.composition)
               == long_rl[0].rl.replace(seed=0) for s in ctest2 if s.kind == "rl")
    per_base2 = {}
    for s in ctest2:
        if s.kind == "rl":
            per_base2.setdefault(s.base, []).append((s.label, s.rl.seed))
    assert len(per_base2) == 8 and sum(map(len, per_base2.values())) == 24
    assert all(sorted(v) in ([("creation", 0), ("creation", 1), ("no_signal", 0)],
                             [("activation", 0), ("activation", 1), ("no_signal", 0)]) for v in per_base2.values())


def test_low_dose_test_is_activation_by_design_in_the_second_tests_world_at_fresh_seeds():
    """As registered: seeds 12-14 at doses 0.01 and 0.05, the second test's functions and RL budget, RL seeds 0 and
    1 labelled activation and a random-reward control labelled no-signal per base, and no name or pretraining seed
    shared with an earlier composition preset."""
    low = zoo.preset_specs("composition-lowdose")
    ctest2 = zoo.preset_specs("composition-test2")
    bases = [s for s in low if s.kind == "base"]
    assert sorted((s.pretrain.seed, s.dose) for s in bases) == [(seed, d) for seed in (12, 13, 14) for d in (0.01, 0.05)]
    assert all(0 < s.pretrain.corpus.dose < 0.5 for s in bases)
    earlier = [s for p in ("composition", "composition-test", "composition-long", "composition-test2", "validation")
               for s in zoo.preset_specs(p)]
    assert not {s.pretrain.seed for s in bases} & {s.pretrain.seed for s in earlier
                                                   if s.kind == "base" and s.world == "composition"}
    assert not {s.name for s in low} & {s.name for s in earlier}
    ref = next(s for s in ctest2 if s.kind == "rl" and s.label == "activation" and s.rl.seed == 0)
    ref_base = next(s for s in ctest2 if s.name == ref.base)
    for b in bases:  # the second test's pretraining but for seed and dose
        assert b.pretrain.replace(seed=0, corpus=b.pretrain.corpus.replace(seed=0, dose=0.5)) == ref_base.pretrain.replace(
            seed=0, corpus=ref_base.pretrain.corpus.replace(seed=0))
        assert dose_tag(b.dose) in b.name
    per_base = {}
    for s in low:
        if s.kind == "rl":
            assert s.rl.replace(seed=0, reward="correct") == ref.rl.replace(seed=0), s.name
            per_base.setdefault(s.base, []).append((s.label, s.rl.seed, s.rl.reward))
    assert len(per_base) == 6 and all(sorted(v) == [("activation", 0, "correct"), ("activation", 1, "correct"),
                                                    ("no_signal", 0, "random")] for v in per_base.values())


def test_learning_speed_test_reuses_built_bases_apart_from_the_pilots_and_slows_only_the_learning_rate():
    """As registered: the second test's RL budget at lr 2e-5 from four low-dose activation bases and three second-test
    creation bases, whose specs are exactly those already built (so none is pretrained again), none of them a base of
    the learning-rate pilot or the low-dose test's seed-14 dose-0.01 base; RL seeds 0 and 1 per base and one
    random-reward control per class."""
    test = zoo.preset_specs("composition-speed")
    pilot = zoo.preset_specs("composition-speed-pilot")
    earlier = {s.name: s for p in ("composition-test2", "composition-lowdose") for s in zoo.preset_specs(p)}
    bases = [s for s in test if s.kind == "base"]
    assert all(earlier[b.name] == b for b in bases)
    assert sorted((b.dose, b.pretrain.seed) for b in bases) == [(0.0, 8), (0.0, 9), (0.0, 11), (0.01, 12),
                                                                (0.01, 13), (0.05, 12), (0.05, 14)]
    assert not {b.name for b in bases} & {s.name for s in pilot if s.kind == "base"}
    runs = [s for s in test if s.kind == "rl"]
    assert not {s.name for s in runs} & (set(earlier) | {s.name for s in pilot})
    assert all(s.rl.lr == 2e-5 and s.rl.replace(lr=1e-4, seed=0, reward="correct") == earlier[s.base.removesuffix(
        "-base") + "-rl-long"].rl for s in runs)
    labels = {}
    for s in runs:
        labels.setdefault(s.base, []).append((s.label, s.rl.seed, s.rl.reward))
    want = "activation" if "clow" in next(iter(labels)) else "creation"
    assert sorted(labels[bases[0].name]) == [(want, 0, "correct"), (want, 1, "correct"), ("no_signal", 0, "random")]
    assert sum(s.label == "no_signal" for s in runs) == 2 and len(runs) == 16
    assert all(s.label == ("activation" if s.dose > 0 else "creation") for s in runs if s.rl.reward == "correct")
    assert [s.rl.lr for s in pilot if s.kind == "rl"] == [1e-3, 2e-5, 3e-4, 1e-3]


def test_training_after_take_off_test_changes_only_the_number_of_steps_from_runs_read_already():
    """As registered: brief (300-step) and extended (3000-step) runs whose every other setting, base and RL seed are
    those of a 1500-step run of the second or low-dose test, from bases built already: the four early activation
    bases and two creation bases brief, the late activation base extended, one brief random-reward control."""
    test = zoo.preset_specs("composition-after")
    earlier = {s.name: s for p in ("composition-test2", "composition-lowdose") for s in zoo.preset_specs(p)}
    assert all(earlier[b.name] == b for b in test if b.kind == "base")
    runs = [s for s in test if s.kind == "rl"]
    assert len(runs) == 15 and not {s.name for s in runs} & set(earlier)
    for s in runs:
        twin = earlier[s.name.replace("-rl-brief", "-rl-long").replace("-rl-extended", "-rl-long")]
        assert (twin.base, twin.label, twin.rl.seed, twin.rl.reward) == (s.base, s.label, s.rl.seed, s.rl.reward)
        assert s.rl.replace(steps=1500) == twin.rl and s.rl.steps == (300 if "brief" in s.name else 3000)
    extended = {s.base for s in runs if s.rl.steps == 3000}
    assert extended == {"clow-comp-d001-s14-base"} and sum(s.rl.steps == 3000 for s in runs) == 2
    assert sorted(s.label for s in runs if s.rl.steps == 300) == ["activation"] * 8 + ["creation"] * 4 + ["no_signal"]


def test_composition_dynamics_is_the_longer_rl_pilot_with_checkpoints_twin_and_controls():
    from rlmeta_interp.organism import composition_presets as cp

    specs = zoo.preset_specs("composition-dynamics")
    bases = {s.name: s for s in specs if s.kind == "base"}
    runs = [s for s in specs if s.kind == "rl"]
    pilot = {s.name: s for s in zoo.preset_specs("composition-long")}
    # the dose-0 base is the longer-RL pilot's (same pretraining), the dose-0.5 base its twin at the same seed
    (creation_base,) = (b for b in bases.values() if b.dose == 0.0)
    assert creation_base.pretrain == pilot[f"clong-comp-d000-s{cp.COMP_DYNAMICS_SEED}-base"].pretrain
    assert {b.dose for b in bases.values()} == set(cp.COMP_DOSES) and {b.seed for b in bases.values()} == {4}
    pilot_run = pilot[f"clong-comp-d000-s{cp.COMP_DYNAMICS_SEED}-rl-long"]
    for r in runs:
        # the pilot's budget and world; only the checkpoints, the reward and the RL seed differ
        assert r.rl.replace(checkpoint_every=0, reward="correct", seed=0) == pilot_run.rl
        assert r.rl.checkpoint_every == cp.COMP_DYNAMICS_CHECKPOINT_EVERY and r.split == "" and r.base in bases
    assert sorted((bases[r.base].dose, r.label, r.rl.seed) for r in runs) == [
        (0.0, "creation", 0), (0.0, "creation", 1), (0.0, "no_signal", 0),
        (0.5, "activation", 0), (0.5, "activation", 1), (0.5, "no_signal", 0)]
    others = {s.name for p in zoo.PRESETS if p != "composition-dynamics" for s in zoo.preset_specs(p)}
    assert not {s.name for s in specs} & others  # built under its own names
