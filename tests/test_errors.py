"""The typed errors (``rlmeta_interp.errors``): each derives from RlmetaError and from the built-in exception callers
already catch, and the errors that build their own message name the close matches and the fix."""

from __future__ import annotations

import inspect

import pytest

from rlmeta_interp import errors as E

# every error class of the module and the built-in (or package) exception it must also be
PARENTS = {
    "UnknownModelError": KeyError, "IncompatiblePairError": ValueError, "MissingWeightsError": FileNotFoundError,
    "CorruptedCheckpointError": ValueError, "ManifestMismatchError": E.CorruptedCheckpointError,
    "WeightMismatchError": E.CorruptedCheckpointError, "HookNotFoundError": KeyError,
    "LayerOutOfRangeError": IndexError, "EmptyInputError": ValueError, "InputTooLongError": ValueError,
    "NonFiniteError": ValueError, "InvalidConfigError": ValueError, "OutputNotWritableError": PermissionError,
    "CheckpointMismatchError": ValueError, "WorldMismatchError": E.InvalidConfigError,
}


def test_every_error_is_an_rlmeta_error_and_the_builtin_callers_catch():
    defined = {n for n, c in inspect.getmembers(E, inspect.isclass)
               if c.__module__ == E.__name__ and issubclass(c, BaseException) and c is not E.RlmetaError}
    assert defined == set(PARENTS), "add each new error class to PARENTS with the built-in it derives from"
    for name, parent in PARENTS.items():
        cls = getattr(E, name)
        assert issubclass(cls, E.RlmetaError) and issubclass(cls, parent), name
    with pytest.raises(FileNotFoundError, match="not here"):  # code that predates the typed errors still works
        raise E.MissingWeightsError("not here")


def test_unknown_model_lists_close_matches_once_and_says_what_to_pass():
    e = E.UnknownModelError("tiny-lama", ["tiny-llama", "tiny-llama", "qwen-7b", "zzz"])
    assert e.name == "tiny-lama" and e.close_matches == ["tiny-llama"]  # duplicates dropped, far names left out
    msg = str(e)
    assert msg.startswith("Unknown model or pair 'tiny-lama'. Did you mean: tiny-llama? Pass a registry name")
    assert "`rlmeta-interp list`" in msg and "hub id that is already in the local hub cache" in msg


def test_unknown_model_without_close_names_adds_only_the_hint():
    e = E.UnknownModelError("abc", ["zzzzzz"], hint="Embedded real LMs: ['zzzzzz'].")
    assert e.close_matches == [] and "Did you mean" not in str(e)
    assert str(e).endswith("local hub cache. Embedded real LMs: ['zzzzzz'].")


def test_unknown_model_offers_at_most_five_matches():
    known = [f"model-{i}" for i in range(8)]  # each is one character from the name asked for
    e = E.UnknownModelError("model-x", known)
    assert len(e.close_matches) == 5 and set(e.close_matches) <= set(known)


def test_key_error_subclasses_print_their_message_unquoted():
    assert str(KeyError("a message")) == "'a message'"  # what a plain KeyError would show
    for e in (E.UnknownModelError("m", []), E.HookNotFoundError("h", ["blocks.0.hook_resid_post"])):
        assert str(e) == e.args[0] and not str(e).startswith("'")
    with pytest.raises(KeyError, match=r"^Unknown model or pair 'm'\."):
        raise E.UnknownModelError("m", [])


def test_hook_not_found_names_close_hooks_the_count_and_six_examples():
    valid = [f"blocks.{i}.hook_{s}" for i in range(2) for s in ("resid_pre", "resid_post", "attn_out", "mlp_out")]
    msg = str(E.HookNotFoundError("blocks.0.hook_resid_pots", valid))
    assert msg.startswith("Hook 'blocks.0.hook_resid_pots' does not exist on this model. Close matches:"
                          " blocks.0.hook_resid_post")
    assert "rlmeta_interp.hook_name(layer, site); 8 valid hooks, e.g. " + ", ".join(valid[:6]) + "." in msg
    assert valid[6] not in msg
    assert "Close matches" not in str(E.HookNotFoundError("qqq", valid))


def test_layer_out_of_range_gives_the_valid_range():
    e = E.LayerOutOfRangeError(5, 4)
    assert str(e) == ("Layer 5 is out of range: this model has 4 layers (valid: 0..3, or negative indices from the"
                      " end).")
    with pytest.raises(IndexError, match=r"valid: 0\.\.0,"):
        raise E.LayerOutOfRangeError(1, 1)
