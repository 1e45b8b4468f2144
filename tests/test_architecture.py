"""The package's import graph flows one way: no cycles, no import from a lower layer to a higher one, no private name
used across modules, and no module past 500 lines without a reason.

The graph is read from the source with ``ast`` (every module under ``rlmeta_interp``). Imports inside functions count
(they run when the function does); imports under ``if TYPE_CHECKING:`` do not (they are annotations, never executed).
Importing ``a.b.c`` from outside package ``a.b`` also runs ``a/b/__init__.py``, so it adds an edge to the package
``a.b`` (not to the root package, whose ``__init__`` imports only foundations and loads the rest lazily).
"""

from __future__ import annotations

import ast
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "rlmeta_interp"

# Layers, lowest first. A module may import modules of its own layer or of lower ones. The most specific prefix wins
# (``analysis.stats`` before ``analysis``).
LAYERS: dict[str, int] = {
    # 0: foundations that know nothing about models
    "rlmeta_interp": 0, "errors": 0, "config": 0, "io": 0, "paths": 0, "hooks": 0, "inputs": 0, "plotting": 0,
    "prose": 0, "provenance": 0, "codesource": 0, "views": 0, "benchtools": 0,
    # 1: model-agnostic primitives: sampling and steering hooks on any HF / TransformerLens model, statistics, pass@k
    "sampling": 1, "steering": 1, "analysis.stats": 1, "analysis.ratios": 1, "analysis.passk": 1,
    # 2: the worlds (problem generators and verifiers), 3: the rest of the organism (corpus, training, zoo)
    "organism.worlds": 2,
    "organism": 3,
    # 4: where weights come from, 5: loading, the registry and pair selection
    "sources": 4, "embedded": 4,
    "registry": 5, "selection": 5, "models": 5,
    # 6: what runs on loaded models: activations, RL on real LMs
    "activations": 6, "realrl": 6,
    # 7: measurements; 8: indicators, scorecard and validation built from them
    "analysis": 7,
    "analysis.indicators": 8, "analysis.scorecard": 8, "analysis.scorecard_plot": 8, "analysis.validation": 8,
    # 9: entry points
    "experiments": 9, "report": 9, "jobs": 9, "notebooks": 9, "cli": 9,
}

# Modules allowed past MAX_LINES, each with its reason.
MAX_LINES = 500
LONG_MODULES: dict[str, str] = {}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES: dict[str, Path] = {_module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def short(name: str) -> str:
    return name[len("rlmeta_interp."):] if name.startswith("rlmeta_interp.") else name


def layer_of(name: str) -> int:
    s = short(name)
    parts = s.split(".")
    for i in range(len(parts), 0, -1):
        key = ".".join(parts[:i])
        if key in LAYERS:
            return LAYERS[key]
    raise KeyError(s)


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    line: int
    implicit: bool = False


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _walk(tree: ast.AST):
    """Every node, skipping the bodies of ``if TYPE_CHECKING:`` blocks."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                stack.extend(child.orelse)
                continue
            stack.append(child)


def _package_of(mod: str) -> list[str]:
    return mod.split(".") if MODULES[mod].name == "__init__.py" else mod.split(".")[:-1]


def _parse(mod: str) -> tuple[list[Edge], list[str]]:
    """Import edges of ``mod`` and its uses of other modules' private names."""
    tree = ast.parse(MODULES[mod].read_text(), filename=str(MODULES[mod]))
    edges, private = [], []
    bound: dict[str, str] = {}  # local name -> package module it refers to
    for node in _walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = _package_of(mod)[: len(_package_of(mod)) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("rlmeta_interp"):
                continue
            for alias in node.names:
                full = f"{target}.{alias.name}"
                if full in MODULES:  # ``from . import registry``
                    edges.append(Edge(mod, full, node.lineno))
                    bound[alias.asname or alias.name] = full
                else:
                    edges.append(Edge(mod, target, node.lineno))
                    if alias.name.startswith("_") and not alias.name.startswith("__") and target != mod:
                        private.append(f"{short(mod)}:{node.lineno} imports {alias.name} from {short(target)}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("rlmeta_interp") and alias.name in MODULES:
                    edges.append(Edge(mod, alias.name, node.lineno))
                    if alias.asname:
                        bound[alias.asname] = alias.name
    for node in _walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in bound
                and node.attr.startswith("_") and not node.attr.startswith("__")):
            private.append(f"{short(mod)}:{node.lineno} uses {short(bound[node.value.id])}.{node.attr}")
    # importing a.b.c from outside package a.b runs a/b/__init__.py too
    out = [e for e in edges if e.dst in MODULES and e.dst != mod]
    for e in list(out):
        parts = e.dst.split(".")
        for i in range(2, len(parts)):
            parent = ".".join(parts[:i])
            if parent in MODULES and not mod.startswith(parent + ".") and parent != mod:
                out.append(Edge(mod, parent, e.line, implicit=True))
    return out, private


def _build() -> tuple[dict[str, list[Edge]], list[str]]:
    graph, private = {}, []
    for m in MODULES:
        graph[m], p = _parse(m)
        private += p
    # a package whose __init__ imports nothing adds nothing when it runs
    graph = {m: [e for e in es if not e.implicit or graph[e.dst]] for m, es in graph.items()}
    return graph, private


GRAPH, PRIVATE = _build()


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for e in GRAPH[v]:
            w = e.dst
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(short(c) for c in comp))

    for v in GRAPH:
        if v not in index:
            visit(v)
    return out


def _upward() -> list[str]:
    bad = []
    for src, edges in GRAPH.items():
        for e in edges:
            if layer_of(e.dst) > layer_of(src):
                how = " (its package __init__ runs)" if e.implicit else ""
                bad.append(f"{short(src)}:{e.line} (layer {layer_of(src)}) imports {short(e.dst)} (layer"
                           f" {layer_of(e.dst)}){how}")
    return sorted(set(bad))


def _long() -> list[str]:
    out = []
    for mod, path in MODULES.items():
        n = len(path.read_text().splitlines())
        if n > MAX_LINES and short(mod) not in LONG_MODULES:
            out.append(f"{short(mod)} ({n} lines)")
    return out


# Known offenders, listed exactly so that everything else is enforced now. Remove an entry when its module is fixed:
# an entry that no longer offends raises a warning naming it.
KNOWN_CYCLES: list[list[str]] = []
KNOWN_UPWARD: list[str] = []
KNOWN_PRIVATE: list[str] = []
KNOWN_LONG: list[str] = []


def _key(entry: str) -> str:
    """An offender without its line number, so that edits elsewhere in the file do not change it."""
    return re.sub(r":\d+ ", " ", entry)


def _new(found: list, known: list) -> list:
    keys = {_key(k) if isinstance(k, str) else tuple(k) for k in known}
    return [f for f in found if (_key(f) if isinstance(f, str) else tuple(f)) not in keys]


def _stale(known: list, found: list, what: str) -> None:
    gone = _new(known, found)
    if gone:
        warnings.warn(f"Known {what} no longer found, remove from tests/test_architecture.py: {gone}", stacklevel=2)


def test_every_module_has_a_layer():
    missing = [short(m) for m in MODULES if _layer_or_none(m) is None]
    assert not missing, f"Add these modules to LAYERS in tests/test_architecture.py: {missing}"


def _layer_or_none(m: str) -> int | None:
    try:
        return layer_of(m)
    except KeyError:
        return None


def test_no_import_cycles():
    found = _cycles()
    new = _new(found, KNOWN_CYCLES)
    assert not new, f"Import cycles (break each by moving the shared piece down a layer): {new}"
    _stale(KNOWN_CYCLES, found, "cycles")


def test_no_import_from_a_lower_layer_to_a_higher_one():
    found = _upward()
    new = _new(found, KNOWN_UPWARD)
    assert not new, f"Upward imports (move the imported piece down, or the importer up): {new}"
    _stale(KNOWN_UPWARD, found, "upward imports")


def test_no_private_name_used_across_modules():
    new = _new(PRIVATE, KNOWN_PRIVATE)
    assert not new, f"Private names used across modules (make them public or keep them in one module): {new}"
    _stale(KNOWN_PRIVATE, PRIVATE, "private uses")


def test_no_module_over_the_line_budget_without_a_reason():
    found = _long()
    new = [m for m in found if m.split(" (")[0] not in {k.split(" (")[0] for k in KNOWN_LONG}]
    assert not new, (f"Modules over {MAX_LINES} lines: split them by job, or add them to LONG_MODULES with the reason"
                     f" they stay whole: {new}")
    _stale([k.split(" (")[0] for k in KNOWN_LONG], [f.split(" (")[0] for f in found], "long modules")
    assert all(reason.strip() for reason in LONG_MODULES.values())


def _graph_of(sources: dict[str, str], tmp_path: Path) -> tuple[list[list[str]], list[str], list[str]]:
    """Run the checks on a throwaway package (same code paths, other files)."""
    global MODULES, GRAPH, PRIVATE
    saved = MODULES, GRAPH, PRIVATE
    try:
        pkg = tmp_path / "rlmeta_interp"
        for rel, text in sources.items():
            p = pkg / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)
        MODULES = {"rlmeta_interp" + ("." + ".".join(Path(r).with_suffix("").parts) if r != "__init__.py" else ""):
                   pkg / r for r in sources}
        MODULES = {k.removesuffix(".__init__"): v for k, v in MODULES.items()}
        GRAPH, PRIVATE = _build()
        return _cycles(), _upward(), PRIVATE
    finally:
        MODULES, GRAPH, PRIVATE = saved


def test_the_checks_catch_what_they_must(tmp_path):
    cycles, upward, private = _graph_of({
        "__init__.py": "",
        "errors.py": "from .models import _hidden\n",  # upward (0 -> 5) and private
        "models.py": "_hidden = 1\n\ndef f():\n    from . import registry\n    return registry._cache\n",
        "registry.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .cli import X\n"
                       "from .models import f\n",  # a cycle with models; the TYPE_CHECKING import is ignored
        "cli.py": "",
    }, tmp_path)
    assert cycles == [["models", "registry"]]
    assert upward == ["errors:1 (layer 0) imports models (layer 5)"]
    assert sorted(private) == ["errors:1 imports _hidden from models", "models:5 uses registry._cache"]


@pytest.mark.parametrize("name,layer", [("analysis.stats", 1), ("analysis.saes", 7), ("analysis.indicators.core", 8),
                                        ("organism.worlds.bandits", 2), ("organism.zoo", 3), ("cli", 9)])
def test_layer_lookup_takes_the_most_specific_prefix(name, layer):
    assert layer_of("rlmeta_interp." + name) == layer
