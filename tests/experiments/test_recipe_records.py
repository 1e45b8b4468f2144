"""Recipes compared from their build records: the per-run reduction, its thresholds, the words and the figures, on
small written records and on the committed ones."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from rlmeta_interp.errors import EmptyInputError, InvalidConfigError
from rlmeta_interp.experiments import recipe_records as rr
from rlmeta_interp.organism import records


def _level(d_n, lo_n, d_1=0.1, lo_1=0.05, n=8):
    return {"n_samples": n, "n_problems": 4, "expanded": 1, f"guess_pass@{n}": 0.01,
            "base_pass@1": 0.2, "trained_pass@1": 0.2 + d_1, "diff_pass@1": d_1, "diff_pass@1_ci": [lo_1, d_1 + 0.05],
            f"base_pass@{n}": 0.3, f"trained_pass@{n}": 0.3 + d_n, f"diff_pass@{n}": d_n,
            f"diff_pass@{n}_ci": [lo_n, d_n + 0.1]}


def _run(name, label, passed, levels, *, dose=0.0, steps=100, sha=None):
    check = {"kind": "passk", "passed": passed, "in_distribution_level": "2", "ci": 0.975, "levels": levels}
    return {"name": name, "kind": "rl", "label": label, "base": "b", "world": "composition", "recipe": "comp",
            "dose": dose, "seed": 0, "budget": {"steps": steps, "lr": 1e-4}, "gain_check": check,
            "files": {"model.safetensors": sha or name}, "base_weights_sha256": "w0"}


@pytest.fixture
def frame():
    recs = {"b": {"name": "b", "kind": "base", "seed": 3},
            # boundary CI lower end exactly 0 at level 3, above 0 at level 4: a boundary gain (any level read counts)
            "r1": _run("r1", "creation", True, {"2": _level(0.0, -0.1), "3": _level(0.2, 0.0), "4": _level(0.1, 0.01)}),
            # lower end exactly 0 everywhere: no boundary gain
            "r2": _run("r2", "creation", False, {"2": _level(0.0, -0.1), "3": _level(0.1, 0.0), "4": _level(0.0, 0.0)}),
            "c1": _run("c1", "no_signal", None, {"2": _level(-0.5, -0.6), "3": _level(-0.4, -0.5),
                                                 "4": _level(-0.3, -0.4)}),
            "a1": _run("a1", "activation", True, {"2": _level(0.0, -0.1, d_1=0.3, lo_1=0.2), "3": _level(0.0, 0.0),
                                                  "4": _level(0.0, 0.0)}, dose=0.5, steps=300),
            "dup": _run("dup", "activation", True, {"2": _level(0.0, 0.0), "3": _level(0.0, 0.0)}, dose=0.5,
                        steps=300, sha="a1")}  # a later record of a1's model
    return records.gain_frame(recs)


def test_runs_table_reduces_each_run_to_its_first_creation_level(frame):
    runs = rr.runs_table(frame).set_index("name")
    assert runs.loc["r1", "boundary_level"] == 3 and runs.loc["r1", "in_dist_level"] == 2
    assert runs.loc["r1", "boundary"] == 0.2 and runs.loc["r1", "boundary_lo"] == 0.0
    assert runs.loc["r1", "boundary_gain"]  # level 4's lower end is above 0
    assert not runs.loc["r2", "boundary_gain"]  # a lower end of exactly 0 is no gain
    assert runs.loc["a1", "pass@1_change"] == 0.3 and runs.loc["a1", "pass@1_change_lo"] == 0.2
    assert runs.loc["r1", "pretrain_seed"] == 3


def test_recipe_and_budget_runs_count_identical_weights_once(frame):
    runs = rr.recipe_runs(frame, {"comp": {"steps": 100, "lr": 1e-4}})
    assert sorted(runs["name"]) == ["c1", "r1", "r2"]
    by_budget = rr.budget_runs(frame, "comp")
    assert "dup" not in set(by_budget["name"])  # the same weights as a1
    assert list(dict.fromkeys(by_budget["budget"])) == ["100 steps, lr 0.0001", "300 steps, lr 0.0001"]
    with pytest.raises(InvalidConfigError, match="No recipe given"):
        rr.recipe_runs(frame, {})


def test_tally_and_check_word(frame):
    runs = rr.recipe_runs(frame, {"comp": {"steps": 100}}).pipe(lambda r: pd.concat([r, rr.runs_table(
        frame[frame["name"] == "a1"])]))
    t = rr.tally(runs, by=("label",)).set_index("label")
    assert t.loc["creation", ["runs", "checked", "passed", "boundary_gain"]].tolist() == [2, 2, 1, 1]
    assert t.loc["no_signal", ["runs", "checked", "passed", "boundary_gain"]].tolist() == [1, 0, 0, 0]
    assert t.loc["creation", "base_pass@n"] == pytest.approx(0.3)  # the base's pass@n at the boundary level
    assert [rr.check_word(v) for v in (True, False, None, math.nan)] == ["passed", "failed", "control", "control"]


def _findings(frame, **changes):
    runs = rr.recipe_runs(frame, {"comp": {"steps": 100}})
    for col, f in changes.items():
        runs[col] = runs.apply(f, axis=1)
    return rr.findings(runs, runs, "comp")


def test_findings_say_what_each_recipe_showed(frame):
    text = _findings(frame)
    assert "creation by design (dose 0) passed their gain check (boundary expansion): 1 of 2" in text
    assert "random-reward controls with a pass@n gain whose CI is above 0 at a deeper level: 0 of 1" in text
    assert "showed the creation gain in some runs of comp (expanded the boundary)." in text
    assert "Claim 5: the RL budgets of the comp recipe" in text and "- 100 steps, lr 0.0001" in text


def test_findings_tell_a_failed_recipe_from_one_that_took_no_step(frame):
    failed = _findings(frame, passed=lambda r: False if r["passed"] is True else r["passed"])
    assert "showed the creation gain in no recipe here" in failed and "trained and failed in every creation run" \
        " of comp" in failed and "did not test it" not in failed
    still = _findings(frame, passed=lambda r: False if r["passed"] is True else r["passed"],
                      kept_base_weights=lambda r: r["label"] == "creation")
    assert "The comp recipe did not test it: no creation run there took a step" in still
    assert "2 took no step" in still and "trained and failed" not in still


def test_findings_without_controls_and_at_a_ceiling(frame):
    text = _findings(frame, label=lambda r: "creation" if r["label"] == "no_signal" else r["label"])
    assert "no random-reward control at this budget" in text
    ceiling = _findings(frame, boundary_base=lambda r: 1.0)
    assert "No room for a boundary change at dose 0 (mean base pass@n 1.00)" in ceiling


def test_figures_on_the_committed_records():
    recs = records.load_records()
    frame = records.gain_frame(recs)
    runs = rr.recipe_runs(frame, {"depth-edge": {"steps": 300, "lr": 1e-4}, "bandit-dose": {"steps": 1500, "lr": 3e-4}})
    fig = rr.dose_figure(runs)
    assert len([a for a in fig.axes if a.get_visible()]) == 4
    bandit_ticks = [t.get_text() for t in fig.axes[1].get_xticklabels()]
    assert "1 shuffled" in bandit_ticks
    ex = rr.example_runs(runs)
    assert set(ex["recipe"]) == {"depth-edge"} and "no_signal" not in set(ex["label"])
    assert len(rr.example_runs(runs, controls=True)) > len(ex)
    curves = rr.curves_figure(recs, ex, n_boot=20)
    assert len([a for a in curves.axes if a.axison]) == len(ex)
    # the depth run that took no step is titled so
    assert any("took no step" in a.get_title() for a in curves.axes)
    assert len(rr.budget_figure(rr.budget_runs(frame, "depth-edge")).axes) == 2
    assert len(rr.budget_figure(rr.budget_runs(frame, "bandit-dose")).axes) == 1  # regret: one statistic
    with pytest.raises(EmptyInputError, match="pass@k recipe"):
        rr.example_runs(runs[runs["recipe"] == "bandit-dose"])
