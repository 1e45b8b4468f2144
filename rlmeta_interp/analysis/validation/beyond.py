"""Does the meter read more than pass@k? The low-dose test's registered question (docs/preregistration.md), computed
from committed readings, manifests and the committed fit alone.

An *expanding activation case* is an activation-by-design pair that passed its gain check and that the label-free
expansion rule reads as creation (pass@n expanded at some level). The question is asked of three sets of them: all,
those whose base held more of the skill than any of the reference test's creation bases (its deepest-level pass@n
above theirs), and those that expanded at the deepest level. For each set, a reader is credited when there are at
least :data:`MIN_EXPANDING` cases from at least :data:`MIN_BASES` bases and it reads them as activation with the lower
end of the exact 95% interval of that share above one half. The readers: the fitted summary as it read them, and the
same summary with boundary (itself a measure of pass@n expansion) held at its cut. The meter is credited with reading
more than pass@k only when both are credited on all expanding cases.

Reported beside it: the share over bases (a base right only when every expanding case from it is read activation);
both readers' and two label-free rules' readings of every case, per class (the expansion rule; the *headroom rule*:
creation when the base's deepest-level pass@n is within the reference's creation bases' range, else activation; and
boundary's own side of its cut); per dose, the activation runs, those that passed and those that expanded; each base's
deepest-level pass@1 and pass@n; and, against the reference test's creation cases, each indicator's and the summary's
AUC (bootstrap over bases) and the summary's two-class balanced accuracy.

``python -m rlmeta_interp.analysis.validation.beyond TEST REFERENCE`` writes ``<TEST>-beyond.json`` beside the
readings (``data/pilots/readings/``), from ``TEST.csv`` and ``REFERENCE.csv`` there and the pilot manifests.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import InvalidConfigError
from ...organism.gain import gain_check
from ...organism.tables import takeoff_step
from .metrics import recall_exact_ci, roc_auc_ci
from .questions import (MIN_BASES, MIN_CASES, PASSK_INPUT, READ_AS, Row, base_passn, by_class, cases, credit, deepest,
                        headroom_readings, headroom_top, p_without, require_manifests, run_question, without_input)

MIN_EXPANDING = MIN_CASES  # registered: with fewer expanding cases, or from fewer bases, a set cannot answer
AUC_INPUTS = ("boundary", "likelihood", "elicitation")  # statistics the readings carry, larger = creation
N_BOOT = 2000


def expanding_activation(rows: Sequence[Row]) -> list[Row]:
    """The activation cases (gain check passed) whose label-free expansion rule reads creation. A case without an
    expansion reading is refused: it would silently count as not expanding."""
    chosen = cases(rows)
    blank = [str(r["pair"]) for r in chosen if r["expansion_reading"] not in READ_AS]
    if blank:
        raise InvalidConfigError(f"{blank[0]} (and {len(blank) - 1} more) has no expansion reading: read it again"
                                 " with validate --read once its manifest and its base's hold per-level evaluations.")
    return [r for r in chosen if r["label"] == "activation" and r["expansion_reading"] == "creation"]


def beyond_passk(test: Sequence[Row], reference: Sequence[Row], manifests: Mapping[str, Mapping[str, Any]],
                 fitted: Mapping[str, Any]) -> dict[str, Any]:
    """The registered question (module docstring) over readings rows ``test`` (the low-dose test) and ``reference``
    (the test whose creation cases the AUCs and the headroom range are taken from); ``manifests`` maps every pair and
    base named in them to its manifest; ``fitted`` is the committed fit (``summary["fitted"]``). JSON-ready."""
    require_manifests([*test, *reference], manifests)

    def base_of(r: Row) -> str:
        return str(manifests[str(r["pair"])]["base"])

    def expanded_levels(r: Row) -> list[int]:  # the expansion rule's own procedure (a creation-label gain check)
        check = gain_check(manifests[base_of(r)]["metrics"], manifests[str(r["pair"])]["metrics"], "creation")
        return sorted(int(lv) for lv in check.get("expanded_levels", []))

    expanding = expanding_activation(test)
    creation = [r for r in cases(reference) if r["label"] == "creation"]
    creation_top = headroom_top(reference, manifests)
    read_as = [str(r["reading"]) for r in expanding]
    neutral = without_input(expanding, fitted, PASSK_INPUT)
    top_level = max((deepest(manifests[base_of(r)]["metrics"]).get("level", 0) for r in expanding), default=0)
    subsets = {"all": [True] * len(expanding),
               "headroom": [base_passn(r, manifests) > creation_top for r in expanding],
               "deepest level expanded": [top_level in expanded_levels(r) for r in expanding]}
    questions = {}
    for name, keep in subsets.items():
        bases = [base_of(r) for r, k in zip(expanding, keep, strict=True) if k]
        questions[name] = {
            "as read": credit([x for x, k in zip(read_as, keep, strict=True) if k], bases),
            f"{PASSK_INPUT} at its cut": credit([x for x, k in zip(neutral, keep, strict=True) if k], bases)}
    credited = all(q["credited"] for q in questions["all"].values())

    per_dose: dict[str, Counter[str]] = {}
    names = {str(r["pair"]) for r in expanding}
    for r in test:
        if r["label"] == "activation":
            c = per_dose.setdefault(f"{float(manifests[str(r['pair'])]['dose']):g}", Counter())
            c["runs"] += 1
            c["passed"] += r["gain_check"] == "passed"
            c["expanding"] += r["pair"] in names
            c["expanding read activation"] += r["pair"] in names and r["reading"] == "activation"

    test_cases = cases(test)
    headroom = headroom_readings(test_cases, manifests, creation_top)
    boundary_side = ["no_signal" if r["expansion_reading"] == "no_signal" else "n/a" if r.get(PASSK_INPUT) in (None, "")
                     or np.isnan(float(r[PASSK_INPUT])) else "creation" if float(r[PASSK_INPUT]) >= 0 else "activation"
                     for r in test_cases]
    readers = {"fitted summary": [str(r["reading"]) for r in test_cases],
               f"fitted summary, {PASSK_INPUT} at its cut": without_input(test_cases, fitted, PASSK_INPUT),
               "expansion rule": [str(r["expansion_reading"]) for r in test_cases],
               "headroom rule": headroom, f"{PASSK_INPUT}, side of its cut": boundary_side}

    two = [*creation, *expanding]
    groups = [base_of(r) for r in two]
    positive = [r["label"] == "creation" for r in two]
    aucs = {}
    for ind in AUC_INPUTS:
        scores = [None if r.get(ind) in (None, "") else float(r[ind]) for r in two]
        aucs[ind] = roc_auc_ci(scores, positive, n_boot=N_BOOT, groups=groups)
    aucs["fitted summary"] = roc_auc_ci([float(r["p_creation"]) for r in two], positive, n_boot=N_BOOT, groups=groups)
    aucs[f"fitted summary, {PASSK_INPUT} at its cut"] = roc_auc_ci(p_without(two, fitted, PASSK_INPUT), positive,
                                                                    n_boot=N_BOOT, groups=groups)
    two_read = [str(r["reading"]) for r in two]
    recall = recall_exact_ci([str(r["label"]) for r in two], two_read) if two else {}
    balanced = float(np.mean([k / n for k, n, _, _ in recall.values()])) if len(recall) == 2 else float("nan")

    bases = sorted({base_of(r) for r in (*test, *reference) if r["label"] in ("activation", "creation")})
    return {"min_expanding": MIN_EXPANDING, "min_bases": MIN_BASES, "credited": credited, "questions": questions,
            # the step at which the run's stored reward curve first reached one half: not part of the registered
            # question, listed beside it because the readings were seen to follow it
            "expanding": [{"pair": str(r["pair"]), "base": base_of(r), "reading": x, f"{PASSK_INPUT} at its cut": y,
                           "expanded_levels": expanded_levels(r),
                           "takeoff_step": takeoff_step(dict(manifests[str(r["pair"])]))}
                          for r, x, y in zip(expanding, read_as, neutral, strict=True)],
            "reference_creation_cases": len(creation), "reference_creation_top_passn": creation_top,
            "per_dose": {d: dict(c) for d, c in sorted(per_dose.items())},
            "readers_by_class": {name: by_class(test_cases, got) for name, got in readers.items()},
            "bases": [{"base": b, "dose": manifests[b]["dose"], **deepest(manifests[b]["metrics"])} for b in bases],
            "auc_vs_reference_creation": {k: dict(zip(("auc", "lo", "hi", "n"), v, strict=True))
                                          for k, v in aucs.items()},
            "summary_two_class": {"recall": recall, "balanced_accuracy": balanced}}


def main(argv: list[str] | None = None, folder: str | Path | None = None,
         table_dir: str | Path | None = None) -> Path:
    """The command (module docstring; :func:`~.questions.run_question`). Returns the JSON's path."""
    return run_question(argv, "beyond", "TEST REFERENCE (readings names under data/pilots/readings, e.g."
                        " composition-lowdose composition-test2)", (),
                        lambda r, m, f: beyond_passk(r[0], r[1], m, f), folder, table_dir)


if __name__ == "__main__":
    main()
