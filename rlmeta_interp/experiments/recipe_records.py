"""Recipes compared from their build records (notebook 04 with ``RECORDS``; claims 4 and 5 in docs/claims.md).

Every labelled RL run the project built recorded, at build time, its gain check: per evaluated level, the paired
pass@1 and pass@n changes over its base (bandits: the per-bandit regret reduction), with CIs, and whether the design
label's gain showed (:mod:`rlmeta_interp.organism.gain`). :func:`recipe_runs` reduces those records to one row per run
and two statistics: the *boundary* change (pass@n) at the shallowest level the creation check reads, that is one
deeper than the check's in-distribution level, the shallowest evaluated (depth world: depth 5, the depth-edge RL
training depth, one deeper than the dose-0 bases' documents; composition: level 3, one beyond RL training), and the
pass@1 change at the in-distribution level (depth 4; composition level 2, the RL training level). Bandits have one
statistic, the regret reduction, which is no boundary measure. The figure helpers draw them per dose, per budget and
as pass@k curves; :func:`findings` puts them in words. Nothing is sampled again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import EmptyInputError, InvalidConfigError
from ..organism.records import pass_tally, record_curves, select_runs
from ..plotting import COLORS, VERDICT_COLORS, line_ci, panel_grid
from ..prose import share_text

LABEL_ORDER = ("creation", "activation", "no_signal")
CURVE_PALETTE = {"base": COLORS["base"], "rl": COLORS["rl"], "guess": COLORS["random"]}
CEILING = 0.99  # a base whose mean pass@n at the boundary level reaches this leaves no room for a boundary change


def _run_row(g: pd.DataFrame) -> dict[str, Any]:
    """One run's rows of a gain frame reduced to its boundary statistic (pass@n change at the shallowest deeper
    level; bandits: regret reduction) and its pass@1 change at the in-distribution level, with the recorded CIs."""
    first = g.iloc[0]
    keep = ["name", "base", "world", "recipe", "measure", "dose", "dose_tag", "label", "pretrain_seed", "tune_seed",
            "budget", "steps", "lr", "passed", "kept_base_weights"]
    row = {k: first[k] for k in keep}
    if first["measure"] == "regret":
        return row | {"boundary_level": None, "boundary": first["regret_reduction"],
                      "boundary_lo": first["regret_reduction_lo"], "boundary_hi": first["regret_reduction_hi"],
                      "boundary_gain": bool(first["regret_reduction_lo"] > 0), "in_dist_level": None,
                      "pass@1_change": np.nan, "pass@1_change_lo": np.nan, "pass@1_change_hi": np.nan}
    deeper, in_dist = g[g["deeper"]], g[~g["deeper"]]
    b = deeper.sort_values("level").iloc[0]
    t = in_dist.iloc[0] if len(in_dist) else b
    return row | {"boundary_level": int(b["level"]), "boundary": b["d_pass@n"], "boundary_lo": b["d_pass@n_lo"],
                  "boundary_hi": b["d_pass@n_hi"], "boundary_base": b["pass@n_base"],
                  "boundary_guess": b["guess_pass@n"],
                  # at any deeper level (the creation check's levels), a pass@n change whose CI is above 0
                  "boundary_gain": bool((deeper["d_pass@n_lo"] > 0).any()), "in_dist_level": int(t["level"]),
                  "pass@1_change": t["d_pass@1"], "pass@1_change_lo": t["d_pass@1_lo"],
                  "pass@1_change_hi": t["d_pass@1_hi"], "n_samples": int(b["n_samples"])}


def runs_table(rows: pd.DataFrame) -> pd.DataFrame:
    """:func:`_run_row` of every run in ``rows`` (rows of :func:`~rlmeta_interp.organism.records.gain_frame`)."""
    return pd.DataFrame([_run_row(g) for _, g in rows.groupby("name", sort=True)])


def recipe_runs(frame: pd.DataFrame, recipes: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """One row per distinct RL run of each recipe at its budget (``{recipe: {"steps": .., "lr": .., ...}}``, keys of
    :data:`~rlmeta_interp.organism.records.BUDGET_KEYS`), in the recipes' order."""
    if not recipes:
        raise InvalidConfigError("No recipe given: pass {recipe: {'steps': N, 'lr': x}}, e.g. {'composition':"
                                 " {'steps': 1500, 'lr': 1e-4}}.")
    return pd.concat([runs_table(select_runs(frame, r, **b)) for r, b in recipes.items()], ignore_index=True)


def budget_runs(frame: pd.DataFrame, recipe: str) -> pd.DataFrame:
    """One row per distinct RL run of ``recipe`` at every budget it was run with, ordered by steps then rate."""
    out = runs_table(select_runs(frame, recipe))
    return out.sort_values(["steps", "lr", "budget", "dose", "name"], kind="stable").reset_index(drop=True)


def tally(runs: pd.DataFrame, by: Sequence[str] = ("recipe", "dose_tag", "label")) -> pd.DataFrame:
    """Per group: runs, runs whose gain check passed (labelled runs), runs with a boundary gain whose CI is above 0
    (pass@n at some deeper level; bandits: regret), runs that took no step, and for pass@k recipes the mean base and
    guesser pass@n at the boundary level (how much room there was)."""
    t = pass_tally(runs, by)
    extra = runs.groupby(list(by), sort=True).agg(
        boundary_gain=("boundary_gain", "sum"), took_no_step=("kept_base_weights", "sum"),
        **({"base_pass@n": ("boundary_base", "mean"), "guess_pass@n": ("boundary_guess", "mean")}
           if "boundary_base" in runs else {})).reset_index()
    return t.merge(extra, on=list(by))


def check_word(passed: Any) -> str:
    """A run's gain check in a word: ``control`` (no check: no-signal runs), ``passed`` or ``failed``."""
    if passed is None or (isinstance(passed, float) and np.isnan(passed)):
        return "control"
    return "passed" if bool(passed) else "failed"


def _boundary_label(runs: pd.DataFrame) -> str:
    if runs["boundary_level"].isna().all():
        return "regret reduction (base - RL)"
    n = int(runs["n_samples"].dropna().iloc[0])
    levels = ", ".join(str(int(v)) for v in sorted(runs["boundary_level"].dropna().unique()))
    return f"pass@{n} change, level {levels}"


def _in_dist_label(runs: pd.DataFrame) -> str | None:
    levels = runs["in_dist_level"].dropna()
    return None if levels.empty else f"pass@1 change, level {int(levels.iloc[0])} (in-distribution)"


def _points(ax: Any, runs: pd.DataFrame, x: str, y: str, order: Sequence[Any]) -> None:
    """One point per run at its category of ``x`` (offset by label, spread within a label), with its CI; filled: the
    gain check passed, open: it failed, a cross: a control (no check), a square: the run took no step (its weights are
    its base's)."""
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
                ax.errorbar(xx, r[y], yerr=[[max(r[y] - r[f"{y}_lo"], 0)], [max(r[f"{y}_hi"] - r[y], 0)]],
                            color=colour, lw=0.8, capsize=0, alpha=0.7)
                check = check_word(r["passed"])
                marker = "s" if r["kept_base_weights"] else "x" if check == "control" else "o"
                ax.plot(xx, r[y], marker=marker, color=colour, mfc=colour if check == "passed" else "white", ms=5,
                        ls="")
        ax.plot([], [], marker="o", color=colour, ls="", label=label.replace("_", " "))
    ax.axhline(0, color=COLORS["control"], lw=1)
    ax.set_xticks(range(len(order)), [str(v) for v in order], fontsize=8)


def dose_figure(runs: pd.DataFrame) -> Any:
    """Per recipe (one column): its runs' boundary change (top) and pass@1 change at the in-distribution level
    (bottom) against the pretraining dose, one point per run (see :func:`_points`)."""
    recipes = list(dict.fromkeys(runs["recipe"]))
    fig, panels, _ = panel_grid(len(recipes), (3.8, 3.0), rows_per_panel=2, max_cols=4, sharey=False)
    for (top, bottom), recipe in zip(panels, recipes, strict=True):
        g = runs[runs["recipe"] == recipe]
        doses = list(dict.fromkeys(g.sort_values(["dose", "dose_tag"])["dose_tag"]))
        _points(top, g, "dose_tag", "boundary", doses)
        top.set_title(f"{recipe} ({g['world'].iloc[0]}; {g['budget'].iloc[0]})", fontsize=7)
        top.set_ylabel(_boundary_label(g), fontsize=8)
        if (lab := _in_dist_label(g)) is None:
            bottom.set_axis_off()
            bottom.text(0.5, 0.5, "one statistic per run (above)", ha="center", va="center", fontsize=8,
                        transform=bottom.transAxes)
            continue
        _points(bottom, g, "dose_tag", "pass@1_change", doses)
        bottom.set_ylabel(lab, fontsize=8)
        bottom.set_xlabel("pretraining dose")
    panels[0][0].legend(frameon=False, fontsize=7)
    fig.tight_layout()
    return fig


def budget_figure(runs: pd.DataFrame) -> Any:
    """One recipe's runs per RL budget: boundary change (top), pass@1 change at the in-distribution level (bottom;
    absent for a regret-measured recipe)."""
    import matplotlib.pyplot as plt  # after rlmeta_interp.plotting chose the backend

    order = list(dict.fromkeys(runs["budget"]))
    lab = _in_dist_label(runs)
    fig, axes = plt.subplots(2 if lab else 1, 1, figsize=(max(7.0, 1.4 * len(order)), 6.5 if lab else 3.8),
                             sharex=True, squeeze=False)
    pairs = [(axes[0, 0], "boundary", _boundary_label(runs))] + ([(axes[1, 0], "pass@1_change", lab)] if lab else [])
    for ax, y, ylab in pairs:
        _points(ax, runs, "budget", y, order)
        ax.set_ylabel(ylab, fontsize=8)
    axes[-1, 0].set_xlabel("RL budget")
    for t in axes[-1, 0].get_xticklabels():
        t.set(rotation=20, ha="right")
    axes[0, 0].legend(frameon=False, fontsize=7)
    axes[0, 0].set_title(f"{runs['recipe'].iloc[0]}: every RL run per budget", fontsize=9)
    fig.tight_layout()
    return fig


def example_runs(runs: pd.DataFrame, controls: bool = False) -> pd.DataFrame:
    """Per (recipe, dose, label) of pass@k recipes, its first run (lowest pretraining seed, then tuning seed, then
    name): the one whose curves :func:`curves_figure` draws; no-signal controls only with ``controls``."""
    passk = runs[runs["boundary_level"].notna() & (controls | (runs["label"] != "no_signal"))]
    if passk.empty:
        raise EmptyInputError("No run of a pass@k recipe among these runs: pass@k curves need depth or composition"
                              " runs (bandit runs are read by regret).")
    first = passk.sort_values(["recipe", "dose", "label", "pretrain_seed", "tune_seed", "name"], kind="stable")
    return first.groupby(["recipe", "dose", "label"], sort=False).head(1).reset_index(drop=True)


def curves_figure(records: Mapping[str, Mapping[str, Any]], examples: pd.DataFrame, *, n_boot: int = 1000) -> Any:
    """pass@k curves (base, RL, guesser) at each example run's boundary level, one panel per run, one row per
    recipe, with 95% CIs over problems (:func:`~..analysis.passk.passk_table`) from the recorded per-problem
    counts."""
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
            word = check_word(r["passed"])
            check = "took no step" if r["kept_base_weights"] else word if word == "control" else f"gain check {word}"
            ax.set_title(f"{r['name']}\n{r['label'].replace('_', ' ')}, dose {r['dose']:g}, level"
                         f" {int(r['boundary_level'])}; {check}", fontsize=7)
            if (i, j) != (0, 0):
                ax.get_legend().remove()
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------------------------- words
def _and(items: Sequence[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _labelled_line(runs: pd.DataFrame, label: str) -> str:
    """How the runs of one design label fared on their gain check, with the ones that took no step."""
    doses = ", ".join(dict.fromkeys(runs.sort_values(["dose", "dose_tag"])["dose_tag"]))
    passed = int(sum(check_word(v) == "passed" for v in runs["passed"]))
    what = ("regret reduction" if runs["measure"].iloc[0] == "regret" else
            "boundary expansion" if label == "creation" else "pass@1 gain")
    still = int(runs["kept_base_weights"].sum())
    return (f"{label} by design (dose {doses}) passed their gain check ({what}): {share_text(passed, len(runs))}"
            + (f"; {still} took no step (weights of its base)" if still else ""))


def _control_line(runs: pd.DataFrame) -> str:
    """What the random-reward controls of a group read: the gain a CI above 0 would claim, and how they ended."""
    gains = int(runs["boundary_gain"].sum())
    if runs["measure"].iloc[0] == "regret":
        return (f"random-reward controls with a regret reduction whose CI is above 0: {share_text(gains, len(runs))}"
                f" (median regret reduction {runs['boundary'].median():+.2f})")
    return (f"random-reward controls with a pass@n gain whose CI is above 0 at a deeper level:"
            f" {share_text(gains, len(runs))} (median pass@1 change at the in-distribution level"
            f" {runs['pass@1_change'].median():+.2f})")


def _group_line(g: pd.DataFrame) -> str:
    parts = [_labelled_line(g[g["label"] == lab], lab) for lab in LABEL_ORDER[:2] if (g["label"] == lab).any()]
    controls = g[g["label"] == "no_signal"]
    parts.append(_control_line(controls) if len(controls) else "no random-reward control at this budget")
    return "; ".join(parts)


def _room(g: pd.DataFrame) -> str:
    """The room a pass@k recipe's bases left at the boundary level: mean base pass@n per dose beside the guesser's."""
    if "boundary_base" not in g or g["boundary_base"].isna().all():
        return ""
    labelled = g[g["label"] != "no_signal"]
    base = labelled.groupby("dose_tag", sort=False)["boundary_base"].mean()
    n, level = int(g["n_samples"].dropna().iloc[0]), int(g["boundary_level"].dropna().iloc[0])
    return (f" Mean base pass@{n} at level {level} by dose: " + ", ".join(f"{d} {v:.2f}" for d, v in base.items())
            + f" (guesser {labelled['boundary_guess'].mean():.2f}).")


def _ceilings(g: pd.DataFrame) -> list[str]:
    """The doses at which the bases already solve the boundary level in n samples (no room for a gain there)."""
    if "boundary_base" not in g or g["boundary_base"].isna().all():
        return []
    room = g[g["label"] != "no_signal"].groupby("dose_tag")["boundary_base"].mean()
    return [f"dose {d} (mean base pass@n {v:.2f})" for d, v in room.items() if v >= CEILING]


def findings(runs: pd.DataFrame, knob_runs: pd.DataFrame, knob_recipe: str) -> str:
    """What the records say, in words computed from them: per recipe, how its creation runs, activation runs and
    random-reward controls fared, where a base left no room for a boundary change, and which recipes showed creation,
    failed to, or never tested it (no creation run, or every creation run took no step); then the same per RL budget
    of ``knob_recipe``."""
    lines = ["**Claim 4 across task families with labels fixed by design** (not as worded: none of these worlds is"
             " planning). Per recipe at its RL budget:", ""]
    shown, failed, untested = [], [], []
    for recipe, g in runs.groupby("recipe", sort=False):
        ceil = _ceilings(g)
        lines.append(f"- {recipe} ({g['world'].iloc[0]}; {g['budget'].iloc[0]}): {_group_line(g)}." + _room(g)
                     + (f" No room for a boundary change at {_and(ceil)}: the base already solves that level." if ceil
                        else ""))
        creation = g[g["label"] == "creation"]
        trained = creation[~creation["kept_base_weights"].astype(bool)]
        verb = "reduced regret" if g["measure"].iloc[0] == "regret" else "expanded the boundary"
        if any(check_word(v) == "passed" for v in creation["passed"]):
            shown.append(f"{recipe} ({verb})")
        elif len(trained):
            failed.append(recipe)
        else:
            untested.append(recipe)
    lines += ["", " ".join(filter(None, [
        f"RL on a base built without the capability showed the creation gain in some runs of {_and(shown)}." if shown
        else "RL on a base built without the capability showed the creation gain in no recipe here.",
        f"It trained and failed in every creation run of {_and(failed)}." if failed else "",
        f"The {_and(untested)} recipe{'s' if len(untested) > 1 else ''} did not test it: no creation run there took a"
        " step (no group of samples with rewards that differed), so RL could not learn anything." if untested else "",
        "Whether RL creates then differs between task families that it was able to train on." if shown and failed
        else ""])), ""]
    lines += [f"**Claim 5: the RL budgets of the {knob_recipe} recipe** (pilots run while choosing the recipe's"
              " budget, on bases and seeds that differ in part between budgets: a description, not a designed test;"
              " no KL or reference-reset knob was run). Per budget:", ""]
    lines += [f"- {budget}: {_group_line(g)}." for budget, g in knob_runs.groupby("budget", sort=False)]
    return "\n".join(lines)
