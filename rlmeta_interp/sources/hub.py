"""Published base/RL pairs on the model hub, loaded only from the local hub cache (this project never downloads)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..config import ModelSpec, PairSpec, SourceKind
from ..errors import MissingWeightsError


def hub_how(repo_id: str) -> str:
    """How to get ``repo_id`` into the local hub cache, for error messages and ``how_to_obtain``."""
    return (f"Download it on a machine with hub access (`huggingface-cli download {repo_id}`), then copy the hub"
            " cache (HF_HOME) to this machine, or pass a local folder instead of the name.")


def hub_spec(repo_id: str, name: str | None = None, description: str = "") -> ModelSpec:
    """The spec of a hub model (``name`` defaults to the repo id)."""
    return ModelSpec(name=name or repo_id, source="hub", location=repo_id, description=description)


def _hub_pair(name: str, base: str, rl: str, desc: str, layer: int | None = None) -> PairSpec:
    return PairSpec(
        name=name, base=hub_spec(base, f"{name}:base"), rl=hub_spec(rl, f"{name}:rl"), description=desc,
        suggested_layer=layer, how_to_obtain=" ".join(hub_how(r) for r in (base, rl)),
    )


HUB_PAIRS: tuple[PairSpec, ...] = (
    _hub_pair("orz-0.5b", "Qwen/Qwen2.5-0.5B", "Open-Reasoner-Zero/Open-Reasoner-Zero-0.5B",
              "RL from base (Venhoff et al. 2510.07364: steering layer 9, SAE layer 8).", layer=9),
    _hub_pair("simplerl-7b", "Qwen/Qwen2.5-7B", "hkust-nlp/Qwen-2.5-7B-SimpleRL-Zoo",
              "The pass@k boundary pair of Yue et al. 2504.13837."),
    _hub_pair("one-shot-1.5b", "Qwen/Qwen2.5-Math-1.5B", "ypwang61/One-Shot-RLVR-Qwen2.5-Math-1.5B-pi1",
              "One-shot RLVR (Wang et al. 2504.20571). The RL id is unverified here (no hub access): check the"
              " release page of ypwang61/One-Shot-RLVR and pass the folder if it differs."),
    _hub_pair("prorl-1.5b", "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", "nvidia/Nemotron-Research-Reasoning-Qwen-1.5B",
              "Prolonged RL (ProRL, Liu et al. 2505.24864)."),
)


class HubSource:
    """Hub ids resolved in the local hub cache (``local_files_only``); the published pairs of :data:`HUB_PAIRS`."""

    kind: SourceKind = "hub"

    def models(self) -> dict[str, ModelSpec]:
        return {m.location: hub_spec(m.location) for p in HUB_PAIRS for m in (p.base, p.rl)}

    def pairs(self, models: Mapping[str, ModelSpec]) -> dict[str, PairSpec]:
        return {p.name: p for p in HUB_PAIRS}

    def folder(self, spec: ModelSpec) -> Path:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import LocalEntryNotFoundError

        try:
            return Path(snapshot_download(spec.location, revision=spec.revision, local_files_only=True))
        except (LocalEntryNotFoundError, OSError, ValueError) as e:
            raise MissingWeightsError(
                f"{spec.location} is not in the local hub cache ({type(e).__name__}). {hub_how(spec.location)}"
            ) from e

    def manifest(self, spec: ModelSpec) -> dict[str, Any] | None:
        return None

    def available(self, spec: ModelSpec) -> bool:
        """Whether the hub cache holds the config and a weight file of ``spec`` (at its revision)."""
        from huggingface_hub import try_to_load_from_cache

        found = [try_to_load_from_cache(spec.location, f, revision=spec.revision)
                 for f in ("config.json", "model.safetensors", "model.safetensors.index.json")]
        return isinstance(found[0], str) and any(isinstance(f, str) for f in found[1:])
