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
# # 11 · The scorecard, validated: can the indicators tell creation from activation on pairs whose answer is known?
#
# **The question**: every activation-vs-creation indicator the literature uses, side by side on each base/RL pair:
# the capability boundary and the likelihood of RL's solutions under the base (Yue et al. 2504.13837), pre-existing
# behaviour directions and steering recovery (Sinii et al. 2505.18706 and others), hybrid when-not-how decoding
# (Venhoff et al. 2510.07364), belief-state probes for in-context RL (Rentschler & Roberts 2501.14176), SAE and
# crosscoder features (Lindsey et al. 2024; Minder et al. 2504.02922) and weight-update sparsity (Mukherjee et al.
# 2505.11711). No paper validates these indicators against ground truth; the validation zoo can.
#
# **What would count as evidence.** Each validation pair carries a label fixed when its pretraining corpus was
# designed, before RL: *creation* (the rewarded capability was absent at the evaluated difficulty), *activation* (it
# was demonstrated) or *no_signal* (random-reward and other controls). Thresholds and the summary rule are fitted on
# the calibration pairs only; an indicator is trustworthy to the extent that it separates the classes on the
# held-out test pairs (ROC AUC with a CI above 0.5), and the summary to the extent that its balanced accuracy beats
# the constant answer.
#
# **What this notebook measures**: `analysis.validation.report.run_validation` (the scorecard on every labelled pair,
# rules fitted on calibration, the held-out confusion matrix, balanced accuracy, ROC curves), each indicator's
# statistic per pair, and one pair's full scorecard. Where the zoo has no labelled pairs it runs the scorecard on the
# zoo's pairs and says that nothing can be validated.

# %% tags=["parameters"]
PRESET = ""
WORLDS = ["arithmetic", "planning", "bandits"]
SIZES = "demo"
SEED = 0
SMOKE = False
MAX_PAIRS = 0  # 0: every pair
PAIRS = []  # pair names to score, whatever else the zoo holds (the figures of record name theirs); empty: chosen above

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from rlmeta_interp import load_pair
from rlmeta_interp.analysis import scorecard as sc
from rlmeta_interp.analysis.scorecard_plot import scorecard_caption
from rlmeta_interp.analysis.validation import fit as vfit
from rlmeta_interp.analysis.validation import report as vrep
from rlmeta_interp.analysis.validation.plots import statistics_figure
from rlmeta_interp.analysis.validation.reading import committed_summary
from rlmeta_interp.analysis.validation.labels import scorecard_selection
from rlmeta_interp.organism import answers, manifests, readings
from rlmeta_interp.paths import results_dir
from rlmeta_interp.plotting import save_fig, set_style

if SMOKE:
    SIZES, PRESET, MAX_PAIRS = "smoke", "demo", 2
set_style()
CFG = {"demo": sc.ScorecardConfig.demo, "smoke": sc.ScorecardConfig.smoke, "full": sc.ScorecardConfig}[SIZES]()
CFG = CFG.replace(seed=SEED)
SELECTION = scorecard_selection(WORLDS, preset=PRESET, pairs=PAIRS, max_pairs=MAX_PAIRS, smoke=SMOKE)
SPECS, LABELLED, VALIDATE = SELECTION.specs, SELECTION.labelled, SELECTION.validate
SPLITS = {p.split for p in LABELLED}
OUT = results_dir() / "validation"
pd.DataFrame([{"pair": p.name, "world": p.world, "label": p.label, "split": p.split, "recipe": p.recipe or None}
              for p in SPECS])

# %% [markdown]
# ## The scorecard on every pair
# Each indicator's result is saved under `RLMETA_RESULTS/validation/<pair>/`, keyed by the pair's weights, the world
# and the measurement sizes; a rerun reads it back, and other rules re-vote it without measuring.

# %%
CARDS = [sc.run_scorecard(load_pair(p.name), None, CFG, out_dir=OUT / p.name, progress=False) for p in SPECS]
TABLE = vfit.pair_table(CARDS)
TABLE[["pair", "world", "label", "split", "gain", "vote_summary"] + [f"{n}_vote" for n in sc.INDICATORS]]

# %% [markdown]
# ## Fitted on calibration, scored on the held-out pairs
# `run_validation` reuses the saved scorecards, fits thresholds and the summary on the calibration split, and writes
# the table (`validation_summary.json` and CSVs, checksummed) and its figures: the confusion matrix and the ROC curves.
# They go to `RLMETA_RESULTS/validation/table`, never to `figures/`: the committed table (which the README's trust
# paragraph is generated from) is written only by `rlmeta-interp validate`, so running this notebook on a partly
# built zoo, or through `rlmeta-interp figures`, cannot refit it.

# %%
SUMMARY = vrep.run_validation(OUT, table_dir=OUT / "table", config=CFG, pairs=[p.name for p in SPECS],
                              seed=SEED, progress=False) if VALIDATE else None
if SUMMARY is not None:
    EV = SUMMARY["evaluation"]
    display(pd.DataFrame([{k: v for k, v in r.items() if k != "roc"} for r in EV["indicators"]]))
# without a fit of its own this run shows the committed table's paragraph (the README's), saying so
display(Markdown(vrep.render_trust_paragraph(SUMMARY) if SUMMARY is not None else
                 "*This run fitted nothing; the committed validation table reads:* "
                 + vrep.render_trust_paragraph(committed_summary())))

# %% [markdown]
# ## Each indicator's statistic per pair, as the fit reads it
# One point per pair (colour: its design label; hollow: calibration, filled: held out), each statistic measured from
# its world's fitted cut in units of that world's spread, with its 95% CI, and the summary's P(creation). The same
# figure is written beside the validation table (`validation_statistics`).

# %%
if SUMMARY is not None:
    fig = statistics_figure(TABLE, vfit.FittedRules.from_dict(SUMMARY["fitted"]))
    plt.show()
else:
    display(Markdown("No calibration and held-out pairs here, so no cut was fitted and no statistic is read from one."))

# %% [markdown]
# ## A world the fit never saw: composition pairs read by the committed fit
# `rlmeta-interp validate --read` scores labelled pairs outside the validation table at the committed table's sizes,
# reads them by its fit (here by the cuts pooled over the calibrated worlds) without adding them, and evaluates the
# validation cases among them. The shipped readings: the composition pilot, and the pre-registered composition tests
# where they have been built and read (`data/README.md`). The two low-dose tests also answer whether the meter reads
# more than pass@k: activation pairs whose pass@n expanded, which a rule reading pass@k alone calls creation. The
# learning-speed test asks whether the meter follows how quickly RL learnt: activation runs slowed by the learning rate;
# the training-after-take-off test, whether it follows how long RL trained after: the same runs stopped or continued;
# the RL-seeds and fast-RL tests, whether it follows the base or its run's take-off: one base under more RL seeds, and
# under a larger learning rate; the learning-rate and middle-rate tests, whether a larger learning rate alone moves its
# readings; the extended middle-rate test, whether at a fixed rate they follow the end state RL left.

# %%
for name in readings.READINGS:
    display(Markdown(f"**{name}**: " + readings.readings_evaluation(manifests.pilot_manifests_dir(), name)))
    if rows := readings.readings_rows(manifests.pilot_manifests_dir(), name):
        display(pd.DataFrame(rows))
for _, title, text in answers.answer_texts(manifests.pilot_manifests_dir()):
    display(Markdown(f"**{title}**: {text}"))

# %% [markdown]
# ## One pair's full scorecard

# %%
EXAMPLE = next((c for c in CARDS if c.label == "creation"), CARDS[-1])
fig = sc.plot_scorecard(EXAMPLE)
save_fig(fig, 11, "example_scorecard", caption="One pair's full scorecard (a creation pair when the zoo has one): "
         f"{scorecard_caption(EXAMPLE)}. Pair {EXAMPLE.pair} (label {EXAMPLE.label or 'none'}, recipe"
         f" {EXAMPLE.recipe or 'none'}); 'rl' / 'RL model' is its tuned model, whatever tuned it.")
display(Markdown(EXAMPLE.to_markdown()))

# %% [markdown]
# ## What this run found

# %%
if SUMMARY is None:
    found = (f"The zoo holds {len(LABELLED)} labelled pairs (splits: {sorted(SPLITS) or 'none'}), not a calibration"
             " and a held-out split, so nothing was fitted or validated here: the votes above are the scorecard's"
             " configured rules. Build the validation zoo"
             " (`rlmeta-interp zoo build --preset validation`) and run `rlmeta-interp validate`.")
else:
    s, const = EV["summary"], EV["constant_baseline"]
    found = (f"On {EV['n_test']} held-out pairs the fitted summary's balanced accuracy is {s['balanced_accuracy']:.2f}"
             f" (95% CI {s['ci_lo']:.2f} to {s['ci_hi']:.2f}) against {const['balanced_accuracy']:.2f} for always"
             f" answering '{const['answer']}'"
             + (f" and {g['balanced_accuracy']:.2f} for the gain check followed by '{g['answer']}'"
                if (g := EV.get("gain_then_constant")) else "")
             + f"; the vote rule's is {EV['vote_rule']['balanced_accuracy']:.2f}.")
gained = [c.pair for c in CARDS if c.gain is not False]
display(Markdown(f"""
{found}

RL made a measurable gain on {len(gained)} of {len(CARDS)} pairs ({', '.join(f'`{p}`' for p in gained) or 'none'});
a pair without one reads *no gain* whatever its votes.

_Scorecard sizes '{SIZES}' ({CFG.n_problems} problems, {CFG.n_samples} samples per problem, {CFG.n_steer} steering
problems, {CFG.n_boot} bootstrap resamples, seed {SEED}); pairs: {', '.join(f'`{c.pair}`' for c in CARDS)}._
"""))
