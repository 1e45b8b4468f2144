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
# # 09 · Too-hard RL samples: shortcuts and damage to what the base could already do
#
# **Claim 10** (docs/claims.md): overly hard RLVR samples teach shortcuts that damage existing abilities. Primary source:
# Cheng et al. 2605.28388: train on difficulty bands; measure answer repetition, skipped computation, and accuracy on
# tasks the model could already do; the effect is non-monotonic, with easy and medium samples helping most.
# docs/claims.md records no correction for this paper.
#
# **What would count as evidence.** For the claim: RL on a band too hard for the base lowers accuracy on problems the
# base already solved (a paired CI below 0) and raises shortcut rates (skipped scratchpad steps, direct answers
# without computation, repetition, copied operands) above the base's, while RL on a band the base can reach does not.
# Against it: no model damages already-solved problems, or RL on a reachable band damages them as much.
# This is about *how* RL changes behaviour rather than activation vs creation, but damage to abilities the base had
# is the flip side of activation: RL that only re-weights what exists should not destroy it.
#
# **What this notebook measures.** Each RL model beside its own base, sampled `N_SAMPLES` times on `N_PROBLEMS`
# held-out problems per operand count (the "eval" hash split where the world is leak-free, never in a pretraining
# corpus or an RL prompt set): accuracy per operand count; accuracy on problems the base already solved (selected on
# one half of the base's samples, measured on the other half so the selection does not inflate the base's score);
# shortcut behaviours read from the samples by rule (`rlmeta_interp.experiments.difficulty.shortcut_flags`). All CIs
# are 95% over problems, paired for differences: a bootstrap, or score intervals where every problem's value is 0 or 1
# (Wilson; Newcombe's paired one for differences).
# - *Paper zoo* (the default): one base (arithmetic, dose `DOSE`, pretrained on 2-4 operand chains) and the RL
#   variants `easy` (2 operands), `correct` (2-4) and `hard` (4 only); the claim is read from the variant names.
# - *Validation zoo* (`PAIRS` naming `val-arith-depth-d000-rl-edge` and `val-arith-depth-d010-rl-edge`, as the
#   figures of record run it): one RL recipe (300 steps on 5-operand chains, the same budget) from two bases of the
#   depth world: one pretrained on chains of at most 4 operands (dose 0) and one that also saw 10% deeper chains
#   (dose 0.1). Whether the band was too hard is read from the base's own samples on it (no correct sample), and the
#   claim is read per pair (`band_verdict`); a run that moved no weight (its base's checksum, bit for bit: every
#   reward group was uniform, so RL took no step) tests nothing and is left out of the reading.

# %% tags=["parameters"]
WORLD = "arithmetic"
DOSE = 0.5
SEED = 0
VARIANTS = ["easy", "correct", "hard"]
PAIRS = []  # pair names to compare instead (each beside its own base); empty: the variants above at DOSE, SEED
OPERANDS = [2, 3, 4]
N_PROBLEMS = 48
N_SAMPLES = 32
PROBLEM_SEED = 30000
SOLVED_THRESHOLD = 0.5
N_BOOT = 1000
SMOKE = False

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from rlmeta_interp import load_pair
from rlmeta_interp.analysis.stats import MEAN_CI_WORDS
from rlmeta_interp.experiments import difficulty as dy
from rlmeta_interp.organism.manifests import weights_moved
from rlmeta_interp.plotting import COLORS, bar_ci, line_ci, save_fig, set_style
from rlmeta_interp.selection import choose_pairs

if SMOKE:
    N_PROBLEMS, N_SAMPLES, N_BOOT = 6, 8, 100
set_style()
SPECS = choose_pairs(PAIRS, WORLD, variant=VARIANTS, dose=DOSE, seed=SEED, smoke=SMOKE)
LOADED = [load_pair(s.name) for s in SPECS]
GROUPS = dy.models_by_base(LOADED)  # {base name: {"base": base, RL label: RL model}}
WORLDS = {b: dy.difficulty_world(next(p for p in LOADED if p.base.name == b), OPERANDS) for b in GROUPS}
CONFIG = dy.DifficultyConfig(operands=tuple(OPERANDS), n_problems=N_PROBLEMS, n_samples=N_SAMPLES,
                             problem_seed=PROBLEM_SEED, seed=SEED, solved_threshold=SOLVED_THRESHOLD, n_boot=N_BOOT)
TUNED = sorted({m for g in GROUPS.values() for m in g if m != "base"}, key=str)
DRAWN = f"bases {', '.join(GROUPS)}; RL models {', '.join(TUNED)}"  # what every figure below draws, for its caption
PALETTE = {"base": COLORS["base"], "easy": COLORS["steered"], "correct": COLORS["rl"], "hard": COLORS["hybrid"],
           "edge": COLORS["rl"]}
MOVED = {p.name: weights_moved(p) for p in LOADED}  # None: a manifest records no weights checksum
UNMOVED = {b: [dy.tuned_label(p) for p in LOADED if p.base.name == b and MOVED[p.name] is False]
           for b in GROUPS}  # RL models whose recorded weights are their base's: their lines lie on the base's
TITLES = {b: b + (f"\n{', '.join(u)}: the base's weights, bit for bit" if u else "") for b, u in UNMOVED.items()}
pd.DataFrame([{"pair": s.name, "base": p.base.name, "model": dy.tuned_label(p), "dose": s.dose,
               "label fixed before RL": s.label or "-", "split": s.split or "-", "weights moved": MOVED[p.name]}
              for s, p in zip(SPECS, LOADED, strict=True)])

# %% [markdown]
# ## Sample every model on every difficulty level

# %%
RES = {b: dy.run_difficulty(models, WORLDS[b], CONFIG) for b, models in GROUPS.items()}
LEVELS = pd.concat([r.accuracy_by_level().assign(base=b) for b, r in RES.items()], ignore_index=True)
LEVELS

# %% [markdown]
# ## Accuracy per number of operands, each RL model beside its own base

# %%
fig, axes = plt.subplots(1, len(RES), figsize=(5.5 * len(RES), 4), squeeze=False, sharey=True)
for ax, (b, t) in zip(axes[0], LEVELS.groupby("base", sort=False), strict=True):
    line_ci(ax, t, "n_operands", "acc", "ci_lo", "ci_hi", hue="model", palette=PALETTE, marker="o")
    ax.set_xticks(OPERANDS)
    ax.set_title(TITLES[b], fontsize=10)
    ax.set_ylabel("")
axes[0][0].set_ylabel("accuracy (mean over samples)")
fig.suptitle(f"RL seed {SEED}: {N_PROBLEMS} held-out problems x {N_SAMPLES} samples per level")
fig.tight_layout()
save_fig(fig, 9, "accuracy_by_level", caption="Sampled accuracy (the world's verifier: under chain verification the"
         " scratchpad must be right too) per number of operands of each base (one panel each) and"
         f" the RL models tuned from it ({DRAWN}), with {MEAN_CI_WORDS}"
         + ("; a panel's title names the RL models whose weights are its base's (their lines lie on the base's)"
            if any(UNMOVED.values()) else "") + ".")

# %% [markdown]
# ## Problems the base already solved
# Selected where the base's accuracy on its first `N_SAMPLES / 2` samples is at least `SOLVED_THRESHOLD`; every model
# is scored on its other half. The base's bar is the honest reference (no selection bias).

# %%
SOLVED = pd.concat([r.already_solved().assign(base=b) for b, r in RES.items()], ignore_index=True)
fig, axes = plt.subplots(1, len(RES), figsize=(4.5 * len(RES), 4), squeeze=False, sharey=True)
for ax, (b, t) in zip(axes[0], SOLVED.groupby("base", sort=False), strict=True):
    bar_ci(ax, t, "model", "acc", "ci_lo", "ci_hi", colors=[PALETTE.get(m, COLORS["control"]) for m in t["model"]])
    ax.set_title(f"{TITLES[b]}\n{int(t['n_selected'].iloc[0])} problems it solved (threshold {SOLVED_THRESHOLD})",
                 fontsize=10)
    ax.set_ylabel("")
axes[0][0].set_ylabel("accuracy on base-solved problems (held-out half)")
fig.tight_layout()
save_fig(fig, 9, "already_solved", caption="Accuracy on problems each base already solved (selected on one half of the"
         f" base's samples, measured on the other half of every model's samples; {DRAWN}), with {MEAN_CI_WORDS}.")
SOLVED

# %% [markdown]
# ## Shortcuts read from the samples, by rule
# Rates per sample (CIs over problems). `modal answer` is the share of samples giving the model's most common answer
# across all problems; the dashed line is the same share for the true answers (repetition beyond it is collapse).
# With several bases, each bar is named `model @ base`.

# %%
CH = pd.concat([r.shortcut_changes().assign(base=b) for b, r in RES.items()], ignore_index=True)
RATES = pd.concat([r.shortcuts().assign(base=b) for b, r in RES.items()], ignore_index=True)
RATES["who"] = RATES["model"] if len(RES) == 1 else RATES["model"] + " @ " + RATES["base"]
SHOW = ["skipped_computation", "skipped_steps", "direct", "repeated", "wrong_step", "unfaithful", "copied_operand",
        "modal_answer_share"]
fig, axes = plt.subplots(2, 4, figsize=(14 + 2 * (len(RES) - 1), 6.5 + 1.5 * (len(RES) > 1)))
for ax, metric in zip(axes.flat, SHOW, strict=False):
    t = RATES[RATES.metric == metric]
    bar_ci(ax, t, "who", "rate", "ci_lo", "ci_hi", colors=[PALETTE.get(m, COLORS["control"]) for m in t["model"]])
    ax.set_title(metric.replace("_", " "), fontsize=10)
    ax.set_xlabel("")
    ax.set_ylabel("share of samples")
    if len(RES) > 1:
        ax.tick_params(axis="x", labelrotation=90, labelsize=7)
for truth in RATES.loc[RATES.metric == "truth_modal_answer_share", "rate"].unique():  # one line per distinct share
    axes.flat[-1].axhline(truth, color=COLORS["control"], lw=1.2, ls="--")
axes.flat[-1].set_title("modal answer share (dashed: true answers)", fontsize=10)
fig.suptitle(f"shortcut behaviours by rule; {len(OPERANDS)} levels x {N_PROBLEMS} problems x {N_SAMPLES} samples")
fig.tight_layout()
save_fig(fig, 9, "shortcuts", caption="Rates of rule-detected shortcuts per model (any skipped computation, skipped"
         " scratchpad steps, direct answers, repetition, wrong steps, unfaithful answers, copied operands) with"
         f" {MEAN_CI_WORDS}, and the modal-answer share against the true answers' share ({DRAWN}).")
CH.pivot(index="metric", columns=["base", "model"], values="rate")

# %% [markdown]
# ## What this run found

# %%
# each RL model's trained band, read against its base's samples (damage: paired CI below 0 on base-solved problems;
# shortcuts: skipped computation or repetition up, CI above 0)
BANDS = pd.concat([RES[p.base.name].band_table({dy.tuned_label(p): dy.trained_band(p)})
                   .assign(pair=p.name, moved=MOVED[p.name]) for p in LOADED], ignore_index=True)
lines = [f"- `{dy.tuned_label(p)}` beside `{p.base.name}`: {RES[p.base.name].model_sentence(dy.tuned_label(p))}"
         for p in LOADED]
# named pairs: the band's difficulty is the base's, read per pair from its samples; the paper zoo's variants name it
verdict = dy.band_verdict(BANDS.assign(model=BANDS["pair"])) if PAIRS else dy.named_band_verdict(BANDS)
display(BANDS)
display(Markdown(f"""
{verdict}

{chr(10).join(lines)}

_Bases {', '.join(f'`{b}`' for b in GROUPS)}; RL seed {SEED} per model; {N_PROBLEMS} held-out problems per operand
count {OPERANDS} (seed {PROBLEM_SEED}), {N_SAMPLES} samples each (sampling seed {SEED}, temperature 1); {MEAN_CI_WORDS},
with {N_BOOT} bootstrap resamples, paired by problem for changes vs the base. Shortcut rules: a scratchpad that
leaves out a step or operand, a direct answer, more steps than the chain needs or two answer markers (repetition),
a wrong step, a final answer that is not the last step's result, an answer equal to an operand._
"""))
