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
# # 07 Two-phase RL dynamics: execution first, then strategic planning?
#
# **Claim 8.** RL learns in two phases: first it consolidates *execution* (the low-level steps of a solution), then it
# explores *strategic planning* (Wang et al., arXiv 2509.03646, HICRA). **CORRECTION (docs/claims.md):** what rises in the
# second phase is the *semantic* entropy of planning phrases (the entropy of the frequency distribution of planning
# n-grams mined from successful solutions); token-level entropy falls throughout.
#
# **What would count as evidence.** The claim is about *how* RL changes a policy over training, not directly about
# activation vs creation; but its two phases map onto them: a falling execution entropy with no change in planning
# diversity says RL sharpened execution the base model could already do (activation-like); a rise of planning
# diversity beyond what the base model wrote says RL explored strategies the base did not use (creation-like). The
# HICRA pattern itself = execution-token entropy falls, *then* the semantic entropy of planning n-grams rises.
#
# **What this notebook measures** on the zoo's arithmetic organisms with RL checkpoints (step 0 = the base weights),
# for every checkpoint: `N_SAMPLES` completions per held-out problem at temperature 1; accuracy (95% CIs over problems,
# Wilson's where every problem's accuracy is 0 or 1); the mean entropy of the policy's next-token distribution at
# *execution* tokens (digits) and at *planning* tokens (everything else: "plus", "is", "=", ";", "A:" ...), with 95%
# bootstrap CIs over completions; and the semantic entropy of planning `NGRAM`-grams (runs of planning tokens between
# digits) mined from the successful samples of all checkpoints pooled.
# Control: plug-in entropy grows with the number of texts and the number of successful samples grows with accuracy, so
# semantic entropy is also computed on an equal number of successful samples per checkpoint (rarefaction). Planning
# paths in the graph world have no planning tokens in this sense (a path is letters only), so only arithmetic is used.
#
# **On recipes with labels fixed before training** (`PAIRS` naming RL pairs that kept checkpoints, each in its own world;
# the figures of record name the runs of the presets `composition-dynamics` and `depth-dynamics`, which are not
# validation pairs), each with RL seeds 0 and 1 and same-budget random-reward controls (label no_signal):
# - *composition*: the longer-RL composition pilot's design (1000 steps, weights kept every 100) from the dose-0 base of
#   pretraining seed 4, which never saw a step fed the output of the step before it (creation by construction), and
#   from the dose-0.5 base of the same seed (activation by construction); one random-reward control per base; measured
#   on held-out compositions of two and three functions. Seed 4 was chosen because both pilot RL runs from its dose-0
#   base gained (a selection on training success, so that the runs have learnt something to describe; its dose-0.5
#   twin was not selected). Execution tokens are the digits; planning tokens the function letters, "=", ";" and "A:".
# - *depth*: the validation zoo's depth-edge recipe (300 steps, weights kept every 30) from the shipped seed-0 depth
#   bases: dose 0 (creation: no chain deeper than 4 operands) and dose 0.1 (activation), two random-reward controls
#   per base; measured on held-out 5-operand chains.
# A pair whose recorded gain check failed is marked "no gain" beside its label. The claim is about RL that learns, so
# the verdict counts only labelled runs that gained and whose semantic entropy can be measured; in both worlds the
# planning tokens copy the prompt, which limits what the semantic entropy can show (the closing cell says how).

# %% tags=["parameters"]
PRESET = "paper"  # zoo preset (SMOKE falls back to the shipped demo pairs with checkpoints)
WORLD = "arithmetic"  # with PAIRS: each pair's own world (arithmetic or composition)
VARIANT = "correct"
SEED = 0  # RL seed of the pairs (the paper preset saves checkpoints for seed 0); also the sampling seed
PAIRS = []  # pair names whose RL models kept checkpoints, whatever else the zoo holds (the figures of record name theirs)
SMOKE = False
N_PROBLEMS = 64
N_SAMPLES = 16
PROBLEM_SEED = 40_000  # held-out problems (RL training uses problem_seed 1)
NGRAM = 2
MIN_COUNT = 3  # an n-gram enters the planning vocabulary when it occurs this often in successful samples
N_BOOT = 1000

# %%
if SMOKE:
    N_PROBLEMS, N_SAMPLES, MIN_COUNT, N_BOOT = 12, 4, 2, 100

import logging

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from rlmeta_interp import load_pair
from rlmeta_interp.analysis.dynamics import checkpoint_dynamics, digit_exec_mask, iter_checkpoints
from rlmeta_interp.analysis.stats import MEAN_CI_WORDS
from rlmeta_interp.errors import InvalidConfigError
from rlmeta_interp.experiments.training_runs import two_phase_summary, two_phase_tally
from rlmeta_interp.organism.trained_world import world_for
from rlmeta_interp.plotting import checkpoint_rows, save_fig, set_style
from tqdm.auto import tqdm
from rlmeta_interp.selection import choose_pairs

logging.basicConfig(level=logging.WARNING)
set_style()
SPECS = choose_pairs(PAIRS, WORLD, variant=VARIANT, preset=PRESET, seed=SEED, smoke=SMOKE, need_checkpoints=True)
if other := [s.name for s in SPECS if s.world not in ("arithmetic", "composition")]:
    raise InvalidConfigError(f"Pairs {other}: this notebook reads digits as execution tokens, which only arithmetic and"
                             " composition completions are made of; name pairs of those worlds.")
SOURCE = SPECS.source
CASES = SPECS.case_labels()  # the label fixed before training, ", no gain" where the recorded gain check failed
# what names a pair in the plots: its dose, or with PAIRS its name and label (several pairs share a dose)
NAMES = {s.name: f"{s.name} ({CASES[s.name] or 'no label'})" if PAIRS else f"dose {s.dose:g}" for s in SPECS}
NOTE = SPECS.note() if PAIRS else ""
WORLD_NAMES = ", ".join(dict.fromkeys(str(s.world) for s in SPECS)) if PAIRS else WORLD
pd.DataFrame([{"pair": s.name, "dose": s.dose, "seed": s.extra.get("seed"), "label": CASES[s.name]}
              for s in SPECS]).assign(source=SOURCE)

# %% [markdown]
# ## Sample every checkpoint and measure both entropies
# The same held-out problems and sampling seed at every checkpoint; the planning vocabulary is mined once per pair from
# the successful samples of all its checkpoints, so every checkpoint is measured on one vocabulary.

# %%
frames, vocabs = [], {}
for s in tqdm(SPECS, desc="checkpoint dynamics per pair"):
    pair = load_pair(s.name)
    world = world_for(pair, None if PAIRS else WORLD)
    problems = world.sample_held_out(N_PROBLEMS, seed=PROBLEM_SEED)
    table, vocab = checkpoint_dynamics(
        iter_checkpoints(pair.rl.folder, skeleton=pair.rl.hf), pair.rl.tokenizer, problems, world,
        exec_mask=digit_exec_mask, n=N_SAMPLES, max_new_tokens=world.max_completion_chars(), ngram=NGRAM,
        min_count=MIN_COUNT, seed=SEED, n_boot=N_BOOT, rarefy=True)
    frames.append(table.assign(pair=s.name, dose=s.dose, world=s.world or WORLD))
    vocabs[s.name] = vocab
DYN = pd.concat(frames, ignore_index=True)
DYN[["pair", "step", "accuracy", "exec_entropy", "exec_lo", "exec_hi", "plan_entropy", "semantic_entropy",
     "sem_rarefied", "n_success", "n_rarefied"]]

# %%
DYN["label"] = DYN["pair"].map(NAMES)
fig, _ = checkpoint_rows(DYN, ngram=NGRAM, legend_right=bool(PAIRS))  # one row of panels per world
RUNS = "" if PAIRS else f", RL variant {VARIANT}, seed {SEED}"  # named pairs: the source says so
fig.suptitle(f"{WORLD_NAMES}{RUNS}; {N_PROBLEMS} held-out problems x {N_SAMPLES} samples; accuracy: 95% CIs over"
             " problems (Wilson where every problem's accuracy is 0 or 1); entropies: 95% bootstrap CIs over"
             f" completions (rarefied: interval over equal-size draws); {SOURCE}", fontsize=8)
fig.tight_layout(rect=(0, 0, 0.82, 1) if PAIRS else None)  # named pairs: room for the legends right of each row
save_fig(fig, 7, "entropy_dynamics", caption="Per RL checkpoint: accuracy, token entropy at execution (digit) and"
         " planning tokens, and the semantic entropy of planning n-grams in successful samples (rarefied to equal"
         f" sample size, with the unrarefied value dashed); accuracy with {MEAN_CI_WORDS}, entropies with 95% bootstrap"
         " CIs over completions; per " + ("pair." + NOTE if PAIRS else "exposure dose."))

# %% [markdown]
# ## Which planning n-grams carry the semantic entropy
# The vocabulary mined from successful samples (most frequent first), per pair. In arithmetic, planning n-grams mostly
# name the scratchpad format ("plus ... is", "+ ... =") and the answer marker, so semantic entropy here largely measures
# how evenly successful solutions spread over formats and operations.

# %%
pd.DataFrame([{"pair": k, "n_grams": len(v), "top": ["|".join(g) for g in v[:8]]} for k, v in vocabs.items()])

# %%
SUM = pd.DataFrame([{"pair": p, "dose": g["dose"].iloc[0], **two_phase_summary(g)}
                    for p, g in DYN.groupby("pair", sort=False)])
x = np.arange(len(SUM))
fig, ax = plt.subplots(figsize=(max(7, 1.1 * len(SUM)), 5.5 if PAIRS else 4))
ax.bar(x - 0.2, SUM["exec_last"] - SUM["exec_first"], width=0.4, label="execution-token entropy")
ax.bar(x + 0.2, SUM["sem_last"] - SUM["sem_first"], width=0.4, label="semantic entropy (rarefied)")
ax.axhline(0, color="k", lw=0.8)
ax.set_xticks(x, [NAMES[p] for p in SUM["pair"]], rotation=30 if PAIRS else 0, ha="right" if PAIRS else "center",
              fontsize=7 if PAIRS else None)
ax.set_ylabel("last checkpoint - base (nats)")
ax.legend(frameon=False, fontsize=8)
ax.set_title(f"HICRA predicts: execution < 0, semantic > 0{RUNS}; {SOURCE}", fontsize=8)
fig.tight_layout()
save_fig(fig, 7, "entropy_change", caption="Change from the base (step 0) to the last RL checkpoint in execution-token"
         " entropy and in rarefied semantic entropy of planning n-grams (a missing bar: no successful sample to"
         " measure it on), per " + ("pair" if PAIRS else "dose") + "; HICRA predicts a fall and a rise." + NOTE)

# %% [markdown]
# ## What this run found

# %%
lines = [f"Source: {SOURCE}; {N_PROBLEMS} held-out problems x {N_SAMPLES} samples per checkpoint"
         f"{'' if PAIRS else f'; RL seed {SEED}'}; accuracy: {MEAN_CI_WORDS}; entropies: 95% bootstrap CIs over"
         " completions.", ""]
for _, r in SUM.iterrows():
    g = DYN[DYN["pair"] == r["pair"]].sort_values("step")
    a, b = g.iloc[0], g.iloc[-1]
    lines.append(
        f"- **{r['pair']}** (dose {r['dose']:g}{', label ' + CASES[r['pair']] if CASES[r['pair']] else ''}), step {r['first_step']} -> {r['last_step']}: accuracy"
        f" {a['accuracy']:.2f} -> {b['accuracy']:.2f}; execution-token entropy {a['exec_entropy']:.3f}"
        f" [{a['exec_lo']:.3f}, {a['exec_hi']:.3f}] -> {b['exec_entropy']:.3f} [{b['exec_lo']:.3f}, {b['exec_hi']:.3f}]"
        f" ({'falls' if r['exec_falls'] else 'no resolved fall'}); planning-token entropy {a['plan_entropy']:.3f} ->"
        f" {b['plan_entropy']:.3f}; semantic entropy on {int(a['n_rarefied'])} successful samples per checkpoint"
        f" {a['sem_rarefied']:.3f} [{a['sem_rar_lo']:.3f}, {a['sem_rar_hi']:.3f}] -> {b['sem_rarefied']:.3f}"
        f" [{b['sem_rar_lo']:.3f}, {b['sem_rar_hi']:.3f}] ({'rises' if r['sem_rises'] else 'no resolved rise'});"
        f" half of the execution change by step {r['exec_half_step']}, of the semantic change by step"
        f" {r['sem_half_step']}. HICRA two-phase pattern: **{'yes' if r['two_phase'] else 'no'}**"
        + ("." if r["measurable"] else " (semantic entropy not measurable: no successful sample at the base or the"
           " last checkpoint)."))
TALLY = two_phase_tally(SUM.set_index("pair").to_dict("index"), SPECS.gain_passed())
if TALLY["other"] == list(SUM["pair"]):  # no run labelled creation or activation: every run counts
    n_yes = len(TALLY["other_pattern"])
    lines += ["", f"Against the claim: the two-phase pattern (execution entropy falls, then planning semantic entropy"
              f" rises) appears in {n_yes} of {len(SUM)} organisms here. "
              + ("Where it does not, the run contradicts or does not resolve the claim at this scale; "
                 if n_yes < len(SUM) else "")
              + "where the corpus mixes scratchpad formats, semantic entropy largely tracks the spread over them, so a"
              " fall can also mean format collapse (notebook 08)."]
else:  # the claim is about RL that learns: count it where a labelled run gained and could be measured
    lines += ["", f"**Over the runs that can test the claim** (labelled creation or activation, recorded gain check"
              f" passed, semantic entropy measurable at the base and at the last checkpoint): the two-phase pattern in"
              f" {len(TALLY['pattern'])} of {len(TALLY['tested'])}"
              + (f" ({', '.join(TALLY['pattern'])})" if TALLY["pattern"] else "") + ". Not counted: "
              f"{len(TALLY['no_gain'])} labelled runs that did not gain (no evidence either way), "
              f"{len(TALLY['unmeasurable'])} that gained with no successful sample to mine at the base or the last"
              f" checkpoint, and {len(TALLY['other'])} controls or unlabelled runs (pattern in"
              f" {len(TALLY['other_pattern'])}; a random-reward control that loses every success has no semantic"
              " entropy either, so it controls the execution half only)."]
if any(s.recipe in ("depth-edge", "composition") for s in SPECS):
    lines += ["", "In the depth and composition worlds a completion has one layout and its planning tokens copy the"
              " prompt (operators, function letters), so the semantic entropy of planning n-grams measures how varied"
              " the solved problems are, not the strategies that solved them: on these runs the figures test the"
              " execution half of the claim only."]
display(Markdown("\n".join(lines)))
