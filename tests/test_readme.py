"""The README's Python example runs as written on the shipped zoo, the README keeps exactly two set-up commands, and
what its caveats say of the committed validation table holds there."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_library_example_shows_its_effect(capsys):
    """The example steers the dose-0.5 base from scratchpads to bare answers, as the README says it does."""
    from rlmeta_interp.organism.worlds.arithmetic import SCRATCHPAD_FORMATS, format_of, parse_answer

    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README.md lost its Python example"
    ns: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), ns)
    plain, steered, prompts = ns["plain"], ns["steered"], ns["prompts"]
    n = len(prompts)
    scratchpads = sum(format_of(t) in SCRATCHPAD_FORMATS for t in plain)
    direct = sum(format_of(t) == "direct" for t in steered)
    assert scratchpads == n and direct == n, (plain, steered)  # the README's claim: all six switch format
    truth = [eval(p.rstrip("=")) for p in prompts]  # the prompts are literal sums such as "6+1-2="
    correct = [sum(parse_answer(t) == v for t, v in zip(ts, truth, strict=True)) for ts in (plain, steered)]
    assert correct == [5, 0], correct  # "5 of the 6 correctly, steered none"
    printed = capsys.readouterr().out
    shown = re.search(r"```\n(unsteered:.*?)```", README.read_text(), flags=re.S).group(1)
    assert printed == shown, (printed, shown)  # the README shows the real output


def test_exactly_two_setup_commands_and_ci_runs_one_of_them():
    text = README.read_text()
    setup = text[text.index("## Set up and run"):]
    block = re.search(r"```bash\n(.*?)```", setup, flags=re.S).group(1)
    commands = [line.split("#")[0].strip() for line in block.splitlines() if line.split("#")[0].strip()]
    assert commands == ["make demo", "make test"]
    ci = (README.parent / ".ci" / "run").read_text()
    assert "make test" in ci


def test_papermill_commands_name_parameters_the_notebook_has():
    """A papermill parameter a notebook lacks is ignored with a warning, and the notebook runs on its defaults: every
    ``-p NAME`` / ``-y "NAME: ..."`` the README and docs show must be one of that notebook's parameters, of its type."""
    import yaml

    from rlmeta_interp import notebooks

    docs = [README, *sorted((README.parent / "docs").glob("*.md"))]
    found = 0
    for doc in docs:
        for cmd in re.findall(r"papermill (notebooks/\S+\.ipynb) \S+((?: -[py] (?:\"[^\"]*\"|\S+)(?: \S+)?)*)",
                              doc.read_text()):
            path = README.parent / cmd[0].replace(".ipynb", ".py")
            given = {}
            for flag, body in re.findall(r"-([py]) (\"[^\"]*\"|\S+(?: \S+)?)", cmd[1]):
                if flag == "p":
                    name, value = body.split(" ", 1)
                    given[name] = yaml.safe_load(value)
                else:
                    given.update(yaml.safe_load(body.strip('"')))
            notebooks.validate_parameters(path, given)
            found += 1
    assert found, "no papermill command found in the README or docs"


def test_caveats_on_the_shuffled_reward_and_unread_pairs_hold_on_the_committed_table():
    """The README's caveats say, without counts, what the committed per-pair table holds: the current summary reads
    every shuffled-reward pair of the clean-test seeds (6 to 9) as creation, reliance voting creation and elicitation
    activation on their RL pairs; reliance reads no random-reward RL control and not the three dose-0 runs named."""
    import pandas as pd

    readme = " ".join(README.read_text().split())
    assert "reads every shuffled-reward pair of pretraining seeds 6 to 9" in readme
    table = pd.read_csv(README.parent / "figures" / "validation_pairs.csv")
    shuffled = table[table["pair"].str.contains(r"^val-bandit-shuf-d100-s[6-9]-", regex=True)]
    assert len(shuffled) >= 4 and (shuffled["label"] == "creation").all()
    assert (shuffled["vote_summary"] == "creation").all()
    rl = shuffled[shuffled["recipe"] == "bandit-dose"]
    assert len(rl) >= 2 and (rl["reliance_vote"] == "creation").all() and (rl["elicitation_vote"] == "activation").all()
    controls = table[(table["recipe"] == "bandit-dose") & (table["label"] == "no_signal")]
    assert len(controls) and controls["reliance"].isna().all()
    named = ["val-bandit-d000-s1-rl-long", "val-bandit-d000-s2-rl-long", "val-bandit-d000-rl-long-s1"]
    assert all(n in readme for n in named)
    assert table.set_index("pair").loc[named, "reliance"].isna().all()


def test_every_claim_has_its_here_line_and_the_readme_names_its_reading():
    """Each of the ten claims in docs/claims.md says what this project measured of it (a "Here" line), and the
    README's list of where the figures do not bear a claim out names every claim, so none is silently skipped."""
    claims = (README.parent / "docs" / "claims.md").read_text()
    sections = re.split(r"^## Claim (\d+):", claims, flags=re.M)[1:]
    numbers = [int(n) for n in sections[::2]]
    assert numbers == list(range(1, 11))
    missing = [n for n, body in zip(numbers, sections[1::2], strict=True) if "\n- **Here" not in body]
    assert not missing, f"claims without a 'Here' line: {missing}"
    readme = " ".join(README.read_text().split())
    start = readme.index("**Where the figures of record do not bear their claim out**")
    listing = readme[start:readme.index("The notebooks' defaults are", start)]
    unnamed = [n for n in numbers if not re.search(rf"claim\s+{n}, \*", listing)]
    assert not unnamed, f"claims the README's list does not name: {unnamed}"
