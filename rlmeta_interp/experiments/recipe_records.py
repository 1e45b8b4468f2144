"""Recipes compared from their build records (notebook 04 with ``RECORDS``; claims 4 and 5 in docs/claims.md).

Every labelled RL run the project built recorded, at build time, its gain check: per evaluated level, the paired
pass@1 and pass@n changes over its base (bandits: the regret reduction), with CIs, and whether the design label's gain
showed (:mod:`rlmeta_interp.organism.gain`). :func:`recipe_runs` reduces those records to one row per run and two
statistics: the boundary change at the shallowest level the creation check reads (deeper than the check's
in-distribution level, the deepest the dose-0 base's documents show: depth 5, the RL training depth, in the depth
world; level 3, one beyond RL training, in composition), and the pass@1 change at the in-distribution level;
the figure helpers draw them per dose, per budget and as pass@k curves. Nothing is sampled again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InvalidConfigError
from ..organism.records import pass_tally, record_curves, select_runs
from ..plotting import COLORS, VERDICT_COLORS, line_ci, panel_grid
from ..prose import share_text

LABEL_ORDER = ("creation", "activation", "no_signal")
CURVE_PALETTE = {"base": COLORS["base"], "rl": COLORS["rl"], "guess": COLORS["random"]}


def _run_row(g: pd.DataFrame) -> dict[str, Any]:
    """One run's rows of a gain frame reduced to its boundary statistic (pass@n change at the shallowest level deeper
    than the check's in-distribution level; bandits: regret reduction) and its pass@1 change at the in-distribution
    level, with the recorded CIs."""
    first = g.iloc[0]
    keep = ["name", "base", "world", "recipe", "dose", "dose_tag", "label", "pretrain_seed", "tune_seed", "budget",
            "steps", "lr", "passed", "kept_base_weights"]
    row = {k: first[k] for k in keep}
    if first["measure"] == "regret":
        return row | {"boundary_level": None, "boundary": first["regret_reduction"],
                      "boundary_lo": first["regret_reduction_lo"], "boundary_hi": first["regret_reduction_hi"],
                      "boundary_gain": bool(first["regret_reduction_lo"] > 0), "in_dist_level": None,
                      "pass@1_change": np.nan, "pass@1_change_lo": np.nan, "pass@1_change_hi": np.nan}
    held, trained = g[g["held_out"]], g[~g["held_out"]]
    b = held.sort_values("level").iloc[0]
    t = trained.iloc[0] if len(trained) else b
    return row | {"boundary_level": int(b["level"]), "boundary": b["d_pass@n"], "boundary_lo": b["d_pass@n_lo"],
                  "boundary_hi": b["d_pass@n_hi"],
                  # any level the creation check reads with a pass@n change whose CI is above 0 (a control's
                  # would-be gain)
                  "boundary_gain": bool((held["d_pass@n_lo"] > 0).any()), "in_dist_level": int(t["level"]),
                  "pass@1_change": t["d_pass@1"], "pass@1_change_lo": t["d_pass@1_lo"],
                  "pass@1_change_hi": t["d_pass@1_hi"], "n_samples": int(b["n_samples"])}


def runs_table(rows: pd.DataFrame) -> pd.DataFrame:
    """:func:`_run_row` of every run in ``rows`` (rows of :func:`~rlmeta_interp.organism.records.gain_frame`)."""
    return pd.DataFrame([_run_row(g) for _, g in rows.groupby("name", sort=True)])


def recipe_runs(frame: pd.DataFrame, recipes: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """One row per distinct RL run of each recipe at its budget (``{recipe: {"steps": .., "lr": ..}}``), in the
    recipes' order."""
    if not recipes:
        raise InvalidConfigError("No recipe given: pass {recipe: {'steps': N, 'lr': x}}, e.g. {'composition':"
                                 " {'steps': 1500, 'lr': 1e-4}}.")
    parts = [runs_table(select_runs(frame, r, steps=b.get("steps"), lr=b.get("lr"))) for r, b in recipes.items()]
    return pd.concat(parts, ignore_index=True)


def budget_runs(frame: pd.DataFrame, recipe: str) -> pd.DataFrame:
    """One row per distinct RL run of ``recipe`` at every budget it was run with, ordered by steps then rate."""
    out = runs_table(select_runs(frame, recipe))
    return out.sort_values(["steps", "lr", "dose", "name"], kind="stable").reset_index(drop=True)


def tally(runs: pd.DataFrame, by: Sequence[str] = ("recipe", "dose", "label")) -> pd.DataFrame:
    """Per group: runs, runs whose gain check passed (labelled runs), and runs with a boundary gain whose CI is above
    0 at some level the creation check reads (for controls, the gain a creation check would have read)."""
    t = pass_tally(runs, by)
    gains = runs.groupby(list(by), sort=True)["boundary_gain"].sum().reset_index(name="boundary_gain")
    return t.merge(gains, on=list(by))


def _boundary_label(runs: pd.DataFrame) -> str:
    if runs["boundary_level"].isna().all():
        return "regret reduction (base - RL)"
    n = int(runs["n_samples"].dropna().iloc[0])
    levels = ", ".join(str(int(v)) for v in sorted(runs["boundary_level"].dropna().unique()))
    return f"pass@{n} change, level {levels}"


def check_word(passed: Any) -> str:
    """A run's gain check in a word: ``control`` (no check: no-signal runs), ``passed`` or ``failed``."""
    if passed is None or (isinstance(passed, float) and np.isnan(passed)):
        return "control"
    return "passed" if bool(passed) else "failed"


def _points(ax: Any, runs: pd.DataFrame, x: str, y: str, order: Sequence[Any]) -> None:
    """One point per run at its category of ``x`` (offset by label, spread within a label), with its CI; filled: the
    gain check passed, open: it failed, a cross: a control (no check)."""
    pos = {v: i for i, v in enumerate(order)}
    for j, label in enumerate(LABEL_ORDER):
        g = runs[runs["label"] == label]
        if g.empty:
            continue
        colour = VERDICT_COLORS.get(label, COLORS["control"])
        for _, grp in g.groupby(x, sort=False):
            spread = np.linspace(-0.08, 0.08, len(grp)) if len(grp) > 1 else np.zeros(1)
            for off, (_, r) in zip(spread, grp.iterrows(), strict=True):
                if pd.isna(r[y]):
                    continue
                xx = pos[r[x]] + (j - 1) * 0.25 + off
                ax.errorbar(xx, r[y], yerr=[[max(r[y] - r[f"{y}_lo"], 0)], [max(r[f"{y}_hi"] - r[y], 0)]], color=colour,
                            lw=0.8, capsize=0, alpha=0.7)
                check = check_word(r["passed"])
                ax.plot(xx, r[y], marker="x" if check == "control" else "o", color=colour,
                        mfc=colour if check == "passed" else "white", ms=5, ls="")
        ax.plot([], [], marker="o", color=colour, ls="", label=label.replace("_", " "))
    ax.axhline(0, color=COLORS["control"], lw=1)
    ax.set_xticks(range(len(order)), [str(v) for v in order], fontsize=8)


def dose_figure(runs: pd.DataFrame) -> Any:
    """Per recipe (one column): its runs' boundary change (top) and pass@1 change at the in-distribution level (bottom)
    against the pretraining dose, one point per run (see :func:`_points`)."""
    recipes = list(dict.fromkeys(runs["recipe"]))
    fig, panels, _ = panel_grid(len(recipes), (3.8, 3.0), rows_per_panel=2, max_cols=4, sharey=False)
    for (top, bottom), recipe in zip(panels, recipes, strict=True):
        g = runs[runs["recipe"] == recipe]
        doses = list(dict.fromkeys(g.sort_values(["dose", "dose_tag"])["dose_tag"]))
        _points(top, g, "dose_tag", "boundary", doses)
        top.set_title(f"{recipe} ({g['world'].iloc[0]}; {g['budget'].iloc[0]})", fontsize=8)
        top.set_ylabel(_boundary_label(g), fontsize=8)
        if g["pass@1_change"].isna().all():
            bottom.set_axis_off()
            bottom.text(0.5, 0.5, "one statistic per run (above)", ha="center", va="center", fontsize=8,
                        transform=bottom.transAxes)
            continue
        _points(bottom, g, "dose_tag", "pass@1_change", doses)
        bottom.set_ylabel(f"pass@1 change, level {int(g['in_dist_level'].dropna().iloc[0])}", fontsize=8)
        bottom.set_xlabel("pretraining dose")
    panels[0][0].legend(frameon=False, fontsize=7)
    fig.tight_layout()
    return fig


def budget_figure(runs: pd.DataFrame) -> Any:
    """One recipe's runs per RL budget: boundary change (top), pass@1 change at the in-distribution level (bottom)."""
    import matplotlib.pyplot as plt  # after rlmeta_interp.plotting chose the backend

    order = list(dict.fromkeys(runs["budget"]))
    fig, axes = plt.subplots(2, 1, figsize=(max(7.0, 1.3 * len(order)), 6.5), sharex=True)
    trained = f"pass@1 change, level {int(runs['in_dist_level'].dropna().iloc[0])}"
    for ax, y, lab in ((axes[0], "boundary", _boundary_label(runs)), (axes[1], "pass@1_change", trained)):
        _points(ax, runs, "budget", y, order)
        ax.set_ylabel(lab, fontsize=8)
    axes[1].set_xlabel("RL budget")
    axes[1].tick_params(axis="x", rotation=20)
    axes[0].legend(frameon=False, fontsize=7)
    axes[0].set_title(f"{runs['recipe'].iloc[0]}: every RL run per budget", fontsize=9)
    fig.tight_layout()
    return fig


def example_runs(runs: pd.DataFrame, controls: bool = False) -> pd.DataFrame:
    """Per (recipe, dose, label) of pass@k recipes, its first run (lowest pretraining seed, then tuning seed, then
    name): the one whose curves :func:`curves_figure` draws; no-signal controls only with ``controls``."""
    passk = runs[runs["boundary_level"].notna() & (controls | (runs["label"] != "no_signal"))]
    first = passk.sort_values(["recipe", "dose", "label", "pretrain_seed", "tune_seed", "name"], kind="stable")
    return first.groupby(["recipe", "dose", "label"], sort=False).head(1).reset_index(drop=True)


def curves_figure(records: Mapping[str, Mapping[str, Any]], examples: pd.DataFrame, *, n_boot: int = 1000) -> Any:
    """pass@k curves (base, RL, guesser) at each example run's boundary level, one panel per run, one row per
    recipe, with 95% bootstrap CIs over problems from the recorded per-problem counts."""
    import matplotlib.pyplot as plt  # after rlmeta_interp.plotting chose the backend

    recipes = list(dict.fromkeys(examples["recipe"]))
    cols = max(int((examples["recipe"] == r).sum()) for r in recipes)
    fig, axes = plt.subplots(len(recipes), cols, figsize=(3.3 * cols, 3.0 * len(recipes)), squeeze=False)
    for i, recipe in enumerate(recipes):
        rows = examples[examples["recipe"] == recipe].reset_index(drop=True)
        for j in range(cols):
            ax = axes[i, j]
            if j >= len(rows):
                ax.set_axis_off()
                continue
            r = rows.iloc[j]
            curves = record_curves(records, r["name"], int(r["boundary_level"]), n_boot=n_boot)
            line_ci(ax, curves, "k", "pass@k", "ci_lo", "ci_hi", hue="model", palette=CURVE_PALETTE)
            ax.set_xscale("log", base=2)
            ax.set_ylim(-0.03, 1.03)  # a curve at 0 or 1 stays visible inside the frame
            check = {"control": "control"}.get(check_word(r["passed"]), f"gain check {check_word(r['passed'])}")
            ax.set_title(f"{r['name']}\n{r['label'].replace('_', ' ')}, dose {r['dose']:g}, level"
                         f" {int(r['boundary_level'])}; {check}", fontsize=7)
            if (i, j) != (0, 0):
                ax.get_legend().remove()
    fig.tight_layout()
    return fig



def _group_line(g: pd.DataFrame) -> str:
    """Creation and activation runs' gain-check passes, and the controls' boundary gains, of one group of runs."""
    parts = []
    for label in LABEL_ORDER:
        runs = g[g["label"] == label]
        if runs.empty:
            continue
        if label == "no_signal":
            gains = int(runs["boundary_gain"].sum())
            parts.append(f"random-reward controls with a boundary gain: {share_text(gains, len(runs))}")
        else:
            doses = ", ".join(dict.fromkeys(runs.sort_values(["dose", "dose_tag"])["dose_tag"]))
            passed = int(sum(check_word(v) == "passed" for v in runs["passed"]))
            still = int(runs["kept_base_weights"].sum())
            parts.append(f"{label} by design (dose {doses}) passed their gain check: {share_text(passed, len(runs))}"
                         + (f", {still} of them kept their base's weights (RL took no step)" if still else ""))
    return "; ".join(parts)


def findings(runs: pd.DataFrame, knob_runs: pd.DataFrame, knob_recipe: str) -> str:
    """What the records say, in words computed from them: per recipe, how often its creation runs expanded the boundary
    (the creation gain check), its activation runs gained, and its random-reward controls read a boundary gain; then
    the same per RL budget of ``knob_recipe``."""
    lines = ["**Claim 4 across task families with labels fixed by design** (not as worded: none of these worlds is"
             " planning). Per recipe at its RL budget:", ""]
    created, never, still = [], [], []
    for recipe, g in runs.groupby("recipe", sort=False):
        lines.append(f"- {recipe} ({g['world'].iloc[0]}; {g['budget'].iloc[0]}): {_group_line(g)}.")
        creation = g[g["label"] == "creation"]
        made = int(sum(check_word(v) == "passed" for v in creation["passed"]))
        (created if made else never).append(f"{recipe} (distinct creation runs: {len(creation)})")
        if not made and creation["kept_base_weights"].any():
            still.append(recipe)
    lines += ["", f"RL on a base built without the capability expanded its boundary in some runs of"
              f" {', '.join(created) or 'no recipe'} and in no run of {', '.join(never) or 'no recipe'}: whether RL"
              " creates depends on the task family at these budgets, not only on how much the base saw."
              if created and never else
              f"RL on a base built without the capability expanded its boundary in some runs of every recipe here"
              f" ({', '.join(created)})." if created else
              "RL on a base built without the capability expanded its boundary in no recipe here."]
    if still:
        lines.append(f"In {', '.join(still)}, creation runs kept their base's weights: they earned no reward, so that"
                     " recipe put the rewarded problems beyond the base's reach rather than testing whether RL can"
                     " build the capability.")
    lines.append("")
    lines += [f"**Claim 5: the RL budgets of the {knob_recipe} recipe** (each budget on its own bases, pilots run while"
              " choosing the recipe's budget: a description, not a designed test; no KL or reference-reset knob was"
              " run). Per budget:", ""]
    lines += [f"- {budget}: {_group_line(g)}." for budget, g in knob_runs.groupby("budget", sort=False)]
    controls = knob_runs[knob_runs["label"] == "no_signal"]
    lines += ["", f"Across budgets, the same-length random-reward controls read a boundary gain in"
              f" {share_text(int(controls['boundary_gain'].sum()), len(controls))}: where a correct-reward run expanded"
              " the boundary, the reward signal, not the length of training alone, is what did it."
              if len(controls) and not controls["boundary_gain"].any() else
              f"Across budgets, the same-length random-reward controls read a boundary gain in"
              f" {share_text(int(controls['boundary_gain'].sum()), len(controls))}."]
    return "\n".join(lines)
