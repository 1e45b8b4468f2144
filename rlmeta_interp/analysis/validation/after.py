"""Does the meter read how long RL trained after it learnt? The training-after-take-off test's registered question
(docs/preregistration.md), computed from committed readings, manifests and the committed fit alone.

The test's runs are the earlier tests' runs (twins, ``-rl-long``: 1500 steps) stopped at 300 steps (``-rl-brief``)
or continued to 3000 (``-rl-extended``), every other setting the same. The *brief activation cases* are the brief
activation runs that passed their gain check. With at least 6 of them from 4 bases (``questions``), the verdict is:
"follows the training after take-off" when the fitted summary as read reads at least half of them creation; "does not
follow it" when it is credited on them (the exact interval of the share read activation above one half, as read and
with boundary at its cut), reported as "confounded by the brief budget" when a brief creation run that passed, whose
twin was read creation, is read activation or the brief creation runs' median change in P(creation) is below
:data:`BRIEF_SHIFT`; else "inconclusive". Fewer cases or bases: "cannot answer". No-signal readings count for
neither side.

Reported beside it: the extended runs beside their twins, every run beside its twin (``twins``), paired changes per
class, each reader's readings per class, and whether each brief run's stored curve repeats its twin's over the steps
they share.

``python -m rlmeta_interp.analysis.validation.after TEST`` writes ``<TEST>-after.json`` beside the readings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .questions import PASSK_INPUT, Row, by_class, cases, credit, require_manifests, run_question, without_input
from .twins import changes_by_class, creation_check, paired_runs, repeats_twin

EARLIER = ("composition-test2", "composition-lowdose")  # the tests whose 1500-step runs are the twins
BRIEF, EXTENDED = "brief", "extended"
BRIEF_SHIFT = -0.1  # registered: brief creation runs' median change in P(creation) below this flags the verdict


def after_question(test: Sequence[Row], earlier: Sequence[Row], manifests: Mapping[str, Mapping[str, Any]],
                   fitted: Mapping[str, Any]) -> dict[str, Any]:
    """The registered question (module docstring) over readings rows ``test`` and ``earlier`` (where every twin was
    read); ``manifests`` maps every pair and base to its manifest; ``fitted`` is the committed fit. JSON-ready."""
    require_manifests([*test, *earlier], manifests)
    runs = paired_runs(test, earlier, manifests, (BRIEF, EXTENDED))
    for r in runs:
        r["arm"] = BRIEF if f"-rl-{BRIEF}" in r["pair"] else EXTENDED
        r["repeats_twin"] = repeats_twin(manifests[r["pair"]], manifests[r["twin"]])

    def base_of(r: Row) -> str:
        return str(manifests[str(r["pair"])]["base"])

    brief = [r for r in cases(test) if r["label"] == "activation" and f"-rl-{BRIEF}" in str(r["pair"])]
    bases = [base_of(r) for r in brief]
    question = {"as read": credit([str(r["reading"]) for r in brief], bases),
                f"{PASSK_INPUT} at its cut": credit(without_input(brief, fitted, PASSK_INPUT), bases),
                "pairs": [str(r["pair"]) for r in brief]}
    check = creation_check([r for r in runs if r["arm"] == BRIEF], BRIEF_SHIFT, twin_read_creation=True)
    read = {k: sum(str(r["reading"]) == k for r in brief) for k in ("creation", "activation", "no_signal")}
    verdict = ("cannot answer" if not question["as read"]["answerable"] else
               "follows the training after take-off" if read["creation"] >= len(brief) / 2 else
               ("confounded by the brief budget" if check["result"] == "confounded" else "does not follow it")
               if question["as read"]["credited"] and question[f"{PASSK_INPUT} at its cut"]["credited"] else
               "inconclusive")
    test_cases = cases(test)
    readers = {"fitted summary": [str(r["reading"]) for r in test_cases],
               f"fitted summary, {PASSK_INPUT} at its cut": without_input(test_cases, fitted, PASSK_INPUT),
               "expansion rule": [str(r["expansion_reading"]) for r in test_cases]}
    return {"verdict": verdict, "question": question, "brief_read": {**read, "n": len(brief)},
            "brief_creation_check": check,
            "extended": [r for r in runs if r["arm"] == EXTENDED],
            "paired_change": {arm: changes_by_class([r for r in runs if r["arm"] == arm]) for arm in (BRIEF, EXTENDED)},
            "runs": runs, "readers_by_class": {name: by_class(test_cases, got) for name, got in readers.items()}}


def main(argv: list[str] | None = None, folder: str | Path | None = None,
         table_dir: str | Path | None = None) -> Path:
    """The command (module docstring; :func:`~.questions.run_question`). Returns the JSON's path."""
    return run_question(argv, "after", "TEST (a readings name under data/pilots/readings, e.g. composition-after)",
                        EARLIER, lambda r, m, f: after_question(r[0], [x for rows in r[1:] for x in rows], m, f),
                        folder, table_dir)


if __name__ == "__main__":
    main()
