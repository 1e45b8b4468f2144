"""Tests of provenance: the versions a manifest records are the installed ones."""

from __future__ import annotations

import importlib.metadata
import platform

from rlmeta_interp.provenance import package_versions


def test_package_versions_reads_installed_and_marks_absent():
    got = package_versions(["torch", "surely-not-installed-pkg-xyz"])
    assert got == {"torch": importlib.metadata.version("torch"), "surely-not-installed-pkg-xyz": "absent"}
    assert got["torch"][0].isdigit()
    with_python = package_versions(["torch"], python=True)
    assert list(with_python) == ["python", "torch"] and with_python["python"] == platform.python_version()
