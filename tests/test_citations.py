"""Every document the project cites resolves to a file in the repository (and a cited section to a heading in it),
and every test a Markdown file cites (``tests/x.py::test_name``, or ``::test_name`` after such a citation in the same
file) is a test function in that file.

Scanned: the package, the notebooks (``.py``; the ``.ipynb`` are their synced twins), benchmarks, tests, the Makefile,
``pyproject.toml`` and every Markdown file outside ``data/zoo``. A citation is a Markdown link to a ``.md`` file, a
path with a folder that ends in ``.md`` (``docs/claims.md``, ``data/README.md#...``), or an upper-case document name
(``README.md``, ``RESULTS.md``). Lower-case bare names in code (``report.md``) are files the code writes, not
citations, and so are paths with a placeholder (``<out_dir>/report.md``) or under ``results/``.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# planning notes that were never part of the repository: the project cites its own docs/ instead
OUTSIDE_STEMS = ("SOURCES", "STACK", "PILOT_BANDITS", "DESIGN", "VALIDATION")
OUTSIDE = re.compile(r"\b(?:%s)\.md\b|\.\./shared\b" % "|".join(OUTSIDE_STEMS))
TOKEN = re.compile(r"(?<![\w./<>{}-])([\w./-]*[\w-]\.md)(#[\w-]+)?\b")
LINK = re.compile(r"\]\(([^)\s]+?\.md)(#[\w-]+)?\)")
TEST = re.compile(r"(tests/[\w/.-]+\.py)?::(\w+)")


def _tracked() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout.split()
    keep = []
    for rel in out:
        p = ROOT / rel
        if not p.is_file() or rel.startswith(("data/zoo/", "results/")):
            continue
        if p.suffix in (".py", ".md", ".toml", ".ipynb") or p.name == "Makefile":
            keep.append(p)
    return keep


FILES = _tracked()
SELF = Path(__file__).resolve()


def _slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    s = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return s.replace(" ", "-")


def _anchors(md: Path) -> set[str]:
    return {_slug(m.group(1)) for m in re.finditer(r"^#+\s+(.+?)\s*$", md.read_text(), flags=re.M)}


def _citations(path: Path) -> list[tuple[int, str, str | None]]:
    """``(line, target, anchor)`` for every document citation in ``path``."""
    text = path.read_text()
    found = []
    for lineno, line in enumerate(text.splitlines(), 1):
        hits = [(m.group(1), m.group(2)) for m in LINK.finditer(line)] if path.suffix == ".md" else []
        for m in TOKEN.finditer(line):
            target = m.group(1)
            if target.startswith(("results/", "/", "./results")) or "<" in target:
                continue
            bare = "/" not in target
            if bare and not target[0].isupper() and path.suffix != ".md":
                continue  # a file the code writes (report.md, scorecard.md)
            if bare and path.suffix == ".md" and not target[0].isupper():
                continue  # lower-case bare names in prose are checked through their links
            hits.append((target, m.group(2)))
        found += [(lineno, t, a[1:] if a else None) for t, a in hits if not t.startswith(("http:", "https:"))]
    return found


def _resolve(src: Path, target: str) -> Path | None:
    for base in (src.parent, ROOT):
        p = (base / target).resolve()
        if p.is_file() and ROOT in p.parents:
            return p
    if "/" not in target:  # an upper-case document named without its folder (RESULTS_GPU.md next to RESULTS.md)
        same = [p for p in FILES if p.name == target]
        if same:
            return same[0]
    return None


@pytest.mark.parametrize("path", [p for p in FILES if p.suffix != ".ipynb" and p != SELF],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_cited_documents_exist(path):
    missing = []
    for lineno, target, anchor in _citations(path):
        doc = _resolve(path, target)
        if doc is None:
            missing.append(f"line {lineno}: {target} (no such file)")
        elif anchor and doc.suffix == ".md" and anchor not in _anchors(doc):
            missing.append(f"line {lineno}: {target}#{anchor} (no such heading)")
    assert not missing, f"{path.relative_to(ROOT)} cites documents that are not in the repository: {missing}"


def test_no_citation_of_documents_outside_the_repository():
    offenders = []
    for path in FILES:
        if path == SELF:
            continue
        for lineno, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if OUTSIDE.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{lineno}")
    assert not offenders, ("These lines cite planning notes that are not in the repository; cite the docs/ file that"
                           f" holds the fact (docs/claims.md, docs/design.md, docs/stack.md): {offenders}")


def test_the_checker_sees_citations_it_must_see(tmp_path):
    """The scanner itself: a link, a path and an upper-case name are citations; a written file name is not."""
    f = tmp_path / "x.py"
    f.write_text('"""See docs/claims.md#pass-at-k and RESULTS.md."""\nout = folder / "report.md"  # <dir>/scorecard.md\n')
    assert [(t, a) for _, t, a in _citations(f)] == [("docs/claims.md", "pass-at-k"), ("RESULTS.md", None)]
    md = tmp_path / "y.md"
    md.write_text("Read [the claims](claims.md#claim-3-rl-sharpens-sampling) first.\n")
    assert [(t, a) for _, t, a in _citations(md)] == [("claims.md", "claim-3-rl-sharpens-sampling")]
    assert _slug("Claim 3: RL sharpens sampling inside the base model's boundary") == \
        "claim-3-rl-sharpens-sampling-inside-the-base-models-boundary"
    assert OUTSIDE.search("see " + OUTSIDE_STEMS[0] + ".md") and not OUTSIDE.search("see docs/claims.md")


def _cited_tests(text: str) -> list[tuple[str | None, str]]:
    """``(test file, test name)`` for every test cited in a Markdown text; a bare ``::name`` belongs to the file
    cited last before it (None where no file was cited before it)."""
    out, last = [], None
    for m in TEST.finditer(text):
        last = m.group(1) or last
        out.append((last, m.group(2)))
    return out


@pytest.mark.parametrize("path", [p for p in FILES if p.suffix == ".md"], ids=lambda p: str(p.relative_to(ROOT)))
def test_cited_tests_exist(path):
    missing = []
    for file, name in _cited_tests(path.read_text()):
        test = ROOT / file if file else None
        if test is None or not test.is_file():
            missing.append(f"{file}::{name} (no such file)")
        elif not re.search(rf"^(?:async )?def {name}\(", test.read_text(), flags=re.M):
            missing.append(f"{file}::{name} (no such test)")
    assert not missing, f"{path.relative_to(ROOT)} cites tests that do not exist: {missing}"


def test_the_test_citation_scanner_follows_the_last_cited_file():
    text = "Tests: `tests/test_io.py::test_a`, `::test_b`; then `tests/analysis/test_x.py::test_c` and `::test_d`."
    assert _cited_tests(text) == [("tests/test_io.py", "test_a"), ("tests/test_io.py", "test_b"),
                                  ("tests/analysis/test_x.py", "test_c"), ("tests/analysis/test_x.py", "test_d")]
    assert _cited_tests("only `::test_e`") == [(None, "test_e")]
