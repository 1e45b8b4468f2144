"""Canonical hook names: the one place that spells TransformerLens hook sites.

Every other module (and every notebook) builds names with :func:`hook_name`.
"""

from __future__ import annotations

import numbers
import re
from typing import Literal

from .errors import InvalidConfigError, LayerOutOfRangeError

Site = Literal["resid_pre", "resid_mid", "resid_post", "attn_out", "mlp_out"]
SITES: tuple[str, ...] = ("resid_pre", "resid_mid", "resid_post", "attn_out", "mlp_out")
_PATTERN = re.compile(r"^blocks\.(\d+)\.hook_(resid_pre|resid_mid|resid_post|attn_out|mlp_out)$")


def _check_layer_type(layer: object) -> int:
    # 2.5 or "3" would otherwise format into a hook name that exists nowhere ("blocks.2.5.hook_resid_post")
    if isinstance(layer, bool) or not isinstance(layer, numbers.Integral):
        raise InvalidConfigError(f"A layer must be an integer, got {type(layer).__name__} {layer!r}.")
    return int(layer)


def resolve_layer(layer: int, n_layers: int) -> int:
    """Allow negative indices; raise LayerOutOfRangeError otherwise."""
    layer = _check_layer_type(layer)
    if not -n_layers <= layer < n_layers:
        raise LayerOutOfRangeError(layer, n_layers)
    return layer % n_layers


def hook_name(layer: int, site: Site = "resid_post", n_layers: int | None = None) -> str:
    """``hook_name(3)`` -> ``"blocks.3.hook_resid_post"``. With ``n_layers``, negative layers resolve."""
    if site not in SITES:
        raise InvalidConfigError(f"Unknown hook site {site!r}; choose one of {SITES}.")
    layer = _check_layer_type(layer)
    if n_layers is not None:
        layer = resolve_layer(layer, n_layers)
    elif layer < 0:
        raise InvalidConfigError("A negative layer needs n_layers: hook_name(layer, site, n_layers=model.cfg.n_layers).")
    return f"blocks.{layer}.hook_{site}"


def parse_hook_name(name: str) -> tuple[int, str] | None:
    """``"blocks.3.hook_resid_post"`` -> ``(3, "resid_post")``; None for names outside the canonical set."""
    m = _PATTERN.match(name)
    return (int(m.group(1)), m.group(2)) if m else None


def all_hook_names(n_layers: int, sites: tuple[str, ...] = SITES) -> list[str]:
    return [hook_name(layer, site) for layer in range(n_layers) for site in sites]
