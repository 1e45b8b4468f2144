"""The main job end to end on the shipped demo zoo (smoke-sized measurements)."""

from __future__ import annotations

import json

from rlmeta_interp import jobs
from rlmeta_interp.analysis.scorecard import ScorecardConfig


def test_demo_pairs_are_shipped():
    pairs = jobs.demo_pairs()
    assert len(pairs) >= 2, "the demo organisms must be committed under data/zoo (see data/README.md)"


def test_run_demo_writes_report(tmp_path):
    html = jobs.run_demo(tmp_path, progress=False, config=ScorecardConfig.smoke())
    text = html.read_text()
    md = (tmp_path / "report.md").read_text()
    for name in jobs.demo_pairs():
        assert name in md
        card = json.loads((tmp_path / name / "scorecard.json").read_text())
        assert card["expected"] in ("activation", "creation")
        assert (tmp_path / name / f"scorecard_{name.replace('.', '_')}.png").exists()
    assert "Votes against the known dose" in md and "data:image/png;base64" in text
    assert (tmp_path / "validation.csv").exists()
