"""Helpers shared by the tests of the registered questions: a synthetic readings row and manifest, and the check that
a committed answer is what its command computes from the committed files."""

import shutil
from pathlib import Path
from types import ModuleType
from typing import Any

from rlmeta_interp.io import read_json
from rlmeta_interp.organism.manifests import pilot_manifests_dir

A = "activation"


def row(pair: str, reading: str, p: float, gain: str = "passed") -> dict[str, Any]:
    """A readings row of an activation run: its reading, P(creation) ``p`` (also its elicitation) and gain check."""
    return {"pair": pair, "label": A, "case": gain == "passed", "gain_check": gain, "reading": reading,
            "expansion_reading": "creation", "boundary": 0.0, "likelihood": 0.0, "elicitation": p, "p_creation": p}


def manifest(name: str, base: str, seed: int, pass1: float) -> dict[str, Any]:
    """A run's manifest with one evaluated level (3) at pass@1 ``pass1``."""
    return {"name": name, "base": base, "seed": seed, "training_curve": [],
            "metrics": {"n_samples": 8, "by_level": {"3": {"pass@1": pass1, "pass@8": 1.0}}}}


def recomputed(module: ModuleType, kind: str, name: str, tmp_path: Path) -> dict[str, Any]:
    """The answer ``module.main`` writes for the readings ``name``, run on a scratch copy of the committed readings,
    manifests and fit; asserts it equals the committed ``<name>-<kind>.json`` (generated, not edited)."""
    src = pilot_manifests_dir()
    shutil.copytree(src, tmp_path / "pilots")
    out = read_json(module.main([name], folder=tmp_path / "pilots"), required=True)
    assert out == read_json(src / "readings" / f"{name}-{kind}.json", required=True), (
        f"stale: run python -m rlmeta_interp.analysis.validation.{kind} {name}")
    return out
