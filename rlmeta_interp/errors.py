"""Typed errors. Every message names the problem *and* the fix.

Each class also derives from the closest built-in exception so callers that catch
``ValueError``/``KeyError``/``FileNotFoundError`` keep working.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class RlmetaError(Exception):
    """Base class of every error this package raises on purpose."""


class UnknownModelError(RlmetaError, KeyError):
    def __init__(self, name: str, known: Iterable[str], hint: str = "") -> None:
        known = sorted(set(known))
        close = difflib.get_close_matches(name, known, n=5, cutoff=0.4)
        msg = f"Unknown model or pair {name!r}."
        if close:
            msg += f" Did you mean: {', '.join(close)}?"
        msg += (
            " Pass a registry name (see `rlmeta-interp list`), a local Hugging Face model folder,"
            " or a hub id that is already in the local hub cache."
        )
        if hint:
            msg += " " + hint
        super().__init__(msg)
        self.name = name
        self.close_matches = close

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return self.args[0]


class IncompatiblePairError(RlmetaError, ValueError):
    """Base and RL models cannot be compared (tokenizer, width or depth differ)."""


class MissingWeightsError(RlmetaError, FileNotFoundError):
    """Weights are not on this machine."""


class CorruptedCheckpointError(RlmetaError, ValueError):
    """A weight file, checkpoint or cache entry cannot be read or fails its hash."""


class ManifestMismatchError(CorruptedCheckpointError):
    """A file's sha256 does not match the manifest that describes it."""


class WeightMismatchError(CorruptedCheckpointError):
    """A folder's weight files do not fit the architecture its config.json names (missing or unexpected tensors)."""


class HookNotFoundError(RlmetaError, KeyError):
    def __init__(self, name: str, valid: Iterable[str]) -> None:
        valid = list(valid)
        close = difflib.get_close_matches(name, valid, n=5, cutoff=0.5)
        msg = f"Hook {name!r} does not exist on this model."
        if close:
            msg += f" Close matches: {', '.join(close)}."
        msg += f" Build names with rlmeta_interp.hook_name(layer, site); {len(valid)} valid hooks, e.g. {', '.join(valid[:6])}."
        super().__init__(msg)

    def __str__(self) -> str:
        return self.args[0]


class LayerOutOfRangeError(RlmetaError, IndexError):
    def __init__(self, layer: int, n_layers: int) -> None:
        super().__init__(
            f"Layer {layer} is out of range: this model has {n_layers} layers (valid: 0..{n_layers - 1},"
            " or negative indices from the end)."
        )


class EmptyInputError(RlmetaError, ValueError):
    """An operation received no prompts / samples / rows."""


class InputTooLongError(RlmetaError, ValueError):
    """A prompt does not fit in the model's context."""


class NonFiniteError(RlmetaError, ValueError):
    """NaN or inf where finite numbers are required."""


class InvalidConfigError(RlmetaError, ValueError):
    """A config field is out of range or of the wrong type."""


class OutputNotWritableError(RlmetaError, PermissionError):
    """An output folder cannot be created or written."""


class CheckpointMismatchError(RlmetaError, ValueError):
    """A resumable job found a checkpoint written for another config or other data."""


class WorldMismatchError(InvalidConfigError):
    """A world passed to an analysis contradicts the world recorded in the pair's manifest."""
