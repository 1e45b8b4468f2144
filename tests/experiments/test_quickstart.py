"""Tests of experiments.quickstart on tiny real models (Hugging Face folders loaded through the project's loader)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from rlmeta_interp import load_model
from rlmeta_interp.errors import EmptyInputError, InvalidConfigError
from rlmeta_interp.experiments import quickstart as qs
from rlmeta_interp.hooks import hook_name
from rlmeta_interp.organism.worlds.arithmetic import ArithmeticConfig, ArithmeticWorld
from rlmeta_interp.steering import SteeringVector

from ..conftest import save_tiny

WORLD = ArithmeticWorld(ArithmeticConfig(min_operands=2, max_operands=3, max_digits=2))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = save_tiny(tmp_path_factory.mktemp("qs") / "toy_model", "llama", seed=3)
    return load_model(folder)


def test_steering_effect_matches_manual_hooks_and_counts_what_it_reports(tiny):
    prompts = ["12+3=", "45-6=", "78+9="]  # equal token length: one batch, same as one at a time
    g = torch.Generator().manual_seed(0)
    vec = SteeringVector({1: torch.randn(tiny.d_model, generator=g) * 20.0})
    behaviour = lambda i, text: "1" in text  # noqa: E731
    eff = qs.steering_effect(tiny, prompts, lambda i, t: float(len(t) % 2 == 0), behaviour, vec,
                             multipliers=[1.0], n_random=1, max_new_tokens=6, n_boot=50)
    t = eff.table
    assert set(t.condition) == {"unsteered", "steered", "random"} and set(t.metric) == {"accuracy", "behaviour"}
    # reference: the steered run equals generation with the addition hooked in by hand
    from rlmeta_interp.sampling import greedy_generate_tl

    def add(act, hook):
        return act + vec.vectors[1]

    with tiny.tl.hooks(fwd_hooks=[(hook_name(1), add)]):
        manual = greedy_generate_tl(tiny.tl, prompts, max_new_tokens=6)
    assert eff.completions["steered@1"] == manual
    assert eff.completions["steered@1"] != eff.completions["unsteered"]  # a norm-20 push changes a tiny model
    row = t[(t.key == "steered@1") & (t.metric == "behaviour")].iloc[0]
    assert eff.outcomes["steered@1"]["behaviour"].tolist() == [float(behaviour(i, x)) for i, x in enumerate(manual)]
    assert row["value"] == pytest.approx(np.mean([behaviour(i, x) for i, x in enumerate(manual)]))
    base_row = t[(t.key == "unsteered") & (t.metric == "accuracy")].iloc[0]
    assert base_row["delta"] == 0.0
    # the random control has the steering vector's norm and a different direction
    r = SteeringVector.random_like(vec, 0)
    assert r.norms()[1] == pytest.approx(vec.norms()[1], rel=1e-5)
    # the one-prompt widget path gives the same text as the batched run
    assert qs.steered_completion(tiny, prompts[0], vec, 1, 1.0, max_new_tokens=6) == manual[0]
    assert qs.steered_completion(tiny, prompts[0], vec, 1, 0.0, max_new_tokens=6) == eff.completions["unsteered"][0]


def test_steering_effect_layer_sweep_shares_the_unsteered_run_and_none_scores_only_it(tiny):
    prompts = ["12+3=", "45-6="]
    g = torch.Generator().manual_seed(1)
    vec = SteeringVector({0: torch.randn(tiny.d_model, generator=g) * 20.0, 1: torch.randn(tiny.d_model, generator=g)})
    eff = qs.steering_effect(tiny, prompts, lambda i, t: 0.0, lambda i, t: True, vec, multipliers=[2.0], n_random=0,
                             layers=[0, 1], max_new_tokens=4, n_boot=20)
    assert sorted(eff.completions) == ["L0:steered@2", "L1:steered@2", "unsteered"]
    assert sorted(set(eff.table["layer"])) == [-1, 0, 1]
    alone = qs.steering_effect(tiny, prompts, lambda i, t: 0.0, lambda i, t: True, vec.only(0), multipliers=[2.0],
                               n_random=0, max_new_tokens=4, n_boot=20)
    assert alone.completions["steered@2"] == eff.completions["L0:steered@2"]
    assert set(alone.table["layer"]) == {-1, 0}
    ref = qs.steering_effect(tiny, prompts, lambda i, t: 1.0, lambda i, t: False, None, max_new_tokens=4, n_boot=20)
    assert list(ref.completions) == ["unsteered"] and ref.table["value"].tolist() == [1.0, 0.0]


def test_scratchpad_share_reads_the_world_format():
    share = qs.scratchpad_share(WORLD)
    assert share("1+2=3;A:3") and share("1 plus 2 is 3. A:3") and not share("A:3") and not share("junk")


def test_word_problems_and_their_verifier():
    probs = qs.word_problems(20, seed=1, operands=3)
    assert len({len(p.prompt) for p in probs}) == 1  # fixed digits: one prompt length
    for p in probs:
        nums, ops = p.meta["operands"], p.meta["ops"]
        v = nums[0]
        for op, b in zip(ops, nums[1:], strict=True):
            v = v + b if op == "+" else v - b
        assert p.answer == str(v)
        worked = qs.worked_solution(p)
        assert qs.score_word_answer(p, worked) == 1.0 and qs.worked_style(worked)
        assert qs.score_word_answer(p, f" {p.answer}.\nQuestion: What is 1 + 1?\nAnswer: 2.") == 1.0
        assert not qs.worked_style(f" {p.answer}.\nQuestion: step")
        assert qs.score_word_answer(p, f" {int(p.answer) + 1}.") == 0.0
        assert qs.score_word_answer(p, " I do not know.") == 0.0
    c = qs.step_contrast(probs[:3])
    assert c.labels.tolist() == [1, 0] * 3 and c.completions[1] == f" {probs[0].answer}."


def test_word_question_world_samples_the_questions_and_scores_free_text():
    world = qs.WordQuestionWorld(qs.WordQuestionConfig(operands=3, digits=1))
    assert not world.config.leak_free  # a real LM's pretraining is unknown: nothing is held out of it
    held = world.sample_held_out(5, seed=3)
    assert held == qs.word_problems(5, seed=3, operands=3, digits=1) == world.sample(5, seed=3)
    assert [p.meta["operands"] for p in world.sample(4, seed=3, operands=2)] == [
        p.meta["operands"] for p in qs.word_problems(4, seed=3, operands=2, digits=1)]
    p = held[0]
    assert world.reward(p, qs.worked_solution(p)) == 1.0 and world.reward(p, " I do not know.") == 0.0
    with pytest.raises(InvalidConfigError, match="no 'eval' split.*sample without a split"):
        world.sample(2, seed=0, split="eval")
    # its budget bounds every worked answer's length (in characters, so in a real LM's tokens too), not by much
    for k, d in ((2, 1), (2, 2), (4, 3)):
        w = qs.WordQuestionWorld(qs.WordQuestionConfig(operands=k, digits=d))
        longest = max(len(qs.worked_solution(q)) for q in w.sample(2000, seed=1))
        assert longest <= w.max_completion_chars() <= longest + 8
    for bad in (dict(operands=1), dict(digits=0), dict(digits=7)):
        with pytest.raises(InvalidConfigError):
            qs.WordQuestionConfig(**bad)


@pytest.mark.parametrize("text, result", [
    (" 6 + 7 = 13\nQuestion: What is 6 + 7?", 13),
    (" 13.", 13),
    (" 4 + 8 - 2 = 10 - 2 = 7\nQuestion", 7),  # a chained expression: the last result
    (" The answer is 6 + 7 = 13.", 13),  # "answer is 6 + 7" starts an expression, not a result
    (" 6 + 7 = 13\n\nThe answer is 6 + 7.", 13),  # only the first block counts
    (" 6 + 7 is 6 + 7.", None),
])
def test_score_word_answer_reads_the_result_not_the_operands(text, result):
    p = qs.word_problems(1, seed=0, operands=2, digits=1)[0]
    for answer in (13, 7):
        q = qs.Problem(prompt=p.prompt, answer=str(answer), meta=p.meta)
        assert qs.score_word_answer(q, text) == float(result == answer)


def test_real_lm_status_agrees_with_the_installed_packages(tmp_path, monkeypatch):
    from rlmeta_interp import embedded

    monkeypatch.setenv("RLMETA_HOME", str(tmp_path))  # no converted folder here
    ok, why = qs.real_lm_status("gemma-3-270m")
    assert ok == embedded.is_available("gemma-3-270m")
    assert ("pip install" in why) != ok


def test_strongest_effect_picks_the_change_most_beyond_its_random_controls():
    rows = [("unsteered", -1, 0.0, None, 0.5, 0.0, 0.0, 0.0)]
    rows += [("steered", 1, 1.0, None, 0.9, 0.4, 0.2, 0.6),
             ("steered", 1, 2.0, None, 0.0, -0.5, -0.7, -0.3),  # larger, but random vectors do the same
             ("steered", 0, 1.0, None, 0.25, -0.25, -0.45, -0.05),
             ("random", 1, 1.0, 0, 0.6, 0.1, -0.1, 0.3), ("random", 1, 1.0, 1, 0.4, -0.1, -0.3, 0.1),
             ("random", 1, 2.0, 0, 0.0, -0.5, -0.7, -0.3)]
    t = pd.DataFrame([dict(condition=c, layer=layer, multiplier=m, seed=s, metric="behaviour", value=v, ci_lo=v - 0.1,
                           ci_hi=v + 0.1, delta=d, delta_lo=lo, delta_hi=hi, n=10)
                      for c, layer, m, s, v, d, lo, hi in rows])
    e = qs.strongest_effect(t, "behaviour", layer=1)
    assert (e["multiplier"], e["delta"], e["n_random"]) == (1.0, 0.4, 2)
    assert e["specificity"] == pytest.approx(0.3) and e["significant"] and e["beats_random"]
    assert e["random_delta_max"] == 0.1
    e_all = qs.strongest_effect(t, "behaviour")  # layer 0 has no random rows: its specificity is |delta| = 0.25
    assert e_all["layer"] == 1 and e_all["delta"] == 0.4
    e0 = qs.strongest_effect(t, "behaviour", layer=0)
    assert (e0["delta"], e0["n_random"], e0["beats_random"]) == (-0.25, 0, True)
    with pytest.raises(EmptyInputError):
        qs.strongest_effect(t, "accuracy")


def test_describe_effect_names_the_verdict_strongest_effect_reached():
    rows = [("unsteered", -1, 0.0, None, 0.5, 0.0, 0.0, 0.0), ("steered", 1, 1.0, None, 0.9, 0.4, 0.2, 0.6),
            ("random", 1, 1.0, 0, 0.6, 0.1, -0.1, 0.3), ("steered", 0, 2.0, None, 0.55, 0.05, -0.1, 0.2)]
    t = pd.DataFrame([dict(condition=c, layer=layer, multiplier=m, seed=s, metric="behaviour", value=v, ci_lo=v - 0.1,
                           ci_hi=v + 0.1, delta=d, delta_lo=lo, delta_hi=hi, n=10)
                      for c, layer, m, s, v, d, lo, hi in rows])
    text = qs.describe_effect(qs.strongest_effect(t, "behaviour", layer=1), "Share")
    assert text.startswith("Share: unsteered 0.50 [0.40, 0.60]") and "at layer 1 is at multiplier +1: 0.90" in text
    assert "(beyond every equal-norm random vector; 1 random vector changed it by +0.10 to +0.10)" in text
    assert "(a change whose 95% CI includes zero; no random vectors at this layer)" in qs.describe_effect(
        qs.strongest_effect(t, "behaviour", layer=0), "Share")
    t.loc[2, "delta"] = 0.5  # a random vector as large: significant, not specific
    assert "but no more than an equal-norm random vector changed it" in qs.describe_effect(
        qs.strongest_effect(t, "behaviour", layer=1), "Share")


def test_steering_curves_start_every_series_at_the_unsteered_value(tiny):
    prompts = ["12+3=", "45-6="]
    g = torch.Generator().manual_seed(2)
    vec = SteeringVector({0: torch.randn(tiny.d_model, generator=g), 1: torch.randn(tiny.d_model, generator=g)})
    eff = qs.steering_effect(tiny, prompts, lambda i, t: float(i), lambda i, t: len(t) > 2, vec, multipliers=[-1.0, 2.0],
                             n_random=2, layers=[0, 1], max_new_tokens=3, n_boot=20)
    c = qs.steering_curves(eff.table, "accuracy")
    assert sorted(set(c.series)) == ["random (seed 0)", "random (seed 1)", "steered"]
    assert len(c) == 2 * 3 * 3  # layers x series x (two multipliers + the unsteered start)
    start = c[c.multiplier == 0.0]
    assert len(start) == 6 and (start.value == 0.5).all()  # score(i) = i: mean over two prompts
    row = eff.table[(eff.table.key == "L1:random1@2") & (eff.table.metric == "accuracy")].iloc[0]
    got = c[(c.layer == 1) & (c.series == "random (seed 1)") & (c.multiplier == 2.0)].iloc[0]
    assert (got.value, got.ci_lo, got.ci_hi) == (row.value, row.ci_lo, row.ci_hi)
    with pytest.raises(EmptyInputError):
        qs.steering_curves(eff.table[eff.table.condition != "unsteered"], "accuracy")


def test_draw_steering_draws_the_unsteered_value_the_rl_model_and_each_curve_of_a_layer(tiny):
    import matplotlib.pyplot as plt

    from rlmeta_interp.plotting import COLORS

    prompts = ["12+3=", "45-6="]
    vec = SteeringVector({0: torch.ones(tiny.d_model), 1: -torch.ones(tiny.d_model)})
    eff = qs.steering_effect(tiny, prompts, lambda i, t: float(i), lambda i, t: len(t) > 2, vec, multipliers=[2.0],
                             n_random=2, layers=[0, 1], max_new_tokens=3, n_boot=20)
    rl = pd.DataFrame([dict(metric="accuracy", value=0.9, ci_lo=0.8, ci_hi=0.95)]).set_index("metric")
    fig, (ax, bare) = plt.subplots(1, 2)
    qs.draw_steering(ax, eff.table, "accuracy", rl=rl, layer=1)
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert lines["base unsteered"].get_ydata()[0] == 0.5 and lines["RL model"].get_ydata()[0] == 0.9
    curves = [line for line in ax.get_lines() if list(line.get_xdata()) == [0.0, 2.0]]  # from the unsteered start
    assert len(curves) == 3 and ax.get_legend() is None  # layer 1 only: steered and two random vectors
    assert sorted(line.get_color() == COLORS["steered"] for line in curves) == [False, False, True]
    one_layer = eff.table[eff.table.layer.isin([-1, 0])]  # the unsteered rows and layer 0's
    qs.draw_steering(bare, one_layer, "accuracy")  # no RL model
    assert "RL model" not in {line.get_label() for line in bare.get_lines()}
    assert len([line for line in bare.get_lines() if list(line.get_xdata()) == [0.0, 2.0]]) == 3
    with pytest.raises(InvalidConfigError, match="pick one"):
        qs.draw_steering(bare, eff.table, "accuracy")  # two layers' curves would be drawn as one
    plt.close(fig)
    with pytest.raises(EmptyInputError):
        qs.draw_steering(ax, eff.table[eff.table.condition != "unsteered"], "accuracy")
