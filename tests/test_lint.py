"""ruff (pyflakes, bugbear, no print() in the library, None/True/False comparisons) passes on the repository, with the
configuration in ``pyproject.toml``; and that configuration catches what it is meant to catch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _ruff(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    try:
        import ruff  # noqa: F401  (the dev extra installs it; the message below says so when it is missing)
    except ImportError as e:
        raise AssertionError("ruff is not installed: pip install -e '.[dev]' (it pins ruff).") from e
    return subprocess.run([sys.executable, "-m", "ruff", *args], cwd=ROOT, input=stdin, capture_output=True,
                          text=True, timeout=300)


def test_ruff_passes_on_the_repository():
    res = _ruff("check", "--no-cache", "--output-format", "concise", ".")
    assert res.returncode == 0, f"ruff found problems (fix them; see [tool.ruff] in pyproject.toml):\n{res.stdout}{res.stderr}"


def test_the_configuration_flags_prints_in_the_library_only():
    code = "import os\n\n\ndef f(x):\n    print(x)\n    return x == None\n"
    lib = _ruff("check", "--no-cache", "--output-format", "concise", "--stdin-filename", "rlmeta_interp/probe.py",
                "-", stdin=code)
    assert lib.returncode == 1
    assert {"F401", "T201", "E711"} <= {w for w in lib.stdout.split() if w[:1].isupper() and w[1:].isdigit()}
    bench = _ruff("check", "--no-cache", "--output-format", "concise", "--stdin-filename", "benchmarks/probe.py",
                  "-", stdin=code)
    assert "T201" not in bench.stdout and "F401" in bench.stdout
