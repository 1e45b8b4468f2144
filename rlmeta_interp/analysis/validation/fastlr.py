"""Does the meter follow the base or its RL run's take-off, when RL is made to take off early? The fast-RL test's
registered question (docs/preregistration.md), computed from committed readings, manifests and the committed fit
alone.

The late base's runs under a larger learning rate are read by the RL-seeds question (:func:`~.rlseeds.rlseeds_question`:
early and late runs by the meter's switch, the same verdicts). A larger learning rate is more than an earlier
take-off, so the same budget is also given to a *control base* whose runs at the usual rate took off early and were
read activation. Its runs set the verdict's qualifier:

- *confounded by the learning rate*: a control run was read creation (the learning rate alone moved the meter toward
  creation), and the verdict is "follows the base" (which that movement alone could produce);
- *not confounded*: otherwise. Where the verdict is "follows the take-off" the controls cannot rule out that the
  learning rate moved the meter toward activation (they were read activation already); their paired change in
  P(creation) is reported for that.

Reported beside it: every run of both bases beside its twin (same base and RL seed at the usual rate, read in an
earlier test: :func:`~.twins.paired_runs`), and the paired changes per base.

``python -m rlmeta_interp.analysis.validation.fastlr TEST`` writes ``<TEST>-fastlr.json`` beside the readings
(``data/pilots/readings/``), from ``TEST.csv``, the calibration tests', the second low-dose and the RL-seeds tests'
readings (where the twins were read) and the pilot manifests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ...errors import InvalidConfigError
from .questions import Row, require_manifests, run_question
from .rlseeds import rlseeds_question
from .speed import CALIBRATION
from .twins import paired_change, paired_runs

VARIANTS = ("long-fast",)  # the test's runs, named -rl-long-fast; their twins -rl-long
TWIN_TESTS = ("composition-lowdose2", "composition-rlseeds")  # besides the calibration tests, where twins were read


def qualifier(verdict: str, control_readings: Sequence[str]) -> str:
    """The registered qualifier of ``verdict`` from the control runs' readings (module docstring)."""
    return ("confounded by the learning rate" if verdict == "follows the base" and "creation" in control_readings
            else "not confounded")


def fastlr_question(test: Sequence[Row], earlier: Sequence[Row], calibration: Sequence[Row], late_base: str,
                    manifests: Mapping[str, Mapping[str, Any]], fitted: Mapping[str, Any]) -> dict[str, Any]:
    """The registered question (module docstring) over readings rows ``test``: the runs of ``late_base`` by the
    RL-seeds question with ``calibration``, the others as the control; every run beside its twin among ``earlier``
    (which holds ``calibration``). JSON-ready."""
    require_manifests([*test, *earlier], manifests)
    late = [r for r in test if manifests[str(r["pair"])]["base"] == late_base]
    control = [r for r in test if manifests[str(r["pair"])]["base"] != late_base]
    if not late or not control:
        raise InvalidConfigError(f"The fast-RL question needs runs of the late base {late_base} and of a control base;"
                                 f" these readings hold {len(late)} and {len(control)}.")
    answer = rlseeds_question(late, calibration, manifests, fitted)
    runs = paired_runs(test, earlier, manifests, VARIANTS)
    control_read = [str(r["reading"]) for r in control]
    return {"verdict": answer["verdict"], "qualifier": qualifier(answer["verdict"], control_read),
            "late_base": late_base, "control_bases": sorted({str(manifests[str(r["pair"])]["base"]) for r in control}),
            "control_readings": dict(zip((str(r["pair"]) for r in control), control_read, strict=True)),
            "rlseeds": answer, "paired": runs,
            "change_p_creation": {b: paired_change([r for r in runs if r["base"] == b], "p_creation")
                                  for b in sorted({r["base"] for r in runs})}}


def main(argv: list[str] | None = None, folder: str | Path | None = None,
         table_dir: str | Path | None = None) -> Path:
    """The command (module docstring; :func:`~.questions.run_question`). Returns the JSON's path."""
    from ...organism.presets import preset_specs

    late_base = preset_specs("composition-fastlr")[0].name  # the preset lists the late base first

    def answer(readings: list[list[Row]], manifests: dict[str, Any], fitted: dict[str, Any]) -> dict[str, Any]:
        test, *rest = readings
        calibration = [r for rows in rest[:len(CALIBRATION)] for r in rows]
        return fastlr_question(test, [r for rows in rest for r in rows], calibration,
                               late_base, manifests, fitted)

    return run_question(argv, "fastlr", "TEST (a readings name under data/pilots/readings, e.g. composition-fastlr)",
                        (*CALIBRATION, *TWIN_TESTS), answer, folder, table_dir)


if __name__ == "__main__":
    main()
