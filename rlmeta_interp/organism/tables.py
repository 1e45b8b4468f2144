"""Tables generated from zoo manifests, for data/README.md: one row per model, and the gain readings per level.

``python -m rlmeta_interp.organism.tables`` rewrites the generated sections of data/README.md (between
``<!-- begin NAME -->`` and ``<!-- end NAME -->`` markers) from the manifests, so no number there is typed by hand:
the shipped models' (``data/zoo/*/manifest.json``) and the validation build's (``data/validation/<name>.json.gz``, the
manifests of a ``zoo build --preset validation``, committed without their weights), with the readings and registered
answers that :mod:`.readings` renders. ``--export ZOO_DIR`` first copies the validation preset's manifests from a built
zoo into ``data/validation/``; ``--export-pilot ZOO_DIR`` the pilot presets' into ``data/pilots/``;
``--export-rebuilds ZOO_DIR`` the validation models built there with other weights than their records into
``data/pilots/rebuilds/``; ``--export-rlseeds ZOO_DIR`` the bandit RL-seeds test's runs into
``data/pilots/bandit-rlseeds/`` (trained from rebuilt bases) or ``data/pilots/bandit-rlseeds-recorded/`` (from bases
with their records' weights; :mod:`.rebuilds`); ``--export-dynamics ZOO_DIR`` the models of the presets whose RL
runs keep dynamics checkpoints into ``data/pilots/dynamics/``.
"""

from __future__ import annotations

import logging
import math
import re
import sys
import textwrap
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import InvalidConfigError, MissingWeightsError
from ..io import read_json, write_json_atomic, write_text_atomic
from ..paths import REPO_ROOT, is_source_checkout, shipped_zoo_dir
from .gain import is_validation_case, recheck_records
from .design_table import seed_design
from .presets import DYNAMICS_PRESETS, earlier_runs, preset_specs
from .markdown import markdown_rows
from .answers import answer_texts, tests_summary_rows
from .manifests import (MANIFEST, copy_manifests, export_manifests, exported_manifest_path, manifest_files,
                        pilot_manifests_dir, validation_manifests_dir, weights_sha)
from .readings import READINGS, readings_evaluation, readings_rows
from .rebuilds import (HIDDEN, budget_records, export_rebuilds, export_rlseeds, rebuild_rows, rebuilds_dir,
                       recorded_seed_headline, recorded_seed_rows, recorded_seed_summary, rl_seed_headline, rl_seed_rows,
                       rl_seed_summary, rlseeds_dir, rlseeds_recorded_dir)

log = logging.getLogger(__name__)


def summary_rows(out_dir: str | Path) -> list[dict[str, Any]]:
    """One row per built model under ``out_dir`` with its headline metrics (for data/README.md and notebooks)."""
    rows = []
    for mpath in manifest_files(out_dir):
        m = read_json(mpath)
        met = m.get("metrics", {})
        row: dict[str, Any] = {"name": m["name"], "kind": m["kind"], "world": m["world"], "dose": m["dose"],
                               "variant": m.get("variant", ""), "seed": m["seed"], "base": m.get("base", ""),
                               "label": m.get("label") or "", "split": m.get("split") or ""}
        if "gain_check" in m and m["gain_check"].get("passed") is not None:
            row["gain_check"] = "passed" if m["gain_check"]["passed"] else "failed"
        for key in ("pass@1", "pass@64", "pass@128", "guess_pass@128", "greedy_acc", "delta_pass@1_vs_base", "regret_sampled", "regret_greedy",
                    "regret_thompson", "regret_random", "regret_ratio_sampled_vs_thompson"):
            if key in met:
                row[key] = round(float(met[key]), 3)
        if "format_shares" in met:
            row["formats"] = ", ".join(f"{k} {v:.2f}" for k, v in met["format_shares"].items())
        row["build_s"] = round(float(m.get("build", {}).get("seconds", float("nan"))), 1)
        row["cpu_s"] = round(float(m.get("build", {}).get("cpu_seconds", float("nan"))), 1)
        if mpath.name == MANIFEST:
            row["mb"] = round(sum(p.stat().st_size for p in mpath.parent.rglob("*.safetensors")) / 1e6, 2)
        rows.append(row)
    return rows


def markdown_table(out_dir: str | Path) -> str:
    """``summary_rows`` as a Markdown table (pasted into data/README.md after a build)."""
    return markdown_rows(summary_rows(out_dir), "(no models)")


def _pct(x: float) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}"


def _ci(ci: list[float]) -> str:
    return f"[{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]"


def gain_rows(out_dir: str | Path) -> list[dict[str, Any]]:
    """One row per (labelled model, evaluated level): base, trained and guesser pass@1 / pass@n with paired CIs of
    the differences, the preserved / expanded / shrunk split of problems, and the model's gain-check verdict."""
    rows = []
    for mpath in manifest_files(out_dir):
        m = read_json(mpath)
        g = m.get("gain_check")
        if not m.get("label") or not g or g.get("kind") != "passk":
            continue
        for level, r in sorted(g["levels"].items(), key=lambda kv: int(kv[0])):
            n = r["n_samples"]
            rows.append({
                "model": m["name"], "recipe": m.get("recipe", ""), "label": m["label"], "split": m.get("split") or "",
                "level": int(level), "n": n,
                "base pass@1": _pct(r["base_pass@1"]), "trained pass@1": _pct(r["trained_pass@1"]),
                "diff pass@1 (CI)": _ci(r["diff_pass@1_ci"]),
                "base pass@n": _pct(r[f"base_pass@{n}"]), "trained pass@n": _pct(r[f"trained_pass@{n}"]),
                "guess pass@n": _pct(r[f"guess_pass@{n}"]), "diff pass@n (CI)": _ci(r[f"diff_pass@{n}_ci"]),
                "preserved/expanded/shrunk": f"{r['preserved']}/{r['expanded']}/{r['shrunk']}",
                "gain check": "n/a" if g.get("passed") is None else ("passed" if g["passed"] else "failed"),
            })
    return rows


def gain_markdown(out_dir: str | Path) -> str:
    """``gain_rows`` as a Markdown table (percentages; n = samples per problem)."""
    return markdown_rows(gain_rows(out_dir), "(no labelled model with a per-level evaluation)")


def gain_recheck(folders: Sequence[str | Path]) -> str:
    """For data/README.md: the stored gain checks of the manifests in ``folders`` read again by
    :func:`~rlmeta_interp.organism.gain.recheck_gain`, in a sentence, and the models whose verdict or levels differ."""
    manifests = {m["name"]: m for folder in folders for m in map(read_json, manifest_files(folder))}
    read, rows = recheck_records(manifests)
    flipped = [r for r in rows if r["gain check"] != r["recheck"]]
    said = (f"Of the {read} labelled trained models recorded with their base, the permutation test changes the"
            f" verdict of {len(flipped)}" + (f" ({', '.join(r['model'] for r in flipped)})" if flipped else "")
            + f", and the levels of {len(rows) - len(flipped)} (below).\n\n")
    return said + markdown_rows(rows, "(no model whose levels differ)")


def render_sections(text: str, sections: dict[str, str]) -> str:
    """``text`` with each ``<!-- begin NAME -->...<!-- end NAME -->`` block replaced by ``sections[NAME]``."""
    for name, body in sections.items():
        pat = re.compile(rf"(<!-- begin {re.escape(name)} -->\n).*?(<!-- end {re.escape(name)} -->)", re.S)
        if not pat.search(text):
            raise InvalidConfigError(f"The README has no '<!-- begin {name} -->' ... '<!-- end {name} -->' block: put"
                                     " the pair of markers back where the section belongs.")
        text = pat.sub(lambda m, body=body: m.group(1) + body + m.group(2), text)
    return text


def _reading(m: dict[str, Any]) -> str:
    """The gain check in a few words: expanded / sharpened levels, or the paired regret reduction with its CI."""
    g = m.get("gain_check") or {}
    if g.get("kind") == "regret":
        lo, hi = g["regret_reduction_ci"]
        return f"regret reduction {g['regret_reduction']:+.2f} [{lo:+.2f}, {hi:+.2f}]"
    if g.get("kind") == "passk":
        return (f"expanded at {', '.join(g['expanded_levels']) or 'none'}; pass@1 up at"
                f" {', '.join(g['sharpened_levels']) or 'none'}; depth {g['in_distribution_level']}"
                f" {'kept' if g['in_distribution_ok'] else 'collapsed'}")
    return ""


def validation_rows(folder: str | Path) -> list[dict[str, Any]]:
    """One row per labelled model of the validation build: design label and split, the gain check, CPU seconds."""
    return [_validation_row(m) for m in map(read_json, manifest_files(folder)) if m.get("label")]


def _validation_row(m: dict[str, Any]) -> dict[str, Any]:
    passed = (m.get("gain_check") or {}).get("passed")
    return {"model": m["name"], "world": m["world"], "recipe": m.get("recipe", ""), "label": m["label"],
            "split": m.get("split") or "", "gain check": "n/a" if passed is None else
            ("passed" if passed else "failed"), "reading": _reading(m),
            "cpu_s": round(float(m.get("build", {}).get("cpu_seconds", float("nan"))), 1)}


def takeoff_step(manifest: dict[str, Any], level: float = 0.5, rows: int = 1) -> int | None:
    """The first step of the stored training curve whose mean reward reached ``level`` (with ``rows`` > 1: and
    stayed there for that many stored rows, or to the curve's end; one step's mean over a few dozen samples is
    noisy), for an RL run rewarded for correct answers (a random reward hovers about one half from the start); None
    if it never did, or with no curve. An exported curve is thinned (:func:`exported_manifest`), so this is a stored
    row: the true step is at most one row's spacing earlier."""
    if (manifest.get("budget") or {}).get("reward", "correct") != "correct":
        return None
    curve = [r for r in manifest.get("training_curve") or [] if r.get("reward") is not None]
    return next((int(r["step"]) for i, r in enumerate(curve)
                 if all(x["reward"] >= level for x in curve[i:i + rows])), None)


def pilot_rows(folder: str | Path) -> list[dict[str, Any]]:
    """:func:`validation_rows` with, per RL run, its steps and the first stored step with mean reward >= 0.5
    (:func:`takeoff_step`; blank for other models), read from the same manifests."""
    return [_pilot_row(m) for m in map(read_json, manifest_files(folder)) if m.get("label")]


def _pilot_row(m: dict[str, Any]) -> dict[str, Any]:
    steps = (m.get("budget") or {}).get("steps") if m.get("kind") == "rl" else None
    takeoff = takeoff_step(m) if steps else None
    return {**_validation_row(m), "RL steps": "" if steps is None else int(steps),
            "reward >= 0.5 from step": "" if takeoff is None else takeoff}


def validation_counts(folder: str | Path) -> str:
    """What the validation build holds: validation cases (labelled pairs whose gain check passed, and controls) per
    class, split and world, the pairs that failed, and the build's CPU hours (every model, bases included)."""
    files = manifest_files(folder)
    if not files:
        return "(no validation build exported yet)\n"
    ms = [read_json(p) for p in files]
    cpu_h = sum(float(m.get("build", {}).get("cpu_seconds", 0.0)) for m in ms) / 3600
    lines = [f"Models built: {len(ms)}, {cpu_h:.2f} CPU hours in all (from their manifests).", ""]
    cases: Counter[tuple[str, str, str]] = Counter()
    failed: Counter[tuple[str, str]] = Counter()
    for m in ms:
        if not m.get("label"):
            continue
        if not is_validation_case(m["label"], m.get("gain_check")):
            failed[(m["label"], m.get("recipe", ""))] += 1
        else:
            cases[(m["label"], m.get("split") or "", m["world"])] += 1
    for (label, split, world), n in sorted(cases.items()):
        lines.append(f"- {label}, {split} split, {world}: {n} validation case{'s' if n != 1 else ''}")
    for (label, recipe), n in sorted(failed.items()):
        lines.append(f"- {label}, recipe {recipe}: {n} pair{'s' if n != 1 else ''} without a passed gain check (not"
                     " counted)")
    return "\n".join(lines) + "\n"


#: the presets data/README.md compares by what their recorded models cost (the part first, then the whole), and the
#: project's target for a validation build: 8 CPU hours in all (with ``--jobs 2``, about 4 hours of wall time on two
#: quiet cores)
BUDGET_PRESETS = ("validation-core", "validation")
TARGET_CPU_HOURS = 8.0


def preset_budget_rows(folder: str | Path, names: Sequence[str] = BUDGET_PRESETS) -> list[dict[str, Any]]:
    """Per preset of ``names``: how many models it defines and how many of them ``folder`` records, their CPU hours
    by those records (bases included), the part of them spent in runs killed and resumed (a build that is never
    killed does not spend it), and its validation cases per class (labelled pairs whose gain check passed, and
    controls) with the labelled pairs whose gain check failed. A preset's hours count recorded models only."""
    recorded = {m["name"]: m for m in map(read_json, manifest_files(folder))}
    rows = []
    for preset in names:
        specs = preset_specs(preset)
        ms = [recorded[s.name] for s in specs if s.name in recorded]
        cases = Counter(m["label"] for m in ms if is_validation_case(m.get("label"), m.get("gain_check")))
        cpu_h = sum(float(m.get("build", {}).get("cpu_seconds", 0.0)) for m in ms) / 3600
        killed_h = sum(float(m.get("build", {}).get("cpu_seconds_earlier_runs", 0.0)) for m in ms) / 3600
        rows.append({"preset": preset, "models": len(specs), "recorded": len(ms), "CPU hours (records)": f"{cpu_h:.2f}",
                     "of which in killed runs": f"{killed_h:.2f}",
                     **{f"{label} cases": cases[label] for label in ("creation", "activation", "no_signal")},
                     "pairs without a passed gain check": sum(bool(m.get("label")) and not is_validation_case(
                         m["label"], m.get("gain_check")) for m in ms)})
    return rows


def preset_budgets(folder: str | Path, names: Sequence[str] = BUDGET_PRESETS) -> str:
    """:func:`preset_budget_rows` as a Markdown table, and per preset whether its recorded models fit
    :data:`TARGET_CPU_HOURS`."""
    rows = preset_budget_rows(folder, names)
    if not any(r["recorded"] for r in rows):
        return "(no validation build exported yet)\n"

    def verdict(r: dict[str, Any]) -> str:
        if r["recorded"] < r["models"]:
            missing = r["models"] - r["recorded"]
            return f" (incomplete: {missing} model{'s' if missing != 1 else ''} not recorded)"
        return " (within)" if float(r["CPU hours (records)"]) <= TARGET_CPU_HOURS else " (over)"

    words = [f"`{r['preset']}` {r['CPU hours (records)']}{verdict(r)}" for r in rows]
    return (markdown_rows(rows, "") + f"\nCPU hours by the records against the project's target of"
            f" {TARGET_CPU_HOURS:g} for a validation build: " + ", ".join(words) + ".\n")


#: presets outside ``validation`` whose built models' manifests ship in data/pilots (``--export-pilot``)
PILOT_PRESETS = ("composition", "composition-test", "composition-long", "composition-test2", "composition-lowdose",
                 "composition-speed-pilot", "composition-speed", "composition-batch-pilot", "composition-after",
                 "composition-rlseeds", "composition-lowdose2", "composition-fastlr", "composition-lrshift",
                 "composition-lrmid", "composition-lrmid-extended", "composition-lrmid-seeds")


def rl_seed_sections(pilot_dir: str | Path, validation_dir: str | Path) -> dict[str, str]:
    """The bandit RL-seeds test's table (every RL run from a rebuilt base) and its pass counts, for data/README.md."""
    rows = rl_seed_rows(Path(pilot_dir) / "bandit-rlseeds", Path(pilot_dir) / "rebuilds", validation_dir)
    shown = [{k: v for k, v in r.items() if k not in HIDDEN} for r in rows]
    recorded = recorded_seed_rows(Path(pilot_dir) / "bandit-rlseeds-recorded", validation_dir)
    return {"bandit-rlseeds-table": markdown_rows(shown, "(no RL run from a rebuilt base recorded)"),
            "bandit-rlseeds-summary": rl_seed_summary(rows, budget_records(validation_dir)),
            "bandit-rlseeds-recorded-table": markdown_rows([{k: v for k, v in r.items() if k != "passed"}
                                                            for r in recorded], "(no RL run from a recorded base added)"),
            "bandit-rlseeds-recorded-summary": recorded_seed_summary(recorded, rows)}


def readme_sections(zoo_dir: str | Path, validation_dir: str | Path | None = None,
                    pilot_dir: str | Path | None = None) -> dict[str, str]:
    vdir = validation_manifests_dir() if validation_dir is None else validation_dir
    pdir = pilot_manifests_dir() if pilot_dir is None else pilot_dir
    return {"zoo-table": markdown_table(zoo_dir), "gain-table": gain_markdown(vdir),
            "validation-counts": validation_counts(vdir), "gain-recheck": gain_recheck([vdir, pdir]),
            "validation-budgets": preset_budgets(vdir),
            "validation-seeds": markdown_rows(seed_design("validation"), "(no trained model in the preset)"),
            "rebuild-table": markdown_rows(rebuild_rows(Path(pdir) / "rebuilds", vdir), "(no model rebuilt)"),
            **rl_seed_sections(pdir, vdir),
            "dynamics-table": markdown_rows(dynamics_rows(dynamics_dir(pdir), [vdir, pdir]),
                                            "(no dynamics run recorded)"),
            "validation-table": markdown_rows(validation_rows(vdir), "(no validation build exported yet)"),
            "pilot-table": markdown_rows(pilot_rows(pdir), "(no pilot manifests)"),
            "pilot-gain-table": markdown_rows(gain_rows(pdir), "(no pilot with a per-level evaluation)"),
            **{f"{name}-readings-table": markdown_rows(readings_rows(pdir, name), "(no pair read by the validated fit yet)")
               for name in READINGS},
            # the pilot's readings were registered as no test of the bar: its evaluation is printed as such
            **{f"{name}-readings-evaluation": ("(Not a test of the bar.) " if name == "composition" else "")
               + readings_evaluation(pdir, name) for name in READINGS},
            **{key: text for key, _, text in answer_texts(pdir)}}


def refresh_stored_gain_checks(folders: Sequence[str | Path],
                               bases_in: Mapping[str | Path, Sequence[str | Path]] | None = None) -> list[Path]:
    """Rewrite every manifest in ``folders`` whose stored gain check differs from the current rule's reading of
    its stored evaluations; returns those paths. A trained model's base is read from its own folder or, for a folder
    keyed in ``bases_in``, from the folders listed there: the manifest of that name whose weights are the ones the
    model was trained from (a model whose base is found nowhere keeps its stored check). Only ``folders`` are
    written."""
    from .gain import refresh_gain_checks

    written = []
    elsewhere = {Path(k).resolve(): v for k, v in (bases_in or {}).items()}
    for folder in folders:
        paths = {read_json(p)["name"]: p for p in manifest_files(folder)}
        manifests = {name: read_json(p) for name, p in paths.items()}
        others = [read_json(p) for f in elsewhere.get(Path(folder).resolve(), ()) for p in manifest_files(f)]
        for name, m in manifests.items():
            base = manifests.get(str(m.get("base"))) or next(
                (b for b in others if b["name"] == m.get("base") and weights_sha(b) == m.get("base_weights_sha256")),
                None)
            if base is None and m.get("label") and m.get("base"):
                log.info("%s: no manifest of its base %s with the weights it was trained from; stored gain check kept",
                         paths[name], m["base"])
            if base is None or name not in refresh_gain_checks({base["name"]: base, name: m}):
                continue
            # in the file's own layout: exported manifests are compact (export_manifests), zoo manifests indented
            compact = paths[name].suffix == ".gz" or not paths[name].read_text().startswith("{\n ")
            written.append(write_json_atomic(paths[name], manifests[name], compact=compact))
    return written


def dynamics_dir(pilot_dir: str | Path | None = None) -> Path:
    """Manifests of the models of :data:`~.presets.DYNAMICS_PRESETS` (committed without weights): their RL runs and
    the bases that no validation record holds."""
    return Path(pilot_manifests_dir() if pilot_dir is None else pilot_dir) / "dynamics"


def dynamics_rows(folder: str | Path, earlier_dirs: Sequence[str | Path]) -> list[dict[str, Any]]:
    """:func:`pilot_rows` of the dynamics runs in ``folder``, with whether each kept its base's weights (a run that
    earned no reward takes no step) and whether it has the weights of the run it repeats with checkpoints
    (:func:`~.presets.earlier_runs`, named, its manifest read from the first of ``earlier_dirs`` that records it), asked
    only where both were trained from the same base weights."""
    repeats = earlier_runs()
    rows = []
    for m in map(read_json, manifest_files(folder)):
        if not m.get("label"):
            continue
        earlier = repeats.get(m["name"])
        paths = [p for d in earlier_dirs if earlier and (p := exported_manifest_path(d, earlier))]
        rec = read_json(paths[0]) if paths else {}
        same = ("(repeats no run)" if earlier is None else f"(no record of {earlier})" if not paths else
                f"(from other base weights than {earlier})" if rec.get("base_weights_sha256") != m.get(
                    "base_weights_sha256") else f"{'yes' if weights_sha(m) == weights_sha(rec) else 'no'} ({earlier})")
        rows.append({**_pilot_row(m), "same weights as its base": "yes" if weights_sha(m) == m.get("base_weights_sha256")
                     else "no", "same weights as the run it repeats": same})
    return rows


def export_dynamics(zoo_dir: str | Path) -> list[Path]:
    """Record in :func:`dynamics_dir` the models of :data:`~.presets.DYNAMICS_PRESETS` built in ``zoo_dir``: the RL
    runs and their bases, but for bases that ``data/validation`` records with the same weights."""
    def recorded(name: str) -> bool:  # a validation record with the weights built here
        rec, built = exported_manifest_path(validation_manifests_dir(), name), Path(zoo_dir) / name / MANIFEST
        return rec is not None and built.exists() and weights_sha(read_json(rec)) == weights_sha(read_json(built))

    specs = [s for p in DYNAMICS_PRESETS for s in preset_specs(p) if s.kind != "base" or not recorded(s.name)]
    return copy_manifests(zoo_dir, dynamics_dir(), specs, suffix=".json.gz", keep_recorded=False)


def _export_pilots(zoo_dir: str) -> None:
    copy_manifests(zoo_dir, pilot_manifests_dir(), [s for preset in PILOT_PRESETS for s in preset_specs(preset)],
                   suffix=".json.gz")


def _export_validation(zoo_dir: str) -> None:
    export_manifests(zoo_dir, validation_manifests_dir(), preset_specs("validation"))


#: ``--flag ZOO_DIR``: what each export copies from a built zoo before the tables are rendered, and its usage line
EXPORTS: dict[str, tuple[Callable[[str], Any], str]] = {
    "--export": (_export_validation, "the validation preset's manifests into data/validation (or --export-pilot"
                                     " ZOO_DIR: the built models of the presets outside validation into data/pilots)"),
    "--export-rebuilds": (export_rebuilds, "the validation models built there with other weights than their records"),
    "--export-rlseeds": (export_rlseeds, "the RL runs of preset bandit-rlseeds built there, by the base weights they"
                                         " started from (a rebuild: export it first with --export-rebuilds; or the"
                                         " record's)"),
    "--export-pilot": (_export_pilots, "the built models of the pilot presets into data/pilots"),
    "--export-dynamics": (export_dynamics, "the models of the presets whose RL runs keep dynamics checkpoints built"
                                           " there, into data/pilots/dynamics"),
}


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] and args[0].startswith("-") and args[0] not in EXPORTS:
        raise InvalidConfigError(f"Unknown option {args[0]}: choose one of {', '.join(EXPORTS)} (each followed by"
                                 " ZOO_DIR), or give only ZOO_DIR to render the tables.")
    if args[:1] and args[0] in EXPORTS:
        export, usage = EXPORTS[args[0]]
        if len(args) != 2:
            raise InvalidConfigError(f"Usage: python -m rlmeta_interp.organism.tables {args[0]} ZOO_DIR ({usage})")
        export(args[1])
        args = []
    zoo_dir = Path(args[0]) if args else shipped_zoo_dir()
    readme = zoo_dir.parent / "README.md"
    if not readme.exists():  # an installed package carries the data without its README (pyproject.toml)
        raise MissingWeightsError(f"No {readme} to write the generated tables into: run this from a clone of the"
                                  " repository (python -m rlmeta_interp.organism.tables there).")
    # every stored gain check follows the current rule; the RL-seeds test's runs read their bases from the rebuilds
    # (or the records, where a rebuild reproduced them), the dynamics runs from their own folder or the validation
    # records
    vdir = validation_manifests_dir()
    refresh_stored_gain_checks([zoo_dir, vdir, pilot_manifests_dir(), rebuilds_dir(), rlseeds_dir(),
                                rlseeds_recorded_dir(), dynamics_dir()],
                               {rlseeds_dir(): [rebuilds_dir(), vdir], rlseeds_recorded_dir(): [vdir],
                                dynamics_dir(): [vdir]})
    write_text_atomic(readme, render_sections(readme.read_text(), readme_sections(zoo_dir)))
    if is_source_checkout():  # the repository's README summarises the composition tests from the same files
        top = REPO_ROOT / "README.md"
        write_text_atomic(top, render_sections(top.read_text(), top_readme_sections()))


def top_readme_sections(pilot_dir: str | Path | None = None,
                        validation_dir: str | Path | None = None) -> dict[str, str]:
    """The repository README's generated sections: the composition tests' summary (:func:`~.answers.tests_summary_rows`)
    from the shipped readings and answers under ``pilot_dir`` (default: the shipped pilots'), and the bandit RL-seeds
    test's headline (:func:`~.rebuilds.rl_seed_headline`)."""
    pdir = pilot_manifests_dir() if pilot_dir is None else pilot_dir
    vdir = validation_manifests_dir() if validation_dir is None else validation_dir
    rows = rl_seed_rows(Path(pdir) / "bandit-rlseeds", Path(pdir) / "rebuilds", vdir)
    # the sentence sits inside a README bullet: wrapped and indented as its continuation, the end marker likewise
    recorded = recorded_seed_rows(Path(pdir) / "bandit-rlseeds-recorded", vdir)
    said = f"{rl_seed_headline(rows, budget_records(vdir))} {recorded_seed_headline(recorded, rows)}"
    headline = textwrap.fill(said, width=118, initial_indent="  ",
                             subsequent_indent="  ", break_on_hyphens=False)
    return {"composition-tests-table": markdown_rows(tests_summary_rows(pdir), "(no composition test read yet)"),
            "bandit-rlseeds-headline": f"{headline}\n  "}


if __name__ == "__main__":
    main()
