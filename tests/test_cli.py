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
