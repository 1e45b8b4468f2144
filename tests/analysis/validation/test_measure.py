"""Which labelled pairs are validation cases: built up to date against the preset, and with the gain their label
calls for (controls always count)."""

from __future__ import annotations

import json

from rlmeta_interp.analysis.validation.labels import labelled_pairs
from rlmeta_interp.analysis.validation.measure import validation_cases

from .test_report import tiny_labelled_zoo


def test_validation_cases_leave_out_stale_pairs_and_failed_gain_checks(tmp_path, monkeypatch):
    tiny_labelled_zoo(tmp_path, monkeypatch)
    manifest = tmp_path / "home" / "zoo" / "c-test" / "manifest.json"
    m = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**m, "gain_check": {"kind": "passk", "passed": False}}))
    specs = sorted(labelled_pairs(), key=lambda s: s.name)
    cases, stale, failed = validation_cases(specs, {"not_built": ["a-cal"]})
    assert stale == ["a-cal"] and failed == ["c-test"]  # a stale pair is named once, as stale
    assert [s.name for s in cases] == ["a-test", "c-cal"]
    cases, stale, failed = validation_cases(specs, {"not_built": []})
    assert not stale and failed == ["c-test"] and len(cases) == 3
