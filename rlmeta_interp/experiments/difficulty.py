"""Too-hard RL samples (claim 10 in docs/claims.md, Cheng et al. 2605.28388): accuracy per difficulty, shortcuts by
rule.

RL on a difficulty band (the paper zoo's ``easy`` / ``hard`` variants against ``correct``, or one band from bases
that can and cannot reach it, as the validation zoo's depth-edge runs) is evaluated on every band, each RL model
beside its own base (:func:`models_by_base`): accuracy per number of operands (the world's verifier: under chain
verification the scratchpad must be right too), accuracy on problems the base model already solved (selected on one
half of the base's samples and measured on the other half, so selection does not inflate the base's score), and
shortcut behaviours read from the samples by rule (:func:`shortcut_flags`, in every scratchpad format of the world:
``a plus b is c.``, ``a+b=c;`` and the rewrite chain ``c-3>...;``):

- **skipped computation**: a scratchpad that leaves out steps (fewer steps than the chain needs, or an operand never
  used), or no scratchpad at all (a direct answer);
- **answer repetition**: more steps (or rewrite lines) than the chain needs or more than one ``A:`` marker in one
  completion (looping;
  a problem such as ``78-3+3-3`` legitimately writes one step twice, so the rule counts steps), and, across
  problems, the share of samples giving the model's single most common answer (collapse onto one answer) beside the
  same share for the true answers;
- **copied operand**: the answer is one of the prompt's operands although the true answer is not;
- **wrong step** (a step whose arithmetic is wrong) and **unfaithful answer** (the final answer is not the last step's
  result).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..analysis.stats import mean_ci, mean_diff_ci
from ..config import FrozenConfig, check_range
from ..errors import EmptyInputError, InvalidConfigError
from ..organism.worlds.base import World

log = logging.getLogger(__name__)

_SUM_STEP = re.compile(r"(-?\d+) (plus|minus|times) (-?\d+) is (-?\d+)\.")
_EQ_STEP = re.compile(r"(-?\d+)([+\-*])(-?\d+)=(-?\d+);")
_WORD_OP = {"plus": "+", "minus": "-", "times": "*"}
_REWRITE_HEAD = re.compile(r"(-?\d+)([+\-*])(\d+)")  # a rewrite line's first operation: running value, op, operand
_LEAD = re.compile(r"-?\d+")  # a rewrite line's running value
FLAGS: tuple[str, ...] = ("correct", "direct", "skipped_steps", "skipped_computation", "repeated", "wrong_step",
                          "unfaithful", "copied_operand")


@dataclass(frozen=True)
class Step:
    a: int
    op: str
    b: int
    c: int

    @property
    def right(self) -> bool:
        return self.c == (self.a + self.b if self.op == "+" else self.a - self.b if self.op == "-" else self.a * self.b)


def _chain_lines(completion: str) -> list[str]:
    """The lines of a rewrite chain: the text before the answer marker, up to its first ``;``, split at ``>``."""
    return completion.split("A:", 1)[0].partition(";")[0].split(">")


def parse_steps(completion: str, prompt: str = "") -> list[Step]:
    """Scratchpad steps before the answer marker, in order, in any scratchpad format: ``a plus b is c.``,
    ``a+b=c;``, or the rewrite format ``c-3+4>...;`` (each line the running value and the operations left).

    A rewrite line states one step only beside the line before it (its first operation and operand) and, for the
    first line, the ``prompt`` (``12+7-3=``); without the prompt the first rewrite step is not read. A rewrite line
    whose predecessor has no operation left ends the reading.
    """
    head = completion.split("A:", 1)[0]
    steps = [(m.start(), Step(int(m[1]), _WORD_OP[m[2]], int(m[3]), int(m[4]))) for m in _SUM_STEP.finditer(head)]
    steps += [(m.start(), Step(int(m[1]), m[2], int(m[3]), int(m[4]))) for m in _EQ_STEP.finditer(head)]
    if steps:
        return [s for _, s in sorted(steps, key=lambda x: x[0])]
    if ";" not in head and ">" not in head:
        return []  # no scratchpad
    lines = ([prompt.strip().rstrip("=")] if prompt else []) + _chain_lines(completion)
    out = []
    for before, line in zip(lines, lines[1:], strict=False):
        op, lead = _REWRITE_HEAD.match(before), _LEAD.match(line)
        if op is None or lead is None:
            break
        out.append(Step(int(op[1]), op[2], int(op[3]), int(lead[0])))
    return out


def shortcut_flags(problem: Any, completion: str, world: World | None = None) -> dict[str, Any]:
    """Rule-based reading of one arithmetic completion (see the module docstring for each flag).

    ``correct`` is ``world``'s verdict when a world is given (under chain verification the scratchpad must be right
    too), else whether the answer is right; ``answer_right`` is always the latter."""
    from ..organism.worlds.arithmetic import format_of, parse_answer

    operands, ops = problem.meta["operands"], problem.meta["ops"]
    expected = list(zip(ops, operands[1:], strict=True))
    steps = parse_steps(completion, problem.prompt)
    fmt = format_of(completion)
    matched = 0  # the chain's (op, operand) pairs found in order among the written steps
    for s in steps:
        if matched < len(expected) and (s.op, s.b) == expected[matched]:
            matched += 1
    answer = parse_answer(completion)
    scratch = fmt in ("sum", "eq", "rewrite")
    # rewrite lines beyond one per operation (e.g. the final value written again and again) state no step, so
    # parse_steps does not see them: count them here
    lines = len(_chain_lines(completion)) if fmt == "rewrite" else 0
    truth = int(problem.answer)
    return {
        "format": fmt,
        "answer": answer,
        "correct": world.is_correct(problem, completion) if world is not None else answer == truth,
        "answer_right": answer is not None and answer == truth,
        "n_steps": len(steps),
        "n_expected": len(expected),
        "missing_steps": len(expected) - matched if scratch else len(expected),
        "direct": fmt == "direct",
        "skipped_steps": scratch and matched < len(expected),
        "skipped_computation": fmt == "direct" or (scratch and matched < len(expected)),
        "repeated": completion.count("A:") > 1 or len(steps) > len(expected) or lines > len(expected),
        "wrong_step": any(not s.right for s in steps),
        "unfaithful": bool(steps) and answer is not None and answer != steps[-1].c,
        "copied_operand": answer is not None and answer in operands and truth not in operands,
    }


def shortcut_table(problems: Sequence[Any], completions: Sequence[Sequence[str]], world: World | None = None) -> pd.DataFrame:
    """One row per sample: ``problem, sample, n_operands, prompt`` and the columns of :func:`shortcut_flags` (whose
    ``correct`` is ``world``'s verdict when a world is given)."""
    if len(problems) == 0:
        raise EmptyInputError("No problems given.")
    if len(problems) != len(completions):
        raise InvalidConfigError(f"{len(problems)} problems but {len(completions)} completion lists: one list per problem.")
    rows = [{"problem": i, "sample": j, "n_operands": p.meta["n_operands"], "prompt": p.prompt, **shortcut_flags(p, c, world)}
            for i, (p, row) in enumerate(zip(problems, completions, strict=True)) for j, c in enumerate(row)]
    return pd.DataFrame(rows)


def modal_answer_share(answers: Sequence[Any]) -> float:
    """Share of entries equal to the most common non-missing one (missing answers count in the denominator)."""
    if len(answers) == 0:
        raise EmptyInputError("No answers given.")
    s = pd.Series(list(answers), dtype=object).dropna()
    return float(s.value_counts().iloc[0] / len(answers)) if len(s) else 0.0


def shortcut_rates(table: pd.DataFrame, *, n_boot: int = 1000, ci: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Rate of every flag with a CI over problems (each problem's rate is one unit; :func:`~..analysis.stats.mean_ci`:
    Wilson where every rate is 0 or 1, else a bootstrap), plus the modal-answer
    share of the samples and of the true answers (no CI: a whole-set statistic). Columns ``metric, rate, ci_lo,
    ci_hi``."""
    if table.empty:
        raise EmptyInputError("Empty shortcut table: sample some completions first.")
    per = table.groupby("problem")[list(FLAGS)].mean()
    rows = []
    for f in FLAGS:
        lo, hi = mean_ci(per[f].to_numpy(float), n_boot=n_boot, ci=ci, seed=seed)
        rows.append({"metric": f, "rate": float(per[f].mean()), "ci_lo": lo, "ci_hi": hi})
    rows.append({"metric": "modal_answer_share", "rate": modal_answer_share(table["answer"].tolist()),
                 "ci_lo": np.nan, "ci_hi": np.nan})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------------------- run
@dataclass(frozen=True)
class DifficultyConfig(FrozenConfig):
    """Problems per difficulty level (``operands``), samples per problem, and the base-solved threshold."""

    operands: tuple[int, ...] = (2, 3, 4)
    n_problems: int = 48
    n_samples: int = 32
    problem_seed: int = 30_000
    seed: int = 0
    temperature: float = 1.0
    solved_threshold: float = 0.5  # a problem the base "already did": pass@1 >= this on the selection half
    n_boot: int = 1000
    ci: float = 0.95
    max_batch: int = 512

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.operands or any(not 2 <= k <= 8 for k in self.operands):
            raise InvalidConfigError(f"DifficultyConfig.operands={self.operands}: give operand counts in [2, 8].")
        for name in ("n_problems", "n_boot", "max_batch"):
            check_range(self, name, 1)
        check_range(self, "n_samples", 2)  # halves for selection and measurement
        check_range(self, "temperature", 0.0, lo_open=True)
        check_range(self, "solved_threshold", 0.0, 1.0, lo_open=True)
        check_range(self, "ci", 0.0, 1.0, lo_open=True, hi_open=True)


def difficulty_world(pair_or_world: Any, operands: Sequence[int]) -> Any:
    """The pair's arithmetic world (its RL training distribution) widened to every operand count in ``operands``."""
    from ..organism.corpus import make_world
    from ..organism.trained_world import world_for

    w = pair_or_world if hasattr(pair_or_world, "sample") else world_for(pair_or_world, "arithmetic")
    if w.name != "arithmetic":
        raise InvalidConfigError(f"Difficulty bands are defined for the arithmetic world, not {w.name!r}.")
    return make_world("arithmetic", arithmetic=w.config.replace(min_operands=min(operands), max_operands=max(operands)))


def trained_band(pair: Any) -> tuple[int, int]:
    """The operand counts (fewest, most) of the RL prompts the pair's RL model was trained on, from its manifest
    (a fine-tuned or unknown model has no RL band: a typed error says so)."""
    from ..organism.trained_world import world_for

    kind = (pair.rl.manifest or {}).get("kind")
    if kind != "rl":
        raise InvalidConfigError(f"{pair.name}: its tuned model's manifest says kind {kind!r}, not 'rl', so it has no"
                                 " RL prompt band: compare RL-tuned pairs only.")
    cfg = world_for(pair, "arithmetic").config
    return int(cfg.min_operands), int(cfg.max_operands)


def tuned_label(pair: Any) -> str:
    """How :func:`models_by_base` names a pair's tuned model: its variant, else the pair's name."""
    return str(pair.spec.extra.get("variant") or pair.name)


def models_by_base(pairs: Sequence[Any]) -> dict[str, dict[str, Any]]:
    """``{base name: {"base": base model, label: tuned model, ...}}``: the pairs grouped by the base they share, so
    every tuned model is compared with its own base, under :func:`tuned_label` (the zoo's variant name, e.g.
    ``hard`` or ``edge``, else the pair's name)."""
    if not pairs:
        raise EmptyInputError("No pairs given: name at least one pair.")
    groups: dict[str, dict[str, Any]] = {}
    for p in pairs:
        label = tuned_label(p)
        group = groups.setdefault(p.base.name, {"base": p.base})
        if label in group:
            raise InvalidConfigError(f"Two pairs of base {p.base.name} are both labelled {label!r} (e.g. two RL seeds"
                                     " of one variant): compare one of them per base.")
        group[label] = p.rl
    return groups


def band_verdict(table: pd.DataFrame) -> str:
    """Claim 10 read per pair, when the band's difficulty is set by the base rather than by a variant name.

    ``table`` has one row per tuned model with bool columns ``too_hard`` (its base never solved the trained band in
    the samples drawn), ``damaged`` (accuracy on base-solved problems fell, CI below 0), ``shortcut`` (skipped
    computation or repetition rose, CI above 0) and, optionally, ``moved`` (its weights differ from its base's, see
    :func:`rlmeta_interp.organism.manifests.weights_moved`; False when RL took no step), and a ``model`` name. A run
    that moved no weight cannot have learnt anything from its band, so it tests nothing and is left out of the
    reading. The claim predicts damage and shortcuts for the too-hard rows and neither for the others; the sentence
    says whether every tested row did.
    """
    if table.empty:
        raise EmptyInputError("No tuned models to read: the table has no rows.")
    still = table["moved"].eq(False) if "moved" in table else pd.Series(False, index=table.index)
    tested = table[~still]
    hit = tested["damaged"] & tested["shortcut"]
    clean = ~tested["damaged"] & ~tested["shortcut"]
    as_predicted = (tested["too_hard"] & hit) | (~tested["too_hard"] & clean)

    def names(frame: pd.DataFrame, mask: pd.Series) -> str:
        return ", ".join(f"`{m}`" for m in frame.loc[mask, "model"]) or "none"

    facts = (f"trained on a band too hard for its base: {names(table, table['too_hard'])}; moved no weight (not a test):"
             f" {names(table, still)}; damaged base-solved problems: {names(tested, tested['damaged'])}; raised skipped"
             f" computation or repetition: {names(tested, tested['shortcut'])}")
    if not tested["too_hard"].any():
        return ("**Claim 10 is not tested here**: no RL model that moved its weights was trained on a band its base"
                f" never solved ({facts}).")
    if as_predicted.all():
        return f"**Agrees with claim 10**: damage and shortcuts followed the too-hard band and nothing else ({facts})."
    return f"**Does not reproduce claim 10 as stated** ({facts}); the claim predicts both for the too-hard rows only."


def named_band_verdict(table: pd.DataFrame) -> str:
    """Claim 10 read from the paper zoo's variant names (``easy``, ``correct``, ``hard``: the band each was trained
    on, named at design time) rather than from the base's samples: the claim holds when only ``hard`` damaged
    base-solved problems and it raised shortcuts. ``table``: :meth:`DifficultyResult.band_table` rows (``model``
    is the variant)."""
    damaged = [m for m in table.loc[table["damaged"], "model"]]
    shortcut = [m for m in table.loc[table["shortcut"], "model"]]
    if "hard" not in set(table["model"]):
        return ("The hard-band variant is not in this zoo (smoke mode or a partial zoo), so claim 10 is not tested"
                " here: build it with `rlmeta-interp zoo build --preset paper`.")
    if "hard" in damaged and "hard" in shortcut and not ({"easy", "correct"} & set(damaged)):
        return "**Agrees with claim 10**: only hard-band RL damaged base-solved problems, and it raised shortcut rates."
    return (f"**Does not reproduce claim 10 as stated**: variants that damaged base-solved problems (CI below 0):"
            f" {damaged or 'none'}; variants that raised skipped computation or repetition (CI above 0):"
            f" {shortcut or 'none'}. The claim predicts `hard` in both lists and `easy`/`correct` in neither.")


@dataclass
class DifficultyResult:
    """Samples of every model on every level; ``samples`` has one row per (model, problem, sample) with the flags."""

    config: DifficultyConfig
    models: list[str]
    samples: pd.DataFrame
    reference: str = "base"

    def _per_problem(self, half: str | None = None) -> pd.DataFrame:
        s = self.samples
        if half is not None:
            cut = self.config.n_samples // 2
            s = s[s["sample"] < cut] if half == "select" else s[s["sample"] >= cut]
        return s.groupby(["model", "n_operands", "problem"], sort=False)["correct"].mean().rename("acc").reset_index()

    def _change_ci(self, model: str, values: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
        """CI of ``model``'s change from the reference model, paired by problem; the reference's own change is 0 by
        definition and gets (0, 0), not an interval of a difference it cannot have."""
        if model == self.reference:
            return (0.0, 0.0)
        c = self.config
        return mean_diff_ci(values, ref, n_boot=c.n_boot, ci=c.ci, seed=c.seed)

    def accuracy_by_level(self) -> pd.DataFrame:
        """``model, n_operands, acc, ci_lo, ci_hi, d_vs_ref, d_lo, d_hi`` (pass@1 = mean sample accuracy; CIs over
        problems; the difference to the reference model is paired by problem)."""
        c = self.config
        per = self._per_problem()
        rows = []
        for k in c.operands:
            ref = per[(per.model == self.reference) & (per.n_operands == k)].set_index("problem")["acc"]
            for m in self.models:
                a = per[(per.model == m) & (per.n_operands == k)].set_index("problem")["acc"].loc[ref.index]
                lo, hi = mean_ci(a.to_numpy(), n_boot=c.n_boot, ci=c.ci, seed=c.seed)
                dlo, dhi = self._change_ci(m, a.to_numpy(), ref.to_numpy())
                rows.append({"model": m, "n_operands": k, "acc": float(a.mean()), "ci_lo": lo, "ci_hi": hi,
                             "d_vs_ref": float(a.mean() - ref.mean()), "d_lo": dlo, "d_hi": dhi, "n_problems": len(a)})
        return pd.DataFrame(rows)

    def already_solved(self) -> pd.DataFrame:
        """Accuracy on problems the reference (base) already solved.

        Problems are selected where the reference's accuracy on the first half of its samples is at least
        ``solved_threshold``; every model is then scored on the *second* half of its samples, so the reference's
        score on the selected set is not inflated by the selection. Columns ``model, n_selected, acc, ci_lo,
        ci_hi, d_vs_ref, d_lo, d_hi``.
        """
        c = self.config
        sel = self._per_problem("select")
        ref_sel = sel[sel.model == self.reference].set_index(["n_operands", "problem"])["acc"]
        chosen = ref_sel[ref_sel >= c.solved_threshold].index
        ev = self._per_problem("measure").set_index(["n_operands", "problem"])
        ref = ev[ev.model == self.reference]["acc"].reindex(chosen)
        rows = []
        for m in self.models:
            a = ev[ev.model == m]["acc"].reindex(chosen)
            if len(chosen) == 0:
                rows.append({"model": m, "n_selected": 0, "acc": np.nan, "ci_lo": np.nan, "ci_hi": np.nan,
                             "d_vs_ref": np.nan, "d_lo": np.nan, "d_hi": np.nan})
                continue
            lo, hi = mean_ci(a.to_numpy(), n_boot=c.n_boot, ci=c.ci, seed=c.seed)
            dlo, dhi = self._change_ci(m, a.to_numpy(), ref.to_numpy())
            rows.append({"model": m, "n_selected": int(len(chosen)), "acc": float(a.mean()), "ci_lo": lo, "ci_hi": hi,
                         "d_vs_ref": float(a.mean() - ref.mean()), "d_lo": dlo, "d_hi": dhi})
        return pd.DataFrame(rows)

    def shortcuts(self, by_level: bool = False) -> pd.DataFrame:
        """:func:`shortcut_rates` per model (and per operand count with ``by_level``), plus the true answers'
        modal share as ``truth_modal_answer_share``. Problem ids are made unique across levels."""
        c = self.config
        s = self.samples.assign(problem=self.samples["n_operands"].astype(str) + ":" + self.samples["problem"].astype(str))
        keys = ["model", "n_operands"] if by_level else ["model"]
        out = []
        for key, g in s.groupby(keys, sort=False):
            key = key if isinstance(key, tuple) else (key,)
            r = shortcut_rates(g, n_boot=c.n_boot, ci=c.ci, seed=c.seed)
            truth = g.drop_duplicates("problem")["truth"].tolist()
            r = pd.concat([r, pd.DataFrame([{"metric": "truth_modal_answer_share", "rate": modal_answer_share(truth),
                                             "ci_lo": np.nan, "ci_hi": np.nan}])], ignore_index=True)
            for k, v in zip(keys, key, strict=True):
                r.insert(0, k, v)
            out.append(r)
        return pd.concat(out, ignore_index=True)

    def shortcut_changes(self) -> pd.DataFrame:
        """Per model and flag: the rate, and its difference to the reference model's rate with a CI paired by problem
        (all models answer the same problems). Columns ``model, metric, rate, d_vs_ref, d_lo, d_hi``."""
        s = self.samples.assign(problem=self.samples["n_operands"].astype(str) + ":" + self.samples["problem"].astype(str))
        per = s.groupby(["model", "problem"])[list(FLAGS)].mean()
        ref = per.loc[self.reference]
        rows = []
        for m in self.models:
            mine = per.loc[m].loc[ref.index]
            for f in FLAGS:
                a, b = mine[f].to_numpy(float), ref[f].to_numpy(float)
                lo, hi = self._change_ci(m, a, b)
                rows.append({"model": m, "metric": f, "rate": float(a.mean()), "d_vs_ref": float(a.mean() - b.mean()),
                             "d_lo": lo, "d_hi": hi})
        return pd.DataFrame(rows)

    def model_sentence(self, model: str) -> str:
        """``model`` against the reference, in one sentence: accuracy at the fewest operands measured and its paired
        change, accuracy on base-solved problems and its change (when the reference solved any), and the skipped
        computation and repetition rates with their changes; 95% CIs."""
        from ..prose import fmt_ci

        if model not in self.models or model == self.reference:
            raise InvalidConfigError(f"model_sentence: {model!r} is not a tuned model of this run; name one of"
                                     f" {[x for x in self.models if x != self.reference]}.")
        k = min(self.config.operands)
        lv = self.accuracy_by_level()
        lv = lv[(lv.model == model) & (lv.n_operands == k)].iloc[0]
        side = "lower than" if lv.d_hi < 0 else "higher than" if lv.d_lo > 0 else "not detectably different from"
        s = (f"on {k}-operand problems accuracy {fmt_ci(lv.acc, digits=3)}, change vs base"
             f" {fmt_ci(lv.d_vs_ref, lv.d_lo, lv.d_hi, 3)} ({side} the base)")
        sol = self.already_solved().set_index("model").loc[model]
        if sol.n_selected > 0:
            s += (f"; on the {int(sol.n_selected)} base-solved problems {fmt_ci(sol.acc, sol.ci_lo, sol.ci_hi)}, change"
                  f" {fmt_ci(sol.d_vs_ref, sol.d_lo, sol.d_hi)}")
        chg = self.shortcut_changes().set_index(["model", "metric"])
        sc, rp = chg.loc[(model, "skipped_computation")], chg.loc[(model, "repeated")]
        return s + (f"; skipped computation {fmt_ci(sc.rate)} (change {fmt_ci(sc.d_vs_ref, sc.d_lo, sc.d_hi)}),"
                    f" repetition {fmt_ci(rp.rate, digits=3)} (change {fmt_ci(rp.d_vs_ref, rp.d_lo, rp.d_hi, 3)}).")

    def band_table(self, bands: Mapping[str, tuple[int, int]]) -> pd.DataFrame:
        """Per tuned model (``bands``: its trained operand counts, see :func:`trained_band`): the reference's
        accuracy on that band, whether it never solved it (``too_hard``: no sample correct by the world's verifier;
        an RL reward that gives partial credit, such as the process reward, may still have had signal there, which
        the manifests' ``weights_moved`` shows), whether the model damaged base-solved problems (``damaged``: paired
        CI below 0) and raised skipped computation or repetition (``shortcut``: CI above 0). The input of
        :func:`band_verdict`."""
        levels = self.accuracy_by_level()
        solved = self.already_solved().set_index("model")
        changes = self.shortcut_changes().set_index(["model", "metric"])
        rows = []
        for m, (lo, hi) in bands.items():
            if m not in self.models or m == self.reference:
                raise InvalidConfigError(f"band_table: {m!r} is not a tuned model of this run; name one of"
                                         f" {[x for x in self.models if x != self.reference]}.")
            band = [k for k in range(lo, hi + 1) if k in self.config.operands]
            if len(band) != hi - lo + 1:
                raise InvalidConfigError(f"{m} was trained on {lo}-{hi} operands, but the run measured only"
                                         f" {list(self.config.operands)}: add its band to the operand counts.")
            ref = levels[(levels.model == self.reference) & levels.n_operands.isin(band)]
            rows.append({"model": m, "band": f"{lo}" if lo == hi else f"{lo}-{hi}",
                         "base_acc_on_band": float(ref["acc"].mean()), "too_hard": bool((ref["acc"] == 0).all()),
                         "damaged": bool(solved.loc[m, "n_selected"] > 0 and solved.loc[m, "d_hi"] < 0),
                         "shortcut": bool(changes.loc[(m, "skipped_computation"), "d_lo"] > 0
                                          or changes.loc[(m, "repeated"), "d_lo"] > 0)})
        return pd.DataFrame(rows)


def level_problems(world: World, config: DifficultyConfig, operands: int) -> list[Any]:
    """The ``config.n_problems`` problems of one operand count that :func:`run_difficulty` samples: held-out ones
    (the "eval" hash split of a leak-free world, never in a pretraining corpus or an RL prompt set), drawn with
    replacement, so a level with few distinct held-out problems repeats some."""
    return world.sample_held_out(config.n_problems, seed=config.problem_seed + operands, operands=operands)


def run_difficulty(models: Mapping[str, Any], world: World, config: DifficultyConfig = DifficultyConfig(), *,
                   reference: str = "base", progress: bool = False) -> DifficultyResult:
    """Sample every model (``{label: LoadedModel}``, the ``reference`` among them) on ``config.n_problems`` problems
    per operand count of ``world`` (see :func:`difficulty_world`) and read every sample by rule."""
    from ..sampling import sample_completions

    if reference not in models:
        raise InvalidConfigError(f"The reference model {reference!r} is not among {sorted(models)}: include it.")
    c = config
    frames = []
    for k in c.operands:
        problems = level_problems(world, c, k)
        prompts = [p.prompt for p in problems]
        max_new = int(world.max_completion_chars()) + 2
        for label, m in models.items():
            log.info("run_difficulty: %s on %d-operand problems", label, k)
            comps = sample_completions(m.hf, m.tokenizer, prompts, n=c.n_samples, max_new_tokens=max_new,
                                       temperature=c.temperature, seed=c.seed, max_batch=c.max_batch,
                                       progress=progress)
            t = shortcut_table(problems, comps, world)
            t.insert(0, "model", label)
            t["truth"] = [int(problems[i].answer) for i in t["problem"]]
            frames.append(t)
    return DifficultyResult(config=c, models=list(models), samples=pd.concat(frames, ignore_index=True),
                            reference=reference)
