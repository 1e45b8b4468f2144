import pytest

from rlmeta_interp.errors import LayerOutOfRangeError
from rlmeta_interp.hooks import all_hook_names, hook_name, parse_hook_name, resolve_layer


def test_names_roundtrip():
    assert hook_name(3) == "blocks.3.hook_resid_post"
    assert hook_name(-1, "mlp_out", n_layers=4) == "blocks.3.hook_mlp_out"
    for name in all_hook_names(2):
        layer, site = parse_hook_name(name)
        assert hook_name(layer, site) == name
    assert parse_hook_name("blocks.0.attn.hook_pattern") is None


def test_bad_layers_and_sites():
    with pytest.raises(LayerOutOfRangeError, match="4 layers"):
        resolve_layer(4, 4)
    with pytest.raises(ValueError, match="n_layers"):  # InvalidConfigError is a ValueError
        hook_name(-1)
    with pytest.raises(ValueError, match="site"):
        hook_name(0, "resid")  # type: ignore[arg-type]


@pytest.mark.parametrize("layer", [2.5, "3", True, None])
def test_non_integer_layers_are_typed_errors(layer):
    from rlmeta_interp.errors import InvalidConfigError

    with pytest.raises(InvalidConfigError, match="A layer must be an integer"):
        hook_name(layer)  # type: ignore[arg-type]
    with pytest.raises(InvalidConfigError, match="A layer must be an integer"):
        resolve_layer(layer, 4)  # type: ignore[arg-type]


def test_numpy_layers_are_integers():
    import numpy as np

    assert hook_name(np.int64(1)) == "blocks.1.hook_resid_post"
    assert resolve_layer(np.int32(-1), 4) == 3
