"""The held-out test read over base models: exact AUC tests and per-base recall, against scipy and by hand."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pandas as pd
import pytest

from rlmeta_interp.analysis.validation import bar as vb
from rlmeta_interp.analysis.validation.bases import base_auc, base_reading, base_recall, over_bases
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
    ev, names = summary["bar_test"]["evaluation"], summary["bar_test"]["pairs"]
    read = base_reading(ev, pairs, FittedRules.from_dict(summary["fitted"]), names)
    assert read["n_pairs"] == len(names) == ev["n_test"]
    test = pairs[pairs["pair"].isin(names)]
    assert read["n_bases"] == test["base"].nunique()
    # every indicator the bar counts is read; its bases per class are those the evaluation counted for it
    counted = {r["indicator"]: r for r in ev["indicators"] if vb.counts_for_bar(r)}
    assert set(read["indicators"]) == set(counted)
    for name, r in read["indicators"].items():
        assert {"creation": r["creation"], "activation": r["activation"]} == counted[name]["test_bases_by_class"]
    # each class's per-base recall is at most its bases, and a class read right on every pair is right on every base
    exact = ev["summary"]["recall_exact_ci"]
    for cls, (k, n, _, _) in read["recall"].items():
        assert k <= n <= test.loc[test["label"] == cls, "pair"].size
        if exact[cls][0] == exact[cls][1]:
            assert k == n
    assert read["established"] == (len(read["strong"]) >= 3 and all(v[2] > 0.5 for v in read["recall"].values()))
    # the evaluation keeps the same reading, and a pair table lacking a test pair is refused
    assert json.loads(json.dumps(read)) == ev["over_bases"]
    with pytest.raises(InvalidConfigError, match="lacks test pairs"):
        base_reading(ev, pairs[~pairs["pair"].isin(names[:1])], FittedRules.from_dict(summary["fitted"]), names)


def test_over_bases_needs_three_strong_counted_indicators_and_every_class_above_a_half():
    # 6 creation bases above 6 activation bases on three statistics, and 6 no-signal bases, every pair read right:
    # with one of the three not counted by the bar, two strong indicators are one short; with all three the bar's
    # criteria hold over bases, and one activation base read wrong breaks them again (5/6 has its lower end < 0.5)
    bases = [f"c{i}" for i in range(6)] + [f"a{i}" for i in range(6)] + [f"n{i}" for i in range(6)]
    labels = ["creation"] * 6 + ["activation"] * 6 + ["no_signal"] * 6
    stat = np.r_[np.arange(6) + 10.0, np.arange(6.0), np.zeros(6)]
    test = pd.DataFrame({"pair": [f"p{i}" for i in range(18)], "label": labels, "base": bases,
                         "s1": stat, "s2": stat, "s3": stat})
    right = dict(zip(test["pair"], labels, strict=True))

    def row(name, **change):
        return {"indicator": name, "votes": True, "cut": 0.0, "test_auc": 1.0, "test_lo": 0.9,
                "test_bases_unseen": 12, "test_bases_by_class": {"creation": 6, "activation": 6}, **change}

    def raw(rows, name):
        return rows[name].astype(float).to_numpy()

    two = over_bases(test, [row("s1"), row("s2"), row("s3", votes=False)], right, raw)
    assert set(two["indicators"]) == {"s1", "s2"} and two["strong"] == ["s1", "s2"] and not two["established"]
    assert two["indicators"]["s1"]["p"] == pytest.approx(1 / math.comb(12, 6))
    assert (two["n_pairs"], two["n_bases"]) == (18, 18)
    three = over_bases(test, [row("s1"), row("s2"), row("s3")], right, raw)
    assert three["established"] and all(v[:2] == [6, 6] for v in three["recall"].values())
    wrong = over_bases(test, [row("s1"), row("s2"), row("s3")], {**right, "p6": "creation"}, raw)
    assert wrong["recall"]["activation"][:2] == [5, 6] and not wrong["established"]
    # a base holding both classes has no reading
    with pytest.raises(InvalidConfigError, match="both classes, creation and activation"):
        over_bases(test.assign(base="one"), [row("s1")], right, raw)
    # with no counted indicator too (it would count in both classes' recall), while a no-signal control may share a
    # creation base
    with pytest.raises(InvalidConfigError, match="both classes, creation and activation"):
        over_bases(test.assign(base="one"), [], right, raw)
    shared = test.assign(base=[*bases[:12], *bases[:6]])
    assert over_bases(shared, [], right, raw)["recall"]["no_signal"][:2] == [6, 6]


def test_many_bases_are_drawn_not_enumerated():
    rng = np.random.default_rng(0)
    r = base_auc(list(rng.normal(1, 1, 25)) + list(rng.normal(0, 1, 16)), [True] * 25 + [False] * 16,
                 [f"b{i}" for i in range(41)])
    assert not r["exact"] and 0 < r["p"] < 0.01 and r["p_min"] < 1e-10
