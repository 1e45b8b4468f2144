"""Model cards generated from real zoo manifests; writing one changes no recorded hash and no registry entry."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rlmeta_interp.errors import CorruptedCheckpointError, MissingWeightsError
from rlmeta_interp.io import read_json
from rlmeta_interp.organism import zoo
from rlmeta_interp.organism.card import model_card, write_model_card
from rlmeta_interp.paths import shipped_zoo_dir

SHIPPED = sorted(p.parent for p in shipped_zoo_dir().glob("*/manifest.json"))


def _copy(name: str, dest: Path) -> Path:
    folder = dest / name
    shutil.copytree(shipped_zoo_dir() / name, folder, ignore=shutil.ignore_patterns("README.md"))
    return folder


def test_card_says_what_the_manifest_says_and_changes_no_hash(tmp_path, monkeypatch):
    monkeypatch.setenv("RLMETA_HOME", str(tmp_path / "home"))
    root = tmp_path / "home" / "zoo"
    base, rl = _copy("demo-arith-d050-base", root), _copy("demo-arith-d050-rl-correct", root)
    for folder in (base, rl):
        manifest = read_json(folder / "manifest.json")
        spec = zoo.OrganismSpec.from_dict(manifest["config"])
        assert zoo.is_up_to_date(folder, spec)
        path = write_model_card(folder)
        card = path.read_text()
        assert path == folder / "README.md" and card.startswith("---\nlicense: apache-2.0\n")
        assert f"# {manifest['name']}" in card and "| exposure dose | 0.5 |" in card
        assert all(f"`{sha}`" in card for sha in manifest["files"].values())  # every recorded hash
        assert f"greedy_acc | {manifest['metrics']['greedy_acc']:.3g} |" in card
        assert "\n## Licence\n" in card and "4 layers, 96 d_model" in card
        # the card is not a recorded file: the model still counts as built, and loads through its hashes
        assert zoo.is_up_to_date(folder, spec) and "README.md" not in read_json(folder / "manifest.json")["files"]
        before = path.stat().st_mtime_ns
        assert write_model_card(folder).stat().st_mtime_ns == before  # same bytes: not rewritten
    assert "GRPO steps | 150 |" in (rl / "README.md").read_text()
    assert "`demo-arith-d050-base` (exposure dose 0.5) after GRPO" in (rl / "README.md").read_text()
    from rlmeta_interp.models import load_model

    model = load_model(str(rl))
    assert model.manifest["name"] == "demo-arith-d050-rl-correct"


def test_label_is_shown_when_the_manifest_has_one():
    manifest = {"name": "x-rl", "kind": "rl", "world": "bandits", "dose": 0.0, "base": "x-base", "variant": "long",
                "label": "creation", "split": "test", "recipe": "prolonged RL", "metrics": {"regret_greedy": 5.78},
                "files": {"model.safetensors": "ab" * 32}}
    card = model_card(manifest)
    assert "**creation** (known by construction)" in card and "| split | test |" in card and "label-creation" in card
    assert "regret: lower is better" in card and f"`{'ab' * 32}`" in card


def test_bad_folders_say_how_to_fix(tmp_path):
    with pytest.raises(MissingWeightsError, match="zoo build"):
        write_model_card(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"files": {}}))
    with pytest.raises(CorruptedCheckpointError, match="zoo build"):
        write_model_card(tmp_path)


@pytest.mark.parametrize("folder", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_cards_are_current(folder):
    hf = folder / "config.json"
    expected = model_card(read_json(folder / "manifest.json"), read_json(hf) if hf.exists() else None)
    card = folder / "README.md"
    assert card.exists() and card.read_text() == expected, (
        f"{card} is missing or stale: regenerate with `python -c \"from rlmeta_interp.organism.card import"
        f" write_model_cards; write_model_cards('data/zoo')\"`")
