"""The take-off and headroom readers beside the meter: who agrees with whom where the two readers disagree."""

import shutil

import pytest

from rlmeta_interp.analysis.validation import covariate
from rlmeta_interp.errors import InvalidConfigError

FIT = {"inputs": ["boundary", "likelihood", "elicitation"], "coef": [1.0, 1.0, 1.0], "intercept": 0.0}
STEPS = (1, 50, 100, 150, 200, 250, 300, 1000)


def test_agreement_counts_only_where_the_two_readers_disagree():
    got = covariate.agreement(["creation", "activation", "activation", "no_signal", "creation"],
                              ["creation", "creation", "activation", "creation", "creation"],
                              ["activation", "activation", "activation", "activation", "creation"])
    assert got == {"disagree": 3, "meter_with_first": 1, "meter_with_second": 1, "meter_with_neither": 1}
    assert covariate.agreement([], [], [])["disagree"] == 0


def _metrics(passn):
    return {"n_samples": 8, "by_level": {"4": {"pass@1": passn / 8, "pass@8": passn, "guess_pass@8": 0.0}}}


def _row(pair, label, reading, expansion="creation"):
    return {"pair": pair, "label": label, "case": True, "gain_check": "passed", "reading": reading,
            "expansion_reading": expansion, "boundary": 0.0, "likelihood": 2.0 if reading == "creation" else -2.0,
            "elicitation": None, "p_creation": 0.8 if reading == "creation" else 0.2}


def _world():
    """Calibration (also the reference): activation runs at 50 read activation, creation runs at 300 read creation
    (switch 175), creation bases solving 0.1 at the deepest level. The test: a late run of a base with headroom read
    creation (follows the take-off), an early run of a base without headroom read activation (follows the take-off
    too), an early run of a base with headroom read activation (both readers agree), and a late run of a base
    without headroom read activation (both readers say creation: the meter with neither)."""
    manifests, calibration, test = {}, [], []

    def run(name, base, takeoff, passn):
        manifests.setdefault(base, {"name": base, "metrics": _metrics(passn)})
        manifests[name] = {"name": name, "base": base,
                           "training_curve": [{"step": s, "reward": float(takeoff is not None and s >= takeoff)}
                                              for s in STEPS]}

    for i in range(2):
        run(f"a{i}-rl", f"a{i}-base", 50, 0.5)
        calibration.append(_row(f"a{i}-rl", "activation", "activation"))
        run(f"c{i}-rl", f"c{i}-base", 300, 0.1)
        calibration.append(_row(f"c{i}-rl", "creation", "creation"))
    for name, takeoff, passn, read in (("late-room", 1000, 0.5, "creation"), ("early-none", 50, 0.1, "activation"),
                                       ("early-room", 100, 0.5, "activation"), ("late-none", None, 0.1, "activation")):
        run(name, f"{name}-base", takeoff, passn)
        test.append(_row(name, "activation", read))
    test.append(_row("control", "no_signal", "no_signal", expansion="no_signal"))
    run("control", "late-room-base", None, 0.5)
    return test, calibration, manifests


def test_each_case_is_read_by_both_readers_beside_the_meter():
    test, calibration, manifests = _world()
    out = covariate.covariate(test, calibration, calibration, manifests, FIT)
    assert out["meter_switch"]["cut"] == 175.0 and out["reference_creation_top_passn"] == 0.1 and out["n"] == 4
    assert [(r["pair"], r["takeoff_rule"], r["headroom_rule"]) for r in out["runs"]] == [
        ("late-room", "creation", "activation"), ("early-none", "activation", "creation"),
        ("early-room", "activation", "activation"), ("late-none", "creation", "creation")]
    assert out["meter_agrees"] == {"take-off rule": 3, "headroom rule": 1}
    assert out["where_they_disagree"]["as read"] == {"disagree": 2, "meter_with_first": 2, "meter_with_second": 0,
                                                     "meter_with_neither": 0}
    assert out["claim"] == "no claim (too few disagreements)" and out["disagreeing_bases"] == 2
    assert out["reads_every_case_right"] == {"take-off rule": False, "headroom rule": False}


def _agree(first, second, disagree=4):
    return {"disagree": disagree, "meter_with_first": first, "meter_with_second": second,
            "meter_with_neither": disagree - first - second}


@pytest.mark.parametrize(("ways", "bases", "got"), [
    ((_agree(3, 1), _agree(4, 0)), 2, "take-off rule"),
    ((_agree(1, 3), _agree(0, 4)), 3, "headroom rule"),
    ((_agree(3, 1), _agree(1, 3)), 2, "neither"),  # the two ways side differently
    ((_agree(2, 2), _agree(2, 2)), 2, "neither"),
    ((_agree(4, 0), _agree(4, 0)), 1, "no claim (too few disagreements)"),  # one base
    ((_agree(3, 0, 3), _agree(3, 0, 3)), 3, "no claim (too few disagreements)")])
def test_a_claim_needs_four_disagreements_from_two_bases(ways, bases, got):
    assert covariate.MIN_DISAGREE == 4 and covariate.MIN_DISAGREE_BASES == 2
    assert covariate.claim(dict(zip(("as read", "boundary at its cut"), ways, strict=True)), bases) == got


def test_the_command_runs_on_the_committed_low_dose_readings(tmp_path):
    """On the shipped files of a test read already (descriptive: it decides nothing), with the committed fit."""
    from rlmeta_interp.io import read_json
    from rlmeta_interp.organism.manifests import pilot_manifests_dir

    src = pilot_manifests_dir()
    shutil.copytree(src, tmp_path / "pilots")
    from rlmeta_interp.analysis.validation.questions import cases, read_readings

    out = read_json(covariate.main(["composition-lowdose"], folder=tmp_path / "pilots"), required=True)
    rows = read_readings(tmp_path / "pilots", "composition-lowdose")
    assert out["n"] == sum(r["label"] == "activation" for r in cases(rows)) > 0
    # the same switch as the learning-speed answer's, fitted on the same readings
    speed = read_json(src / "readings" / "composition-speed-speed.json", required=True)
    assert out["meter_switch"] == speed["meter_switch"]
    assert all(0 <= k <= out["n"] for k in out["meter_agrees"].values()) and len(out["runs"]) == out["n"]
    with pytest.raises(InvalidConfigError, match="Usage"):
        covariate.main([], folder=tmp_path / "pilots")
    # the shipped answer of the second low-dose test is generated, not edited
    again = covariate.main(["composition-lowdose2"], folder=tmp_path / "pilots")
    assert read_json(again, required=True) == read_json(src / "readings" / "composition-lowdose2-covariate.json",
                                                        required=True), (
        "stale: run python -m rlmeta_interp.analysis.validation.covariate composition-lowdose2")


def test_the_table_written_by_the_command_renders_for_data_readme(tmp_path):
    from rlmeta_interp.io import write_json_atomic
    from rlmeta_interp.organism.answers import answer_path, covariate_text

    assert "not computed yet" in covariate_text(tmp_path, "x")
    test, calibration, manifests = _world()
    write_json_atomic(answer_path(tmp_path, "x", "covariate"),
                      covariate.covariate(test, calibration, calibration, manifests, FIT), checksum=True)
    text = covariate_text(tmp_path, "x")
    assert "agrees with the take-off rule on 3 and with the headroom rule on 1" in text
    assert "Claim: no claim (too few disagreements)" in text
    assert "| as read | 2 | 2 | 0 | 0 |" in text and "| late-none | late-none-base | never | creation | creation |" in text
