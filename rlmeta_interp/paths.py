"""Where things live. No working-directory-relative paths anywhere.

Two layouts are supported: a source checkout (``pip install -e .``: the repository's ``data/``, ``notebooks/``,
``results/`` and ``figures/``), and a normal install from the wheel, which carries the shipped data and notebooks
as read-only package data (``rlmeta_interp/shipped_data``, ``shipped_notebooks``, and the meter's validation table
from ``shipped_figures``) and writes nothing
inside the installation: results go under ``RLMETA_HOME``.

Environment variables override every default:
- ``RLMETA_DATA``: shipped inputs and the shipped zoo (default: ``<repo>/data`` in a checkout, the package data
  otherwise).
- ``RLMETA_HOME``: user-writable state: rebuilt zoo models, activation cache, converted models
  (default: ``~/.cache/rlmeta-interp``).
- ``RLMETA_RESULTS``: where jobs write reports (default: ``<repo>/results`` in a checkout, ``RLMETA_HOME/results``
  otherwise).
- ``RLMETA_FIGURES``: where ``save_fig`` writes (default: ``<results>/figures``). Only ``rlmeta-interp figures``
  writes the figures of record, into :func:`record_figures_dir`.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent


def _env_path(var: str, default: Path) -> Path:
    value = os.environ.get(var)
    return Path(value).expanduser().resolve() if value else default


def is_source_checkout() -> bool:
    """True when the package runs from a repository checkout (editable install), not from an installed wheel."""
    return (REPO_ROOT / "pyproject.toml").is_file() and (REPO_ROOT / "data").is_dir()


def data_dir() -> Path:
    return _env_path("RLMETA_DATA", REPO_ROOT / "data" if is_source_checkout() else PACKAGE_DIR / "shipped_data")


def home_dir() -> Path:
    return _env_path("RLMETA_HOME", Path.home() / ".cache" / "rlmeta-interp")


def shipped_zoo_dir() -> Path:
    return data_dir() / "zoo"


def user_zoo_dir() -> Path:
    return home_dir() / "zoo"


def activation_cache_dir() -> Path:
    return home_dir() / "activations"


def results_dir() -> Path:
    return _env_path("RLMETA_RESULTS", REPO_ROOT / "results" if is_source_checkout() else home_dir() / "results")


def figures_dir() -> Path:
    """Where ``save_fig`` writes by default: never the tracked figures of record (see :func:`record_figures_dir`)."""
    return _env_path("RLMETA_FIGURES", results_dir() / "figures")


def record_figures_dir() -> Path:
    """The figures of record: the repository's ``figures/`` (in an installed package: :func:`figures_dir`)."""
    return REPO_ROOT / "figures" if is_source_checkout() else figures_dir()


def notebooks_dir() -> Path:
    return REPO_ROOT / "notebooks" if is_source_checkout() else PACKAGE_DIR / "shipped_notebooks"


def validation_table() -> Path:
    """The committed validation table of the meter, ``figures/validation_summary.json`` (in an install: its copy in
    the package data)."""
    name = "validation_summary.json"
    return REPO_ROOT / "figures" / name if is_source_checkout() else PACKAGE_DIR / "shipped_figures" / name
