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
# # 11 · The scorecard across the zoo: do the indicators track the known exposure dose?
#
# **The question** (DESIGN.md): every activation-vs-creation indicator the literature uses, side by side on each
# base/RL pair, with a rule-based summary. The indicators come from the claims in SOURCES.md: the capability boundary
# and likelihood of RL samples under the base (claim 3, Yue et al. 2504.13837), pre-existing behaviour directions and
# steering recovery (claim 1: Sinii et al. 2505.18706 and others), hybrid when-not-how decoding (claim 2, Venhoff
# et al. 2510.07364), belief-state probes for in-context RL (claim 6, Rentschler & Roberts 2501.14176; CORRECTION in
# SOURCES.md: "human-level sample efficiency" is not in that paper), SAE / crosscoder features (Lindsey et al. 2024;
# Minder et al. 2504.02922) and weight-update sparsity (claim 7, Mukherjee et al. 2505.11711, with the bf16 caveat of
# Miahi & Belilovsky 2602.03839). No paper validates these indicators against ground truth; the organism zoo can.
#
# **What would count as evidence.** On organisms the exposure dose is known: a base whose pretraining showed the
# rewarded behaviour (dose > 0) should read as *activation*, a dose-0 base as *creation*. An indicator that is
# trustworthy votes that way on every pair it decides; one that votes against the dose, or never decides, is not
# evidence on real models either. A pair where RL did not measurably improve the capability reads "no gain": there
# is nothing to attribute.
#
# **What this notebook measures**: `analysis.scorecard.run_scorecard` on every zoo pair (`ScorecardConfig.demo()` by
# default; results cached under `RLMETA_RESULTS`), the validation table (dose, expected reading, each indicator's
# vote, the summary), each indicator's agreement with the dose, and each indicator's headline metric against the dose.

# %% tags=["parameters"]
PRESET = ""
WORLDS = ["arithmetic", "planning", "bandits"]
SIZES = "demo"
SEED = 0
SMOKE = False

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display
from scipy.stats import binomtest

from rlmeta_interp import load_pair
from rlmeta_interp.analysis import scorecard as sc
from rlmeta_interp.paths import results_dir
from rlmeta_interp.plotting import COLORS, bar_ci, save_fig, set_style
from rlmeta_interp.registry import select_pairs

if SMOKE:
    SIZES, PRESET = "smoke", "demo"
set_style()
CFG = {"demo": sc.ScorecardConfig.demo, "smoke": sc.ScorecardConfig.smoke, "full": sc.ScorecardConfig}[SIZES]()
CFG = CFG.replace(seed=SEED)
# every zoo pair (of PRESET, if given) in WORLDS; worlds the zoo lacks are reported in the closing cell
SPECS = select_pairs(WORLDS, preset=PRESET or None, smoke=SMOKE, require="any")
OUT = results_dir() / "scorecards"
[p.name for p in SPECS]

# %% [markdown]
# ## Run the scorecard on every pair
# Each indicator's result is saved under `RLMETA_RESULTS/scorecards/<pair>/`, keyed by the pair, world and config; a
# rerun reads it back.

# %%
CARDS = [sc.run_scorecard(load_pair(p.name), None, CFG, out_dir=OUT / p.name, progress=False) for p in SPECS]
pd.DataFrame([{"pair": c.pair, "world": c.world, "dose": c.dose, "gain": c.gain, "summary": c.summary,
               "expected": c.expected} for c in CARDS])

# %% [markdown]
# ## Validation against the known dose
# One row per pair: the expected reading from the dose, each indicator's vote, and the summary.

# %%
VALID = sc.validate_against_dose(CARDS)
WIDE = VALID.pivot_table(index=["pair", "world", "dose", "expected"], columns="indicator", values="vote",
                         aggfunc="first", sort=False)
WIDE

# %% [markdown]
# ## How often each indicator's decisive votes matched the dose
# Bars: share of decisive votes (activation or creation) that matched the dose, with a 95% Clopper-Pearson interval;
# the label gives agreeing / decisive / pairs. Undecided votes (n/a, inconclusive) are not counted either way.

# %%
REL = sc.indicator_reliability(VALID)
ci = [binomtest(int(r.agree), int(r.decisive)).proportion_ci() if r.decisive else None for r in REL.itertuples()]
REL["ci_lo"] = [np.nan if c is None else c.low for c in ci]
REL["ci_hi"] = [np.nan if c is None else c.high for c in ci]
fig, ax = plt.subplots(figsize=(9, 4))
bar_ci(ax, REL.fillna({"agreement": 0.0}), "indicator", "agreement", "ci_lo", "ci_hi",
       colors=[COLORS["reference"] if n != "SUMMARY" else COLORS["rl"] for n in REL["indicator"]])
for i, r in enumerate(REL.itertuples()):
    ax.text(i, 1.02, f"{r.agree}/{r.decisive}/{r.pairs}", ha="center", fontsize=8)
ax.set_ylim(0, 1.12)
ax.set_ylabel("agreement with dose")
ax.tick_params(axis="x", rotation=25)
ax.set_title(f"{len(CARDS)} pairs, scorecard sizes '{SIZES}', seed {SEED}")
save_fig(fig, 11, "reliability", caption="Per indicator (and the rule-based summary): the share of its decisive votes"
         " that matched the reading expected from the known exposure dose, with 95% Clopper-Pearson intervals;"
         " labels give agreeing / decisive / pairs.")
REL

# %% [markdown]
# ## Dose-response: each indicator's headline metric against the exposure dose
# One point per pair (colour: world), 95% CIs where the indicator reports one; grey crosses: the indicator's own
# control (shared-permutation null, random vectors, random firing, random-init probe); dashed lines: the voting rule's
# activation (blue) and creation (orange) thresholds.

# %%
HEAD = pd.concat([c.headlines().assign(world=c.world) for c in CARDS], ignore_index=True)
WORLD_COLOURS = {"arithmetic": COLORS["rl"], "planning": COLORS["reference"], "bandits": COLORS["steered"]}
fig, axes = plt.subplots(2, 4, figsize=(15, 7))
for ax, (ind, spec) in zip(axes.flat, sc.headline_spec(CFG).items()):
    metric = spec["metric"]
    ind_rows = HEAD[HEAD.indicator == ind]
    rows = ind_rows.dropna(subset=["value"])
    ctrl = ind_rows.dropna(subset=["control_value"])
    for world, g in rows.groupby("world"):
        lo = (g["value"] - g["ci_lo"]).fillna(0).clip(lower=0)
        hi = (g["ci_hi"] - g["value"]).fillna(0).clip(lower=0)
        ax.errorbar(g["dose"], g["value"], yerr=[lo, hi], fmt="o", capsize=3, color=WORLD_COLOURS.get(world),
                    label=world)
    if len(ctrl):
        ax.scatter(ctrl["dose"] + 0.01, ctrl["control_value"], marker="x", color=COLORS["control"], label="control")
    for y, c in zip(spec["thresholds"] or (), (COLORS["base"], COLORS["rl"])):
        ax.axhline(y, ls="--", lw=1, color=c)
    ax.set_title(f"{ind}: {metric}", fontsize=8)
    ax.set_xlabel("exposure dose")
    ax.set_xlim(-0.05, max(c.dose or 0.0 for c in CARDS) + 0.1)
    if rows.empty:
        ax.text(0.5, 0.5, "n/a on these pairs", transform=ax.transAxes, ha="center", color=COLORS["control"])
handles, labels = [], []
for ax in axes.flat:
    for h, l in zip(*ax.get_legend_handles_labels()):
        if l not in labels:
            handles.append(h)
            labels.append(l)
fig.legend(handles, labels, loc="upper right", frameon=False, fontsize=8)
fig.suptitle(f"headline metric per indicator vs exposure dose ({len(CARDS)} pairs, sizes '{SIZES}', seed {SEED})")
fig.tight_layout(rect=(0, 0, 0.93, 1))
save_fig(fig, 11, "dose_response", caption="Each indicator's headline metric against the pair's known exposure dose,"
         " coloured by world, with 95% CIs where reported, the indicator's control (grey crosses) and the voting"
         " thresholds for activation (blue dashed) and creation (orange dashed).")

# %% [markdown]
# ## One pair's full scorecard

# %%
EXAMPLE = max(CARDS, key=lambda c: (c.dose or 0.0, c.pair))
fig = sc.plot_scorecard(EXAMPLE)
save_fig(fig, 11, "example_scorecard", caption="The full scorecard of the highest-dose pair: pass@k with the guessing"
         " baseline, steering against random-vector controls (or belief probes), crosscoder latents, and the votes.")
display(Markdown(EXAMPLE.to_markdown()))

# %% [markdown]
# ## What this run found

# %%
rel = REL.set_index("indicator")
inds = [i for i in rel.index if i != "SUMMARY"]
gained = [c.pair for c in CARDS if c.gain is not False]
tracked = [i for i in inds if rel.loc[i, "decisive"] > 0 and rel.loc[i, "agree"] == rel.loc[i, "decisive"]]
against = [f"{i} ({rel.loc[i, 'decisive'] - rel.loc[i, 'agree']} of {rel.loc[i, 'decisive']} decisive votes against"
           " the dose)" for i in inds if rel.loc[i, "agree"] < rel.loc[i, "decisive"]]
silent = [i for i in inds if rel.loc[i, "decisive"] == 0]
summ = rel.loc["SUMMARY"]
head = (f"RL made a measurable gain on {len(gained)} of {len(CARDS)} pairs ({', '.join(f'`{p}`' for p in gained) or 'none'});"
        " only their votes are checked against the dose (without a gain there is no capability whose origin the dose"
        " could vouch for).")
if not gained:
    head += (" **No vote can be validated on this zoo**: the organisms' RL did not improve pass@1 (or regret) beyond"
             " its CI, so the table above records votes but says nothing about which indicators track the dose.")
display(Markdown(f"""
Across {len(CARDS)} pairs ({', '.join(sorted({c.world for c in CARDS}))}; doses {sorted({c.dose for c in CARDS})};
worlds without pairs in this zoo: {', '.join(sorted(set(WORLDS) - {c.world for c in CARDS})) or 'none'}). {head}

- **Tracked the dose on every decisive vote**: {', '.join(tracked) or 'none'}.
- **Voted against the dose at least once**: {'; '.join(against) or 'none'}.
- **No decisive vote on a pair with a gain** (n/a, inconclusive, or no gained pair): {', '.join(silent) or 'none'}.
- **Summary**: {int(summ['agree'])} of {int(summ['decisive'])} decisive summaries matched the dose.

Agreement counts are small: with {len(CARDS)} pairs, an indicator that agreed on every decisive vote is consistent with
the dose, not validated by it (the 95% intervals in the reliability figure show how little a handful of votes
constrains it). The headline metrics in the dose-response figure show whether the numbers move with dose even where
the votes do not.

_Scorecard sizes '{SIZES}' ({CFG.n_problems} problems, {CFG.n_samples} samples per problem, {CFG.n_boot} bootstrap
resamples, seed {SEED}); one RL seed per pair unless the zoo holds several; pairs: {', '.join(f'`{c.pair}`' for c in CARDS)}._
"""))
