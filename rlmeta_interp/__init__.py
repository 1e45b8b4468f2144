"""rlmeta-interp: did RL activate a capability the base model already had, or create it?

Heavy libraries (TransformerLens, SAELens, TRL) are imported only when the functions that need them run.
"""

from __future__ import annotations

import logging
import os

os.environ.setdefault("WANDB_MODE", "disabled")  # wandb is a hard dependency of transformer-lens

from .config import LoadConfig, ModelSpec, PairSpec  # noqa: E402
from .errors import (  # noqa: E402
    CorruptedCheckpointError,
    EmptyInputError,
    HookNotFoundError,
    IncompatiblePairError,
    InputTooLongError,
    InvalidConfigError,
    LayerOutOfRangeError,
    ManifestMismatchError,
    MissingWeightsError,
    NonFiniteError,
    OutputNotWritableError,
    RlmetaError,
    UnknownModelError,
)
from .hooks import hook_name  # noqa: E402
from . import codesource  # noqa: E402, F401  (reads the package's source now: the code digests describe what runs)

__version__ = "0.1.0"
logging.getLogger(__name__).addHandler(logging.NullHandler())

_LAZY = {
    "load_model": "models", "load_pair": "models", "LoadedModel": "models", "Pair": "models",
    "validate_pair": "models", "harvest": "activations", "Activations": "activations",
    "SteeringVector": "steering", "sample_completions": "sampling",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'rlmeta_interp' has no attribute {name!r}")


__all__ = [
    "LoadConfig", "ModelSpec", "PairSpec", "hook_name", *_LAZY,
    "RlmetaError", "UnknownModelError", "IncompatiblePairError", "MissingWeightsError", "CorruptedCheckpointError",
    "ManifestMismatchError", "HookNotFoundError", "LayerOutOfRangeError", "EmptyInputError", "InputTooLongError",
    "NonFiniteError", "InvalidConfigError", "OutputNotWritableError",
]
