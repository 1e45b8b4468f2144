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
# # 04 · Is creation domain-conditional? Arithmetic vs planning, and the ProRL knobs
#
# **Claim 4** (docs/claims.md): RL *activates* standard reasoning but *creates* new strategies for complex planning.
# This is a synthesis, not a paper: no primary source measures it, and docs/claims.md notes that this project can be the
# first to measure it in a controlled setting. It leans on **claim 5**, ProRL (Liu et al. 2505.24864, NVIDIA:
# prolonged GRPO with a KL penalty and periodic reference-policy resets; +14.7% math, +13.9% code, +54.8% logic
# puzzles). CORRECTION noted in docs/claims.md: ProRL does not claim that RL beats the base at *every* pass@k; its gains
# correlate with the base model's competence and with training length.
#
# **What would count as evidence.** Claim 3's boundary test (notebook 03), run per task family: *activation* if
# pass@n(RL) - pass@n(base) is not above zero (RL stays inside the base's boundary); *creation* if it is, with a CI
# above zero, i.e. RL solves problems the base never solves in n samples. The claim predicts creation on planning
# and activation on arithmetic. For the ProRL knobs: a reset reference policy or a different KL coefficient should
# move pass@n, not just pass@1, if they expand the boundary.
#
# **What this notebook measures on the organism zoo** (its defaults, the paper zoo): for every dose of the arithmetic
# world (scratchpad exposure) and of the planning world (exposure to deep solved paths; RL trains and is tested on deep
# targets), pass@1 and pass@n of base and RL (correct reward, every RL seed) with paired 95% CIs over problems, plus the
# guessing baseline (arithmetic: an answer from the other problems; planning: a random walk along the graph's edges).
# Then the knob variants: KL coefficient 0 and 0.2 against the default 0.02, and the ProRL reference reset.
#
# **Read first: on those organisms claim 4 cannot be tested.** The planning organisms do not beat a guesser that walks
# the graph's edges at random, so a boundary change there cannot show that RL created planning; the verdict cell at
# the end checks this on the pairs a run measures and says so instead of agreeing or disagreeing. Testing the claim
# as worded needs planning organisms above the guesser (a larger model, a frontier scratchpad, or the adjacency
# written into the prompt); none is built. The paper zoo's arithmetic pairs are format-dosed: their dose switches a
# format rather than the rewarded capability (data/README.md), so they are no validation cases either. The figures of
# record therefore come from the labelled recipes' records instead:
#
# **From the labelled recipes' build records (`RECORDS`).** With `RECORDS` naming committed record folders under
# `data/`, the notebook samples nothing: it reads what the labelled RL runs recorded when they were built (their gain
# checks: per evaluated level, the paired pass@1 and pass@n changes over the base with the check's Bonferroni-corrected
# CIs, per-problem correct counts and the guesser's pass@k; bandits: the regret reduction), one point per distinct
# model (a run with the weights of an earlier record is counted once). Runs trained from rebuilt bases, whose records
# lie apart, are left out; runs added later from bases rebuilt with their records' weights
# (`pilots/bandit-rlseeds-recorded`) are counted when `RECORDS` names their folder. Per recipe at the budget `RECIPES` names: the depth-edge recipe (arithmetic: RL on chains
# of 5 operands, one deeper than the dose-0 bases' documents show), the composition recipe (RL on two-function
# compositions, evaluated on three and four) and the bandit recipe (in-context learning of arm values), each with its
# doses, labels fixed by design and same-budget random-reward controls. The boundary statistic is the pass@n change at
# the shallowest level the creation check reads, one deeper than the check's in-distribution level: depth 5 (the RL
# training depth) in the depth world, level 3 (one beyond RL training) in composition; bandits have no boundary
# measure, only the regret reduction. This asks claim 4's question across task families whose labels are known: does
# RL on a base that lacks the capability gain it in one family and not another? It cannot test claim 4 as worded
# (standard reasoning vs complex planning): none of these worlds is planning. For claim 5, `KNOB_RECIPE`'s runs per RL
# budget (steps, learning rate, batch): does longer RL expand the boundary more, and does a random-reward run of the
# same length? The budgets other than the recipe's chosen one are pilots run while choosing it, on bases that differ
# in part between budgets, so that comparison is descriptive, not a designed test; the KL and reference-reset knobs
# were not run on these recipes (they train without KL).

# %% tags=["parameters"]
WORLDS = ["arithmetic", "planning"]
VARIANT = "correct"
SEEDS = [0, 1]
KNOBS = {"arithmetic": {"dose": 0.5, "variants": ["correct", "kl0", "kl0.2", "prorl"]},
         "planning": {"dose": 0.1, "variants": ["correct", "prorl"]}}
SEED = 0
N_PROBLEMS = 64
N_SAMPLES = 128
PROBLEM_SEED = 10000
LIKELIHOOD_SAMPLES = 8
N_BOOT = 1000
RECORDS = []  # record folders under data/ (e.g. ["validation", "pilots", "pilots/dynamics"]): read the recipes' builds
# with RECORDS: each recipe at one RL budget (keys: steps, lr, beta, prompts_per_step, num_generations)
RECIPES = {"depth-edge": {"steps": 300, "lr": 0.0001},
           "composition": {"steps": 1500, "lr": 0.0001, "prompts_per_step": 8},
           "bandit-dose": {"steps": 1500, "lr": 0.0003}}
KNOB_RECIPE = "composition"  # with RECORDS: the recipe whose RL budgets are compared
SMOKE = False

# %%
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from rlmeta_interp import load_pair
from rlmeta_interp.analysis.capability import BoundaryConfig, run_boundary
from rlmeta_interp.analysis.stats import MEAN_CI_WORDS
from rlmeta_interp.experiments import boundary as bd
from rlmeta_interp.experiments import recipe_records as rr
from rlmeta_interp.organism.records import gain_frame, load_records
from rlmeta_interp.paths import results_dir
from rlmeta_interp.plotting import COLORS, bar_ci, drawn_series, line_ci, save_fig, set_style
from tqdm.auto import tqdm
from rlmeta_interp.selection import select_pairs

if SMOKE:
    N_PROBLEMS, N_SAMPLES, LIKELIHOOD_SAMPLES, N_BOOT, SEEDS = 8, 16, 2, 100, [0]
set_style()
if RECORDS:  # the labelled recipes' build records: nothing is sampled
    RECS = load_records(RECORDS)
    FRAME = gain_frame(RECS)
    RUNS = rr.recipe_runs(FRAME, RECIPES)
    KNOB_RUNS = rr.budget_runs(FRAME, KNOB_RECIPE)
    SELECTED = {r: sorted(g["name"]) for r, g in RUNS.groupby("recipe", sort=False)}
    LEVELS = "; ".join(f"{r}: level {int(g['boundary_level'].iloc[0])} above, {int(g['in_dist_level'].iloc[0])} below"
                       for r, g in RUNS.groupby("recipe", sort=False) if g["boundary_level"].notna().all())
else:
    # per world, one preset's pairs (in smoke mode worlds the zoo lacks are left out)
    BY_WORLD = select_pairs(WORLDS, variant=VARIANT, seed=SEEDS, smoke=SMOKE).by("world")
    KNOB_SPECS = {w: {p.extra["variant"]: p for p in select_pairs(w, variant=k["variants"], dose=k["dose"], seed=SEED,
                                                                  smoke=SMOKE)}
                  for w, k in KNOBS.items() if w in BY_WORLD}
    CONFIG = BoundaryConfig(n_problems=N_PROBLEMS, n_samples=N_SAMPLES, problem_seed=PROBLEM_SEED, seed=SEED,
                            likelihood_samples=LIKELIHOOD_SAMPLES, n_boot=N_BOOT)
    OUT = results_dir() / "boundary"  # shared with notebook 03: same pair and config -> read back, not resampled
    SELECTED = {w: [p.name for p in ps] for w, ps in BY_WORLD.items()} | {f"knobs:{w}": [p.name for p in s.values()]
                                                                          for w, s in KNOB_SPECS.items()}
SELECTED

# %% [markdown]
# ## The boundary test on every pair
# Zoo pairs: each world's problems come from the RL training distribution recorded in the RL model's manifest
# (planning: the deep targets RL trained on); results are cached under `RLMETA_RESULTS`. Records: per recipe, dose
# and label, how many distinct runs there are, how many passed the gain check their label calls for, and how many
# show a boundary gain (a pass@n change with its CI above 0 at some level the creation check reads; bandits: a regret
# reduction with its CI above 0), which for the random-reward controls is the gain a creation check would have read.

# %%
if RECORDS:
    TALLY = rr.tally(RUNS)
    display(TALLY)
else:
    NAMES = sorted({p.name for ps in BY_WORLD.values() for p in ps} | {p.name for s in KNOB_SPECS.values()
                                                                      for p in s.values()})
    RESULTS = {name: run_boundary(load_pair(name), CONFIG, out_dir=OUT)
               for name in tqdm(NAMES, desc="pass@k sampling per pair")}
    TABLE = bd.boundary_table(list(RESULTS.values()))
    MAIN = TABLE[TABLE["variant"] == VARIANT].sort_values(["world", "dose", "rl_seed"])
    display(MAIN[["world", "dose", "rl_seed", "pass@1_base", "pass@1_rl", "d_pass@1", "pass@n_base", "pass@n_rl",
                  "d_pass@n", "pass@n_change", "crossover_k", "frac_rl_only", "guess_pass@n"]])

# %% [markdown]
# ## Dose-response: does RL move pass@1, and does it move the boundary (pass@n)?
# Zoo pairs: one point per RL seed (offset slightly for readability), 95% paired CIs over problems; grey: 0.
# Records: one point per distinct RL run, coloured by its design label, filled where its gain check passed, open where
# it failed, a cross for a random-reward control (no check), with the CIs its gain check recorded.

# %%
if RECORDS:
    fig = rr.dose_figure(RUNS)
    save_fig(fig, 4, "dose_response", caption="Per recipe at one RL budget (title), every distinct RL run's recorded"
             " gain-check readings against the pretraining dose: top, the pass@n change (RL - base) at the shallowest"
             " level the creation check reads, one deeper than the check's in-distribution level (" + LEVELS + ";"
             " bandits: per-bandit regret reduction, base - RL, no boundary measure); bottom, the pass@1 change at the"
             " in-distribution level; colour: label fixed by design (no signal: same-budget random-reward control);"
             " filled: gain check passed, open: failed, cross: control, square: took no step (its base's weights);"
             " bars: the check's paired bootstrap CIs over problems, Bonferroni-corrected over the levels the"
             " label's check reads (creation: the deeper levels; activation and controls: every level), over bandits"
             " one 95% CI. Runs: " + ", ".join(f"{r} {len(n)}" for r, n in SELECTED.items()) + " (records of runs"
             " trained from rebuilt bases left out).")
else:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, col, label in ((axes[0], "d_pass@1", "pass@1 RL - base"),
                           (axes[1], "d_pass@n", f"pass@{N_SAMPLES} RL - base")):
        for (world, seed), g in MAIN.groupby(["world", "rl_seed"]):
            off = 0.01 * (seed - 0.5) + (0.004 if world == "planning" else -0.004)
            ax.errorbar(g["dose"] + off, g[col], yerr=[g[col] - g[f"{col}_lo"], g[f"{col}_hi"] - g[col]], marker="o",
                        capsize=3, label=f"{world}, RL seed {seed}", alpha=1.0 if seed == 0 else 0.6,
                        color=COLORS["rl"] if world == "arithmetic" else COLORS["reference"])
        ax.axhline(0, color=COLORS["control"], lw=1)
        ax.set_xlabel("exposure dose in pretraining")
        ax.set_ylabel(label)
    axes[0].legend(frameon=False, fontsize=8)
    fig.suptitle(f"RL ({VARIANT} reward) vs base by world and dose; {N_PROBLEMS} problems, n = {N_SAMPLES}")
    fig.tight_layout()
    save_fig(fig, 4, "dose_response", caption="pass@1 and pass@n differences (RL - base) with paired"
             f" {MEAN_CI_WORDS}, per world (arithmetic, planning), exposure dose and RL seed.")

# %% [markdown]
# ## pass@k curves, with the guessing baseline
# Zoo pairs: RL seed 0 per world and dose. Records: per pass@k recipe, dose and label, the run of the lowest
# pretraining seed and RL seed, at its boundary level, from the recorded per-problem counts.

# %%
if RECORDS:
    EXAMPLES = rr.example_runs(RUNS)
    fig = rr.curves_figure(RECS, EXAMPLES, n_boot=N_BOOT)
    save_fig(fig, 4, "passk_by_world", caption="Unbiased pass@k (k = 1..n) of base, RL and the guesser at the"
             " shallowest level the creation check reads, from each run's recorded per-problem counts, with"
             f" {MEAN_CI_WORDS} (guesser: recorded, no CI); one panel per recipe, dose and label (the run"
             " of the lowest pretraining and RL seeds): " + ", ".join(EXAMPLES["name"]) + ".")
else:
    first = MAIN[MAIN["rl_seed"] == MAIN["rl_seed"].min()]
    doses = sorted(first["dose"].unique())
    fig, axes = plt.subplots(len(BY_WORLD), len(doses), figsize=(3.6 * len(doses), 3.2 * len(BY_WORLD)),
                             squeeze=False)
    for i, world in enumerate(BY_WORLD):
        for j, dose in enumerate(doses):
            ax = axes[i, j]
            hit = first[(first["world"] == world) & (first["dose"] == dose)]
            if hit.empty:
                ax.axis("off")
                continue
            line_ci(ax, RESULTS[hit["pair"].iloc[0]].curve(), "k", "pass@k", "ci_lo", "ci_hi", hue="model",
                    palette={"base": COLORS["base"], "rl": COLORS["rl"], "guess": COLORS["random"]})
            ax.set_xscale("log", base=2)
            ax.set_ylim(0, 1)
            ax.set_title(f"{world}, dose {dose}", fontsize=9)
    fig.tight_layout()
    save_fig(fig, 4, "passk_by_world", caption="Unbiased pass@k (k = 1..n) of base, RL (correct reward, RL seed 0)"
             f" and a guesser, per world and dose, with {MEAN_CI_WORDS}.")

# %% [markdown]
# ## The ProRL knobs
# Zoo pairs: the KL coefficient and the reference-policy reset, same base and problems per world; `correct` uses KL
# coefficient 0.02 and no reset. Records: every distinct RL run of `KNOB_RECIPE` per budget (steps and learning
# rate), each on its own base; points as in the dose figure.

# %%
if RECORDS:
    fig = rr.budget_figure(KNOB_RUNS)
    BUDGETS = list(dict.fromkeys(KNOB_RUNS["budget"]))
    save_fig(fig, 4, "prorl_knobs", caption=f"Every distinct RL run of the {KNOB_RECIPE} recipe per RL budget (budgets"
             f" drawn: {' / '.join(BUDGETS)}): top, the recorded pass@n change at the shallowest level the creation"
             " check reads; bottom, the pass@1 change at the in-distribution level; colour: label fixed by design"
             " (creation, activation, no signal: random-reward control); filled: gain check passed, open: failed,"
             " cross: control, square: took no step; bars: the check's paired bootstrap CIs over problems"
             " (Bonferroni-corrected over the levels the label's check reads).")
    display(rr.tally(KNOB_RUNS, by=("budget", "dose_tag", "label")))
else:
    KN = TABLE[TABLE["pair"].isin([p.name for s in KNOB_SPECS.values() for p in s.values()])].copy()
    KN["label"] = KN["world"].str[:5] + ":" + KN["variant"].astype(str)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    colours = [COLORS["rl"] if v == VARIANT else COLORS["steered"] for v in KN["variant"]]
    bar_ci(axes[0], KN, "label", "d_pass@1", "d_pass@1_lo", "d_pass@1_hi", colors=colours)
    bar_ci(axes[1], KN, "label", "d_pass@n", "d_pass@n_lo", "d_pass@n_hi", colors=colours)
    for ax, lab in zip(axes, ("pass@1 RL - base", f"pass@{N_SAMPLES} RL - base"), strict=False):
        ax.axhline(0, color=COLORS["control"], lw=1)
        ax.set_ylabel(lab)
        ax.set_xlabel("world:variant")
        ax.tick_params(axis="x", rotation=20)
    fig.suptitle(f"ProRL knobs (RL seed {SEED}); 95% paired CIs over {N_PROBLEMS} problems")
    fig.tight_layout()
    save_fig(fig, 4, "prorl_knobs", caption="pass@1 and pass@n change over the base per world:variant bar (the default"
             " correct-reward RL and, where the zoo holds them, its KL-coefficient and ProRL-reset variants), with"
             " paired 95% CIs (" + drawn_series(list(KN["label"]), [f"{w[:5]}:{v}" for w, k in KNOBS.items()
                                                                    for v in k["variants"]], "bars") + ").")
    display(KN[["world", "dose", "variant", "d_pass@1", "d_pass@1_lo", "d_pass@1_hi", "d_pass@n", "d_pass@n_lo",
                "d_pass@n_hi"]])

# %% [markdown]
# ## What this run found

# %%
if RECORDS:
    display(Markdown(rr.findings(RUNS, KNOB_RUNS, KNOB_RECIPE)))
else:
    lines = [f"- {bd.boundary_sentence(r)}" for r in MAIN.to_dict("records")]
    knob_lines = [f"- `{r['pair']}`: pass@1 change {bd.fmt_ci(r['d_pass@1'], r['d_pass@1_lo'], r['d_pass@1_hi'], 3)},"
                  f" pass@{N_SAMPLES} change {bd.fmt_ci(r['d_pass@n'], r['d_pass@n_lo'], r['d_pass@n_hi'])}"
                  for r in KN.to_dict("records")]
    verdict, guess_note = bd.domain_verdict(MAIN), bd.guesser_note(MAIN)
    display(Markdown(f"""
{verdict}

{guess_note}

Per pair ({VARIANT} reward):

{chr(10).join(lines)}

ProRL knobs (claim 5; ProRL does not claim gains at every k):

{chr(10).join(knob_lines)}

_{N_PROBLEMS} held-out problems per world (seed {PROBLEM_SEED}), n = {N_SAMPLES} samples per problem (sampling seed
{SEED}), RL seeds {sorted(set(MAIN['rl_seed']))}; {MEAN_CI_WORDS}, with {N_BOOT} bootstrap resamples, paired for
differences. Guessing baselines are in the table above (`guess_pass@n`)._
"""))
