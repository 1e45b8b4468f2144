"""The fast-RL test's registered question: the late base's runs by the RL-seeds question, qualified by the control
base's runs; every run beside its twin; the preset."""

import pytest

from rlmeta_interp.analysis.validation import fastlr
from rlmeta_interp.errors import InvalidConfigError
from rlmeta_interp.organism.presets import preset_specs

from .shared import recomputed

FIT = {"inputs": ["boundary", "likelihood", "elicitation"], "coef": [1.0, 1.0, 1.0], "intercept": 0.0}
STEPS = (1, 50, 100, 150, 200, 250, 300, 1000)
A, C = "activation", "creation"


def _row(pair, label, reading):
    # likelihood carries the reading, so the reading with boundary at its cut follows it
    return {"pair": pair, "label": label, "case": True, "gain_check": "passed", "reading": reading,
            "expansion_reading": "creation", "boundary": 0.0, "likelihood": 2.0 if reading == C else -2.0,
            "elicitation": None, "p_creation": 0.8 if reading == C else 0.2}


def _world(late_takeoffs, late_reads, control_reads):
    """Calibration: activation runs taking off at 50, 100 and 150 read activation, creation runs at 300 read creation
    (switch 225, edge 150); the late base b's runs 0 and 1 at 1000 read creation (and run 2, read in the RL-seeds
    test). The control base k's runs 0 and 1 took off at 50 and were read activation. The test: b's fast runs 0-2 and
    k's fast runs 0-1."""
    manifests = {"b-base": {"name": "b-base", "files": {"model.safetensors": "w"}},
                 "k-base": {"name": "k-base", "files": {"model.safetensors": "v"}}}

    def run(name, base, seed, takeoff):
        manifests[name] = {"name": name, "base": base, "seed": seed, "base_weights_sha256": manifests[base]["files"][
            "model.safetensors"] if base in ("b-base", "k-base") else None,
            "training_curve": [{"step": s, "reward": float(s >= takeoff)} for s in STEPS]}

    calibration, other = [], []
    for i, t in enumerate((50, 100, 150)):
        manifests[f"a{i}-base"], manifests[f"c{i}-base"] = {"name": f"a{i}-base"}, {"name": f"c{i}-base"}
        run(f"a{i}-rl-long", f"a{i}-base", 0, t)
        run(f"c{i}-rl-long", f"c{i}-base", 0, 300)
        calibration += [_row(f"a{i}-rl-long", A, A), _row(f"c{i}-rl-long", C, C)]
    for s in (0, 1, 2):
        name = "b-rl-long" + (f"-s{s}" if s else "")
        run(name, "b-base", s, 1000)
        (calibration if s < 2 else other).append(_row(name, A, C))
    for s in (0, 1):
        name = "k-rl-long" + (f"-s{s}" if s else "")
        run(name, "k-base", s, 50)
        other.append(_row(name, A, A))
    test = []
    for s, (t, read) in enumerate(zip(late_takeoffs, late_reads, strict=True)):
        name = "b-rl-long-fast" + (f"-s{s}" if s else "")
        run(name, "b-base", s, t)
        test.append(_row(name, A, read))
    for s, read in enumerate(control_reads):
        name = "k-rl-long-fast" + (f"-s{s}" if s else "")
        run(name, "k-base", s, 50)
        test.append(_row(name, A, read))
    return test, [*calibration, *other], calibration, manifests


@pytest.mark.parametrize(("takeoffs", "reads", "control", "verdict", "qualifier"), [
    ((50, 100, 1000), (A, A, C), (A, A), "follows the take-off", "not confounded"),
    ((50, 100, 1000), (C, C, C), (A, A), "follows the base", "not confounded"),
    ((50, 100, 1000), (C, C, C), (A, C), "follows the base", "confounded by the learning rate"),
    ((1000, 1000, 300), (C, C, C), (C, C), "cannot separate", "not confounded")])
def test_the_late_bases_runs_are_read_by_the_rlseeds_question_and_qualified_by_the_control(
        takeoffs, reads, control, verdict, qualifier):
    test, earlier, calibration, manifests = _world(takeoffs, reads, control)
    out = fastlr.fastlr_question(test, earlier, calibration, "b-base", manifests, FIT)
    assert (out["verdict"], out["qualifier"]) == (verdict, qualifier)
    assert out["rlseeds"]["base"] == "b-base" and out["control_bases"] == ["k-base"]
    assert [r["pair"] for r in out["rlseeds"]["earlier_runs"]] == ["b-rl-long", "b-rl-long-s1"]
    # every run beside its twin at the usual rate, the RL-seeds test's run 2 included
    assert [(r["pair"], r["twin"]) for r in out["paired"]][2] == ("b-rl-long-fast-s2", "b-rl-long-s2")
    moved = out["change_p_creation"]["k-base"]
    assert moved["n"] == 2 and moved["mean"] == pytest.approx(0.6 * control.count(C) / 2)


def test_readings_without_a_control_run_are_refused():
    test, earlier, calibration, manifests = _world((50, 100, 1000), (A, A, C), ())
    with pytest.raises(InvalidConfigError, match="control base"):
        fastlr.fastlr_question(test, earlier, calibration, "b-base", manifests, FIT)


def test_the_preset_is_the_second_tests_budget_at_a_five_times_larger_learning_rate():
    specs = preset_specs("composition-fastlr")
    bases = [s for s in specs if s.kind == "base"]
    assert [b.name for b in bases] == ["clow-comp-d001-s14-base", "clow2-comp-d001-s15-base"]
    assert bases[0] == preset_specs("composition-rlseeds")[0]
    assert bases[1] == preset_specs("composition-lowdose2")[0]
    twins = {s.name: s for p in ("composition-lowdose", "composition-lowdose2", "composition-rlseeds")
             for s in preset_specs(p)}
    runs = [s for s in specs if s.kind == "rl"]
    assert [(s.base, s.rl.seed) for s in runs] == [(bases[0].name, 0), (bases[0].name, 1), (bases[0].name, 2),
                                                   (bases[1].name, 0), (bases[1].name, 1)]
    for s in runs:
        twin = twins[s.name.replace("-rl-long-fast", "-rl-long")]
        assert s.rl.lr == 5 * twin.rl.lr == 5e-4 and s.rl.replace(lr=twin.rl.lr) == twin.rl and s.label == A


def test_the_answer_renders_for_data_readme(tmp_path):
    from rlmeta_interp.io import write_json_atomic
    from rlmeta_interp.organism.answers import answer_path, fastlr_text

    assert "not answered yet" in fastlr_text(tmp_path, "x")
    test, earlier, calibration, manifests = _world((50, 100, 1000), (C, C, C), (A, C))
    write_json_atomic(answer_path(tmp_path, "x", "fastlr"),
                      fastlr.fastlr_question(test, earlier, calibration, "b-base", manifests, FIT), checksum=True)
    text = fastlr_text(tmp_path, "x")
    assert text.startswith("**Fast RL: follows the base, confounded by the learning rate.** Control runs (base"
                           " k-base) read: k-rl-long-fast activation, k-rl-long-fast-s1 creation.")
    assert "k-base: +0.30 over 2 runs" in text and "Verdict: follows the base.**" in text
    assert "| b-rl-long-fast-s2 | activation | passed | 1000 (1000) |" in text


def test_the_committed_answer_is_what_the_code_computes_from_the_committed_files(tmp_path):
    """The shipped answer (data/pilots/readings/composition-fastlr-fastlr.json) is generated, not edited: the command,
    run on the committed readings, manifests and fit in a scratch copy, writes the same JSON."""
    out = recomputed(fastlr, "fastlr", "composition-fastlr", tmp_path)
    assert out["rlseeds"]["same_base_weights"] and set(out["control_readings"]) == {
        "clow2-comp-d001-s15-rl-long-fast", "clow2-comp-d001-s15-rl-long-fast-s1"}
