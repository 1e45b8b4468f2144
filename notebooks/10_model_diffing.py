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
# # 10 Model diffing: do the base model's features describe the RL model?
#
# **Claim (docs/claims.md, "Model diffing").** Shared and new features can be told apart with a crosscoder: one sparse
# dictionary over concatenated [base; RL] activations with one decoder per model (Lindsey et al. 2024, Transformer
# Circuits); the relative decoder norm `r_j = ||d_RL|| / (||d_base|| + ||d_RL||)` is near 0 or 1 for latents one
# model alone uses and near 0.5 for shared ones. Minder et al. (arXiv:2504.02922) show that L1 training creates
# false "new" latents (complete shrinkage, latent decoupling): train with BatchTopK and confirm each candidate with
# Latent Scaling (the least-squares scale of the latent's decoder direction in each model; a ratio near 0 confirms
# it is exclusive). A cheaper test in the same spirit: an SAE trained on base activations that reconstructs RL
# activations about as well as base ones says RL runs on the base model's features.
#
# **What would count as evidence.** *Activation*: an FVU ratio (RL / base, held-out texts) near 1 with a small
# splice cost (delta CE) in both models, and few confirmed RL-only crosscoder latents, no more than the (base, base)
# null produces. *Creation*: a high FVU ratio and confirmed RL-only latents well above the null, approaching the
# positive control (a random-init network in the RL slot).
#
# **What this notebook measures.** For every arithmetic pair of the zoo at each exposure dose, at one layer: a TopK
# SAE trained on base activations (texts: both models' sampled completions of the first half of the problems),
# its FVU on held-out texts of base, RL and a random-init model, the CE cost of splicing it into base and RL, and
# BatchTopK crosscoders for (base, RL), (base, base) and (base, random init), with relative decoder norms and Latent
# Scaling on held-out texts.
#
# **On the validation zoo** (`PAIRS` naming `val-arith-depth-d000-sft-deep` and `val-arith-depth-d010-sft-deep`, as
# the figures of record run it): the shipped pairs of the depth world, a dose-0 base and a dose-0.1 base each fine-tuned under one budget on worked chains
# deeper than the dose-0 base ever saw: creation by construction and its activation twin, labels fixed before tuning
# and shown beside each pair. These pairs are tuned by supervised fine-tuning, not RL: "RL" below names each pair's
# tuned model, whatever tuned it.

# %% tags=["parameters"]
WORLD = "arithmetic"
PRESET = "auto"  # "auto": whichever of the paper and demo presets holds more doses (ties: paper)
VARIANT = "correct"
SEED = 0  # RL seed of the pairs chosen (when PAIRS is empty); also the dictionaries' training seed
DOSES = []  # empty: every dose found in the preset
PAIRS = []  # pair names to compare, whatever else the zoo holds (the figures of record name theirs); empty: as above
SMOKE = False
LAYER = 2
N_PROBLEMS = 64  # half for training the dictionaries, half held out
N_SAMPLES = 4  # sampled completions per problem from each model
EXPANSION = 4  # dictionary width = EXPANSION * d_model
K = 8  # active latents per token (TopK / BatchTopK)
SAE_SAMPLES = 60000
CROSSCODER_STEPS = 1500
CONTROLS = True
N_BOOT = 1000
PROBLEM_SEED = 10000

# %%
from rlmeta_interp.selection import choose_pairs

if SMOKE:
    N_PROBLEMS, N_SAMPLES, SAE_SAMPLES, CROSSCODER_STEPS, N_BOOT = 4, 1, 2048, 40, 50
# the preset's pairs, or (smoke runs) the demo preset's; outside smoke mode missing pairs raise with the build command
specs = choose_pairs(PAIRS, WORLD, preset=PRESET, variant=VARIANT, seed=SEED, dose=DOSES or None, smoke=SMOKE)

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from rlmeta_interp import load_pair
from rlmeta_interp.experiments import diffing
from rlmeta_interp.organism.trained_world import world_for
from rlmeta_interp.plotting import COLORS, bar_ci, save_fig, set_style
from tqdm.auto import tqdm

# %matplotlib inline
set_style()

# %%
display(pd.DataFrame([{"pair": s.name, "dose": s.dose, "preset": s.extra.get("preset")} for s in specs]))

# %% [markdown]
# ## SAE reconstruction, splice cost and crosscoders, per pair

# %%
cfg = diffing.DiffingConfig(layer=LAYER, n_problems=N_PROBLEMS, n_samples=N_SAMPLES, problem_seed=PROBLEM_SEED,
                            expansion=EXPANSION, k=K, sae_samples=SAE_SAMPLES, crosscoder_steps=CROSSCODER_STEPS,
                            controls=CONTROLS, n_boot=N_BOOT, seed=SEED)
recon, splice, latents, summary = [], [], [], []
for spec in tqdm(specs, desc="SAE and crosscoder diff per pair"):
    pair = load_pair(spec.name)
    res = diffing.model_diff(pair, world_for(pair), cfg)
    tag = {"pair": pair.name, "dose": pair.dose, "label": spec.label or ""}
    recon.append(res.reconstruction.assign(**tag))
    splice.append(res.splice.assign(**tag))
    latents.append(res.latents.assign(**tag))
    summary.append(res.summary.assign(**tag))
recon, splice = pd.concat(recon, ignore_index=True), pd.concat(splice, ignore_index=True)
latents, summary = pd.concat(latents, ignore_index=True), pd.concat(summary, ignore_index=True)
display(recon[["pair", "dose", "model", "fvu", "ci_lo", "ci_hi", "fvu_ratio", "ratio_ci_lo", "ratio_ci_hi", "l0", "n"]])
display(splice[["pair", "dose", "model", "clean", "spliced", "zero_ablated", "delta_ce", "delta_ci_lo", "delta_ci_hi", "ce_recovered"]])
display(summary)

# %%
pairs = list(dict.fromkeys(recon["pair"]))
SPEC = {s.name: s for s in specs}  # each pair's label fixed before tuning and its recipe (empty for unlabelled pairs)
named = {n: f"{n} ({SPEC[n].label})" if SPEC[n].label else n for n in pairs}
PAIRS_NOTE = specs.note()
mcolors = {"base": COLORS["base"], "rl": COLORS["rl"], "random_init": COLORS["random"]}
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
r = recon.assign(bar=[f"d{d:g}{f' {lab}' if lab else ''} {m}" for d, lab, m in
                      zip(recon.dose, recon.label, recon.model, strict=True)])
bar_ci(axes[0], r, "bar", "fvu", "ci_lo", "ci_hi", colors=[mcolors[m] for m in r.model])
axes[0].set_yscale("log")  # the random-init control is orders of magnitude worse
sp = splice.assign(bar=[f"d{d:g}{f' {lab}' if lab else ''} {m}" for d, lab, m in
                        zip(splice.dose, splice.label, splice.model, strict=True)])
bar_ci(axes[1], sp, "bar", "delta_ce", "delta_ci_lo", "delta_ci_hi", colors=[mcolors[m] for m in sp.model])
for ax, ylabel, title in zip(axes, ("SAE FVU, held-out texts (log)", "delta CE, spliced - clean (nats/token)"),
                             ("base-trained SAE reconstructing each model", "cost of splicing it in"), strict=True):
    ax.tick_params(axis="x", labelrotation=45)
    ax.set_xlabel("exposure dose, label fixed before tuning (if any), model")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
fig.tight_layout()
save_fig(fig, 10, "reconstruction",
         caption=f"A TopK SAE (width {EXPANSION} x d_model, k = {K}, {SAE_SAMPLES} training rows, seed {SEED}) trained on"
                 f" base activations at layer {LAYER}: FVU on held-out texts of the base, the RL model and a random-init"
                 f" control (left), and next-token CE increase when spliced into base and RL (right); 95% bootstrap CIs"
                 f" over tokens (FVU) and sequences (delta CE); texts: {N_SAMPLES} sampled completions per problem from"
                 f" each model on {N_PROBLEMS // 2} held-out problems." + PAIRS_NOTE)
plt.show()

# %%
comparisons = list(dict.fromkeys(latents["comparison"]))
bins = np.linspace(0, 1, 21)
fig, axes = plt.subplots(len(pairs), len(comparisons), figsize=(4.0 * len(comparisons), 2.8 * len(pairs)),
                         squeeze=False, sharex=True)
for r, name in enumerate(pairs):
    for c, comp in enumerate(comparisons):
        ax = axes[r, c]
        lat = latents[(latents.pair == name) & (latents.comparison == comp) & (latents.freq > 0)]
        exclusive = lat.category.isin(["rl_only", "base_only"]) & lat.confirmed
        ax.hist([lat.rel_norm[~exclusive], lat.rel_norm[exclusive]], bins=bins, stacked=True,
                color=[COLORS["control"], COLORS["hybrid"]], label=["other live latents", "confirmed exclusive (Latent Scaling)"])
        ax.set_title(f"{named[name]}:\n{comp}", fontsize=9)  # two lines: long pair names
        ax.set_xlabel("relative decoder norm" if r == len(pairs) - 1 else "")
        ax.set_ylabel("latents" if c == 0 else "")
axes[0, 0].legend(frameon=False, fontsize=7, loc="upper left")
fig.tight_layout()
save_fig(fig, 10, "relative_norms",
         caption=f"BatchTopK crosscoders (width {EXPANSION} x d_model, k = {K}, {CROSSCODER_STEPS} steps, seed {SEED}) at"
                 f" layer {LAYER}: histogram of live latents' relative decoder norm (0 = first model only, 1 = second"
                 f" model only, 0.5 = shared) for (base, RL) and, as controls,"
                 f" (base, base) (null: nothing is exclusive) and (base, random init) (positive control); red: exclusive"
                 f" latents (r within 0.1 of 0 or 1) confirmed by Latent Scaling (scale ratio < 0.3) on held-out texts."
                 + PAIRS_NOTE)
plt.show()

# %%
fig, axes = plt.subplots(1, len(pairs), figsize=(4.4 * len(pairs), 3.4), squeeze=False, sharey=True)
for ax, name in zip(axes[0], pairs, strict=True):
    lat = latents[(latents.pair == name) & (latents.comparison == "base vs RL") & (latents.freq > 0)]
    ok = lat.confirmed & lat.category.isin(["rl_only", "base_only"])
    ax.scatter(lat.rel_norm[~ok], lat.scaling_ratio.clip(-0.5, 1.5)[~ok], s=8, color=COLORS["control"], label="other")
    ax.scatter(lat.rel_norm[ok], lat.scaling_ratio.clip(-0.5, 1.5)[ok], s=14, color=COLORS["hybrid"], label="confirmed exclusive")
    ax.axhline(0.3, color=COLORS["random"], ls=":", lw=1)
    ax.set_title(f"{named[name]} (dose {lat.dose.iloc[0] if len(lat) else ''})", fontsize=9)
    ax.set_xlabel("relative decoder norm (1 = RL only)")
axes[0, 0].set_ylabel("Latent Scaling ratio\n(other model / owner, clipped)")
axes[0, -1].legend(frameon=False, fontsize=8)
fig.tight_layout()
save_fig(fig, 10, "latent_scaling",
         caption=f"Base-vs-RL crosscoder latents at layer {LAYER}: relative decoder norm against the Latent Scaling ratio"
                 f" (beta of the non-owning model / beta of the owner, Minder et al. 2504.02922) on held-out texts; an"
                 f" exclusive latent (relative norm within 0.1 of 0 or 1) is confirmed when the ratio is below 0.3"
                 f" (dotted); seed {SEED}." + PAIRS_NOTE)
plt.show()

# %% [markdown]
# ## What this run found

# %%
lines = []
for name in pairs:
    q = recon[recon.pair == name].set_index("model")
    sp = splice[splice.pair == name].set_index("model")
    sm = summary[summary.pair == name].set_index("comparison")
    dose = q.dose.iloc[0]
    line = (f"- **{name}** (dose {dose}, layer {LAYER}, dictionary seed {SEED}): FVU base {q.loc['base', 'fvu']:.3f}"
            f" [{q.loc['base', 'ci_lo']:.3f}, {q.loc['base', 'ci_hi']:.3f}], RL {q.loc['rl', 'fvu']:.3f}"
            f" [{q.loc['rl', 'ci_lo']:.3f}, {q.loc['rl', 'ci_hi']:.3f}]: ratio {q.loc['rl', 'fvu_ratio']:.2f}"
            f" [{q.loc['rl', 'ratio_ci_lo']:.2f}, {q.loc['rl', 'ratio_ci_hi']:.2f}]")
    if "random_init" in q.index:
        line += f" (random-init control: ratio {q.loc['random_init', 'fvu_ratio']:.2f})"
    line += (f"; splice cost base {sp.loc['base', 'delta_ce']:+.3f}, RL {sp.loc['rl', 'delta_ce']:+.3f}"
             f" [{sp.loc['rl', 'delta_ci_lo']:+.3f}, {sp.loc['rl', 'delta_ci_hi']:+.3f}] nats/token. Crosscoder: confirmed"
             f" RL-only latents {sm.loc['base vs RL', 'rl_only_confirmed']:.1%} of {int(sm.loc['base vs RL', 'live'])} live,"
             f" base-only {sm.loc['base vs RL', 'base_only_confirmed']:.1%}, shared (r in 0.3-0.7)"
             f" {sm.loc['base vs RL', 'shared']:.1%}, shared decoders' median cosine"
             f" {sm.loc['base vs RL', 'shared_dec_cos_median']:.2f}")
    if "base vs base (null)" in sm.index:
        null = sm.loc["base vs base (null)"]
        pos = sm.loc["base vs random init (positive control)"]
        line += (f"; null (base, base): {null.rl_only_confirmed + null.base_only_confirmed:.1%} confirmed exclusive,"
                 f" {null.shared:.1%} shared; positive control (base, random init): {pos.rl_only_confirmed:.1%} confirmed"
                 f" second-model-only, {pos.shared:.1%} shared")
    lines.append(line + ".")
lines.append(
    "Against the claim: an FVU ratio near 1, a splice cost in RL like the base's, and RL-only latents at the null's"
    " level say the base model's features describe the RL model (activation); a ratio well above 1 or RL-only latents"
    " far above the null, towards the positive control, would say RL built new features (creation). Note what the"
    " positive control shows on these models: a random network shares token-identity features with any model, so even"
    " it leaves many latents 'shared'; its wide spread of relative norms, not a count of exclusive latents, is what a"
    " different model looks like here. A ratio CI that excludes 1 by a few percent is a small, measurable change, not"
    " new features.")
display(Markdown("\n".join(lines)))
