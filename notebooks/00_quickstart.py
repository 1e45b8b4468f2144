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
# # 00 Quickstart: load a pair, cache activations, steer a base model live
#
# **Claim (docs/claims.md, claim 1).** Several techniques that need no new weights in the base model (RL-trained
# steering vectors, Sinii et al. arXiv:2505.18706; one-shot critique fine-tuning, Wang et al. arXiv:2506.03295;
# CoT decoding, Wang & Zhou arXiv:2402.10200; one SAE latent, He et al. arXiv:2601.08058; ReasonScore, Galichin et
# al. arXiv:2503.18878) elicit reasoning that is already present in base activations. Reported: on GSM8K,
# Qwen2.5-Math-1.5B reaches 86.5 with full RL and 79.9 with an RL-trained steering vector alone. CORRECTION noted in
# docs/claims.md: the "five converging methods" framing is a synthesis of these papers, not a measured result.
#
# **What would count as evidence.** *Activation*: a direction fitted in the *base* model's own activations moves
# its behaviour towards the RL behaviour (the one its pretraining dose controls) and its accuracy, beyond
# equal-norm random vectors. *Creation*: no base direction does so (random vectors do as well), while the RL model shows the
# behaviour.
#
# **What this notebook measures.** On one or more organism pairs (default: the demo arithmetic pair at exposure
# dose 0.5, whose base saw scratchpads in half of its pretraining documents): the activation cache (a repeated
# harvest is a read), a steering vector fitted in each base model from contrast texts of the behaviour its
# pretraining dose controls (scratchpad minus direct answer, texts written by `world.solution(problem, fmt)`; for a
# depth-dosed base, deep minus shallow worked chains), and its measured effect on held-out problems (greedy accuracy
# and the share of completions showing that behaviour, steered vs unsteered vs equal-norm random vectors, 95%
# CIs over problems) at every layer; a live widget to steer by hand; and the same recipe on a real LM, Gemma-3-270M,
# on CPU.
#
# **On the validation zoo** (`PAIRS` naming the shipped depth pairs `val-arith-depth-d000-sft-deep` and
# `val-arith-depth-d010-sft-deep`, as the figures of record run it): a dose-0 base, which never saw a worked chain
# deeper than 4 operands, and a dose-0.1 base, which saw them in a tenth of its chain documents, each fine-tuned under
# one budget on deeper chains: creation by construction and its activation twin, labels fixed before tuning. The
# behaviour is a chain that does every operation of a held-out problem of `OPERANDS` operands, in order, whatever
# values it writes. These pairs are tuned by supervised fine-tuning, not RL: "RL" below names each pair's tuned model,
# whatever tuned it.
#
# **On a hub pair** (`PAIRS: [orz-0.5b]`, weights from the local hub cache): no manifest records its world, so it is
# steered as a real LM, the way Gemma-3-270M is below: two-number questions answered in free text, a heuristic
# verifier, and the share of answers in the worked style.

# %% tags=["parameters"]
PAIRS = []  # pair names to steer, whatever else the zoo holds (the figures of record name theirs); empty: the pair
# chosen by WORLD / PRESET / DOSE / VARIANT / SEED
OPERANDS = 0  # with PAIRS: held-out chains of this many operands; 0: each pair's own world (a depth-dosed pair needs one)
WORLD = "arithmetic"  # the default pair's world
PRESET = "demo"
DOSE = 0.5
VARIANT = "correct"
SEED = 0
SMOKE = False
LAYER = 0  # the layer of the headline steering figure (every layer is swept)
MULTIPLIERS = [-1.0, -0.5, 0.5, 1.0, 2.0]
N_CONTRAST = 64  # problems per side of the contrast set (scratchpad vs direct, or deep vs shallow chains)
N_PROBLEMS = 64  # held-out problems the steering effect is measured on
N_RANDOM = 2  # equal-norm random vectors per layer and multiplier
N_BOOT = 1000
PROBLEM_SEED = 10000
REAL_LM = True
REAL_LAYER = 6
REAL_MULTIPLIERS = [0.25, 0.5, 1.0]
N_REAL = 24
N_REAL_CONTRAST = 32
REAL_N_RANDOM = 1
REAL_NEW_TOKENS = 24  # greedy tokens per answer of Gemma-3-270M below
PAIR_NEW_TOKENS = 0  # greedy tokens per answer of a real pair (hub or adapter); 0: enough for any worked answer
DEVICE = "cpu"  # where the pairs are loaded: "cuda" puts a real model pair on the GPU
DTYPE = "float32"  # or "bfloat16" / "float16" (a real model pair on a GPU)

# %%
from rlmeta_interp.experiments import pair_steering as ps
from rlmeta_interp.experiments import quickstart as qs
from rlmeta_interp.selection import choose_pairs, select_pairs

if SMOKE:
    N_CONTRAST, N_PROBLEMS, N_RANDOM, N_BOOT, MULTIPLIERS = 8, 6, 1, 100, [1.0]
# the named pairs, else the default pair (smoke runs: the demo preset's); a missing pair raises with the build command
names = PAIRS or ([] if OPERANDS else
                  [select_pairs(WORLD, preset=PRESET, variant=VARIANT, seed=SEED, dose=DOSE, smoke=SMOKE)[0].name])
specs = choose_pairs(names, operands=OPERANDS)

# %%
import time

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from rlmeta_interp import LoadConfig, harvest, hook_name, load_model, load_pair
from rlmeta_interp.analysis.contrast import contrast_direction
from rlmeta_interp.plotting import save_fig, set_style
from tqdm.auto import tqdm

# %matplotlib inline
set_style()

# %% [markdown]
# ## Load a pair
# Zoo pairs are found through the registry (`rlmeta-interp list` shows them); `load_pair` checks that base and RL
# share a tokenizer and an architecture, and gives each model its Hugging Face weights (`.hf`) and a lazily built
# TransformerLens view (`.tl`). The first pair is the one the cache and the widget below use.

# %%
pairs = [load_pair(s.name, LoadConfig(device=DEVICE, dtype=DTYPE)) for s in specs]
labels = specs.case_labels()  # the label fixed before tuning ("" for the unlabelled demo and paper organisms)
titles = specs.titles()
pair = pairs[0]


def recorded_acc(model) -> float:
    return (model.manifest or {}).get("metrics", {}).get("greedy_acc", float("nan"))


display(pd.DataFrame([{"pair": p.name, "base": p.base.name, "RL": p.rl.name, "world": p.world, "dose": p.dose,
                       "label": labels[p.name], "layers": p.n_layers, "d_model": p.base.d_model,
                       "base greedy acc (manifest)": recorded_acc(p.base), "RL greedy acc (manifest)": recorded_acc(p.rl)}
                      for p in pairs]))

# %% [markdown]
# ## Harvest activations, and read them back from the cache
# The contrast follows what the base's pretraining dosed: each problem written with a scratchpad (label 1) and as a
# direct answer (label 0), or, for a depth-dosed base, worked chains deeper than those it always saw (label 1) and
# shallower ones (label 0). `harvest` keys its disk cache on the weights, tokens, hooks and processing, so the second
# call is a read.

# %%
contrasts = {p.name: ps.pair_contrast(p, N_CONTRAST, seed=PROBLEM_SEED + 1) for p in pairs}
contrast = contrasts[pair.name]
hooks = [hook_name(layer) for layer in range(pair.n_layers)]
t0 = time.perf_counter()
first = harvest(pair.base, contrast.texts, hooks, positions="all")
t1 = time.perf_counter()
second = harvest(pair.base, contrast.texts, hooks, positions="all")
t2 = time.perf_counter()
display(Markdown(
    f"{pair.name}, contrast {contrast.behaviour}: {len(contrast)} texts, {len(hooks)} hooks, activations of shape {tuple(second[hooks[0]].shape)} per hook. "
    f"First call: {t1 - t0:.2f} s (read from cache: {first.from_cache}); second call: {t2 - t1:.3f} s (read from "
    f"cache: {second.from_cache})."
))
display(pd.DataFrame({"prompt": contrast.prompts[:4], "completion": contrast.completions[:4], "label": contrast.labels[:4]}))

# %% [markdown]
# ## A steering vector fitted in each base model
# Per layer: the mean activation over completion tokens of the label-1 texts minus that of the label-0 texts.
# Multiplier 1 adds exactly that mean difference at every position.

# %%
vectors = {p.name: contrast_direction(p.base, contrasts[p.name], range(p.n_layers)) for p in pairs}
display(pd.DataFrame([{"pair": name, "contrast": contrasts[name].behaviour, "layer": k, "norm": v.norms()[k]}
                      for name, v in vectors.items() for k in v.layers]))

# %% [markdown]
# ## Measured effect on held-out problems: every layer, steered vs unsteered vs random
# Greedy decoding through TransformerLens with the vector added at every position (prompt and generated tokens).
# Controls: `N_RANDOM` random vectors with the same per-layer norm at every layer and multiplier, and the RL model,
# unsteered, as the reference the steering would have to reach.

# %%
# a zoo pair is steered on held-out problems of its own world (OPERANDS: chains of that depth); a hub or adapter pair,
# a real LM, on two-number questions answered in free text, as Gemma-3-270M is below; never on a contrast text's prompt
tasks = {p.name: ps.pair_task(p, operands=OPERANDS, n_problems=N_PROBLEMS, problem_seed=PROBLEM_SEED,
                              exclude=contrasts[p.name].prompts, word_new_tokens=PAIR_NEW_TOKENS) for p in pairs}
sweeps = {p.name: ps.pair_sweep(p, vectors[p.name], tasks[p.name], multipliers=MULTIPLIERS, n_random=N_RANDOM, seed=SEED,
                                n_boot=N_BOOT) for p in tqdm(pairs, desc="steering sweep per pair")}
pairs_note = specs.note() if any(labels.values()) else ""

# %%
n_cols = max(p.n_layers for p in pairs)
fig, axes = plt.subplots(2 * len(pairs), n_cols, figsize=(3.0 * n_cols, 2.5 * 2 * len(pairs)), squeeze=False)
for i, p in enumerate(pairs):
    sw = sweeps[p.name]
    for j, (metric, ylabel) in enumerate((("accuracy", "greedy accuracy"), ("behaviour", sw.task.behaviour_name))):
        for layer in range(p.n_layers):
            ax = axes[2 * i + j, layer]
            qs.draw_steering(ax, sw.table, metric, rl=sw.rl, layer=layer)
            ax.set_ylim(-0.05, 1.05)
            ax.set_title(f"layer {layer}" if j == 0 else "", fontsize=9)
            ax.set_xlabel("multiplier" if j == 1 else "")
            ax.set_ylabel(ylabel if layer == 0 else "", fontsize=8)
        for layer in range(p.n_layers, n_cols):
            axes[2 * i + j, layer].axis("off")
handles, legend_labels = axes[0, 0].get_legend_handles_labels()
fig.legend(handles, legend_labels, loc="upper center", ncol=len(handles), frameon=False, bbox_to_anchor=(0.5, 1.05),
           fontsize=9)
fig.tight_layout(h_pad=2.0)
for i, p in enumerate(pairs):  # each pair's name above its block of panels, placed once the layout is fixed
    box = axes[2 * i, 0].get_position()
    fig.text(box.x0, box.y1 + 0.3 / fig.get_figheight(), titles[p.name], fontsize=10, weight="bold")
save_fig(fig, 0, "layer_sweep",
         caption="Per pair, greedy accuracy and the share of completions showing the behaviour its base's dose"
                 " controls (" + "; ".join(f"{name}: {sw.task.behaviour_name} on {tasks[name].note}, vector"
                                           f" {contrasts[name].behaviour}" for name, sw in sweeps.items())
                 + f") of the base model steered at each layer by its contrast vector (green) vs {N_RANDOM} equal-norm"
                 " random vectors (grey) per layer and multiplier, the unsteered base (dashed) and the RL model (orange"
                 " line, its 95% CI as a band); 95% CIs over problems (Wilson); vector seed-free, random seeds"
                 f" {SEED}..{SEED + N_RANDOM - 1}." + pairs_note)
plt.show()

# %%
effects = {(name, m): qs.strongest_effect(sw.table, m, layer=LAYER) for name, sw in sweeps.items()
           for m in ("accuracy", "behaviour")}
display(pd.DataFrame([dict(pair=name, metric="greedy accuracy" if m == "accuracy" else sweeps[name].task.behaviour_name, **e)
                      for (name, m), e in effects.items()]))

# %% [markdown]
# ## Steer it yourself
# Pick a model, type any prompt (or pick an example), choose the layer and multiplier, and press *steer*: the panel
# shows the greedy completion unsteered and steered (`rlmeta_interp.notebooks.steering_widget`). Each organism base
# uses the direction fitted above; Gemma-3-270M (when the `real` extra is installed) is loaded, and its
# step-by-step direction fitted at `REAL_LAYER`, the first time you pick it. Nothing runs until you press the
# button, so executing the notebook headless (papermill, CI) leaves the panel inert. Below it, one example is
# computed the same way for a few multipliers.

# %%
from rlmeta_interp.notebooks import SteerTarget, steering_widget

real_ok, real_why = qs.real_lm_status("gemma-3-270m")
targets = {f"{p.base.name} (organism base)": SteerTarget(
    p.base, vectors[p.name], layers=range(p.n_layers), default_layer=LAYER, max_new_tokens=tasks[p.name].max_new_tokens,
    describe=tasks[p.name].describe, examples=[q.prompt for q in tasks[p.name].problems[:8]]) for p in pairs}
if real_ok:
    def gemma_vector():
        lm = targets["gemma-3-270m (real LM)"].model
        contrast = qs.step_contrast(qs.word_problems(N_REAL_CONTRAST, seed=PROBLEM_SEED + 5, operands=2, digits=1))
        return contrast_direction(lm, contrast, [REAL_LAYER])

    targets["gemma-3-270m (real LM)"] = SteerTarget(
        lambda: load_model("gemma-3-270m"), gemma_vector, layers=[REAL_LAYER], max_new_tokens=REAL_NEW_TOKENS,
        describe=lambda text: "worked style" if qs.worked_style(text) else "direct",
        examples=[p.prompt for p in qs.word_problems(4, seed=PROBLEM_SEED + 7, operands=2, digits=1)])
steering_widget(targets)

# %%
display(pd.DataFrame([
    {"pair": p.name, "prompt": tasks[p.name].problems[0].prompt, "multiplier": m, "layer": LAYER,
     "completion": qs.steered_completion(p.base, tasks[p.name].problems[0].prompt, vectors[p.name], LAYER, m,
                                         max_new_tokens=tasks[p.name].max_new_tokens)}
    for p in pairs for m in (0.0, *MULTIPLIERS)
]))

# %% [markdown]
# ## A real LM: Gemma-3-270M on CPU
# The same recipe on a real base model: a direction from contrast texts (each two-number question answered step
# by step, label 1, or with the bare number, label 0), fitted in Gemma-3-270M at `REAL_LAYER`, and its effect on
# held-out questions of the same kind: accuracy (a heuristic verifier of the free-form answer) and the share of
# answers in the worked style ("step" or "answer is"), against equal-norm random vectors. It needs the optional
# `real` extra and is skipped in smoke runs.

# %%
real_ok, real_why = qs.real_lm_status("gemma-3-270m")
run_real = REAL_LM and not SMOKE and real_ok
reason = ("SMOKE=True" if SMOKE else "REAL_LM=False" if not REAL_LM else real_why)
display(Markdown(f"Real-LM section: {'running' if run_real else 'skipped (' + reason + ')'}."))
real = None
if run_real:
    lm = load_model("gemma-3-270m")
    real_contrast = qs.step_contrast(qs.word_problems(N_REAL_CONTRAST, seed=PROBLEM_SEED + 5, operands=2, digits=1))
    real_vector = contrast_direction(lm, real_contrast, [REAL_LAYER])
    real_problems = qs.word_problems(N_REAL, seed=PROBLEM_SEED + 6, operands=2, digits=1)
    real = qs.steering_effect(lm, [p.prompt for p in real_problems], lambda i, t: qs.score_word_answer(real_problems[i], t),
                              lambda i, t: qs.worked_style(t), real_vector, multipliers=REAL_MULTIPLIERS, n_random=REAL_N_RANDOM,
                              seed=SEED, max_new_tokens=REAL_NEW_TOKENS, n_boot=N_BOOT, progress="Gemma-3-270M steering")
    display(pd.DataFrame({"prompt": [real_problems[0].prompt] * len(real.completions),
                          "condition": list(real.completions), "completion": [v[0] for v in real.completions.values()]}))

# %% [markdown]
# ## The headline figure
# One row per organism pair at `LAYER`; the last row (when it ran): Gemma-3-270M at `REAL_LAYER`.

# %%
panels = [(f"{titles[name]}, layer {LAYER}", sw.table[(sw.table.layer == LAYER) | (sw.table.condition == "unsteered")],
           sw.rl, {"accuracy": "greedy accuracy", "behaviour": sw.task.behaviour_name}) for name, sw in sweeps.items()]
if real is not None:
    panels.append((f"Gemma-3-270M, layer {REAL_LAYER}", real.table, None,
                   {"accuracy": "accuracy (heuristic verifier)", "behaviour": "worked-style share"}))
fig, axes = plt.subplots(len(panels), 2, figsize=(12, 3.4 * len(panels)), squeeze=False)
for r, (title, t, ref, names) in enumerate(panels):
    for c, metric in enumerate(names):
        ax = axes[r, c]
        qs.draw_steering(ax, t, metric, rl=ref)
        if c == 1:
            ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)
        ax.set_title(title, fontsize=9)
        ax.set_ylabel(names[metric])
fig.tight_layout()
save_fig(fig, 0, "steering_effect",
         caption=f"Steering a base model with its own direction (green) vs equal-norm random vectors (grey), 95% CIs"
                 f" over problems (Wilson). One row per pair at layer {LAYER}, the RL model as an orange line with its"
                 " 95% CI as a band: " + "; ".join(f"{name} ({sw.task.behaviour_name} on {tasks[name].note}, vector"
                                                   f" {contrasts[name].behaviour}, random seeds"
                                                   f" {SEED}..{SEED + N_RANDOM - 1})" for name, sw in sweeps.items())
                 + ". " + (f"Last row: Gemma-3-270M at layer {REAL_LAYER}, step-by-step-minus-direct vector, {N_REAL}"
                           f" two-number questions, random seeds {SEED}..{SEED + REAL_N_RANDOM - 1}." if real is not None
                           else f"The Gemma-3-270M row was skipped ({reason}).") + pairs_note)
plt.show()

# %% [markdown]
# ## What this run found

# %%
lines = [line for p in pairs for line in ps.describe_sweep(
    sweeps[p.name], titles[p.name], contrasts[p.name].behaviour, layer=LAYER, label=labels[p.name], seed=SEED,
    n_boot=N_BOOT)]
if real is not None:
    lines += [f"**Gemma-3-270M** (layer {REAL_LAYER}, n = {N_REAL} questions):",
              "- " + qs.describe_effect(qs.strongest_effect(real.table, "behaviour"), "Worked-style share"),
              "- " + qs.describe_effect(qs.strongest_effect(real.table, "accuracy"), "Accuracy")]
else:
    lines.append(f"The real-LM section did not run ({reason}).")
lines.append(
    "Reading against claim 1: a base-model direction that moves behaviour and accuracy towards the RL model beyond every"
    " random vector is evidence that the behaviour is already represented in the base (activation); where only"
    " random-sized changes, or changes away from the RL model, appear, this run gives no such evidence. Each change"
    f" above is the largest beyond its random controls among {len(MULTIPLIERS)} multipliers at one layer (or"
    f" {len(MULTIPLIERS)} x the number of layers over every layer), with {N_RANDOM} random vectors per cell; its CI is"
    " not adjusted for that choice."
    " This notebook gives no verdict: steering is one indicator, and the rule that turns the indicators into a verdict"
    " is fitted on the validation zoo's calibration pairs and scored on its held-out pairs (notebook 11;"
    " `rlmeta-interp scorecard PAIR --size validated` reads a pair by that fit, at the sizes its error rates were"
    " measured at). Treat single numbers as a demonstration of the measurement; notebooks 01 and 02 test the pairs"
    " further.")
display(Markdown("\n".join(lines)))
