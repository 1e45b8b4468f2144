"""Difficulty bands and rule-based shortcut detection, against hand-made completions and real tiny models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rlmeta_interp import load_model
from rlmeta_interp.errors import InvalidConfigError
from rlmeta_interp.experiments import difficulty as df_
from rlmeta_interp.organism.worlds.arithmetic import ArithmeticConfig, ArithmeticWorld
from rlmeta_interp.organism.worlds.base import Problem

from ..conftest import save_tiny


def _problem(operands, ops):
    from rlmeta_interp.organism.worlds.arithmetic import evaluate, render_prompt

    return Problem(prompt=render_prompt(operands, ops), answer=str(evaluate(operands, ops)[-1]),
                   meta={"operands": operands, "ops": ops, "n_operands": len(operands)})


P = _problem([12, 7, 3], ["+", "-"])  # 12+7-3 = 16


def test_world_solutions_are_clean_in_every_format():
    world = ArithmeticWorld(ArithmeticConfig(min_operands=2, max_operands=4))
    for p in world.sample(30, seed=4):
        for fmt in ("sum", "eq"):
            f = df_.shortcut_flags(p, world.solution(p, fmt))
            assert f["correct"] and f["format"] == fmt and f["n_steps"] == p.meta["n_operands"] - 1
            assert not any(f[k] for k in ("skipped_steps", "skipped_computation", "repeated", "wrong_step",
                                           "unfaithful", "direct"))
        d = df_.shortcut_flags(p, world.solution(p, "direct"))
        assert d["correct"] and d["direct"] and d["skipped_computation"] and not d["skipped_steps"]
        assert d["missing_steps"] == p.meta["n_operands"] - 1


@pytest.mark.parametrize("completion, flags", [
    ("12 plus 7 is 19. A:16", {"skipped_steps", "skipped_computation", "unfaithful"}),  # a step left out
    ("12 plus 7 is 19. 19 minus 3 is 16. 19 minus 3 is 16. A:16", {"repeated"}),  # looping
    ("12+7=19;19-3=16;A:16 A:16", {"repeated"}),  # two answer markers (and no parseable answer)
    ("12+7=18;18-3=15;A:15", {"wrong_step"}),  # arithmetic slip, faithful to it
    ("12+7=19;19-3=16;A:17", {"unfaithful"}),
    ("A:12", {"direct", "skipped_computation", "copied_operand"}),
    ("12+3=15;A:15", {"skipped_steps", "skipped_computation"}),  # the step skips the operand 7
])
def test_flags_on_handmade_completions(completion, flags):
    f = df_.shortcut_flags(P, completion)
    checked = {"skipped_steps", "skipped_computation", "repeated", "wrong_step", "unfaithful", "direct", "copied_operand"}
    assert {k for k in checked if f[k]} == flags


def test_parse_steps_mixed_and_missing_steps_count():
    steps = df_.parse_steps("12 plus 7 is 19. 19-3=16;A:16")
    assert [(s.a, s.op, s.b, s.c) for s in steps] == [(12, "+", 7, 19), (19, "-", 3, 16)]
    assert df_.shortcut_flags(P, "12 plus 7 is 19. A:16")["missing_steps"] == 1


def test_modal_share_and_rates_against_numpy():
    assert df_.modal_answer_share([3, 3, 5, None]) == pytest.approx(0.5)
    assert df_.modal_answer_share([None, None]) == 0.0
    rng = np.random.default_rng(0)
    t = pd.DataFrame({"problem": np.repeat(np.arange(10), 4), "answer": rng.integers(0, 3, 40)})
    for f in df_.FLAGS:
        t[f] = rng.random(40) < 0.3
    r = df_.shortcut_rates(t, n_boot=200).set_index("metric")
    for f in df_.FLAGS:
        assert r.loc[f, "rate"] == pytest.approx(t[f].mean())  # equal samples per problem: the overall mean
        assert r.loc[f, "ci_lo"] <= r.loc[f, "rate"] <= r.loc[f, "ci_hi"]
    assert r.loc["modal_answer_share", "rate"] == pytest.approx(t["answer"].value_counts().iloc[0] / 40)


def _samples(model, correct_by_problem):
    rows = []
    for p, pattern in enumerate(correct_by_problem):
        for s, c in enumerate(pattern):
            rows.append({"model": model, "problem": p, "sample": s, "n_operands": 2, "correct": bool(c),
                         "answer": 1, "truth": 1, **{f: False for f in df_.FLAGS if f != "correct"}})
    return rows


def test_already_solved_selects_on_one_half_and_measures_on_the_other():
    cfg = df_.DifficultyConfig(operands=(2,), n_samples=4, n_boot=100, solved_threshold=0.5)
    base = [[1, 1, 0, 0], [0, 0, 1, 1], [1, 0, 1, 0], [0, 0, 0, 0]]
    rl = [[1, 1, 1, 1], [1, 1, 1, 1], [0, 0, 0, 0], [1, 1, 1, 1]]
    res = df_.DifficultyResult(cfg, ["base", "rl"], pd.DataFrame(_samples("base", base) + _samples("rl", rl)))
    t = res.already_solved().set_index("model")
    # selected: problems 0 and 2 (base >= 0.5 on samples 0-1); measured on samples 2-3
    assert t.loc["base", "n_selected"] == 2
    assert t.loc["base", "acc"] == pytest.approx(np.mean([0.0, 0.5]))  # not the inflated 1.0 / 0.5 of the selection half
    assert t.loc["rl", "acc"] == pytest.approx(np.mean([1.0, 0.0]))
    assert t.loc["rl", "d_vs_ref"] == pytest.approx(0.25)
    lv = res.accuracy_by_level().set_index("model")
    assert lv.loc["base", "acc"] == pytest.approx(np.mean(base)) and lv.loc["rl", "acc"] == pytest.approx(np.mean(rl))
    assert lv.loc["base", "d_vs_ref"] == 0.0


def test_config_validation():
    with pytest.raises(InvalidConfigError, match="operands"):
        df_.DifficultyConfig(operands=(1, 2))
    with pytest.raises(InvalidConfigError, match="n_samples"):
        df_.DifficultyConfig(n_samples=1)


def test_run_difficulty_on_tiny_models(tmp_path):
    base = load_model(save_tiny(tmp_path / "b", "llama", seed=0))
    other = load_model(save_tiny(tmp_path / "r", "llama", seed=1))
    world = df_.difficulty_world(ArithmeticWorld(), (2, 4))
    assert (world.config.min_operands, world.config.max_operands) == (2, 4)
    cfg = df_.DifficultyConfig(operands=(2, 4), n_problems=3, n_samples=4, n_boot=50)
    res = df_.run_difficulty({"base": base, "rl": other}, world, cfg)
    assert len(res.samples) == 2 * 2 * 3 * 4
    assert set(res.samples.groupby("problem").n_operands.nunique()) == {2}  # problem ids are per level
    by = res.samples.groupby(["model", "n_operands"]).size()
    assert (by == 12).all()
    lv = res.accuracy_by_level()
    assert set(lv.n_operands) == {2, 4} and (lv.acc >= 0).all()
    ch = res.shortcut_changes().set_index(["model", "metric"])
    rates = res.samples.groupby("model")["skipped_computation"].mean()  # equal samples per problem: plain means
    assert ch.loc[("rl", "skipped_computation"), "rate"] == pytest.approx(rates["rl"])
    assert ch.loc[("rl", "skipped_computation"), "d_vs_ref"] == pytest.approx(rates["rl"] - rates["base"])
    assert ch.loc[("base", "correct"), "d_vs_ref"] == 0.0
    sc = res.shortcuts(by_level=True)
    assert {"truth_modal_answer_share", "skipped_computation"} <= set(sc.metric)
    with pytest.raises(InvalidConfigError, match="reference"):
        df_.run_difficulty({"rl": other}, world, cfg)
