"""What a manifest records about the software that produced a file: installed package versions."""

from __future__ import annotations

import importlib.metadata
import platform
from collections.abc import Iterable


def package_versions(packages: Iterable[str], *, python: bool = False) -> dict[str, str]:
    """``{package: installed version}`` (``"absent"`` when not installed), led by ``"python"`` when asked."""
    out = {"python": platform.python_version()} if python else {}
    for pkg in packages:
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = "absent"
    return out
