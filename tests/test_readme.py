"""The README's Python example runs as written on the shipped zoo, and the README keeps exactly two set-up commands."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_library_example_runs(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README.md lost its Python example"
    exec(compile(blocks[0], "README.md", "exec"), {})
    printed = capsys.readouterr().out.strip()
    assert "6+1-2=" in printed and len(printed) > len("6+1-2="), printed


def test_exactly_two_setup_commands_and_ci_runs_one_of_them():
    text = README.read_text()
    setup = text[text.index("## Set up and run"):]
    block = re.search(r"```bash\n(.*?)```", setup, flags=re.S).group(1)
    commands = [line.split("#")[0].strip() for line in block.splitlines() if line.split("#")[0].strip()]
    assert commands == ["make demo", "make test"]
    ci = (README.parent / ".ci" / "run").read_text()
    assert "make test" in ci
