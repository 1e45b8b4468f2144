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
# # 03 · The capability boundary: pass@k, one-shot and spurious rewards
#
# **Claim 3** (docs/claims.md): RL with verifiable rewards improves *sampling efficiency inside* the base model's
# boundary rather than moving the boundary; one training example suffices; spurious rewards nearly work.
# Primary sources: Yue et al. 2504.13837 (Qwen2.5-7B vs SimpleRL-Zoo on MATH500: pass@1 61.4 vs 77.9, the curves
# cross between k = 8 and 16, pass@128 96.2 vs 93.0, and RL samples have low perplexity under the base);
# Wang et al. 2504.20571 (one-shot RLVR: Qwen2.5-Math-1.5B MATH500 36.0 -> 73.6); Shao et al. 2506.10947
# (spurious rewards on Qwen2.5-Math-7B: random +21.4, format +13.8, incorrect label +24.1, ground truth +29.1;
# Llama3 and OLMo2 do not benefit). docs/claims.md notes no correction for these papers; the pass@k caveat it records
# applies: at large k, pass@k on short answers rewards guessing (2510.08325), so a guessing baseline sits beside
# every curve.
#
# **What would count as evidence.** *Activation*: RL's pass@1 rises but the base catches up at some k (a crossover),
# the base's pass@n is at least RL's, almost no problem is solved by RL only, and RL's samples are about as likely
# under the base as the base's own samples (perplexity ratio near 1). *Creation*: RL's pass@n exceeds the base's with
# a CI above zero, i.e. RL solves problems the base never solves in n samples, and RL writes text the base finds
# unlikely.
#
# **What this notebook measures** on the organism zoo (arithmetic chains, exposure dose `DOSE`): unbiased pass@k for
# k = 1..n with 95% CIs over problems for the base and each RL variant (reward = correct answer, one-shot,
# random, format-only, incorrect label), the crossover k, per-problem coverage, the guessing baseline (an answer drawn
# from the other problems' answers; under chain verification every running value guessed so), the perplexity of RL
# samples under the base relative to the base's own samples,
# and each variant's pass@1 gain as a fraction of the correct reward's gain.
#
# **On the validation zoo** (`PAIRS` naming pairs, each measured against its own base; the figures of record name the
# depth world's RL runs `val-arith-depth-d000-rl-edge` and `val-arith-depth-d010-rl-edge`, built locally, beside the
# shipped fine-tuned pairs `val-arith-depth-d000-sft-deep` and `val-arith-depth-d010-sft-deep`): every pair is
# measured on the same held-out chains of `OPERANDS` operands (5: the RL runs' band, one step deeper than the dose-0
# base ever saw worked), so the curves of an RL run stand beside those of a known creation (dose 0, fine-tuned on
# deeper chains) and its activation twin (dose 0.1). Labels were fixed before tuning and are shown with each pair
# (", no gain" where the pair's gain check failed: not a case of its label); a run that moved no weight (its base's
# checksum) is named so and tests nothing. "RL" below names each pair's tuned model, whatever tuned it. Relative gains
# need one shared base, so they are left out.

# %% tags=["parameters"]
WORLD = "arithmetic"
DOSE = 0.5
SEED = 0
VARIANTS = ["correct", "oneshot", "random", "format", "incorrect"]
PAIRS = []  # pair names to measure instead, each against its own base; empty: the variants above at DOSE, SEED
OPERANDS = 0  # with PAIRS: held-out chains of this many operands for every pair; 0: each pair's own training problems
N_PROBLEMS = 64
N_SAMPLES = 128
PROBLEM_SEED = 10000
LIKELIHOOD_SAMPLES = 8
N_BOOT = 1000
SMOKE = False

# %%
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from rlmeta_interp import load_pair
from rlmeta_interp.analysis.capability import BoundaryConfig, run_boundary
from rlmeta_interp.analysis.stats import MEAN_CI_WORDS
from rlmeta_interp.experiments import boundary as bd
from rlmeta_interp.experiments.difficulty import difficulty_world
from rlmeta_interp.organism.manifests import weights_moved
from rlmeta_interp.paths import results_dir
from rlmeta_interp.plotting import COLORS, bar_ci, drawn_series, line_ci, save_fig, set_style
from tqdm.auto import tqdm
from rlmeta_interp.selection import PairSelection, choose_pairs

if SMOKE:
    N_PROBLEMS, N_SAMPLES, LIKELIHOOD_SAMPLES, N_BOOT = 8, 16, 2, 100
set_style()
# one preset's variants (the paper preset's when built); in smoke mode missing variants are left out, and the demo
# preset's `correct` pair stands in when none exists
SPECS = {p.name if PAIRS else p.extra["variant"]: p
         for p in choose_pairs(PAIRS, WORLD, operands=OPERANDS, variant=VARIANTS, dose=DOSE, seed=SEED, smoke=SMOKE)}
CONFIG = BoundaryConfig(n_problems=N_PROBLEMS, n_samples=N_SAMPLES, problem_seed=PROBLEM_SEED, seed=SEED,
                           likelihood_samples=LIKELIHOOD_SAMPLES, n_boot=N_BOOT)
OUT = results_dir() / "boundary"  # shared with notebook 04: same pair and config -> read back, not resampled
CASE = PairSelection(SPECS.values()).case_labels()
LABEL = {v: CASE[s.name] for v, s in SPECS.items()}
{v: (s.name, LABEL[v] or "-") for v, s in SPECS.items()}

# %% [markdown]
# ## Sample every pair
# `N_SAMPLES` completions per held-out problem (temperature 1) from the base and from each RL model, scored by the
# world's verifier. Results are cached under `RLMETA_RESULTS`; a rerun with the same weights and config reads them.

# %%
RESULTS, MOVED = {}, {}
for v, s in tqdm(SPECS.items(), desc="pass@k sampling per pair"):
    pair = load_pair(s.name)
    MOVED[v] = weights_moved(pair)  # False: the tuned model is its base bit for bit
    RESULTS[v] = run_boundary(pair, CONFIG, world=difficulty_world(pair, [OPERANDS]) if PAIRS and OPERANDS else None,
                              out_dir=OUT)
KEY = "pair" if PAIRS else "variant"  # what names a bar: pairs with their own bases, or variants of one base
TABLE = bd.boundary_table(list(RESULTS.values())).assign(variant=lambda t: t[KEY].astype(str))
REF = next(iter(RESULTS))  # the correct-reward pair (or its smoke stand-in); with PAIRS, the first pair named
TABLE.set_index("variant")[["pass@1_base", "pass@1_rl", "d_pass@1", "pass@n_base", "pass@n_rl", "d_pass@n",
                            "crossover_k", "frac_rl_only", "frac_base_only", "guess_pass@n", "ppl_ratio"]]

# %% [markdown]
# ## pass@k curves of base and RL (correct reward), with the guessing baseline

# %%
DRAWN = list(RESULTS) if PAIRS else [REF]
cols = min(len(DRAWN), 2)
fig, axes = plt.subplots((len(DRAWN) + 1) // 2, cols, figsize=(6.5 * cols, 4.2 * ((len(DRAWN) + 1) // 2)),
                         squeeze=False, sharey=True)
for ax, v in zip(axes.flat, DRAWN, strict=False):
    line_ci(ax, RESULTS[v].curve(), "k", "pass@k", "ci_lo", "ci_hi", hue="model",
            palette={"base": COLORS["base"], "rl": COLORS["rl"], "guess": COLORS["random"]})
    ax.set_xscale("log", base=2)
    if RESULTS[v].crossover_k is not None:
        ax.axvline(RESULTS[v].crossover_k, color=COLORS["control"], ls=":", lw=1)
    ax.set_title(f"{RESULTS[v].pair}" + (f" ({LABEL[v]})" if LABEL[v] else "")
                 + ("\nthe base's weights: the lines coincide" if MOVED[v] is False else ""), fontsize=10)
for ax in axes.flat[len(DRAWN):]:
    ax.set_visible(False)
fig.suptitle(f"pass@k, {N_PROBLEMS} held-out problems" + (f" of {OPERANDS} operands" if PAIRS and OPERANDS else "")
             + f", n = {N_SAMPLES}, sampling seed {SEED}")
fig.tight_layout()
save_fig(fig, 3, "passk_curves", caption="Unbiased pass@k (k = 1..n) of the base and the tuned ('rl') model on held-out"
         f" problems, with {MEAN_CI_WORDS}, and the guessing baseline ('guess'); the dotted"
         " line marks the crossover k (" + drawn_series([RESULTS[v].pair for v in DRAWN], [], "pairs") + ").")

# %% [markdown]
# ## Coverage: which problems each model ever solves in n samples

# %%
cov = TABLE.set_index("variant")[["frac_both", "frac_base_only", "frac_rl_only", "frac_neither"]]
fig, ax = plt.subplots()
bottom = np.zeros(len(cov))
for col, colour in zip(cov.columns, [COLORS["reference"], COLORS["base"], COLORS["rl"], COLORS["random"]], strict=False):
    ax.bar(cov.index, cov[col], bottom=bottom, color=colour, label=col.removeprefix("frac_"))
    bottom += cov[col].to_numpy()
ax.set_ylabel(f"fraction of {N_PROBLEMS} problems")
ax.set_xlabel("pair" if PAIRS else "RL variant")
if PAIRS:
    ax.tick_params(axis="x", labelrotation=20, labelsize=7)
ax.legend(frameon=False, fontsize=8, loc="lower right")
ax.set_title(f"solved at least once in n = {N_SAMPLES} samples" + ("" if PAIRS else f" (dose {DOSE}, seed {SEED})"))
save_fig(fig, 3, "coverage", caption="Per-problem coverage: solved (>= 1 of n samples correct) by both models, the base"
         " only, the tuned model only ('rl_only'), or neither, each tuned model against its own base ("
         + drawn_series(list(cov.index), [], "pairs" if PAIRS else "variants") + ").")

# %% [markdown]
# ## Spurious rewards and one-shot RL: pass@1 gain, pass@n change, and likelihood under the base
# Left: each variant's pass@1 gain over the base (paired 95% CI over problems). Middle: pass@n(RL) - pass@n(base)
# (Newcombe's paired score interval: pass@n is solved or not per problem). Right: perplexity of RL samples under the
# base divided by that of the base's own samples (1 = as typical as the base's own text; paired bootstrap CI over
# problems).

# %%
GAINS = None if PAIRS else bd.relative_gains(list(RESULTS.values()), REF)  # needs one shared base
t = TABLE
fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
colours = [COLORS["rl"] if v == REF or PAIRS else COLORS["steered"] for v in t["variant"]]
bar_ci(axes[0], t, "variant", "d_pass@1", "d_pass@1_lo", "d_pass@1_hi", colors=colours)
bar_ci(axes[1], t, "variant", "d_pass@n", "d_pass@n_lo", "d_pass@n_hi", colors=colours)
bar_ci(axes[2], t, "variant", "ppl_ratio", "ppl_ratio_lo", "ppl_ratio_hi", colors=colours)
for ax, ref in zip(axes, (0.0, 0.0, 1.0), strict=False):
    ax.axhline(ref, color=COLORS["control"], lw=1)
axes[0].set_ylabel("pass@1 RL - base")
axes[1].set_ylabel(f"pass@{N_SAMPLES} RL - base")
axes[2].set_ylabel("ppl under base: RL / base samples")
if PAIRS:
    for ax, lab in zip(axes, ("pass@1 tuned - base", f"pass@{N_SAMPLES} tuned - base", "ppl under base: tuned / base"),
                       strict=True):
        ax.tick_params(axis="x", labelrotation=20, labelsize=7)
        ax.set_xlabel("pair")
        ax.set_ylabel(lab)
fig.suptitle(("each pair against its own base" if PAIRS else f"RL variants at dose {DOSE}, RL seed {SEED}")
             + f"; 95% CIs over {N_PROBLEMS} problems")
fig.tight_layout()
save_fig(fig, 3, "variants", caption="Per tuned model: pass@1 gain and pass@n change over its base with paired 95%"
         " CIs, and the perplexity ratio of its samples to base samples under the base ("
         + (drawn_series(list(t["variant"]), [], "pairs") if PAIRS else
            drawn_series(list(t["variant"]), VARIANTS, "variants")) + ").")
GAINS

# %% [markdown]
# ## What this run found

# %%
FOOT = (f"\n\n_Pairs: {', '.join(f'`{r.pair}`' for r in RESULTS.values())}; {N_PROBLEMS} held-out problems (seed"
        f" {PROBLEM_SEED}), n = {N_SAMPLES} samples per problem (sampling seed {SEED}); {MEAN_CI_WORDS}, with"
        f" {N_BOOT} bootstrap resamples; a share of the correct reward's gain has the interval of a share of a gap"
        " recovered (`ratios.recovered_share_ci`). The gain check and the scorecard's boundary indicator keep their"
        " paired bootstrap, so at pass@n a pair can pass its gain check where this reads no detectable change._")
if PAIRS:  # each pair against its own base: no relative gains, one reading per pair
    lines = [f"- {bd.boundary_sentence(r)} Label fixed before tuning: {LABEL[r['variant']] or 'none'}"
             + ("; **the tuned model is its base bit for bit (no weight moved), so this pair tests nothing**"
                if MOVED[r['variant']] is False else "") + "; the"
             f" guessing baseline reaches pass@{N_SAMPLES} {bd.fmt_ci(r['guess_pass@n'])}; perplexity of the tuned"
             f" model's samples under the base over the base's own: {bd.fmt_ci(r['ppl_ratio'], r['ppl_ratio_lo'], r['ppl_ratio_hi'])}."
             for r in TABLE.to_dict("records")]
    display(Markdown("**Each pair against its own base** ('RL' is the pair's tuned model, whatever tuned it):\n\n"
                     + "\n".join(lines) + FOOT))
else:
    row = TABLE.set_index("variant").loc[REF]
    spurious = [
        f"`{g.variant}`: pass@1 gain {bd.fmt_ci(g.gain, g.gain_lo, g.gain_hi)}"
        + ("" if np.isnan(g.fraction_of_reference) else
           f", {bd.fmt_ci(g.fraction_of_reference, g.fraction_lo, g.fraction_hi)} of the correct reward's gain")
        for g in GAINS.itertuples() if g.variant != REF
    ]
    ref_gain = GAINS.set_index("variant").loc[REF]
    nearly = [g.variant for g in GAINS.itertuples() if g.variant != REF and g.fraction_lo > 0.5]
    display(Markdown(f"""
**Correct reward.** {bd.boundary_sentence(row.to_dict())}
The guessing baseline reaches pass@{N_SAMPLES} = {bd.fmt_ci(row['guess_pass@n'])} (pass@1
{bd.fmt_ci(row['guess_pass@1'], digits=3)}), so pass@{N_SAMPLES} values near it say little about reasoning.
RL samples have perplexity {bd.fmt_ci(row['ppl_rl_under_base'], row['ppl_rl_under_base_lo'], row['ppl_rl_under_base_hi'])}
under the base against {bd.fmt_ci(row['ppl_base_under_base'])} for the base's own samples (ratio
{bd.fmt_ci(row['ppl_ratio'], row['ppl_ratio_lo'], row['ppl_ratio_hi'])}; Yue et al. report RL samples that are
typical for the base).

**One-shot and spurious rewards** (same base, same problems; 95% paired CIs over {N_PROBLEMS} problems):
{'; '.join(spurious) if spurious else 'no other variant exists in this zoo (smoke mode or a partial zoo).'}
""" + (f"""
The correct reward's own gain is {bd.fmt_ci(ref_gain.gain, ref_gain.gain_lo, ref_gain.gain_hi)}. Variants whose
gain is, with 95% confidence, more than half of it (spurious rewards "nearly work", as Shao et al. report for
Qwen2.5-Math): {', '.join(f'`{v}`' for v in nearly) or 'none'}.""" if spurious else "") + f"""

_Pairs: {', '.join(f'`{r.pair}`' for r in RESULTS.values())}; {N_PROBLEMS} held-out problems (seed {PROBLEM_SEED}),
n = {N_SAMPLES} samples per problem (sampling seed {SEED}), one RL seed ({SEED}) per variant; {MEAN_CI_WORDS}, with
{N_BOOT} bootstrap resamples; a share of the correct reward's gain has the interval of a share of a gap recovered
(`ratios.recovered_share_ci`). The gain check and the scorecard's boundary indicator keep their paired bootstrap, so at
pass@n a pair can pass its gain check where this reads no detectable change._
"""))
