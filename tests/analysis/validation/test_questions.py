"""What the registered questions share: the credit rule at and around its thresholds (cases, bases, the exact
interval), the summary with an input held at its cut, the headroom range and the refusals."""

import pytest

from rlmeta_interp.analysis.validation import questions
from rlmeta_interp.errors import InvalidConfigError

FIT = {"inputs": ["boundary", "likelihood", "elicitation"], "coef": [1.0, 1.0, 1.0], "intercept": 0.0}


@pytest.mark.parametrize(("k", "n", "n_bases", "credited", "answerable"), [
    (6, 6, 6, True, True),     # 6/6: exact two-sided lower end 0.54
    (6, 6, 3, False, False),   # enough cases, too few bases
    (5, 6, 6, False, True),    # 5/6: 0.36
    (5, 5, 5, False, False),   # too few cases
    (10, 12, 6, True, True),   # 0.52
    (9, 12, 6, False, True),   # 0.43
    (7, 8, 4, False, True),    # 0.47
])
def test_credit_needs_enough_cases_and_bases_read_activation_with_the_exact_lower_end_above_one_half(
        k, n, n_bases, credited, answerable):
    read = ["activation"] * k + ["creation"] * (n - k)
    c = questions.credit(read, [f"b{i % n_bases}" for i in range(n)])
    assert (c["credited"], c["answerable"]) == (credited, answerable)
    assert (c["read_activation"], c["n"], c["n_bases"]) == (k, n, n_bases)
    assert c["interval"][0] <= k / n <= c["interval"][1]


def test_a_base_counts_right_only_when_every_case_from_it_is_read_activation():
    c = questions.credit(["activation", "creation", "activation", "activation"], ["a", "a", "b", "b"])
    assert (c["bases_right"], c["n_bases"]) == (1, 2) and c["bases_interval"][0] < 0.5


def test_holding_the_pass_at_k_input_at_its_cut_rereads_only_summary_rows():
    rows = [{"reading": "creation", "boundary": 3.0, "likelihood": -1.0, "elicitation": None},   # p(-1) < 0.5
            {"reading": "creation", "boundary": 3.0, "likelihood": 1.0, "elicitation": float("nan")},
            {"reading": "no_signal", "boundary": 3.0, "likelihood": 1.0, "elicitation": None},  # no gain: kept
            {"reading": "inconclusive", "boundary": None, "likelihood": None, "elicitation": None}]  # vote rule
    assert questions.without_input(rows, FIT, "boundary") == ["activation", "creation", "no_signal", "inconclusive"]
    assert questions.without_input(rows[:2], FIT, "nothing") == ["creation", "creation"]




def _metrics(passn: float | None) -> dict:
    return {"n_samples": 128, "by_level": {} if passn is None else
            {"2": {"pass@1": 0.5, "pass@128": 1.0}, "4": {"pass@1": 0.01, "pass@128": passn, "guess_pass@128": 0.1}}}


def test_the_headroom_range_is_the_highest_creation_base_pass_at_n_and_needs_every_one():
    rows = [{"pair": "c1", "label": "creation", "case": True}, {"pair": "c2", "label": "creation", "case": "True"},
            {"pair": "a1", "label": "activation", "case": True}, {"pair": "c3", "label": "creation", "case": False}]
    manifests = {"c1": {"base": "b1"}, "c2": {"base": "b2"}, "a1": {"base": "b3"}, "c3": {"base": "b4"},
                 "b1": {"metrics": _metrics(0.1)}, "b2": {"metrics": _metrics(0.2)}, "b3": {"metrics": _metrics(0.9)},
                 "b4": {"metrics": _metrics(0.5)}}
    assert questions.headroom_top(rows, manifests) == 0.2  # activation and failed pairs do not count
    assert questions.deepest(manifests["b1"]["metrics"]) == {"level": 4, "n": 128, "pass@1": 0.01, "pass@n": 0.1,
                                                             "guess_pass@n": 0.1}
    manifests["b2"]["metrics"] = _metrics(None)
    with pytest.raises(InvalidConfigError, match="no deepest-level pass@n"):
        questions.headroom_top(rows, manifests)


def test_rows_without_a_manifest_for_their_pair_or_base_are_refused_by_name():
    rows = [{"pair": "p1"}, {"pair": "p2"}]
    questions.require_manifests(rows, {"p1": {"base": "b"}, "p2": {"base": "b"}, "b": {}})
    with pytest.raises(InvalidConfigError, match="No manifest for p2"):
        questions.require_manifests(rows, {"p1": {"base": "b"}, "b": {}})
    with pytest.raises(InvalidConfigError, match="No manifest for b "):
        questions.require_manifests(rows, {"p1": {"base": "b"}, "p2": {"base": "b"}})


def test_the_headroom_rule_reads_each_row_by_its_bases_pass_at_n_above_the_range():
    rows = [{"pair": "p1", "expansion_reading": "creation"}, {"pair": "p2", "expansion_reading": "activation"},
            {"pair": "p3", "expansion_reading": "no_signal"}, {"pair": "p4", "expansion_reading": "creation"}]
    manifests = {"p1": {"base": "b1"}, "p2": {"base": "b2"}, "p3": {"base": "b1"}, "p4": {"base": "b3"},
                 "b1": {"metrics": _metrics(0.5)}, "b2": {"metrics": _metrics(0.2)}, "b3": {"metrics": _metrics(None)}}
    assert questions.base_passn(rows[0], manifests) == 0.5
    # at the range's top is not above it; a base without a deepest level reads creation
    assert questions.headroom_readings(rows, manifests, 0.2) == ["activation", "creation", "no_signal", "creation"]
