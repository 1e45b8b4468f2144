"""Every numbered notebook runs end to end in smoke mode and writes the figures it declares.

Notebooks are discovered from ``notebooks/`` (no hand-kept list); each runs in a real Jupyter kernel through
papermill, with ``SMOKE=True`` and its figures sent to a temporary folder.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from rlmeta_interp import notebooks

NOTEBOOKS = notebooks.discover()


def test_there_are_notebooks():
    assert NOTEBOOKS, "no numbered notebooks found in notebooks/"


def _git_status() -> str | None:
    """``git status --porcelain`` where a notebook could write (None outside a checkout).

    The figures of record, the shipped data and the notebooks themselves, plus any new file at the top level: the
    places a notebook run used to write. Other source files are left out, so edits made to them while the test
    runs (by a person working in the checkout) cannot fail it.
    """
    root = Path(__file__).resolve().parents[2]
    if shutil.which("git") is None or not (root / ".git").exists():
        return None
    git = ["git", "status", "--porcelain", "--untracked-files=all"]
    watched = subprocess.run(git + ["--", "figures", "data", "notebooks"], cwd=root, capture_output=True, text=True,
                             check=True).stdout
    top = subprocess.run(git + ["--untracked-files=normal"], cwd=root, capture_output=True, text=True,
                         check=True).stdout
    return watched + "".join(line + "\n" for line in top.splitlines() if line.startswith("??") and "/" not in line)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_in_smoke_mode(path, tmp_path, monkeypatch):
    figs = tmp_path / "figures"
    monkeypatch.setenv("RLMETA_FIGURES", str(figs))
    monkeypatch.setenv("RLMETA_RESULTS", str(tmp_path / "results"))
    params = {"SMOKE": True}
    before = _git_status()
    out = notebooks.run_notebook(path, tmp_path, params)
    assert out.exists()
    for fig in notebooks.expected_figures(path):
        assert (figs / f"{fig}.png").exists(), f"{path.name} did not write {fig}.png"
        assert (figs / f"{fig}.pdf").exists()
    # compared within the test, so edits made before it ran do not count: the run wrote no figure of record, no
    # shipped data, no notebook and no new file in the repository
    assert _git_status() == before, f"{path.name} changed files in the repository"


def test_pairing_and_stripped_outputs():
    import json

    for p in NOTEBOOKS:
        ipynb = p.with_suffix(".ipynb")
        assert ipynb.exists(), f"{p.name} has no paired .ipynb: run `jupytext --sync {p}`"
        nb = json.loads(ipynb.read_text())
        assert not any(c.get("outputs") or c.get("execution_count") for c in nb["cells"] if c["cell_type"] == "code"), \
            f"{ipynb.name} has committed outputs: strip them"


def test_capability_boundary_on_named_pairs_in_smoke_mode(tmp_path, monkeypatch):
    """Notebook 03 in its validation mode, on the shipped depth pairs: each against its own base, on one depth."""
    import json

    figs = tmp_path / "figures"
    monkeypatch.setenv("RLMETA_FIGURES", str(figs))
    monkeypatch.setenv("RLMETA_RESULTS", str(tmp_path / "results"))
    pairs = ["val-arith-depth-d000-sft-deep", "val-arith-depth-d010-sft-deep"]
    path = next(p for p in NOTEBOOKS if p.stem == "03_capability_boundary")
    out = notebooks.run_notebook(path, tmp_path, {"SMOKE": True, "PAIRS": pairs, "OPERANDS": 5})
    text = out.read_text()
    assert "Each pair against its own base" in text and all(f"`{p}`: pass@1" in text for p in pairs)
    # the labels fixed before tuning, from the shipped records (both passed their gain checks)
    assert "Label fixed before tuning: creation;" in text and "Label fixed before tuning: activation;" in text
    for fig in notebooks.expected_figures(path):
        assert (figs / f"{fig}.png").exists()
    caption = json.loads((figs / "03_passk_curves.json").read_text())["caption"]
    assert caption.endswith(f"(pairs drawn: {', '.join(pairs)}).")


def test_domain_notebook_on_the_committed_records_in_smoke_mode(tmp_path, monkeypatch):
    """Notebook 04 with RECORDS: the recipes compared from their committed build records (nothing sampled), the words
    computed from the same runs the figures draw."""
    import json

    from rlmeta_interp.experiments import recipe_records as rr
    from rlmeta_interp.organism.records import gain_frame, load_records

    figs = tmp_path / "figures"
    monkeypatch.setenv("RLMETA_FIGURES", str(figs))
    monkeypatch.setenv("RLMETA_RESULTS", str(tmp_path / "results"))
    folders = ["validation", "pilots/dynamics"]
    recipes = {"depth-edge": {"steps": 300, "lr": 0.0001}}
    path = next(p for p in NOTEBOOKS if p.stem == "04_domain_conditional")
    text = notebooks.run_notebook(path, tmp_path, {"SMOKE": True, "RECORDS": folders, "RECIPES": recipes,
                                                   "KNOB_RECIPE": "depth-edge"}).read_text()
    frame = gain_frame(load_records(folders))
    expected = rr.findings(rr.recipe_runs(frame, recipes), rr.budget_runs(frame, "depth-edge"), "depth-edge")
    line = expected.splitlines()[2]  # the recipe's line (no character JSON would escape)
    assert line.startswith("- depth-edge (arithmetic; 300 steps") and line in text
    # the recipe's only creation run took no step, and the words say it did not test creation
    assert "The depth-edge recipe did not test it" in expected and "The depth-edge recipe did not test it" in text
    for fig in notebooks.expected_figures(path):
        assert (figs / f"{fig}.png").exists()
    caption = json.loads((figs / "04_passk_by_world.json").read_text())["caption"]
    assert caption.endswith("val-arith-depth-d000-rl-edge, val-arith-depth-d010-rl-edge.")


@pytest.mark.parametrize("stem", ["01_reasoning_directions", "02_when_not_how"])
def test_direction_notebooks_on_named_pairs_in_smoke_mode(stem, tmp_path, monkeypatch):
    """Notebooks 01 and 02 in their validation mode, on the shipped depth pairs: the contrast is the dosed capability
    (deep against shallow chains), the problems are held-out chains of one depth, and the labels fixed before tuning
    name each pair."""
    import json

    figs = tmp_path / "figures"
    monkeypatch.setenv("RLMETA_FIGURES", str(figs))
    monkeypatch.setenv("RLMETA_RESULTS", str(tmp_path / "results"))
    pairs = ["val-arith-depth-d000-sft-deep", "val-arith-depth-d010-sft-deep"]
    path = next(p for p in NOTEBOOKS if p.stem == stem)
    text = notebooks.run_notebook(path, tmp_path, {"SMOKE": True, "PAIRS": pairs, "OPERANDS": 5}).read_text()
    assert "label creation fixed before tuning" in text and "label activation fixed before tuning" in text
    named = ("Pairs: val-arith-depth-d000-sft-deep (sft-calibration, label creation), val-arith-depth-d010-sft-deep"
             " (sft-calibration, label activation); 'RL' names each pair's tuned model.")
    for fig in notebooks.expected_figures(path):
        caption = json.loads((figs / f"{fig}.json").read_text())["caption"]
        assert caption.endswith(named), (fig, caption)
    if stem.startswith("01"):
        assert "contrast: chains of 5-7 operands vs 2-4" in text
        assert "(chains of 5-7 operands vs 2-4; diff_means)" in json.loads(
            (figs / "01_direction_cosines.json").read_text())["caption"]
        assert "held-out problems, chains of 5 operands)" in json.loads(
            (figs / "01_steering_recovery.json").read_text())["caption"]
    else:
        assert "test problems (chains of 5 operands)" in json.loads(
            (figs / "02_hybrid_gap.json").read_text())["caption"]
        # the example decodes shown are of 5-operand held-out chains, not of the pairs' own 2-7 operand worlds
        prompts = re.findall(r"\b\d(?:[+-]\d)+=", text)
        assert prompts and {p.count("+") + p.count("-") + 1 for p in prompts} == {5}


def test_quickstart_on_the_shipped_depth_pairs_in_smoke_mode(tmp_path, monkeypatch):
    """Notebook 00 as its figures of record run it: each depth pair's base steered by its deep-minus-shallow direction,
    scored on the share of chains that do every operation of a problem of the asked depth, both pairs named with their
    labels, and no verdict printed."""
    import json

    figs = tmp_path / "figures"
    monkeypatch.setenv("RLMETA_FIGURES", str(figs))
    monkeypatch.setenv("RLMETA_RESULTS", str(tmp_path / "results"))
    pairs = ["val-arith-depth-d000-sft-deep", "val-arith-depth-d010-sft-deep"]
    path = next(p for p in NOTEBOOKS if p.stem == "00_quickstart")
    text = notebooks.run_notebook(path, tmp_path, {"SMOKE": True, "PAIRS": pairs, "OPERANDS": 5}).read_text()
    assert "**val-arith-depth-d000-sft-deep (dose 0.0, creation)** (6 held-out problems (chains of 5 operands)" in text
    assert "Share of full 5-operand chains: unsteered" in text and "Label fixed before tuning: activation." in text
    assert "This notebook gives no verdict" in text and "Room left to move" in text
    assert "Both moved towards" not in text and "test of activation" not in text  # no yes/no reading is printed
    for fig in notebooks.expected_figures(path):
        caption = json.loads((figs / f"{fig}.json").read_text())["caption"]
        assert "(chains of 5 operands)" in caption and "vector chains of 5-7 operands vs 2-4" in caption, caption
        assert caption.endswith("val-arith-depth-d010-sft-deep (sft-calibration, label activation); 'RL' names each"
                                " pair's tuned model."), caption
    with pytest.raises(Exception, match=r"InvalidConfigError.*set OPERANDS .* above 4 \(got 3\)"):
        notebooks.run_notebook(path, tmp_path, {"SMOKE": True, "PAIRS": pairs[:1], "OPERANDS": 3})


def _serve_orz_from_a_hub_cache(tmp_path, monkeypatch) -> None:
    """The hub pair orz-0.5b as tiny random Qwen2 models under its hub ids, in a local hub cache read offline."""
    from rlmeta_interp.registry import get_pair

    from ..conftest import save_tiny_hub

    pair = get_pair("orz-0.5b")
    cache = tmp_path / "hub"
    for seed, spec in enumerate((pair.base, pair.rl)):
        save_tiny_hub(cache, spec.location, "qwen2", seed=seed)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_quickstart_on_a_hub_pair_from_the_local_hub_cache(tmp_path, monkeypatch):
    """A published pair, named as the README says, loads from the local hub cache (here tiny random Qwen2 models
    under the pair's hub ids) and is steered as a real LM: on two-number questions answered in free text and scored by
    the word-answer verifier, not in an organism world whose answer format it never learnt."""
    import json

    _serve_orz_from_a_hub_cache(tmp_path, monkeypatch)
    monkeypatch.setenv("RLMETA_FIGURES", str(tmp_path / "figures"))
    monkeypatch.setenv("RLMETA_RESULTS", str(tmp_path / "results"))
    path = next(p for p in NOTEBOOKS if p.stem == "00_quickstart")
    text = notebooks.run_notebook(path, tmp_path, {"SMOKE": True, "PAIRS": ["orz-0.5b"]}).read_text()
    assert "**orz-0.5b** (6 questions of 2 numbers, seed 0; vector: step by step vs direct answer)" in text
    caption = json.loads((tmp_path / "figures" / "00_steering_effect.json").read_text())["caption"]
    assert "orz-0.5b (worked-style share on 6 questions of 2 numbers, vector step by step" in caption


def test_reasoning_directions_on_a_hub_pair_from_the_local_hub_cache(tmp_path, monkeypatch):
    """Notebook 01 on a published pair named as the README says (tiny random Qwen2 models under the pair's hub ids):
    the contrast is step-by-step against direct answers to two-number questions, steering recovery is scored on other
    such questions, which the captions do not call held out, and the closing lines give the pair no dose or seed. The
    pair is loaded in bfloat16 (DTYPE), as the README runs it on a GPU."""
    import json

    _serve_orz_from_a_hub_cache(tmp_path, monkeypatch)
    figs = tmp_path / "figures"
    monkeypatch.setenv("RLMETA_FIGURES", str(figs))
    monkeypatch.setenv("RLMETA_RESULTS", str(tmp_path / "results"))
    path = next(p for p in NOTEBOOKS if p.stem == "01_reasoning_directions")
    text = notebooks.run_notebook(path, tmp_path, {"SMOKE": True, "PAIRS": ["orz-0.5b"], "STEER_LAYER": 1,
                                                   "DTYPE": "bfloat16"}).read_text()
    assert "**orz-0.5b** (layer 1; contrast: step by step vs direct answer):" in text
    assert "orz-0.5b: a real pair has no dose and no label" in text
    assert "(step by step vs direct answer; diff_means)" in json.loads(
        (figs / "01_direction_cosines.json").read_text())["caption"]
    caption = json.loads((figs / "01_steering_recovery.json").read_text())["caption"]
    assert "(3 questions of 2 two-digit numbers)" in caption and "held-out" not in caption, caption
    assert caption.endswith(" Pairs: orz-0.5b (no recipe, no label); 'RL' names each pair's tuned model."), caption


@pytest.mark.parametrize("stem", ["01_reasoning_directions", "02_when_not_how"])
def test_operands_without_named_pairs_is_refused(stem, tmp_path, monkeypatch):
    monkeypatch.setenv("RLMETA_FIGURES", str(tmp_path / "figures"))
    monkeypatch.setenv("RLMETA_RESULTS", str(tmp_path / "results"))
    path = next(p for p in NOTEBOOKS if p.stem == stem)
    with pytest.raises(Exception, match="InvalidConfigError.*OPERANDS=5 applies to named pairs only"):
        notebooks.run_notebook(path, tmp_path, {"SMOKE": True, "OPERANDS": 5})


def test_two_phase_dynamics_on_named_pairs_in_smoke_mode(tmp_path, monkeypatch):
    """Notebook 07 on named pairs: each named by pair and label in its figures and captions; a named pair whose RL
    model kept no checkpoints is refused with a typed error."""
    import json

    figs = tmp_path / "figures"
    monkeypatch.setenv("RLMETA_FIGURES", str(figs))
    monkeypatch.setenv("RLMETA_RESULTS", str(tmp_path / "results"))
    path = next(p for p in NOTEBOOKS if p.stem == "07_two_phase_dynamics")
    pair = "demo-arith-d050-rl-correct"  # the shipped pair that kept checkpoints
    text = notebooks.run_notebook(path, tmp_path, {"SMOKE": True, "PAIRS": [pair]}).read_text()
    assert "pairs named" in text and f"**{pair}** (dose 0.5" in text
    for fig in notebooks.expected_figures(path):
        caption = json.loads((figs / f"{fig}.json").read_text())["caption"]
        assert f"Pairs: {pair} (" in caption and "per pair" in caption, (fig, caption)
    with pytest.raises(Exception, match=r"InvalidConfigError.*\['val-arith-depth-d010-sft-deep'\] kept no RL"
                                        r" checkpoints"):
        notebooks.run_notebook(path, tmp_path, {"SMOKE": True, "PAIRS": ["val-arith-depth-d010-sft-deep"]})


def test_two_phase_dynamics_reads_a_composition_pair_in_its_own_world(tmp_path, monkeypatch):
    """Notebook 07 on a composition pair (built here, tiny): each pair is measured in its own world, one row of panels
    per world, and the single-layout caveat is printed."""
    from rlmeta_interp.organism import composition_presets as cp
    from rlmeta_interp.organism import zoo
    from rlmeta_interp.organism.builders import base_spec, rl_spec
    from rlmeta_interp.organism.pretrain import ModelConfig

    tiny = ModelConfig(d_model=32, n_layers=2, n_heads=2, d_mlp=64, max_len=64)
    ev = zoo.EvalConfig(n_samples=4, per_difficulty_problems=4, levels=(2, 3))
    world = cp.COMP.replace(max_level=3)
    base = base_spec("composition", 0.0, "tinyc", steps=4, model=tiny, batch_size=8, eval_cfg=ev, composition=world)
    run = rl_spec(base, "ckpt", steps=2, prompts_per_step=2, num_generations=4, checkpoint_every=1,
                  recipe="composition", composition=world.replace(max_level=3))
    monkeypatch.setitem(zoo.PRESETS, "tinyc", lambda: [base, run])
    monkeypatch.setenv("RLMETA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("RLMETA_FIGURES", str(tmp_path / "figures"))
    monkeypatch.setenv("RLMETA_RESULTS", str(tmp_path / "results"))
    zoo.build_zoo("tinyc", progress=False, threads=1)
    path = next(p for p in NOTEBOOKS if p.stem == "07_two_phase_dynamics")
    text = notebooks.run_notebook(path, tmp_path, {"SMOKE": True, "PAIRS": [run.name]}).read_text()
    import json

    caption = json.loads((tmp_path / "figures" / "07_entropy_dynamics.json").read_text())["caption"]
    assert f"Pairs: {run.name} (composition, label creation" in caption
    assert f"**{run.name}** (dose 0, label creation" in text
    assert "test the execution half of the claim only" in text and "Over the runs that can test the claim" in text


def test_format_collapse_on_named_pairs_keeps_controls_apart(tmp_path, monkeypatch):
    """Notebook 08 on named depth-world pairs with two scratchpad formats (built here, tiny): each pair read in its own
    world, named with its label in the captions, the random-reward control counted apart from the rewarded run, and
    the variants figure comparing every named pair's final model beside its base."""
    import json

    from rlmeta_interp.organism import zoo
    from rlmeta_interp.organism.builders import base_spec, rl_spec
    from rlmeta_interp.organism.pretrain import ModelConfig
    from rlmeta_interp.organism.worlds.arithmetic import ArithmeticConfig

    tiny = ModelConfig(d_model=32, n_layers=2, n_heads=2, d_mlp=64, max_len=96)
    ev = zoo.EvalConfig(n_samples=4, per_difficulty_problems=4, levels=(2, 3))
    arith = ArithmeticConfig(min_operands=2, max_operands=3, leak_free=True, verify="chain")
    base = base_spec("arithmetic", 0.0, "tinyf", steps=4, model=tiny, batch_size=8, eval_cfg=ev, tag="depthmix",
                     arithmetic=arith, arithmetic_dose="depth", shallow_max_depth=2, depth_format="mix")
    runs = [rl_spec(base, f"mixed{'' if r == 'process' else '-' + r}-ckpt", steps=2, prompts_per_step=2,
                    num_generations=4, checkpoint_every=1, reward=r, recipe="depth-format", arithmetic=arith)
            for r in ("process", "random")]
    monkeypatch.setitem(zoo.PRESETS, "tinyf", lambda: [base, *runs])
    monkeypatch.setenv("RLMETA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("RLMETA_FIGURES", str(tmp_path / "figures"))
    monkeypatch.setenv("RLMETA_RESULTS", str(tmp_path / "results"))
    zoo.build_zoo("tinyf", progress=False, threads=1)
    path = next(p for p in NOTEBOOKS if p.stem == "08_format_collapse")
    text = notebooks.run_notebook(path, tmp_path, {"SMOKE": True, "PAIRS": [r.name for r in runs]}).read_text()
    for fig in notebooks.expected_figures(path):
        caption = json.loads((tmp_path / "figures" / f"{fig}.json").read_text())["caption"]
        assert f"Pairs: {runs[0].name} (depth-format, label creation" in caption, (fig, caption)
        assert f"{runs[1].name} (depth-format, label no_signal)" in caption and "'RL' names" not in caption
    import re

    # one rewarded run and one control, counted apart (a control counted as rewarded would read "of 2")
    assert re.search(r"What this says about claim 9: (RL collapsed onto one format in [01] of 1 rewarded runs|no"
                     r" rewarded run collapsed)", text)
    assert re.search(r"the random-reward controls collapsed onto one format in [01] of 1", text)
    assert "No KL variant was run on this recipe." in text
