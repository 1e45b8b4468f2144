"""Does the meter read RL's learning speed? The learning-speed test's registered question (docs/preregistration.md),
computed from committed readings, manifests and the committed fit alone.

The *take-off rule* is a label-free reader of the training curve: no gain (the expansion rule's no-signal) reads
no-signal; a run whose stored reward curve first reached one half after a cut, or never, reads creation; else
activation. Its cut is fitted on the creation and activation cases of the calibration tests (:data:`CALIBRATION`,
read before this test was designed): the midpoint between adjacent observed take-off steps with the highest balanced
accuracy, the lowest such midpoint on a tie.

A *slow activation case* is an activation case of the test that the take-off rule reads as creation. The meter is
credited with not reading RL's learning speed when the fitted summary, as read and with boundary (its pass@k input)
held at its cut, is credited on the slow activation cases by the shared rule (``questions``: at least 6 cases from 4
bases, the exact interval of the share read activation above one half). It is said to follow learning speed when
at most half of them are read activation as read; between the two the test is inconclusive.

Reported beside it: each labelled run's take-off step and reading next to its *twin*'s (the same base and RL seed
under the earlier tests' learning rate, read already), with the paired change in P(creation) and in each summary
input; every reader's readings per class (the fitted summary as read and with boundary at its cut, the take-off,
expansion and headroom rules).

``python -m rlmeta_interp.analysis.validation.speed TEST`` writes ``<TEST>-speed.json`` beside the readings
(``data/pilots/readings/``), from ``TEST.csv``, the calibration tests' readings and the pilot manifests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.isotonic import IsotonicRegression

from ...errors import InvalidConfigError
from .questions import (PASSK_INPUT, Row, by_class, cases, credit, headroom_readings, headroom_top, require_manifests,
                        run_question, standardised, without_input)
from .twins import TAKEOFF_ROWS, changes_by_class, creation_check, paired_runs, takeoff, twin_of

CALIBRATION = ("composition-test2", "composition-lowdose")  # registered: the take-off cut is fitted on their cases
REFERENCE = "composition-test2"  # whose creation bases set the headroom rule's range
VARIANTS = ("long-slow",)  # the test's runs, named -rl-long-slow; their twins -rl-long
LR_SHIFT = -0.1  # registered (amendment): creation runs' median change in P(creation) below this flags the credit


def fit_takeoff_cut(steps: Sequence[int | None], labels: Sequence[str]) -> dict[str, Any]:
    """The take-off rule's cut from take-off ``steps`` (None: never) of cases labelled creation or activation: the
    midpoint between adjacent observed steps with the highest balanced accuracy (lowest on a tie), with that
    accuracy. Both classes must be present."""
    if {"creation", "activation"} - set(labels):
        raise InvalidConfigError("The take-off cut needs creation and activation cases to be fitted on.")
    seen = sorted({int(s) for s in steps if s is not None})
    best: tuple[float, float] = (-1.0, float("nan"))
    for cut in [(a + b) / 2 for a, b in zip(seen, seen[1:], strict=False)] or [float(seen[0]) if seen else 0.0]:
        read = [takeoff_reading(s, cut) for s in steps]
        acc = float(np.mean([np.mean([r == c for r, lab in zip(read, labels, strict=True) if lab == c])
                             for c in ("creation", "activation")]))
        if acc > best[0]:
            best = (acc, cut)
    return {"cut": best[1], "balanced_accuracy": best[0], "n": len(labels)}


def meter_switch(calibration: Sequence[Row], manifests: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Where the fitted summary's readings of the creation and activation cases of ``calibration`` switch from
    activation to creation, as a take-off cut (:func:`fit_takeoff_cut` on the cases read creation or activation)."""
    read = [r for r in _labelled(calibration) if r["reading"] in ("creation", "activation")]
    return fit_takeoff_cut([takeoff(manifests[str(r["pair"])]) for r in read], [str(r["reading"]) for r in read])


def speed_twin(pair: str) -> str:
    """The name of a learning-speed run's twin (:func:`~.twins.twin_of`)."""
    return twin_of(pair, VARIANTS)


def takeoff_reading(step: int | None, cut: float) -> str:
    """Creation when the run took off after ``cut`` or never, else activation."""
    return "creation" if step is None or step > cut else "activation"


def _labelled(rows: Sequence[Row]) -> list[Row]:
    return [r for r in cases(rows) if r["label"] in ("creation", "activation")]


def speed_question(test: Sequence[Row], calibration: Sequence[Row], reference: Sequence[Row],
                   manifests: Mapping[str, Mapping[str, Any]], fitted: Mapping[str, Any]) -> dict[str, Any]:
    """The registered question (module docstring) over readings rows ``test`` (the learning-speed test),
    ``calibration`` (the tests the take-off cut is fitted on; every twin must be among them) and ``reference`` (whose
    creation bases set the headroom range); ``manifests`` maps every pair and base to its manifest; ``fitted`` is
    the committed fit. JSON-ready."""
    require_manifests([*test, *calibration, *reference], manifests)

    def step(r: Row) -> int | None:
        return takeoff(manifests[str(r["pair"])])

    def base_of(r: Row) -> str:
        return str(manifests[str(r["pair"])]["base"])

    cal = _labelled(calibration)
    fit = fit_takeoff_cut([step(r) for r in cal], [str(r["label"]) for r in cal])
    cut = fit["cut"]
    switch = meter_switch(calibration, manifests)

    def takeoff_rule(r: Row) -> str:
        return "no_signal" if r["expansion_reading"] == "no_signal" else takeoff_reading(step(r), cut)

    slow = [r for r in _labelled(test) if r["label"] == "activation" and takeoff_rule(r) == "creation"]
    sets = {"slow": slow,
            "past the meter's switch": [r for r in slow if takeoff_reading(step(r), switch["cut"]) == "creation"],
            "slow, elicitation measured": [r for r in slow if not np.isnan(standardised([r], ["elicitation"])[0, 0])]}
    questions = {}
    for name, rows in sets.items():
        bases = [base_of(r) for r in rows]
        questions[name] = {"as read": credit([str(r["reading"]) for r in rows], bases),
                           f"{PASSK_INPUT} at its cut": credit(without_input(rows, fitted, PASSK_INPUT), bases),
                           "pairs": [str(r["pair"]) for r in rows]}

    # P(creation) expected if the meter read take-off alone: a monotone fit of the summary's P(creation) on the log
    # take-off step over the calibration cases that took off (descriptive; a run that never took off gets the latest
    # step's)
    took_off = [r for r in cal if step(r) is not None]
    iso = IsotonicRegression(out_of_bounds="clip").fit(
        [np.log(float(step(r))) for r in took_off], [float(r["p_creation"]) for r in took_off])
    latest = max(float(step(r)) for r in took_off)
    runs = paired_runs(test, calibration, manifests, VARIANTS)
    for r, row in zip(runs, test, strict=True):
        t = r["takeoff_step"]
        r["takeoff_rule"] = takeoff_rule(row)
        r["p_if_takeoff_alone"] = (None if r["label"] == "no_signal" else
                                   float(iso.predict([np.log(latest if t is None else float(t))])[0]))

    # registered learning-rate check: creation runs slowed alike that passed their gain check should not move towards
    # activation; if they do, a credit says as much about the learning rate as about speed
    lr_check = creation_check(runs, LR_SHIFT, twin_read_creation=False)
    q, past = questions["slow"], questions["past the meter's switch"]
    creation_read = sum(str(r["reading"]) == "creation" for r in slow)
    readers = ("as read", f"{PASSK_INPUT} at its cut")
    # the past-switch set can only withhold a credit the slow set earned: a slow set not credited is inconclusive
    # however few cases lie past the switch
    verdict = ("cannot answer" if not q["as read"]["answerable"] else
               "follows learning speed" if creation_read >= len(slow) / 2 else
               "inconclusive" if not all(q[k]["credited"] for k in readers) else
               "cannot answer" if not past["as read"]["answerable"] else
               ("confounded by learning rate" if lr_check["result"] == "confounded" else "credited")
               if all(past[k]["credited"] for k in readers) else "inconclusive")

    test_cases = cases(test)
    top = headroom_top(reference, manifests)
    headroom = headroom_readings(test_cases, manifests, top)
    readers = {"fitted summary": [str(r["reading"]) for r in test_cases],
               f"fitted summary, {PASSK_INPUT} at its cut": without_input(test_cases, fitted, PASSK_INPUT),
               "take-off rule": [takeoff_rule(r) for r in test_cases],
               "expansion rule": [str(r["expansion_reading"]) for r in test_cases],
               "headroom rule (reads the bases: constant under the learning rate)": headroom}
    return {"verdict": verdict, "takeoff_cut": fit, "meter_switch": switch, "calibration": list(CALIBRATION),
            "takeoff_rows": TAKEOFF_ROWS, "questions": questions,
            "slow_read": {"creation": creation_read, "activation": q["as read"]["read_activation"],
                          "no_signal": sum(str(r["reading"]) == "no_signal" for r in slow), "n": len(slow)},
            "lr_check": lr_check, "paired_change": changes_by_class(runs),
            "runs": runs, "readers_by_class": {name: by_class(test_cases, got) for name, got in readers.items()},
            "reference_creation_top_passn": top}


def main(argv: list[str] | None = None, folder: str | Path | None = None,
         table_dir: str | Path | None = None) -> Path:
    """The command (module docstring; :func:`~.questions.run_question`). Returns the JSON's path."""
    def answer(readings: list[list[Row]], manifests: dict[str, Any], fitted: dict[str, Any]) -> dict[str, Any]:
        test, *calibration = readings
        return speed_question(test, [r for rows in calibration for r in rows],
                              calibration[CALIBRATION.index(REFERENCE)], manifests, fitted)

    return run_question(argv, "speed", "TEST (a readings name under data/pilots/readings, e.g. composition-speed)",
                        CALIBRATION, answer, folder, table_dir)


if __name__ == "__main__":
    main()
