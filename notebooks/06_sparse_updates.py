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
# # 06 Sparse, full-rank RL updates: which parameters did RL change?
#
# **Claim 7.** RL updates only 5-30% of a model's parameters; the updates are nearly full rank, and the updated sets
# overlap across seeds more than chance (Mukherjee et al., arXiv 2505.11711, code SagnikMukherjee/sparsity_in_rl:
# 5-30% across 7 algorithms and 10 models). **CAVEAT** (Miahi & Belilovsky, arXiv 2602.03839): much of the apparent
# sparsity is bf16 rounding: an update smaller than about `abs(w)/256` vanishes when weights are stored in bf16. So
# sparsity is reported here in fp32 (the organisms are trained and stored in fp32) *and* in a bf16 view.
#
# **What would count as evidence.** Sparse updates are read as *activation* evidence (RL adjusts a small sub-network
# that already existed); dense updates as a broader rewrite. The measurement is only meaningful beside a control: a
# dense random update with the same norm per tensor shows how much "sparsity" update size and storage precision
# produce by themselves; RL's sparsity counts as RL's choice only where it exceeds that control's. Overlap across seeds
# counts only against its chance level (two independent sets of the same sizes).
#
# **What this notebook measures** on the zoo's RL organisms (arithmetic by default; `delta = theta_RL - theta_base`):
# per layer, the fraction of entries changed exactly (fp32), by more than `atol = 1e-5` (fp32, Mukherjee et al.'s
# tolerance) and in a bf16 view; the rank of each 2-D update over `min(shape)`; and the overlap of the updated entries of
# two RL seeds from the same base against chance, in the fp32-tolerance and bf16 views. When the zoo holds one RL seed
# only (the shipped legacy models, `demo-arith-*` and `paper-*`), two short re-runs of the same RL recipe with seeds 0
# and 1 stand in, and the figures say so.
#
# **On the validation zoo** (the figures of record name their pairs in `PAIRS`; `notebooks/figures_params.json`): bandit
# pairs whose labels were fixed before RL from their pretraining corpora, all under one RL budget: from the dose-0 base
# of pretraining seed 0 (its corpus shows no reward-driven play: creation) and the dose-0.5 base of the same seed
# (activation), RL seeds 0 and 1 each, so the seed overlap comes from full RL runs; and from the dose-0 base of
# pretraining seed 8, the real-reward run beside its same-budget random-reward control (no signal). Each run is also
# read against its own matched random update, since the bf16 share follows the update's size. With a base or two per
# label this describes these pairs; it tests neither update density as an indicator nor what the reward itself sets.

# %% tags=["parameters"]
PRESET = "paper"  # zoo preset (SMOKE falls back to the shipped demo pairs)
WORLD = "arithmetic"
VARIANT = "correct"
SEED = 0  # seed of the control's random update
SMOKE = False
ATOL = 1e-5
STANDIN_STEPS = 10  # RL steps of each stand-in re-run when the zoo has one seed only
PAIRS = []  # pair names to compare, whatever else the zoo holds (the figures of record name theirs); empty: as above

# %%
if SMOKE:
    STANDIN_STEPS = 2

import logging

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from rlmeta_interp import load_model, load_pair
from rlmeta_interp.analysis.params import (
    label_contrasts,
    matched_random_update,
    overlap_by_layer,
    sparsity_by_layer,
    sparsity_summary,
    sparsity_verdict,
    sparsity_verdict_text,
    update_overlap,
    update_sparsity,
)
from rlmeta_interp.experiments.training_runs import rerun_rl, seed_groups
from rlmeta_interp.plotting import COLORS, save_fig, set_style
from tqdm.auto import tqdm
from rlmeta_interp.selection import choose_pairs

logging.basicConfig(level=logging.WARNING)
set_style()
SPECS = choose_pairs(PAIRS, WORLD, variant=VARIANT, preset=PRESET, smoke=SMOKE)  # all seeds
SOURCE = SPECS.source
VARIANTS = {w: sorted({str(s.extra.get("variant")) for s in SPECS if s.world == w}) for w in sorted({s.world for s in SPECS})}
WHAT = "; ".join(f"{w}, RL variant{'s' * (len(v) > 1)} {', '.join(v)}" for w, v in VARIANTS.items())
# the label fixed before RL from the corpus (validation zoo; empty elsewhere), and whether the run is a case of it:
# a creation or activation run whose gain check failed (its manifest's) gained nothing, whatever its design
LABEL = SPECS.case_labels()
# one colour per pair, so pairs at one dose (RL seeds, reward controls) stay apart
PAIR_COLOR = dict(zip([s.name for s in SPECS], plt.cm.tab10(np.arange(len(SPECS))) if len(SPECS) <= 10 else
                      plt.cm.turbo(np.linspace(0.05, 0.95, len(SPECS))), strict=True))
PAIRS_NOTE = ("" if not any(LABEL.values()) else " Pairs (label fixed before RL; 'no gain': the gain check of the build"
              " drawn here failed, which a build elsewhere, such as a validation record, need not share): "
              + ", ".join(f"{s.name} ({LABEL[s.name] or 'none'})" for s in SPECS) + ".")
pd.DataFrame([{"pair": s.name, "label": LABEL[s.name] or None, "dose": s.dose, "seed": s.extra.get("seed"),
               "base": s.base.name} for s in SPECS])

# %% [markdown]
# ## Fraction of parameters updated, per layer
# Per pair, `update_sparsity` compares every parameter tensor of the RL model with its base; `sparsity_by_layer`
# weights tensors by size (layer -1 = embeddings, final norm and unembedding). The control replaces each tensor's RL
# update with dense Gaussian noise of the same norm. These are exact counts over all parameters (no sampling, so no
# CI); the spread across RL seeds shows as separate lines where the zoo has several.

# %%
tables, layers, summaries = [], [], []
for s in tqdm(SPECS, desc="update sparsity per pair"):
    pair = load_pair(s.name)
    ctrl = matched_random_update(pair.base, pair.rl, seed=SEED)
    for kind, after in (("RL", pair.rl), ("random update, same norm", ctrl)):
        tab = update_sparsity(pair.base, after, atol=ATOL).assign(pair=s.name, dose=s.dose, seed=s.extra.get("seed"),
                                                                  update=kind)
        tables.append(tab)
        layers.append(sparsity_by_layer(tab).assign(pair=s.name, dose=s.dose, seed=s.extra.get("seed"), update=kind))
        summaries.append({"pair": s.name, "dose": s.dose, "seed": s.extra.get("seed"), "update": kind,
                          "label": s.label or "", "base": s.base.name, **sparsity_summary(tab)})
TABLE, LAYERS, SUMMARY = (pd.concat(tables, ignore_index=True), pd.concat(layers, ignore_index=True),
                          pd.DataFrame(summaries))
for view in ("unchanged_fp32", "within_atol_fp32", "unchanged_bf16"):
    LAYERS[f"updated_{view}"] = 1 - LAYERS[f"frac_{view}"]
    SUMMARY[f"updated_{view}"] = 1 - SUMMARY[f"frac_{view}"]
SUMMARY[["pair", "dose", "seed", "update", "updated_unchanged_fp32", "updated_within_atol_fp32",
         "updated_unchanged_bf16", "mean_rank_frac"]]

# %%
views = {"updated_unchanged_fp32": "fp32: any change", "updated_within_atol_fp32": f"fp32: |delta| > {ATOL:g}",
         "updated_unchanged_bf16": "bf16 view: any change"}

def pair_name(pair: str, g: pd.DataFrame) -> str:
    """Legend text: the pair's name and label where it has one, else its dose and RL seed."""
    return f"{pair} ({LABEL[pair]})" if LABEL[pair] else f"RL d{g['dose'].iloc[0]:g} s{g['seed'].iloc[0]}"


fig, axes = plt.subplots(1, 3, figsize=(13, 4.6), sharey=True)
for ax, (col, title) in zip(axes, views.items(), strict=False):
    control_named = False  # one legend entry for all the matched random updates
    for (pair, kind), g in LAYERS.groupby(["pair", "update"], sort=False):
        rl = kind == "RL"
        ax.plot(g["layer"], g[col], marker="o" if rl else "x", ls="-" if rl else "--",
                color=PAIR_COLOR[pair] if rl else COLORS["control"], alpha=0.9,
                label=pair_name(pair, g) if rl else None if control_named else "dense random update, same norm")
        control_named |= not rl
    ax.axhspan(0.05, 0.30, color=COLORS["reference"], alpha=0.12, lw=0)
    ax.set_title(title)
    ax.set_xlabel("layer (-1: embeddings, final norm, head)")
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
axes[0].set_ylabel("fraction of parameters updated")
axes[-1].legend(frameon=False, fontsize=7, loc="lower right")
fig.suptitle(f"{WHAT}; {SOURCE}.\nShaded: 5-30% reported by Mukherjee et al.; grey dashed: dense random update of"
             f" the same norm, one per pair (seed {SEED}). Exact counts.", fontsize=8)
fig.tight_layout(rect=(0, 0, 1, 0.95))
save_fig(fig, 6, "sparsity_by_layer", caption="Fraction of parameters RL updated per layer, in fp32 (exact and with"
         " atol 1e-5) and in a bf16 view, for each RL organism, beside a dense random update of the same per-tensor"
         " norm; the band marks the 5-30% Mukherjee et al. report." + PAIRS_NOTE)

# %% [markdown]
# ## Rank of each update
# `matrix_rank(delta) / min(shape)` for every 2-D parameter (torch's default tolerance). The control's dense Gaussian
# update is full rank by construction (the reference line at 1).

# %%
mats = TABLE[(TABLE["update"] == "RL") & TABLE["rank_frac"].notna()].reset_index(drop=True)
fig, ax = plt.subplots(figsize=(7, 4))
rng = np.random.default_rng(SEED)  # horizontal jitter only
for i, (pair, g) in enumerate(mats.groupby("pair", sort=False)):
    ax.scatter(i + rng.uniform(-0.25, 0.25, len(g)), g["rank_frac"], s=14, alpha=0.7, color=PAIR_COLOR[pair])
    ax.text(i, -0.12, f"median {g['rank_frac'].median():.2f}", ha="center", fontsize=7)
ctrl_rank = TABLE[(TABLE["update"] != "RL") & TABLE["rank_frac"].notna()]["rank_frac"].median()
ax.axhline(ctrl_rank, color=COLORS["control"], ls="--", label=f"random update, same norm (median {ctrl_rank:.2f})")
ax.set_xticks(range(mats["pair"].nunique()), [f"{p}\n({LABEL[p]})" if LABEL[p] else p for p in mats["pair"].unique()],
              rotation=20, ha="right", fontsize=7)
ax.set_ylim(-0.18, 1.05)
ax.set_ylabel("rank(delta) / min(shape)")
ax.legend(frameon=False, fontsize=7, loc="center right")
ax.set_title(f"update rank per 2-D matrix ({len(mats)} matrices); {SOURCE}", fontsize=9)
save_fig(fig, 6, "update_rank", caption="Rank of each 2-D parameter update over min(shape), per RL organism, beside"
         " the median of a dense random update of the same norm." + PAIRS_NOTE)

# %% [markdown]
# ## Overlap of the updated entries across RL seeds
# `ratio` = entries updated by both runs over the number two independent sets of the same sizes would share (1 =
# chance). When almost every entry is updated by both runs the ratio is pinned near 1 and says nothing; the bf16
# view, where updates can be lost to rounding, is the informative one.

# %%
GROUPS = seed_groups(SPECS)
if GROUPS:
    runs = {base: (load_model(g[0].base.name), [load_model(p.rl.name) for p in g[:2]]) for base, g in GROUPS.items()}
    OVERLAP_SOURCE = "zoo RL seeds " + " and ".join(str(p.extra.get("seed")) for p in next(iter(GROUPS.values()))[:2])
else:
    ref = max(SPECS, key=lambda s: s.dose or 0.0)
    folders = rerun_rl(ref, seeds=(0, 1), steps=STANDIN_STEPS)
    runs = {ref.base.name: (load_model(ref.base.name), [load_model(folders[0]), load_model(folders[1])])}
    OVERLAP_SOURCE = (f"stand-in: no second seed in this zoo, so two {STANDIN_STEPS}-step re-runs (seeds 0, 1) of"
                      f" {ref.rl.name}'s RL recipe")
ov = []
for base_name, (base, (ra, rb)) in runs.items():
    for view, atol in (("fp32", ATOL), ("bf16", 0.0)):
        ov.append(update_overlap(base, ra, rb, atol=atol, view=view).assign(base=base_name, view=view))
OVERLAP = pd.concat(ov, ignore_index=True)
TOTAL = OVERLAP[OVERLAP["name"] == "__total__"]
TOTAL[["base", "view", "n_a", "n_b", "n_both", "overlap_a", "chance_overlap_a", "jaccard", "chance_jaccard", "ratio"]]

# %%
per_layer = overlap_by_layer(OVERLAP, by=["base", "view"])
# each base named with the design label its RL runs carry (fixed before RL), where they have one
BASE_LABEL = {s.base.name: s.label for s in SPECS if s.label and s.base.name in runs}
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for (base_name, view), g in per_layer.groupby(["base", "view"], sort=False):
    named = f"{base_name} ({BASE_LABEL[base_name]})" if base_name in BASE_LABEL else base_name
    style = dict(marker="o", ls="-" if view == "bf16" else ":", label=f"{named}, {view} view")
    axes[0].plot(g["layer"], g["ratio"], **style)
    line = axes[1].plot(g["layer"], g["jaccard"], **style)[0]
    axes[1].plot(g["layer"], g["chance_jaccard"], color=line.get_color(), ls="--", lw=1, alpha=0.7)
axes[1].plot([], [], color=COLORS["control"], ls="--", lw=1, label="dashed: chance (same colour)")
axes[0].axhline(1.0, color=COLORS["control"], ls="--", label="chance (independent sets)")
axes[0].set_ylabel("shared updated entries / chance")
axes[1].set_ylabel("Jaccard of the updated sets")
for ax in axes:
    ax.set_xlabel("layer (-1: embeddings, final norm, head)")
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.legend(frameon=False, fontsize=7)
fig.suptitle(f"Overlap of updated entries across two RL seeds; {OVERLAP_SOURCE}. Exact counts.", fontsize=8)
fig.tight_layout(rect=(0, 0, 1, 0.95))
save_fig(fig, 6, "seed_overlap", caption="Overlap of the entries updated by two RL seeds from the same base, per layer,"
         " relative to chance (independent sets of the same sizes) and as a Jaccard index, in the fp32 (atol) and"
         " bf16 views, per base (" + ", ".join(runs) + f"); {OVERLAP_SOURCE}.")

# %% [markdown]
# ## What this run found

# %%
rl_sum = SUMMARY[SUMMARY["update"] == "RL"]
ctrl_sum = SUMMARY[SUMMARY["update"] != "RL"].set_index("pair")
lines = [f"Source: {SOURCE}; exact counts over all parameters (no sampling error); seeds as listed. Mukherjee et al."
         " report 5-30% of parameters updated.", ""]
for _, r in rl_sum.iterrows():
    c = ctrl_sum.loc[r["pair"]]
    lines.append(
        f"- **{r['pair']}** (dose {r['dose']:g}, seed {r['seed']}"
        + (f", label fixed before RL: {LABEL[r['pair']]}" if LABEL[r["pair"]] else "")
        + f"): updated {r['updated_unchanged_fp32']:.1%} (fp32, any change), {r['updated_within_atol_fp32']:.1%}"
        f" (fp32, |delta| > {ATOL:g}), {r['updated_unchanged_bf16']:.1%}"
        f" (bf16 view); a dense random update of the same norm: {c['updated_unchanged_bf16']:.1%} in the bf16 view."
        f" Mean update rank / min(shape): {r['mean_rank_frac']:.2f}.")
for _, r in TOTAL.iterrows():
    lines.append(f"- Overlap across seeds ({OVERLAP_SOURCE}), base {r['base']}, {r['view']} view: run A updated"
                 f" {r['n_a'] / r['numel']:.1%}, run B {r['n_b'] / r['numel']:.1%}; {r['overlap_a']:.1%} of A's updated"
                 f" entries were also updated by B vs {r['chance_overlap_a']:.1%} by chance (ratio {r['ratio']:.2f}).")
lines += ["", sparsity_verdict_text(sparsity_verdict(SUMMARY))]
lines += [f"- {line}" for line in label_contrasts(SUMMARY)]
if "stand-in" in OVERLAP_SOURCE:
    lines.append(f"The seed overlap comes from {STANDIN_STEPS}-step stand-in runs, not from the zoo's full RL runs.")
display(Markdown("\n".join(lines)))
