# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: rlmeta-interp
#     language: python
#     name: rlmeta-interp
# ---

# %% [markdown]
# # 08 Format collapse: does RL echo one pretraining format?
#
# **Claim 9.** RL collapses onto one of the answer formats seen in pretraining within the first epoch, and the collapse
# coincides with the biggest jump in accuracy; small models favour code-like formats, larger ones natural language;
# the KL penalty sets how extreme the collapse is (Zhao et al., arXiv 2504.07912, "Echo Chamber", code
# rosieyzh/openrlhf-pretrain: models pretrained from scratch on a mixture of answer formats, then RL-tuned).
# docs/claims.md records no correction for this paper.
#
# **What would count as evidence.** Collapse onto a format the base model already wrote is *activation*: RL amplifies
# a pretrained behaviour rather than inventing one (the paper's "echo chamber"). A new layout that the base never
# wrote would be creation. Accuracy gains that arrive with the collapse say the gain comes from choosing a format,
# not from computing better within one.
#
# **What this notebook measures** on the zoo's arithmetic organisms (pretrained on answers written directly, as a
# running sum in words, or as equations, the scratchpad share set by the exposure dose): at every RL checkpoint (step
# 0 = the base), the share of each format in `N_SAMPLES` samples per held-out problem (rule-based labels; 95% CIs
# over problems: a bootstrap, or Wilson's score interval where each problem's samples are all or none in a format),
# pass@1 and pass@k overall and within each format, the first step where one format's share reaches `THRESHOLD` (the
# collapse step) and the step of the biggest pass@1 jump. Controls: the base model (step 0) and the pretraining
# mixture; with only a few checkpoints, a collapse and the biggest jump coincide by chance with probability 1/(number
# of intervals). At dose `DOSE`, the final format shares of the RL variants the zoo has (KL coefficient 0 / default /
# 0.2, and the random- and format-reward controls) beside the base.
#
# **On a leak-free recipe with labels fixed before training** (`PAIRS`, the figures of record): the preset
# `format-dynamics` pretrains the depth world's bases (chains of 2 to 4 operands always worked, deeper ones only in the
# dose share; held-out problems never in a training stream) with every scratchpad written half as a running sum in
# words and half as equations, then RL-tunes them on chains of 2 to 5 operands with the depth recipe's budget, keeping
# the weights every 30 steps: from a dose-0 base (creation by design of the deeper chains) and a dose-0.1 base
# (activation), RL seeds 0 and 1 each, and a same-budget random-reward control per base. Each pair is read in its own
# world on held-out problems of its RL distribution, and the variants figure compares every named pair's final model
# beside its base. A collapse that the random-reward control shows as well is drift, not an echo of the reward.

# %% tags=["parameters"]
PRESET = "paper"  # zoo preset (SMOKE falls back to the shipped demo pairs)
WORLD = "arithmetic"
VARIANT = "correct"
SEED = 0  # RL seed of the pairs with checkpoints; also the sampling seed
PAIRS = []  # pair names whose RL models kept checkpoints, whatever else the zoo holds (the figures of record name theirs)
SMOKE = False
DOSE = 0.5  # dose at which RL variants (KL coefficients, spurious rewards) are compared
COMPARE_VARIANTS = ["kl0", "correct", "kl0.2", "random", "format"]
N_PROBLEMS = 64
N_SAMPLES = 32
KS = [1, 8, 32]
THRESHOLD = 0.9
PROBLEM_SEED = 50_000  # held-out problems (RL training uses problem_seed 1)
N_BOOT = 1000

# %%
if SMOKE:
    N_PROBLEMS, N_SAMPLES, KS, N_BOOT = 12, 4, [1, 4], 100

import logging

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from rlmeta_interp import load_pair, selection
from rlmeta_interp.analysis.dynamics import iter_checkpoints
from rlmeta_interp.analysis.formats import FORMAT_CI_WORDS, PASSK_CI_WORDS, collapse_summary, format_dynamics
from rlmeta_interp.experiments.training_runs import (collapse_tally, final_format_shares, final_models_to_compare,
                                                     pretraining_format_mix)
from rlmeta_interp.errors import InvalidConfigError
from rlmeta_interp.organism.trained_world import world_for
from rlmeta_interp.organism.worlds.arithmetic import ALL_FORMATS
from rlmeta_interp.plotting import COLORS, bar_ci, layout_under_title, line_ci, panel_grid, save_fig, set_style
from tqdm.auto import tqdm

logging.basicConfig(level=logging.WARNING)
set_style()
FORMATS = [*ALL_FORMATS, "other"]
FCOL = {"direct": COLORS["base"], "sum": COLORS["steered"], "eq": COLORS["rl"], "rewrite": COLORS["reference"],
        "other": COLORS["random"]}
SPECS = selection.choose_pairs(PAIRS, WORLD, variant=VARIANT, preset=PRESET, seed=SEED, smoke=SMOKE,
                              need_checkpoints=True)
if other := [s.name for s in SPECS if s.world != "arithmetic"]:
    raise InvalidConfigError(f"Pairs {other}: answer formats are read in the arithmetic world only; name arithmetic"
                             " pairs.")
SOURCE = SPECS.source
CASES = SPECS.case_labels()  # the label fixed before training, ", no gain" where the recorded gain check failed
TITLES = SPECS.titles() if PAIRS else {s.name: f"{s.name} (dose {s.dose:g})" for s in SPECS}
NOTE = SPECS.note(rl_named=False) if PAIRS else ""  # these figures name each model in full, never "RL"
pd.DataFrame([{"pair": s.name, "dose": s.dose, "seed": s.extra.get("seed"), "label": CASES[s.name]}
              for s in SPECS]).assign(source=SOURCE)

# %% [markdown]
# ## Format shares, pass@1 and pass@k at every checkpoint
# How to read the bands: where every problem's value is 0 or 1 (all of its samples in a format or none; pass@k with
# every problem solved), the band is Wilson's interval over the problems, about [0.94, 1] on 64 problems; a checkpoint
# where a few problems fall short gets the bootstrap's band instead, which can be narrower. So a band that widens at
# one checkpoint and narrows at the next marks that switch, not a change in the model.

# %%
RES, WORLDS = {}, {}  # each pair's world, read again by the variants figure
for s in tqdm(SPECS, desc="format dynamics per pair"):
    pair = load_pair(s.name)
    world = WORLDS[s.name] = world_for(pair, None if PAIRS else WORLD)
    problems = world.sample_held_out(N_PROBLEMS, seed=PROBLEM_SEED)
    RES[s.name] = format_dynamics(
        iter_checkpoints(pair.rl.folder, skeleton=pair.rl.hf), pair.rl.tokenizer, problems, world, world.format_of,
        n=N_SAMPLES, ks=KS, max_new_tokens=world.max_completion_chars(), formats=FORMATS, threshold=THRESHOLD,
        ignore=["other"], seed=SEED, n_boot=N_BOOT)
    RES[s.name]["mix"] = pretraining_format_mix(pair.base.manifest)
    RES[s.name]["dose"] = s.dose
pd.DataFrame([{"pair": k, "collapse": r["collapse"], "biggest_jump": r["biggest_jump"]} for k, r in RES.items()])

# %%
fig, panels, _ = panel_grid(len(RES), (6, 3.5), rows_per_panel=2, max_cols=3, sharey=False)
for (top, bottom), (name, r) in zip(panels, RES.items(), strict=True):
    line_ci(top, r["shares"], "step", "share", "ci_lo", "ci_hi", hue="format", palette=FCOL, marker="o")
    for f, v in r["mix"].items():
        top.axhline(v, color=FCOL[f], ls=":", lw=1)
    top.set_title(f"{TITLES[name]}: format shares\n(dotted: pretraining mix)", fontsize=8)
    top.set_ylim(-0.02, 1.02)
    pk = r["passk"][r["passk"]["format"] == "all"].assign(k=lambda d: "pass@" + d["k"].astype(str))
    line_ci(bottom, pk, "step", "pass@k", "ci_lo", "ci_hi", hue="k", marker="o")
    bottom.set_title("pass@k, all formats", fontsize=8)
    for ax in (top, bottom):
        if r["collapse"]:
            ax.axvline(r["collapse"]["step"], color="k", ls="--", lw=1, label="collapse")
        if r["biggest_jump"]:
            ax.axvspan(r["biggest_jump"]["from_step"], r["biggest_jump"]["step"], color=COLORS["reference"], alpha=0.12)
        ax.set_xlabel("RL step (0 = base)")
title = fig.suptitle(f"{N_PROBLEMS} held-out problems x {N_SAMPLES} samples per checkpoint, seed {SEED}; dashed: first"
                     f" step with a format share >= {THRESHOLD}; shaded: biggest pass@1 jump; {SOURCE}\n"
                     f"{FORMAT_CI_WORDS}", fontsize=8)
layout_under_title(fig, title)
save_fig(fig, 8, "format_dynamics", caption="Per RL checkpoint: the share of each answer format (with the pretraining"
         f" mix dotted) and pass@k over all formats, with {FORMAT_CI_WORDS}; the collapse step and the biggest"
         " pass@1 jump are marked." + NOTE)

# %% [markdown]
# ## Accuracy within each format
# pass@1 of the policy conditioned on writing a format (problems with at least one sample of that format). A format
# that dies out loses its points. If accuracy within every format stays flat while the shares move, the overall gain
# comes from the choice of format.

# %%
fig, panels, _ = panel_grid(len(RES), (6, 3.5), max_cols=3, sharey=False)
for (ax,), (name, r) in zip(panels, RES.items(), strict=True):
    within = r["passk"][(r["passk"]["k"] == 1) & (r["passk"]["format"].isin(ALL_FORMATS))]
    line_ci(ax, within, "step", "pass@k", "ci_lo", "ci_hi", hue="format", palette=FCOL, marker="o")
    ax.set_ylabel("pass@1 within the format")
    ax.set_xlabel("RL step (0 = base)")
    ax.set_title(TITLES[name], fontsize=8)
title = fig.suptitle(f"seed {SEED}; {SOURCE}\n{PASSK_CI_WORDS}", fontsize=8)
layout_under_title(fig, title)
save_fig(fig, 8, "accuracy_by_format", caption="pass@1 within each answer format per RL checkpoint, over the problems"
         f" with a sample in that format, with {PASSK_CI_WORDS}." + NOTE)

# %% [markdown]
# ## RL variants at one dose: KL coefficient and spurious-reward controls
# Final models only (these variants save no checkpoints); same problems and sampling seed. Which of
# `COMPARE_VARIANTS` exist depends on the zoo: the shipped format-dosed arithmetic RL models (`demo-arith-*`) have
# `correct` (and `long`) only.

# %%
# the final models beside their bases: every named pair's, or the zoo's RL variants at DOSE
models, vworld, MISSING = final_models_to_compare(SPECS, WORLDS, CASES, named=bool(PAIRS), world=WORLD, preset=PRESET,
                                                  variants=COMPARE_VARIANTS, dose=DOSE, seed=SEED)
VSHARES, VPASS = final_format_shares(models, vworld, vworld.sample_held_out(N_PROBLEMS, seed=PROBLEM_SEED), n=N_SAMPLES,
                                     ks=[1], formats=FORMATS, seed=SEED, n_boot=N_BOOT)

# %%
names = list(models)
BASE_NAMES = {s.base.name for s in SPECS} if PAIRS else {"base"}
fig, axes = plt.subplots(1, 2, figsize=(max(13, 2.2 * len(names)), 4.2 if not PAIRS else 5.5),
                         gridspec_kw={"width_ratios": [2, 1]})
width = 0.8 / len(FORMATS)
for i, f in enumerate(FORMATS):
    sub = VSHARES[VSHARES["format"] == f].set_index("model").loc[names]
    err = [(sub["share"] - sub["ci_lo"]).clip(lower=0), (sub["ci_hi"] - sub["share"]).clip(lower=0)]
    axes[0].bar(np.arange(len(names)) + (i - len(FORMATS) / 2 + 0.5) * width, sub["share"], width, yerr=err,
                capsize=2, color=FCOL[f], label=f)
axes[0].set_xticks(range(len(names)), names, fontsize=7, rotation=30 if PAIRS else 15,
                   ha="right" if PAIRS else "center")
axes[0].set_ylabel("share of samples")
axes[0].legend(frameon=False, fontsize=8, ncol=4)
ABSENT = f" (absent here: {', '.join(MISSING)})" if MISSING else ""
axes[0].set_title("final format shares, each named pair's RL model beside its base" if PAIRS else
                  f"final format shares at dose {DOSE:g}{ABSENT}", fontsize=9)
p1 = VPASS[(VPASS["format"] == "all") & (VPASS["k"] == 1)].set_index("model").loc[names].reset_index()
bar_ci(axes[1], p1, "model", "pass@k", "ci_lo", "ci_hi",
       colors=[COLORS["base"] if n in BASE_NAMES else COLORS["control"] if "no_signal" in n else COLORS["rl"]
               for n in names])
axes[1].tick_params(axis="x", labelsize=7, rotation=30 if PAIRS else 15)
if PAIRS:
    plt.setp(axes[1].get_xticklabels(), ha="right")
axes[1].set_ylabel("pass@1")
axes[1].set_xlabel("")
title = fig.suptitle(f"{N_PROBLEMS} held-out problems x {N_SAMPLES} samples, seed {SEED}; {SOURCE}\n{FORMAT_CI_WORDS}",
                     fontsize=8)
layout_under_title(fig, title)
save_fig(fig, 8, "variants", caption=("Final answer-format shares and pass@1 of each named pair's RL model beside its"
                                      " base (grey pass@1 bars: random-reward controls), with"
                                      f" {FORMAT_CI_WORDS}, on held-out problems of the first pair's world."
                                      + NOTE) if PAIRS else
         "Final answer-format shares and pass@1 of the RL variants at one dose (KL coefficients and spurious-reward"
         " controls, where the zoo has them) beside their base, with " + FORMAT_CI_WORDS + ".")

# %% [markdown]
# ## What this run found

# %%
lines = [f"Source: {SOURCE}; {N_PROBLEMS} held-out problems x {N_SAMPLES} samples per checkpoint, seed {SEED};"
         f" {FORMAT_CI_WORDS}; collapse = first step with one format's share >= {THRESHOLD}.", ""]
SUMS = {name: collapse_summary(r) for name, r in RES.items()}
for name, c in SUMS.items():
    col, jump = c["collapse"], c["biggest_jump"]
    lines.append(
        f"- **{name}** (dose {RES[name]['dose']:g}{', ' + CASES[name] if CASES[name] else ''}): shares at step {c['first_step']} (base) "
        + ", ".join(f"{f} {v[0]:.2f}" for f, v in c["first_shares"].items()) + f"; at step {c['last_step']} "
        + ", ".join(f"{f} {v[0]:.2f} [{v[1]:.2f}, {v[2]:.2f}]" for f, v in c["last_shares"].items())
        + " (pretraining mix " + ", ".join(f"{f} {v:.2f}" for f, v in RES[name]["mix"].items()) + "). "
        + (f"Collapse onto **{col['format']}** at step {col['step']} (share {col['share']:.2f})" if col else
           f"No collapse: the top format at the end ({c['top_format']}) stays below {THRESHOLD}")
        + f"; pass@{c['k']} {c['pass_first'][0]:.3f} [{c['pass_first'][1]:.3f}, {c['pass_first'][2]:.3f}] ->"
        f" {c['pass_last'][0]:.3f} [{c['pass_last'][1]:.3f}, {c['pass_last'][2]:.3f}]"
        + (f"; biggest jump {jump['jump']:+.3f} between steps {jump['from_step']} and {jump['step']}" if jump else "")
        + (f"; the collapse {'coincides' if c['coincide'] else 'does not coincide'} with it (chance {c['chance']:.2f})"
           if c["coincide"] is not None else "") + ".")
v1 = VPASS[(VPASS["format"] == "all") & (VPASS["k"] == 1)].set_index("model")
top_share = VSHARES[VSHARES["format"] != "other"].groupby("model")["share"].max()
lines.append(("- Final models: " if PAIRS else f"- Variants at dose {DOSE:g} (final models): ") + "; ".join(
    f"{m}: largest format share {top_share[m]:.2f}, pass@1 {v1.loc[m, 'pass@k']:.3f} [{v1.loc[m, 'ci_lo']:.3f},"
    f" {v1.loc[m, 'ci_hi']:.3f}]" for m in names) + (f". Absent from this zoo: {', '.join(MISSING)}." if MISSING else "."))
TALLY = collapse_tally(SUMS, CASES)  # rewarded runs apart from random-reward controls
verdict = (f"RL collapsed onto one format in {len(TALLY['collapsed'])} of {len(TALLY['rewarded'])} rewarded runs, and"
           f" the collapse coincided with the biggest accuracy jump in {len(TALLY['coincide'])}" if TALLY["collapsed"]
           else f"no rewarded run collapsed onto one format (share >= {THRESHOLD}) within its RL run, so the"
           " echo-chamber collapse is not reproduced here; with no collapse, its coincidence with the accuracy jump"
           " cannot be tested")
if TALLY["controls"]:
    verdict += (f"; the random-reward controls collapsed onto one format in {len(TALLY['controls_collapsed'])} of"
                f" {len(TALLY['controls'])}" + (" (there a collapse is drift under training, not an echo of the"
                                                 " reward)" if TALLY["controls_collapsed"] else ""))
lines += ["", "What this says about claim 9: " + verdict + "." + (
    " No KL variant was run on this recipe." if PAIRS else
    " A KL effect can only be judged where the KL variants exist (see the list above).")]
display(Markdown("\n".join(lines)))
