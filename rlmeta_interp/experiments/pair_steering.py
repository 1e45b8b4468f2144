"""What notebooks 00 and 01 steer one pair's base model on, for a zoo organism or a real LM pair, and notebook 00's
sweep of the base steered by its own direction.

- :class:`SteeringTask` / :func:`pair_task`: what a pair's base is steered on: held-out problems, their verifier, the
  behaviour its pretraining dose controls (:func:`pair_behaviour`: a scratchpad, or for a depth-dosed base a chain that
  does every operation of a deeper problem) and how many tokens a completion needs, none of the problems among the
  contrast texts. A pair outside the organism worlds (a hub pair, whose world no manifest records, or an adapter
  pair) is a real LM: it is steered on two-number word problems, scored by
  :func:`~rlmeta_interp.experiments.quickstart.score_word_answer`, since the organisms' ``A:`` answers and scratchpad
  layouts mean nothing to it.
- :func:`pair_contrast`: the contrast texts its steering vector is fitted on.
- :class:`DirectionTask` / :func:`direction_task`: notebook 01's contrast and steering-recovery problems of one pair,
  a real LM's in :class:`~rlmeta_interp.experiments.quickstart.WordQuestionWorld`.
- :class:`PairSweep` / :func:`pair_sweep`: the base steered at every layer, beside the RL model unsteered.
- :func:`describe_sweep`: the lines notebook 00's closing section prints for one pair.
- :func:`effect_towards` / :class:`TowardsRL` / :func:`towards_rl`: among the steered changes that move the base towards
  the RL model without passing its 95% interval, the one most beyond its random controls, and how far apart the two
  are unsteered. These describe; they give no verdict (verdicts come from the rules ``rlmeta-interp validate`` fits).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..analysis.contrast import ContrastSet, behaviour_contrast
from ..errors import EmptyInputError, InputTooLongError, InvalidConfigError
from ..organism.manifests import pretrain_corpus
from ..organism.worlds.arithmetic import full_chain
from ..organism.worlds.base import Problem, World
from ..steering import SteeringVector
from .quickstart import WordQuestionConfig, WordQuestionWorld, describe_effect, scratchpad_share, step_contrast
from .quickstart import steering_effect, strongest_effect, word_problems, worked_style


def is_real_lm(pair: Any) -> bool:
    """True for a pair outside the organism worlds: a hub pair (no manifest records its world) or an adapter pair (a
    LoRA on a real LM, trained in its own world): a real LM, not an organism."""
    from ..organism.trained_world import WORLD_CONFIGS

    return getattr(pair, "world", None) not in WORLD_CONFIGS


def pair_behaviour(world: World, corpus: Mapping[str, Any] | None,
                   operands: int = 0) -> tuple[str, Callable[[Problem, str], bool]]:
    """``(name, shows it)``: the behaviour a base's pretraining corpus ``corpus`` doses (its manifest's
    ``config.pretrain.corpus``), as a test of one completion of one of ``world``'s problems.

    A corpus that doses chain depth (``arithmetic_dose == "depth"``) shows worked chains of every depth up to
    ``shallow_max_depth`` at every dose and deeper ones only in its dose share, so its behaviour is a chain that does
    every operation of a deeper problem of ``operands`` operands, in order and nothing after, whatever values it writes
    (:func:`~rlmeta_interp.organism.worlds.arithmetic.full_chain`). Any other arithmetic corpus doses the scratchpad
    itself, so the behaviour is writing one.
    """
    if corpus is None or corpus.get("arithmetic_dose") != "depth":
        share = scratchpad_share(world)
        return "scratchpad share", lambda problem, text: share(text)
    shallow = int(corpus["shallow_max_depth"])
    if operands <= shallow:
        raise InvalidConfigError(
            f"This base's corpus doses chains deeper than {shallow} operands and shows shallower ones at every dose, so"
            f" its behaviour is measured on problems of one deeper depth: set OPERANDS (operands=) to a depth above"
            f" {shallow} (got {operands}).")
    return f"share of full {operands}-operand chains", full_chain


@dataclass(frozen=True)
class SteeringTask:
    """What a pair's base is steered on. ``score(i, text)``: the verifier of ``problems[i]``; ``behaviour(i, text)``:
    whether that completion shows the dosed behaviour, named ``behaviour_name``; ``describe(text)``: a short label of
    a completion for the live widget; ``note``: what the problems are, for captions (e.g. "256 held-out problems
    (chains of 5 operands)")."""

    problems: list[Problem]
    score: Callable[[int, str], float]
    behaviour: Callable[[int, str], bool]
    behaviour_name: str
    max_new_tokens: int
    describe: Callable[[str], str]
    note: str


def _distinct(world: World, n: int, seed: int, exclude: Iterable[str], what: str) -> list[Problem]:
    """The first ``n`` of ``world``'s held-out problems from ``seed`` with distinct prompts not in ``exclude``, from a
    draw long enough to leave them in most worlds; a typed error when there are fewer."""
    exclude = list(exclude)
    seen, out = set(exclude), []
    for p in world.sample_held_out(4 * n + len(exclude), seed=seed):
        if p.prompt not in seen:
            seen.add(p.prompt)
            out.append(p)
        if len(out) == n:
            return out
    raise InvalidConfigError(f"Only {len(out)} distinct {what} outside the contrast texts were drawn, fewer than the"
                             f" {n} asked: ask for fewer problems (N_PROBLEMS), or deeper ones (OPERANDS).")


def pair_task(pair: Any, *, operands: int = 0, n_problems: int = 64, problem_seed: int = 10000,
              exclude: Iterable[str] = (), word_new_tokens: int = 0) -> SteeringTask:
    """The :class:`SteeringTask` of ``pair``: ``n_problems`` held-out problems of its own world, or with ``operands``
    held-out chains of that many operands (a depth-dosed pair needs a depth beyond the one its base always saw); each
    prompt once, none of them in ``exclude`` (the prompts of the contrast texts its vector is fitted on).

    A real LM pair (:func:`is_real_lm`) gets two-number questions (``operands`` numbers, if given) answered in free
    text, scored by the heuristic word-answer verifier, with the worked style ("step" or "answer is") as its
    behaviour: the organisms' answer marker and scratchpad layouts would score any real LM 0 whatever it can do. It
    generates ``word_new_tokens`` tokens per answer (0: :meth:`~rlmeta_interp.experiments.quickstart.WordQuestionWorld.
    max_completion_chars` plus 2, so an answer in the contrast's worked format is never cut before its result).
    """
    from ..analysis.recovery import max_new_tokens
    from ..organism.trained_world import world_for
    from .difficulty import difficulty_world

    if is_real_lm(pair):
        k = operands or 2
        questions = WordQuestionWorld(WordQuestionConfig(operands=k, digits=1))
        problems = _distinct(questions, n_problems, problem_seed, exclude, f"questions of {k} numbers")

        def word_score(i: int, text: str) -> float:
            return questions.reward(problems[i], text)

        return SteeringTask(problems, word_score, lambda i, text: worked_style(text), "worked-style share",
                            word_new_tokens or max_new_tokens(questions),
                            lambda text: "worked style" if worked_style(text) else "direct",
                            f"{n_problems} questions of {k} numbers")
    world = world_for(pair)
    world = difficulty_world(world, [operands]) if operands else world
    name, shows = pair_behaviour(world, pretrain_corpus(pair.base), operands)
    problems = _distinct(world, n_problems, problem_seed, exclude, "held-out problems")

    def score(i: int, text: str) -> float:
        return world.reward(problems[i], text)

    def describe(text: str) -> str:
        fmt = getattr(world, "format_of", None)
        return f"format: {fmt(text)}" if fmt else ""

    return SteeringTask(problems, score, lambda i, text: shows(problems[i], text), name, max_new_tokens(world),
                        describe, f"{n_problems} held-out problems" + (f" (chains of {operands} operands)"
                                                                        if operands else ""))


def pair_contrast(pair: Any, n: int, seed: int) -> ContrastSet:
    """The contrast texts a pair's steering vector is fitted on: for an organism, :func:`~rlmeta_interp.analysis.
    contrast.behaviour_contrast` of the behaviour its base's corpus doses, in the world its tuned model was trained in;
    for a real LM pair, ``n`` two-number questions each answered step by step (label 1) and with the bare number
    (label 0)."""
    from ..organism.trained_world import world_for

    if is_real_lm(pair):
        return step_contrast(word_problems(n, seed=seed, operands=2, digits=1))
    if pair.world != "arithmetic":
        raise InvalidConfigError(f"{pair.name}: the quickstart steers arithmetic organisms (and real LMs), not the"
                                 f" {pair.world!r} world: pick an arithmetic pair (`rlmeta-interp scorecard"
                                 f" {pair.name}` runs the steering indicator in its own world).")
    return behaviour_contrast(world_for(pair), n, seed, pretrain_corpus(pair.base))


@dataclass(frozen=True)
class DirectionTask:
    """What notebook 01 measures one pair on: ``contrast``, the behaviour contrast both models' directions are fitted
    on; ``problems``, those steering recovery is scored on by ``world``'s verifier, with ``new_tokens`` greedy tokens
    per completion (None: the world's own budget); ``note``, what the problems are, for captions (e.g. "held-out
    problems, chains of 5 operands")."""

    world: World
    contrast: ContrastSet | None
    problems: list[Problem]
    new_tokens: int | None
    note: str


def direction_task(pair: Any, *, operands: int = 0, n_contrast: int = 96, n_problems: int = 64,
                   problem_seed: int = 10000, word_new_tokens: int = 0) -> DirectionTask:
    """The :class:`DirectionTask` of ``pair``: its contrast from seed ``problem_seed + 1``, and ``n_problems`` problems
    from seed ``problem_seed``, each prompt once and none of them a contrast prompt.

    An organism pair: the behaviour contrast its base's corpus doses (:func:`~rlmeta_interp.analysis.contrast.
    behaviour_contrast`, ``n_contrast`` problems) and held-out problems, in its own world or, with ``operands``, in
    chains of that many operands, answered in the world's own token budget.

    A real LM pair (:func:`is_real_lm`): ``n_contrast`` two-number questions (``operands`` numbers, if given) of two
    digits each answered step by step (label 1) and with the bare number (label 0), and other questions of the same
    kind, scored by the word-answer verifier, answered in ``word_new_tokens`` tokens (0: the world's budget,
    :meth:`~rlmeta_interp.experiments.quickstart.WordQuestionWorld.max_completion_chars` plus 2, so an answer in the
    contrast's worked format is never cut before its result; a wordier one can be). These questions are not held out
    of anything: a real LM's pretraining corpus is unknown.

    Other organism worlds (bandits, planning, composition) are refused with a typed error: notebook 01's contrast and
    steering recovery are written for arithmetic chains.
    """
    from ..organism.trained_world import world_for
    from .difficulty import difficulty_world

    if is_real_lm(pair):
        k = operands or 2
        world: World = WordQuestionWorld(WordQuestionConfig(operands=k, digits=2))
        contrast: ContrastSet | None = step_contrast(world.sample(n_contrast, seed=problem_seed + 1))
        what, new_tokens = f"questions of {k} two-digit numbers", word_new_tokens or None
    else:
        if pair.world != "arithmetic":
            raise InvalidConfigError(f"{pair.name}: notebook 01 measures arithmetic organisms (and real LMs), not the"
                                     f" {pair.world!r} world: pick an arithmetic pair (`rlmeta-interp scorecard"
                                     f" {pair.name}` runs the directions and steering indicators in its own world).")
        world = difficulty_world(pair, [operands]) if operands else world_for(pair)
        contrast = behaviour_contrast(world, n_contrast, problem_seed + 1, pretrain_corpus(pair.base))
        what = ("held-out problems" if world.config.leak_free else "problems") + (
            f", chains of {operands} operands" if operands else "")
        new_tokens = None
    problems = _distinct(world, n_problems, problem_seed, contrast.prompts if contrast is not None else [], what)
    return DirectionTask(world, contrast, problems, new_tokens, what)


@dataclass(frozen=True)
class PairSweep:
    """One pair's base steered at every layer, beside its RL model.

    ``table``: :func:`~rlmeta_interp.experiments.quickstart.steering_effect` rows of the base (the unsteered run once,
    then each layer, multiplier and random vector); ``rl``: the RL model's unsteered rows, indexed by metric; ``task``:
    what both were scored on; ``completions`` and ``outcomes``: the base's greedy outputs and their per-problem values
    (``{metric: array}``) per run key, and the RL model's under ``"rl"``."""

    table: pd.DataFrame
    rl: pd.DataFrame
    task: SteeringTask
    completions: dict[str, list[str]]
    outcomes: dict[str, dict[str, np.ndarray]]


def pair_sweep(pair: Any, vector: SteeringVector, task: SteeringTask, *, multipliers: Sequence[float] = (1.0,),
               n_random: int = 2, seed: int = 0, n_boot: int = 1000) -> PairSweep:
    """Greedy accuracy and behaviour share of ``pair``'s base steered by ``vector`` at each of its layers in turn
    (and by ``n_random`` equal-norm random vectors per layer and multiplier), and of the RL model unsteered, on
    ``task`` (:func:`pair_task`)."""
    prompts = [p.prompt for p in task.problems]
    common = dict(seed=seed, max_new_tokens=task.max_new_tokens, n_boot=n_boot)
    try:
        base = steering_effect(pair.base, prompts, task.score, task.behaviour, vector, multipliers=multipliers,
                               n_random=n_random, layers=list(vector.layers),
                               progress=f"{pair.name}: base steered, layer by layer", **common)
    except InputTooLongError as e:
        raise InvalidConfigError(f"{pair.name}: these problems and their completions do not fit its context"
                                 f" ({e}); ask for shorter problems (a smaller OPERANDS).") from e
    rl = steering_effect(pair.rl, prompts, task.score, task.behaviour, None, **common)
    return PairSweep(base.table, rl.table.set_index("metric"), task, {**base.completions, "rl": rl.completions["unsteered"]},
                     {**base.outcomes, "rl": rl.outcomes["unsteered"]})


def effect_towards(table: pd.DataFrame, metric: str, target: float, layer: int | None = None,
                   reach: float | None = None) -> dict[str, Any] | None:
    """:func:`~rlmeta_interp.experiments.quickstart.strongest_effect` (the change most beyond its random controls)
    among the steered changes that move ``metric`` from its unsteered value towards ``target`` (e.g. the RL model's
    value) without passing ``reach`` (default ``target``; e.g. the far end of the RL model's interval, since its value
    is itself an estimate), or None when none does (the unsteered value is already there, or every steered change
    goes the other way, goes too far, or is nil). Random controls are kept as they are: a change towards the target
    beats them only if it is larger than every random vector's change in either direction."""
    reach = target if reach is None else reach
    if not (np.isfinite(target) and np.isfinite(reach)):
        raise InvalidConfigError(f"effect_towards needs a finite target and reach for {metric!r}, got {target}, {reach}.")
    t = table[table["metric"] == metric]
    unsteered = t[t["condition"] == "unsteered"]
    if unsteered.empty:
        raise EmptyInputError(f"No unsteered row for metric {metric!r}: run steering_effect first.")
    start = float(unsteered["value"].iloc[0])
    way = np.sign(target - start)
    if way == 0:
        return None
    if np.sign(reach - target) == -way:
        raise InvalidConfigError(f"effect_towards: reach {reach} must lie at or beyond the target {target}, seen from"
                                 f" the unsteered value {start}.")
    steered = (table["metric"] == metric) & (table["condition"] == "steered")
    within = steered & (table["delta"] * way > 0) & (table["delta"].abs() <= abs(reach - start) + 1e-9)  # float slack
    if not (within & ((table["layer"] == layer) if layer is not None else True)).any():
        return None
    return strongest_effect(table[~steered | within], metric, layer=layer)


@dataclass(frozen=True)
class TowardsRL:
    """Per metric of a :class:`PairSweep`, among the steered changes that move the base towards the RL model without
    passing its 95% interval, the one most beyond its random controls (:func:`effect_towards`; None where none does),
    and ``room``: how far the RL model is from the unsteered base, ``{metric: (RL minus base, lo, hi)}`` with a 95% CI
    paired over the problems (:func:`~rlmeta_interp.analysis.stats.mean_diff_ci`: Newcombe's score interval for 0/1
    outcomes, which keeps width when every problem differs the same way). Little room means steering has little to
    move on that metric, whatever the base holds."""

    behaviour: dict[str, Any] | None
    accuracy: dict[str, Any] | None
    room: dict[str, tuple[float, float, float]]


def towards_rl(sweep: PairSweep, n_boot: int = 1000, seed: int = 0) -> TowardsRL:
    """:class:`TowardsRL` of one pair's sweep: a description beside the label, not a verdict."""
    from ..analysis.stats import mean_diff_ci

    moved = {}
    base_rows = sweep.table[sweep.table["condition"] == "unsteered"].set_index("metric")
    for m in ("behaviour", "accuracy"):
        target = float(sweep.rl.loc[m, "value"])
        up = target >= float(base_rows.loc[m, "value"])
        moved[m] = effect_towards(sweep.table, m, target, reach=float(sweep.rl.loc[m, "ci_hi" if up else "ci_lo"]))
    room = {}
    for metric in ("behaviour", "accuracy"):  # the per-problem values steering_effect scored, paired by problem
        base, rl = sweep.outcomes["unsteered"][metric], sweep.outcomes["rl"][metric]
        lo, hi = mean_diff_ci(rl, base, n_boot=n_boot, seed=seed)
        room[metric] = (float(np.mean(rl) - np.mean(base)), lo, hi)
    return TowardsRL(moved["behaviour"], moved["accuracy"], room)


def describe_sweep(sweep: PairSweep, title: str, contrast: str, *, layer: int, label: str = "", seed: int = 0,
                   n_boot: int = 1000) -> list[str]:
    """Markdown lines on one pair's sweep: the strongest change of each metric at ``layer`` and of the behaviour over
    every layer (:func:`~rlmeta_interp.experiments.quickstart.describe_effect`), the RL model unsteered, the changes
    towards it (:func:`towards_rl`), the room left, and ``label`` (fixed before tuning) when it has one. ``title``
    names the pair, ``contrast`` what its vector was fitted on. A description, not a verdict."""
    behaviour, t, rl = sweep.task.behaviour_name, sweep.table, sweep.rl

    def at(metric: str) -> str:
        return f"{rl.loc[metric, 'value']:.2f} [{rl.loc[metric, 'ci_lo']:.2f}, {rl.loc[metric, 'ci_hi']:.2f}]"

    towards = towards_rl(sweep, n_boot=n_boot, seed=seed)
    lines = [f"**{title}** ({sweep.task.note}, seed {seed}; vector: {contrast}).",
             "- " + describe_effect(strongest_effect(t, "behaviour", layer=layer), behaviour.capitalize()),
             "- " + describe_effect(strongest_effect(t, "accuracy", layer=layer), "Greedy accuracy"),
             "- Over every layer: " + describe_effect(strongest_effect(t, "behaviour"), behaviour),
             f"- The RL model, unsteered: {behaviour} {at('behaviour')}, accuracy {at('accuracy')}."]
    for metric, what, e in (("behaviour", behaviour, towards.behaviour), ("accuracy", "greedy accuracy", towards.accuracy)):
        target = rl.loc[metric, "value"]
        lines.append(f"- Towards the RL model: {what}: no steered change brings it towards the RL model's {target:.2f}"
                     " without passing its 95% CI." if e is None else
                     "- Towards the RL model: " + describe_effect(e, f"{what} (RL model {target:.2f})"))
    lines.append("- Room left to move (RL model minus unsteered base, paired over the same problems): " + "; ".join(
        f"{what} {d:+.2f} [{lo:+.2f}, {hi:+.2f}]" for what, (d, lo, hi) in
        ((behaviour, towards.room["behaviour"]), ("greedy accuracy", towards.room["accuracy"])))
        + ". Where there is little room, steering towards the RL model has little to show, whatever the base holds.")
    if label:
        lines.append(f"- Label fixed before tuning: {label}.")
    return lines
