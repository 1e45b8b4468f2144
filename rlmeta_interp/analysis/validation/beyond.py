"""Does the meter read more than pass@k? The low-dose test's registered question (docs/preregistration.md), computed
from committed readings and manifests alone.

An *expanding activation case* is an activation-by-design pair that passed its gain check and that the label-free
expansion rule reads as creation (pass@n expanded at some level). The meter is credited with reading more than pass@k
only when there are at least :data:`MIN_EXPANDING` such cases and the fitted summary reads them as activation with the
lower end of the exact 95% interval of that share above one half. Reported beside it: every class's readings by the
fitted summary and by the expansion rule, per dose how many activation runs passed and expanded, each base's pass@1
and pass@n at the deepest level, and per indicator the AUC with which its statistic separates a reference test's
creation cases from the expanding activation cases (bootstrap over bases).

``python -m rlmeta_interp.analysis.validation.beyond TEST REFERENCE`` writes ``<TEST>-beyond.json`` beside the
readings (``data/pilots/readings/``), from ``TEST.csv`` and ``REFERENCE.csv`` there and the pilot manifests.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ...errors import InvalidConfigError
from ...io import read_csv, read_json, write_json_atomic
from ...organism.tables import manifest_files, pilot_manifests_dir, readings_path
from .metrics import recall_exact_ci, roc_auc_ci

MIN_EXPANDING = 6  # registered: with fewer expanding cases the test cannot answer its question
INDICATORS = ("boundary", "likelihood", "elicitation")  # the statistics the readings carry, larger = creation
N_BOOT = 2000


def _cases(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [r for r in rows if str(r["case"]) in ("True", "true", "1")]


def expanding_activation(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The activation cases (gain check passed) whose label-free expansion rule reads creation."""
    return [r for r in _cases(rows) if r["label"] == "activation" and r["expansion_reading"] == "creation"]


def _deepest(metrics: Mapping[str, Any]) -> dict[str, Any]:
    by = metrics.get("by_level") or {}
    if not by:
        return {}
    lv = max(by, key=int)
    n = int(metrics["n_samples"])
    return {"level": int(lv), "n": n, "pass@1": by[lv].get("pass@1"), "pass@n": by[lv].get(f"pass@{n}"),
            "guess_pass@n": by[lv].get(f"guess_pass@{n}")}


def beyond_passk(test: Sequence[Mapping[str, Any]], reference: Sequence[Mapping[str, Any]],
                 manifests: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The registered question over readings rows ``test`` (the low-dose test) and ``reference`` (the test whose
    creation cases the indicators' AUCs are taken against); ``manifests`` maps every pair and base named in them to
    its manifest (for its base, dose and evaluations). JSON-ready."""
    missing = sorted({str(r["pair"]) for r in (*test, *reference)} - set(manifests))
    if missing:
        raise InvalidConfigError(f"No manifest for {missing[0]} (and {len(missing) - 1} more): export the test's"
                                 " models first (python -m rlmeta_interp.organism.tables --export-pilot ZOO_DIR).")
    expanding = expanding_activation(test)
    names = {str(r["pair"]) for r in expanding}
    read = [str(r["reading"]) for r in expanding]
    k, n, lo, hi = (recall_exact_ci(["activation"] * len(read), read)["activation"] if read
                    else [0, 0, float("nan"), float("nan")])
    per_dose: dict[str, Counter[str]] = {}
    for r in test:
        if r["label"] != "activation":
            continue
        c = per_dose.setdefault(f"{float(manifests[r['pair']]['dose']):g}", Counter())
        c["runs"] += 1
        c["passed"] += r["gain_check"] == "passed"
        c["expanding"] += r["pair"] in names
        c["expanding read activation"] += r["pair"] in names and r["reading"] == "activation"
    bases = sorted({str(manifests[str(r["pair"])]["base"]) for r in (*test, *reference)
                    if r["label"] in ("activation", "creation")})
    base_rows = [{"base": b, "dose": manifests[b]["dose"], **_deepest(manifests[b]["metrics"])}
                 for b in bases if b in manifests]
    creation = [r for r in _cases(reference) if r["label"] == "creation"]
    aucs = {}
    for ind in INDICATORS:
        two = [*creation, *expanding]
        scores = [None if r.get(ind) in (None, "") else float(r[ind]) for r in two]
        auc = roc_auc_ci(scores, [r["label"] == "creation" for r in two], n_boot=N_BOOT,
                         groups=[str(manifests[str(r["pair"])]["base"]) for r in two])
        aucs[ind] = dict(zip(("auc", "lo", "hi", "n"), auc, strict=True))  # positive: the creation cases

    def by_class(column: str) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for r in _cases(test):
            out.setdefault(str(r["label"]), {}).setdefault(str(r[column]), 0)
            out[str(r["label"])][str(r[column])] += 1
        return out

    return {"min_expanding": MIN_EXPANDING, "answerable": n >= MIN_EXPANDING,
            "credited": bool(n >= MIN_EXPANDING and lo > 0.5),
            "expanding": [str(r["pair"]) for r in expanding], "expanding_read_activation": k, "n_expanding": n,
            "interval": [lo, hi], "per_dose": {d: dict(c) for d, c in sorted(per_dose.items())},
            "summary_by_class": by_class("reading"), "expansion_rule_by_class": by_class("expansion_reading"),
            "bases": base_rows, "reference_creation_cases": len(creation), "indicator_auc": aucs}


def _rows(folder: Path, name: str) -> list[dict[str, Any]]:
    path = readings_path(folder, name)
    if not path.exists():
        raise InvalidConfigError(f"No readings {path}: read the preset first (rlmeta-interp validate --read --preset"
                                 f" ... --readings {path}).")
    return read_csv(path, required=True, keep_default_na=False, na_values=[""]).to_dict("records")


def main(argv: list[str] | None = None, folder: str | Path | None = None) -> Path:
    """The command (module docstring); ``folder`` holds the manifests and their ``readings/`` (default: the shipped
    pilots'). Returns the JSON written."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        raise InvalidConfigError("Usage: python -m rlmeta_interp.analysis.validation.beyond TEST REFERENCE (readings"
                                 " names under data/pilots/readings, e.g. composition-lowdose composition-test2)")
    folder = pilot_manifests_dir() if folder is None else Path(folder)
    test, reference = _rows(folder, args[0]), _rows(folder, args[1])
    manifests = {m["name"]: m for m in map(read_json, manifest_files(folder))}
    out = readings_path(folder, args[0]).with_name(f"{args[0]}-beyond.json")
    return write_json_atomic(out, beyond_passk(test, reference, manifests), checksum=True)


if __name__ == "__main__":
    main()
