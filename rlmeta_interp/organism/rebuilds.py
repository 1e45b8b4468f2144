"""Models built again, and RL runs added to a base, apart from the records the validation table was measured on.

A model rebuilt from its validation spec on another machine, or under newer code, may get other weights than its
record; its manifest is kept in ``data/pilots/rebuilds/`` beside the record, never replacing it. The bandit RL-seeds
test (preset ``bandit-rlseeds``) adds RL seeds to two rebuilt bases to measure how often a run of the validation
budget passes its gain check; its manifests lie in ``data/pilots/bandit-rlseeds/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InvalidConfigError
from ..io import read_json
from .manifests import (MANIFEST, copy_manifests, exported_manifest_path, manifest_files, pilot_manifests_dir,
                        validation_manifests_dir, weights_sha)
from .markdown import fmt_num


def rebuilds_dir() -> Path:
    """Manifests of validation models built again from their preset's spec on another machine (committed without
    weights), kept apart from the records the validation table was measured on, which they never replace."""
    return pilot_manifests_dir() / "rebuilds"


def export_rebuilds(zoo_dir: str | Path) -> list[Path]:
    """Record in :func:`rebuilds_dir` every validation model built in ``zoo_dir`` from its current spec whose weights
    differ from its record in data/validation (which stays as it is: the validation table was measured on it)."""
    from .presets import preset_specs

    def differs(spec: Any) -> bool:
        built, rec = Path(zoo_dir) / spec.name / MANIFEST, exported_manifest_path(validation_manifests_dir(), spec.name)
        return built.exists() and rec is not None and weights_sha(read_json(built)) != weights_sha(read_json(rec))

    return copy_manifests(zoo_dir, rebuilds_dir(), [s for s in preset_specs("validation") if differs(s)],
                          suffix=".json.gz", keep_recorded=False)


def gain_text(m: dict[str, Any]) -> str:
    """A manifest's gain check in words: passed, failed or n/a, with the regret reduction and its CI where it has one."""
    g = m.get("gain_check")
    if not g:
        return "n/a"
    verdict = "n/a (control)" if g.get("passed") is None else ("passed" if g["passed"] else "failed")
    if g.get("kind") == "regret":
        lo, hi = g["regret_reduction_ci"]
        return f"{verdict}: regret reduction {g['regret_reduction']:.2f} [{lo:.2f}, {hi:.2f}]"
    return verdict


def rebuild_rows(rebuild_dir: str | Path, recorded_dir: str | Path) -> list[dict[str, Any]]:
    """One row per model in ``rebuild_dir`` (built again from the spec of a model recorded in ``recorded_dir``): its
    label, whether its weights (and its base's) equal the record's, and the recorded and rebuilt gain checks."""
    rows = []
    for mpath in sorted(manifest_files(rebuild_dir), key=lambda p: p.name.split(".json")[0]):  # by model name
        m = read_json(mpath)
        rec_path = exported_manifest_path(recorded_dir, m["name"])
        if rec_path is None:
            raise InvalidConfigError(f"{mpath} rebuilds {m['name']}, which {recorded_dir} holds no record of: a rebuild"
                                     " sits beside the record it repeats; delete it or export the record.")
        rec = read_json(rec_path)
        same = "yes" if weights_sha(m) == weights_sha(rec) else "no"
        if m.get("base"):
            same += "; base " + ("yes" if m.get("base_weights_sha256") == rec.get("base_weights_sha256") else "no")
        regret = [(x.get("metrics") or {}).get("regret_sampled") for x in (rec, m)]
        rows.append({"model": m["name"], "label": m.get("label") or "(base)", "same weights as the record": same,
                     "sampled regret, record / rebuild": " / ".join(fmt_num(r, "{:.2f}") for r in regret),
                     "recorded gain check": gain_text(rec), "rebuilt gain check": gain_text(m)})
    return rows


def rlseeds_dir() -> Path:
    """Manifests of the bandit RL-seeds test's added runs (committed without weights); their bases are rebuilds,
    recorded in :func:`rebuilds_dir`."""
    return pilot_manifests_dir() / "bandit-rlseeds"


def export_rlseeds(zoo_dir: str | Path) -> list[Path]:
    """Record in :func:`rlseeds_dir` the RL runs of preset ``bandit-rlseeds`` built in ``zoo_dir`` (not its bases,
    which are the validation specs rebuilt: :func:`export_rebuilds` records them)."""
    from .presets import preset_specs

    runs = [s for s in preset_specs("bandit-rlseeds") if s.kind == "rl"]
    return copy_manifests(zoo_dir, rlseeds_dir(), runs, suffix=".json.gz", keep_recorded=False)


def rl_seed_rows(added_dir: str | Path, rebuild_dir: str | Path, recorded_dir: str | Path) -> list[dict[str, Any]]:
    """One row per RL run trained from a rebuilt base in ``rebuild_dir``: the rebuilt validation runs there and the
    runs added in ``added_dir``, ordered by base and RL seed, each with its gain check and, for a rebuilt validation
    run, its record's (from ``recorded_dir``). Every run must have been trained from its rebuilt base's weights (its
    ``base_weights_sha256``): a run from other weights would credit the base with another draw."""
    rebuilt = {m["name"]: m for m in map(read_json, manifest_files(rebuild_dir))}
    runs = [(m, "rebuilt validation run") for m in rebuilt.values() if m.get("base") in rebuilt]
    runs += [(m, "added RL seed") for m in map(read_json, manifest_files(added_dir))]
    rows = []
    for m, origin in sorted(runs, key=lambda r: (r[0]["base"], r[0]["config"]["rl"]["seed"], r[0]["name"])):
        base = rebuilt.get(m["base"])
        if base is None or m.get("base_weights_sha256") != weights_sha(base):
            raise InvalidConfigError(f"{m['name']} was not trained from the rebuilt {m['base']} that {rebuild_dir}"
                                     " records (another base, or other weights): export that base's rebuild"
                                     " (--export-rebuilds) from the zoo folder the run was built in.")
        rec_path = exported_manifest_path(recorded_dir, m["name"]) if origin.startswith("rebuilt") else None
        rows.append({"run": m["name"], "base": m["base"], "label": m.get("label", ""),
                     "RL seed": m["config"]["rl"]["seed"], "built": origin,
                     "passed": (m.get("gain_check") or {}).get("passed"), "gain check": gain_text(m),
                     "recorded gain check": gain_text(read_json(rec_path)) if rec_path else "(no record)"})
    return rows


def rl_seed_headline(rows: list[dict[str, Any]]) -> str:
    """One sentence for the repository README: how many RL runs from the rebuilt bases passed their gain check,
    with the exact 95% interval, beside how many of the rebuilt runs' records passed."""
    from scipy.stats import binomtest

    if not rows:
        return "No RL run from a rebuilt base is recorded yet."
    k, n = sum(r["passed"] is True for r in rows), len(rows)
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    recorded = [r["recorded gain check"] for r in rows if r["recorded gain check"] != "(no record)"]
    bases = len({r["base"] for r in rows})
    return (f"Under the validation bandit RL budget, {k} of {n} RL runs from {bases} rebuilt base"
            f"{'s' * (bases != 1)} passed their gain check (exact 95% interval {ci.low:.2f} to {ci.high:.2f};"
            f" data/README.md, \"How often a run of this budget gains\")"
            + (f"; {len(recorded)} of those runs rebuild validation runs, whose records (trained from the recorded"
               f" bases) passed {sum(t.startswith('passed') for t in recorded)} of {len(recorded)}." if recorded
               else "."))


def rl_seed_summary(rows: list[dict[str, Any]]) -> str:
    """Per base and over all bases, how many of the runs in ``rows`` passed their gain check, with the exact
    (Clopper-Pearson) 95% interval of that share; then how many of the rebuilt runs' records passed."""
    from scipy.stats import binomtest

    if not rows:
        return "(no RL run from a rebuilt base recorded)\n"
    groups = [(f"{b} ({next(r['label'] for r in rows if r['base'] == b)} by design)",
               [r for r in rows if r["base"] == b]) for b in dict.fromkeys(r["base"] for r in rows)]
    lines = []
    for what, group in [*groups, *([("all bases", rows)] if len(groups) > 1 else [])]:
        k, n = sum(r["passed"] is True for r in group), len(group)
        ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
        lines.append(f"- {what}: {k} of {n} runs passed the gain check (share {k / n:.2f}, exact 95% interval"
                     f" {ci.low:.2f} to {ci.high:.2f}).")
    recorded = [r["recorded gain check"] for r in rows if r["recorded gain check"] != "(no record)"]
    if recorded:
        lines.append(f"- The records of the rebuilt validation runs (built from the recorded bases): "
                     f"{sum(t.startswith('passed') for t in recorded)} of {len(recorded)} passed.")
    return "\n".join(lines) + "\n"
