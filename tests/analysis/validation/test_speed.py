"""The learning-speed test's registered question: the take-off rule and its fitted cut, the twins, the verdicts at
and around the credit rule, and the refusals."""

import pytest

from rlmeta_interp.analysis.validation import speed
from rlmeta_interp.errors import InvalidConfigError
from rlmeta_interp.organism.presets import preset_specs
from rlmeta_interp.organism.tables import takeoff_step

FIT = {"inputs": ["boundary", "likelihood", "elicitation"], "coef": [1.0, 1.0, 1.0], "intercept": 0.0}
STEPS = (1, 50, 100, 150, 200, 250, 300, 1000)


def test_the_cut_is_the_midpoint_with_the_best_balanced_accuracy_and_the_lowest_on_a_tie():
    fit = speed.fit_takeoff_cut([10, 50, 200, None, 300], ["activation", "activation", "creation", "creation",
                                                           "creation"])
    assert fit == {"cut": 125.0, "balanced_accuracy": 1.0, "n": 5}
    # one late activation run: cutting above it reads two creation runs wrong, below it one activation run
    fit = speed.fit_takeoff_cut([10, 50, 400, 200, 300], ["activation", "activation", "activation", "creation",
                                                          "creation"])
    assert fit["cut"] == 125.0 and fit["balanced_accuracy"] == pytest.approx((2 / 3 + 1) / 2)
    assert speed.fit_takeoff_cut([10, 100, 50, 200], ["activation", "creation", "activation", "creation"])["cut"] == 75.0
    # a tie (cuts 15 and 35 each read one run wrong, 0.75): the lowest
    assert speed.fit_takeoff_cut([10, 20, 30, 40], ["activation", "creation", "activation", "creation"])["cut"] == 15.0
    with pytest.raises(InvalidConfigError, match="needs creation and activation"):
        speed.fit_takeoff_cut([10, 20], ["activation", "activation"])


@pytest.mark.parametrize(("step", "read"), [(None, "creation"), (126, "creation"), (125, "activation"),
                                             (1, "activation")])
def test_the_take_off_rule_reads_creation_after_its_cut_or_never(step, read):
    assert speed.takeoff_reading(step, 125.0) == read


def test_each_run_names_its_twin_and_other_runs_are_refused():
    assert speed.speed_twin("clow-comp-d005-s12-rl-long-slow-s1") == "clow-comp-d005-s12-rl-long-s1"
    assert speed.speed_twin("ctest2-comp-d000-s8-rl-long-slow-random") == "ctest2-comp-d000-s8-rl-long-random"
    with pytest.raises(InvalidConfigError, match="not a run of this test"):
        speed.speed_twin("clow-comp-d005-s12-rl-long")


def test_every_run_of_the_preset_has_a_twin_built_alike_but_for_the_learning_rate():
    earlier = {s.name: s for p in speed.CALIBRATION for s in preset_specs(p)}
    runs = [s for s in preset_specs("composition-speed") if s.kind == "rl"]
    assert len(runs) == 16 and {s.label for s in runs} == {"activation", "creation", "no_signal"}
    for s in runs:
        twin = earlier[speed.speed_twin(s.name)]
        assert (s.base, s.label, s.rl.seed, s.rl.reward, s.rl.steps) == (twin.base, twin.label, twin.rl.seed,
                                                                          twin.rl.reward, twin.rl.steps)
        assert (s.rl.lr, twin.rl.lr) == (2e-5, 1e-4) and s.rl.replace(lr=twin.rl.lr) == twin.rl
    assert {s.base for s in runs} <= set(earlier)  # built and read already


def _curve(takeoff):
    return [{"step": s, "reward": 1.0 if takeoff is not None and s >= takeoff else 0.0} for s in STEPS]


def _metrics(passn):
    return {"n_samples": 8, "by_level": {"4": {"pass@1": passn / 8, "pass@8": passn, "guess_pass@8": 0.0}}}


def _row(pair, label, reading, *, expansion="creation", boundary=0.0, likelihood=-2.0, gain="passed"):
    return {"pair": pair, "label": label, "case": True, "gain_check": gain, "reading": reading,
            "expansion_reading": expansion, "boundary": boundary, "likelihood": likelihood, "elicitation": None,
            "p_creation": 0.2 if reading == "activation" else 0.8}


def _world(n_slow=6, n_read_activation=6, *, rest="creation", creation_gain="failed", creation_change=0.0,
           late_creation_read="creation"):
    """Calibration: creation runs taking off at 200 (read ``late_creation_read``) and 300, activation runs at 50 (cut
    125). The test: one slow activation run (take-off 250) per activation base, read activation ``n_read_activation``
    times and ``rest`` otherwise, its twin taking off at 50; a creation run per creation base (gain check
    ``creation_gain``; P(creation) its twin's plus ``creation_change``); the activation bases solve more at the
    deepest level than the creation ones."""
    test, calibration, manifests = [], [], {}

    def run(name, base, takeoff, reward="correct"):
        manifests[name] = {"name": name, "base": base, "budget": {"reward": reward}, "training_curve": _curve(takeoff),
                           "metrics": _metrics(0.5)}

    for i in range(n_slow):
        base = f"a{i}-base"
        manifests[base] = {"name": base, "metrics": _metrics(0.5)}
        run(f"a{i}-rl-long-slow", base, 250)
        run(f"a{i}-rl-long", base, 50)
        test.append(_row(f"a{i}-rl-long-slow", "activation", "activation" if i < n_read_activation else rest))
        calibration.append(_row(f"a{i}-rl-long", "activation", "activation"))
    for i in range(2):
        base = f"c{i}-base"
        manifests[base] = {"name": base, "metrics": _metrics(0.1)}
        run(f"c{i}-rl-long-slow", base, 400)
        run(f"c{i}-rl-long", base, 200 + 100 * i)
        twin = _row(f"c{i}-rl-long", "creation", late_creation_read if i == 0 else "creation", boundary=3.0,
                    likelihood=2.0)
        calibration.append(twin)
        mine = _row(f"c{i}-rl-long-slow", "creation", "creation", gain=creation_gain)
        test.append(mine | {"case": creation_gain == "passed", "p_creation": twin["p_creation"] + creation_change})
    run("c0-rl-long-slow-random", "c0-base", None, reward="random")
    run("c0-rl-long-random", "c0-base", None, reward="random")
    test.append(_row("c0-rl-long-slow-random", "no_signal", "no_signal", expansion="no_signal", gain="n/a"))
    calibration.append(_row("c0-rl-long-random", "no_signal", "no_signal", expansion="no_signal", gain="n/a"))
    return test, calibration, manifests


def _answer(*args, **kwargs):
    test, calibration, manifests = _world(*args, **kwargs)
    return speed.speed_question(test, calibration, calibration, manifests, FIT)


@pytest.mark.parametrize(("n_slow", "k", "rest", "verdict"), [
    (6, 6, "creation", "credited"), (6, 5, "creation", "inconclusive"), (6, 3, "creation", "follows learning speed"),
    (6, 0, "creation", "follows learning speed"), (5, 5, "creation", "cannot answer"), (8, 8, "creation", "credited"),
    (8, 7, "creation", "inconclusive"), (8, 4, "creation", "follows learning speed"),
    (6, 0, "no_signal", "inconclusive"),  # read no-signal, not creation: it does not follow speed
    (6, 3, "no_signal", "inconclusive")])
def test_the_verdict_from_the_slow_activation_cases(n_slow, k, rest, verdict):
    out = _answer(n_slow, k, rest=rest)
    assert out["verdict"] == verdict
    assert out["takeoff_cut"] == {"cut": 125.0, "balanced_accuracy": 1.0, "n": n_slow + 2}
    assert out["meter_switch"]["cut"] == 125.0
    assert out["questions"]["slow"]["as read"]["n"] == n_slow
    assert out["slow_read"] == {"creation": (n_slow - k) * (rest == "creation"), "activation": k,
                                "no_signal": (n_slow - k) * (rest == "no_signal"), "n": n_slow}
    assert out["lr_check"]["result"] == "no creation case"


def test_slow_cases_not_past_the_meters_own_switch_cannot_earn_a_credit():
    """A creation twin taking off at 200 read activation moves the meter's switch to 250: runs taking off at 250 are
    slow by the take-off rule's cut but not past the switch, where a reader of speed alone would read them activation
    too."""
    out = _answer(6, 6, late_creation_read="activation")
    assert out["meter_switch"]["cut"] == 250.0 and out["takeoff_cut"]["cut"] == 125.0
    assert out["questions"]["past the meter's switch"]["pairs"] == []
    assert out["questions"]["slow"]["as read"]["credited"] and out["verdict"] == "cannot answer"
    # a slow set that is not credited is inconclusive, however few cases lie past the switch
    assert _answer(6, 5, late_creation_read="activation")["verdict"] == "inconclusive"


@pytest.mark.parametrize(("change", "result", "verdict"), [(-0.3, "confounded", "confounded by learning rate"),
                                                            (0.0, "not confounded", "credited")])
def test_creation_runs_moving_towards_activation_flag_a_credit(change, result, verdict):
    out = _answer(6, 6, creation_gain="passed", creation_change=change)
    assert out["lr_check"]["result"] == result and out["verdict"] == verdict
    assert out["lr_check"]["median_change_p_creation"] == pytest.approx(change)
    assert out["paired_change"]["creation"]["p_creation"]["mean"] == pytest.approx(change)


def test_the_answer_pairs_each_run_with_its_twin_and_reads_every_case_by_every_reader():
    test, calibration, manifests = _world(6, 6)
    out = speed.speed_question(test, calibration, calibration, manifests, FIT)
    first = out["runs"][0]
    assert (first["pair"], first["twin"], first["takeoff_step"], first["twin_takeoff_step"]) == (
        "a0-rl-long-slow", "a0-rl-long", 250, 50)
    assert first["takeoff_rule"] == "creation" and first["change"]["p_creation"] == 0.0
    assert first["change"]["elicitation"] is None and first["change"]["boundary"] == 0.0
    assert first["p_if_takeoff_alone"] == pytest.approx(0.8)  # the calibration's P(creation) from step 200 on
    assert (first["converged_step"], first["steps_after_converged"], first["deepest_pass@n"]) == (250, 750, 0.5)
    assert first["twin_converged_step"] == 50
    readers = out["readers_by_class"]
    assert readers["take-off rule"] == {"activation": {"creation": 6}, "no_signal": {"no_signal": 1}}
    headroom = next(v for k, v in readers.items() if k.startswith("headroom rule"))
    assert headroom["activation"] == {"activation": 6}  # 0.5 is above the creation bases' 0.1
    assert readers["expansion rule"]["activation"] == {"creation": 6}
    assert out["reference_creation_top_passn"] == 0.1
    assert out["questions"]["slow, elicitation measured"]["pairs"] == []  # no elicitation statistic here
    # the creation runs failed their gain check: listed beside their twins, not cases
    assert [r["gain_check"] for r in out["runs"] if r["label"] == "creation"] == ["failed", "failed"]
    assert takeoff_step(manifests["c0-rl-long-slow-random"]) is None


def test_a_run_whose_twin_was_not_read_is_refused_by_name():
    test, calibration, manifests = _world(6, 6)
    calibration = [r for r in calibration if r["pair"] != "a3-rl-long"]
    with pytest.raises(InvalidConfigError, match="twin a3-rl-long "):
        speed.speed_question(test, calibration, calibration, manifests, FIT)


def test_the_answer_written_by_the_command_renders_for_data_readme(tmp_path):
    """speed_question's answer, written checksummed where the command writes it, renders through the renderer that
    data/README.md and notebook 11 use (the keys it reads are the ones the question writes)."""
    from rlmeta_interp.io import write_json_atomic
    from rlmeta_interp.organism.answers import speed_text
    from rlmeta_interp.organism.readings import readings_path

    out = _answer(6, 6, creation_gain="passed", creation_change=-0.3)
    path = readings_path(tmp_path, "x").with_name("x-speed.json")
    path.parent.mkdir()
    write_json_atomic(path, out, checksum=True)
    text = speed_text(tmp_path, "x")
    assert "Verdict: confounded by learning rate." in text
    assert "Learning-rate check: confounded: of 2 creation runs that passed their gain check, 0 read activation" in text
    assert "| past the meter's switch | as read | 6/6 |" in text and "| a0-rl-long-slow | activation | passed |" in text


def test_the_committed_answer_is_what_the_code_computes_from_the_committed_files(tmp_path):
    """The shipped answer (data/pilots/readings/composition-speed-speed.json) is generated, not edited: the command,
    run on the committed readings, manifests and fit in a scratch copy, writes the same JSON."""
    import shutil

    from rlmeta_interp.io import read_json
    from rlmeta_interp.organism.manifests import pilot_manifests_dir

    src = pilot_manifests_dir()
    shutil.copytree(src, tmp_path / "pilots")
    out = speed.main(["composition-speed"], folder=tmp_path / "pilots")
    shipped = read_json(src / "readings" / "composition-speed-speed.json", required=True)
    assert read_json(out, required=True) == shipped, (
        "stale: run python -m rlmeta_interp.analysis.validation.speed composition-speed")
