"""The package's source as this process runs it: import closures and code digests."""

from __future__ import annotations


def test_import_closure_follows_imports_anywhere_in_a_module_and_refuses_other_names():
    import pytest

    from rlmeta_interp.errors import InvalidConfigError
    from rlmeta_interp.codesource import import_closure

    weights = import_closure("rlmeta_interp.analysis.indicators.weights")
    assert "rlmeta_interp.analysis.indicators.weights" in weights and "rlmeta_interp.analysis.params" in weights
    assert "rlmeta_interp.analysis.hybrid" not in weights  # another indicator's measurement
    # evaluation_world imports make_world inside the function: it counts
    assert "rlmeta_interp.organism.corpus" in import_closure("rlmeta_interp.analysis.scorecard")
    assert import_closure("rlmeta_interp.io", follow=False) == {"rlmeta_interp.io"}
    with pytest.raises(InvalidConfigError, match="Not a module of rlmeta_interp: numpy"):
        import_closure("numpy")
    # preset definitions say which models to build, not how anything is measured: not followed
    boundary = import_closure("rlmeta_interp.analysis.indicators.boundary")
    assert "rlmeta_interp.organism.zoo" in boundary and "rlmeta_interp.organism.presets" not in boundary


def test_code_digest_changes_with_the_code_it_covers_only(tmp_path):
    """In a copy of the package: an edit to a module the weights indicator imports (through others) changes its
    digest; an edit to a module it does not import, or to a module passed ``alone`` that only the latter imports,
    does not."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    import rlmeta_interp

    src = Path(rlmeta_interp.__file__).parent
    shutil.copytree(src, tmp_path / "rlmeta_interp", ignore=shutil.ignore_patterns("shipped_*", "__pycache__"))
    script = ("from rlmeta_interp.codesource import code_digest; print(code_digest("
              "'rlmeta_interp.analysis.indicators.weights', alone=('rlmeta_interp.analysis.scorecard',)))")

    def digest(module: str | None = None) -> str:
        code = script if module is None else (
            f"from rlmeta_interp.codesource import code_digest; print(code_digest('{module}'))")
        out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True,
                             env={"PYTHONPATH": str(tmp_path), "PATH": ""})
        return out.stdout.strip()

    def touch(rel: str) -> None:
        path = tmp_path / "rlmeta_interp" / rel
        path.write_text(path.read_text() + "\n# an edit\n")

    first = digest()
    assert len(first) == 16
    touch("analysis/hybrid.py")  # not imported by the weights indicator, nor by the scorecard module itself
    assert digest() == first
    touch("organism/worlds/composition.py")  # imported by the scorecard through others only
    assert digest() == first
    touch("analysis/params.py")  # imported by the weights indicator
    assert digest() != first
    second = digest()
    touch("analysis/scorecard.py")  # passed alone
    third = digest()
    assert third != second
    # within one process the digest is that of the source when the package was imported, even when first asked for
    # after an edit; the next process sees the edit
    edit = ("import rlmeta_interp; from pathlib import Path; p = Path('rlmeta_interp/analysis/params.py');"
            " p.write_text(p.read_text() + '# edit'); " + script)
    out = subprocess.run([sys.executable, "-c", edit], cwd=tmp_path, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(tmp_path), "PATH": ""}).stdout.split()
    assert out == [third] and digest() != third
    # the boundary indicator imports the zoo, which imports the preset definitions: they measure nothing and are left
    # out, while an edit to the zoo counts
    boundary = "rlmeta_interp.analysis.indicators.boundary"
    fourth = digest(boundary)
    touch("organism/presets.py")
    touch("organism/composition_presets.py")
    assert digest(boundary) == fourth
    touch("organism/zoo.py")
    assert digest(boundary) != fourth
