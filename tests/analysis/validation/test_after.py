"""The training-after-take-off test's registered question: the verdicts at and around the credit rule, the brief
creation runs' check (counting only those whose twin was read creation), the extended arm, the curve comparison and
the refusals."""

import pytest

from rlmeta_interp.analysis.validation import after
from rlmeta_interp.errors import InvalidConfigError

FIT = {"inputs": ["boundary", "likelihood", "elicitation"], "coef": [1.0, 1.0, 1.0], "intercept": 0.0}


def _curve(steps, takeoff=50):
    return [{"step": s, "reward": 1.0 if s >= takeoff else 0.0} for s in steps]


def _row(pair, label, reading, *, gain="passed", p=None, likelihood=-2.0):
    return {"pair": pair, "label": label, "case": gain in ("passed", "n/a"), "gain_check": gain, "reading": reading,
            "expansion_reading": "no_signal" if label == "no_signal" else "creation", "boundary": 0.0,
            "likelihood": likelihood, "elicitation": None,
            "p_creation": p if p is not None else 0.2 if reading == "activation" else 0.8}


def _world(n_brief=6, brief_readings=None, creation=(("creation", "creation"),), creation_p=0.8):
    """``n_brief`` activation bases, each with a brief run (300 steps) read from ``brief_readings`` (default all
    activation) and its 1500-step twin; per (reading, twin reading) in ``creation`` a creation base with a brief run
    and twin; a late base with an extended run whose twin was read creation; a brief random-reward control."""
    brief_readings = brief_readings or ["activation"] * n_brief
    test, earlier, manifests = [], [], {}

    def run(name, base, steps, takeoff=50):
        manifests[name] = {"name": name, "base": base, "budget": {"reward": "correct"},
                           "training_curve": _curve(steps, takeoff), "metrics": {}}

    for i, reading in enumerate(brief_readings):
        base = f"a{i}-base"
        manifests[base] = {"name": base, "metrics": {}}
        run(f"a{i}-rl-brief", base, range(0, 301, 50))
        run(f"a{i}-rl-long", base, range(0, 1501, 50))
        test.append(_row(f"a{i}-rl-brief", "activation", reading))
        earlier.append(_row(f"a{i}-rl-long", "activation", "activation"))
    for i, (reading, twin_reading) in enumerate(creation):
        base = f"c{i}-base"
        manifests[base] = {"name": base, "metrics": {}}
        run(f"c{i}-rl-brief", base, range(0, 301, 50), takeoff=150)
        run(f"c{i}-rl-long", base, range(0, 1501, 50), takeoff=150)
        test.append(_row(f"c{i}-rl-brief", "creation", reading, p=creation_p))
        earlier.append(_row(f"c{i}-rl-long", "creation", twin_reading))
    manifests["late-base"] = {"name": "late-base", "metrics": {}}
    run("late-rl-extended", "late-base", range(0, 3001, 50), takeoff=1000)
    run("late-rl-long", "late-base", range(0, 1501, 50), takeoff=1000)
    test.append(_row("late-rl-extended", "activation", "activation"))
    earlier.append(_row("late-rl-long", "activation", "creation"))
    run("a0-rl-brief-random", "a0-base", range(0, 301, 50), takeoff=10**6)
    run("a0-rl-long-random", "a0-base", range(0, 1501, 50), takeoff=10**6)
    test.append(_row("a0-rl-brief-random", "no_signal", "no_signal", gain="n/a"))
    earlier.append(_row("a0-rl-long-random", "no_signal", "no_signal", gain="n/a"))
    return test, earlier, manifests


def _answer(*args, **kwargs):
    return after.after_question(*_world(*args, **kwargs), FIT)


@pytest.mark.parametrize(("readings", "verdict"), [
    (["activation"] * 6, "does not follow it"),
    (["activation"] * 8, "does not follow it"),
    (["activation"] * 5 + ["creation"], "inconclusive"),
    (["activation"] * 3 + ["creation"] * 3, "follows the training after take-off"),
    (["creation"] * 6, "follows the training after take-off"),
    (["activation"] * 3 + ["no_signal"] * 3, "inconclusive"),  # no-signal counts for neither side
    (["activation"] * 5, "cannot answer")])
def test_the_verdict_from_the_brief_activation_cases(readings, verdict):
    out = _answer(len(readings), readings)
    assert out["verdict"] == verdict
    assert out["brief_read"]["n"] == len(readings) and out["brief_read"]["creation"] == readings.count("creation")


@pytest.mark.parametrize(("creation", "p", "result", "verdict"), [
    ((("creation", "creation"),), 0.8, "not confounded", "does not follow it"),
    ((("activation", "creation"),), 0.8, "confounded", "confounded by the brief budget"),
    # read activation, but its twin was too: not counted against the brief budget
    ((("creation", "creation"), ("activation", "activation")), 0.8, "not confounded", "does not follow it"),
    ((("creation", "creation"),), 0.6, "confounded", "confounded by the brief budget")])  # median change -0.2
def test_brief_creation_runs_read_activation_flag_the_verdict(creation, p, result, verdict):
    out = _answer(6, creation=creation, creation_p=p)
    assert out["brief_creation_check"]["result"] == result and out["verdict"] == verdict


def test_the_answer_lists_the_extended_runs_and_compares_each_curve_with_its_twins():
    out = _answer(6)
    (ext,) = out["extended"]
    assert (ext["pair"], ext["twin"], ext["reading"], ext["twin_reading"]) == (
        "late-rl-extended", "late-rl-long", "activation", "creation")
    assert ext["takeoff_step"] == ext["twin_takeoff_step"] == 1000 and ext["repeats_twin"] == {"same": True,
                                                                                                "steps_compared": 31}
    assert all(r["repeats_twin"]["same"] for r in out["runs"])
    assert out["paired_change"]["extended"]["activation"]["p_creation"]["mean"] == pytest.approx(-0.6)
    assert out["readers_by_class"]["fitted summary"] == {"activation": {"activation": 7},
                                                         "creation": {"creation": 1}, "no_signal": {"no_signal": 1}}


def test_a_run_whose_twin_was_not_read_is_refused_by_name():
    test, earlier, manifests = _world(6)
    earlier = [r for r in earlier if r["pair"] != "a2-rl-long"]
    with pytest.raises(InvalidConfigError, match="twin a2-rl-long "):
        after.after_question(test, earlier, manifests, FIT)


def test_the_answer_written_by_the_command_renders_for_data_readme(tmp_path):
    """after_question's answer, written checksummed where the command writes it, renders through the renderer that
    data/README.md and notebook 11 use."""
    from rlmeta_interp.io import write_json_atomic
    from rlmeta_interp.organism.answers import after_text
    from rlmeta_interp.organism.readings import readings_path

    assert after_text(tmp_path, "x") == "(not answered yet)\n"
    path = readings_path(tmp_path, "x").with_name("x-after.json")
    path.parent.mkdir()
    write_json_atomic(path, _answer(6, creation=(("activation", "creation"),)), checksum=True)
    text = after_text(tmp_path, "x")
    assert "after it learnt? Verdict: confounded by the brief budget.** Brief activation cases" in text
    assert "read by the fitted summary as activation 6, creation 0, no-signal 0" in text
    assert "Brief-budget check: confounded (1 brief creation runs passed their gain check" in text
    assert "| as read | 6/6 | 0.54 to 1.00 | 6/6 | 0.54 to 1.00 | yes | yes |" in text
    assert ("| late-rl-extended | activation | passed | 1000 (1000) | 1000 (1000) | activation (creation) | 0.20 (0.80) |"
            " +0.00 | +0.00 | n/a | n/a (n/a) | n/a (n/a) | n/a (n/a) | yes (31) |") in text
    assert ("| extended | activation | +0.00 (0.00 to 0.00; 1 runs, 1 bases) | n/a (n/a to n/a; 0 runs, 0 bases) |"
            " +0.00 (0.00 to 0.00; 1 runs, 1 bases) | -0.60 (-0.60 to -0.60; 1 runs, 1 bases) |") in text
    path.write_text("{}")
    from rlmeta_interp.errors import CorruptedCheckpointError

    with pytest.raises(CorruptedCheckpointError, match="checksum"):
        after_text(tmp_path, "x")


def test_the_committed_answer_is_what_the_code_computes_from_the_committed_files(tmp_path):
    """The shipped answer (data/pilots/readings/composition-after-after.json) is generated, not edited: the command,
    run on the committed readings, manifests and fit in a scratch copy, writes the same JSON."""
    import shutil

    from rlmeta_interp.io import read_json
    from rlmeta_interp.organism.manifests import pilot_manifests_dir

    src = pilot_manifests_dir()
    shutil.copytree(src, tmp_path / "pilots")
    out = after.main(["composition-after"], folder=tmp_path / "pilots")
    assert read_json(out, required=True) == read_json(src / "readings" / "composition-after-after.json", required=True), (
        "stale: run python -m rlmeta_interp.analysis.validation.after composition-after")
