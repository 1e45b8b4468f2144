"""The command line of the real-LM RL run (``rlmeta_interp.realrl.cli``): its arguments, how ``--model``,
``--steps`` and ``--seed`` override the config file, and exit code 2 with the typed error's message on bad input.

Every run here stops at a typed error before any model is loaded, so nothing trains and nothing is written.
"""

from __future__ import annotations

import json

import pytest

from rlmeta_interp.realrl import RealRLConfig, build_parser, main


def _config_file(tmp_path, **fields) -> str:
    path = tmp_path / "run.json"
    path.write_text(json.dumps(RealRLConfig(**fields).to_dict()))
    return str(path)


def test_the_parser_requires_out_and_reads_every_override(tmp_path):
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args(["--steps", "3"])
    assert e.value.code == 2
    args = build_parser().parse_args(["--config", "c.json", "--model", "m", "--out", str(tmp_path / "o"),
                                      "--steps", "7", "--seed", "3", "--no-eval"])
    assert (str(args.config), args.model, args.out, args.steps, args.seed, args.no_eval) == (
        "c.json", "m", tmp_path / "o", 7, 3, True)
    defaults = build_parser().parse_args(["--out", "o"])
    assert (defaults.config, defaults.model, defaults.steps, defaults.seed, defaults.no_eval) == (
        None, None, None, None, False)


def test_a_missing_model_folder_exits_2_and_names_the_folder(tmp_path, capsys):
    absent = tmp_path / "no-such-model"
    assert main(["--model", str(absent), "--out", str(tmp_path / "adapter"), "--no-eval"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(absent) in err and "does not exist" in err
    assert not (tmp_path / "adapter").exists()


def test_the_model_override_replaces_the_config_files_model(tmp_path, capsys):
    in_file, on_line = tmp_path / "model-in-file", tmp_path / "model-on-line"
    cfg = _config_file(tmp_path, model=str(in_file))
    assert main(["--config", cfg, "--model", str(on_line), "--out", str(tmp_path / "adapter")]) == 2
    err = capsys.readouterr().err
    assert str(on_line) in err and str(in_file) not in err


def test_steps_and_seed_overrides_are_checked_like_the_config(tmp_path, capsys):
    cfg = _config_file(tmp_path, model=str(tmp_path / "absent"), steps=3)
    # steps=0 is below the minimum of 1: the override, not the file's 3, reaches the config check
    assert main(["--config", cfg, "--steps", "0", "--out", str(tmp_path / "adapter")]) == 2
    assert "RealRLConfig.steps" in capsys.readouterr().err
    # a seed equal to the default eval_seed would make the held-out problems the training ones
    eval_seed = RealRLConfig().eval_seed
    assert main(["--config", cfg, "--seed", str(eval_seed), "--out", str(tmp_path / "adapter")]) == 2
    assert "eval_seed must differ from seed" in capsys.readouterr().err


def test_a_config_file_that_is_not_json_or_names_unknown_fields_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["--config", str(bad), "--out", str(tmp_path / "adapter")]) == 2
    assert "is not valid JSON" in capsys.readouterr().err
    bad.write_text(json.dumps({"stepz": 3}))
    assert main(["--config", str(bad), "--out", str(tmp_path / "adapter")]) == 2
    assert "has no field(s) ['stepz']" in capsys.readouterr().err
    assert not (tmp_path / "adapter").exists()
