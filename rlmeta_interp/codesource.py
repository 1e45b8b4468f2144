"""The package's own source code, as this process runs it: which modules a module imports (read with ``ast``), and a
digest of that code, which keys saved results so that a result computed by other code is never read back."""

from __future__ import annotations

import ast
import functools
import hashlib
from pathlib import Path

from .errors import InvalidConfigError

_PACKAGE = Path(__file__).resolve().parent


def _read_sources() -> dict[str, bytes]:
    """``{module name: source bytes}`` of every module of this package, read now."""
    out = {}
    for path in sorted(_PACKAGE.rglob("*.py")):
        rel = path.relative_to(_PACKAGE).with_suffix("").parts
        if rel and rel[0].startswith("shipped_"):  # links to the data, figures and notebooks of a checkout
            continue
        parts = [_PACKAGE.name, *(rel[:-1] if rel[-1] == "__init__" else rel)]
        out[".".join(parts)] = path.read_bytes()
    return out


# The package's source as it was when the package was imported (the root package imports this module), which is
# what this process runs: a file edited later, under a running notebook kernel, does not change the digests this
# process gives. About 1.3 MB, read in milliseconds.
_SOURCES = _read_sources()

#: Modules a digest does not cover, nor follow: preset definitions say which models to build, not how anything is
#: measured, and registering a preset must not discard every saved result.
NOT_MEASURING = frozenset({f"{_PACKAGE.name}.organism.presets", f"{_PACKAGE.name}.organism.composition_presets"})


# Hand-written over stdlib modulefinder: that one reads the files on disk now (not the snapshot above) and follows
# every library too; here only this package's modules count, read from the source this process runs.
@functools.cache
def _imported(module: str) -> frozenset[str]:
    """The modules of this package that ``module``'s source imports anywhere (inside functions and under ``if
    TYPE_CHECKING:`` too: counting an import that never runs only makes a digest change more often)."""
    is_package = any(m.startswith(f"{module}.") for m in _SOURCES)  # its source is its __init__.py
    package = module.split(".") if is_package else module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(_SOURCES[module], filename=module)):
        if isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            target = ".".join([*base, *([node.module] if node.module else [])])
            # ``from . import x`` names the module x; ``from .x import y`` names module x (y is an attribute)
            found.update(f"{target}.{a.name}" if f"{target}.{a.name}" in _SOURCES else target for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return frozenset(m for m in found if m != module and m in _SOURCES and m not in NOT_MEASURING)


def import_closure(*modules: str, follow: bool = True) -> frozenset[str]:
    """``modules`` and every module of this package they import, directly or through others (read from the source
    with ``ast``, without importing anything), except :data:`NOT_MEASURING`; ``follow=False``: ``modules`` alone,
    checked. A package's ``__init__`` counts only where it is imported by name: ``from .a.b import c`` runs
    ``a/__init__.py`` too, but what that file imports does not change ``c``."""
    unknown = [m for m in modules if m not in _SOURCES]
    if unknown:
        raise InvalidConfigError(f"Not a module of {_PACKAGE.name}: {', '.join(unknown)}; pass dotted names such as"
                                 f" '{_PACKAGE.name}.analysis.scorecard'.")
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

    The source is the package's as it was when the package was imported, which is the code this process runs: a
    file edited while a process runs (a notebook kernel) changes the digest for the next process only. One gap is
    left: a module imported lazily, after such an edit, runs the edited code under the digest of the source before
    it, so its result is filed under the old code's key (reused only if the old source comes back)."""
    h = hashlib.sha256()
    for m in sorted(import_closure(*modules) | import_closure(*alone, follow=False)):
        h.update(m.encode() + b"\0" + _SOURCES[m] + b"\0")
    return h.hexdigest()[:16]
