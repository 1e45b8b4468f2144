"""Manifest files: where the exported records lie (data/validation, data/pilots), how a built zoo's manifests are
copied there (training curve thinned, compressed), and the refusal to let a build with other weights replace a record
that readings were made of."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidConfigError
from ..io import WEIGHTS_FILE, read_json, write_json_atomic
from ..paths import data_dir

MANIFEST = "manifest.json"
log = logging.getLogger(__name__)
EXPORT_SUFFIXES = (".json.gz", ".json")  # an exported manifest's file name: <model><suffix>


def validation_manifests_dir() -> Path:
    return data_dir() / "validation"


def pilot_manifests_dir() -> Path:
    """Manifests of pilot models built outside a preset to choose a recipe's budget (committed without weights);
    they are no validation case."""
    return data_dir() / "pilots"


def manifest_files(folder: str | Path) -> list[Path]:
    """The manifests in ``folder``: ``<model>/manifest.json`` (a zoo) or ``<model>.json.gz`` / ``<model>.json``
    (exported manifests, shipped compressed)."""
    folder = Path(folder)
    exported = (p for suffix in EXPORT_SUFFIXES for p in folder.glob(f"*{suffix}"))
    return sorted(folder.glob("*/" + MANIFEST)) + sorted(exported)


#: Rows of a training curve kept in an exported manifest. A full RL curve (one row per step) is about 0.5 MB of
#: JSON, and the exported manifests ship with the package, whose data must stay under 60 MB; the full curve stays in
#: the built zoo's manifest. 34 rows are every third of the 100 kept before (index 3i of 0..99 is step
#: round(3i(N-1)/99) = round(i(N-1)/33)), so manifests exported at 100 rows were thinned to these exactly.
EXPORTED_CURVE_ROWS = 34


def exported_manifest(manifest: dict[str, Any], rows: int = EXPORTED_CURVE_ROWS) -> dict[str, Any]:
    """``manifest`` with its training curve thinned to at most ``rows`` rows, evenly spaced, first and last kept;
    ``training_curve_rows`` records how many rows the build wrote, so a reader knows the curve was thinned, and
    ``takeoff_step_full_curve`` the take-off read on the full curve (:func:`running_takeoff`: a mean over one stored
    row's spacing, another rule than two single stored rows, so either may come first)."""
    if rows < 2:
        raise InvalidConfigError(f"exported_manifest keeps the first and last rows of a curve: rows={rows} must be"
                                 " at least 2.")
    curve = manifest.get("training_curve") or []
    if len(curve) <= rows:
        return manifest
    keep = sorted({round(i * (len(curve) - 1) / (rows - 1)) for i in range(rows)})
    return {**manifest, "training_curve": [curve[i] for i in keep], "training_curve_rows": len(curve),
            "takeoff_step_full_curve": running_takeoff(manifest, math.ceil((len(curve) - 1) / (rows - 1)))}


def running_takeoff(manifest: dict[str, Any], window: int, level: float = 0.5) -> int | None:
    """The first step of the full training curve from which the mean reward over the next ``window`` rows reaches
    ``level`` (one thinned row's spacing, so comparable with :func:`~.tables.takeoff_step` on an exported curve without its
    thinning); None if it never does, with no curve, or for a run not rewarded for correct answers."""
    if (manifest.get("budget") or {}).get("reward", "correct") != "correct":
        return None
    curve = [r for r in manifest.get("training_curve") or [] if r.get("reward") is not None]
    reward = np.array([float(r["reward"]) for r in curve])
    if window < 1 or len(reward) < window:
        return None
    # a trailing-window mean is one convolution; pandas' rolling would align it to the window's end, not its start
    means = np.convolve(reward, np.ones(window) / window, mode="valid")
    hit = np.flatnonzero(means >= level)
    return int(curve[int(hit[0])]["step"]) if hit.size else None


def exported_manifest_path(folder: str | Path, name: str) -> Path | None:
    """Where model ``name``'s exported manifest lies in ``folder`` (``<name>.json.gz`` or ``<name>.json``), or None."""
    for suffix in EXPORT_SUFFIXES:
        if (path := Path(folder) / f"{name}{suffix}").exists():
            return path
    return None


def export_manifests(zoo_dir: str | Path, dest: str | Path, specs: Sequence[Any]) -> list[Path]:
    """Copy the manifest of every spec in ``specs`` that is built, from exactly that spec, in ``zoo_dir`` to
    ``dest/<name>.json.gz`` (training curve thinned by :func:`exported_manifest`; compressed, since these files count
    against the shipped package's data budget); returns the written paths. A model not built yet, or built from another
    config (an older budget, changed files, another base: :func:`~rlmeta_interp.organism.zoo.is_up_to_date`, the test
    the validation uses), is not written. Records are rewritten from the zoo, except that a model with other weights
    than its record is refused.

    Deleted from ``dest`` (each logged): the records of models that are no spec of ``specs`` (gone from the preset),
    those whose recorded config is not their spec's (the preset changed them), and those of trained models whose
    base's record is gone or names other weights than they were trained from. Kept: the record of a spec this zoo
    does not hold up to date but whose record is of that spec and of its recorded base, since a zoo may hold only the
    models built in one session while the records of the others come from earlier ones."""
    from .spec import records_spec

    out = copy_manifests(zoo_dir, dest, specs, suffix=".json.gz", keep_recorded=False)
    by_name = {spec.name: spec for spec in specs}
    kept: dict[str, dict[str, Any]] = {}
    for path in {p for suffix in EXPORT_SUFFIXES for p in Path(dest).glob(f"*{suffix}")} - set(out):
        spec = by_name.get(path.name.removesuffix(".gz").removesuffix(".json"))
        record = read_json(path) if spec is not None else {}
        if records_spec(record, spec):  # as is_up_to_date compares a built manifest with its spec
            kept[path.name] = record
        else:
            log.info("deleted the exported record %s: its model is not in the preset as recorded", path)
            path.unlink()
    orphans = True
    while orphans:  # until none is left: a trained model's base may be a trained model whose record just went
        orphans = False
        for name, record in list(kept.items()):
            base = record.get("base")
            base_path = exported_manifest_path(dest, str(base)) if base is not None else None
            if base is not None and (base_path is None
                                     or weights_sha(read_json(base_path)) != record.get("base_weights_sha256")):
                log.info("deleted the exported record %s: its base's record is gone or names other weights", name)
                (Path(dest) / name).unlink()
                del kept[name]
                orphans = True
    return out


def weights_sha(manifest: dict[str, Any]) -> str | None:
    """The weights file checksum a manifest records (None when it records none)."""
    return (manifest.get("files") or {}).get(WEIGHTS_FILE)


def pretrain_corpus(model: Any) -> dict[str, Any] | None:
    """The corpus config a model's manifest records for its language-model training (None for a model without a
    manifest, e.g. a real LM loaded from a folder). For a supervised fine-tune that is its fine-tuning corpus, so what
    a pair's base saw is read from the base."""
    manifest = getattr(model, "manifest", None) or {}
    return ((manifest.get("config") or {}).get("pretrain") or {}).get("corpus")


def weights_moved(pair: Any) -> bool | None:
    """Whether a pair's tuned weights differ from its base's, by the weights checksums their manifests record (None
    when either records none, e.g. a model loaded from a bare folder). An RL run whose every reward group was uniform
    takes no step, and its model is its base bit for bit."""
    base, tuned = weights_sha(pair.base.manifest or {}), weights_sha(pair.rl.manifest or {})
    return None if base is None or tuned is None else base != tuned


def _recorded(dest: Path, name: str, manifest: dict[str, Any]) -> tuple[Path | None, str | None]:
    """``dest``'s exported record of ``name`` and the weights checksum it names ((None, None) if none). A record whose
    weights checksum differs from ``manifest``'s is refused: readings made of the recorded weights would be
    attributed to other ones."""
    old = exported_manifest_path(dest, name)
    if old is None:
        return None, None
    mine, theirs = weights_sha(manifest), weights_sha(read_json(old))
    if mine is not None and theirs is not None and mine != theirs:
        raise InvalidConfigError(f"{name} was built again with other weights ({mine[:12]}; the exported record {old}"
                                 f" names {theirs[:12]}): the record is not replaced. Export from the zoo folder that"
                                 " holds the recorded build, or build under another name; a record in data/validation"
                                 " stays (record a rebuild with --export-rebuilds), and a pilot record may be deleted"
                                 " and exported again only if nothing was read or drawn from its weights (a thread"
                                 " count other than build.torch_threads gives other weights).")
    return old, theirs


def copy_manifests(zoo_dir: str | Path, dest: str | Path, specs: Sequence[Any], *, suffix: str = ".json",
                   keep_recorded: bool = True) -> list[Path]:
    """:func:`export_manifests` without deleting anything: for pilots, whose folder also holds manifests of models
    built outside any preset. ``suffix`` ".json.gz" writes them gzip-compressed; a copy of the same model under the
    other suffix, which would list it twice, is dropped. With ``keep_recorded`` a model already recorded under
    ``suffix`` with the same weights checksum keeps its first record (logged): a base rebuilt for a later test must not
    rewrite the record an earlier test's readings were made against; delete the record to export it again. Returns
    the path of every built spec's record, written or kept."""
    from .zoo import is_up_to_date

    if suffix not in EXPORT_SUFFIXES:
        raise InvalidConfigError(f"copy_manifests writes '.json' or '.json.gz' files, not {suffix!r}.")
    out = []
    for spec in specs:
        src = Path(zoo_dir) / spec.name / MANIFEST
        if not is_up_to_date(src.parent, spec):
            continue
        manifest = read_json(src)
        old, recorded = _recorded(Path(dest), spec.name, manifest)
        if keep_recorded and old is not None and old.name == f"{spec.name}{suffix}" and recorded is not None:
            log.info("kept the exported record %s (same weights; delete it to export this build's manifest)", old)
            out.append(old)
            continue
        # compact (and for pilots compressed): the shipped package's data budget (tests/test_paths.py) counts these
        # files
        out.append(write_json_atomic(Path(dest) / f"{spec.name}{suffix}", exported_manifest(manifest), compact=True))
        for other in set(EXPORT_SUFFIXES) - {suffix}:
            (Path(dest) / f"{spec.name}{other}").unlink(missing_ok=True)
    return out
