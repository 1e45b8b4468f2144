"""The scorecard on real (tiny) models: every indicator runs, results persist and resume, rules are applied as written."""

from __future__ import annotations

import pytest
import torch

from rlmeta_interp import load_pair
from rlmeta_interp.analysis import scorecard as sc
from rlmeta_interp.errors import CorruptedCheckpointError, InvalidConfigError

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
    assert b.metric("pass1_base") == 0.0 and {"passk_curve", "by_level"} <= set(b.tables)
    assert 0.5 < card.results["likelihood"].metric("ratio_all") < 2.0
    # every result carries its validation statistic; the boundary's is the per-level pass@n difference
    assert card.results["boundary"].statistic.value == b.metric("d_passn_level")
    for name in sc.INDICATORS:
        assert (tmp_path / f"{name}.json").exists()
    md = (tmp_path / "scorecard.md").read_text()
    assert "### Rules" in md and "no gain" in md
    # a rerun with the same config reads every indicator back; a changed config recomputes
    again = sc.run_scorecard(tiny_pair, "arithmetic", cfg, out_dir=tmp_path, progress=False)
    assert again.votes == card.votes and again.results["boundary"].metrics == b.metrics
    # other rules re-vote the saved metrics without measuring: no file is rewritten, the vote follows the rule
    before = (tmp_path / "boundary.json").stat().st_mtime_ns
    strict = cfg.replace(rules=cfg.rules.replace(boundary_margin=-2.0))
    assert sc.run_scorecard(tiny_pair, "arithmetic", strict, out_dir=tmp_path, progress=False).votes["boundary"] == \
        "inconclusive"
    assert (tmp_path / "boundary.json").stat().st_mtime_ns == before
    loaded = sc.load_scorecard(tmp_path)
    assert loaded.results["boundary"].metrics == b.metrics and loaded.pair == card.pair
    # saved results are checksummed: a damaged one is refused when read, and measured again by a rerun
    path = tmp_path / "weights.json"
    path.write_text(path.read_text().replace('"n/a"', '"creation"'))
    with pytest.raises(CorruptedCheckpointError, match="measures it again"):
        sc.load_scorecard(tmp_path)
    assert sc.run_scorecard(tiny_pair, "arithmetic", cfg, out_dir=tmp_path, progress=False).votes["weights"] == "n/a"
    assert sc.load_scorecard(tmp_path).votes["weights"] == "n/a"
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
    # the caption names what is drawn: the steering bars by their tick labels, controls apart
    from rlmeta_interp.analysis.scorecard_plot import scorecard_caption

    words = scorecard_caption(card)
    bars = [t.get_text() for t in fig.axes[1].get_xticklabels()]
    assert bars and all(b in words for b in bars) and "SAE FVU ratio" in words and "guessing baseline" in words
    assert "controls random (own norm)" in words and "label fixed by design" not in words  # this card has no label


def test_boundary_samples_come_from_run_boundary_with_its_cache_and_guessing_baseline(tiny_pair, tmp_path):
    from rlmeta_interp.analysis import capability as bd
    from rlmeta_interp.io import read_json

    cfg = sc.ScorecardConfig.smoke().replace(indicators=("boundary",))
    b = sc.run_scorecard(tiny_pair, "planning", cfg, out_dir=tmp_path, progress=False).results["boundary"]
    assert b.metric("guess_passn") > 0  # planning: a random walk along the listed edges
    assert set(b.tables["passk_curve"]["model"]) == {"base", "rl", "guess"}
    cached = list((tmp_path / "samples").rglob("boundary_*.json"))
    assert len(cached) == 1
    res = bd.BoundaryResult.from_json(read_json(cached[0]))
    values = {m["metric"]: m["value"] for m in b.metrics}
    assert values["crossover k"] == res.crossover_k and values["pass@1 RL - base"] == res.summary()["d_pass@1"]
    levels = b.tables["by_level"]
    assert levels["n_problems"].sum() == cfg.n_problems
    assert (levels[["preserved", "expanded", "shrunk", "neither"]].sum(axis=1) == levels["n_problems"]).all()
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
    diff = next(m for m in res.metrics if m["key"] == "d_regret")
    assert diff["value"] == pytest.approx(res.metric("regret_rl") - res.metric("regret_base"))
    assert diff["ci_lo"] <= diff["value"] <= diff["ci_hi"]
    assert card.gain == (diff["ci_hi"] < 0)
    from rlmeta_interp.analysis.scorecard_plot import scorecard_caption

    words = scorecard_caption(card)  # beliefs measured, no steering, no boundary in this world: so it says
    assert "belief-probe R^2" in words and "steered" not in words and words.startswith("no pass@k")


def test_world_contradicting_the_manifest_is_a_typed_error(tiny_pair):
    from dataclasses import replace

    from rlmeta_interp.errors import WorldMismatchError
    from rlmeta_interp.organism.corpus import make_world

    arith = replace(tiny_pair, spec=tiny_pair.spec.replace(world="arithmetic"))
    with pytest.raises(WorldMismatchError, match="arithmetic"):
        sc.run_scorecard(arith, "bandits", sc.ScorecardConfig.smoke(), progress=False)
    with pytest.raises(WorldMismatchError, match="pass world=None"):
        sc.run_scorecard(arith, make_world("planning"), sc.ScorecardConfig.smoke(), progress=False)


def test_a_world_by_name_is_widened_to_the_levels_the_manifest_evaluates(tiny_pair):
    """A composition RL model trained on two and three functions and evaluated at two to four is scored at every
    evaluated level, with the composition guesser as its boundary's baseline."""
    from dataclasses import replace

    from rlmeta_interp.analysis.capability import guess_probabilities_for
    from rlmeta_interp.organism.corpus import make_world

    trained = make_world("composition").config.replace(min_level=2, max_level=3)
    rl = replace(tiny_pair.rl, manifest={"config": {"eval": {"levels": [2, 3, 4]}}})
    world = sc.evaluation_world(replace(tiny_pair, rl=rl), make_world("composition", composition=trained))
    assert (world.config.min_level, world.config.max_level) == (2, 4)
    problems = world.sample_held_out(60, seed=0)
    assert {p.meta["level"] for p in problems} == {2, 3, 4}
    assert guess_probabilities_for(world, problems).max() > 0.0
    # no evaluated levels in the manifest: the world is used as given
    assert sc.evaluation_world(tiny_pair, make_world("composition", composition=trained)).config == trained


def test_validation_against_labels():
    def card(label, votes, gain_lo=0.1):
        results = {k: sc.IndicatorResult(k, v, "", []) for k, v in votes.items()}
        results["boundary"] = sc.IndicatorResult("boundary", votes.get("boundary", "n/a"), "", [
            {"metric": "pass@1 RL - base", "key": "d_pass1", "value": gain_lo + 0.05, "ci_lo": gain_lo,
             "ci_hi": gain_lo + 0.1, "note": ""}])
        return sc.Scorecard(pair=f"p-{label}", world="arithmetic", dose=None, layer=0, results=results, label=label)

    cards = [card("activation", {"boundary": "activation", "likelihood": "activation", "features": "creation"}),
             card("creation", {"boundary": "creation", "likelihood": "activation", "features": "creation"}),
             card("no_signal", {"boundary": "creation", "likelihood": "activation"}, gain_lo=-0.1)]
    v = sc.validate_against_labels(cards)
    row = v[(v.pair == "p-creation") & (v.indicator == "likelihood")].iloc[0]
    assert row.expected == "creation" and row.agrees is False
    rel = sc.indicator_reliability(v).set_index("indicator")
    assert rel.loc["boundary", "agreement"] == 1.0 and rel.loc["likelihood", "agreement"] == 0.5
    # the no-signal control reads "no gain" and that is the agreement that counts for it
    ctrl = v[(v.pair == "p-no_signal") & (v.indicator == "SUMMARY")].iloc[0]
    assert ctrl.vote == "no gain" and ctrl.agrees is True
    assert rel.loc["SUMMARY", "decisive"] == 3 and rel.loc["SUMMARY", "agree"] == 3


def test_headlines_pick_metric_control_and_thresholds():
    cfg = sc.ScorecardConfig.smoke()
    res = {"directions": sc.IndicatorResult("directions", "activation", "", [
        {"metric": "cosine(base dir, RL dir)", "key": "cosine", "value": 0.9, "ci_lo": 0.85, "ci_hi": 0.95, "note": ""},
        {"metric": "shared-permutation null (upper)", "key": "null_shared", "value": 0.7, "ci_lo": None, "ci_hi": None,
         "note": ""}])}
    card = sc.Scorecard(pair="p", world="arithmetic", dose=0.5, layer=1, results=res, config=cfg)
    h = card.headlines().iloc[0]
    assert (h.metric, h.value, h.ci_lo, h.control_value) == ("cosine(base dir, RL dir)", 0.9, 0.85, 0.7)
    assert h.activation_threshold == cfg.rules.cosine_activation_min and h.vote == "activation"


def test_a_saved_result_is_measured_again_when_its_reference_model_changes(tiny_pair, tmp_path):
    """directions reads a second-seed base when there is one: a result saved without it is not reused with it."""
    from rlmeta_interp import load_model

    from ..conftest import save_tiny

    cfg = sc.ScorecardConfig.smoke().replace(indicators=("directions", "likelihood"))
    first = sc.run_scorecard(tiny_pair, "arithmetic", cfg, out_dir=tmp_path, progress=False)
    keys = lambda card: {m["key"] for m in card.results["directions"].metrics}  # noqa: E731
    assert "scaled_distance" not in keys(first)  # unmeasured metrics are not saved
    saved = {n: (tmp_path / f"{n}.json").stat().st_mtime_ns for n in ("directions", "likelihood")}
    ref = load_model(save_tiny(tmp_path / "other_seed", "llama", seed=7))
    again = sc.run_scorecard(tiny_pair, "arithmetic", cfg, out_dir=tmp_path, progress=False, reference_base=ref)
    assert "scaled_distance" in keys(again)
    assert (tmp_path / "directions.json").stat().st_mtime_ns != saved["directions"]
    assert (tmp_path / "likelihood.json").stat().st_mtime_ns == saved["likelihood"]  # reads no reference: reused


def test_a_saved_result_is_measured_again_under_other_code_or_another_world_config(tiny_pair, tmp_path, monkeypatch):
    """The key holds a digest of the code that measures (the indicator's module and what it imports, the world's,
    the scorecard's) and the world's configuration: other code or another world is measured again, the same is not."""
    from rlmeta_interp.organism.corpus import make_world

    cfg = sc.ScorecardConfig.smoke().replace(indicators=("weights",))
    world = make_world("arithmetic")

    def mtime() -> int:
        return (tmp_path / "weights.json").stat().st_mtime_ns

    sc.run_scorecard(tiny_pair, world, cfg, out_dir=tmp_path, progress=False)
    first = mtime()
    sc.run_scorecard(tiny_pair, world, cfg, out_dir=tmp_path, progress=False)
    assert mtime() == first  # same code, same world: read back
    other_world = make_world("arithmetic", arithmetic=world.config.replace(max_operands=world.config.max_operands + 1))
    sc.run_scorecard(tiny_pair, other_world, cfg, out_dir=tmp_path, progress=False)
    assert mtime() != first
    second = mtime()
    assert sc.measuring_code("weights", world) != sc.measuring_code("hybrid", world)
    # the digest the key holds is the one code_digest gives: other code (here, a digest that differs) measures again
    real = sc.code_digest
    monkeypatch.setattr(sc, "code_digest", lambda *m, **kw: "0" * 16 if real(*m, **kw) != "0" * 16 else "1" * 16)
    sc.run_scorecard(tiny_pair, other_world, cfg, out_dir=tmp_path, progress=False)
    assert mtime() != second
