"""Tests of experiments.diffing on tiny real pairs: an RL twin identical to the base is the exact reference
(every cosine 1, no disagreement to steer, FVU ratio 1), and a perturbed twin checks that differences show."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from rlmeta_interp import load_pair
from rlmeta_interp.analysis import contrast as con
from rlmeta_interp.analysis.directions import DirectionConfig
from rlmeta_interp.errors import InvalidConfigError
from rlmeta_interp.experiments import diffing as df_
from rlmeta_interp.organism.worlds.arithmetic import ArithmeticConfig, ArithmeticWorld

from ..conftest import save_tiny

WORLD = ArithmeticWorld(ArithmeticConfig(min_operands=2, max_operands=2, max_digits=1))



@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("diff")
    base = save_tiny(root / "toy_base", "llama", seed=5)
    # the "RL" model: the base weights plus small noise (same tokenizer, same architecture)
    from transformers import AutoModelForCausalLM

    m = AutoModelForCausalLM.from_pretrained(base)
    g = torch.Generator().manual_seed(9)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    rl = root / "toy_rl"
    m.save_pretrained(rl)
    from transformers import AutoTokenizer

    AutoTokenizer.from_pretrained(base).save_pretrained(rl)
    return base, rl


@pytest.fixture(scope="module")
def same(folders):
    return load_pair((folders[0], folders[0]))


@pytest.fixture(scope="module")
def differ(folders):
    return load_pair(folders)


CFG = DirectionConfig(n_shuffles=5, n_boot=20)


def test_direction_report_on_identical_models_gives_cosine_one(same):
    c = con.contrast_set(WORLD, 6, seed=1)
    rep = df_.direction_report(same, c, config=CFG)
    assert rep.cosines["layer"].tolist() == [0, 1]
    np.testing.assert_allclose(rep.cosines["cosine"], 1.0, atol=1e-6)
    t = rep.transfer.set_index(["layer", "source", "target"])["accuracy"]
    for layer in (0, 1):
        for src in ("base", "rl"):
            assert t[(layer, src, "base")] == t[(layer, src, "rl")]  # same activations, same predictions


def test_direction_report_on_a_perturbed_twin_is_below_one(differ):
    c = con.contrast_set(WORLD, 6, seed=1)
    rep = df_.direction_report(differ, c, layers=[1], config=CFG)
    assert rep.cosines["layer"].tolist() == [1] and rep.cosines["cosine"].iloc[0] < 0.999999
    assert {"null_indep_hi", "null_shared_hi", "p_indep", "p_shared"} <= set(rep.cosines.columns)


def test_steering_recovery_report_chooses_on_dev_and_reports_each_condition_once(same):
    c = con.contrast_set(WORLD, 4, seed=2)
    rep = df_.direction_report(same, c, config=CFG)
    probs = WORLD.sample(4, seed=3)
    cfg = df_.RecoveryConfig(multipliers=(1.0, 8.0), n_random=1, n_boot=20)
    rec = df_.steering_recovery_report(same, WORLD, rep, 1, probs, cfg)
    conds = rec.test["condition"].tolist()
    assert sorted(conds) == sorted(["unsteered_base", "rl_model", "own", "random:own", "from_rl", "random:from_rl", "bias"])
    assert set(rec.chosen) == {"own", "from_rl", "bias"} and set(rec.chosen.values()) <= {1.0, 8.0}
    t = rec.test.set_index("condition")
    # identical models: the own and the RL direction are the same vector, so they score the same
    assert rec.chosen["own"] == rec.chosen["from_rl"]
    assert t.loc["own", "accuracy"] == t.loc["from_rl", "accuracy"]
    assert t.loc["own", "chosen_on_dev"] == rec.chosen["own"]
    assert len(rec.dev) == 2 + 3 * 2  # unsteered, RL, and three vectors at two multipliers
    with pytest.raises(InvalidConfigError):
        df_.steering_recovery_report(same, WORLD, rep, 1, probs[:3], cfg)


def test_steering_recovery_report_generates_the_tokens_it_is_given():
    """A shipped depth pair's tuned model solves held-out 5-operand chains with its world's token budget and none in
    three tokens, which end inside its chain before any answer."""
    from rlmeta_interp import load_pair
    from rlmeta_interp.experiments.pair_steering import direction_task

    pair = load_pair("val-arith-depth-d010-sft-deep")
    task = direction_task(pair, operands=5, n_contrast=4, n_problems=8, problem_seed=3)
    rep = df_.direction_report(pair, task.contrast, layers=[1], config=CFG)
    cfg = df_.RecoveryConfig(multipliers=(1.0,), n_random=0, n_boot=20)
    full = df_.steering_recovery_report(pair, task.world, rep, 1, task.problems, cfg).test.set_index("condition")
    short = df_.steering_recovery_report(pair, task.world, rep, 1, task.problems, cfg, new_tokens=3).test.set_index(
        "condition")
    assert full.loc["rl_model", "accuracy"] > 0 and short["accuracy"].max() == 0


def test_completion_token_acts_stack_exactly_the_completion_tokens(differ):
    prompts, comps = ["1+2=", "3+4="], ["A:3", "3+4=7;A:7"]
    x = df_.completion_token_acts(differ.base, prompts, comps, 1)
    assert x.shape == (len(comps[0]) + len(comps[1]), differ.base.d_model)
    _, cache = differ.base.tl.run_with_cache(differ.base.tl.to_tokens(prompts[1] + comps[1]))
    torch.testing.assert_close(x[len(comps[0]):], cache["blocks.1.hook_resid_post"][0, 1 + len(prompts[1]):],
                               atol=1e-5, rtol=1e-4)


def test_hybrid_report_on_identical_models_never_steers(same):
    probs = WORLD.sample(2, seed=7)
    fit = WORLD.sample(6, seed=8)
    rep = df_.hybrid_report(same, WORLD, fit, probs, df_.HybridReportConfig(
        layer=1, n_categories=2, category_method="kmeans", n_random=1, n_boot=20))
    assert set(rep.table["condition"]) == {"base", "rl", "hybrid", "random_firing", "random_vectors", "bias_only"}
    hybrid = rep.table.set_index("condition").loc["hybrid"]
    assert hybrid["frac_steered"] == 0.0  # base and RL never disagree
    assert rep.runs["hybrid"].completions == rep.runs["base"].completions
    assert rep.category_share["share"].sum() == pytest.approx(1.0)
    s = df_.summarize_conditions(rep.table)
    assert s.set_index("condition").loc["random_vectors", "n_seeds"] == 1
    with pytest.raises(InvalidConfigError):
        df_.HybridReportConfig(category_method="pca")
    with pytest.raises(InvalidConfigError):
        df_.HybridReportConfig(multipliers=())
    with pytest.raises(InvalidConfigError, match="category_samples"):
        df_.HybridReportConfig(category_samples=-1)
    assert rep.multiplier == 1.0 and rep.dev.empty and rep.test_problems == list(probs)


def test_hybrid_report_chooses_the_multiplier_on_a_dev_half(differ):
    probs = WORLD.sample(4, seed=7)
    fit = WORLD.sample(6, seed=8)
    rep = df_.hybrid_report(differ, WORLD, fit, probs, df_.HybridReportConfig(
        layer=1, n_categories=2, category_method="kmeans", multipliers=(0.5, 3.0), n_random=0, n_boot=20))
    assert rep.dev["multiplier"].tolist() == [0.5, 3.0] and (rep.dev["n"] == 2).all()
    best = rep.dev.sort_values(["accuracy", "multiplier"], ascending=[False, True]).iloc[0]
    assert rep.multiplier == best["multiplier"]
    assert rep.test_problems == list(probs[2:]) and (rep.table["n"] == 2).all()
    assert (rep.table["multiplier"] == rep.multiplier).all()


def test_summarize_conditions_averages_seeds_and_spans_their_cis():
    t = pd.DataFrame({"condition": ["a", "r", "r"], "gap_recovered": [0.5, 0.1, 0.3], "ci_lo": [0.4, 0.0, 0.2],
                      "ci_hi": [0.6, 0.2, 0.5], "accuracy": [0.2, 0.1, 0.3], "acc_ci_lo": [0.1, 0.0, 0.1],
                      "acc_ci_hi": [0.3, 0.2, 0.4]})
    s = df_.summarize_conditions(t).set_index("condition")
    assert s.loc["r", "gap_recovered"] == pytest.approx(0.2)
    assert (s.loc["r", "ci_lo"], s.loc["r", "ci_hi"], s.loc["r", "n_seeds"]) == (0.0, 0.5, 2)


def test_crosscoder_summary_counts_shares_of_live_latents():
    lat = pd.DataFrame({"freq": [0.1, 0.2, 0.0, 0.3], "category": ["rl_only", "shared", "rl_only", "base_only"],
                        "confirmed": [True, True, False, False], "dec_cos": [0.1, 0.9, 0.0, 0.2]})
    s = df_.crosscoder_summary(lat)
    assert s["live"] == 3 and s["rl_only_confirmed"] == pytest.approx(1 / 3)
    assert s["base_only"] == pytest.approx(1 / 3) and s["base_only_confirmed"] == 0.0
    assert s["shared_dec_cos_median"] == pytest.approx(0.9)


def test_model_diff_identical_pair_has_fvu_ratio_one_and_controls(same):
    cfg = df_.DiffingConfig(layer=1, n_problems=4, n_samples=2, expansion=2, k=4, sae_samples=2048,
                            crosscoder_steps=30, n_boot=20)
    res = df_.model_diff(same, WORLD, cfg)
    q = res.reconstruction.set_index("model")
    assert set(q.index) == {"base", "rl", "random_init"}
    assert q.loc["rl", "fvu_ratio"] == pytest.approx(1.0) and q.loc["rl", "fvu"] == pytest.approx(q.loc["base", "fvu"])
    sp = res.splice.set_index("model")
    assert sp.loc["rl", "delta_ce"] == pytest.approx(sp.loc["base", "delta_ce"])
    assert res.summary["comparison"].tolist() == ["base vs RL", "base vs base (null)",
                                                  "base vs random init (positive control)"]
    assert set(res.latents["comparison"]) == set(res.summary["comparison"])
    with pytest.raises(InvalidConfigError):
        df_.DiffingConfig(n_problems=2)


def test_diffing_problems_are_held_out_in_a_leak_free_world():
    cfg = df_.DiffingConfig(n_problems=40)
    leak_free = ArithmeticWorld(ArithmeticConfig(leak_free=True, min_operands=3, max_operands=5))
    assert {leak_free.split_of(p) for p in df_.diffing_problems(leak_free, cfg)} == {"eval"}
    plain = ArithmeticWorld(ArithmeticConfig(min_operands=3, max_operands=5))
    assert [p.prompt for p in df_.diffing_problems(plain, cfg)] == [
        p.prompt for p in plain.sample(40, seed=cfg.problem_seed)]
