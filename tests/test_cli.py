from rlmeta_interp.cli import main


def test_list_shows_hub_pairs(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "orz-0.5b" in out and "PAIRS" in out


def test_typed_errors_become_exit_code_2(capsys):
    assert main(["zoo", "build", "--preset", "no-such-preset", "--out", "/nonexistent-dir/x"]) == 2
    assert "no-such-preset" in capsys.readouterr().err


def test_realrl_arguments_pass_through(capsys):
    import pytest

    with pytest.raises(SystemExit) as e:
        main(["realrl", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "--config" in out and "--steps" in out


def test_quiet_is_accepted_before_and_after_the_subcommand():
    from rlmeta_interp.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["demo", "--quiet"]).quiet is True
    assert parser.parse_args(["--quiet", "demo"]).quiet is True
    assert parser.parse_args(["demo"]).quiet is False
    assert parser.parse_args(["zoo", "build", "--preset", "demo", "--quiet"]).quiet is True


# ---- issue 15 item 12, issue 16 item 8, issue 14 item 5
import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from rlmeta_interp.cli import build_parser  # noqa: E402

ZOO = Path(__file__).resolve().parents[1] / "data" / "zoo"


def _all_actions(parser: argparse.ArgumentParser, path: str = "rlmeta-interp"):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _all_actions(sub, f"{path} {name}")
        elif not isinstance(action, argparse._HelpAction):
            yield path, action


def test_every_option_has_help_and_the_top_level_help_is_for_users(capsys):
    missing = [f"{path} {'/'.join(a.option_strings) or a.dest}" for path, a in _all_actions(build_parser())
               if not a.help and a.dest not in ("command", "zoo_command", "embedded_command")]
    assert not missing, missing
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "Did RL activate a capability" in out and "rlmeta-interp demo" in out
    assert "import their heavy libraries" not in out  # a developer note, not help


def test_list_marks_pairs_that_can_run_now(capsys):
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    row = {ln.split()[0]: ln for ln in lines if ln.startswith("  ") and ln.split()}
    assert "ready" in row["demo-arith-d050-rl-correct"].split()  # shipped zoo: weights are here
    assert "needs weights" in row["simplerl-7b"]  # a hub pair that is not in the local cache
    assert main(["list", "--how"]) == 0
    assert "how:" in capsys.readouterr().out


@pytest.mark.parametrize("argv,fix", [
    (["zoo", "build", "--preset", "foo"], "Unknown preset 'foo'. Zoo presets: demo"),
    (["zoo", "build", "--preset", "dem"], "Did you mean: demo"),
    (["zoo", "build", "--preset", "demo", "--threads", "0"], "--threads 0: pass a positive number"),
    (["zoo", "build", "--preset", "demo", "--jobs", "0"], "--jobs 0: pass a positive number"),
    (["zoo", "build", "--preset", "demo", "--only"], "--only was given no model names: name the models"),
    (["bench", "--only", "nosuch"], r"--only nosuch: name benchmarks from benchmarks/ \(gpu"),
    (["bench", "--only"], "no names"),
    (["bench", "--only", "gpu", "--out", str(Path(__file__).parent)], "is a folder: pass the path of the Markdown"),
    (["bench", "--only", "gpu", "--out", str(ZOO / "demo-arith-d050-base" / "model.safetensors")],
     "is not a text file"),
    (["figures", "--only", "nosuch", "--smoke"], r"No notebook matches \['nosuch'\]"),
    (["figures", "--only"], "--only was given no notebooks"),
    (["demo", "--workers", "0"], "--workers 0: pass a positive number"),
    (["scorecard", "--size", "smoke"], "Name a pair to score"),
    (["scorecard", "demo-arith-d050-rl-correct", "--base", "x", "--rl", "y"], "not both"),
    (["scorecard", "--base", "/no/such/base", "--rl", "/no/such/rl"], "--base /no/such/base: no such folder"),
    (["scorecard", "demo-arith-d050-rl-correct", "--indicators"], "--indicators was given no names"),
    (["validate", "--pairs", "val-arith-depth-d000-sft-dep", "--out", "/nonexistent/v", "--table-dir", "/nonexistent/t"],
     r"Unknown model or pair 'val-arith-depth-d000-sft-dep'. Did you mean: val-arith-depth-d000-sft-deep.*--pairs names 1"),
    (["scorecard", "--base", str(ZOO / "demo-arith-d050-base"), "--rl", str(ZOO / "paper-bandit-d000-rl-correct"),
      "--size", "smoke"], "different worlds \\(arithmetic and bandits"),
    (["scorecard", "demo-arith-d050-rl-correct", "--world", "bandits", "--size", "smoke"],
     "trained in the 'arithmetic' world .*not 'bandits': drop --world or pass --world arithmetic"),
])
def test_bad_command_lines_exit_2_with_the_fix(capsys, argv, fix):
    import re

    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and re.search(fix, err), err
    assert "Traceback" not in err


def test_realrl_runs_under_the_same_error_handling(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["realrl", "--help"])
    assert e.value.code == 0 and "usage: rlmeta-interp realrl" in capsys.readouterr().out
    assert main(["realrl", "--config", str(tmp_path / "missing.json"), "--out", str(tmp_path / "o")]) == 2
    assert "missing.json does not exist" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text("[1, 2")
    assert main(["realrl", "--config", str(tmp_path / "bad.json"), "--out", str(tmp_path / "o")]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    (tmp_path / "list.json").write_text("[1, 2]")
    assert main(["realrl", "--config", str(tmp_path / "list.json"), "--out", str(tmp_path / "o")]) == 2
    assert "takes a dict of fields" in capsys.readouterr().err


@pytest.fixture()
def local_pair(tmp_path):
    """Two zoo folders copied out of data/zoo: a pair the registry does not know by these paths."""
    base = shutil.copytree(ZOO / "demo-arith-d050-base", tmp_path / "my-base")
    rl = shutil.copytree(ZOO / "demo-arith-d050-rl-correct", tmp_path / "my-rl")
    return base, rl


def test_scorecard_of_two_local_folders(local_pair, tmp_path, capsys):
    base, rl = local_pair
    out = tmp_path / "card"
    argv = ["--quiet", "scorecard", "--base", str(base), "--rl", str(rl), "--size", "smoke", "--indicators",
            "boundary", "--out", str(out)]
    assert main(argv + ["--world", "bandits"]) == 2  # the manifests say arithmetic
    assert "trained in the 'arithmetic' world" in capsys.readouterr().err
    assert main(argv + ["--world", "arithmetic"]) == 0
    text = capsys.readouterr().out
    card = json.loads((out / "scorecard.json").read_text())
    assert card["world"] == "arithmetic" and card["pair"] == "my-base~my-rl" and set(card["votes"]) == {"boundary"}
    assert card["votes"]["boundary"] in text and f"written to {out}" in text
    assert main(argv) == 0  # the world comes from the manifest when --world is left out
    # the committed validation table's reading is printed beside the card, with what it cannot claim here
    text = capsys.readouterr().out
    assert "Fitted reading (the summary fitted on the validation table's calibration pairs):" in text
    assert "Measured with other sizes, indicators or layer than the table's" in text


def test_scorecard_at_the_validated_sizes_votes_by_the_fitted_cuts(local_pair, tmp_path, capsys):
    from rlmeta_interp.analysis.validation.reading import committed_summary, fitted_rules, validated_config

    base, rl = local_pair
    out = tmp_path / "card"
    assert main(["--quiet", "scorecard", "--base", str(base), "--rl", str(rl), "--size", "validated",
                 "--indicators", "boundary", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    card = json.loads((out / "scorecard.json").read_text())
    want = validated_config(committed_summary()).replace(indicators=("boundary",),
                                                         rules=fitted_rules(world="arithmetic"))
    assert card["config"] == want.to_dict()
    # an arithmetic pair: the fit has calibration pairs in its world, and its held-out record is printed
    assert "has no calibration pair" not in text and "exact 95% interval" in text


def test_scorecard_of_folders_without_a_world(tmp_path, capsys):
    from .conftest import save_tiny_pair

    base, rl = save_tiny_pair(tmp_path / "pair", scale=0.01, seed=1)
    assert main(["scorecard", "--base", str(base), "--rl", str(rl), "--size", "smoke"]) == 2
    assert "records its world: pass --world arithmetic" in capsys.readouterr().err


@pytest.mark.parametrize("size", ["smoke", "validated"])
def test_scorecard_names_a_bad_folder_before_asking_for_its_world(tmp_path, capsys, size):
    (tmp_path / "empty").mkdir()
    (tmp_path / "model.safetensors").write_bytes(b"x")
    from .conftest import save_tiny_pair

    base, _ = save_tiny_pair(tmp_path / "pair", scale=0.01, seed=1)
    for argv, said in ((["--base", str(tmp_path / "empty"), "--rl", str(base)], "empty has no config.json"),
                       (["--base", str(base), "--rl", str(tmp_path / "empty")], "empty has no config.json"),
                       (["--base", str(tmp_path / "model.safetensors"), "--rl", str(base)],
                        "model.safetensors is a file, not a folder")):
        assert main(["scorecard", *argv, "--size", size]) == 2
        err = capsys.readouterr().err
        assert said in err and "world" not in err, err


def test_validate_without_labelled_pairs_says_how_to_build_them(tmp_path, monkeypatch, capsys):
    empty = tmp_path / "data"
    (empty / "zoo").mkdir(parents=True)
    monkeypatch.setenv("RLMETA_DATA", str(empty))
    monkeypatch.setenv("RLMETA_HOME", str(tmp_path / "home"))
    assert main(["validate", "--out", str(tmp_path / "v"), "--table-dir", str(tmp_path / "t")]) == 2
    err = capsys.readouterr().err
    assert "No labelled pairs" in err and "--preset validation" in err
    assert main(["validate", "--pairs"]) == 2
    assert "--pairs was given no names" in capsys.readouterr().err


def test_validate_into_the_committed_figures_writes_their_index_again(tmp_path, monkeypatch):
    # the index validate leaves beside its figures (cmd_validate without --table-dir) is the one written from every
    # caption sidecar in the figures of record
    import inspect
    import shutil

    from rlmeta_interp import cli, notebooks

    assert "write_figure_index()" in inspect.getsource(cli.cmd_validate)
    from rlmeta_interp.paths import REPO_ROOT

    figures = REPO_ROOT / "figures"
    for p in [*figures.glob("[0-9][0-9]_*.json"), *figures.glob("validation_*.json")]:
        shutil.copy(p, tmp_path / p.name)
    (tmp_path / "README.md").write_text("stale\n")
    monkeypatch.setattr(notebooks, "record_figures_dir", lambda: tmp_path)
    notebooks.write_figure_index()
    assert (tmp_path / "README.md").read_text() == (figures / "README.md").read_text()
