"""Tests of experiments.bandits: the smoke pair, pair loading, grouping by base and the verdicts in words."""

import os

import numpy as np
import pytest
import torch

from rlmeta_interp.analysis.belief_probes import RidgeProbeConfig
from rlmeta_interp.analysis.incontext import (
    belief_episodes,
)
from rlmeta_interp.errors import EmptyInputError, InvalidConfigError
from rlmeta_interp.experiments.bandits import smoke_bandit_pair


@pytest.fixture(scope="module")
def pair(smoke_bandits):
    return smoke_bandits


def test_smoke_pair_is_reused_and_carries_its_world(pair):
    p, world, root = pair
    assert world.name == "bandits" and world.config.horizon == 6
    assert p.base.manifest["dose"] == 0.5 and p.rl.manifest["kind"] == "rl"
    stamp = os.stat(p.rl.folder / "model.safetensors").st_mtime_ns
    again = smoke_bandit_pair(root, horizon=6, pretrain_steps=20, rl_steps=2)
    assert again == (p.base.folder, p.rl.folder)
    assert os.stat(p.rl.folder / "model.safetensors").st_mtime_ns == stamp  # not retrained
    # RL changed the weights
    assert not torch.equal(p.base.hf.model.layers[0].mlp.up_proj.weight, p.rl.hf.model.layers[0].mlp.up_proj.weight)


def test_best_layers_and_smoke_fallback(pair, tmp_path, monkeypatch):
    import pandas as pd

    from rlmeta_interp.analysis.incontext import best_layers
    from rlmeta_interp.errors import MissingWeightsError
    from rlmeta_interp.experiments.bandits import load_bandit_pairs

    probes = pd.DataFrame({
        "model": ["base", "base", "random_init", "random_init", "token_counts"],
        "layer": [0, 1, 0, 1, -1], "r2": [0.6, 0.5, 0.5, 0.1, 0.2], "ci_lo": [0.55, 0.4, 0.45, 0.05, 0.1],
        "ci_hi": [0.65, 0.6, 0.55, 0.15, 0.3], "r2_minus_random_init": [0.1, 0.4, 0.0, 0.0, float("nan")]})
    b = best_layers(probes).set_index("model")
    assert b.loc["base", "layer"] == 1 and b.loc["base", "gain"] == pytest.approx(0.4)  # not the highest raw R^2
    assert b.loc["base", "r2_random_init"] == 0.1 and b.loc["base", "r2_counts"] == 0.2
    assert b.loc["random_init", "layer"] == 0
    with pytest.raises(InvalidConfigError):
        best_layers(probes.drop(columns="r2"))
    # an empty zoo: smoke runs get the stand-in, others an error naming the build command
    monkeypatch.setenv("RLMETA_DATA", str(tmp_path / "nodata"))
    with pytest.raises(MissingWeightsError, match="zoo build --preset paper"):
        load_bandit_pairs()
    pairs, source = load_bandit_pairs(smoke=True, smoke_dir=tmp_path / "smoke")
    assert len(pairs) == 1 and "stand-in" in source
    assert (pairs[0].dose, pairs[0].variant, pairs[0].label, pairs[0].base_label) == (0.5, "correct", "d0.5", "base d0.5")


def _copy_into_zoo(zoo, name, src, rewards=None, **fields):
    import json
    import shutil

    shutil.copytree(src, zoo / name)
    man = json.loads((zoo / name / "manifest.json").read_text())
    man.update({"name": name, "preset": "paper", **fields})
    if rewards is not None:  # how the base's pretraining histories showed their rewards ("true" / "shuffled")
        man.setdefault("config", {}).setdefault("pretrain", {}).setdefault("corpus", {})["bandit_rewards"] = rewards
    (zoo / name / "manifest.json").write_text(json.dumps(man))


def test_load_bandit_pairs_across_doses_and_variants(pair, tmp_path, monkeypatch):
    from rlmeta_interp.experiments.bandits import load_bandit_pairs

    p, _, _ = pair
    zoo = tmp_path / "data" / "zoo"
    for d in (0.0, 0.5):
        _copy_into_zoo(zoo, f"paper-bandit-d{round(d * 100):03d}-base", p.base.folder, dose=d)
    rl = {"paper-bandit-d050-rl-correct": (0.5, "correct"), "paper-bandit-d000-rl-long": (0.0, "long"),
          "paper-bandit-d000-rl-correct": (0.0, "correct")}
    for name, (d, v) in rl.items():
        _copy_into_zoo(zoo, name, p.rl.folder, dose=d, variant=v, seed=0, base=f"paper-bandit-d{round(d * 100):03d}-base")
    monkeypatch.setenv("RLMETA_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("RLMETA_HOME", str(tmp_path / "home"))
    pairs, source = load_bandit_pairs(variant=["correct", "long"])
    assert source == "preset paper"
    assert [(b.dose, b.variant, b.label, b.base_label, b.rl_label) for b in pairs] == [
        (0.0, "correct", "d0", "base d0", "RL d0"), (0.0, "long", "d0 long", "base d0", "RL d0 long"),
        (0.5, "correct", "d0.5", "base d0.5", "RL d0.5")]
    assert [b.pair.rl.name for b in pairs] == ["paper-bandit-d000-rl-correct", "paper-bandit-d000-rl-long",
                                               "paper-bandit-d050-rl-correct"]
    assert pairs[0].pair.base is pairs[1].pair.base  # the shared base is loaded once
    # variant order decides the order within a dose; a variant that exists at one dose only is not an error
    assert [b.label for b in load_bandit_pairs(variant=["long", "correct"])[0]] == ["d0 long", "d0", "d0.5"]
    assert [b.label for b in load_bandit_pairs(variant="long")[0]] == ["d0 long"]
    # a variant no preset defines (a misspelling) is named, not dropped under require="any"
    with pytest.raises(InvalidConfigError, match="variant 'nope': check the spelling"):
        load_bandit_pairs(variant=["correct", "nope"])
    with pytest.raises(InvalidConfigError, match="variant"):
        load_bandit_pairs(variant=[])


def test_load_bandit_pairs_keys_shuffled_bases_apart_and_chooses_a_pretraining_seed(pair, tmp_path, monkeypatch,
                                                                                      caplog):
    """Validation-like pairs: real-reward and shuffled-reward bases at one dose are two pairs, never one standing in
    for the other; pretrain_seed picks among seeds; the label fixed before RL is carried into the display label."""
    from rlmeta_interp.errors import MissingWeightsError
    from rlmeta_interp.experiments.bandits import load_bandit_pairs

    p, _, _ = pair
    zoo = tmp_path / "data" / "zoo"
    for seed in (8, 9):
        for tag, rewards, label in (("", "true", "activation"), ("shuf-", "shuffled", "creation")):
            base = f"val-bandit-{tag}d100-s{seed}-base"
            _copy_into_zoo(zoo, base, p.base.folder, rewards=rewards, dose=1.0, seed=seed, preset="validation")
            _copy_into_zoo(zoo, f"val-bandit-{tag}d100-s{seed}-rl-long", p.rl.folder, dose=1.0, variant="long", seed=0,
                           base=base, preset="validation", label=label, split="test", recipe="bandit-dose")
    monkeypatch.setenv("RLMETA_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("RLMETA_HOME", str(tmp_path / "home"))
    pairs, source = load_bandit_pairs(preset="validation", variant="long", pretrain_seed=9)
    assert source == "preset validation, pretraining seed 9"  # every figure title names the seed
    assert [(b.label, b.base_label, b.design, b.shuffled, b.reward_blind, b.pair.rl.name) for b in pairs] == [
        ("d1 long (activation)", "base d1", "activation", False, False, "val-bandit-d100-s9-rl-long"),
        ("d1 shuffled long (creation)", "base d1 shuffled", "creation", True, True,
         "val-bandit-shuf-d100-s9-rl-long")]
    # without a pretraining seed: one pair per (dose, variant, rewards), the others named in a warning
    with caplog.at_level("WARNING"):
        pairs, _ = load_bandit_pairs(preset="validation", variant="long")
    assert [b.label for b in pairs] == ["d1 long (activation)", "d1 shuffled long (creation)"]
    assert [b.pair.base.name for b in pairs] == ["val-bandit-d100-s8-base", "val-bandit-shuf-d100-s8-base"]
    assert "(shuffled rewards)" in caplog.text and "pass pretrain_seed" in caplog.text
    # a variant the zoo holds at another pretraining seed only is an error at this one, not a silent omission
    _copy_into_zoo(zoo, "val-bandit-d100-s8-rl-long-random", p.rl.folder, dose=1.0, variant="long-random", seed=0,
                   base="val-bandit-d100-s8-base", preset="validation", label="no_signal", split="test")
    assert len(load_bandit_pairs(preset="validation", variant=["long", "long-random"], pretrain_seed=8)[0]) == 3
    with pytest.raises(MissingWeightsError, match=r"pretraining seed 9 for \['d1 long-random'\].*preset 'validation'"
                                                  r" defines no pair \['d1 long-random'\] from a base of that seed"):
        load_bandit_pairs(preset="validation", variant=["long", "long-random"], pretrain_seed=9)
    # a pair missing at the seed although its variant is there (through another pair) is an error as well
    _copy_into_zoo(zoo, "val-bandit-d050-s8-base", p.base.folder, rewards="true", dose=0.5, seed=8, preset="validation")
    _copy_into_zoo(zoo, "val-bandit-d050-s8-rl-long", p.rl.folder, dose=0.5, variant="long", seed=0,
                   base="val-bandit-d050-s8-base", preset="validation", label="activation", split="test")
    # the error names the models of the preset that hold the pair at that seed, not a placeholder
    with pytest.raises(MissingWeightsError, match=r"pretraining seed 9 for \['d0.5 long'\] .*: build them with"
                                                  r" `rlmeta-interp zoo build --preset validation --only"
                                                  r" val-bandit-d050-s9-base val-bandit-d050-s9-rl-long`"):
        load_bandit_pairs(preset="validation", variant="long", pretrain_seed=9)
    # smoke runs fall back to any seed, and say so
    pairs, source = load_bandit_pairs(preset="validation", variant="long", pretrain_seed=7, smoke=True)
    assert pairs and "no pair of pretraining seed 7" in source
    with pytest.raises(MissingWeightsError, match="pretraining seed 7.*zoo build --preset validation"):
        load_bandit_pairs(preset="validation", variant="long", pretrain_seed=7)


def test_bandit_models_and_probes_evaluate_a_shared_base_once(pair):
    from rlmeta_interp.experiments.bandits import BanditPair, bandit_models, belief_probes_by_base

    p, world, _ = pair
    pairs = [BanditPair(0.0, "correct", "d0", p, "base d0"), BanditPair(0.0, "long", "d0 long", p, "base d0")]
    models = bandit_models(pairs)
    assert list(models) == ["base d0", "RL d0", "RL d0 long"] and models["base d0"] is p.base
    with pytest.raises(InvalidConfigError, match="labelled 'd0'"):
        bandit_models([pairs[0], pairs[0]])
    with pytest.raises(EmptyInputError):
        bandit_models([])
    texts, y = belief_episodes(world, 12, seed=3)
    cfg = RidgeProbeConfig(n_boot=20, n_shuffles=1, n_folds=3)
    probes, best = belief_probes_by_base(pairs, texts, y, config=cfg)
    assert set(probes["model"]) == {"base d0", "RL d0", "RL d0 long", "random_init", "token_counts"}
    assert (probes["model"] == "base d0").sum() == 2  # one row per layer: the base is probed once
    assert set(probes["base"]) == {"base d0"} and set(best["dose"]) == {0.0}
    assert list(best["model"]) == ["base d0", "RL d0", "RL d0 long", "random_init"]
    b = best.set_index("model")
    assert b.loc["RL d0", "r2"] == pytest.approx(b.loc["RL d0 long", "r2"])  # the same RL model twice


def _synthetic_regret(base_d0_learns=False):
    """Choices of reward-blind policies (uniform random) and of a learner (explores a quarter, then exploits)."""
    from rlmeta_interp.analysis.icrl import reference_choices
    from rlmeta_interp.analysis.incontext import MODES, regret_from_choices

    n, T, K = 300, 20, 3
    means = np.random.default_rng(0).uniform(size=(n, K))

    def blind(s):
        return np.random.default_rng(s).integers(0, K, size=(n, T))

    learner = blind(9)
    learner[:, T // 4:] = means.argmax(1)[:, None]
    fading = blind(8)  # knows the best arm early, then forgets it: beats random while regret per trial rises
    fading[:, : T // 4] = means.argmax(1)[:, None]
    slow = blind(6)  # plays the worst arm early, then at random: adapts within the episode without beating random
    slow[:, : T // 4] = means.argmin(1)[:, None]
    runs = {("thompson", "reference"): reference_choices(means, T, "thompson", seed=0),
            ("random", "reference"): reference_choices(means, T, "random", seed=1)}
    for m in MODES:
        runs.update({("base d0", m): learner if base_d0_learns else blind(2), ("RL d0", m): blind(3),
                     ("RL d0 long", m): learner, ("base d0.5", m): learner, ("RL d0.5", m): learner,
                     ("RL d0 fading", m): fading, ("base d1 shuffled", m): blind(4),
                     ("RL d1 shuffled long (creation)", m): learner, ("RL d1 shuffled long", m): learner,
                     ("RL d0 half", m): learner,
                     ("base half", m): learner if m == "greedy" else blind(5), ("base slow", m): slow,
                     ("RL d0 slow", m): learner})
    return regret_from_choices(runs, means, n_boot=200), runs, means


def test_verdicts_and_creation_findings(pair):
    import pandas as pd

    from rlmeta_interp.analysis.icrl import per_trial_regret
    from rlmeta_interp.analysis.incontext import RegretResult, regret_difference, regret_from_choices
    from rlmeta_interp.experiments.bandits import BanditPair, creation_findings, verdicts

    p, _, _ = pair
    reg, runs, means = _synthetic_regret()
    best = pd.DataFrame([{"model": m, "layer": 1, "r2": r, "ci_lo": r - 0.05, "ci_hi": r + 0.05, "r2_random_init": 0.2,
                          "random_lo": 0.15, "random_hi": 0.25, "r2_counts": 0.1}
                         for m, r in [("base d0", 0.6), ("RL d0", 0.6), ("RL d0 long", 0.6), ("RL d0 fading", 0.6),
                                      ("random_init", 0.2),
                                      ("base d0.5", 0.2), ("RL d0.5", 0.7), ("random_init", 0.2),
                                      ("base d1 shuffled", 0.2), ("RL d1 shuffled long (creation)", 0.2),
                                      ("RL d1 shuffled long", 0.2),
                                      ("base half", 0.2), ("RL d0 half", 0.2), ("base slow", 0.2),
                                      ("RL d0 slow", 0.2)]])
    pairs = [BanditPair(0.0, "correct", "d0", p, "base d0"), BanditPair(0.0, "long", "d0 long", p, "base d0"),
             BanditPair(0.5, "correct", "d0.5", p, "base d0.5")]
    v = verdicts(reg, best, pairs, n_boot=200).set_index("pair")
    assert list(v.index) == ["d0", "d0 long", "d0.5"]
    # the paired RL-minus-base difference, recomputed from the choices
    fin = {k: per_trial_regret(c, means, invalid="worst").sum(1) for k, c in runs.items()}
    diff = (fin[("RL d0 long", "greedy")] - fin[("base d0", "greedy")]).mean()
    assert diff < 0 and v.loc["d0 long", "rl_minus_base_greedy"] == pytest.approx(diff)
    assert regret_difference(reg, ("RL d0 long", "greedy"), ("base d0", "greedy"))["diff"] == pytest.approx(diff)
    # dose 0, prolonged RL: beats uniform random and its reward-blind base -> creation
    long = v.loc["d0 long"]
    assert long["creation"] and long["beats_random_rl_sampled"] and not long["beats_random_base_sampled"]
    assert long["rl_beats_base_sampled"] and long["adapts_rl_greedy"] and "appears after RL" in long["behaviour"]
    assert "a regret gain below uniform random is creation when the base itself does neither" in long["expected"]
    assert "RL created it" in long["expected"]
    assert long["probes"].startswith("activation")
    # dose 0, RL that stayed reward-blind: nothing created
    assert not v.loc["d0", "creation"] and "nothing was created" in v.loc["d0", "expected"]
    assert "adaptation is not reproduced" in v.loc["d0", "behaviour"]
    # dose > 0: activation expected; the base already adapts; RL identical to its base does not beat it
    d05 = v.loc["d0.5"]
    assert not d05["creation"] and "activation is expected" in d05["expected"] and "pre-existed" in d05["behaviour"]
    assert not d05["rl_beats_base_sampled"] and d05["probes"].startswith("creation-like")  # base 0.2 < random 0.25
    # plain sentences on the dose-0 pairs: each RL model, then the shared base once
    lines = creation_findings(reg, best, v.reset_index(), pairs, n_boot=200)
    assert len(lines) == 3
    assert lines[0].startswith("RL d0 (") and "**no, RL did not create" in lines[0]
    assert lines[1].startswith("RL d0 long (") and "**yes, RL created in-context adaptation**" in lines[1]
    assert "more regret than Thompson sampling" in lines[1] and "paired" in lines[1] and "(above 0)" in lines[1]
    assert lines[2].startswith("base d0:") and "already encodes beliefs" in lines[2]
    assert "neither beats uniform random nor adapts" in lines[2] and "reward prediction" not in lines[2]
    rp = pd.DataFrame([{"model": "base d0", "corr": 0.9, "ci_lo": 0.85, "ci_hi": 0.95},
                       {"model": "random init", "corr": 0.5, "ci_lo": 0.4, "ci_hi": 0.6}])
    with_rp = creation_findings(reg, best, v.reset_index(), pairs, reward_pred=rp, n_boot=200)
    assert with_rp[:2] == lines[:2] and "tracks the Bayes posterior beyond a random init model's" in with_rp[2]
    assert creation_findings(reg, best, v.reset_index(), pairs[2:]) == []
    # beating uniform random and the base is creation even when regret per trial rises; the sentence says so
    fading = [BanditPair(0.0, "fading", "d0 fading", p, "base d0")]
    vf = verdicts(reg, best, fading, n_boot=200)
    assert vf["creation"].iloc[0] and not vf["adapts_rl_sampled"].iloc[0]
    line = creation_findings(reg, best, vf, fading, n_boot=200)[0]
    assert "**yes, RL created reward-dependent play" in line and "rises within the episode" in line
    assert "(below 0)" in line
    # a dose-0 base that beats uniform random is not reward-blind: the test does not isolate creation
    reg2, _, _ = _synthetic_regret(base_d0_learns=True)
    v2 = verdicts(reg2, best, pairs[1:2], n_boot=200).iloc[0]
    assert not v2["creation"] and "does not isolate creation" in v2["expected"]
    # typed errors
    # a shuffled-reward base is reward-blind too, so the creation test applies at dose > 0; the label fixed before RL
    # comes first, with the operational reading beside it
    name = "d1 shuffled long (creation)"  # as load_bandit_pairs labels it
    shuf = [BanditPair(1.0, "long", name, p, "base d1 shuffled", design="creation", shuffled=True),
            BanditPair(1.0, "correct", "d0.5", p, "base d0.5", design="activation")]
    vs = verdicts(reg, best, shuf, n_boot=200).set_index("pair")
    assert vs.loc[name, "creation"] and vs.loc[name, "design"] == "creation"
    assert vs.loc[name, "expected"].startswith("label fixed before RL: creation. Operational reading: shuffled")
    assert "RL created it" in vs.loc[name, "expected"]
    assert not vs.loc["d0.5", "creation"] and "activation is expected" in vs.loc["d0.5", "expected"]
    found = creation_findings(reg, best, vs.reset_index(), shuf, n_boot=200)
    assert len(found) == 2  # the pair, then its base
    # the label already names the design, so the sentence does not repeat it
    assert found[0].startswith(f"RL {name} (dose 1, shuffled rewards, RL variant long): **yes, RL created")
    bare = [BanditPair(1.0, "long", "d1 shuffled long", p, "base d1 shuffled", design="creation", shuffled=True)]
    line = creation_findings(reg, best, verdicts(reg, best, bare, n_boot=200), bare, n_boot=200)[0]
    assert line.startswith("RL d1 shuffled long (dose 1, shuffled rewards, RL variant long, label fixed before RL:"
                           " creation): **yes")
    # a base that beats uniform random (and adapts) in one decoding mode is not reward-blind in any: RL's gain in the
    # other mode is not declared creation, and the reading says why
    half = [BanditPair(0.0, "long", "d0 half", p, "base half")]
    vh = verdicts(reg, best, half, n_boot=200).iloc[0]
    assert vh["rl_beats_base_sampled"] and vh["beats_random_rl_sampled"]
    assert vh["beats_random_base_greedy"] and not vh["beats_random_base_sampled"]
    assert not vh["creation"] and "the base itself beats uniform random in greedy decoding" in vh["expected"]
    assert "does not isolate creation" in vh["expected"] and "RL created it" not in vh["expected"]
    # the base's adaptation in one mode means in-context learning pre-existed RL, whatever RL adds in the other
    assert vh["adapts_base_greedy"] and not vh["adapts_base_sampled"] and vh["adapts_rl_sampled"]
    assert vh["behaviour"].startswith("the base already adapts (greedy decoding): in-context learning pre-existed RL;"
                                      " RL adds adaptation in sampled decoding")
    line = creation_findings(reg, best, verdicts(reg, best, half, n_boot=200), half, n_boot=200)[0]
    assert "**not established: RL beats uniform random and its base, but the base itself" in line
    assert "**no, RL did not create" not in line
    # adapting within the episode voids it too, even when the base does not beat uniform random
    slow = [BanditPair(0.0, "long", "d0 slow", p, "base slow")]
    vw = verdicts(reg, best, slow, n_boot=200).iloc[0]
    assert vw["adapts_base_sampled"] and not vw["beats_random_base_sampled"] and not vw["beats_random_base_greedy"]
    assert not vw["creation"] and "the base itself adapts within the episode in sampled, greedy decoding" in vw["expected"]
    lines = creation_findings(reg, best, verdicts(reg, best, slow, n_boot=200), slow, n_boot=200)
    assert "**not established" in lines[0]
    assert lines[1].startswith("base slow: its policy adapts within the episode in sampled, greedy decoding, so it"
                               " does not ignore rewards after all")
    with pytest.raises(InvalidConfigError, match="best-layer"):
        verdicts(reg, best[best["model"] != "RL d0"], pairs, n_boot=50)
    with pytest.raises(InvalidConfigError, match="finals"):
        regret_difference(RegretResult(reg.curves, reg.table, reg.adaptation), ("RL d0", "sampled"), ("base d0", "sampled"))
    with pytest.raises(InvalidConfigError, match="No policy"):
        regret_difference(reg, ("RL d9", "sampled"), ("base d0", "sampled"))
    with pytest.raises(InvalidConfigError, match="reference"):
        regret_from_choices({("RL d0", "sampled"): runs[("RL d0", "sampled")]}, means)
