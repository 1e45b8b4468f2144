"""Where things live, in a source checkout and in a normal install from the built wheel."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rlmeta_interp import paths

REPO = Path(__file__).resolve().parents[1]


def test_checkout_defaults_and_overrides(tmp_path, monkeypatch):
    for var in ("RLMETA_DATA", "RLMETA_RESULTS", "RLMETA_FIGURES", "RLMETA_HOME"):
        monkeypatch.delenv(var, raising=False)
    assert paths.is_source_checkout()
    assert paths.data_dir() == REPO / "data" and paths.notebooks_dir() == REPO / "notebooks"
    assert paths.results_dir() == REPO / "results"
    # save_fig's default is a results folder: only `rlmeta-interp figures` writes the tracked figures of record
    assert paths.figures_dir() == REPO / "results" / "figures" and paths.record_figures_dir() == REPO / "figures"
    monkeypatch.setenv("RLMETA_RESULTS", str(tmp_path / "r"))
    assert paths.figures_dir() == tmp_path / "r" / "figures"
    monkeypatch.setenv("RLMETA_FIGURES", str(tmp_path / "f"))
    assert paths.figures_dir() == tmp_path / "f"


def _copy_worktree(dest: Path) -> None:
    """Tracked and untracked-but-not-ignored files (symlinks kept), so the build sees the working tree, not build/."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                         capture_output=True, check=True).stdout
    for rel in filter(None, out.decode().split("\0")):
        src = REPO / rel
        if not (src.exists() or src.is_symlink()):
            continue  # deleted in the working tree
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            target.symlink_to(os.readlink(src))
        elif src.is_file():
            shutil.copy2(src, target)


@pytest.mark.slow
def test_wheel_install_finds_shipped_data_outside_the_repository(tmp_path):
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs a git checkout to list the working tree")
    src, wheels, site, home, work = (tmp_path / d for d in ("src", "wheels", "site", "home", "work"))
    _copy_worktree(src)
    pip = [sys.executable, "-m", "pip", "-q"]
    subprocess.run(pip + ["wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(src)], check=True,
                   capture_output=True)
    (wheel,) = wheels.glob("rlmeta_interp-*.whl")
    subprocess.run(pip + ["install", "--no-deps", "--target", str(site), str(wheel)], check=True, capture_output=True)
    work.mkdir()
    probe = (
        "import json, rlmeta_interp\n"
        "from rlmeta_interp import paths, registry, notebooks\n"
        "print(json.dumps({'package': rlmeta_interp.__file__, 'data': str(paths.data_dir()),"
        " 'results': str(paths.results_dir()), 'figures': str(paths.figures_dir()),"
        " 'record': str(paths.record_figures_dir()), 'notebooks': [p.name for p in notebooks.discover()],"
        " 'table': str(paths.validation_table()),"
        " 'pairs': sorted(registry.zoo_pairs())}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("RLMETA_")}
    env.update(PYTHONPATH=str(site), RLMETA_HOME=str(home))
    out = subprocess.run([sys.executable, "-c", probe], cwd=work, env=env, capture_output=True, text=True, check=True)
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert Path(found["package"]).is_relative_to(site), found["package"]  # the installed copy, not the checkout
    assert Path(found["data"]).is_relative_to(site) and Path(found["table"]).is_relative_to(site)  # read-only data
    table = REPO / "figures" / "validation_summary.json"
    assert Path(found["table"]).exists() == table.exists()  # the meter's accuracy travels with the package
    for key in ("results", "figures", "record"):  # everything written goes to the user's folder
        assert Path(found[key]).is_relative_to(home), (key, found[key])
    assert found["pairs"] and found["pairs"] == _shipped_pairs_in_checkout()
    assert found["notebooks"] == [p.name for p in sorted((REPO / "notebooks").glob("[0-9][0-9]_*.py"))]
    installed = site / "rlmeta_interp" / "shipped_data"
    shipped = sum(f.stat().st_size for f in installed.rglob("*") if f.is_file())
    assert shipped <= 60_000_000, f"the installed package carries {shipped / 1e6:.1f} MB of data (at most 60 MB)"
    # every file of data/ travels but its README, which documents the data for readers of the repository (and the
    # hidden build-time files, which the package-data glob does not match)
    carried = {f.relative_to(installed).as_posix() for f in installed.rglob("*") if f.is_file()}
    in_checkout = {f.relative_to(src / "data").as_posix() for f in (src / "data").rglob("*")
                   if f.is_file() and not any(part.startswith(".") for part in f.relative_to(src / "data").parts)}
    assert "README.md" not in carried and carried == in_checkout - {"README.md"}


def _shipped_pairs_in_checkout() -> list[str]:
    from rlmeta_interp import registry

    shipped = (REPO / "data" / "zoo").resolve()
    return sorted(n for n, p in registry.zoo_pairs().items() if Path(p.rl.location).resolve().is_relative_to(shipped))
