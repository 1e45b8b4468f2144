"""Hub models and the published pairs (``rlmeta_interp.sources.hub``), offline only: specs, the pair list, and
folders resolved from a local hub cache laid out as huggingface_hub writes it (never downloaded)."""

from __future__ import annotations

import pytest

from rlmeta_interp.errors import MissingWeightsError
from rlmeta_interp.sources.hub import HUB_PAIRS, HubSource, hub_how, hub_spec

from ..conftest import save_tiny_hub


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    """An empty hub cache that huggingface_hub reads instead of the machine's."""
    import huggingface_hub.constants as c

    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(c, "HF_HUB_CACHE", str(cache))
    return cache


def test_hub_spec_is_named_after_the_repo_unless_named():
    spec = hub_spec("someorg/model")
    assert (spec.name, spec.source, spec.location, spec.description) == ("someorg/model", "hub", "someorg/model", "")
    named = hub_spec("someorg/model", "pair:base", "the base")
    assert (named.name, named.location, named.description) == ("pair:base", "someorg/model", "the base")


def test_every_published_pair_is_listed_with_how_to_get_both_models():
    src = HubSource()
    assert src.kind == "hub"
    pairs = src.pairs({})
    assert list(pairs) == [p.name for p in HUB_PAIRS] and "orz-0.5b" in pairs
    for name, p in pairs.items():
        assert (p.base.name, p.rl.name) == (f"{name}:base", f"{name}:rl")
        assert p.base.source == p.rl.source == "hub"
        for repo in (p.base.location, p.rl.location):
            assert f"`huggingface-cli download {repo}`" in p.how_to_obtain
    # every model of every pair is a named model, by its repo id
    repos = {m.location for p in HUB_PAIRS for m in (p.base, p.rl)}
    assert set(src.models()) == repos
    assert all(spec == hub_spec(repo) for repo, spec in src.models().items())


def test_a_model_absent_from_the_cache_is_a_missing_weights_error_saying_how_to_get_it(hub_cache):
    src, spec = HubSource(), hub_spec("someorg/absent")
    assert not src.available(spec)
    with pytest.raises(MissingWeightsError, match=r"someorg/absent is not in the local hub cache") as e:
        src.folder(spec)
    assert hub_how("someorg/absent") in str(e.value) and "`huggingface-cli download someorg/absent`" in str(e.value)
    assert src.manifest(spec) is None


def test_a_cached_model_resolves_to_its_snapshot_folder(hub_cache):
    save_tiny_hub(hub_cache, "someorg/tiny", "llama")
    snapshot = hub_cache / "models--someorg--tiny" / "snapshots" / "abc123"  # refs/main names abc123
    src = HubSource()
    assert src.available(hub_spec("someorg/tiny"))
    assert src.folder(hub_spec("someorg/tiny")) == snapshot
    assert src.folder(hub_spec("someorg/tiny").replace(revision="main")) == snapshot
    # a revision the cache holds no ref for is not there, though another revision is
    with pytest.raises(MissingWeightsError, match="not in the local hub cache"):
        src.folder(hub_spec("someorg/tiny").replace(revision="v2"))
    assert not src.available(hub_spec("someorg/tiny").replace(revision="v2"))


def test_a_cached_config_without_weights_is_not_available(hub_cache):
    save_tiny_hub(hub_cache, "someorg/tiny", "llama")
    (hub_cache / "models--someorg--tiny" / "snapshots" / "abc123" / "model.safetensors").unlink()
    assert not HubSource().available(hub_spec("someorg/tiny"))
