"""Does a three times larger RL learning rate move the meter's activation readings toward creation? The middle-rate
test's registered question (docs/preregistration.md), computed from committed readings, manifests and the committed
fit alone.

The learning-rate test asked this of a five times larger rate and could not answer: half its runs collapsed. This
test RL-tunes all four of the second low-dose test's bases (read activation at the usual rate) at three times the
usual rate, RL seeds 0 and 1. Its verdict is the learning-rate test's, over its own runs and with its thresholds
(:func:`~.lrshift.verdict`: cases are runs beside twins that passed and were read activation; *cannot answer* below
4 cases from 3 bases; *moves toward creation*, *does not move*, *partly (toward the cut)*, *partly (some runs)*).

Registered beside it (the end state as amended before any run was read):

- *the end state* (asked only when the verdict is *moves toward creation*): a larger learning rate may also leave a
  less converged policy. A case's end state is *matched* when its deepest-level pass@1 is at least its twin's minus
  :data:`MATCHED` (ending sharper matches); a case without one is refused. *With the end state matched* when at
  least :data:`MIN_MATCHED` matched cases come from at least :data:`MIN_MATCHED_BASES` bases, at least half of them
  were read creation, and those creation readings come from at least :data:`MIN_MATCHED_BASES` bases; else *end
  state not separated* (this test cannot tell the rate from how converged it left the policy);
- *three rates*: every run beside its twin (the usual rate) and its sibling at the five times larger rate (same base
  and RL seed, read in the fast-RL or learning-rate test), with the gain check and P(creation) at each, and how many
  runs, of those whose three models all passed, have P(creation) non-decreasing with the rate (ties count). Not a
  test: the siblings were read before this test was registered.

``python -m rlmeta_interp.analysis.validation.lrmid TEST`` writes ``<TEST>-lrmid.json`` beside the readings
(``data/pilots/readings/``), from ``TEST.csv``, the twins' readings (the second low-dose test's), the siblings' (the
fast-RL and learning-rate tests') and the pilot manifests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ...errors import InvalidConfigError
from .lrshift import TWINS, lr_answer, lr_cases
from .lrshift import VARIANTS as FAST  # the siblings' naming: -rl-long-fast
from .questions import Row, require_manifests, run_question

VARIANTS = ("long-mid",)  # the test's runs, named -rl-long-mid; their twins -rl-long
SIBLINGS = ("composition-fastlr", "composition-lrshift")  # where the runs at the five times larger rate were read
MATCHED = 0.05  # registered: a deepest-level pass@1 no more than this below the twin's is a matched end state
MIN_MATCHED = 2  # amended: matched cases the end state rests on, and the bases they (and their creation readings)
MIN_MATCHED_BASES = 2  # come from


def sibling_of(pair: str) -> str:
    """The name of a run's sibling at the five times larger rate: its ``-rl-long-mid`` as ``-rl-long-fast``."""
    return pair.replace(f"-rl-{VARIANTS[0]}", f"-rl-{FAST[0]}", 1)


def matched(case: Mapping[str, Any]) -> bool:
    """Whether a case's end state matches its twin's (module docstring); a missing deepest-level pass@1 is refused."""
    mine, theirs = case["deepest_pass@1"], case["twin_deepest_pass@1"]
    if mine is None or theirs is None:
        raise InvalidConfigError(f"{case['pair']} or its twin has no deepest-level pass@1 in its manifest: export the"
                                 " manifests again from the zoo that built them.")
    # pass@1 values are multiples of 1/(problems x samples); the epsilon keeps a value exactly on the bound matched
    # where decimal test values land a float's width beyond it
    return mine >= theirs - MATCHED - 1e-9


def end_state(cases: Sequence[Mapping[str, Any]], verdict: str) -> dict[str, Any]:
    """The registered end-state qualifier (module docstring) over the cases: its result, the matched cases and those
    of them read creation."""
    if verdict != "moves toward creation":
        return {"result": "not asked", "matched": [], "matched_read_creation": [], "within": MATCHED}
    same = [r for r in cases if matched(r)]
    moved = [r for r in same if r["reading"] == "creation"]
    separated = (len(same) >= MIN_MATCHED and len({r["base"] for r in same}) >= MIN_MATCHED_BASES
                 and 2 * len(moved) >= len(same) and len({r["base"] for r in moved}) >= MIN_MATCHED_BASES)
    return {"result": "with the end state matched" if separated else "end state not separated",
            "matched": [r["pair"] for r in same], "matched_read_creation": [r["pair"] for r in moved],
            "within": MATCHED}


def three_rates(runs: Sequence[Mapping[str, Any]], siblings: Sequence[Row]) -> dict[str, Any]:
    """Every run's P(creation), reading and gain check at the usual rate (its twin), this rate and the five times
    larger one (its sibling, None where not read), and the runs whose three models all passed with P(creation)
    non-decreasing with the rate, ties counting (not a test)."""
    by_name = {str(r["pair"]): r for r in siblings}
    rows = []
    for r in runs:
        s = by_name.get(sibling_of(r["pair"]))
        rows.append({"pair": r["pair"], "base": r["base"],
                     "usual": {"reading": r["twin_reading"], "p_creation": r["twin_p_creation"],
                               "gain_check": r["twin_gain_check"]},
                     "middle": {"reading": r["reading"], "p_creation": r["p_creation"], "gain_check": r["gain_check"]},
                     "fast": None if s is None else {"reading": str(s["reading"]), "p_creation": float(s["p_creation"]),
                                                     "gain_check": str(s["gain_check"])}})
    whole = [t for t in rows if t["fast"] is not None
             and all(t[k]["gain_check"] == "passed" for k in ("usual", "middle", "fast"))]
    ordered = [t["pair"] for t in whole
               if t["usual"]["p_creation"] <= t["middle"]["p_creation"] <= t["fast"]["p_creation"]]
    return {"runs": rows, "all_passed": len(whole), "ordered": ordered}


def lrmid_question(test: Sequence[Row], twins: Sequence[Row], siblings: Sequence[Row],
                   manifests: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The registered question (module docstring) over readings rows ``test``, with the twins read in ``twins`` and
    the siblings among ``siblings`` (rows of other runs there are ignored). JSON-ready."""
    wanted = {sibling_of(str(r["pair"])) for r in test}
    siblings = [r for r in siblings if str(r["pair"]) in wanted]
    require_manifests(siblings, manifests)
    out = lr_answer(test, twins, manifests, VARIANTS)
    return {**out, "end_state": end_state(lr_cases(out["runs"]), out["verdict"]),
            "three_rates": three_rates(out["runs"], siblings)}


def main(argv: list[str] | None = None, folder: str | Path | None = None,
         table_dir: str | Path | None = None) -> Path:
    """The command (module docstring; :func:`~.questions.run_question`). Returns the JSON's path."""
    return run_question(argv, "lrmid", "TEST (a readings name under data/pilots/readings, e.g."
                        " composition-lrmid)", (TWINS, *SIBLINGS),
                        lambda r, m, f: lrmid_question(r[0], r[1], [*r[2], *r[3]], m), folder, table_dir)


if __name__ == "__main__":
    main()
