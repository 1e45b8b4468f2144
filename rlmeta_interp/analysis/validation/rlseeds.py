"""Does the meter follow the base or its RL run's take-off? The RL-seeds test's registered question
(docs/preregistration.md), computed from committed readings, manifests and the committed fit alone.

The test RL-tunes one base, whose earlier runs were read, with other RL seeds under the same budget, so that within
the base only the RL seed differs. A run is *early* when its take-off (:func:`~.twins.takeoff`) is at or before the
*meter's switch* (:func:`~.speed.meter_switch`: the take-off cut that best reproduces the fitted summary's readings of
the calibration tests), else *late*. On the early activation cases the two explanations predict opposite readings:
the base predicts what its earlier runs were read, the take-off predicts activation. The verdict:

- *cannot separate*: fewer than :data:`MIN_EARLY` early cases;
- *follows the take-off*: every early case read activation, as read and with boundary (the summary's pass@k input)
  held at its cut;
- *follows the base*: every early case read creation, both ways;
- *mixed*: anything else (a no-signal reading of an early case included).

Reported beside it: every run's take-off, side of the switch, gain check, reading (both ways), P(creation) and summary
inputs, with the base's earlier runs beside them; the late cases' readings (both explanations predict creation there);
and the rank correlation of P(creation) with the take-off step over the base's runs that are cases (a run that never
took off ranked last).

``python -m rlmeta_interp.analysis.validation.rlseeds TEST`` writes ``<TEST>-rlseeds.json`` beside the readings
(``data/pilots/readings/``), from ``TEST.csv``, the calibration tests' readings and the pilot manifests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from scipy.stats import spearmanr

from ...errors import InvalidConfigError
from .questions import PASSK_INPUT, Row, cases, require_manifests, run_question, without_input
from .speed import CALIBRATION, meter_switch, takeoff_reading
from .twins import stats_of, takeoff

MIN_EARLY = 2  # registered: with fewer early cases the test cannot separate the base from the take-off


def side(readings: Sequence[str]) -> str:
    """"activation" or "creation" when every reading is that, else "mixed" (also for none)."""
    seen = set(readings)
    return seen.pop() if len(seen) == 1 and seen <= {"activation", "creation"} else "mixed"


def verdict(as_read: Sequence[str], neutral: Sequence[str]) -> str:
    """The registered verdict from the early cases' readings as read and with boundary at its cut."""
    if len(as_read) < MIN_EARLY:
        return "cannot separate"
    both = {side(as_read), side(neutral)}
    return ("follows the take-off" if both == {"activation"} else "follows the base" if both == {"creation"} else
            "mixed")


def rlseeds_question(test: Sequence[Row], calibration: Sequence[Row], manifests: Mapping[str, Mapping[str, Any]],
                     fitted: Mapping[str, Any]) -> dict[str, Any]:
    """The registered question (module docstring) over readings rows ``test`` (the RL-seeds test: runs of one base)
    and ``calibration`` (the tests the meter's switch is fitted on, which hold the base's earlier runs);
    ``manifests`` maps every pair and base to its manifest; ``fitted`` is the committed fit. JSON-ready."""
    require_manifests([*test, *calibration], manifests)

    def base_of(r: Row) -> str:
        return str(manifests[str(r["pair"])]["base"])

    bases = sorted({base_of(r) for r in test})
    if len(bases) != 1:
        raise InvalidConfigError(f"The RL-seeds question compares runs of one base; these readings hold {len(bases)}"
                                 f" ({', '.join(bases)}).")
    switch = meter_switch(calibration, manifests)
    earlier = [r for r in calibration if base_of(r) == bases[0]]

    def entry(r: Row, neutral: str) -> dict[str, Any]:
        step = takeoff(manifests[str(r["pair"])])
        return {"pair": str(r["pair"]), "rl_seed": int(manifests[str(r["pair"])]["seed"]),
                "label": str(r["label"]), "gain_check": str(r["gain_check"]), "case": bool(cases([r])),
                "takeoff_step": step, "side": "early" if takeoff_reading(step, switch["cut"]) == "activation" else "late",
                **stats_of(r), f"reading, {PASSK_INPUT} at its cut": neutral}

    runs = [entry(r, n) for r, n in zip(test, without_input(test, fitted, PASSK_INPUT), strict=True)]
    before = [entry(r, n) for r, n in zip(earlier, without_input(earlier, fitted, PASSK_INPUT), strict=True)]
    act = [r for r in runs if r["case"] and r["label"] == "activation"]
    early = [r for r in act if r["side"] == "early"]
    late = [r for r in act if r["side"] == "late"]
    ranked = [*act, *(b for b in before if b["case"] and b["label"] == "activation")]
    last = 1 + max((r["takeoff_step"] for r in ranked if r["takeoff_step"] is not None), default=0)
    steps = [last if r["takeoff_step"] is None else r["takeoff_step"] for r in ranked]
    p = [r["p_creation"] for r in ranked]
    rho = spearmanr(steps, p) if len(ranked) >= 3 and len(set(p)) > 1 and len(set(steps)) > 1 else None
    return {"verdict": verdict([r["reading"] for r in early], [r[f"reading, {PASSK_INPUT} at its cut"] for r in early]),
            "base": bases[0], "meter_switch": switch, "calibration": list(CALIBRATION), "min_early": MIN_EARLY,
            "early": [r["pair"] for r in early], "late": [r["pair"] for r in late],
            "late_read": {k: sum(r["reading"] == k for r in late) for k in ("creation", "activation", "no_signal")},
            "not_cases": [r["pair"] for r in runs if not r["case"]],
            "spearman_p_creation_takeoff": None if rho is None else {"rho": float(rho.statistic),
                                                                     "n": len(ranked)},
            "runs": runs, "earlier_runs": before}


def main(argv: list[str] | None = None, folder: str | Path | None = None,
         table_dir: str | Path | None = None) -> Path:
    """The command (module docstring; :func:`~.questions.run_question`). Returns the JSON's path."""
    return run_question(argv, "rlseeds", "TEST (a readings name under data/pilots/readings, e.g."
                        " composition-rlseeds)", CALIBRATION,
                        lambda r, m, f: rlseeds_question(r[0], [x for rows in r[1:] for x in rows], m, f),
                        folder, table_dir)


if __name__ == "__main__":
    main()
