"""Does a larger RL learning rate alone move the meter's activation readings toward creation? The learning-rate
test's registered question (docs/preregistration.md), computed from committed readings, manifests and the committed
fit alone.

The test RL-tunes bases whose runs at the usual rate were read activation under the same budget with a five times
larger learning rate, each run beside its *twin* (same base and RL seed at the usual rate: :func:`~.twins.paired_runs`).
A *case* is a run that passed its gain check, labelled activation, whose twin passed its gain check and was read
activation. The verdict:

- *cannot answer*: fewer than :data:`MIN_CASES` cases, or from fewer than :data:`MIN_BASES` bases;
- *moves toward creation*: at least half the cases were read creation, from at least :data:`MIN_MOVED_BASES`
  bases, and the median change in P(creation) from the twin is at least :data:`SMALL` (the test's amendment: runs
  of one base move together, so the base is the unit);
- *does not move*: no case was read creation and the median change in P(creation) is below :data:`SMALL`;
- *partly (toward the cut)*: no case was read creation, the median change is at least :data:`SMALL`;
- *partly (some runs)*: anything else (some read creation, too few or from one base).

Reported beside it: every run beside its twin (take-off, the step its reward reached 0.95, readings, P(creation),
changes of the summary inputs, deepest-level pass@1 and pass@n: a larger learning rate may also leave a less
converged policy), the paired changes with a bootstrap interval over bases (with three bases, about the range of the
base means), and, not a test, the fast-RL test's control runs (seen before this test was registered) pooled with the
cases.

``python -m rlmeta_interp.analysis.validation.lrshift TEST`` writes ``<TEST>-lrshift.json`` beside the readings
(``data/pilots/readings/``), from ``TEST.csv``, the second low-dose test's readings (the twins), the fast-RL test's
and the pilot manifests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import InvalidConfigError
from .questions import Row, require_manifests, run_question
from .fastlr import VARIANTS  # the same runs' naming: -rl-long-fast, twins -rl-long
from .twins import STATISTICS, paired_change, paired_runs, twin_of

MIN_CASES = 4  # registered
MIN_BASES = 3
SMALL = 0.1  # registered: a median change in P(creation) below this is no movement
MIN_MOVED_BASES = 2  # registered (the test's amendment): bases the creation readings of "moves" come from
TWINS = "composition-lowdose2"  # where the twins were read
SEEN = "composition-fastlr"  # the fast-RL test, whose control runs were seen before this test was registered


def lr_cases(runs: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The cases among paired runs (module docstring)."""
    return [r for r in runs if r["label"] == "activation" and r["gain_check"] == "passed"
            and r["twin_gain_check"] == "passed" and r["twin_reading"] == "activation"]


def median_change(cases: Sequence[Mapping[str, Any]]) -> float | None:
    """The median change in P(creation) from the twin over ``cases`` (None for none); a missing change is refused."""
    change = [r["change"]["p_creation"] for r in cases]
    if any(c is None or not np.isfinite(c) for c in change):
        raise InvalidConfigError("A case has no change in P(creation): every reading and its twin's carry one; read"
                                 " them again with validate --read.")
    return float(np.median(change)) if change else None


def verdict(cases: Sequence[Mapping[str, Any]]) -> str:
    """The registered verdict (module docstring) over the cases."""
    if len(cases) < MIN_CASES or len({r["base"] for r in cases}) < MIN_BASES:
        return "cannot answer"
    moved = [r for r in cases if r["reading"] == "creation"]
    median = median_change(cases)
    if 2 * len(moved) >= len(cases) and len({r["base"] for r in moved}) >= MIN_MOVED_BASES and median >= SMALL:
        return "moves toward creation"
    if not moved:
        return "does not move" if median < SMALL else "partly (toward the cut)"
    return "partly (some runs)"


def lr_answer(test: Sequence[Row], twins: Sequence[Row], manifests: Mapping[str, Mapping[str, Any]],
              variants: Sequence[str] = VARIANTS) -> dict[str, Any]:
    """The registered verdict (module docstring) over readings rows ``test`` (runs named ``-rl-<variant>``, one of
    ``variants``) beside their twins, read in ``twins``: the cases, the verdict, the paired changes and every run
    (:func:`~.twins.paired_runs`). JSON-ready."""
    require_manifests([*test, *twins], manifests)
    runs = paired_runs(test, twins, manifests, variants)
    chosen = lr_cases(runs)
    names = {r["pair"] for r in chosen}
    return {"verdict": verdict(chosen), "min_cases": MIN_CASES, "min_bases": MIN_BASES, "small": SMALL,
            "cases": sorted(names), "not_cases": [r["pair"] for r in runs if r["pair"] not in names],
            "read_creation": sum(r["reading"] == "creation" for r in chosen),
            "median_change_p_creation": median_change(chosen),
            "change": {k: paired_change(chosen, k) for k in ("p_creation", *STATISTICS)}, "runs": runs}


def lrshift_question(test: Sequence[Row], twins: Sequence[Row], seen: Sequence[Row],
                     manifests: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The registered question (module docstring): :func:`lr_answer` over readings rows ``test``, with the twins read
    in ``twins``; the runs of ``seen`` whose twins are there (the fast-RL test's control runs) are reported beside,
    pooled. JSON-ready."""
    read = {str(r["pair"]) for r in twins}
    seen = [r for r in seen if twin_of(str(r["pair"]), VARIANTS) in read]  # the runs whose twins are among ``twins``
    require_manifests(seen, manifests)
    out = lr_answer(test, twins, manifests)
    chosen = lr_cases(out["runs"])
    seen_runs = lr_cases(paired_runs(seen, twins, manifests, VARIANTS))
    return {**out, "pooled_with_seen": {"cases": len(chosen) + len(seen_runs),
                                        "read_creation": sum(r["reading"] == "creation" for r in (*chosen, *seen_runs)),
                                        "change_p_creation": paired_change([*chosen, *seen_runs], "p_creation")},
            "seen_runs": seen_runs}

def main(argv: list[str] | None = None, folder: str | Path | None = None,
         table_dir: str | Path | None = None) -> Path:
    """The command (module docstring; :func:`~.questions.run_question`). Returns the JSON's path."""
    return run_question(argv, "lrshift", "TEST (a readings name under data/pilots/readings, e.g."
                        " composition-lrshift)", (TWINS, SEEN),
                        lambda r, m, f: lrshift_question(r[0], r[1], r[2], m), folder, table_dir)


if __name__ == "__main__":
    main()
