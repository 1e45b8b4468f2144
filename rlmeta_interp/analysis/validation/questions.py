"""What the registered composition questions share (``beyond``: does the meter read more than pass@k?; ``speed``:
does it read RL's learning speed?): each asks whether the fitted summary reads as activation a set of activation
cases that some label-free reader reads as creation, computed from committed readings, manifests and the committed
fit alone.

A set of cases answers a question only with at least :data:`MIN_CASES` cases from at least :data:`MIN_BASES` bases;
a reader is credited on it when the lower end of the exact (Clopper-Pearson) 95% interval of the share it reads
activation is above one half. The share over bases (a base right only when every case from it is) is reported beside.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from jaxtyping import Float
from scipy.special import expit

from ...errors import InvalidConfigError
from ...io import read_json, write_json_atomic
from ...organism.answers import answer_path
from ...organism.readings import read_again_command, readings_path, readings_records
from ...organism.manifests import manifest_files, pilot_manifests_dir
from .metrics import recall_exact_ci
from .reading import committed_summary, fit_sha256

MIN_CASES = 6  # registered: with fewer cases, or from fewer bases, a set cannot answer its question
MIN_BASES = 4
PASSK_INPUT = "boundary"  # the summary input that measures pass@n expansion itself
READ_AS = ("creation", "activation", "no_signal")
Row = Mapping[str, Any]


def cases(rows: Sequence[Row]) -> list[Row]:
    """The rows that are cases: labelled pairs whose gain check passed, and controls."""
    return [r for r in rows if str(r["case"]) in ("True", "true", "1")]


def standardised(rows: Sequence[Row], inputs: Sequence[str]) -> Float[np.ndarray, "rows inputs"]:
    """The readings' standardised summary inputs, one row per reading (NaN where not measured)."""
    return np.asarray([[np.nan if r.get(n) in (None, "") else float(r[n]) for n in inputs] for r in rows],
                      dtype=float).reshape(len(rows), len(inputs))


def p_without(rows: Sequence[Row], fitted: Mapping[str, Any], neutral: str) -> list[float]:
    """The fitted summary's P(creation) for each row with input ``neutral`` held at its cut (standardised 0), the
    other inputs as the readings carry them (standardised, as the fit reads them; a missing one at its cut, as the
    fit puts it): the committed coefficients applied as ``FittedRules.creation_probability`` applies them, to
    statistics the readings hold already standardised."""
    inputs = list(fitted["inputs"])
    z = standardised(rows, inputs)
    z = np.where(np.isnan(z) | np.asarray([n == neutral for n in inputs]), 0.0, z)
    return [float(p) for p in expit(z @ np.asarray(fitted["coef"], dtype=float) + float(fitted["intercept"]))]


def without_input(rows: Sequence[Row], fitted: Mapping[str, Any], neutral: str) -> list[str]:
    """The fitted summary's reading of each row from :func:`p_without`. A row read no-signal (no gain) or by the vote
    rule (no input measured) keeps its reading."""
    unmeasured = np.isnan(standardised(rows, list(fitted["inputs"]))).all(axis=1)
    return [str(r["reading"]) if r["reading"] == "no_signal" or none else "creation" if p >= 0.5 else "activation"
            for r, p, none in zip(rows, p_without(rows, fitted, neutral), unmeasured, strict=True)]


def credit(read: Sequence[str], bases: Sequence[str]) -> dict[str, Any]:
    """Whether ``read`` (one reading per activation case, from ``bases``) earns the registered credit: at least
    :data:`MIN_CASES` cases from :data:`MIN_BASES` bases, and the exact 95% interval of the share read activation
    above one half. Also the share over bases, a base counting right only when all its cases are."""
    k, n, lo, hi = recall_exact_ci(["activation"] * len(read), list(read))["activation"] if read else [0, 0, np.nan, np.nan]
    per_base: dict[str, bool] = {}
    for r, b in zip(read, bases, strict=True):
        per_base[b] = per_base.get(b, True) and r == "activation"
    kb, nb, blo, bhi = (recall_exact_ci(["activation"] * len(per_base),
                                        ["activation" if ok else "other" for ok in per_base.values()])["activation"]
                        if per_base else [0, 0, np.nan, np.nan])
    answerable = n >= MIN_CASES and nb >= MIN_BASES
    return {"read_activation": k, "n": n, "interval": [lo, hi], "bases_right": kb, "n_bases": nb,
            "bases_interval": [blo, bhi], "answerable": answerable, "credited": bool(answerable and lo > 0.5)}


def deepest(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """A model's pass@1, pass@n and the guesser's pass@n at its deepest evaluated level (none without levels)."""
    by = metrics.get("by_level") or {}
    if not by:
        return {}
    lv = max(by, key=int)
    n = int(metrics["n_samples"])
    return {"level": int(lv), "n": n, "pass@1": by[lv].get("pass@1"), "pass@n": by[lv].get(f"pass@{n}"),
            "guess_pass@n": by[lv].get(f"guess_pass@{n}")}


def by_class(rows: Sequence[Row], readings: Sequence[str]) -> dict[str, dict[str, int]]:
    """How often each reading was given, per design label."""
    out: dict[str, dict[str, int]] = {}
    for r, got in zip(rows, readings, strict=True):
        c = out.setdefault(str(r["label"]), {})
        c[str(got)] = c.get(str(got), 0) + 1
    return out


def base_passn(r: Row, manifests: Mapping[str, Mapping[str, Any]]) -> float:
    """The deepest-level pass@n of the base of ``r``'s pair (NaN when its base has none)."""
    value = deepest(manifests[str(manifests[str(r["pair"])]["base"])]["metrics"]).get("pass@n")
    return float("nan") if value is None else float(value)


def headroom_readings(rows: Sequence[Row], manifests: Mapping[str, Mapping[str, Any]], top: float) -> list[str]:
    """The headroom rule's reading of each row: no-signal where the expansion rule reads no gain; activation when
    its base's deepest-level pass@n is above ``top`` (:func:`headroom_top`), else creation."""
    return ["no_signal" if r["expansion_reading"] == "no_signal" else
            "activation" if base_passn(r, manifests) > top else "creation" for r in rows]


def require_manifests(rows: Sequence[Row], manifests: Mapping[str, Mapping[str, Any]]) -> None:
    """Refuse rows whose pair, or its base, has no manifest in ``manifests``."""
    pairs = {str(r["pair"]) for r in rows}
    missing = sorted(pairs - set(manifests))
    missing += sorted({str(manifests[p].get("base")) for p in pairs if p in manifests} - set(manifests))
    if missing:
        raise InvalidConfigError(f"No manifest for {missing[0]} (and {len(missing) - 1} more): export the test's"
                                 " models first (python -m rlmeta_interp.organism.tables --export-pilot ZOO_DIR).")


def headroom_top(reference: Sequence[Row], manifests: Mapping[str, Mapping[str, Any]]) -> float:
    """The highest deepest-level pass@n among the bases of ``reference``'s creation cases: the headroom rule reads a
    case creation when its base's is at or below it. Every such base must have one."""
    tops = [deepest(manifests[str(manifests[str(r["pair"])]["base"])]["metrics"]).get("pass@n")
            for r in cases(reference) if r["label"] == "creation"]
    if any(t is None or np.isnan(float(t)) for t in tops):
        raise InvalidConfigError("A reference creation case's base has no deepest-level pass@n: the headroom range"
                                 " needs every one (delete its exported record and export its manifest again, with its per-level"
                                 " evaluation).")
    return max((float(t) for t in tops), default=float("nan"))


def read_readings(folder: Path, name: str) -> list[dict[str, Any]]:
    """The rows of ``folder``'s readings ``name`` (:func:`~rlmeta_interp.organism.readings.readings_records`); absent
    readings are refused, since the question needs them."""
    if not readings_path(folder, name).exists():
        raise InvalidConfigError(f"No readings {readings_path(folder, name)}: read the preset first (rlmeta-interp"
                                 f" validate --read --preset ... --readings {readings_path(folder, name)}).")
    return readings_records(folder, name)


def load(folder: Path, names: Sequence[str], table_dir: str | Path | None = None
         ) -> tuple[list[list[dict[str, Any]]], dict[str, dict[str, Any]], dict[str, Any]]:
    """The readings ``names`` under ``folder``, every manifest there by name, and the committed fit (from
    ``table_dir``, default the figures of record). Readings made by another fit than the committed one are refused:
    a question compares readings of one fit."""
    summary = committed_summary(table_dir)
    if summary is None:
        raise InvalidConfigError("No committed validation table: the readings were made by its fit, which this needs.")
    readings = [read_readings(folder, n) for n in names]
    # by the fit's digest, not the summary file's: validate --add rewrites the file under an unchanged fit
    digest = fit_sha256(summary)
    for name, rows in zip(names, readings, strict=True):
        again = f"read them again by the committed fit ({read_again_command(readings_path(folder, name))})"
        made_by = {r.get("fit_sha256") if isinstance(r.get("fit_sha256"), str) else "" for r in rows}
        if "" in made_by:
            raise InvalidConfigError(f"Readings {name}: rows without the digest of the fit that made them (fit_sha256;"
                                     f" read before readings recorded it): {again}.")
        if made_by - {digest}:
            raise InvalidConfigError(f"Readings {name} were made by another fit ({sorted(made_by - {digest})[0][:12]})"
                                     f" than the committed one ({digest[:12]}): a question compares readings of the"
                                     f" committed fit; {again}.")
    manifests = {m["name"]: m for m in map(read_json, manifest_files(folder))}
    return readings, manifests, summary["fitted"]


def run_question(argv: Sequence[str] | None, kind: str, usage: str, others: Sequence[str],
                 answer: Callable[[list[list[dict[str, Any]]], dict[str, dict[str, Any]], dict[str, Any]], Any],
                 folder: str | Path | None = None, table_dir: str | Path | None = None) -> Path:
    """The command of a registered question, ``python -m rlmeta_interp.analysis.validation.<kind> <usage>``: the
    readings named on the command line (as many as ``usage`` names before any parenthesis) and ``others`` are loaded
    (:func:`load`) from ``folder`` (default: the shipped pilots') with the committed fit from ``table_dir``, and
    ``answer(readings, manifests, fitted)`` is written checksummed as ``<first name>-<kind>.json`` beside the
    readings. Returns its path."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != len(usage.split("(")[0].split()):
        raise InvalidConfigError(f"Usage: python -m rlmeta_interp.analysis.validation.{kind} {usage}")
    folder = pilot_manifests_dir() if folder is None else Path(folder)
    readings, manifests, fitted = load(folder, [*args, *others], table_dir)
    return write_json_atomic(answer_path(folder, args[0], kind), answer(readings, manifests, fitted), checksum=True)
