"""Does the meter's creation reading at a larger RL learning rate follow the rate or the end state it left? The
extended middle-rate test's registered question (docs/preregistration.md), computed from committed readings,
manifests and the committed fit alone.

The middle-rate test read six of its eight runs at three times the usual learning rate as creation, and every one of
them ended less accurate at the deepest (held-out) level than its *usual twin* (same base and RL seed at the usual
rate). This test continues those runs at the same rate to 3000 steps (a constant schedule and deterministic builds:
the first 1500 steps are the *middle twin*'s), so the rate is fixed while the end state may change.

As amended before any of its runs was read:

- a *case*: a run that passed its gain check whose middle twin passed, was read creation and ended *unmatched*
  (deepest-level pass@1 more than :data:`~.lrmid.MATCHED` below its usual twin's);
- *recovered*: a case whose deepest-level pass@1 is at least its usual twin's minus :data:`~.lrmid.MATCHED`
  (:func:`~.lrmid.matched`; a missing pass@1 is refused), rose by at least :data:`RISE` from its middle twin's, and
  whose pass@1 at no level is more than :data:`~.lrmid.MATCHED` below its usual twin's;
- *cannot separate*: fewer than :data:`MIN_RECOVERED` recovered cases, or from fewer than :data:`MIN_BASES` bases;
- *follows the end state*: more than half the recovered cases read activation, those from at least
  :data:`MIN_BASES` bases; and, as a control for the longer training, fewer than half the unrecovered cases read
  activation (when there are at least :data:`MIN_RECOVERED`), else *end state or longer training*;
- *follows the rate*: more than half the recovered cases read creation, those from at least :data:`MIN_BASES` bases;
  and no run whose middle twin was read activation read creation at 3000 steps, else *rate or longer training*;
- *split*: anything else, an exact tie included.

Reported beside it: every run at 1500 and 3000 steps beside its usual twin, with its change in P(creation) from its
middle twin (the mean over recovered and over unrecovered cases) and whether its stored curve repeats its middle
twin's over their shared steps (:func:`~.twins.repeats_twin`; a run that does not is a fresh draw, flagged, and
still counted).

``python -m rlmeta_interp.analysis.validation.lrmidext TEST`` writes ``<TEST>-lrmidext.json`` beside the readings
(``data/pilots/readings/``), from ``TEST.csv``, the usual twins' readings (the second low-dose test's), the middle
twins' (the middle-rate test's) and the pilot manifests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ...errors import InvalidConfigError
from .lrmid import MATCHED, matched
from .lrmid import VARIANTS as MIDDLE  # the middle twins' naming: -rl-long-mid
from .lrshift import TWINS
from .questions import Row, require_manifests, run_question
from .twins import curve_facts, paired_runs, repeats_twin

VARIANTS = ("long-mid-ext",)  # the test's runs, named -rl-long-mid-ext; their usual twins -rl-long
MIDDLE_TEST = "composition-lrmid"  # where the middle twins were read
MIN_RECOVERED = 2  # registered
MIN_BASES = 2  # registered: the bases the recovered cases, and the readings a verdict rests on, come from
RISE = 0.05  # amended: a recovered case's deepest-level pass@1 rose at least this much from its middle twin's


def middle_of(pair: str) -> str:
    """The name of a run's middle twin: its ``-rl-long-mid-ext`` as ``-rl-long-mid``."""
    return pair.replace(f"-rl-{VARIANTS[0]}", f"-rl-{MIDDLE[0]}", 1)


def levels_kept(run: Mapping[str, Any], twin: Mapping[str, Any]) -> bool:
    """Whether ``run``'s pass@1 is at no evaluated level of ``twin`` more than :data:`~.lrmid.MATCHED` below the
    twin's (manifests; a level the run lacks is not kept)."""
    mine = (run.get("metrics") or {}).get("by_level") or {}
    theirs = (twin.get("metrics") or {}).get("by_level") or {}
    return all(lv in mine and mine[lv].get("pass@1") is not None
               and mine[lv]["pass@1"] >= t["pass@1"] - MATCHED - 1e-9
               for lv, t in theirs.items() if t.get("pass@1") is not None)


def recovered(case: Mapping[str, Any], manifests: Mapping[str, Mapping[str, Any]]) -> bool:
    """Whether a case recovered (module docstring)."""
    return (matched(case) and case["deepest_pass@1"] >= case["middle"]["deepest_pass@1"] + RISE - 1e-9
            and levels_kept(manifests[case["pair"]], manifests[case["twin"]]))


def verdict(recovered: Sequence[Mapping[str, Any]], unrecovered: Sequence[Mapping[str, Any]],
            checks: Sequence[Mapping[str, Any]]) -> str:
    """The registered verdict (module docstring, as amended) over the recovered cases, with the unrecovered ones and
    the runs whose middle twin was read activation (``checks``) as the controls for the longer training."""
    if len(recovered) < MIN_RECOVERED or len({r["base"] for r in recovered}) < MIN_BASES:
        return "cannot separate"
    back = [r for r in recovered if r["reading"] == "activation"]
    still = [r for r in recovered if r["reading"] == "creation"]
    if 2 * len(back) > len(recovered) and len({r["base"] for r in back}) >= MIN_BASES:
        moved = [r for r in unrecovered if r["reading"] == "activation"]
        control = len(unrecovered) < MIN_RECOVERED or 2 * len(moved) < len(unrecovered)
        return "follows the end state" if control else "end state or longer training"
    if 2 * len(still) > len(recovered) and len({r["base"] for r in still}) >= MIN_BASES:
        return ("follows the rate" if not any(r["reading"] == "creation" for r in checks)
                else "rate or longer training")
    return "split"


def _mean_change(runs: Sequence[Mapping[str, Any]]) -> float | None:
    return sum(r["change_from_middle"] for r in runs) / len(runs) if runs else None


def lrmidext_question(test: Sequence[Row], usual: Sequence[Row], middle: Sequence[Row],
                      manifests: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The registered question (module docstring) over readings rows ``test``, with the usual twins read in ``usual``
    and the middle twins in ``middle`` (every one must have been read). JSON-ready."""
    by_middle = {str(r["pair"]): r for r in middle}
    missing = sorted({middle_of(str(r["pair"])) for r in test} - set(by_middle))
    if missing:
        raise InvalidConfigError(f"No reading of the middle twin {missing[0]} (and {len(missing) - 1} more) among the"
                                 f" {MIDDLE_TEST} readings: read them first.")
    middles = [by_middle[middle_of(str(r["pair"]))] for r in test]
    require_manifests([*test, *usual, *middles], manifests)
    runs = paired_runs(test, usual, manifests, VARIANTS)
    for r, m in zip(runs, middles, strict=True):
        facts = curve_facts(manifests[str(m["pair"])])
        r["middle"] = {"pair": str(m["pair"]), "reading": str(m["reading"]), "p_creation": float(m["p_creation"]),
                       "gain_check": str(m["gain_check"]), "deepest_pass@1": facts["deepest_pass@1"],
                       "matched": matched({**r, "deepest_pass@1": facts["deepest_pass@1"]})}
        r["change_from_middle"] = r["p_creation"] - r["middle"]["p_creation"]
        r["repeats_middle"] = repeats_twin(manifests[r["pair"]], manifests[str(m["pair"])])
    cases = [r for r in runs if r["gain_check"] == "passed" and r["middle"]["gain_check"] == "passed"
             and r["middle"]["reading"] == "creation" and not r["middle"]["matched"]]
    back = [r for r in cases if recovered(r, manifests)]
    names = {r["pair"] for r in back}
    rest = [r for r in cases if r["pair"] not in names]
    checks = [r for r in runs if r["middle"]["reading"] == "activation"]
    return {"verdict": verdict(back, rest, checks), "min_recovered": MIN_RECOVERED, "min_bases": MIN_BASES,
            "rise": RISE, "cases": [r["pair"] for r in cases], "recovered": sorted(names),
            "recovered_read": {lab: sum(r["reading"] == lab for r in back) for lab in ("activation", "creation",
                                                                                      "no_signal")},
            "moved_without_recovering": [r["pair"] for r in rest if r["reading"] == "activation"],
            "middle_read_activation": {r["pair"]: r["reading"] for r in checks},
            "mean_change_from_middle": {"recovered": _mean_change(back), "not recovered": _mean_change(rest)},
            "not_repeating_middle": [r["pair"] for r in runs if r["repeats_middle"]["same"] is False],
            "runs": runs}


def main(argv: list[str] | None = None, folder: str | Path | None = None,
         table_dir: str | Path | None = None) -> Path:
    """The command (module docstring; :func:`~.questions.run_question`). Returns the JSON's path."""
    return run_question(argv, "lrmidext", "TEST (a readings name under data/pilots/readings, e.g."
                        " composition-lrmid-extended)", (TWINS, MIDDLE_TEST),
                        lambda r, m, f: lrmidext_question(r[0], r[1], r[2], m), folder, table_dir)


if __name__ == "__main__":
    main()
