"""What a manifest records about the software that produced a file: installed package versions, and the code's own
revision."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def package_versions(packages: Iterable[str], *, python: bool = False) -> dict[str, str]:
    """``{package: installed version}`` (``"absent"`` when not installed), led by ``"python"`` when asked."""
    out = {"python": platform.python_version()} if python else {}
    for pkg in packages:
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = "absent"
    return out


#: the libraries whose versions decide what a measurement is
MEASURING_PACKAGES = ("torch", "transformers", "transformer-lens", "sae-lens", "trl", "numpy", "scikit-learn")


def source_revision(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """The code that is running: the package version and, when it runs from a git checkout, the commit and whether
    the package's files differ from it, new untracked files included (``git_commit``/``git_dirty`` are None
    otherwise, e.g. from an installed wheel), with the versions of the libraries that measure.
    Recorded beside a registered reading, so that it can be tied to the code that measured it."""
    from . import __version__

    here = Path(path) if path is not None else Path(__file__).resolve().parent
    out: dict[str, Any] = {"rlmeta_interp": __version__, "git_commit": None, "git_dirty": None,
                           "packages": package_versions(MEASURING_PACKAGES, python=True)}
    try:
        # git itself answers "which commit, and is the tree clean"; no library of ours reads a repository
        # the folder's own files must be tracked: an installed copy can sit inside some other checkout (a virtual
        # environment in the repository), whose commit says nothing about it
        tracked = subprocess.run(["git", "ls-files", "--error-unmatch", "--", "."], cwd=here, capture_output=True,
                                 text=True, timeout=30)
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=30)
        if tracked.returncode != 0 or commit.returncode != 0:
            return out
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=normal", "--", "."], cwd=here,
                                capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):  # no git on this machine
        return out
    out["git_commit"] = commit.stdout.strip()
    out["git_dirty"] = bool(status.stdout.strip()) if status.returncode == 0 else None
    return out
