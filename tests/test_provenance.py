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


def test_source_revision_names_the_commit_of_a_tracked_folder_only(tmp_path):
    import subprocess

    from rlmeta_interp import __version__
    from rlmeta_interp.provenance import source_revision

    def git(*args):
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path, check=True,
                              capture_output=True, text=True).stdout.strip()

    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "m.py").write_text("x = 1\n")
    def bare(rev):
        return {k: v for k, v in rev.items() if k != "packages"}

    assert bare(source_revision(pkg)) == {"rlmeta_interp": __version__, "git_commit": None, "git_dirty": None}
    assert source_revision(pkg)["packages"]["torch"] == importlib.metadata.version("torch")
    git("init", "-q")
    git("add", "pkg")
    git("commit", "-qm", "c")
    assert bare(source_revision(pkg)) == {"rlmeta_interp": __version__, "git_commit": git("rev-parse", "HEAD"),
                                          "git_dirty": False}
    (pkg / "new.py").write_text("y = 1\n")  # a new module, not yet tracked, is a change too
    assert source_revision(pkg)["git_dirty"] is True
    (pkg / "new.py").unlink()
    (pkg / "m.py").write_text("x = 2\n")
    assert source_revision(pkg)["git_dirty"] is True
    # an untracked copy inside the checkout (a virtual environment's site-packages) has no commit of its own
    venv = tmp_path / "venv" / "site"
    venv.mkdir(parents=True)
    (venv / "m.py").write_text("x = 1\n")
    assert source_revision(venv)["git_commit"] is None


def test_source_revision_of_this_package_names_this_checkouts_commit():
    """The default (the package's own folder), which `validate --read` records: run from this checkout (an editable
    install), it names the checkout's HEAD; from an installed copy, no commit."""
    import subprocess
    from pathlib import Path

    import rlmeta_interp
    from rlmeta_interp.paths import REPO_ROOT
    from rlmeta_interp.provenance import source_revision

    rev = source_revision()
    if Path(rlmeta_interp.__file__).resolve().is_relative_to(REPO_ROOT.resolve()) and (REPO_ROOT / ".git").exists():
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
        assert rev["git_commit"] == head.stdout.strip() and isinstance(rev["git_dirty"], bool)
    else:
        assert rev["git_commit"] is None
