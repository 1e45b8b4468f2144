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


def test_committed_pairs_are_measured_only_from_the_weights_their_rows_were_measured_on(tmp_path, monkeypatch):
    """same_weights compares the weights built here with the exported manifest's checksums; measure_committed refuses
    pairs it cannot vouch for before measuring anything."""
    import pytest

    from rlmeta_interp.analysis.validation.measure import measure_committed, same_weights
    from rlmeta_interp.errors import InvalidConfigError
    from rlmeta_interp.io import write_json_atomic

    cfg = tiny_labelled_zoo(tmp_path, monkeypatch)
    built = json.loads((tmp_path / "home" / "zoo" / "c-test" / "manifest.json").read_text())
    same = {"files": {"model.safetensors": "a" * 64}, "base_weights_sha256": "b" * 64}
    (tmp_path / "home" / "zoo" / "c-test" / "manifest.json").write_text(json.dumps({**built, **same}))
    assert same_weights("c-test") == "c-test: no exported manifest to compare"
    exported = tmp_path / "data" / "validation"
    exported.mkdir(parents=True)
    write_json_atomic(exported / "c-test.json.gz", same)  # compressed, as exported
    assert same_weights("c-test") is None
    write_json_atomic(exported / "c-test.json.gz", {**same, "base_weights_sha256": "c" * 64})
    assert "base weights built here differ" in same_weights("c-test")
    with pytest.raises(InvalidConfigError, match=r"Not the committed pairs: \['no-such-pair', 'c-test: its base"):
        measure_committed(["no-such-pair", "c-test"], cfg, out=tmp_path / "cards", progress=False)
    assert not (tmp_path / "cards").exists()
