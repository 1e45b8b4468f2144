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
# # 05 In-context RL on bandits: did RL create a learner, or connect one that pretraining had built?
#
# **Claim 6.** RL fine-tuning produces *in-context RL*: within-episode adaptation to unseen problems, with no weight
# updates (Rentschler & Roberts, arXiv 2501.14176: Llama-3.1-8B-Instruct, IA3 adapters, a Q-learning objective,
# multi-episode Frozen Lake). Its ancestors show that pretraining alone can do it: Algorithm Distillation (Laskin et
# al., arXiv 2210.14215), where a transformer pretrained on the learning histories of an RL algorithm learns in context,
# and the Decision-Pretrained Transformer (Lee et al. 2023). *CORRECTION (docs/claims.md): "human-level sample efficiency"
# is not in the paper.*
#
# **What would count as evidence.** *Activation*: the base model already adapts within an episode (its regret per
# trial falls), and its residual stream already encodes each arm's Bayes posterior mean beyond what a randomly
# initialised network and a bag of token counts decode, so that RL only has to connect those beliefs to the choice of
# arm. *Creation*: the base model neither adapts nor encodes beliefs beyond the controls, and both appear only after
# RL.
#
# **What this notebook measures**, with its defaults (the paper preset), on the bandit organisms of the zoo
# (pretrained on learning histories in which a fraction *dose* comes from Thompson sampling, the rest from a
# uniform-random policy; then GRPO-tuned), for every (dose, RL variant) pair the zoo holds, each RL model against its
# own base (a base shared by two pairs is evaluated once): dose 0.5 and dose 0 with the same short GRPO recipe
# (variant `correct`, labelled `d0.5`, `d0`), and dose 0 with prolonged RL (variant `long`: 1500 steps, lr 1e-3, no
# KL; labelled `d0 long`) and its control, the same budget with Bernoulli(0.5) rewards (variant `long-random`: what
# that much RL does to the model without a learning signal, which the probes and the scorecard's feature indicator
# need beside `long`). The two doses test different things. At dose 0.5 the base saw learning during pretraining, so
# activation is expected. At dose 0 every pretraining history was uniform-random: the base never saw learning and its
# policy ignores the history, and a policy that ignores rewards cannot beat uniform random on average over bandits
# whose arms are exchangeable, so *any* RL gain in regret below uniform random at dose 0 is creation (the paper
# preset's one test of creation; the short recipe is its control), provided the base itself neither beats uniform
# random nor adapts within the episode: the notebook checks that premise on every such base, and declares no creation
# where it fails. Per model: (1) regret curves within an episode, per trial and cumulative, with sampled *and* greedy
# decoding (docs/claims.md#bandit-measurement-traps: they disagree, because a base model imitates a mixture of
# behaviour policies when sampled), beside Thompson sampling and uniform random run on the same unseen bandits; (2)
# within-episode adaptation (regret over the first vs the last quarter of trials); (3) ridge probes of the arms'
# row-centred posterior means at every reward token, per layer, beside a random-init model and a token-count baseline.
# Probe R^2 alone is not evidence (the pilot decoded centred values with R^2 0.50 from a random network); targets are
# centred because uncentred R^2 is confounded by token counts. (4) Reward reliance: whether the next choice follows
# which arm earned which reward, read against the same history with its rewards permuted (a base that only plays a
# learner's moves reads about 0).
#
# **On the validation zoo** (`PRESET = "validation"`, as the figures of record run it, at one pretraining seed
# `PRETRAIN_SEED`): every RL model's manifest carries a label fixed from its corpus design before RL, shown after
# its pair's name, and every pair had the same RL budget (steps, learning rate, KL; the `budget` column of the first
# table, read from the manifests; the control differs only in its random rewards). `d0 long (creation)`: RL from a base that saw uniform-random play only. `d0.5 long (activation)`: the
# same RL from a base whose corpus was half Thompson sampling. `d1 shuffled long (creation)`: RL from a base that saw
# Thompson play with its rewards shuffled within each episode: a learner's moves, with no reward showing which arm
# earned it (each episode keeps its count of rewards, which can still tell a base how concentrated to play), so the
# creation test above applies to it too, its premise checked the same way. `d0 long-random (no_signal)`: the same
# budget with random rewards. The operational readings below stand beside those labels; they never replace them.

# %% tags=["parameters"]
PRESET = "paper"  # zoo preset of the bandit organisms (SMOKE falls back to any preset, then to a tiny stand-in)
WORLD = "bandits"
VARIANTS = ["correct", "long", "long-random"]  # RL variants; each must exist at some dose ("long*" only at dose 0)
SEED = 0  # RL seed of the pairs; also seeds rollouts, probes and bootstraps
PRETRAIN_SEED = None  # pretraining seed of the bases (None: the first found per pair; the validation preset has many)
SMOKE = False
N_BANDITS = 300  # unseen bandits for regret (one episode per bandit and decoding mode)
N_PROBE_EPISODES = 200  # episodes whose reward tokens are probed (x horizon rows)
PROBE_POLICY = "thompson"  # who writes the probed episodes: "thompson" or "random"
EVAL_SEED = 30_000  # bandit draw for evaluation (the zoo's own evaluation uses 20_000, RL training 1)
N_BOOT = 1000

# %%
if SMOKE:
    N_BANDITS, N_PROBE_EPISODES, N_BOOT = 40, 24, 200

import logging

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from IPython.display import Markdown, display

from rlmeta_interp.analysis.belief_probes import RidgeProbeConfig
from rlmeta_interp.analysis.incontext import (
    belief_episodes,
    random_init_control,
    regret_experiment,
    reward_prediction,
)
from rlmeta_interp.analysis.reliance import reward_reliance
from rlmeta_interp.experiments.bandits import (
    bandit_models,
    belief_probes_by_base,
    creation_findings,
    load_bandit_pairs,
    verdicts,
)
from rlmeta_interp.organism.trained_world import world_for
from rlmeta_interp.plotting import COLORS, bar_ci, line_ci, save_fig, set_style
from rlmeta_interp.prose import fmt_ci

logging.basicConfig(level=logging.WARNING)
set_style()
PAIRS, SOURCE = load_bandit_pairs(preset=PRESET, variant=VARIANTS, seed=SEED, smoke=SMOKE, pretrain_seed=PRETRAIN_SEED)
world = world_for(PAIRS[0].pair, WORLD)
T = world.config.horizon
pd.DataFrame([{"pair": b.label, "dose": b.dose, "variant": b.variant, "label fixed before RL": b.design or "(none)",
               "base": b.pair.base.name, "rl": b.pair.rl.name, "budget": b.pair.rl.manifest.get("budget")}
              for b in PAIRS]).assign(source=SOURCE)

# %% [markdown]
# ## Regret within an episode
# Every model (each distinct base once, then each RL model, labelled by its pair) plays one episode on each of the
# same unseen bandits, once sampling at temperature 1 and once greedily.
# Regret is the expected (pseudo-)regret `max(means) - means[chosen arm]` per trial; a non-arm token counts as the
# worst arm. Bands: 95% bootstrap over bandits.

# %%
problems = world.sample_held_out(N_BANDITS, seed=EVAL_SEED)
models = bandit_models(PAIRS)
reg = regret_experiment(models, world, problems, seed=SEED, n_boot=N_BOOT)
reg.table

# %%
names = list(models) + ["thompson", "random"]
model_colors = [c for i, c in enumerate(sns.color_palette("tab10").as_hex()) if i not in (4, 7)]  # not purple/grey
palette = {m: model_colors[i % len(model_colors)] for i, m in enumerate(models)}
palette.update(thompson=COLORS["reference"], random=COLORS["random"])
fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True)
for j, mode in enumerate(["sampled", "greedy"]):
    cur = reg.curves[reg.curves["mode"].isin([mode, "reference"])]
    line_ci(axes[0, j], cur, "t", "regret", "regret_lo", "regret_hi", hue="policy", palette=palette)
    axes[0, j].get_legend().remove()  # one legend per column, on the cumulative panel below
    line_ci(axes[1, j], cur, "t", "cum_regret", "cum_lo", "cum_hi", hue="policy", palette=palette)
    axes[0, j].set_title(f"{mode} decoding: regret per trial")
    axes[1, j].set_title(f"{mode} decoding: cumulative regret")
    axes[1, j].set_xlabel("trial t within the episode")
fig.suptitle(f"Bandits, K={world.config.n_arms}, T={T}: {N_BANDITS} unseen bandits, RL seed {SEED}; {SOURCE}",
             fontsize=9)
fig.tight_layout()
save_fig(fig, 5, "regret_curves", caption="Per-trial and cumulative regret within an episode of the base and RL"
         " organisms of every pair the run selected (RL models named by their pair: dose, shuffled rewards, RL variant,"
         " and the label fixed before RL where the zoo records one), sampled and greedy, beside Thompson sampling and"
         " uniform random on the same bandits (95% bootstrap bands over bandits).")

# %% [markdown]
# ## Final regret and within-episode adaptation
# Left: final cumulative regret and the share of the random-to-Thompson gap each policy closes. Right: adaptation =
# mean regret per trial over the first quarter minus the last quarter of the episode (> 0: the policy learns in
# context; uniform random is the no-learning control). Error bars: 95% bootstrap over bandits (paired for adaptation).

# %%
tab = reg.table.assign(label=lambda d: d["policy"] + "\n" + d["mode"])
ad = reg.adaptation.assign(label=lambda d: d["policy"] + "\n" + d["mode"])
colors = [palette.get(p, COLORS["control"]) for p in tab["policy"]]
fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
bar_ci(axes[0], tab, "label", "final_regret", "ci_lo", "ci_hi", colors=colors)
for i, g in enumerate(tab["gap_closed"]):
    axes[0].annotate(f"{g:.2f}", (i, 0), ha="center", va="bottom", fontsize=7)
axes[0].set_title("final cumulative regret (number at the base: gap closed)")
bar_ci(axes[1], ad, "label", "improvement", "ci_lo", "ci_hi", colors=[palette.get(p, COLORS["control"]) for p in ad["policy"]])
axes[1].axhline(0, color="k", lw=0.8)
axes[1].set_title("within-episode adaptation: regret early - late")
for ax in axes:
    ax.tick_params(axis="x", labelsize=7, rotation=90)
    ax.set_xlabel("")
fig.suptitle(f"{N_BANDITS} unseen bandits, RL seed {SEED}; {SOURCE}", fontsize=9)
fig.tight_layout()
save_fig(fig, 5, "final_regret_adaptation", caption="Final cumulative regret with the share of the random-to-"
         "Thompson gap closed, and within-episode adaptation (first vs last quarter of trials), per model and"
         " decoding mode, with Thompson sampling and uniform random as references (95% bootstrap CIs).")

# %% [markdown]
# ## Belief-state probes
# Episodes written by a reference policy (the same episodes for every model); at each reward token the target is
# every arm's Beta(1,1) posterior mean after that pull, centred across arms. Ridge R^2 (5-fold, out of fold) per layer
# for each distinct base and the RL models tuned from it, a randomly initialised model of the same architecture, and a
# bag of token counts up to that token. At dose 0 this asks whether a base whose policy ignores the history still
# tracks beliefs that RL could connect. Folds are grouped by episode (no episode is on both sides of a fold) and the
# bootstrap resamples whole episodes, so R^2 is an out-of-episode estimate.

# %%
texts, targets = belief_episodes(world, N_PROBE_EPISODES, seed=EVAL_SEED + 1, policy=PROBE_POLICY)
probe_cfg = RidgeProbeConfig(n_boot=N_BOOT, seed=SEED)
probes, best = belief_probes_by_base(PAIRS, texts, targets, config=probe_cfg)
best

# %%
groups = list(dict.fromkeys(probes["base"]))
pal = {**palette, "random_init": COLORS["control"]}
fig, axes = plt.subplots(1, len(groups), figsize=(5.5 * len(groups), 4), squeeze=False)
for ax, group in zip(axes[0], groups, strict=False):
    sub = probes[(probes["base"] == group) & (probes["model"] != "token_counts")]
    line_ci(ax, sub, "layer", "r2", "ci_lo", "ci_hi", hue="model", palette=pal, marker="o")
    counts = probes[(probes["base"] == group) & (probes["model"] == "token_counts")]
    r2_counts = float(counts["r2"].iloc[0])
    lo, hi = ax.get_ylim()  # R^2 is unbounded below: clip the bands at -1, and keep the token-count line in view
    ax.set_ylim(max(min(lo, r2_counts - 0.02), -1.0), max(hi, r2_counts + 0.02))
    ax.axhline(r2_counts, color=COLORS["random"], ls="--", label="token counts")
    ax.axhline(0, color="k", lw=0.6)
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.set_title(f"{group} and its RL models: centred posterior means", fontsize=9)
    ax.set_ylabel("ridge R^2 (out of fold)")
    ax.legend(frameon=False, fontsize=8)
fig.suptitle(f"{N_PROBE_EPISODES} {PROBE_POLICY} episodes x {T} reward tokens; 95% bootstrap CI over rows; seed {SEED};"
             f" {SOURCE}", fontsize=9)
fig.tight_layout()
save_fig(fig, 5, "belief_probes", caption="Ridge-probe R^2 of row-centred arm posterior means at reward tokens, per"
         " layer, one panel per base with the RL models tuned from it, beside a random-init model and a token-count"
         " baseline (95% bootstrap CIs).")

# %% [markdown]
# ## Reward prediction: a behavioural read-out of beliefs
# At each arm token the model predicts the reward token that follows; a model that tracks beliefs predicts
# `P(1)` close to the Bayes posterior mean of the pulled arm. Correlation over all pulls of the probe episodes (95%
# bootstrap over episodes), beside a randomly initialised model. The pilot found 0.99 for a dose-0.5 base and 0.07
# after RL without a KL penalty.

# %%
rp_models = {**models, "random init": random_init_control(PAIRS[0].pair.base, seed=7_777_777)}
RP = reward_prediction(rp_models, texts, n_arms=world.config.n_arms, n_boot=N_BOOT, seed=SEED)
fig, ax = plt.subplots(figsize=(7, 3.8))
bar_ci(ax, RP, "model", "corr", "ci_lo", "ci_hi", colors=[palette.get(m, COLORS["control"]) for m in RP["model"]])
ax.axhline(0, color="k", lw=0.8)
ax.set_ylabel("corr(P(reward 1), Bayes posterior mean)")
ax.set_xlabel("")
ax.tick_params(axis="x", labelsize=8)
plt.setp(ax.get_xticklabels(), rotation=30, ha="right", rotation_mode="anchor")  # long pair names: no overlap
ax.set_title(f"{N_PROBE_EPISODES} {PROBE_POLICY} episodes x {T} pulls; 95% bootstrap CI over episodes; seed {SEED};"
             f" {SOURCE}", fontsize=8)
save_fig(fig, 5, "reward_prediction", caption="Correlation between each model's predicted probability of reward 1 at"
         " every pull and the Bayes posterior mean of the pulled arm, for base and RL models and a random-init"
         " control (95% bootstrap CIs over episodes).")

# %% [markdown]
# ## Reward reliance: does the next choice follow which arm earned which reward?
# Probes and reward prediction ask what a model knows; this asks whether its choices use it. Each probe episode is
# paired with a copy whose reward tokens are permuted within the episode (same arms, same order, same number of
# rewards: all a player of a learner's *moves* can read); at every choice after a changed prefix, `directed` is the
# shift of the model's next-arm probabilities towards the arms whose posterior mean the true history raises. A base
# pretrained on play without rewards, or on play whose rewards were shuffled, should read about 0 however
# learner-like its moves; Thompson sampling on the same histories gives the scale. 95% bootstrap CIs over episodes.

# %%
RR = reward_reliance(rp_models, texts, n_arms=world.config.n_arms, n_boot=N_BOOT, seed=SEED)
fig, ax = plt.subplots(figsize=(8.5, 4.2))
bar_ci(ax, RR, "model", "directed", "directed_lo", "directed_hi",
       colors=[palette.get(m, COLORS["reference"] if m == "thompson" else COLORS["control"]) for m in RR["model"]])
ax.axhline(0, color="k", lw=0.8)
ax.set_ylabel("shift of next-arm probability\ntowards the posterior (directed)")
ax.set_xlabel("")
ax.tick_params(axis="x", labelsize=8)
plt.setp(ax.get_xticklabels(), rotation=30, ha="right", rotation_mode="anchor")
ax.set_title(f"{N_PROBE_EPISODES} {PROBE_POLICY} episodes, rewards permuted within each; 95% bootstrap CI over"
             f" episodes; seed {SEED}; {SOURCE}", fontsize=8)
save_fig(fig, 5, "reward_reliance", caption="Directed reward reliance: the shift of each model's next-arm"
         " probabilities towards the arms the true history favours, against the same history with its rewards"
         " permuted within the episode, for base and RL models, a random-init control and Thompson sampling (95%"
         " bootstrap CIs over episodes).")

# %% [markdown]
# ## What this run found
# Per model, then per pair (its RL model against its own base, with the label fixed before RL where the zoo records
# one, and beside it the operational reading: activation expected at dose > 0 from real rewards; from a reward-blind
# base, dose 0 or shuffled rewards, a regret gain below uniform random is creation when the base itself neither beats
# uniform random nor adapts within the episode), then the creation test in plain words.

# %%
t = reg.table.set_index(["policy", "mode"])
a = reg.adaptation.set_index(["policy", "mode"])
b = best[best["model"] != "random_init"].set_index("model")
RPm = RP.set_index("model")
RRm = RR.set_index("model")
V = verdicts(reg, best, PAIRS, n_boot=N_BOOT, seed=SEED)


ci = fmt_ci  # one estimate-with-CI format for the whole project


rp0 = RPm.loc["random init"]
lines = [f"Source: {SOURCE}; {N_BANDITS} unseen bandits, K={world.config.n_arms}, T={T}; RL seed {SEED}; 95% bootstrap"
         " CIs. References: Thompson sampling "
         f"{ci(*t.loc[('thompson', 'reference'), ['final_regret', 'ci_lo', 'ci_hi']])}, uniform random "
         f"{ci(*t.loc[('random', 'reference'), ['final_regret', 'ci_lo', 'ci_hi']])} final regret; a random-init model's"
         f" reward prediction corr {ci(rp0['corr'], rp0['ci_lo'], rp0['ci_hi'])}; reward reliance (directed) of Thompson"
         f" sampling {ci(*RRm.loc['thompson', ['directed', 'directed_lo', 'directed_hi']])} and of a random-init model"
         f" {ci(*RRm.loc['random init', ['directed', 'directed_lo', 'directed_hi']])}.", ""]
for name in models:
    parts = []
    for mode in ("sampled", "greedy"):
        r, ad_ = t.loc[(name, mode)], a.loc[(name, mode)]
        parts.append(f"{mode}: regret {ci(r['final_regret'], r['ci_lo'], r['ci_hi'])}, gap closed"
                     f" {ci(r['gap_closed'], r['gap_lo'], r['gap_hi'])}, adaptation"
                     f" {ci(ad_['improvement'], ad_['ci_lo'], ad_['ci_hi'])}, invalid pulls {r['invalid_rate']:.1%}")
    pr, rp = b.loc[name], RPm.loc[name]
    parts.append(f"beliefs: best layer {int(pr['layer'])} R^2 {ci(pr['r2'], pr['ci_lo'], pr['ci_hi'])} vs random init"
                 f" {ci(pr['r2_random_init'], pr['random_lo'], pr['random_hi'])} and token counts {pr['r2_counts']:.2f}")
    parts.append(f"reward prediction corr {ci(rp['corr'], rp['ci_lo'], rp['ci_hi'])}")
    rr = RRm.loc[name]
    parts.append(f"reward reliance (directed) {ci(rr['directed'], rr['directed_lo'], rr['directed_hi'])}")
    lines.append(f"- **{name}**: " + "; ".join(parts) + ".")
lines.append("")
for _, v in V.iterrows():
    lines.append(f"- **Pair {v['pair']}** ({v['rl']} vs {v['base']}): {v['expected']}. Behaviour: {v['behaviour']}."
                 f" Probes: {v['probes']}.")
found = creation_findings(reg, best, V, PAIRS, reward_pred=RP, n_boot=N_BOOT, seed=SEED)
lines += (["", "**Creation test (reward-blind bases: dose 0, or shuffled rewards).**", *(f"- {x}" for x in found)]
          if found else ["", "**Creation test**: no pair from a reward-blind base (dose 0, or shuffled rewards) in this run."])
lines += ["", "Sampled and greedy regret are reported separately because they can disagree (a base model imitates a"
          " mixture of behaviour policies when sampled)."]
if "stand-in" in SOURCE:
    lines.append("**SMOKE stand-in**: these are tiny organisms trained for seconds in this run; the numbers only show"
                 " that the pipeline runs and say nothing about the claim.")
display(Markdown("\n".join(lines)))
