"""The scorecard on real (tiny) models: every indicator runs, results persist and resume, rules are applied as written."""

from __future__ import annotations

import pytest
import torch

from rlmeta_interp import load_pair
from rlmeta_interp.analysis import scorecard as sc
from rlmeta_interp.errors import InvalidConfigError

from ..conftest import save_tiny_pair


@pytest.fixture(scope="module")
def tiny_pair(tmp_path_factory):
    """Base = a tiny random Llama; RL = the same weights plus small noise (an RL-like small update)."""
    return load_pair(save_tiny_pair(tmp_path_factory.mktemp("sc_pair"), scale=0.02, seed=1))


def test_summary_rules():
    assert sc.summarize_votes({"a": "activation", "b": "activation", "c": "creation", "d": "creation"})[0] == "mixed"
    assert sc.summarize_votes({"a": "activation", "b": "activation", "c": "creation"})[0] == "activation"
    assert sc.summarize_votes({"a": "activation", "b": "activation", "c": "n/a"})[0] == "activation"
    assert sc.summarize_votes({"a": "creation", "b": "creation", "c": "creation", "d": "activation"})[0] == "creation"
    assert sc.summarize_votes({"a": "creation", "b": "inconclusive"})[0] == "inconclusive"
    assert sc.summarize_votes({"a": "n/a"})[0] == "inconclusive"


def test_config_validation():
    with pytest.raises(InvalidConfigError, match="Unknown indicators"):
        sc.ScorecardConfig(indicators=("boundary", "vibes"))
    with pytest.raises(InvalidConfigError, match="n_samples"):
        sc.ScorecardConfig(n_samples=0)


def test_arithmetic_scorecard_runs_persists_and_resumes(tiny_pair, tmp_path):
    cfg = sc.ScorecardConfig.smoke()
    card = sc.run_scorecard(tiny_pair, "arithmetic", cfg, out_dir=tmp_path, progress=False)
    assert set(card.results) == set(sc.INDICATORS)
    # random weights solve nothing: RL has no gain, and the summary must say so rather than attribute anything
    assert card.gain is False and card.summary == "no gain"
    assert card.votes["weights"] == "n/a" and card.votes["beliefs"] == "n/a"
    b = card.results["boundary"]
    assert b.metric("pass@1 base") == 0.0 and "passk_curve" in b.tables
    assert 0.5 < card.results["likelihood"].metric("ppl ratio (RL samples / base samples, under base)") < 2.0
    for name in sc.INDICATORS:
        assert (tmp_path / f"{name}.json").exists()
    md = (tmp_path / "scorecard.md").read_text()
    assert "### Rules" in md and "no gain" in md
    # a rerun with the same config reads every indicator back; a changed config recomputes
    again = sc.run_scorecard(tiny_pair, "arithmetic", cfg, out_dir=tmp_path, progress=False)
    assert again.votes == card.votes and again.results["boundary"].metrics == b.metrics
    before = (tmp_path / "weights.json").stat().st_mtime_ns
    sc.run_scorecard(tiny_pair, "arithmetic", cfg.replace(indicators=("weights",), seed=1), out_dir=tmp_path, progress=False)
    assert (tmp_path / "weights.json").stat().st_mtime_ns != before
    # new RL weights under the same names recompute too (the key holds the weights' identity)
    before = (tmp_path / "likelihood.json").stat().st_mtime_ns
    param = next(tiny_pair.rl.hf.parameters())
    saved = param.detach().clone()
    with torch.no_grad():
        param.mul_(1.01)
    try:
        sc.run_scorecard(tiny_pair, "arithmetic", cfg.replace(indicators=("likelihood",)), out_dir=tmp_path,
                         progress=False)
    finally:
        with torch.no_grad():
            param.copy_(saved)  # the fixture is shared by the module's other tests
    assert (tmp_path / "likelihood.json").stat().st_mtime_ns != before
    fig = sc.plot_scorecard(card)
    assert len(fig.axes) >= 4


def test_boundary_samples_come_from_run_boundary_with_its_cache_and_guessing_baseline(tiny_pair, tmp_path):
    from rlmeta_interp.experiments import boundary as bd
    from rlmeta_interp.io import read_json

    cfg = sc.ScorecardConfig.smoke().replace(indicators=("boundary",))
    b = sc.run_scorecard(tiny_pair, "planning", cfg, out_dir=tmp_path, progress=False).results["boundary"]
    assert f"guessing baseline pass@{cfg.n_samples}" in [m["metric"] for m in b.metrics]  # planning: a random walk
    assert set(b.tables["passk_curve"]["model"]) == {"base", "rl", "guess"}
    cached = list((tmp_path / "samples").rglob("boundary_*.json"))
    assert len(cached) == 1
    res = bd.BoundaryResult.from_json(read_json(cached[0]))
    values = {m["metric"]: m["value"] for m in b.metrics}
    assert values["crossover k"] == res.crossover_k and values["pass@1 RL - base"] == res.summary()["d_pass@1"]
    # other rules: the indicator is recomputed from the cached samples, not resampled
    before = cached[0].stat().st_mtime_ns
    sc.run_scorecard(tiny_pair, "planning", cfg.replace(rules=cfg.rules.replace(boundary_margin=0.5)), out_dir=tmp_path,
                     progress=False)
    assert cached[0].stat().st_mtime_ns == before


def test_bandit_beliefs_have_random_init_and_count_controls(tiny_pair, tmp_path):
    cfg = sc.ScorecardConfig.smoke().replace(indicators=("beliefs",))
    card = sc.run_scorecard(tiny_pair, "bandits", cfg, out_dir=tmp_path, progress=False)
    res = card.results["beliefs"]
    names = [m["metric"] for m in res.metrics]
    for needed in ("R^2 base", "R^2 random_init", "R^2 token_counts", "regret thompson (reference)"):
        assert needed in names
    # the control is a different network: its R^2 is not the base's
    assert res.metric("R^2 base") != res.metric("R^2 random_init")
    # the gain is the paired RL - base regret on the same bandits: its value is the difference of the two means
    diff = next(m for m in res.metrics if m["metric"] == "regret RL - base (sampled, paired)")
    assert diff["value"] == pytest.approx(res.metric("regret rl (sampled)") - res.metric("regret base (sampled)"))
    assert diff["ci_lo"] <= diff["value"] <= diff["ci_hi"]
    assert card.gain == (diff["ci_hi"] < 0)


def test_validation_against_dose():
    def card(dose, votes):
        results = {k: sc.IndicatorResult(k, v, "", []) for k, v in votes.items()}
        return sc.Scorecard(pair=f"p{dose}", world="bandits", dose=dose, layer=0, results=results)

    cards = [card(0.5, {"boundary": "activation", "likelihood": "activation", "features": "creation"}),
             card(0.0, {"boundary": "creation", "likelihood": "activation", "features": "creation"})]
    v = sc.validate_against_dose(cards)
    row = v[(v.pair == "p0.0") & (v.indicator == "likelihood")].iloc[0]
    assert row.expected == "creation" and row.agrees is False or row.agrees == False  # noqa: E712
    rel = sc.indicator_reliability(v).set_index("indicator")
    assert rel.loc["boundary", "agreement"] == 1.0 and rel.loc["likelihood", "agreement"] == 0.5
    assert rel.loc["SUMMARY", "decisive"] == 2


def test_headlines_pick_metric_control_and_thresholds():
    cfg = sc.ScorecardConfig.smoke()
    res = {"directions": sc.IndicatorResult("directions", "activation", "", [
        sc._m("cosine(base dir, RL dir)", 0.9, 0.85, 0.95), sc._m("shared-permutation null (upper)", 0.7)])}
    card = sc.Scorecard(pair="p", world="arithmetic", dose=0.5, layer=1, results=res, config=cfg)
    h = card.headlines().iloc[0]
    assert (h.metric, h.value, h.ci_lo, h.control_value) == ("cosine(base dir, RL dir)", 0.9, 0.85, 0.7)
    assert h.activation_threshold == cfg.rules.cosine_activation_min and h.vote == "activation"


def test_expected_reading_follows_what_rl_wrote():
    assert sc.expected_reading("arithmetic", 0.5)[0] == "activation"
    assert sc.expected_reading("arithmetic", 0.0, rl_novel_share=0.0)[0] == "activation"
    assert sc.expected_reading("arithmetic", 0.0, rl_novel_share=0.3)[0] == "creation"
    assert sc.expected_reading("arithmetic", 0.0)[0] is None
    assert sc.expected_reading("bandits", 0.0)[0] == "creation"
    assert sc.expected_reading("planning", 0.0)[0] == "creation"
    assert sc.expected_reading("arithmetic", None)[0] is None
