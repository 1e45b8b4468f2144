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
    for bad, said in (([1, 2], "must hold an object"), ({"42_toy": ["N"]}, "parameters must be a mapping"),
                      ({"42_toy": {"N": -1}}, "N=-1 is negative, but it is a count")):
        (nb_dir / "figures_params.json").write_text(json.dumps(bad))
        with pytest.raises(InvalidConfigError, match=said):
            notebooks.figure_parameters(nb_dir / "figures_params.json")


def test_figure_parameters_name_only_designed_pairs(tmp_path):
    import json
    import shutil

    from rlmeta_interp.paths import notebooks_dir

    folder = shutil.copytree(notebooks_dir(), tmp_path / "nbs", ignore=shutil.ignore_patterns("*.ipynb"))
    params = json.loads((folder / "figures_params.json").read_text())
    params["06_sparse_updates"]["PAIRS"][0] += "x"  # a misspelt pair name
    (folder / "figures_params.json").write_text(json.dumps(params))
    with pytest.raises(InvalidConfigError, match=r"06_sparse_updates's PAIRS names \['val-bandit-d000-rl-longx'\].*did you"
                                                 r" mean val-bandit-d000-rl-long"):
        notebooks.figure_parameters(folder / "figures_params.json")


def test_shipped_figure_parameters_match_the_notebooks():
    assert notebooks.figure_parameters()  # the repository's file parses and every value has the default's type


def test_environment_jupyter_lists_the_kernel_and_runs_a_notebook_in_it(nb_dir, tmp_path, monkeypatch):
    """`jupyter lab notebooks/` from this environment finds JupyterLab and the notebooks' `rlmeta-interp` kernel."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    bindir = Path(sys.executable).parent
    jupyter = bindir / "jupyter"
    assert jupyter.exists(), f"no jupyter in {bindir}: rebuild the environment with `make env`"
    lab = subprocess.run([str(jupyter), "lab", "--version"], capture_output=True, text=True)
    assert lab.returncode == 0 and lab.stdout.strip()[0].isdigit(), lab.stderr
    specs = json.loads(subprocess.run([str(jupyter), "kernelspec", "list", "--json"], capture_output=True, text=True,
                                      check=True).stdout)["kernelspecs"]
    assert "rlmeta-interp" in specs, f"kernel not registered: run `make env` ({sorted(specs)})"
    assert Path(specs["rlmeta-interp"]["resource_dir"]).resolve().is_relative_to(Path(sys.prefix).resolve())
    monkeypatch.setenv("RLMETA_FIGURES", str(tmp_path / "figs"))
    out = notebooks.run_notebook(nb_dir / "42_toy.py", tmp_path / "run", {"SMOKE": True}, kernel_name="rlmeta-interp")
    assert json.loads(out.read_text())["metadata"]["kernelspec"]["name"] == "rlmeta-interp"


def test_run_figures_smoke_writes_results_not_the_figures_of_record(nb_dir, tmp_path, monkeypatch):
    from rlmeta_interp import paths

    monkeypatch.delenv("RLMETA_FIGURES", raising=False)
    monkeypatch.setenv("RLMETA_RESULTS", str(tmp_path / "results"))
    run = notebooks.run_figures(smoke=True, folder=nb_dir, kernel_name="python3")
    assert run.ok == ["42_toy.py"] and not run.failed
    assert run.figures == tmp_path / "results" / "figures" != paths.record_figures_dir()
    assert (run.figures / "42_toy_line.png").exists() and "42_toy_line" in run.index.read_text()
    with pytest.raises(InvalidConfigError, match="No notebook matches"):
        notebooks.run_figures(["99"], smoke=True, folder=nb_dir)


def test_steering_widget_free_text_on_an_organism_and_a_gemma3_model(tiny_folders):
    """Free-text prompts steer a real organism (scratchpad -> bare answers) and a Gemma-3 model loaded on first use."""
    from rlmeta_interp import SteeringVector, harvest, hook_name, load_model, load_pair
    from rlmeta_interp.organism.worlds.arithmetic import format_of

    pair = load_pair("demo-arith-d050-rl-correct")
    hook = hook_name(1)
    scratch = harvest(pair.base, ["7+2-5=7 plus 2 is 9. 9 minus 5 is 4. A:4", "3+4=3 plus 4 is 7. A:7"], [hook])
    direct = harvest(pair.base, ["7+2-5=A:4", "3+4=A:7"], [hook])
    organism = notebooks.SteerTarget(pair.base, SteeringVector.from_means({1: direct[hook]}, {1: scratch[hook]}),
                                     layers=[1], max_new_tokens=40, describe=format_of, examples=["4+3="])
    loads = []

    def gemma_model():
        loads.append("model")
        return load_model(str(tiny_folders["gemma3"]))

    def gemma_vector():
        model = organism_or_gemma["gemma"].model
        acts = harvest(model, ["3+4=A:7", "5+1=A:6"], [hook_name(0)])
        return SteeringVector.from_means({0: acts[hook_name(0)]}, {0: acts[hook_name(0)].flip(0)})

    organism_or_gemma = {"organism": organism,
                         "gemma": notebooks.SteerTarget(gemma_model, gemma_vector, layers=[0], max_new_tokens=6)}
    box = notebooks.steering_widget(organism_or_gemma, multiplier=2.0)
    pick, prompt, (layer, _mult, button), result = box.children[0], box.children[1], box.children[2].children, \
        box.children[3]
    assert prompt.value == "4+3=" and layer.options == (1,) and not loads  # nothing loaded before it is picked
    prompt.value = "5+3-1="  # free text, not one of the examples
    button.click()
    shown = notebooks.steer_text(organism, "5+3-1=", 1, 2.0)
    assert format_of(shown.unsteered) in ("sum", "eq") and format_of(shown.steered) == "direct", shown
    assert "5+3-1=" in result.value and shown.steered.replace("<", "&lt;").replace(">", "&gt;") in result.value
    assert "(direct)" in result.value
    pick.value = "gemma"
    assert layer.options == (0,) and not loads
    prompt.value = "hello 1+1="
    button.click()
    assert loads == ["model"] and "hello 1+1=" in result.value and "<b>" not in result.value, result.value
    prompt.value = "   "
    button.click()
    assert "The prompt is empty" in result.value  # a typed error, shown in the panel
    with pytest.raises(InvalidConfigError, match="choose one of"):
        notebooks.steer_text(organism, "4+3=", 3, 1.0)
