"""The validation table, its figures, and the README trust paragraph rendered from the committed table."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from rlmeta_interp.analysis.validation import fit as vf
from rlmeta_interp.analysis.validation import report as vr
from rlmeta_interp.errors import EmptyInputError
from rlmeta_interp.io import read_json
from rlmeta_interp.paths import REPO_ROOT

from .test_fit import synthetic


def test_readme_trust_paragraph_is_the_rendering_of_the_committed_table():
    readme = (REPO_ROOT / "README.md").read_text()
    summary = vr.committed_summary(REPO_ROOT / "figures")
    assert vr.trust_paragraph_in(readme) == vr.render_trust_paragraph(summary)


def test_table_figures_and_paragraph_from_a_synthetic_validation(tmp_path):
    calib, test = synthetic(noise=0.05), synthetic(seed=3, split="test", noise=0.05)
    table = pd.concat([calib, test], ignore_index=True)
    fitted = vf.fit_rules(calib, n_boot=100)
    summary = vr.validation_summary(table, fitted, n_boot=100)
    paths = vr.write_validation_table(summary, table, tmp_path)
    names = {p.name for p in paths}
    assert {vr.SUMMARY_JSON, vr.SUMMARY_CSV, vr.PAIRS_CSV, "validation_confusion.png", "validation_roc.png"} <= names
    # checksummed: reading with required=True verifies the sidecar, and a tampered file is refused
    back = vr.committed_summary(tmp_path)
    assert back["evaluation"]["summary"]["balanced_accuracy"] == 1.0
    # the headline block the demo report reads: held-out balanced accuracy with its CI, pairs and split
    assert back["summary"]["balanced_accuracy"]["value"] == 1.0 and back["summary"]["n_pairs"] == len(test)
    assert back["summary"]["split"] == "test" and back["summary"]["creation_recall"] == 1.0
    assert json.loads((tmp_path / "validation_roc.json").read_text())["caption"].startswith("ROC curve")
    text = vr.render_trust_paragraph(back)
    assert "balanced accuracy 1.00" in text and "directions (calibration AUC CI" in text
    # only boundary reaches AUC >= 0.8 with a CI above 0.6 among voting indicators, so the bar is not met
    assert "do not meet the project's bar" in text
    assert all(len(line) <= 118 for line in text.splitlines())
    (tmp_path / vr.SUMMARY_JSON).write_text((tmp_path / vr.SUMMARY_JSON).read_text().replace("1.0", "0.9", 1))
    with pytest.raises(Exception, match="(?i)checksum|sha256"):
        read_json(tmp_path / vr.SUMMARY_JSON, required=True)


def test_readme_markers_are_required_and_replaced():
    text = f"intro\n{vr.TRUST_BEGIN}\nold\n{vr.TRUST_END}\nrest\n"
    new = vr.readme_with_trust(text, "new paragraph")
    assert vr.trust_paragraph_in(new) == "new paragraph" and new.endswith("rest\n")
    with pytest.raises(EmptyInputError, match="markers"):
        vr.readme_with_trust("no markers here", "x")


def test_validate_without_labelled_pairs_names_the_fix(tmp_path):
    with pytest.raises(EmptyInputError, match="zoo build --preset validation"):
        vr.run_validation(tmp_path, table_dir=tmp_path, pairs=["no-such-pair"])
