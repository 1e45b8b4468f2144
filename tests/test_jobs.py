"""The main job end to end on the shipped demo zoo (smoke-sized measurements)."""

from __future__ import annotations

import json

from rlmeta_interp import jobs
from rlmeta_interp.analysis.scorecard import ScorecardConfig


def test_demo_pairs_are_shipped():
    pairs = jobs.demo_pairs()
    assert len(pairs) >= 2, "the demo organisms must be committed under data/zoo (see data/README.md)"


def test_demo_config_is_sized_for_the_budget():
    cfg, full = jobs.demo_config(), ScorecardConfig.demo()
    assert cfg.n_problems * cfg.n_samples <= full.n_problems * full.n_samples
    assert set(cfg.indicators) <= set(full.indicators) and "boundary" in cfg.indicators


def _smoke_demo_config() -> ScorecardConfig:
    """Smoke sizes with the demo's indicators (the demo leaves hybrid decoding out)."""
    return ScorecardConfig.smoke().replace(indicators=jobs.demo_config().indicators)


def test_run_demo_writes_report_and_says_when_it_reuses(tmp_path, caplog):
    html = jobs.run_demo(tmp_path, progress=False, config=_smoke_demo_config())
    text = html.read_text()
    md = (tmp_path / "report.md").read_text()
    answers = md[md.index("## The answer, per pair"):md.index("## What was measured")]
    for name in jobs.demo_pairs():
        assert f"- **{name}** (" in answers  # one line per pair, first thing in the report
        card = json.loads((tmp_path / name / "scorecard.json").read_text())
        assert card["summary"] in answers.split(f"**{name}**")[1].split("\n")[0] or card["summary"] == "no gain"
        assert (tmp_path / name / f"scorecard_{name.replace('.', '_')}.png").exists()
    assert (tmp_path / "demo_verdicts.png").exists() and "meter" in answers
    assert "Votes against the known label" in md and "data:image/png;base64" in text
    assert "[0, -0]" not in md and "| nan |" not in md and " nan " not in md
    assert "All " in md and "measured in this run" in md and "<div class='footer'>" in text
    assert (tmp_path / "validation.csv").exists()
    # beside the fitted readings: how often each was right on the committed table's clean test
    assert "How often each reading was right on the validation table's clean test: read creation:" in md
    assert "These intervals count pairs as independent" in md
    caplog.set_level("INFO", logger="rlmeta_interp.jobs")
    jobs.run_demo(tmp_path, progress=False, config=_smoke_demo_config())
    again = (tmp_path / "report.md").read_text()
    assert "were reused from an earlier run, measured on " in again
    assert any("reused from an earlier run" in r.getMessage() for r in caplog.records)


def test_setup_logging_keeps_this_package_and_quiets_the_rest():
    import logging

    root, ours = logging.getLogger(), logging.getLogger("rlmeta_interp")
    saved = root.level, ours.level, list(root.handlers)
    try:
        root.handlers.clear()
        jobs.setup_logging()
        assert ours.isEnabledFor(logging.INFO) and not root.isEnabledFor(logging.INFO)
        assert not logging.getLogger("transformer_lens").isEnabledFor(logging.INFO)
        jobs.setup_logging(quiet=True)
        assert not ours.isEnabledFor(logging.INFO) and ours.isEnabledFor(logging.WARNING)
    finally:
        root.setLevel(saved[0])
        ours.setLevel(saved[1])
        root.handlers[:] = saved[2]


def test_fitted_verdict_says_where_the_reading_was_never_measured():
    from rlmeta_interp.analysis import scorecard as sc
    from rlmeta_interp.analysis.validation.labels import preset_labelled_names
    from rlmeta_interp.analysis.validation.reading import committed_summary, fitted_rules, validated_config

    validated = validated_config(committed_summary())

    def card(world: str, config: ScorecardConfig, pair: str = "p") -> sc.Scorecard:
        gain = [{"metric": "pass@1 RL - base", "key": "d_pass1", "value": 0.3, "ci_lo": 0.2, "ci_hi": 0.4, "note": ""}]
        results = {"boundary": sc.IndicatorResult("boundary", "creation", "", gain)}
        return sc.Scorecard(pair=pair, world=world, dose=None, layer=0, results=results,
                            config=config.replace(rules=fitted_rules(world=world)))

    # a gain and no statistic the summary reads: the vote rule's fallback, said so, with no held-out record claimed
    arith = jobs.fitted_verdict(card("arithmetic", validated))
    assert len(arith) == 1 and arith[0].startswith("Fitted reading") and "the vote rule's reading" in arith[0]
    # the validated sizes under another name (demo) are the validated sizes; a smoke card is not
    assert jobs.fitted_verdict(card("arithmetic", ScorecardConfig.demo())) == arith
    comp = jobs.fitted_verdict(card("composition", ScorecardConfig.smoke()))
    assert "no cut of its own for the composition world" in comp[1] and "Measured with other sizes" in comp[2]
    # no gain: read no signal, with the clean test's record of that reading and the test it was counted on
    ctrl = card("arithmetic", validated)
    ctrl.results["boundary"].metrics[0].update(value=-0.01, ci_lo=-0.05, ci_hi=0.03)
    lines = jobs.fitted_verdict(ctrl)
    n_clean = committed_summary()["clean_test"]["evaluation"]["n_test"]
    assert "no signal (no gain" in lines[0] and f"On that table's clean test ({n_clean} pairs: " in lines[1]
    # a validation pair the table does not hold (here, one whose gain check failed): its reading is withheld
    not_in_table = sorted(set(preset_labelled_names("validation"))
                          - {p for v in committed_summary()["pairs"].values() for p in v})
    assert not_in_table and "withheld" in jobs.fitted_verdict(card("bandits", validated, pair=not_in_table[0]))[0]


def test_readings_text_prints_both_scores_and_where_they_went(tmp_path):
    import pandas as pd

    from rlmeta_interp.jobs import readings_text

    table = pd.DataFrame({"pair": ["a", "b"], "reading": ["creation", "activation"]})
    dest = tmp_path / "r.csv"
    summary = {"balanced_accuracy": 0.9, "ci_lo": 0.7, "ci_hi": 1.0,
               "creation_vs_activation": {"balanced_accuracy": 0.75, "ci_lo": 0.5, "ci_hi": 1.0, "n": 4}}
    text = readings_text(table, {"evaluation": {"n_test": 6, "summary": summary, "meets_bar": False}}, dest)
    assert "over the 6 cases: the fitted summary's balanced accuracy 0.90 (CI 0.70-1.00)" in text
    assert "creation against activation alone 0.75 (CI 0.50-1.00, 4 pairs); the project's bar not met" in text
    assert text.splitlines()[-1] == f"written to {dest} and {dest.with_suffix('.json')}"
    one_class = {**summary, "creation_vs_activation": None}
    text = readings_text(table, {"evaluation": {"n_test": 2, "summary": one_class, "meets_bar": False}}, dest)
    assert "alone" not in text
    rule = {"balanced_accuracy": 0.5, "ci_lo": 0.5, "ci_hi": 0.5}
    ev = {"n_test": 2, "summary": one_class, "meets_bar": False, "expansion_rule": rule}
    assert "the label-free expansion rule (pass@n expanded: creation) over the same cases: balanced accuracy 0.50" \
           " (CI 0.50-0.50)" in readings_text(table, {"evaluation": ev}, dest)
    assert "no pair read is a validation case" in readings_text(table, {"pairs": []}, dest)
