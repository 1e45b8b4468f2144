"""The notebook runner on a small real notebook written to tmp_path (real jupytext, papermill and kernel)."""

from __future__ import annotations

import pytest

from rlmeta_interp import notebooks
from rlmeta_interp.errors import EmptyInputError, InvalidConfigError

NB = '''# %% [markdown]
# # 42 toy

# %% tags=["parameters"]
SMOKE = False
N = 3
LABEL = "x"

# %%
import matplotlib.pyplot as plt
from rlmeta_interp.plotting import save_fig
fig, ax = plt.subplots()
ax.plot(range(N))
save_fig(fig, 42, "toy_line", caption=f"a line of {N} points")
assert SMOKE
'''


@pytest.fixture
def nb_dir(tmp_path):
    d = tmp_path / "nbs"
    d.mkdir()
    (d / "42_toy.py").write_text(NB)
    (d / "helper.py").write_text("x = 1\n")  # not numbered: not a notebook
    return d


def test_discover_parameters_and_expected_figures(nb_dir):
    found = notebooks.discover(nb_dir)
    assert [p.name for p in found] == ["42_toy.py"]
    assert notebooks.parameters(found[0]) == {"SMOKE": False, "N": 3, "LABEL": "x"}
    assert notebooks.expected_figures(found[0]) == ["42_toy_line"]


def test_parameter_type_errors(nb_dir):
    path = nb_dir / "42_toy.py"
    with pytest.raises(InvalidConfigError, match="Pass a int"):
        notebooks.validate_parameters(path, {"N": "three"})
    with pytest.raises(InvalidConfigError, match="Pass a bool"):
        notebooks.validate_parameters(path, {"SMOKE": 1})
    with pytest.raises(InvalidConfigError, match="no parameter"):
        notebooks.validate_parameters(path, {"SMOKEY": True})


def test_run_writes_figure_and_index(nb_dir, tmp_path, monkeypatch):
    figs = tmp_path / "figs"
    monkeypatch.setenv("RLMETA_FIGURES", str(figs))
    out = notebooks.run_notebook(nb_dir / "42_toy.py", tmp_path / "run", {"SMOKE": True, "N": 5})
    assert out.exists() and (figs / "42_toy_line.png").exists()
    index = notebooks.write_figure_index(figs).read_text()
    assert "42_toy_line" in index and "a line of 5 points" in index
    with pytest.raises(notebooks.NotebookFailedError, match="AssertionError"):
        notebooks.run_notebook(nb_dir / "42_toy.py", tmp_path / "run2", {"SMOKE": False})
    with pytest.raises(EmptyInputError):
        notebooks.write_figure_index(tmp_path / "nothing")


def test_figure_parameters_are_validated(nb_dir):
    import json

    (nb_dir / "figures_params.json").write_text(json.dumps({"_about": "x", "42_toy": {"N": 7}}))
    assert notebooks.figure_parameters(nb_dir / "figures_params.json") == {"42_toy": {"N": 7}}
    (nb_dir / "figures_params.json").write_text(json.dumps({"42_toy": {"N": "seven"}}))
    with pytest.raises(InvalidConfigError, match="Pass a int"):
        notebooks.figure_parameters(nb_dir / "figures_params.json")
    (nb_dir / "figures_params.json").write_text(json.dumps({"43_gone": {}}))
    with pytest.raises(InvalidConfigError, match="not a notebook"):
        notebooks.figure_parameters(nb_dir / "figures_params.json")


def test_shipped_figure_parameters_match_the_notebooks():
    assert notebooks.figure_parameters()  # the repository's file parses and every value has the default's type
