"""The presets: what each builds, with the recipes and budgets behind them."""

from __future__ import annotations

from rlmeta_interp.organism import presets


def test_depth_dynamics_runs_are_the_validation_recipe_with_checkpoints_under_other_names():
    specs = presets.preset_specs("depth-dynamics")
    validation = {s.name: s for s in presets.preset_specs("validation")}
    bases = [s for s in specs if s.kind == "base"]
    runs = [s for s in specs if s.kind == "rl"]
    # the validation preset's own seed-0 depth bases, spec for spec
    assert [b.name for b in bases] == [presets.depth_base(d, "val", 0).name for d in presets.DEPTH_DOSES]
    assert all(validation[b.name] == b for b in bases)
    assert len(runs) == 2 * len(presets.DEPTH_DOSES) * len(presets.DYNAMICS_RL_SEEDS)
    for r in runs:
        # never a validation model's name, never a validation pair (no split)
        assert r.name not in validation and r.name.removesuffix(f"-s{r.rl.seed}").endswith("-ckpt") and r.split == ""
        assert r.rl.checkpoint_every == presets.DYNAMICS_CHECKPOINT_EVERY and r.recipe == "depth-edge"
        edge = validation[r.base.removesuffix("-base") + "-rl-edge"]
        # the validation run's budget and world: only the checkpoints, the reward and the RL seed may differ
        assert r.rl.replace(checkpoint_every=0, reward=edge.rl.reward, seed=0) == edge.rl
        assert r.label == ("no_signal" if r.rl.reward == "random" else edge.label) and edge.label
    assert {(r.base, r.rl.reward, r.rl.seed) for r in runs} == {
        (b.name, w, s) for b in bases for w in (presets.DEPTH_REWARD, "random") for s in presets.DYNAMICS_RL_SEEDS}


def test_format_dynamics_is_the_depth_recipe_with_two_scratchpad_formats():
    from rlmeta_interp.organism.corpus import Corpus
    from rlmeta_interp.organism.worlds.arithmetic import format_of

    specs = presets.preset_specs("format-dynamics")
    bases = {s.name: s for s in specs if s.kind == "base"}
    runs = [s for s in specs if s.kind == "rl"]
    validation = {s.name: s for s in presets.preset_specs("validation")}
    for b in bases.values():
        twin = validation[presets.depth_base(b.dose, "val", 0).name]
        # the validation base's corpus, model and budget, but for the scratchpad format
        assert b.pretrain.corpus.depth_format == "mix" and b.name not in validation
        assert b.pretrain.replace(corpus=b.pretrain.corpus.replace(depth_format="rewrite")) == twin.pretrain
        fmts = {format_of(d.completion) for d in Corpus(b.pretrain.corpus).batch(0, 400)}
        assert fmts == {"sum", "eq"}  # both formats are in the documents, and only they
    assert {(r.base, r.rl.reward, r.rl.seed) for r in runs} == {
        (b, w, s) for b in bases for w, s in [(presets.DEPTH_REWARD, 0), (presets.DEPTH_REWARD, 1), ("random", 0)]}
    for r in runs:
        assert r.split == "" and r.recipe == "depth-format" and r.rl.checkpoint_every == presets.DYNAMICS_CHECKPOINT_EVERY
        assert (r.rl.arithmetic.min_operands, r.rl.arithmetic.max_operands) == (2, 5) and r.rl.arithmetic.leak_free
        assert r.label == ("no_signal" if r.rl.reward == "random" else "creation" if r.dose == 0 else "activation")
    assert "format-dynamics" in presets.DYNAMICS_PRESETS


def test_earlier_runs_pair_each_checkpointed_run_with_the_run_it_repeats():
    earlier = presets.earlier_runs()
    # the process-reward runs of RL seed 0 repeat the validation runs; the pilot's runs are repeated under cdyn names
    assert earlier["val-arith-depth-d010-rl-edge-ckpt"] == "val-arith-depth-d010-rl-edge"
    assert earlier["cdyn-comp-d000-s4-rl-long-ckpt-s1"] == "clong-comp-d000-s4-rl-long-s1"
    # no earlier run has the random reward or RL seed 1 of the depth recipe, or the dose-0.5 composition base's budget
    for alone in ("val-arith-depth-d010-rl-edge-random-ckpt", "val-arith-depth-d010-rl-edge-ckpt-s1",
                  "cdyn-comp-d050-s4-rl-long-ckpt"):
        assert alone not in earlier
    specs = {s.name: s for p in presets.DYNAMICS_PRESETS for s in presets.preset_specs(p)}
    others = {s.name: s for p in ("validation", "composition-long") for s in presets.preset_specs(p)}
    for run, before in earlier.items():
        assert specs[run].rl.replace(checkpoint_every=0) == others[before].rl and specs[run].rl.checkpoint_every
        assert specs[specs[run].base].pretrain == others[others[before].base].pretrain


def test_earlier_runs_refuse_a_run_that_repeats_two(monkeypatch):
    import dataclasses

    import pytest

    from rlmeta_interp.errors import InvalidConfigError

    # a second preset holding the longer-RL pilot's specs under other names: the repeated run is ambiguous
    renamed = [dataclasses.replace(s, name="dup-" + s.name, base=s.base and "dup-" + s.base)
               for s in presets.preset_specs("composition-long")]
    monkeypatch.setitem(presets.PRESETS, "dup", lambda: renamed)
    with pytest.raises(InvalidConfigError, match=r"cdyn-comp-d000-s4-rl-long-ckpt repeats each of"):
        presets.earlier_runs()


def test_of_preset_reads_a_part_preset_through_the_fuller_one():
    assert presets.of_preset("validation", "anything", "validation")
    assert presets.of_preset("validation-core", "val-bandit-d000-rl-long", "validation")
    assert not presets.of_preset("validation-core", "val-bandit-d000-s4-rl-long", "validation")  # a later test seed
    assert not presets.of_preset("validation-core", "val-bandit-d000-rl-long", "paper")
    assert not presets.of_preset("demo", "val-arith-depth-d000-sft-deep", "validation")  # demo is no PART_OF preset
