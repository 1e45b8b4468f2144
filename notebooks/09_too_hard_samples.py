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
# **What would count as evidence.** For the claim: RL on the hard band (4-operand chains only) lowers accuracy on
# problems the base already solved (a paired CI below 0) and raises shortcut rates (skipped scratchpad steps, direct
# answers without computation, repetition, copied operands) above the base's, while RL on the easy or mixed band does
# not. Against it: no variant damages already-solved problems, or the hard band helps as much as the others.
# This is about *how* RL changes behaviour rather than activation vs creation, but damage to abilities the base had
# is the flip side of activation: RL that only re-weights what exists should not destroy it.
#
# **What this notebook measures** on the organism zoo (arithmetic, dose `DOSE`, the base pretrained on 2-4 operand
# chains): the base and the RL variants `easy` (2 operands), `correct` (the default 2-4 operands) and `hard`
# (4 operands only), each sampled `N_SAMPLES` times on `N_PROBLEMS` problems per operand count. Accuracy per operand count;
# accuracy on problems the base already solved (selected on one half of the base's samples, measured on the other
# half so the selection does not inflate the base's score); shortcut behaviours read from the samples by rule
# (`rlmeta_interp.experiments.difficulty.shortcut_flags`). All CIs are 95% bootstrap over problems, paired for
# differences.

# %% tags=["parameters"]
WORLD = "arithmetic"
DOSE = 0.5
SEED = 0
VARIANTS = ["easy", "correct", "hard"]
OPERANDS = [2, 3, 4]
N_PROBLEMS = 48
N_SAMPLES = 32
PROBLEM_SEED = 30000
SOLVED_THRESHOLD = 0.5
N_BOOT = 1000
SMOKE = False

# %%
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from rlmeta_interp import load_pair
from rlmeta_interp.experiments import boundary as bd
from rlmeta_interp.experiments import difficulty as dy
from rlmeta_interp.plotting import COLORS, bar_ci, line_ci, save_fig, set_style
from rlmeta_interp.registry import select_pairs

if SMOKE:
    N_PROBLEMS, N_SAMPLES, N_BOOT = 6, 8, 100
set_style()
SPECS = {p.extra["variant"]: p for p in select_pairs(WORLD, variant=VARIANTS, dose=DOSE, seed=SEED, smoke=SMOKE)}
PAIRS = {v: load_pair(s.name) for v, s in SPECS.items()}
BASE = next(iter(PAIRS.values())).base
assert all(p.base.name == BASE.name for p in PAIRS.values()), "the variants must share one base model"
MODELS = {"base": BASE} | {v: p.rl for v, p in PAIRS.items()}
WORLD_OBJ = dy.difficulty_world(next(iter(PAIRS.values())), OPERANDS)
CONFIG = dy.DifficultyConfig(operands=tuple(OPERANDS), n_problems=N_PROBLEMS, n_samples=N_SAMPLES,
                             problem_seed=PROBLEM_SEED, seed=SEED, solved_threshold=SOLVED_THRESHOLD, n_boot=N_BOOT)
PALETTE = {"base": COLORS["base"], "easy": COLORS["steered"], "correct": COLORS["rl"], "hard": COLORS["hybrid"]}
{v: s.name for v, s in SPECS.items()}

# %% [markdown]
# ## Sample every model on every difficulty level

# %%
RES = dy.run_difficulty(MODELS, WORLD_OBJ, CONFIG)
LEVELS = RES.accuracy_by_level()
LEVELS

# %% [markdown]
# ## Accuracy per number of operands

# %%
fig, ax = plt.subplots()
line_ci(ax, LEVELS, "n_operands", "acc", "ci_lo", "ci_hi", hue="model", palette=PALETTE, marker="o")
ax.set_xticks(OPERANDS)
ax.set_ylabel("accuracy (mean over samples)")
ax.set_title(f"dose {DOSE}, RL seed {SEED}: {N_PROBLEMS} problems x {N_SAMPLES} samples per level")
save_fig(fig, 9, "accuracy_by_level", caption="Sampled accuracy of the base and each difficulty-band RL variant per number"
         " of operands, with 95% bootstrap CIs over problems.")

# %% [markdown]
# ## Problems the base already solved
# Selected where the base's accuracy on its first `N_SAMPLES / 2` samples is at least `SOLVED_THRESHOLD`; every model
# is scored on its other half. The base's bar is the honest reference (no selection bias).

# %%
SOLVED = RES.already_solved()
fig, ax = plt.subplots()
bar_ci(ax, SOLVED, "model", "acc", "ci_lo", "ci_hi", colors=[PALETTE.get(m, COLORS["control"]) for m in SOLVED["model"]])
ax.set_ylabel("accuracy on base-solved problems (held-out half)")
ax.set_title(f"{int(SOLVED['n_selected'].iloc[0])} problems the base solved (threshold {SOLVED_THRESHOLD})")
save_fig(fig, 9, "already_solved", caption="Accuracy on problems the base already solved (selected on one half of the"
         " base's samples, measured on the other half of every model's samples), with 95% bootstrap CIs.")
SOLVED

# %% [markdown]
# ## Shortcuts read from the samples, by rule
# Rates per sample (CIs over problems). `modal answer` is the share of samples giving the model's most common answer
# across all problems; the grey line is the same share for the true answers (repetition beyond it is collapse).

# %%
CH = RES.shortcut_changes()
RATES = RES.shortcuts()
SHOW = ["skipped_computation", "skipped_steps", "direct", "repeated", "wrong_step", "unfaithful", "copied_operand",
        "modal_answer_share"]
fig, axes = plt.subplots(2, 4, figsize=(14, 6.5))
for ax, metric in zip(axes.flat, SHOW, strict=False):
    t = RATES[RATES.metric == metric]
    bar_ci(ax, t, "model", "rate", "ci_lo", "ci_hi", colors=[PALETTE.get(m, COLORS["control"]) for m in t["model"]])
    ax.set_title(metric.replace("_", " "), fontsize=10)
    ax.set_xlabel("")
    ax.set_ylabel("share of samples")
truth = RATES[RATES.metric == "truth_modal_answer_share"]["rate"].iloc[0]
axes.flat[-1].axhline(truth, color=COLORS["control"], lw=1.2, ls="--")
axes.flat[-1].set_title("modal answer share (dashed: true answers)", fontsize=10)
fig.suptitle(f"shortcut behaviours by rule; {len(OPERANDS)} levels x {N_PROBLEMS} problems x {N_SAMPLES} samples")
fig.tight_layout()
save_fig(fig, 9, "shortcuts", caption="Rates of rule-detected shortcuts per model (any skipped computation, skipped"
         " scratchpad steps, direct answers, repetition, wrong steps, unfaithful answers, copied operands) with 95%"
         " bootstrap CIs over problems, and the modal-answer share against the true answers' share.")
CH.pivot(index="metric", columns="model", values="rate")

# %% [markdown]
# ## What this run found

# %%
two = LEVELS[LEVELS.n_operands == min(OPERANDS)].set_index("model")
sol = SOLVED.set_index("model")
chg = CH.set_index(["model", "metric"])
variants = [v for v in MODELS if v != "base"]


def _cmp(lo, hi):
    return "lower than" if hi < 0 else "higher than" if lo > 0 else "not detectably different from"


lines = []
for v in variants:
    s = (f"- `{v}` (`{SPECS[v].name}`): on {min(OPERANDS)}-operand problems accuracy {bd.fmt_ci(two.loc[v, 'acc'], digits=3)},"
         f" change vs base {bd.fmt_ci(two.loc[v, 'd_vs_ref'], two.loc[v, 'd_lo'], two.loc[v, 'd_hi'], 3)}"
         f" ({_cmp(two.loc[v, 'd_lo'], two.loc[v, 'd_hi'])} the base)")
    if sol.loc[v, "n_selected"] > 0:
        s += (f"; on the {int(sol.loc[v, 'n_selected'])} base-solved problems"
              f" {bd.fmt_ci(sol.loc[v, 'acc'], sol.loc[v, 'ci_lo'], sol.loc[v, 'ci_hi'])}, change"
              f" {bd.fmt_ci(sol.loc[v, 'd_vs_ref'], sol.loc[v, 'd_lo'], sol.loc[v, 'd_hi'])}")
    sc = chg.loc[(v, "skipped_computation")]
    rp = chg.loc[(v, "repeated")]
    s += (f"; skipped computation {bd.fmt_ci(sc['rate'])} (change {bd.fmt_ci(sc['d_vs_ref'], sc['d_lo'], sc['d_hi'])}),"
          f" repetition {bd.fmt_ci(rp['rate'], digits=3)} (change {bd.fmt_ci(rp['d_vs_ref'], rp['d_lo'], rp['d_hi'], 3)}).")
    lines.append(s)
damaged = [v for v in variants if sol.loc[v, "n_selected"] > 0 and sol.loc[v, "d_hi"] < 0]
shortcut = [v for v in variants if chg.loc[(v, "skipped_computation"), "d_lo"] > 0 or chg.loc[(v, "repeated"), "d_lo"] > 0]
if "hard" in variants:
    agrees = "hard" in damaged and "hard" in shortcut and not ({"easy", "correct"} & set(damaged))
    verdict = ("**Agrees with claim 10**: only hard-band RL damaged base-solved problems, and it raised shortcut rates."
               if agrees else
               f"**Does not reproduce claim 10 as stated**: variants that damaged base-solved problems (CI below 0):"
               f" {damaged or 'none'}; variants that raised skipped computation or repetition (CI above 0):"
               f" {shortcut or 'none'}. The claim predicts `hard` in both lists and `easy`/`correct` in neither.")
else:
    verdict = ("The hard-band variant is not in this zoo (smoke mode or a partial zoo), so claim 10 is not tested here:"
               " build it with `rlmeta-interp zoo build --preset paper`.")
display(Markdown(f"""
{verdict}

{chr(10).join(lines)}

_Base `{BASE.name}` (dose {DOSE}); RL seed {SEED} per variant; {N_PROBLEMS} problems per operand count
{OPERANDS} (seed {PROBLEM_SEED}), {N_SAMPLES} samples each (sampling seed {SEED}, temperature 1); 95% bootstrap CIs
over problems ({N_BOOT} resamples), paired by problem for changes vs the base. Shortcut rules: a scratchpad that
leaves out a step or operand, a direct answer, more steps than the chain needs or two answer markers (repetition),
a wrong step, a final answer that is not the last step's result, an answer equal to an operand._
"""))
