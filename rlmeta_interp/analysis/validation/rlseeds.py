"""Does the meter follow the base or its RL run's take-off? The RL-seeds test's registered question
(docs/preregistration.md, with its second amendment), computed from committed readings, manifests and the committed
fit alone.

The test RL-tunes one base, whose earlier runs were read, with other RL seeds under the same budget, so that within
the base only the RL seed differs. A run is *early* when its take-off (:func:`~.twins.takeoff`) is at or before the
*meter's switch* (:func:`~.speed.meter_switch`: the take-off cut that best reproduces the fitted summary's readings of
the calibration tests), else *late*; an early run whose reward fell back (below one half on more than
1 - :data:`HELD` of its stored rows after the take-off) is *fragile*, listed and not counted. On the early activation
cases the two explanations predict opposite readings: the base predicts what its earlier runs were read (creation),
the take-off predicts activation. The verdict:

- *between bases*: a run was RL-tuned from other weights than the base's earlier runs (their recorded
  ``base_weights_sha256`` differ, or differ from the base's manifest): no verdict;
- *cannot separate*: fewer than :data:`MIN_EARLY` early cases;
- *cannot separate (edge)*: the verdict with the *edge* runs (early runs whose take-off is at or after the last
  calibration take-off at or before the switch: on the stored rows' common grid, the one row the switch's place
  rests on) counted early differs from the verdict with them left out;
- *inconclusive*: an early case read no-signal, or read one way as read and the other with boundary (the summary's
  pass@k input) held at its cut;
- *follows the take-off*: every early case read activation both ways, every late case (the base's earlier runs
  included) read creation both ways, and every early case's P(creation) below every late case's;
- *follows the base*: every early case and every late case read creation both ways (third amendment: the same bar
  on the late cases as the take-off's);
- *split*: anything else (the readings go both ways and neither explanation fits them all).

Reported beside it, not deciding: every run's take-off (on the stored rows and, where the export recorded it, on the
full curve), side of the switch, share of rows held after take-off, gain check, reading (both ways), P(creation),
summary inputs and curve facts, with the base's earlier runs beside them; whether the base's creation reading
reproduces on the new late cases (:func:`reproduction`); and the rank correlation of P(creation) with the take-off
step over the base's runs that are cases (a run that never took off ranked last).

``python -m rlmeta_interp.analysis.validation.rlseeds TEST`` writes ``<TEST>-rlseeds.json`` beside the readings
(``data/pilots/readings/``), from ``TEST.csv``, the calibration tests' readings and the pilot manifests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from scipy.stats import spearmanr

from ...errors import InvalidConfigError
from ...io import WEIGHTS_FILE
from .questions import PASSK_INPUT, Row, cases, require_manifests, run_question, without_input
from .speed import CALIBRATION, meter_switch, takeoff_reading
from .twins import curve_facts, stats_of, takeoff

MIN_EARLY = 2  # registered: with fewer early cases the test cannot separate the base from the take-off
HELD = 0.8  # registered (second amendment): an early case holds reward >= 1/2 on this share of rows after take-off
MIN_NOT_REPRODUCED = 2  # registered (second amendment): new late cases read activation that say "does not reproduce"
NEUTRAL = f"reading, {PASSK_INPUT} at its cut"


def held_after_takeoff(manifest: Mapping[str, Any]) -> float | None:
    """Share of the stored curve's rows after the take-off row with reward >= 1/2 (None: never took off, or no row
    after it). The row that confirms the take-off is among them (>= 1/2 by definition); with some 30 rows after an
    early take-off it lifts the share by about 1/30."""
    step = takeoff(manifest)
    after = [float(r["reward"]) for r in manifest.get("training_curve") or []
             if r.get("reward") is not None and step is not None and int(r["step"]) > step]
    return None if not after else sum(x >= 0.5 for x in after) / len(after)


def verdict(early: Sequence[Mapping[str, Any]], late: Sequence[Mapping[str, Any]]) -> str:
    """The registered verdict (module docstring, from *cannot separate* on) from the early and late cases, each a
    mapping with ``reading``, the reading with boundary at its cut (:data:`NEUTRAL`) and ``p_creation``."""
    if len(early) < MIN_EARLY:
        return "cannot separate"
    if any(r["reading"] == "no_signal" or r["reading"] != r[NEUTRAL] for r in early):
        return "inconclusive"
    early_read = {r["reading"] for r in early}
    # both explanations predict creation for a late case: either decisive verdict needs every one read so, both ways
    late_creation = {x for r in late for x in (r["reading"], r[NEUTRAL])} <= {"creation"}
    if early_read == {"activation"}:
        below = max(r["p_creation"] for r in early) < min((r["p_creation"] for r in late), default=float("inf"))
        return "follows the take-off" if late_creation and below else "split"
    if early_read == {"creation"}:
        return "follows the base" if late_creation else "split"
    return "split"


def reproduction(new_late: Sequence[Mapping[str, Any]]) -> str:
    """Whether the base's creation reading reproduces across RL seeds on its new late cases (read as read): every one
    read creation -> "reproduces" (which is evidence for neither explanation, both predict it); at least
    :data:`MIN_NOT_REPRODUCED` read activation -> "does not reproduce"; else "partly"; none -> "no late case"."""
    read = [r["reading"] for r in new_late]
    if not read:
        return "no late case"
    if all(x == "creation" for x in read):
        return "reproduces"
    return "does not reproduce" if sum(x == "activation" for x in read) >= MIN_NOT_REPRODUCED else "partly"


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
    read_steps = [takeoff(manifests[str(r["pair"])]) for r in cases(calibration)
                  if r["label"] in ("creation", "activation") and r["reading"] in ("creation", "activation")]
    edge = max((s for s in read_steps if s is not None and s <= switch["cut"]), default=None)
    earlier = [r for r in calibration if base_of(r) == bases[0]]

    def entry(r: Row, neutral: str) -> dict[str, Any]:
        m = manifests[str(r["pair"])]
        step = takeoff(m)
        held = held_after_takeoff(m)
        early = takeoff_reading(step, switch["cut"]) == "activation"
        return {"pair": str(r["pair"]), "rl_seed": int(m["seed"]), "label": str(r["label"]),
                "gain_check": str(r["gain_check"]), "case": bool(cases([r])), "takeoff_step": step,
                "takeoff_step_full_curve": m.get("takeoff_step_full_curve", "n/a"),
                "side": "early" if early else "late", "edge": early and edge is not None and step is not None
                and step >= edge, "held_after_takeoff": held, "fragile": early and (held is None or held < HELD),
                "base_weights_sha256": m.get("base_weights_sha256"), **curve_facts(m), **stats_of(r), NEUTRAL: neutral}

    runs = [entry(r, n) for r, n in zip(test, without_input(test, fitted, PASSK_INPUT), strict=True)]
    before = [entry(r, n) for r, n in zip(earlier, without_input(earlier, fitted, PASSK_INPUT), strict=True)]
    base_weights = (manifests.get(bases[0]) or {}).get("files", {}).get(WEIGHTS_FILE)
    weights = {r["base_weights_sha256"] for r in (*runs, *before)}
    same_base = weights == {base_weights} and base_weights is not None

    def counted(rs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        return [r for r in rs if r["case"] and r["label"] == "activation"]

    act, old = counted(runs), counted(before)
    early = [r for r in act if r["side"] == "early" and not r["fragile"]]
    late = [r for r in act if r["side"] == "late"]
    with_edge = verdict(early, [*late, *old])
    without_edge = verdict([r for r in early if not r["edge"]], [*late, *old])
    decided = ("between bases" if not same_base else with_edge if with_edge == without_edge
               else "cannot separate (edge)")
    ranked = [*act, *old]
    last = 1 + max((r["takeoff_step"] for r in ranked if r["takeoff_step"] is not None), default=0)
    steps = [last if r["takeoff_step"] is None else r["takeoff_step"] for r in ranked]
    p = [r["p_creation"] for r in ranked]
    rho = spearmanr(steps, p) if len(ranked) >= 3 and len(set(p)) > 1 and len(set(steps)) > 1 else None
    return {"verdict": decided, "verdict_edge_counted_early": with_edge, "verdict_edge_left_out": without_edge,
            "same_base_weights": same_base, "base_weights_sha256": base_weights,
            "base": bases[0], "meter_switch": switch, "edge_step": edge, "calibration": list(CALIBRATION),
            "min_early": MIN_EARLY, "held": HELD,
            "early": [r["pair"] for r in early], "late": [r["pair"] for r in late],
            "edge": [r["pair"] for r in early if r["edge"]],
            "fragile": [r["pair"] for r in act if r["fragile"]],
            "late_read": {k: sum(r["reading"] == k for r in late) for k in ("creation", "activation", "no_signal")},
            "reproduction": reproduction(late),
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
