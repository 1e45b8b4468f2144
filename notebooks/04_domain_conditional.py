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
# **What this notebook measures** on the organism zoo: for every dose of the arithmetic world (scratchpad exposure)
# and of the planning world (exposure to deep solved paths; RL trains and is tested on deep targets), pass@1 and
# pass@n of base and RL (correct reward, every RL seed) with paired 95% CIs over problems, plus the guessing baseline
# (arithmetic: an answer from the other problems; planning: a random walk along the graph's edges). Then the knob
# variants: KL coefficient 0 and 0.2 against the default 0.02, and the ProRL reference reset.
#
# **Read first: planning is outside the project's claims on the shipped zoo.** In the committed figure
# `04_passk_by_world`, its organisms do not beat a guesser that walks the graph's edges at random, so a boundary change
# there cannot show that RL created planning, and the domain comparison of claim 4 cannot be made. The verdict cell at
# the end checks this on the pairs this run measures and says so instead of agreeing or disagreeing. Testing the
# claim needs planning organisms above the guesser (a larger model, a frontier scratchpad, or the adjacency written
# into the prompt); none is built. The arithmetic pairs here are the format-dosed ones, whose dose switches a format rather than
# the rewarded capability (data/README.md), so they are not validation cases either.

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
SMOKE = False

# %%
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from rlmeta_interp import load_pair
from rlmeta_interp.analysis.capability import BoundaryConfig, run_boundary
from rlmeta_interp.experiments import boundary as bd
from rlmeta_interp.paths import results_dir
from rlmeta_interp.plotting import COLORS, bar_ci, drawn_series, line_ci, save_fig, set_style
from tqdm.auto import tqdm
from rlmeta_interp.registry import select_pairs

if SMOKE:
    N_PROBLEMS, N_SAMPLES, LIKELIHOOD_SAMPLES, N_BOOT, SEEDS = 8, 16, 2, 100, [0]
set_style()
# per world, one preset's pairs (in smoke mode worlds the zoo lacks are left out)
BY_WORLD = select_pairs(WORLDS, variant=VARIANT, seed=SEEDS, smoke=SMOKE).by("world")
KNOB_SPECS = {w: {p.extra["variant"]: p for p in select_pairs(w, variant=k["variants"], dose=k["dose"], seed=SEED,
                                                              smoke=SMOKE)}
              for w, k in KNOBS.items() if w in BY_WORLD}
CONFIG = BoundaryConfig(n_problems=N_PROBLEMS, n_samples=N_SAMPLES, problem_seed=PROBLEM_SEED, seed=SEED,
                           likelihood_samples=LIKELIHOOD_SAMPLES, n_boot=N_BOOT)
OUT = results_dir() / "boundary"  # shared with notebook 03: same pair and config -> read back, not resampled
{w: [p.name for p in ps] for w, ps in BY_WORLD.items()} | {f"knobs:{w}": [p.name for p in s.values()]
                                                           for w, s in KNOB_SPECS.items()}

# %% [markdown]
# ## The boundary test on every pair
# Each world's problems come from the RL training distribution recorded in the RL model's manifest (planning: the
# deep targets RL trained on). Results are cached under `RLMETA_RESULTS`.

# %%
NAMES = sorted({p.name for ps in BY_WORLD.values() for p in ps} | {p.name for s in KNOB_SPECS.values() for p in s.values()})
RESULTS = {name: run_boundary(load_pair(name), CONFIG, out_dir=OUT) for name in tqdm(NAMES, desc="pass@k sampling per pair")}
TABLE = bd.boundary_table(list(RESULTS.values()))
MAIN = TABLE[TABLE["variant"] == VARIANT].sort_values(["world", "dose", "rl_seed"])
MAIN[["world", "dose", "rl_seed", "pass@1_base", "pass@1_rl", "d_pass@1", "pass@n_base", "pass@n_rl", "d_pass@n",
      "pass@n_change", "crossover_k", "frac_rl_only", "guess_pass@n"]]

# %% [markdown]
# ## Dose-response per world: does RL move pass@1, and does it move the boundary (pass@n)?
# One point per RL seed (offset slightly for readability), 95% paired CIs over problems; grey: 0.

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for ax, col, label in ((axes[0], "d_pass@1", "pass@1 RL - base"), (axes[1], "d_pass@n", f"pass@{N_SAMPLES} RL - base")):
    for (world, seed), g in MAIN.groupby(["world", "rl_seed"]):
        off = 0.01 * (seed - 0.5) + (0.004 if world == "planning" else -0.004)
        ax.errorbar(g["dose"] + off, g[col], yerr=[g[col] - g[f"{col}_lo"], g[f"{col}_hi"] - g[col]], marker="o",
                    capsize=3, label=f"{world}, RL seed {seed}",
                    color=COLORS["rl"] if world == "arithmetic" else COLORS["reference"], alpha=1.0 if seed == 0 else 0.6)
    ax.axhline(0, color=COLORS["control"], lw=1)
    ax.set_xlabel("exposure dose in pretraining")
    ax.set_ylabel(label)
axes[0].legend(frameon=False, fontsize=8)
fig.suptitle(f"RL ({VARIANT} reward) vs base by world and dose; {N_PROBLEMS} problems, n = {N_SAMPLES}")
fig.tight_layout()
save_fig(fig, 4, "dose_response", caption="pass@1 and pass@n differences (RL - base) with paired 95% bootstrap CIs over"
         " problems, per world (arithmetic, planning), exposure dose and RL seed.")

# %% [markdown]
# ## pass@k curves (RL seed 0), with the guessing baseline

# %%
first = MAIN[MAIN["rl_seed"] == MAIN["rl_seed"].min()]
doses = sorted(first["dose"].unique())
fig, axes = plt.subplots(len(BY_WORLD), len(doses), figsize=(3.6 * len(doses), 3.2 * len(BY_WORLD)), squeeze=False)
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
save_fig(fig, 4, "passk_by_world", caption="Unbiased pass@k (k = 1..n) of base, RL (correct reward, RL seed 0) and a"
         " guesser, per world and dose, with 95% bootstrap CIs over problems.")

# %% [markdown]
# ## The ProRL knobs: KL coefficient and reference-policy reset
# Same base and problems per world; `correct` uses KL coefficient 0.02 and no reset.

# %%
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
         " correct-reward RL and, where the zoo holds them, its KL-coefficient and ProRL-reset variants), with paired"
         " 95% CIs (" + drawn_series(list(KN["label"]), [f"{w[:5]}:{v}" for w, k in KNOBS.items() for v in k["variants"]],
                                     "bars") + ").")
KN[["world", "dose", "variant", "d_pass@1", "d_pass@1_lo", "d_pass@1_hi", "d_pass@n", "d_pass@n_lo", "d_pass@n_hi"]]

# %% [markdown]
# ## What this run found

# %%
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
{SEED}), RL seeds {sorted(set(MAIN['rl_seed']))}; 95% bootstrap CIs over problems ({N_BOOT} resamples), paired for
differences. Guessing baselines are in the table above (`guess_pass@n`)._
"""))
