"""Where things live. No working-directory-relative paths anywhere.

Environment variables override every default:
- ``RLMETA_DATA``: shipped inputs and the shipped zoo (default: ``<repo>/data``).
- ``RLMETA_HOME``: user-writable state: rebuilt zoo models, activation cache, converted models
  (default: ``~/.cache/rlmeta-interp``).
- ``RLMETA_FIGURES``: where ``save_fig`` writes (default: ``<repo>/figures``).
- ``RLMETA_RESULTS``: where jobs write reports (default: ``<repo>/results``).
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent


def _env_path(var: str, default: Path) -> Path:
    value = os.environ.get(var)
    return Path(value).expanduser().resolve() if value else default


def data_dir() -> Path:
    return _env_path("RLMETA_DATA", REPO_ROOT / "data")


def home_dir() -> Path:
    return _env_path("RLMETA_HOME", Path.home() / ".cache" / "rlmeta-interp")


def shipped_zoo_dir() -> Path:
    return data_dir() / "zoo"


def user_zoo_dir() -> Path:
    return home_dir() / "zoo"


def activation_cache_dir() -> Path:
    return home_dir() / "activations"


def figures_dir() -> Path:
    return _env_path("RLMETA_FIGURES", REPO_ROOT / "figures")


def results_dir() -> Path:
    return _env_path("RLMETA_RESULTS", REPO_ROOT / "results")


def notebooks_dir() -> Path:
    return REPO_ROOT / "notebooks"
