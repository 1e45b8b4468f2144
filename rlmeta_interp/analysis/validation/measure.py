"""Scorecards of labelled validation pairs: which labelled pairs are validation cases (built up to date, gain
check passed), and each case's scorecard with its optional reference base and same-budget control, cached."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...io import ensure_dir
from .labels import pair_facts

log = logging.getLogger(__name__)


def _optional_models(spec: Any, specs: Sequence[Any]) -> tuple[Any | None, Any | None]:
    """A base of the same design from another pretraining seed (the lowest other seed of ``<stem>[-s<k>]``), and the
    same-budget random-reward control of the same base and recipe, when the zoo holds them."""
    from ... import registry
    from ...models import load_model, load_pair

    ref = None
    # zoo bases are <stem>-base for pretraining seed 0 and <stem>-s<k>-base for seed k
    stem = re.sub(r"-s\d+$", "", spec.base.name.removesuffix("-base"))
    models = registry.all_models()
    for other in [f"{stem}-base"] + [f"{stem}-s{k}-base" for k in range(1, 10)]:
        if other != spec.base.name and other in models:
            ref = load_model(other)
            break
    ctrl = None
    facts = pair_facts(spec)
    for s in specs:
        f = pair_facts(s)
        if s.name != spec.name and f.label == "no_signal" and s.base.name == spec.base.name and f.recipe == facts.recipe:
            ctrl = load_pair(s.name).rl
            break
    return ref, ctrl


def validation_cases(specs: Sequence[Any], build: dict[str, Any]) -> tuple[list[Any], list[str], list[str]]:
    """``(cases, stale, failed)`` of labelled pair specs: ``stale`` are in the zoo but out of date against the preset
    (``build["not_built"]``: another config, changed files, another base), so not what their label describes;
    ``failed`` are creation or activation pairs whose training did not produce the gain their label calls for (the
    gain check in the manifest); the rest are validation cases (controls always count). Each list is logged."""
    from ... import registry
    from ...organism.gain import is_validation_case

    stale = [s.name for s in specs if s.name in set(build["not_built"])]
    if stale:
        log.info("validate: %d labelled pairs are out of date against the preset and are left out: %s", len(stale),
                 ", ".join(stale))
    # a stale pair is named once, as not built
    failed = [s.name for s in specs if s.name not in stale
              and not is_validation_case(s.label, (registry.manifest_of(s.name) or {}).get("gain_check"))]
    if failed:
        log.info("validate: %d labelled pairs have no passed gain check and are not validation cases: %s",
                 len(failed), ", ".join(failed))
    return [s for s in specs if s.name not in failed and s.name not in stale], stale, failed


def score_cards(specs: Sequence[Any], config: Any, out_dir: str | Path | None = None, *,
                progress: bool = True) -> list[Any]:
    """The scorecard of every pair in ``specs`` under ``config``, each with its optional reference base and control
    from among ``specs`` and the zoo, cached under ``out_dir`` (default ``<results>/validation``)."""
    from ...models import load_pair
    from ...paths import results_dir
    from ..scorecard import run_scorecard

    root = ensure_dir(out_dir if out_dir is not None else results_dir() / "validation")
    cards = []
    for spec in specs:
        ref, ctrl = _optional_models(spec, specs)
        cards.append(run_scorecard(load_pair(spec.name), None, config, out_dir=root / spec.name.replace("/", "_"),
                                   progress=progress, reference_base=ref, control_rl=ctrl))
    return cards
