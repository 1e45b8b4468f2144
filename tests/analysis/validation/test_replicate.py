"""The second low-dose test's named outcome: replicated, not replicated at the bar, fails to replicate, cannot
answer; the pooled share and the non-expanding cases read creation beside it."""

import pytest

from rlmeta_interp.analysis.validation import replicate

FIT = {"inputs": ["boundary", "likelihood", "elicitation"], "coef": [1.0, 1.0, 1.0], "intercept": 0.0}


def _metrics(c3):
    level = {"correct_counts": c3, "guess_pass@8": 0.0, "pass@1": sum(c3) / (8 * len(c3)),
             "pass@8": sum(c > 0 for c in c3) / len(c3)}
    return {"n_samples": 8, "by_level": {"3": level}}


def _row(pair, label, reading, expansion, boundary=1.0, neutral=None):
    # likelihood carries the reading (or ``neutral``), so the reading with boundary at its cut follows it
    return {"pair": pair, "label": label, "case": True, "gain_check": "passed", "reading": reading,
            "expansion_reading": expansion, "boundary": boundary, "elicitation": None,
            "likelihood": -2.0 if (neutral or reading) == "activation" else 2.0,
            "p_creation": 0.2 if reading == "activation" else 0.8}


def _test(prefix, reads, manifests, *, bases=4, quiet=(), neutral=()):
    """Activation runs (two per base, round robin) that expanded at level 3, read as ``reads`` says; ``quiet``: the
    readings of further runs of the first base that did not expand."""
    rows = []
    for i, read in enumerate(reads):
        base, pair = f"{prefix}{i % bases}-base", f"{prefix}{i}-rl"
        manifests[base] = {"name": base, "dose": 0.01, "metrics": _metrics([1] * 6 + [0] * 14)}
        manifests[pair] = {"name": pair, "base": base, "dose": 0.01, "metrics": _metrics([4] * 20)}
        rows.append(_row(pair, "activation", read, "creation", neutral=neutral[i] if neutral else None))
    for j, read in enumerate(quiet):
        pair = f"{prefix}q{j}-rl"
        manifests[pair] = {"name": pair, "base": f"{prefix}0-base", "dose": 0.01,
                           "metrics": _metrics([1] * 6 + [0] * 14)}
        rows.append(_row(pair, "activation", read, "activation"))
    return rows


def _world(reads, *, bases=4, quiet=(), neutral=()):
    manifests = {}
    test = _test("t", reads, manifests, bases=bases, quiet=quiet, neutral=neutral)
    earlier = _test("e", ["activation"] * 10 + ["creation"] * 2, manifests, bases=6)
    reference = []
    for i in range(3):
        base, pair = f"r{i}-base", f"r{i}-rl"
        manifests[base] = {"name": base, "dose": 0.0, "metrics": _metrics([1] * 2 + [0] * 18)}
        manifests[pair] = {"name": pair, "base": base, "dose": 0.0, "metrics": _metrics([8] * 20)}
        reference.append(_row(pair, "creation", "creation", "creation", boundary=3.0))
    return test, earlier, reference, manifests


A, C = "activation", "creation"


@pytest.mark.parametrize(("reads", "bases", "got"), [
    ([A] * 8, 4, "replicated"),
    ([A] * 7 + [C], 4, "not replicated at the bar"),  # 7 of 8: lower end 0.47
    ([A] * 5 + [C] * 3, 4, "not replicated at the bar"),
    ([A] * 4 + [C] * 4, 4, "fails to replicate"),  # at most half
    ([A] * 5, 4, "cannot answer"),  # fewer than 6 expanding cases
    ([A] * 8, 3, "cannot answer")])  # from fewer than 4 bases
def test_the_named_outcome(reads, bases, got):
    test, earlier, reference, manifests = _world(reads, bases=bases)
    out = replicate.replication(test, earlier, reference, manifests, FIT)
    assert out["outcome"] == got and out["bases_without_expanding_case"] == []


def test_failing_one_way_fails_and_cannot_answer_comes_first():
    # as read 6 of 8, with boundary at its cut 4 of 8: at most half one way
    test, earlier, reference, manifests = _world([A] * 6 + [C] * 2, neutral=[A] * 4 + [C] * 4)
    out = replicate.replication(test, earlier, reference, manifests, FIT)
    assert out["outcome"] == "fails to replicate"
    assert (out["credit"]["as read"]["read_activation"], out["credit"]["boundary at its cut"]["read_activation"]) == (
        6, 4)
    test, earlier, reference, manifests = _world([C] * 5)  # none read activation, but too few to answer
    assert replicate.replication(test, earlier, reference, manifests, FIT)["outcome"] == "cannot answer"


def test_every_base_of_the_test_needs_an_expanding_case():
    test, earlier, reference, manifests = _world([A] * 8)
    manifests["t9-base"] = {"name": "t9-base", "dose": 0.01, "metrics": _metrics([1] * 6 + [0] * 14)}
    manifests["t-quiet-rl"] = {"name": "t-quiet-rl", "base": "t9-base", "dose": 0.01,
                               "metrics": _metrics([1] * 6 + [0] * 14)}
    test.append(_row("t-quiet-rl", A, A, A))  # did not expand
    out = replicate.replication(test, earlier, reference, manifests, FIT)
    assert out["outcome"] == "cannot answer" and out["bases_without_expanding_case"] == ["t9-base"]
    assert out["credit"]["as read"]["credited"]  # the credit alone would have been given


def test_the_pooled_share_and_the_chance_stated_in_advance():
    test, earlier, reference, manifests = _world([A] * 7 + [C], quiet=(C, A))
    out = replicate.replication(test, earlier, reference, manifests, FIT)
    assert out["earlier_share"]["read_activation"] == 10 and out["earlier_share"]["n"] == 12
    pooled = out["pooled"]
    assert pooled["as read"]["read_activation"] == 17 and pooled["as read"]["n"] == 20 and pooled["n_bases"] == 10
    assert pooled["boundary at its cut"]["read_activation"] == 17
    assert 0.6 < pooled["as read"]["interval"][0] < 0.85 > 0.5
    assert out["chance_all_read_activation_at_earlier_share"] == pytest.approx((10 / 12) ** 8)
    assert out["not_expanding_read_creation"] == ["tq0-rl"] and out["not_expanding"] == 2
    assert out["credit"]["as read"]["read_activation"] == 7


def test_the_outcome_written_by_the_command_renders_for_data_readme(tmp_path):
    from rlmeta_interp.io import write_json_atomic
    from rlmeta_interp.organism.answers import answer_path, replicate_text

    assert "not answered yet" in replicate_text(tmp_path, "x")
    test, earlier, reference, manifests = _world([A] * 7 + [C], quiet=(C,))
    write_json_atomic(answer_path(tmp_path, "x", "replicate"),
                      replicate.replication(test, earlier, reference, manifests, FIT), checksum=True)
    text = replicate_text(tmp_path, "x")
    assert text.startswith("**Outcome: not replicated at the bar.** Expanding activation cases read activation: as"
                           " read, 7 of 8 (exact 95% interval 0.47 to 1.00)")
    assert "Bases without an expanding case: none (of 4)" in text and "read creation: tq0-rl." in text
    assert "Pooled over both tests (10 bases): as read 17 of 20" in text and "with chance 0.23" in text


def test_the_committed_outcome_is_what_the_code_computes_from_the_committed_files(tmp_path):
    """The shipped outcome (data/pilots/readings/composition-lowdose2-replicate.json) is generated, not edited: the
    command, run on the committed readings, manifests and fit in a scratch copy, writes the same JSON."""
    import shutil

    from rlmeta_interp.io import read_json
    from rlmeta_interp.organism.manifests import pilot_manifests_dir

    src = pilot_manifests_dir()
    shutil.copytree(src, tmp_path / "pilots")
    out = replicate.main(["composition-lowdose2", "composition-lowdose", "composition-test2"],
                         folder=tmp_path / "pilots")
    shipped = read_json(src / "readings" / "composition-lowdose2-replicate.json", required=True)
    assert read_json(out, required=True) == shipped, (
        "stale: run python -m rlmeta_interp.analysis.validation.replicate composition-lowdose2 composition-lowdose"
        " composition-test2")
