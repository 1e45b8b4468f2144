"""Scorecards of labelled validation pairs: which labelled pairs are validation cases (built up to date, gain
check passed), and each case's scorecard with its optional reference base and same-budget control, cached; and
scorecards of pairs a committed table holds, checked to be built here from the very weights its rows were measured
on."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...errors import InvalidConfigError
from ...io import WEIGHTS_FILE, ensure_dir
from .labels import labelled_pairs, pair_facts, preset_build_status

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


def measure_committed(pairs: Sequence[str], cfg: Any, *, out: str | Path | None, progress: bool) -> list[Any]:
    """Scorecards under ``cfg`` of committed ``pairs`` built here, refused unless each is built up to date and is
    the model its committed row was measured on (:func:`same_weights`)."""
    known = {s.name: s for s in labelled_pairs()}
    unknown = [p for p in pairs if p not in known]
    build = preset_build_status("validation")
    cases, stale, failed = validation_cases([known[p] for p in pairs if p in known], build)
    differ = [why for p in pairs if p in known and p not in stale and (why := same_weights(p)) is not None]
    failed = [f"{p}: no passed gain check in its manifest" for p in failed]
    if unknown or stale or differ or failed:
        raise InvalidConfigError(f"Not the committed pairs: {unknown + stale + differ + failed}. Rebuild them from"
                                 " the validation preset (rlmeta-interp zoo build --preset validation --only ...),"
                                 " or name only pairs whose builds match.")
    return score_cards(cases, cfg, out, progress=progress) if cases else []


def same_weights(pair: str) -> str | None:
    """Why pair ``pair`` built here is not the pair the committed rows were measured on (None when it is): the
    trained model's weights and its base's must carry the checksums the exported manifest
    (``data/validation/<pair>.json.gz``) records, so a measurement added to a committed row reads the same models.
    Tokenizers and the optional reference base and control model that some indicators read are not compared; they
    are built from the same specs, and an indicator that reads them should compare them too."""
    from ... import registry
    from ...io import read_json
    from ...organism.manifests import exported_manifest_path, validation_manifests_dir

    path = exported_manifest_path(validation_manifests_dir(), pair)
    here = registry.manifest_of(pair)
    if path is None or here is None:
        return f"{pair}: no {'exported' if here is not None else 'built'} manifest to compare"
    there = read_json(path)
    for what, a, b in (("weights", (here.get("files") or {}).get(WEIGHTS_FILE),
                        (there.get("files") or {}).get(WEIGHTS_FILE)),
                       ("base weights", here.get("base_weights_sha256"), there.get("base_weights_sha256"))):
        if a is None or a != b:
            return f"{pair}: its {what} built here differ from those the committed row was measured on"
    return None
