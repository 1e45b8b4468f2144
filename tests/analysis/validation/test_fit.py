"""Fitting on calibration and scoring on test, on synthetic pair tables with known answers."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from rlmeta_interp.analysis.indicators.core import INDICATORS, ScorecardRules
from rlmeta_interp.analysis.validation import bar as vb
from rlmeta_interp.analysis.validation import fit as vf
from rlmeta_interp.errors import EmptyInputError


def synthetic(n_per_class: int = 8, seed: int = 0, split: str = "calibration", gain: bool = True,
              noise: float = 0.2) -> pd.DataFrame:
    """Boundary separates perfectly (creation 0.3 above activation), likelihood is noisy but informative, directions
    is constant, every other statistic is missing; plus two no-signal controls without a gain."""
    rng = np.random.default_rng(seed)
    rows = []
    for label in ("creation", "activation"):
        for i in range(n_per_class):
            row = {"pair": f"{split}-{label}-{i}", "world": "arithmetic", "label": label, "split": split,
                   "recipe": "edge", "gain": gain, "vote_summary": label}
            for name in INDICATORS:
                row.update({name: None, f"{name}_lo": None, f"{name}_hi": None, f"{name}_vote": "n/a"})
            row["boundary"] = (0.3 if label == "creation" else 0.0) + rng.uniform(0, 0.1)
            row["likelihood"] = (0.4 if label == "creation" else 0.0) + rng.normal(0, noise)
            row["directions"] = -0.99
            row["steering: KL recovered"] = 1.0 if label == "creation" else 0.0
            rows.append(row)
    for i in range(2):
        row = dict(rows[0], pair=f"{split}-control-{i}", label="no_signal", gain=False, vote_summary="no_signal")
        rows.append(row)
    return pd.DataFrame(rows)


def test_fit_on_calibration_sets_cuts_and_descriptive_indicators():
    fitted = vf.fit_rules(synthetic(), n_boot=300)
    fits = {f.name: f for f in fitted.indicators}
    assert fits["boundary"].votes and fits["boundary"].auc == 1.0
    assert 0.1 < fits["boundary"].cut < 0.3 and fitted.rules.boundary_margin == fits["boundary"].cut
    # a constant statistic cannot tell the classes apart: AUC 0.5, its CI includes 0.5, so it does not vote
    assert fits["directions"].auc == 0.5 and not fits["directions"].votes
    assert "includes 0.5" in fits["directions"].reason
    assert "directions" in fitted.rules.descriptive and "weights" in fitted.rules.descriptive
    # missing statistics cannot be scored
    assert not fits["steering"].votes and "cannot be scored" in fits["steering"].reason
    assert "boundary" in fitted.inputs and "directions" not in fitted.inputs
    # a candidate reading is scored on calibration but never votes nor enters the summary
    cand = fits["steering: KL recovered"]
    assert cand.auc == 1.0 and not cand.votes and cand.cut is None and cand.name not in fitted.inputs
    # the fit round-trips through plain JSON-able numbers and predicts the same
    again = vf.FittedRules.from_dict(fitted.to_dict())
    table = synthetic(seed=1, split="test")
    assert again.predict(table) == fitted.predict(table)


def test_an_indicator_calibrated_on_one_base_per_class_does_not_vote():
    """With one base per class every resample holding both classes holds the same two bases: the CI over bases is
    the point AUC, so a perfect ordering there says nothing about other bases."""
    calib = synthetic(noise=0.05)
    one = calib.assign(base=np.where(calib["label"] == "creation", "bc", "ba"))
    fits = {f.name: f for f in vf.fit_rules(one, n_boot=200).indicators}
    assert not fits["boundary"].votes and fits["boundary"].cut is None
    assert "1 creation and 1 activation base(s)" in fits["boundary"].reason
    assert vf.calibration_bases(one[one["label"] != "no_signal"], "boundary") == {"creation": 1, "activation": 1}
    two = calib.assign(base=[f"{lab}-{i % 2}" for i, lab in enumerate(calib["label"])])
    fits = {f.name: f for f in vf.fit_rules(two, n_boot=200).indicators}
    assert fits["boundary"].votes and fits["boundary"].cut is not None


def test_held_out_auc_is_also_reported_without_the_pairs_seen_in_design():
    from rlmeta_interp.analysis.indicators.reliance import SEEN_IN_DESIGN

    calib, test = synthetic(noise=0.05), synthetic(seed=3, split="test", noise=0.05)
    fitted = vf.fit_rules(calib, n_boot=100)
    # reliance read on the test pairs; two of them carry the names of the pairs its design saw, read wrong
    test = test.assign(reliance=np.where(test["label"] == "creation", 1.0, 0.2))
    first_act = test.index[test["label"] == "activation"][:2]
    test.loc[first_act, "pair"] = list(SEEN_IN_DESIGN[:2])
    test.loc[first_act, "reliance"] = 2.0
    per = {r["indicator"]: r for r in vf.evaluate(fitted, test, calib, n_boot=100)["indicators"]}
    assert per["reliance"]["test_auc"] < 1.0
    clean = per["reliance"]["test_unseen_in_design"]
    assert clean["auc"] == 1.0 and clean["n"] == per["reliance"]["test_n"] - 2
    assert clean["left_out"] == list(SEEN_IN_DESIGN[:2])
    assert per["boundary"]["test_unseen_in_design"] is None


def test_perfect_statistic_gives_balanced_accuracy_one_on_test():
    calib, test = synthetic(noise=0.05), synthetic(seed=3, split="test", noise=0.05)
    fitted = vf.fit_rules(calib, n_boot=200)
    ev = vf.evaluate(fitted, test, calib, n_boot=200)
    s = ev["summary"]
    assert s["balanced_accuracy"] == 1.0 and s["recall"] == {"creation": 1.0, "activation": 1.0, "no_signal": 1.0}
    assert s["no_signal_read_as_creation"] == 0.0
    assert ev["constant_baseline"]["balanced_accuracy"] == pytest.approx(1 / 3)
    per = {r["indicator"]: r for r in ev["indicators"]}
    assert per["boundary"]["test_auc"] == 1.0 and per["directions"]["test_auc"] == 0.5
    assert per["boundary"]["roc"]["tpr"][-1] == 1.0
    conf = np.asarray(s["confusion"]["counts"])
    assert conf.trace() == len(test)
    # the gain check alone gets the controls right; then always one class: two of three recalls
    gtc = ev["gain_then_constant"]
    assert gtc["answer"] == "activation" and gtc["balanced_accuracy"] == pytest.approx(2 / 3)
    assert gtc["ci_lo"] <= gtc["balanced_accuracy"] <= gtc["ci_hi"] and gtc["ci_lo"] < gtc["ci_hi"]
    assert s["right_by_recipe"] == {"edge": [len(test), len(test)]}
    # creation against activation alone: the controls left out
    two = vf.creation_vs_activation(test, list(s["predictions"].values()), n_boot=200)
    assert two["balanced_accuracy"] == 1.0 and two["n"] == 16
    # a rule that reads every creation pair as activation: the controls keep the three-class score at 2/3, the
    # two-class one is 1/2, which is what it knows about the question
    flipped = test.assign(vote_summary=test["vote_summary"].replace("creation", "activation"))
    vr = vf.evaluate(fitted, flipped, calib, n_boot=200)["vote_rule"]
    assert vr["balanced_accuracy"] == pytest.approx(2 / 3)
    two = vf.creation_vs_activation(flipped, flipped["vote_summary"].tolist(), n_boot=200)
    assert two["balanced_accuracy"] == pytest.approx(1 / 2) and two["ci_lo"] <= 0.5 <= two["ci_hi"]
    # one of the two classes only: no two-class score
    no_creation = test[test["label"] != "creation"]
    assert vf.creation_vs_activation(no_creation, no_creation["vote_summary"].tolist()) is None


def test_votes_at_the_fitted_cut_and_bases_are_counted_per_indicator():
    calib, test = synthetic(noise=0.05), synthetic(seed=3, split="test", noise=0.05)
    fitted = vf.fit_rules(calib, n_boot=100)
    # rows 0-7 creation, 8-15 activation, 16-17 controls; each class's eight votes: two right, two wrong, four not
    test = test.assign(boundary_vote=["creation", "activation", "inconclusive", "n/a"] * 4 + ["n/a", "n/a"],
                       base=[f"b{i // 4}" for i in range(len(test))])
    calib = calib.assign(base="b0")  # calibration starts from one of the four test bases
    per = {r["indicator"]: r for r in vf.evaluate(fitted, test, calib, n_boot=100)["indicators"]}
    assert per["boundary"]["test_votes"] == {"right": 4, "wrong": 4, "undecided": 8}
    assert per["boundary"]["test_bases"] == 4  # 16 two-class pairs, four to a base
    assert per["boundary"]["test_bases_by_class"] == {"creation": 2, "activation": 2}
    assert per["boundary"]["test_bases_unseen"] == 3
    assert per["steering"]["test_bases"] == 0 and per["steering"]["test_votes"]["undecided"] == 0  # nothing read


def test_an_evaluation_keeps_its_reading_over_bases(caplog):
    calib, test = synthetic(noise=0.05), synthetic(seed=3, split="test", noise=0.05)
    fitted = vf.fit_rules(calib, n_boot=100)
    # one base per pair, none shared with calibration: the indicators the bar counts are read over 8 + 8 bases
    own = test.assign(base=[f"t{i}" for i in range(len(test))])
    ev = vf.evaluate(fitted, own, calib.assign(base="c"), n_boot=100)
    counted = sorted(r["indicator"] for r in ev["indicators"] if vb.counts_for_bar(r))
    assert counted and list(ev["over_bases"]["indicators"]) == counted
    boundary = ev["over_bases"]["indicators"]["boundary"]
    assert boundary["auc"] == 1.0 and boundary["p"] == pytest.approx(1 / math.comb(16, 8))
    assert ev["over_bases"]["recall"]["creation"][:2] == [8, 8] and ev["over_bases"]["n_bases"] == len(test)
    assert ev["over_bases"]["established"] == (len(ev["over_bases"]["strong"]) >= vb.MIN_INDICATORS)
    # rows without bases, or a base holding both classes among the pairs a counted indicator reads: no reading,
    # said in the log
    assert "base" not in test.columns and vf.evaluate(fitted, test, calib, n_boot=100)["over_bases"] is None
    mixed = own.assign(base=["t0" if i == 8 else b for i, b in enumerate(own["base"])])
    assert (mixed["label"].iloc[[0, 8]] == ["creation", "activation"]).all()
    with caplog.at_level("WARNING"):
        assert vf.evaluate(fitted, mixed, calib.assign(base="c"), n_boot=100)["over_bases"] is None
    assert "both classes" in caplog.text


def test_summary_without_model_falls_back_to_the_vote_rule_and_no_gain_reads_no_signal():
    calib = synthetic()
    calib = calib.assign(boundary=None, likelihood=None)
    fitted = vf.fit_rules(calib, n_boot=100)
    assert fitted.inputs == () and fitted.notes
    test = synthetic(split="test")
    pred = fitted.predict(test)
    assert pred[: len(test) - 2] == test["vote_summary"].tolist()[: len(test) - 2]
    assert pred[-2:] == ["no_signal", "no_signal"]



def test_a_baseline_rule_is_scored_as_the_summary_is():
    """rule_scores is what evaluate reports per rule: the vote rule's entry is rule_scores of its readings, and a
    rule that reads every control as creation shows it in its control share and its named errors."""
    calib, test = synthetic(noise=0.05), synthetic(seed=3, split="test", noise=0.05)
    ev = vf.evaluate(vf.fit_rules(calib, n_boot=200), test, calib, n_boot=200)
    assert vf.rule_scores(test, test["vote_summary"].tolist(), n_boot=200) == ev["vote_rule"]
    wrong = test["vote_summary"].replace("no_signal", "creation").tolist()
    scored = vf.rule_scores(test, wrong, n_boot=200)
    assert scored["no_signal_read_as_creation"] == 1.0 and scored["recall"]["no_signal"] == 0.0
    assert scored["read_wrong"] == {"test-control-0": ["no_signal", "creation"],
                                    "test-control-1": ["no_signal", "creation"]}
    assert scored["right_by_recipe"] == {"edge": [len(test) - 2, len(test)]}

def test_fit_refuses_empty_splits():
    with pytest.raises(EmptyInputError, match="calibration"):
        vf.fit_rules(synthetic().iloc[0:0])
    fitted = vf.fit_rules(synthetic(), n_boot=50)
    with pytest.raises(EmptyInputError, match="held-out"):
        vf.evaluate(fitted, synthetic().iloc[0:0], synthetic())


def test_hand_set_rules_stay_where_nothing_is_fitted():
    fitted = vf.fit_rules(synthetic(), ScorecardRules(belief_margin=0.2), n_boot=50)
    assert fitted.rules.belief_margin == 0.2 and fitted.rules.fvu_creation_min == ScorecardRules().fvu_creation_min


def test_a_statistic_that_points_the_wrong_way_does_not_vote():
    table = synthetic()
    table["boundary"] = -table["boundary"]  # larger now reads as activation: AUC 0 on calibration
    fits = {f.name: f for f in vf.fit_rules(table, n_boot=300).indicators}
    assert fits["boundary"].auc == 0.0 and not fits["boundary"].votes and fits["boundary"].cut is None
    assert "wrong way" in fits["boundary"].reason


def test_a_pair_missing_a_statistic_is_read_by_those_it_has_at_their_cuts():
    """Two worlds: boundary exists in one only, likelihood in both but on another scale in the second. Centred at
    the cuts, the second world's pairs are read by likelihood at its cut; imputing the calibration mean would read
    them by the first world's average boundary."""
    rng = np.random.default_rng(4)
    rows = []
    for split in ("calibration", "test"):
        for world, scale in (("arithmetic", 5.0), ("bandits", 0.3)):
            for label in ("creation", "activation"):
                for i in range(4):
                    row = {"pair": f"{split}-{world}-{label}-{i}", "world": world, "label": label, "split": split,
                           "recipe": "sft" if i % 2 else "rl", "gain": True, "vote_summary": label}
                    for name in INDICATORS:
                        row.update({name: None, f"{name}_lo": None, f"{name}_hi": None, f"{name}_vote": "n/a"})
                    creation = label == "creation"
                    row["likelihood"] = (scale if creation else 0.1) + rng.uniform(0, 0.02)
                    row["boundary"] = ((0.5 if creation else 0.0) + rng.uniform(0, 0.1)) if world == "arithmetic" \
                        else None
                    rows.append(row)
    table = pd.DataFrame(rows)
    fitted = vf.fit_rules(table[table.split == "calibration"], n_boot=200)
    assert set(fitted.inputs) == {"boundary", "likelihood"} and fitted.intercept == 0.0
    cut = {f.name: f.cut for f in fitted.indicators}
    assert fitted.impute == fitted.mean == tuple(cut[n] for n in fitted.inputs)
    test = table[table.split == "test"]
    assert fitted.predict(test) == test["label"].tolist()
    # held-out AUC within each world beside the pooled one: likelihood separates in both, boundary in one only
    ev = {r["indicator"]: r for r in vf.evaluate(fitted, test, table[table.split == "calibration"],
                                                  n_boot=100)["indicators"]}
    assert set(ev["likelihood"]["test_by_world"]) == {"arithmetic", "bandits"}
    assert all(v["auc"] == 1.0 and v["n"] == 8 for v in ev["likelihood"]["test_by_world"].values())
    assert set(ev["boundary"]["test_by_world"]) == {"arithmetic"}
    # and within each recipe (both classes in each): 8 pairs per recipe for likelihood, the arithmetic 4 for boundary
    assert {k: v["n"] for k, v in ev["likelihood"]["test_by_recipe"].items()} == {"rl": 8, "sft": 8}
    assert {k: v["n"] for k, v in ev["boundary"]["test_by_recipe"].items()} == {"rl": 4, "sft": 4}
    # a pair exactly at every cut is undecided (P = 0.5); missing statistics count as being at the cut
    at_cuts = test.iloc[:1].copy()
    for name in fitted.inputs:
        at_cuts[name] = cut[name]
    assert fitted.creation_probability(at_cuts)[0] == pytest.approx(0.5)
    at_cuts["boundary"] = None
    assert fitted.creation_probability(at_cuts)[0] == pytest.approx(0.5)
    # a pair with none of the inputs measured is read by the vote rule, not as creation at P = 0.5
    blank = at_cuts.assign(vote_summary="inconclusive")
    for name in fitted.inputs:
        blank[name] = None
    assert fitted.creation_probability(blank)[0] == pytest.approx(0.5) and fitted.predict(blank) == ["inconclusive"]


#: Likelihood per (world, label, base) in :func:`_two_world_table`; held-out arithmetic activation pairs sit at 0.93.
_LEVELS = {("arithmetic", "creation"): (1.3, 1.3), ("arithmetic", "activation"): (0.7, 0.98),
           ("bandits", "creation"): (0.85, 0.85), ("bandits", "activation"): (0.45, 0.45)}


def _two_world_table(seed: int = 5) -> pd.DataFrame:
    """Likelihood on two scales, as elicitation is on the validation zoo: pooled, the Youden cut falls between
    bandit creation (0.85) and the lower arithmetic activation base (0.7), below the other arithmetic activation
    base (0.98), so it reads held-out arithmetic activation pairs (0.93) as creation; within arithmetic the cut
    falls between 0.98 and 1.3. Four pairs per class and world, each from its own base."""
    rng = np.random.default_rng(seed)
    rows = []
    for split in ("calibration", "test"):
        for (world, label), levels in _LEVELS.items():
            for i in range(4):
                level = 0.93 if (split, world, label) == ("test", "arithmetic", "activation") else levels[i % 2]
                row = {"pair": f"{split}-{world}-{label}-{i}", "base": f"{split}-{world}-{label}-b{i}",
                       "world": world, "label": label, "split": split, "recipe": "sft", "gain": True,
                       "vote_summary": label}
                for name in INDICATORS:
                    row.update({name: None, f"{name}_lo": None, f"{name}_hi": None, f"{name}_vote": "n/a"})
                row["likelihood"] = level + rng.uniform(-0.01, 0.01)
                rows.append(row)
    return pd.DataFrame(rows)


def test_a_world_with_enough_calibration_bases_gets_its_own_cut_and_spread():
    table = _two_world_table()
    calib, test = table[table.split == "calibration"], table[table.split == "test"]
    fitted = vf.fit_rules(calib, n_boot=200)
    pooled = {f.name: f.cut for f in fitted.indicators}["likelihood"]
    cuts = {w: c["likelihood"] for w, c in fitted.world_cuts.items()}
    assert set(cuts) == {"arithmetic", "bandits"}
    assert 0.99 < cuts["arithmetic"] < 1.29 and 0.46 < cuts["bandits"] < 0.84 and 0.71 < pooled < 0.84
    for world, cut in cuts.items():  # each world votes at its own cut; a world without one at the pooled cut
        assert fitted.rules_for(world).kl_creation_min == cut
    assert fitted.rules_for("planning") == fitted.rules_for(None) == fitted.rules
    assert fitted.rules.kl_creation_min == pooled
    # the spread of each world's gained calibration pairs scales its statistics in the summary
    arith = calib.loc[calib.world == "arithmetic", "likelihood"].astype(float)
    assert fitted.world_scale["arithmetic"]["likelihood"] == pytest.approx(float(np.std(arith)))
    assert fitted.predict(test) == test["label"].tolist()
    # the pooled fit alone (what a table fitted before per-world cuts holds) reads arithmetic activation as creation
    alone = vf.FittedRules.from_dict({k: v for k, v in fitted.to_dict().items()
                                      if k not in ("world_cuts", "world_scale")})
    assert alone.world_cuts == {} and alone.rules_for("arithmetic") == fitted.rules
    wrong = [p for p, t, r in zip(test["pair"], test["label"], alone.predict(test), strict=True) if t != r]
    assert wrong and all("arithmetic-activation" in p for p in wrong)
    # saved and loaded, the fit reads the same
    again = vf.FittedRules.from_dict(json.loads(json.dumps(fitted.to_dict())))
    assert again.world_cuts == fitted.world_cuts and again.predict(test) == fitted.predict(test)


def test_a_world_with_one_base_of_a_class_keeps_the_pooled_cut():
    table = _two_world_table()
    calib = table[table.split == "calibration"].copy()
    one = (calib.world == "bandits") & (calib.label == "creation")
    calib.loc[one, "base"] = "bandits-creation-only-base"
    fitted = vf.fit_rules(calib, n_boot=200)
    assert set(fitted.world_cuts) == {"arithmetic"} and "bandits" not in fitted.world_scale
    assert fitted.rules_for("bandits") == fitted.rules


def test_a_damaged_fitted_entry_is_named_not_read():
    """The committed summary's fit reads back as itself; a hand-edited or damaged entry is a typed error naming
    the field, never a fit that votes by a string or scales by zero."""
    import copy

    from rlmeta_interp.analysis.validation.fit import FittedRules
    from rlmeta_interp.analysis.validation.reading import committed_summary
    from rlmeta_interp.errors import CorruptedCheckpointError

    stored = committed_summary()["fitted"]
    assert FittedRules.from_dict(stored).to_dict() == stored
    edits = {"auc, lo and hi must be numbers": lambda d: d["indicators"][0].update(auc="high"),
             "ends below where it starts": lambda d: d["indicators"][0].update(lo=0.9, hi=0.5),
             "votes must be True or False": lambda d: d["indicators"][0].update(votes="yes"),
             "n must be a count": lambda d: d["indicators"][0].update(n=-3),
             "cut must be a finite number": lambda d: d["indicators"][0].update(cut=float("inf")),
             "coef must hold": lambda d: d.update(coef=d["coef"][:-1]),
             "every scale must be a positive": lambda d: next(iter(d["world_scale"].values())).update(x=0.0),
             "world_cuts.* not finite": lambda d: next(iter(d["world_cuts"].values())).update(x=float("nan")),
             "KeyError: 'rules'": lambda d: d.pop("rules")}
    for said, edit in edits.items():
        damaged = copy.deepcopy(stored)
        edit(damaged)
        with pytest.raises(CorruptedCheckpointError, match=said + ".*Restore the summary from git"):
            FittedRules.from_dict(damaged)
