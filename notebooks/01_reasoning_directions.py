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
# # 01 Do reasoning directions already exist in base activations?
#
# **Claim (docs/claims.md, claim 1, with the direction evidence of claim 2).** RL elicits reasoning that is already
# present in the base model's activations: an RL-trained steering vector alone recovers most of RL's gain (Sinii et
# al. arXiv:2505.18706: Qwen2.5-Math-1.5B on GSM8K, 79.9 with the vector vs 86.5 with full RL), and a direction
# taken from *base* Llama-3.1-8B activations induces backtracking in the reasoning model (Ward et al.
# arXiv:2507.12638). Other techniques in the same family: Wang et al. arXiv:2506.03295, Wang & Zhou
# arXiv:2402.10200, He et al. arXiv:2601.08058, Galichin et al. arXiv:2503.18878. CORRECTION noted in docs/claims.md:
# the "five converging methods" framing is a synthesis, not a measured result.
#
# **What would count as evidence.** *Activation*: the behaviour direction fitted in the RL model (scratchpad vs
# direct answer) is already there, in the same place, in the base: high cosine between the two models' directions,
# beating a shuffled-label null that keeps the two models' shared geometry (the *shared* null, not only the
# independent one); a probe fitted on RL activations reads base activations as well as its own; steering the base
# with its *own* direction recovers as much of the RL gain as the RL direction does, more than equal-norm random
# vectors and the bias-only vector. *Creation*: low cosine, probes that do not transfer, no recovery from the
# base's own direction.
#
# **What this notebook measures.** For every arithmetic pair of the zoo at each exposure dose (demo: 0 and 0.5;
# paper: 0, 0.1 and 0.5): per-layer direction cosines with both shuffled nulls, probe transfer in both directions,
# and steering recovery at one layer (multiplier chosen per vector on a dev half of the problems, reported on the
# test half). The dose is the ground truth: a dose-0 base never saw a scratchpad in pretraining.
#
# **On the validation zoo** (`PAIRS` naming the fine-tuned depth pairs, as the figures of record run it: the shipped
# `val-arith-depth-d000-sft-deep` and `val-arith-depth-d010-sft-deep`, and their twins of pretraining seeds 1 and 2,
# built locally with the command `notebooks/figures_params.json` gives): pairs of the depth world, whose bases write
# one scratchpad (a rewrite chain) at every dose and differ in the share of worked chains deeper than 4 operands (0 and
# 0.1); each base is fine-tuned under one budget on deeper chains: creation by construction and its activation twin,
# labels fixed before tuning and shown beside each pair. There the behaviour contrast is the dosed capability, deep
# chains against shallow ones (both teacher-forced), and steering recovery is measured on held-out chains of
# `OPERANDS` operands. These pairs are tuned by supervised fine-tuning, not RL: "RL" below names each pair's tuned
# model, whatever tuned it.
#
# **On a real model pair** (`PAIRS` naming a hub pair from the local hub cache, e.g. `[orz-0.5b]`, or an adapter
# pair): the pair is measured as a real LM, the way notebook 00 steers one. The contrast is two-number questions
# answered step by step against the bare answer (both teacher-forced), and steering recovery is scored on other
# questions of the same kind, asked as plain `Question: ... Answer:` prompts (not in the pair's own chat or training
# template; an adapter pair too is asked these, not its training world's), answered in free text (`REAL_NEW_TOKENS`
# tokens, by default enough for any answer in the contrast's worked format, not for a wordier one) and read by a
# heuristic verifier. A real pair has no dose and no label, and its questions are not held out of its pretraining,
# which nobody here knows. Set `STEER_LAYER` to a layer of that model (e.g. about half its depth).

# %% tags=["parameters"]
WORLD = "arithmetic"
PRESET = "auto"  # "auto": whichever of the paper and demo presets holds more doses (ties: paper)
VARIANT = "correct"
SEED = 0  # RL seed of the pairs
DOSES = []  # empty: every dose found in the preset
PAIRS = []  # pair names to compare, whatever else the zoo holds (the figures of record name theirs); empty: as above
OPERANDS = 0  # with PAIRS: steering recovery on held-out chains of this many operands (a real pair: questions of this
#   many numbers); 0: each pair's own world (a real pair: two numbers)
SMOKE = False
METHOD = "diff_means"  # or "probe": how each model's direction is fitted
N_CONTRAST = 96  # problems per side of the behaviour contrast (scratchpad vs direct, or deep vs shallow chains)
N_PROBLEMS = 64  # problems for steering recovery (half dev, half test), none of them a contrast prompt
STEER_LAYER = 2
MULTIPLIERS = [0.25, 0.5, 1.0, 2.0]
N_RANDOM = 3
N_SHUFFLES = 200
N_BOOT = 1000
PROBLEM_SEED = 10000
MIN_GAP = 0.05  # RL minus base accuracy below which there is no gap to recover
REAL_NEW_TOKENS = 0  # greedy tokens per answer of a real pair (hub or adapter); 0: enough for any worked answer
DEVICE = "cpu"  # where the pairs are loaded: "cuda" puts a real model pair on the GPU
DTYPE = "float32"  # or "bfloat16" / "float16" (a real model pair on a GPU)

# %%
from rlmeta_interp.selection import choose_pairs

if SMOKE:
    N_CONTRAST, N_PROBLEMS, N_RANDOM, N_SHUFFLES, N_BOOT, MULTIPLIERS = 8, 6, 1, 10, 50, [2.0]
# the named pairs, else the preset's (smoke runs: the demo preset's); missing pairs raise with the build command
specs = choose_pairs(PAIRS, WORLD, operands=OPERANDS, preset=PRESET, variant=VARIANT, seed=SEED, dose=DOSES or None,
                     smoke=SMOKE)

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from rlmeta_interp import LoadConfig, load_pair
from rlmeta_interp.analysis.directions import DirectionConfig
from rlmeta_interp.experiments import diffing
from rlmeta_interp.experiments.pair_steering import direction_task, is_real_lm
from rlmeta_interp.plotting import COLORS, bar_ci, condition_bars, line_ci, panel_grid, save_fig, set_style
from rlmeta_interp.report import fmt_interval, fmt_num
from tqdm.auto import tqdm

# %matplotlib inline
set_style()

# %%
display(pd.DataFrame([{"pair": s.name, "dose": s.dose, "label": s.label or "", "preset": s.extra.get("preset"),
                       "base": s.base.name} for s in specs]))

# %% [markdown]
# ## Directions and probes, every layer
# The behaviour contrast follows the base's corpus: each problem written with a scratchpad (1) and directly (0) where
# the dose controls the format; held-out worked chains deeper than the base's always-shown depth (1) against shallower
# ones (0) where it controls depth; for a real pair, two-number questions answered step by step (1) and with the bare
# number (0). Each text's activation is the mean over its completion tokens, in each model, on the same texts.

# %%
dcfg = DirectionConfig(method=METHOD, n_shuffles=N_SHUFFLES, n_boot=N_BOOT, seed=SEED)
rcfg = diffing.RecoveryConfig(multipliers=tuple(MULTIPLIERS), n_random=N_RANDOM, n_boot=N_BOOT, seed=SEED)
cos_frames, tr_frames, rec_frames, chosen, behaviours, notes, real = [], [], [], {}, {}, {}, set()
labels = specs.case_labels()  # the label fixed before tuning, ", no gain" where its gain check failed
titles = specs.titles()  # panel titles: name, dose and that label
for spec in tqdm(specs, desc="direction report per pair"):
    pair = load_pair(spec.name, LoadConfig(device=DEVICE, dtype=DTYPE))
    # a real LM pair gets two-number questions; an organism its dosed behaviour, in its world or OPERANDS-long chains
    task = direction_task(pair, operands=OPERANDS, n_contrast=N_CONTRAST, n_problems=N_PROBLEMS,
                          problem_seed=PROBLEM_SEED, word_new_tokens=REAL_NEW_TOKENS)
    contrast = task.contrast
    behaviours[pair.name] = contrast.behaviour
    notes[pair.name] = task.note  # "held-out" only where problems come from an eval split, never for a real pair
    if is_real_lm(pair):
        real.add(pair.name)
    rep = diffing.direction_report(pair, contrast, config=dcfg)
    tag = {"pair": pair.name, "dose": pair.dose, "label": labels[spec.name]}
    cos_frames.append(rep.cosines.assign(**tag))
    tr_frames.append(rep.transfer.assign(**tag))
    rec = diffing.steering_recovery_report(pair, task.world, rep, STEER_LAYER, task.problems, rcfg,
                                           new_tokens=task.new_tokens)
    rec_frames.append(rec.test.assign(**tag))
    chosen[pair.name] = rec.chosen
cosines = pd.concat(cos_frames, ignore_index=True)
transfer = pd.concat(tr_frames, ignore_index=True)
recovery = pd.concat(rec_frames, ignore_index=True)
behaviour = " / ".join(dict.fromkeys(behaviours.values()))  # the contrast(s) drawn, for the captions
named = specs.note()
display(cosines[["pair", "dose", "layer", "cosine", "ci_lo", "ci_hi", "null_indep_hi", "null_shared_hi", "p_indep", "p_shared"]])

# %%
pairs = list(dict.fromkeys(cosines["pair"]))
fig, panels, cols = panel_grid(len(pairs), (4.2, 3.2), rows_per_panel=2)
for (ax, ax_log), name in zip(panels, pairs, strict=True):
    c = cosines[cosines.pair == name].sort_values("layer")
    line_ci(ax, c.assign(series="cos(base dir, RL dir)"), "layer", "cosine", "ci_lo", "ci_hi", hue="series",
            palette={"cos(base dir, RL dir)": COLORS["rl"]}, marker="o")
    ax.plot(c.layer, c.null_shared_hi, "s--", color=COLORS["control"], label="shared-permutation null (97.5%)")
    ax.plot(c.layer, c.null_indep_hi, "^:", color=COLORS["random"], label="independent null (97.5%)")
    ax.get_legend().remove()
    ax.set_title(titles[name], fontsize=9)
    # the same numbers as distance from identical directions, on a log scale: below the null line beats it
    dist = c.assign(d=1 - c.cosine, d_lo=1 - c.ci_hi, d_hi=1 - c.ci_lo, series="1 - cos")
    line_ci(ax_log, dist, "layer", "d", "d_lo", "d_hi", hue="series", palette={"1 - cos": COLORS["rl"]}, marker="o")
    ax_log.get_legend().remove()
    ax_log.plot(c.layer, 1 - c.null_shared_hi, "s--", color=COLORS["control"])
    ax_log.plot(c.layer, 1 - c.null_indep_hi, "^:", color=COLORS["random"])
    ax_log.set_yscale("log")
    for a in (ax, ax_log):
        a.set_xticks(c.layer)
        a.set_ylabel("")
    ax.set_xlabel("")
for ax, ax_log in panels[::cols]:
    ax.set_ylabel("cosine")
    ax_log.set_ylabel("1 - cosine (log)")
panels[-1][0].legend(frameon=False, fontsize=8)
fig.tight_layout()
save_fig(fig, 1, "direction_cosines",
         caption=f"Cosine between the base and the RL model's direction ({behaviour}; {METHOD}) per layer, 95%"
                 f" bootstrap CI over {2 * N_CONTRAST} contrast texts, beside the 97.5% quantiles of {N_SHUFFLES}"
                 f" shuffled-label nulls (shared permutation, independent permutations); bottom: the same as 1 - cosine"
                 f" on a log scale;" + (named if PAIRS else f" RL seed {SEED}."))
plt.show()

# %%
fig, panels, cols = panel_grid(len(pairs), (4.2, 3.6))
series = transfer.assign(series="fit on " + transfer.source + ", scored on " + transfer.target)
palette = {"fit on rl, scored on rl": COLORS["rl"], "fit on rl, scored on base": COLORS["base"],
           "fit on base, scored on base": COLORS["steered"], "fit on base, scored on rl": COLORS["hybrid"]}
for (ax,), name in zip(panels, pairs, strict=True):
    t = series[series.pair == name]
    line_ci(ax, t, "layer", "accuracy", "ci_lo", "ci_hi", hue="series", palette=palette, marker="o")
    ax.axhline(t.chance.max(), color=COLORS["control"], ls=":", label="chance (majority class)")
    ax.get_legend().remove()
    ax.set_title(titles[name], fontsize=9)
    ax.set_xticks(sorted(t.layer.unique()))
    ax.set_ylabel("")
for (ax,) in panels[::cols]:
    ax.set_ylabel("held-out accuracy")
panels[-1][0].legend(frameon=False, fontsize=8)
fig.tight_layout()
save_fig(fig, 1, "probe_transfer",
         caption=f"Logistic probes for {behaviour}, fitted on one model and scored on held-out texts of both"
                 f" (cross-fitted, {dcfg.n_folds} stratified folds, a repeated text in one fold, each model standardised by its own"
                 f" training fold),"
                 f" 95% Wilson intervals over {2 * N_CONTRAST} texts, chance = majority class;"
                 + (named if PAIRS else f" RL seed {SEED}."))
plt.show()

# %% [markdown]
# ## Steering recovery at one layer
# The base model is steered at `STEER_LAYER` (every position) with its own direction (`own`), the RL model's
# (`from_rl`), the bias-only vector (mean RL minus mean base activation, no labels) and equal-norm random vectors;
# each vector's multiplier is picked on the dev half, and the test half is reported.

# %%
display(recovery[["pair", "dose", "condition", "seed", "multiplier", "accuracy", "acc_ci_lo", "acc_ci_hi",
                  "gap_recovered", "ci_lo", "ci_hi", "n"]])

# %%
order = ["unsteered_base", "rl_model", "own", "random:own", "from_rl", "random:from_rl", "bias"]
colors = {"unsteered_base": COLORS["base"], "rl_model": COLORS["rl"], "own": COLORS["steered"], "from_rl": COLORS["hybrid"],
          "bias": COLORS["reference"], "random:own": COLORS["random"], "random:from_rl": COLORS["random"]}
fig, panels, cols = panel_grid(len(pairs), (4.6, 3.8))
for (ax,), name in zip(panels, pairs, strict=True):
    r = condition_bars(recovery[recovery.pair == name], order, {"unsteered_base": "base", "rl_model": "RL"})
    bar_ci(ax, r, "bar", "accuracy", "acc_ci_lo", "acc_ci_hi", colors=[colors[c] for c in r.condition])
    ax.tick_params(axis="x", labelrotation=90, labelsize=8)
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.set_title(f"{titles[name]}, layer {STEER_LAYER}",
                 fontsize=9)
for (ax,) in panels[::cols]:
    ax.set_ylabel("greedy accuracy (test half)")
fig.tight_layout()
save_fig(fig, 1, "steering_recovery",
         caption=f"Greedy accuracy on the test half ({N_PROBLEMS - N_PROBLEMS // 2} {' / '.join(dict.fromkeys(notes.values()))}) of the"
                 f" base model unsteered, the RL model, and the base steered at layer {STEER_LAYER} by its own direction"
                 f" ({behaviour}), the RL model's direction, the bias-only vector and {N_RANDOM} equal-norm random"
                 f" vectors per direction (one bar per seed, seeds {SEED}..{SEED + N_RANDOM - 1}); multipliers chosen on"
                 " the dev half; 95% Wilson intervals." + (named if PAIRS else ""))
plt.show()

# %% [markdown]
# ## What this run found

# %%
lines = []
for name in pairs:
    c = cosines[(cosines.pair == name) & (cosines.layer == STEER_LAYER)].iloc[0]
    t = transfer[(transfer.pair == name) & (transfer.layer == STEER_LAYER)].set_index(["source", "target"])
    r = recovery[recovery.pair == name]
    acc = r.groupby("condition").agg(accuracy=("accuracy", "mean"), lo=("acc_ci_lo", "min"), hi=("acc_ci_hi", "max"),
                                     gap=("gap_recovered", "mean"))
    best_layer = cosines[cosines.pair == name].sort_values("cosine").iloc[-1]
    shared_beaten = (cosines[cosines.pair == name].p_shared < 0.05).sum()

    def a(cond: str, acc: pd.DataFrame = acc) -> str:  # this pair's table, bound now
        return f"{acc.loc[cond, 'accuracy']:.2f} [{acc.loc[cond, 'lo']:.2f}, {acc.loc[cond, 'hi']:.2f}]"

    gap_rl = acc.loc["rl_model", "accuracy"] - acc.loc["unsteered_base", "accuracy"]
    own = r[r.condition == "own"].iloc[0]
    from_rl = r[r.condition == "from_rl"].iloc[0]
    gap_text = (f"RL is {gap_rl:+.2f} over the base on the test half, so the gap recovered is"
                f" {fmt_num(own.gap_recovered)} {fmt_interval(own.ci_lo, own.ci_hi)} with the own direction and"
                f" {fmt_num(from_rl.gap_recovered)}"
                f" {fmt_interval(from_rl.ci_lo, from_rl.ci_hi)} with the RL direction (MOVER-R intervals)"
                if gap_rl >= MIN_GAP else
                f"RL beats the base by {gap_rl:+.2f} on the test half, less than {MIN_GAP}, so there is no gap to recover")
    lines += [
        f"**{name}** (" + (f"dose {c.dose}, " if pd.notna(c.dose) else "")  # a real LM pair has no dose
        + (f"label {c.label} fixed before tuning, " if c.label else f"seed {SEED}, " if pd.notna(c.dose) else "")
        + f"layer {STEER_LAYER}; contrast: {behaviours[name]}):",
        f"- cosine(base, RL direction) = {c.cosine:.5f} [{c.ci_lo:.5f}, {c.ci_hi:.5f}]; shared null 97.5% {c.null_shared_hi:.5f}"
        f" (p = {c.p_shared:.3f}), independent null 97.5% {c.null_indep_hi:.3f} (p = {c.p_indep:.3f}). Across layers the"
        f" cosine peaks at layer {int(best_layer.layer)} ({best_layer.cosine:.5f}) and beats the shared null (one-sided"
        f" p < 0.05; the figure's dashed line is the stricter 97.5% quantile) at {shared_beaten} of"
        f" {cosines[cosines.pair == name].shape[0]} layers.",
        f"- probe fitted on RL: {t.loc[('rl', 'rl'), 'accuracy']:.2f} on RL, {t.loc[('rl', 'base'), 'accuracy']:.2f}"
        f" [{t.loc[('rl', 'base'), 'ci_lo']:.2f}, {t.loc[('rl', 'base'), 'ci_hi']:.2f}] on the base (chance"
        f" {t.loc[('rl', 'base'), 'chance']:.2f})" + (
            "; every probe is at ceiling, so the two sides are trivially separable in both models and transfer cannot"
            " discriminate activation from creation here." if t["accuracy"].min() >= 0.99 else "."),
        f"- steering accuracy (test half): base {a('unsteered_base')}, RL {a('rl_model')}, own direction {a('own')}"
        f" (x{chosen[name]['own']:g}), RL direction {a('from_rl')} (x{chosen[name]['from_rl']:g}), bias only {a('bias')},"
        + (f" random {a('random:own')} (mean over seeds; interval from the lowest to the highest end of the seeds')"
           if "random:own" in acc.index
           else " no random controls") + f"; {gap_text}.",
    ]
lines.append(
    "Against the claim: a cosine near 1 that beats the *shared* null, probes that transfer, and steering by the base's"
    " own direction that matches the RL direction would say the behaviour's direction pre-exists in the base. The"
    " contrast texts are teacher-forced, so even a dose-0 base (which never wrote the behaviour) has a direction"
    " between texts that show it and texts that do not: compare the doses (or the labels fixed before tuning), and the"
    " shared null, before reading a high cosine as activation. Where the tuned model does not beat the base by"
    f" {MIN_GAP}, steering recovery cannot speak to the claim in this run.")
if real:  # no dose or label to compare with: the shared null is the only guard left
    lines.append(
        f"{', '.join(sorted(real))}: a real pair has no dose and no label, so this run has no base that never wrote"
        " the behaviour to compare with; its cosine can only be tested against the shared null, and a high one is no"
        " evidence of activation by itself. Its questions are not held out of its pretraining, which is unknown, and"
        " are asked as plain 'Question: ... Answer:' prompts, not in the pair's own chat or training template.")
display(Markdown("\n".join(lines)))
