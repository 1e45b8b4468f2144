"""What a manifest records about the software that produced a file: installed package versions, the code's own
revision, and a digest of the package code a saved result was computed with."""

from __future__ import annotations

import ast
import functools
import hashlib
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


_PACKAGE = Path(__file__).resolve().parent


def _source_file(module: str) -> Path | None:
    """The source file of a module of this package (``rlmeta_interp.a.b``), None for any other name."""
    parts = module.split(".")
    if parts[0] != _PACKAGE.name:
        return None
    here = _PACKAGE.joinpath(*parts[1:])
    for path in (here / "__init__.py", here.with_suffix(".py") if len(parts) > 1 else None):
        if path is not None and path.is_file():
            return path
    return None


@functools.cache
def _imported(module: str) -> frozenset[str]:
    """The modules of this package that ``module``'s source imports anywhere (inside functions and under ``if
    TYPE_CHECKING:`` too: counting an import that never runs only makes a digest change more often)."""
    path = _source_file(module)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_bytes(), filename=str(path))):
        if isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            target = ".".join([*base, *([node.module] if node.module else [])])
            # ``from . import x`` names the module x; ``from .x import y`` names module x (y is an attribute)
            found.update(f"{target}.{a.name}" if _source_file(f"{target}.{a.name}") else target for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return frozenset(m for m in found if m != module and _source_file(m) is not None)


def import_closure(*modules: str, follow: bool = True) -> frozenset[str]:
    """``modules`` and every module of this package they import, directly or through others (read from the source
    with ``ast``, without importing anything); ``follow=False``: ``modules`` alone, checked. A package's ``__init__`` counts only where it is imported by name:
    ``from .a.b import c`` runs ``a/__init__.py`` too, but what that file imports does not change ``c``."""
    unknown = [m for m in modules if _source_file(m) is None]
    if unknown:
        raise ValueError(f"Not a module of {_PACKAGE.name}: {', '.join(unknown)}; pass dotted names such as "
                         f"'{_PACKAGE.name}.analysis.scorecard'.")
    if not follow:
        return frozenset(modules)
    seen: set[str] = set()
    todo = list(modules)
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo.extend(_imported(m) - seen)
    return frozenset(seen)


@functools.cache
def code_digest(*modules: str, alone: tuple[str, ...] = ()) -> str:
    """sha256 (hex, 16 characters) of the source of :func:`import_closure` of ``modules``, and of the modules in
    ``alone`` without what they import. Part of a saved result's key, so that a result computed by other code is
    computed again rather than reused: any edit to that code, a comment included, changes it.

    Read once per process: a file edited while a process runs (a notebook kernel) does not change what that process
    runs until it imports the module again, so the digest stays that of the source first read. A stale digest only
    costs a later process a recomputation; one read after the edit would file the old code's result under the new
    code's key."""
    h = hashlib.sha256()
    for m in sorted(import_closure(*modules) | import_closure(*alone, follow=False)):
        h.update(m.encode() + b"\0" + _source_file(m).read_bytes() + b"\0")
    return h.hexdigest()[:16]
