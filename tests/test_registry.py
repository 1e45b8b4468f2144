from __future__ import annotations

import json

from rlmeta_interp import load_pair, registry

from .conftest import save_tiny


def _manifest(folder, **kw):
    m = {"name": folder.name, "world": "arithmetic", "dose": 0.5, "seed": 0, "files": {}}
    m.update(kw)
    (folder / "manifest.json").write_text(json.dumps(m))


def test_hub_pairs_are_listed():
    pairs = registry.all_pairs()
    for name in ("orz-0.5b", "simplerl-7b", "one-shot-1.5b", "prorl-1.5b"):
        assert name in pairs and pairs[name].base.source == "hub"
    assert pairs["orz-0.5b"].base.location == "Qwen/Qwen2.5-0.5B"


def test_zoo_models_are_discovered_from_manifests(tmp_path, monkeypatch):
    zoo = tmp_path / "zoo"
    monkeypatch.setenv("RLMETA_DATA", str(tmp_path))
    base, rl = zoo / "toy-base", zoo / "toy-rl"
    save_tiny(base, "llama", seed=0)
    save_tiny(rl, "llama", seed=1)
    _manifest(base, kind="base")
    _manifest(rl, kind="rl", base="toy-base", variant="correct")
    assert "toy-rl" in registry.all_pairs() and "toy-base" in registry.all_models()
    pair = load_pair("toy-rl")
    assert pair.world == "arithmetic" and pair.dose == 0.5 and pair.base.name == "toy-base"
    assert pair.rl.manifest["variant"] == "correct"


def test_find_pairs_filters(tmp_path, monkeypatch):
    zoo = tmp_path / "zoo"
    monkeypatch.setenv("RLMETA_DATA", str(tmp_path))
    save_tiny(zoo / "b0", "llama")
    _manifest(zoo / "b0", kind="base", dose=0.0, preset="demo")
    for name, variant, seed in (("r0", "correct", 0), ("r1", "random", 0), ("r2", "correct", 1)):
        save_tiny(zoo / name, "llama", seed=1)
        _manifest(zoo / name, kind="rl", base="b0", variant=variant, dose=0.0, seed=seed, preset="demo")
    assert [p.name for p in registry.find_pairs("arithmetic", variant="correct")] == ["r0", "r2"]
    assert [p.name for p in registry.find_pairs(seed=1)] == ["r2"]
    assert registry.find_pairs("bandits") == [] and registry.find_pairs(dose=0.5) == []
