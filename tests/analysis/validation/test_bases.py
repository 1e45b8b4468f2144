"""The held-out test read over base models: exact AUC tests and per-base recall, against scipy and by hand."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from rlmeta_interp.analysis.validation.bases import base_auc, base_reading, base_recall, judged_test_over_bases
from rlmeta_interp.analysis.validation.fit import FittedRules
from rlmeta_interp.analysis.validation.reading import committed_summary, stored_pair_rows
from rlmeta_interp.errors import InvalidConfigError
from rlmeta_interp.paths import REPO_ROOT


def test_a_perfect_ordering_of_few_bases_is_read_by_its_exact_chance():
    # 4 creation bases above 2 activation bases, each with two pairs: AUC 1 over bases, chance 1 in C(6, 2) = 15
    bases = [b for b in "abcdef" for _ in range(2)]
    creation = [b in "abcd" for b in bases]
    values = [1.0 + "abcdef".index(b) * (1 if c else -1) for b, c in zip(bases, creation, strict=True)]
    r = base_auc(values, creation, bases)
    assert (r["auc"], r["creation"], r["activation"]) == (1.0, 4, 2) and r["p"] == pytest.approx(1 / 15)
    # the pairs' statistics are averaged per base: one base's pairs cannot outvote another base
    r3 = base_auc([5.0, -9.0, 1.0, 0.0], [True, True, False, False], ["a", "a", "b", "c"])
    assert r3["auc"] == 0.0 and r3["p"] == 1.0  # a's mean (-2) lies below both activation bases
    # ties count a half, and the exact null handles them: against brute force over every assignment, in the one-base
    # enumeration and through scipy
    tied = base_auc([1.0, 1.0, 0.0], [True, False, False], ["a", "b", "c"])
    assert tied["auc"] == pytest.approx(0.75) and tied["p"] == pytest.approx(2 / 3)
    vals = np.array([2.0, 1.0, 1.0, 0.0, 1.0, 0.0])
    is_c = np.array([True, True, True, False, False, False])

    def auc(c):
        a, b = vals[c][:, None], vals[~c][None, :]
        return ((a > b) + 0.5 * (a == b)).mean()

    null = [auc(np.isin(np.arange(6), idx)) for idx in itertools.combinations(range(6), 3)]
    got = base_auc(vals.tolist(), is_c.tolist(), list("abcdef"))
    assert got["auc"] == pytest.approx(auc(is_c)) and got["exact"]
    assert got["p"] == pytest.approx(np.mean(np.asarray(null) >= auc(is_c) - 1e-12))
    assert got["p_min"] == pytest.approx(1 / 20)
    assert math.isnan(base_auc([1.0, np.nan], [True, False], ["a", "b"])["auc"])  # no activation base with a value
    with pytest.raises(InvalidConfigError, match="both classes"):
        base_auc([1.0, 0.0], [True, False], ["a", "a"])


def test_recall_over_bases_counts_a_base_right_only_when_all_its_pairs_are():
    labels = ["activation"] * 4 + ["creation"] * 2 + ["no_signal"]
    preds = ["activation", "creation", "activation", "activation", "creation", "creation", "no_signal"]
    bases = ["a", "a", "b", "c", "d", "e", "d"]
    r = base_recall(labels, preds, bases)
    assert r["activation"][:2] == [2, 3] and r["creation"][:2] == [2, 2] and r["no_signal"][:2] == [1, 1]
    assert r["creation"][2] == pytest.approx(0.025 ** 0.5, rel=1e-6)  # Clopper-Pearson 2/2: (0.025)^(1/2)
    assert r["activation"][2] < 2 / 3 < r["activation"][3]


def test_the_committed_bar_test_read_over_bases():
    summary, pairs = committed_summary(REPO_ROOT / "figures"), stored_pair_rows(REPO_ROOT / "figures")
    read = judged_test_over_bases(summary, pairs)
    ev, names = summary["bar_test"]["evaluation"], summary["bar_test"]["pairs"]
    assert read["n_pairs"] == len(names) == ev["n_test"]
    test = pairs[pairs["pair"].isin(names)]
    assert read["n_bases"] == test["base"].nunique()
    # every indicator the bar counts is read; its bases per class are those the evaluation counted for it
    counted = {r["indicator"]: r for r in ev["indicators"] if r["indicator"] in read["indicators"]}
    for name, r in read["indicators"].items():
        assert {"creation": r["creation"], "activation": r["activation"]} == counted[name]["test_bases_by_class"]
    # each class's per-base recall is at most its bases, and a class read right on every pair is right on every base
    exact = ev["summary"]["recall_exact_ci"]
    for cls, (k, n, _, _) in read["recall"].items():
        assert k <= n <= test.loc[test["label"] == cls, "pair"].size
        if exact[cls][0] == exact[cls][1]:
            assert k == n
    assert read["established"] == (len(read["strong"]) >= 3 and all(v[2] > 0.5 for v in read["recall"].values()))
    # the same reading from base_reading directly, and a pair table lacking a test pair is refused
    direct = base_reading(ev, pairs, FittedRules.from_dict(summary["fitted"]), names)
    assert direct["recall"] == read["recall"]
    with pytest.raises(InvalidConfigError, match="lacks test pairs"):
        base_reading(ev, pairs[~pairs["pair"].isin(names[:1])], FittedRules.from_dict(summary["fitted"]), names)


def test_a_summary_without_its_test_or_a_table_without_bases_has_no_reading():
    summary = committed_summary(REPO_ROOT / "figures")
    pairs = stored_pair_rows(REPO_ROOT / "figures")
    assert judged_test_over_bases({**summary, "bar_test": {}}, pairs) is None
    assert judged_test_over_bases(summary, pairs.drop(columns=["base"])) is None
    mixed = pairs.assign(base="one-base")  # every pair from one base: a base of both classes has no reading
    assert judged_test_over_bases(summary, mixed) is None


def test_many_bases_are_drawn_not_enumerated():
    rng = np.random.default_rng(0)
    r = base_auc(list(rng.normal(1, 1, 25)) + list(rng.normal(0, 1, 16)), [True] * 25 + [False] * 16,
                 [f"b{i}" for i in range(41)])
    assert not r["exact"] and 0 < r["p"] < 0.01 and r["p_min"] < 1e-10


def test_the_trust_paragraph_gives_the_reading_over_bases_only_with_the_pair_table():
    from rlmeta_interp.analysis.validation.report import render_trust_paragraph

    summary, pairs = committed_summary(REPO_ROOT / "figures"), stored_pair_rows(REPO_ROOT / "figures")
    read = judged_test_over_bases(summary, pairs)
    said, plain = (" ".join(render_trust_paragraph(summary, p).split()) for p in (pairs, None))
    assert "**The same test over base models**" in said and "over base models" not in plain
    word = "is established (next line)" if read["established"] else "is not established (next line)"
    assert f"and over base models it {word}" in said
    for name, r in read["indicators"].items():
        assert f"{name} {r['auc']:.2f} ({r['creation']} creation and {r['activation']} activation bases" in said
