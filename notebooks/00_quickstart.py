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
# its behaviour towards the RL behaviour (here: writing a scratchpad) and its accuracy, beyond equal-norm random
# vectors. *Creation*: no base direction does so (random vectors do as well), while the RL model shows the
# behaviour.
#
# **What this notebook measures.** On an organism pair (default: the demo arithmetic pair at exposure dose 0.5,
# whose base saw scratchpads in half of its pretraining documents): the activation cache (a repeated harvest is a
# read), a scratchpad-minus-direct steering vector fitted in the base model from texts written by
# `world.solution(problem, fmt)`, and its measured effect on held-out problems (greedy accuracy and scratchpad
# share, steered vs unsteered vs equal-norm random vectors, bootstrap CIs over problems) at every layer; a live
# widget to steer by hand; and the same recipe on a real LM, Gemma-3-270M, on CPU.

# %% tags=["parameters"]
PAIR = ""  # a registry pair name; empty: the pair chosen by WORLD / PRESET / DOSE / VARIANT / SEED
WORLD = "arithmetic"
PRESET = "demo"
DOSE = 0.5
VARIANT = "correct"
SEED = 0
SMOKE = False
LAYER = 0  # the layer of the headline steering figure (every layer is swept)
MULTIPLIERS = [-1.0, -0.5, 0.5, 1.0, 2.0]
N_CONTRAST = 64  # problems in the contrast set (each written with a scratchpad and directly)
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
REAL_NEW_TOKENS = 24

# %%
from rlmeta_interp.experiments import quickstart as qs
from rlmeta_interp.selection import select_pairs

if SMOKE:
    N_CONTRAST, N_PROBLEMS, N_RANDOM, N_BOOT, MULTIPLIERS = 8, 6, 1, 100, [1.0]
# the default pair, or (smoke runs) the demo preset's; outside smoke mode a missing pair raises with the build command
pair_name = PAIR or select_pairs(WORLD, preset=PRESET, variant=VARIANT, seed=SEED, dose=DOSE, smoke=SMOKE)[0].name

# %%
import time

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from rlmeta_interp import harvest, hook_name, load_model, load_pair
from rlmeta_interp.analysis.contrast import completion_means, contrast_set, contrast_vector
from rlmeta_interp.analysis.recovery import max_new_tokens
from rlmeta_interp.organism.trained_world import world_for
from rlmeta_interp.plotting import COLORS, line_ci, save_fig, set_style
from tqdm.auto import tqdm

# %matplotlib inline
set_style()

# %% [markdown]
# ## Load a pair
# Zoo pairs are found through the registry (`rlmeta-interp list` shows them); `load_pair` checks that base and RL
# share a tokenizer and an architecture, and gives each model its Hugging Face weights (`.hf`) and a lazily built
# TransformerLens view (`.tl`).

# %%
pair = load_pair(pair_name)
world = world_for(pair)
n_new = max_new_tokens(world)
metrics = {m.name: (m.manifest or {}).get("metrics", {}) for m in pair}
display(Markdown(
    f"**{pair.name}**: base `{pair.base.name}`, RL `{pair.rl.name}`, world {pair.world}, exposure dose {pair.dose}; "
    f"{pair.n_layers} layers, d_model {pair.base.d_model}. Greedy accuracy recorded in the manifests: base "
    f"{metrics[pair.base.name].get('greedy_acc', float('nan')):.3f}, RL {metrics[pair.rl.name].get('greedy_acc', float('nan')):.3f}."
))

# %% [markdown]
# ## Harvest activations, and read them back from the cache
# Each contrast problem is written twice, with a scratchpad (label 1) and as a direct answer (label 0). `harvest`
# keys its disk cache on the weights, tokens, hooks and processing, so the second call is a read.

# %%
contrast = contrast_set(world, N_CONTRAST, seed=PROBLEM_SEED + 1)
hooks = [hook_name(layer) for layer in range(pair.n_layers)]
t0 = time.perf_counter()
first = harvest(pair.base, contrast.texts, hooks, positions="all")
t1 = time.perf_counter()
second = harvest(pair.base, contrast.texts, hooks, positions="all")
t2 = time.perf_counter()
display(Markdown(
    f"{len(contrast)} texts, {len(hooks)} hooks, activations of shape {tuple(second[hooks[0]].shape)} per hook. "
    f"First call: {t1 - t0:.2f} s (read from cache: {first.from_cache}); second call: {t2 - t1:.3f} s (read from "
    f"cache: {second.from_cache})."
))
display(pd.DataFrame({"prompt": contrast.prompts[:4], "completion": contrast.completions[:4], "label": contrast.labels[:4]}))

# %% [markdown]
# ## A scratchpad-minus-direct steering vector, fitted in the base model
# Per layer: the mean activation over completion tokens of the scratchpad texts minus that of the direct answers.
# Multiplier 1 adds exactly that mean difference at every position.

# %%
acts = completion_means(pair.base, contrast.prompts, contrast.completions, range(pair.n_layers))
vector = contrast_vector(acts, contrast.labels)
display(pd.DataFrame({"layer": vector.layers, "norm": [vector.norms()[k] for k in vector.layers]}))

# %% [markdown]
# ## Measured effect on held-out problems: every layer, steered vs unsteered vs random
# Greedy decoding through TransformerLens with the vector added at every position (prompt and generated tokens).
# Controls: `N_RANDOM` random vectors with the same per-layer norm at every layer and multiplier, and the RL model,
# unsteered, as the reference the steering would have to reach.

# %%
problems = world.sample_held_out(N_PROBLEMS, seed=PROBLEM_SEED)
prompts = [p.prompt for p in problems]
score = lambda i, text: world.reward(problems[i], text)  # noqa: E731
scratchpad = qs.scratchpad_share(world)
# one call per layer, so the sweep shows its progress; every call repeats the same (greedy) unsteered run, kept once
sweep = [qs.steering_effect(pair.base, prompts, score, scratchpad, vector, multipliers=MULTIPLIERS, n_random=N_RANDOM,
                            layers=[layer], seed=SEED, max_new_tokens=n_new, n_boot=N_BOOT)
         for layer in tqdm(range(pair.n_layers), desc="steering sweep, layer by layer")]
rl_ref = qs.steering_effect(pair.rl, prompts, score, scratchpad, None, max_new_tokens=n_new, n_boot=N_BOOT)
table = pd.concat([e.table for e in sweep]).drop_duplicates(["key", "metric"], ignore_index=True)
unsteered = table[table.condition == "unsteered"].set_index("metric")
rl_row = rl_ref.table.set_index("metric")

# %%
metric_names = {"accuracy": "greedy accuracy", "behaviour": "scratchpad share"}
curves = {m: qs.steering_curves(table, m) for m in metric_names}
palette = {s: COLORS["steered"] if s == "steered" else COLORS["random"] for s in curves["accuracy"].series.unique()}
fig, axes = plt.subplots(2, pair.n_layers, figsize=(3.0 * pair.n_layers, 5.6), sharey="row", squeeze=False)
for r, metric in enumerate(metric_names):
    for layer in range(pair.n_layers):
        ax = axes[r, layer]
        ax.axhspan(rl_row.loc[metric, "ci_lo"], rl_row.loc[metric, "ci_hi"], color=COLORS["rl"], alpha=0.2, label="RL model (95% CI)")
        ax.axhline(unsteered.loc[metric, "value"], color=COLORS["base"], lw=1, ls="--", label="base unsteered")
        line_ci(ax, curves[metric][curves[metric].layer == layer], "multiplier", "value", "ci_lo", "ci_hi", hue="series",
                palette=palette, marker="o", ms=3)
        ax.get_legend().remove()
        ax.set_title(f"layer {layer}" if r == 0 else "")
        ax.set_xlabel("multiplier" if r == 1 else "")
        ax.set_ylabel(metric_names[metric] if layer == 0 else "")
handles, labels = axes[0, 0].get_legend_handles_labels()
fig.legend(handles, labels, loc="upper center", ncol=3 + N_RANDOM, frameon=False, bbox_to_anchor=(0.5, 1.04))
fig.suptitle(f"{pair.name}: steering the base with its own scratchpad direction ({N_PROBLEMS} problems, seed {SEED})", y=1.09)
fig.tight_layout()
save_fig(fig, 0, "layer_sweep",
         caption=f"{pair.name}: greedy accuracy and scratchpad share of the base model steered at each layer by its"
                 f" scratchpad-minus-direct vector (green) vs {N_RANDOM} equal-norm random vectors (grey) per layer and"
                 f" multiplier, the unsteered base (dashed) and the RL model (orange band); 95% bootstrap CIs over"
                 f" {N_PROBLEMS} held-out problems; vector seed-free, random seeds {SEED}..{SEED + N_RANDOM - 1}.")
plt.show()

# %%
acc = qs.strongest_effect(table, "accuracy", layer=LAYER)
beh = qs.strongest_effect(table, "behaviour", layer=LAYER)
display(pd.DataFrame([dict(metric=metric_names[m], **e) for m, e in (("accuracy", acc), ("behaviour", beh))]))

# %% [markdown]
# ## Steer it yourself
# Pick a model, type any prompt (or pick an example), choose the layer and multiplier, and press *steer*: the panel
# shows the greedy completion unsteered and steered (`rlmeta_interp.notebooks.steering_widget`). The organism's base
# uses the scratchpad direction fitted above; Gemma-3-270M (when the `real` extra is installed) is loaded, and its
# step-by-step direction fitted at `REAL_LAYER`, the first time you pick it. Nothing runs until you press the
# button, so executing the notebook headless (papermill, CI) leaves the panel inert. Below it, one example is
# computed the same way for a few multipliers.

# %%
from rlmeta_interp.notebooks import SteerTarget, steering_widget

real_ok, real_why = qs.real_lm_status("gemma-3-270m")
targets = {f"{pair.base.name} (organism base)": SteerTarget(
    pair.base, vector, layers=range(pair.n_layers), default_layer=LAYER, max_new_tokens=n_new,
    describe=lambda text: f"format: {world.format_of(text)}", examples=prompts[:8])}
if real_ok:
    def gemma_vector():
        lm = targets["gemma-3-270m (real LM)"].model
        contrast = qs.step_contrast(qs.word_problems(N_REAL_CONTRAST, seed=PROBLEM_SEED + 5, operands=2, digits=1))
        return contrast_vector(completion_means(lm, contrast.prompts, contrast.completions, [REAL_LAYER]),
                               contrast.labels)

    targets["gemma-3-270m (real LM)"] = SteerTarget(
        lambda: load_model("gemma-3-270m"), gemma_vector, layers=[REAL_LAYER], max_new_tokens=REAL_NEW_TOKENS,
        describe=lambda text: "worked style" if qs.worked_style(text) else "direct",
        examples=[p.prompt for p in qs.word_problems(4, seed=PROBLEM_SEED + 7, operands=2, digits=1)])
steering_widget(targets)

# %%
example = problems[0]
display(pd.DataFrame([
    {"multiplier": m, "completion": qs.steered_completion(pair.base, example.prompt, vector, LAYER, m, max_new_tokens=n_new)}
    for m in (0.0, *MULTIPLIERS)
]).assign(prompt=example.prompt, layer=LAYER))

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
    real_vector = contrast_vector(
        completion_means(lm, real_contrast.prompts, real_contrast.completions, [REAL_LAYER]), real_contrast.labels)
    real_problems = qs.word_problems(N_REAL, seed=PROBLEM_SEED + 6, operands=2, digits=1)
    # one call per multiplier, so this slow section shows its progress; the unsteered run is kept once
    real_runs = [qs.steering_effect(lm, [p.prompt for p in real_problems],
                                    lambda i, t: qs.score_word_answer(real_problems[i], t), qs.worked_style, real_vector,
                                    multipliers=[m], n_random=REAL_N_RANDOM, seed=SEED, max_new_tokens=REAL_NEW_TOKENS,
                                    n_boot=N_BOOT)
                 for m in tqdm(REAL_MULTIPLIERS, desc="Gemma-3-270M steering, multiplier by multiplier")]
    real = qs.SteeringEffect(pd.concat([e.table for e in real_runs]).drop_duplicates(["key", "metric"], ignore_index=True),
                             {k: v for e in real_runs for k, v in e.completions.items()})
    display(pd.DataFrame({"prompt": [real_problems[0].prompt] * len(real.completions),
                          "condition": list(real.completions), "completion": [v[0] for v in real.completions.values()]}))

# %% [markdown]
# ## The headline figure
# Row 1: the organism at `LAYER`; row 2 (when it ran): Gemma-3-270M at `REAL_LAYER`.

# %%
panels = [(f"{pair.name}, layer {LAYER}", table[(table.layer == LAYER) | (table.condition == "unsteered")], rl_row,
           {"accuracy": "greedy accuracy", "behaviour": "scratchpad share"})]
if real is not None:
    panels.append((f"Gemma-3-270M, layer {REAL_LAYER}", real.table, None,
                   {"accuracy": "accuracy (heuristic verifier)", "behaviour": "worked-style share"}))
fig, axes = plt.subplots(len(panels), 2, figsize=(9, 3.4 * len(panels)), squeeze=False)
for r, (title, t, ref, names) in enumerate(panels):
    base_rows = t[t.condition == "unsteered"].set_index("metric")
    for c, metric in enumerate(names):
        ax = axes[r, c]
        cur = qs.steering_curves(t, metric)
        pal = {s: COLORS["steered"] if s == "steered" else COLORS["random"] for s in cur.series.unique()}
        ax.axhline(base_rows.loc[metric, "value"], color=COLORS["base"], ls="--", lw=1, label="base unsteered")
        if ref is not None:
            ax.axhspan(ref.loc[metric, "ci_lo"], ref.loc[metric, "ci_hi"], color=COLORS["rl"], alpha=0.2, label="RL model (95% CI)")
        line_ci(ax, cur, "multiplier", "value", "ci_lo", "ci_hi", hue="series", palette=pal, marker="o", ms=3)
        if c == 0:
            ax.get_legend().remove()
        ax.set_title(title)
        ax.set_ylabel(names[metric])
fig.tight_layout()
save_fig(fig, 0, "steering_effect",
         caption=f"Steering a base model with its own direction vs equal-norm random vectors, 95% bootstrap CIs over"
                 f" problems. Row 1: {pair.name} at layer {LAYER}, scratchpad-minus-direct vector, {N_PROBLEMS} held-out"
                 f" problems, RL model as orange band. " + (f"Row 2: Gemma-3-270M at layer {REAL_LAYER}, step-by-step"
                 f"-minus-direct vector, {N_REAL} two-number questions." if real is not None else
                 f"The Gemma-3-270M row was skipped ({reason}).") + f" Random seeds {SEED}...")
plt.show()

# %% [markdown]
# ## What this run found

# %%
def describe(e: dict, what: str) -> str:
    verdict = ("beyond every equal-norm random vector" if e["beats_random"] else
               "but no more than an equal-norm random vector changed it" if e["significant"] else
               "a change whose 95% CI includes zero")
    return (f"{what}: unsteered {e['unsteered']:.2f} [{e['unsteered_lo']:.2f}, {e['unsteered_hi']:.2f}]; the change most"
            f" beyond its random controls at layer {int(e['layer'])} is at multiplier {e['multiplier']:+g}: {e['value']:.2f} [{e['ci_lo']:.2f},"
            f" {e['ci_hi']:.2f}], change {e['delta']:+.2f} [{e['delta_lo']:+.2f}, {e['delta_hi']:+.2f}] ({verdict};"
            f" {e['n_random']} random vectors changed it by {e['random_delta_min']:+.2f} to {e['random_delta_max']:+.2f}).")


lines = [
    f"**Organism {pair.name}** (dose {pair.dose}, n = {acc['n']} held-out problems, seed {SEED}).",
    "- " + describe(beh, "Scratchpad share"),
    "- " + describe(acc, "Greedy accuracy"),
    "- Over every layer: " + describe(qs.strongest_effect(table, "behaviour"), "scratchpad share"),
    f"- The RL model, unsteered: scratchpad share {rl_row.loc['behaviour', 'value']:.2f}"
    f" [{rl_row.loc['behaviour', 'ci_lo']:.2f}, {rl_row.loc['behaviour', 'ci_hi']:.2f}], accuracy"
    f" {rl_row.loc['accuracy', 'value']:.2f} [{rl_row.loc['accuracy', 'ci_lo']:.2f}, {rl_row.loc['accuracy', 'ci_hi']:.2f}].",
]
if real is not None:
    lines += [f"**Gemma-3-270M** (layer {REAL_LAYER}, n = {N_REAL} questions):",
              "- " + describe(qs.strongest_effect(real.table, "behaviour"), "Worked-style share"),
              "- " + describe(qs.strongest_effect(real.table, "accuracy"), "Accuracy")]
else:
    lines.append(f"The real-LM section did not run ({reason}).")
lines.append(
    "Reading against claim 1: a base-model direction that moves behaviour or accuracy beyond every random vector is"
    " evidence that the behaviour is already represented in the base (activation); where only random-sized changes"
    " appear, this run gives no such evidence. Accuracy on these small models is low and CIs are wide: treat single"
    " numbers as a demonstration of the measurement, and see notebooks 01 and 02 for the pair-level tests.")
display(Markdown("\n".join(lines)))
