"""Readings of pairs outside the validation table by the committed fit (``validate --read``), shipped under
data/pilots/readings: where they lie, their rows and their evaluation, as data/README.md and notebook 11 render them.
The registered questions answered beside them are :mod:`~rlmeta_interp.organism.answers`'."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import EmptyInputError
from ..io import read_csv, read_json
from ..prose import criteria_note
from .markdown import fmt_num

# written by `rlmeta-interp validate --read ... --readings data/pilots/readings/<name>.csv`, with the evaluation
# beside it (.json); in a folder of its own, apart from the exported manifests (*.json)
READINGS_DIR = "readings"
#: the readings data/README.md renders: the composition pilot's and the composition tests'
READINGS = ("composition", "composition-test", "composition-test2", "composition-lowdose", "composition-speed",
            "composition-after", "composition-rlseeds", "composition-lowdose2", "composition-fastlr",
            "composition-lrshift", "composition-lrmid", "composition-lrmid-extended", "composition-lrmid-seeds")


def readings_path(folder: str | Path, name: str) -> Path:
    """Where the readings ``name`` lie under ``folder`` (CSV; the evaluation beside it as JSON)."""
    return Path(folder) / READINGS_DIR / f"{name}.csv"


def read_again_command(path: str | Path) -> str:
    """The command that writes the readings at ``path`` again by the committed fit: readings are named after the
    preset they read (``data/pilots/readings/<preset>.csv``), so the file's stem names the preset."""
    return f"rlmeta-interp validate --read --preset {Path(path).stem} --readings {path}"


def readings_records(folder: str | Path, name: str) -> list[dict[str, Any]]:
    """The rows of ``folder``'s readings ``name`` as ``validate --read`` wrote them (checksum verified; a statistic
    not measured is NaN); none when the readings are not there. A file there with no row (empty, or its header
    alone) is refused with :class:`~rlmeta_interp.errors.EmptyInputError` naming the command that reads it again."""
    path = readings_path(folder, name)
    if not path.exists():
        return []
    again = read_again_command(path)
    records = read_csv(path, rebuild=again, required=True, keep_default_na=False, na_values=[""]).to_dict("records")
    if not records:  # a header alone: every reader would take it for readings with no case, and skip or pass it
        raise EmptyInputError(f"Readings {name} ({path}) hold no rows: read them again by the committed fit ({again}).")
    return records


def readings_rows(folder: str | Path, name: str = "composition") -> list[dict[str, Any]]:
    """Pairs outside the validation table as the committed validation fit read them (``validate --read``), from
    ``folder``'s readings ``name`` (checksum verified): per pair its label, gain check, whether it is a validation
    case by that check, whether the fit reads it by its world's own cuts or the pooled ones, the fitted reading and
    P(creation), the vote rule's reading, and each summary input as the fit reads it with its vote."""
    records = readings_records(folder, name)
    inputs = [c.removesuffix("_vote") for c in (records[0] if records else {}) if c.endswith("_vote")]
    rows = []
    for r in records:
        row = {"pair": r["pair"], "label": r["label"], "gain check": r["gain_check"],
               "case": "yes" if r["case"] else "no", "cuts": "own world" if r["own_world_cuts"] else "pooled",
               "fitted reading": r["reading"], "P(creation)": fmt_num(r["p_creation"], "{:.2f}"),
               "vote rule": r["vote_rule"]}
        row.update({f"{name} (vote)": f"{fmt_num(r[name], '{:+.2f}')} ({r[f'{name}_vote']})" for name in inputs})
        rows.append(row)
    return rows


def bar_of(ev: dict[str, Any] | None) -> str:
    """Whether the project's bar is met over an evaluation of readings (None: no case to evaluate)."""
    if ev is None:
        return "no case"
    # the bar asks for creation recall: over cases without a creation case it cannot be met, so it is not applied
    if "creation" not in ev["summary"]["recall_exact_ci"]:
        return "not applicable (no creation case)"
    # readings judged by the later criteria say so: their verdict includes the reading over base models
    return ("met" if ev["meets_bar"] else "not met") + criteria_note(ev.get("bar_criteria", 1))


def readings_bar(folder: str | Path, name: str) -> str:
    """:func:`bar_of` the evaluation of ``folder``'s readings ``name`` (checksum verified; "not read" without one)."""
    path = readings_path(folder, name).with_suffix(".json")
    return bar_of(read_json(path, required=True).get("evaluation")) if path.exists() else "not read"


def readings_evaluation(folder: str | Path, name: str = "composition") -> str:
    """One paragraph from the evaluation of ``folder``'s readings ``name`` (``validate --read`` writes it beside the
    CSV, checksum verified): the cases, the fitted summary's balanced accuracy with its CI beside the constant answer's, each
    class's recall with its exact interval, each voting indicator's AUC with the bases it rests on, and whether the
    project's bar is met over them. Where every case is of one class, that class's recall alone."""
    path = readings_path(folder, name).with_suffix(".json")
    if not path.exists():
        return "(no readings evaluated yet)\n"
    ev = read_json(path, required=True).get("evaluation")
    if ev is None:
        return "No pair read is a validation case by its gain check: nothing to evaluate.\n"
    s = ev["summary"]
    recall = "; ".join(f"{c.replace('_', ' ')} {k}/{n} ({lo:.2f} to {hi:.2f})"
                       for c, (k, n, lo, hi) in sorted(s["recall_exact_ci"].items()))
    inds = "; ".join(f"{r['indicator']} {fmt_num(r['test_auc'], '{:.2f}')} ({fmt_num(r['test_lo'], '{:.2f}')} to"
                     f" {fmt_num(r['test_hi'], '{:.2f}')}) over {r.get('test_bases_unseen') or 0} bases"
                     for r in ev["indicators"] if r["votes"] and r.get("cut") is not None)
    two = s.get("creation_vs_activation")  # absent from readings evaluated before it was reported
    two_text = (f"; creation against activation alone {two['balanced_accuracy']:.2f} (CI {two['ci_lo']:.2f} to"
                f" {two['ci_hi']:.2f}, {two['n']} cases)" if two else "")
    rule = ev.get("expansion_rule")  # likewise
    rule_text = (f" The label-free expansion rule (no gain: no-signal; pass@n expanded: creation; else activation)"
                 f" over the same cases: balanced accuracy {rule['balanced_accuracy']:.2f} (CI {rule['ci_lo']:.2f} to"
                 f" {rule['ci_hi']:.2f}), {len(rule['read_wrong'])} read wrong." if rule else "")
    bar = bar_of(ev)
    if len(s["recall_exact_ci"]) == 1:
        # every case of one class by design: balanced accuracy is that class's recall and an AUC needs two classes,
        # so the paragraph gives the recall alone rather than degenerate numbers beside it
        ((c, (k, n, lo, hi)),) = s["recall_exact_ci"].items()
        rule_right = f" The label-free expansion rule read {n - len(rule['read_wrong'])} of {n} right." if rule else ""
        return (f"Over the {ev['n_test']} cases read, all {c.replace('_', ' ')} by design: the fitted summary read {k}"
                f" of {n} as {c.replace('_', ' ')} (exact 95% interval {lo:.2f} to {hi:.2f}). Balanced accuracy, the"
                f" constant answer and indicator AUCs need two classes and are not given.{rule_right} The project's"
                f" bar over these pairs: {bar}.\n")
    const = ev["constant_baseline"]
    absent = "" if const["answer"] in s["recall_exact_ci"] else f", always {const['answer'].replace('_', ' ')}, a class absent here"
    return (f"Over the {ev['n_test']} cases read: the fitted summary's balanced accuracy"
            f" {s['balanced_accuracy']:.2f} (CI {s['ci_lo']:.2f} to {s['ci_hi']:.2f}; the constant answer"
            f" {const['balanced_accuracy']:.2f}{absent}){two_text}; recall with exact 95% intervals: {recall}."
            f" Held-out AUC of each indicator voting by a fitted cut, as the fit reads it: {inds or 'none'}."
            f"{rule_text} The project's bar over these pairs: {bar}.\n")
