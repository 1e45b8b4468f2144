"""Tests of experiments.training_runs: seed groups, RL re-runs, the two-phase summary and format mixes."""

import os

import pytest
import torch

from rlmeta_interp.errors import InvalidConfigError, MissingWeightsError
from rlmeta_interp.experiments.training_runs import rerun_rl, seed_groups
from rlmeta_interp.io import sha256_file, write_json_atomic
from rlmeta_interp.organism.corpus import CorpusConfig
from rlmeta_interp.organism.pretrain import ModelConfig, PretrainConfig, pretrain
from rlmeta_interp.organism.rl import RLConfig
from rlmeta_interp.organism.worlds.arithmetic import ArithmeticConfig

ARITH = ArithmeticConfig(min_operands=2, max_operands=2, min_digits=1, max_digits=1, ops="+")


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bases") / "base"
    pretrain(PretrainConfig(corpus=CorpusConfig(world="arithmetic", dose=0.5, arithmetic=ARITH),
                            model=ModelConfig(d_model=32, n_layers=2, n_heads=2, d_mlp=64, max_len=64), steps=3,
                            batch_size=16, checkpoint_every=0), folder, progress=False)
    return folder


def _entry(root, name, *, kind, preset, base=None, variant=None, seed=0, dose=0.5, src=None, rl=None, ckpt=False):
    """A zoo folder: a copy of a real model plus a manifest, as the zoo builder writes them."""
    folder = root / name
    folder.mkdir(parents=True)
    for f in src.iterdir():
        if f.is_file():
            (folder / f.name).write_bytes(f.read_bytes())
    files = {"model.safetensors": sha256_file(folder / "model.safetensors")}
    if ckpt:
        c = folder / "checkpoints" / "step_000000" / "model.safetensors"
        c.parent.mkdir(parents=True)
        c.write_bytes((folder / "model.safetensors").read_bytes())
        files["checkpoints/step_000000/model.safetensors"] = sha256_file(c)
    cfg = {"arithmetic": ARITH.to_dict()}
    if rl is not None:
        cfg["rl"] = rl.to_dict()
    write_json_atomic(folder / "manifest.json", {"name": name, "kind": kind, "world": "arithmetic", "dose": dose,
                                                 "seed": seed, "preset": preset, "base": base, "variant": variant,
                                                 "config": cfg, "files": files})


@pytest.fixture
def zoo(tmp_path, monkeypatch, tiny_base):
    monkeypatch.setenv("RLMETA_DATA", str(tmp_path / "data"))  # no shipped zoo: only this one
    root = tmp_path / "rlmeta_home" / "zoo"
    rl = RLConfig(world="arithmetic", arithmetic=ARITH, steps=2, prompts_per_step=2, num_generations=4,
                  max_completion_length=8, n_train_problems=8, save_every=0,
                  reward="random")  # random rewards: non-zero advantages even for an untrained base
    _entry(root, "ar-base", kind="base", preset="demo", src=tiny_base)
    _entry(root, "ar-rl", kind="rl", preset="demo", base="ar-base", variant="correct", src=tiny_base, rl=rl, ckpt=True)
    _entry(root, "ar-rl-s1", kind="rl", preset="demo", base="ar-base", variant="correct", seed=1, src=tiny_base, rl=rl)
    _entry(root, "ar-rl-random", kind="rl", preset="demo", base="ar-base", variant="random", src=tiny_base, rl=rl)
    return root


def test_seed_groups(zoo):
    from rlmeta_interp import registry

    groups = seed_groups(registry.find_pairs("arithmetic"))
    assert list(groups) == ["ar-base"]
    assert [p.extra["seed"] for p in groups["ar-base"]] == [0, 1]  # the random-reward run is not a seed


def test_rerun_rl_seeds_differ_and_are_reused(zoo, tmp_path):
    from rlmeta_interp import registry
    from rlmeta_interp.models import load_hf_folder

    spec = registry.get_pair("ar-rl")
    runs = rerun_rl(spec, seeds=(0, 1), steps=3, out_dir=tmp_path / "reruns")  # > 1: RL may warm its lr up from 0
    assert sorted(runs) == [0, 1]
    w0 = load_hf_folder(runs[0])[0].state_dict()
    w1 = load_hf_folder(runs[1])[0].state_dict()
    wb = load_hf_folder(spec.base.location)[0].state_dict()
    name = "model.layers.0.mlp.up_proj.weight"
    assert not torch.equal(w0[name], wb[name]) and not torch.equal(w0[name], w1[name])
    stamp = os.stat(runs[1] / "model.safetensors").st_mtime_ns
    assert rerun_rl(spec, seeds=(1,), steps=3, out_dir=tmp_path / "reruns")[1] == runs[1]
    assert os.stat(runs[1] / "model.safetensors").st_mtime_ns == stamp  # reused, not retrained
    with pytest.raises(InvalidConfigError, match="steps"):
        rerun_rl(spec, steps=0, out_dir=tmp_path / "reruns")
    with pytest.raises(MissingWeightsError, match="manifest"):
        rerun_rl(registry.get_pair("ar-rl").replace(rl=spec.rl.replace(name="nope")), out_dir=tmp_path / "r2")


def test_two_phase_summary_rules():
    import pandas as pd

    from rlmeta_interp.experiments.training_runs import two_phase_summary

    steps = [0, 10, 20, 30, 40]
    ex = [2.0, 1.0, 0.8, 0.7, 0.7]  # falls early
    se = [1.0, 1.0, 1.1, 1.6, 2.0]  # rises late
    t = pd.DataFrame({"step": steps, "exec_entropy": ex, "exec_lo": [e - 0.1 for e in ex],
                      "exec_hi": [e + 0.1 for e in ex], "sem_rarefied": se, "sem_rar_lo": [s - 0.2 for s in se],
                      "sem_rar_hi": [s + 0.2 for s in se]})
    r = two_phase_summary(t.sample(frac=1, random_state=0))  # order of rows does not matter
    assert r["exec_falls"] and r["sem_rises"] and r["exec_half_step"] == 10 and r["sem_half_step"] == 30
    assert r["two_phase"] and r["exec_first"] == 2.0 and r["sem_last"] == 2.0
    # semantic entropy falling instead (format collapse): not the HICRA pattern
    r = two_phase_summary(t.assign(sem_rarefied=se[::-1], sem_rar_lo=[s - 0.2 for s in se[::-1]],
                                   sem_rar_hi=[s + 0.2 for s in se[::-1]]))
    assert r["exec_falls"] and not r["sem_rises"] and r["sem_half_step"] is None and not r["two_phase"]
    # overlapping intervals: no resolved change
    r = two_phase_summary(t.assign(exec_lo=0.0, exec_hi=3.0))
    assert not r["exec_falls"] and not r["two_phase"]
    assert r["measurable"]
    # no successful sample at the last checkpoint: not measurable, and no pattern
    r = two_phase_summary(t.assign(sem_rarefied=se[:-1] + [float("nan")]))
    assert not r["measurable"] and not r["two_phase"]
    with pytest.raises(InvalidConfigError, match="rarefy"):
        two_phase_summary(t.drop(columns="sem_rarefied"))
    with pytest.raises(InvalidConfigError, match="two checkpoints"):
        two_phase_summary(t.iloc[:1])


def test_pretraining_format_mix_and_final_shares(zoo):
    import pandas as pd

    from rlmeta_interp import load_model, registry
    from rlmeta_interp.experiments.training_runs import final_format_shares, pretraining_format_mix
    from rlmeta_interp.organism.corpus import make_world

    man = {"config": {"pretrain": {"corpus": {"world": "arithmetic", "dose": 0.4, "format_weights": [1.0, 3.0]}}}}
    assert pretraining_format_mix(man) == pytest.approx({"direct": 0.6, "sum": 0.1, "eq": 0.3})
    # depth-dosed corpora write every document's scratchpad, whatever the dose
    depth = {"world": "arithmetic", "dose": 0.1, "format_weights": [1.0, 3.0], "arithmetic_dose": "depth"}
    assert pretraining_format_mix({"config": {"pretrain": {"corpus": depth | {"depth_format": "mix"}}}}) == \
        pytest.approx({"sum": 0.25, "eq": 0.75})
    assert pretraining_format_mix({"config": {"pretrain": {"corpus": depth | {"depth_format": "rewrite"}}}}) == \
        {"rewrite": 1.0}
    with pytest.raises(MissingWeightsError, match="corpus"):
        pretraining_format_mix({"config": {}})
    with pytest.raises(InvalidConfigError, match="arithmetic"):
        pretraining_format_mix({"config": {"pretrain": {"corpus": {"world": "bandits", "dose": 0.5}}}})
    m = load_model("ar-base")
    world = make_world("arithmetic", arithmetic=ARITH)
    probs = world.sample(4, seed=0)
    shares, passk = final_format_shares({"a": m, "b": m}, world, probs, n=3, formats=["direct", "sum", "eq", "other"],
                                        n_boot=20)
    assert set(shares["model"]) == {"a", "b"} and "step" not in shares.columns
    a = shares[shares["model"] == "a"].set_index("format")["share"]
    b = shares[shares["model"] == "b"].set_index("format")["share"]
    pd.testing.assert_series_equal(a, b)  # same model, same seed, same samples
    assert a.sum() == pytest.approx(1.0)
    assert set(passk["model"]) == {"a", "b"} and "all" in set(passk["format"])
    assert registry.manifest_of("ar-base")["kind"] == "base"


def test_two_phase_tally_counts_the_pattern_only_on_runs_that_gained_and_could_be_measured():
    from rlmeta_interp.experiments.training_runs import two_phase_tally

    s = {"up": {"two_phase": True, "measurable": True}, "flat": {"two_phase": False, "measurable": True},
         "blind": {"two_phase": False, "measurable": False}, "stuck": {"two_phase": True, "measurable": True},
         "ctl": {"two_phase": True, "measurable": True}, "ctl2": {"two_phase": False, "measurable": False}}
    out = two_phase_tally(s, {"up": True, "flat": True, "blind": True, "stuck": False, "ctl": None, "ctl2": None})
    assert out == {"tested": ["up", "flat"], "pattern": ["up"], "unmeasurable": ["blind"], "no_gain": ["stuck"],
                   "other": ["ctl", "ctl2"], "other_pattern": ["ctl"]}
    with pytest.raises(InvalidConfigError, match=r"No gain entry for \['up'\]"):
        two_phase_tally({"up": s["up"]}, {})


def test_collapse_tally_keeps_random_reward_controls_apart():
    from rlmeta_interp.experiments.training_runs import collapse_tally

    def summary(collapse, coincide):
        return {"collapse": {"step": 30, "format": "eq", "share": 0.95} if collapse else None, "coincide": coincide}

    sums = {"c": summary(True, True), "a": summary(True, False), "n": summary(False, None), "r": summary(True, True),
            "u": summary(False, None)}
    labels = {"c": "creation", "a": "activation, no gain", "n": "creation", "r": "no_signal", "u": ""}
    t = collapse_tally(sums, labels)
    assert t["rewarded"] == ["c", "a", "n", "u"] and t["controls"] == ["r"]
    assert t["collapsed"] == ["c", "a"] and t["coincide"] == ["c"] and t["controls_collapsed"] == ["r"]
    with pytest.raises(InvalidConfigError, match="No label"):
        collapse_tally(sums, {"c": "creation"})


def test_final_models_to_compare_are_the_variants_at_a_dose_or_the_named_pairs(zoo):
    from rlmeta_interp import registry
    from rlmeta_interp.experiments.training_runs import final_models_to_compare
    from rlmeta_interp.organism.corpus import make_world

    specs = registry.find_pairs("arithmetic")
    beta = RLConfig(world="arithmetic").beta
    # the zoo's variants at a dose: each labelled with its KL coefficient beside the base; those it lacks are named
    models, world, missing = final_models_to_compare(specs, {}, {}, named=False, world="arithmetic", preset="demo",
                                                     variants=["kl0", "correct", "random"], dose=0.5, seed=0)
    assert list(models) == ["base", f"RL correct (beta {beta:g})", f"RL random (beta {beta:g})"]
    assert missing == ["kl0"] and world.config == make_world("arithmetic", arithmetic=ARITH).config
    assert models["base"].name == "ar-base" and models[f"RL random (beta {beta:g})"].name == "ar-rl-random"
    # a dose without any of them: the last of the given pairs, all variants asked for missing
    models, _, missing = final_models_to_compare(specs[-1:], {}, {}, named=False, world="arithmetic", preset="demo",
                                                 variants=["kl0"], dose=0.1, seed=0)
    assert len(models) == 2 and models["base"].name == "ar-base" and missing == ["kl0"]
    # named pairs: each RL model with its case beside its base (loaded once), read on the first pair's world
    worlds = {s.name: make_world("arithmetic", arithmetic=ARITH) for s in specs}
    cases = {specs[0].name: "creation"}
    models, world, missing = final_models_to_compare(specs, worlds, cases, named=True, world="arithmetic",
                                                     preset=None, variants=["kl0"], dose=0.5, seed=0)
    assert list(models)[:2] == ["ar-base", f"{specs[0].rl.name} (creation)"] and missing == []
    assert len(models) == 1 + len(specs) and all(k.endswith("(no label)") for k in list(models)[2:])
    assert world is worlds[specs[0].name]
    other = {**worlds, specs[-1].name: make_world("arithmetic", arithmetic=ARITH.replace(max_operands=3))}
    with pytest.raises(InvalidConfigError, match="one set of problems"):
        final_models_to_compare(specs, other, cases, named=True, world="arithmetic", preset=None, variants=[],
                                dose=0.5, seed=0)
