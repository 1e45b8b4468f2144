"""Which label-free reader does the meter agree with: the run's take-off or its base's headroom? Reported beside the
second low-dose test's registered question (docs/preregistration.md), computed from committed readings, manifests
and the committed fit alone; it decides nothing.

Two label-free readers of each activation case: the *take-off rule at the meter's switch* (creation when the run's
reward took off after :func:`~.speed.meter_switch`, or never) and the *headroom rule* (creation when the base's
deepest-level pass@n is within the reference test's creation bases' range, :func:`~.questions.headroom_readings`).
Where the two disagree, they predict opposite readings, so the fitted summary's readings there show which of the two
it follows; each case is listed with all three. A *claim* (which reader the meter sides with) is made only where the two
rules disagree on at least :data:`MIN_DISAGREE` cases from at least :data:`MIN_DISAGREE_BASES` bases (the second
amendment): the rule it agrees with on more of them, as read and with boundary at its cut alike, else "neither". Also
whether each rule reads every case right (activation): where one does, a credit of the meter shows nothing that rule
does not.

``python -m rlmeta_interp.analysis.validation.covariate TEST`` writes ``<TEST>-covariate.json`` beside the readings
(``data/pilots/readings/``), from ``TEST.csv``, the calibration tests' readings and the pilot manifests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .questions import (PASSK_INPUT, Row, cases, headroom_readings, headroom_top, require_manifests, run_question,
                        without_input)
from .speed import CALIBRATION, REFERENCE, meter_switch, takeoff_reading
from .twins import takeoff

MIN_DISAGREE = 4  # registered (second amendment): disagreements a claim needs
MIN_DISAGREE_BASES = 2


def claim(ways: Mapping[str, Mapping[str, int]], disagreeing_bases: int) -> str:
    """Which rule the meter sides with where the two disagree (:func:`agreement` per way of reading), or why no claim
    is made."""
    counts = list(ways.values())
    if counts[0]["disagree"] < MIN_DISAGREE or disagreeing_bases < MIN_DISAGREE_BASES:
        return "no claim (too few disagreements)"
    sides = {"take-off rule" if a["meter_with_first"] > a["meter_with_second"] else "headroom rule"
             if a["meter_with_second"] > a["meter_with_first"] else "neither" for a in counts}
    return sides.pop() if len(sides) == 1 else "neither"


def agreement(meter: Sequence[str], first: Sequence[str], second: Sequence[str]) -> dict[str, int]:
    """Over the cases where readers ``first`` and ``second`` disagree: how many the meter reads as each, and how many
    neither."""
    split = [(m, a, b) for m, a, b in zip(meter, first, second, strict=True) if a != b]
    return {"disagree": len(split), "meter_with_first": sum(m == a for m, a, _ in split),
            "meter_with_second": sum(m == b for m, _, b in split),
            "meter_with_neither": sum(m not in (a, b) for m, a, b in split)}


def covariate(test: Sequence[Row], calibration: Sequence[Row], reference: Sequence[Row],
              manifests: Mapping[str, Mapping[str, Any]], fitted: Mapping[str, Any]) -> dict[str, Any]:
    """The two readers beside the meter (module docstring) over the activation cases of readings rows ``test``;
    ``calibration`` fixes the meter's switch, ``reference`` the headroom range. JSON-ready."""
    require_manifests([*test, *calibration, *reference], manifests)
    switch = meter_switch(calibration, manifests)
    top = headroom_top(reference, manifests)
    act = [r for r in cases(test) if r["label"] == "activation"]
    steps = [takeoff(manifests[str(r["pair"])]) for r in act]
    by_takeoff = ["no_signal" if r["expansion_reading"] == "no_signal" else takeoff_reading(s, switch["cut"])
                  for r, s in zip(act, steps, strict=True)]
    by_headroom = headroom_readings(act, manifests, top)
    as_read = [str(r["reading"]) for r in act]
    neutral = without_input(act, fitted, PASSK_INPUT)
    runs = [{"pair": str(r["pair"]), "base": str(manifests[str(r["pair"])]["base"]), "takeoff_step": s,
             "takeoff_rule": t, "headroom_rule": h, "reading": m, f"reading, {PASSK_INPUT} at its cut": n,
             "p_creation": float(r["p_creation"])}
            for r, s, t, h, m, n in zip(act, steps, by_takeoff, by_headroom, as_read, neutral, strict=True)]
    ways = {"as read": agreement(as_read, by_takeoff, by_headroom),
            f"{PASSK_INPUT} at its cut": agreement(neutral, by_takeoff, by_headroom)}
    split_bases = {r["base"] for r in runs if r["takeoff_rule"] != r["headroom_rule"]}
    return {"claim": claim(ways, len(split_bases)), "disagreeing_bases": len(split_bases),
            "min_disagree": MIN_DISAGREE, "min_disagree_bases": MIN_DISAGREE_BASES,
            "reads_every_case_right": {"take-off rule": bool(act) and set(by_takeoff) == {"activation"},
                                       "headroom rule": bool(act) and set(by_headroom) == {"activation"}},
            "meter_switch": switch, "calibration": list(CALIBRATION), "reference": REFERENCE,
            "reference_creation_top_passn": top, "n": len(act),
            "meter_agrees": {"take-off rule": sum(m == t for m, t in zip(as_read, by_takeoff, strict=True)),
                             "headroom rule": sum(m == h for m, h in zip(as_read, by_headroom, strict=True))},
            "where_they_disagree": ways,
            "runs": runs}


def main(argv: list[str] | None = None, folder: str | Path | None = None,
         table_dir: str | Path | None = None) -> Path:
    """The command (module docstring; :func:`~.questions.run_question`). Returns the JSON's path."""
    def answer(readings: list[list[Row]], manifests: dict[str, Any], fitted: dict[str, Any]) -> dict[str, Any]:
        test, *calibration = readings
        return covariate(test, [r for rows in calibration for r in rows], calibration[CALIBRATION.index(REFERENCE)],
                         manifests, fitted)

    return run_question(argv, "covariate", "TEST (a readings name under data/pilots/readings, e.g."
                        " composition-lowdose2)", CALIBRATION, answer, folder, table_dir)


if __name__ == "__main__":
    main()
