"""Tables generated from zoo manifests, for data/README.md: one row per model, and the gain readings per level.

``python -m rlmeta_interp.organism.tables`` rewrites the generated sections of data/README.md (between
``<!-- begin NAME -->`` and ``<!-- end NAME -->`` markers) from the manifests, so no number there is typed by hand:
the shipped models' (``data/zoo/*/manifest.json``) and the validation build's (``data/validation/<name>.json.gz``, the
manifests of a ``zoo build --preset validation``, committed without their weights), with the readings and registered
answers that :mod:`.readings` renders. ``--export ZOO_DIR`` first copies the validation preset's manifests from a built
zoo into ``data/validation/``; ``--export-pilot ZOO_DIR`` the pilot presets' into ``data/pilots/``.
"""

from __future__ import annotations

import logging
import math
import re
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidConfigError
from ..io import WEIGHTS_FILE, read_json, write_json_atomic, write_text_atomic
from ..paths import REPO_ROOT, data_dir, is_source_checkout, shipped_zoo_dir
from .gain import is_validation_case
from .presets import seed_design
from .markdown import fmt_num, markdown_rows
from .answers import answer_texts, tests_summary_rows
from .readings import READINGS, readings_evaluation, readings_rows

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
    ``level`` (one thinned row's spacing, so comparable with :func:`takeoff_step` on an exported curve without its
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
    from .spec import OrganismSpec

    out = copy_manifests(zoo_dir, dest, specs, suffix=".json.gz", keep_recorded=False)
    by_name = {spec.name: spec for spec in specs}
    kept: dict[str, dict[str, Any]] = {}
    for path in {p for suffix in EXPORT_SUFFIXES for p in Path(dest).glob(f"*{suffix}")} - set(out):
        spec = by_name.get(path.name.removesuffix(".gz").removesuffix(".json"))
        record = read_json(path) if spec is not None else {}
        try:  # through from_dict, as is_up_to_date compares a built manifest with its spec
            current = spec is not None and OrganismSpec.from_dict(record.get("config", {})) == spec
        except (InvalidConfigError, TypeError, KeyError):
            current = False
        if current:
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
                                     or _weights(read_json(base_path)) != record.get("base_weights_sha256")):
                log.info("deleted the exported record %s: its base's record is gone or names other weights", name)
                (Path(dest) / name).unlink()
                del kept[name]
                orphans = True
    return out


def _weights(manifest: dict[str, Any]) -> str | None:
    return (manifest.get("files") or {}).get(WEIGHTS_FILE)


def _recorded(dest: Path, name: str, manifest: dict[str, Any]) -> tuple[Path | None, str | None]:
    """``dest``'s exported record of ``name`` and the weights checksum it names ((None, None) if none). A record whose
    weights checksum differs from ``manifest``'s is refused: readings made of the recorded weights would be
    attributed to other ones."""
    old = exported_manifest_path(dest, name)
    if old is None:
        return None, None
    mine, theirs = _weights(manifest), _weights(read_json(old))
    if mine is not None and theirs is not None and mine != theirs:
        raise InvalidConfigError(f"{name} was built again with other weights ({mine[:12]}; the exported record {old}"
                                 f" names {theirs[:12]}): the record is not replaced. Build the rebuild under another"
                                 " name, or export from a zoo folder that holds the recorded build (a thread count"
                                 " other than build.torch_threads gives other weights).")
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
    rows = []
    for m in map(read_json, manifest_files(folder)):  # each manifest read once
        if not m.get("label"):
            continue
        steps = (m.get("budget") or {}).get("steps") if m.get("kind") == "rl" else None
        takeoff = takeoff_step(m) if steps else None
        rows.append({**_validation_row(m), "RL steps": "" if steps is None else int(steps),
                     "reward >= 0.5 from step": "" if takeoff is None else takeoff})
    return rows


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


#: presets outside ``validation`` whose built models' manifests ship in data/pilots (``--export-pilot``)
PILOT_PRESETS = ("composition", "composition-test", "composition-long", "composition-test2", "composition-lowdose",
                 "composition-speed-pilot", "composition-speed", "composition-batch-pilot", "composition-after",
                 "composition-rlseeds", "composition-lowdose2", "composition-fastlr", "composition-lrshift",
                 "composition-lrmid", "composition-lrmid-extended", "composition-lrmid-seeds")
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
        return built.exists() and rec is not None and _weights(read_json(built)) != _weights(read_json(rec))

    return copy_manifests(zoo_dir, rebuilds_dir(), [s for s in preset_specs("validation") if differs(s)],
                          suffix=".json.gz", keep_recorded=False)


def _gain_text(m: dict[str, Any]) -> str:
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
        same = "yes" if _weights(m) == _weights(rec) else "no"
        if m.get("base"):
            same += "; base " + ("yes" if m.get("base_weights_sha256") == rec.get("base_weights_sha256") else "no")
        regret = [(x.get("metrics") or {}).get("regret_sampled") for x in (rec, m)]
        rows.append({"model": m["name"], "label": m.get("label") or "(base)", "same weights as the record": same,
                     "sampled regret, record / rebuild": " / ".join(fmt_num(r, "{:.2f}") for r in regret),
                     "recorded gain check": _gain_text(rec), "rebuilt gain check": _gain_text(m)})
    return rows


def readme_sections(zoo_dir: str | Path, validation_dir: str | Path | None = None,
                    pilot_dir: str | Path | None = None) -> dict[str, str]:
    vdir = validation_manifests_dir() if validation_dir is None else validation_dir
    pdir = pilot_manifests_dir() if pilot_dir is None else pilot_dir
    return {"zoo-table": markdown_table(zoo_dir), "gain-table": gain_markdown(vdir),
            "validation-counts": validation_counts(vdir),
            "validation-seeds": markdown_rows(seed_design("validation"), "(no trained model in the preset)"),
            "rebuild-table": markdown_rows(rebuild_rows(Path(pdir) / "rebuilds", vdir), "(no model rebuilt)"),
            "validation-table": markdown_rows(validation_rows(vdir), "(no validation build exported yet)"),
            "pilot-table": markdown_rows(pilot_rows(pdir), "(no pilot manifests)"),
            "pilot-gain-table": markdown_rows(gain_rows(pdir), "(no pilot with a per-level evaluation)"),
            **{f"{name}-readings-table": markdown_rows(readings_rows(pdir, name), "(no pair read by the validated fit yet)")
               for name in READINGS},
            # the pilot's readings were registered as no test of the bar: its evaluation is printed as such
            **{f"{name}-readings-evaluation": ("(Not a test of the bar.) " if name == "composition" else "")
               + readings_evaluation(pdir, name) for name in READINGS},
            **{key: text for key, _, text in answer_texts(pdir)}}


def refresh_stored_gain_checks(folders: Sequence[str | Path]) -> list[Path]:
    """Rewrite every manifest in ``folders`` whose stored gain check differs from the current rule's reading of
    its stored evaluations (per folder: a trained model's base must be in the same folder); returns those paths."""
    from .gain import refresh_gain_checks

    written = []
    for folder in folders:
        paths = {read_json(p)["name"]: p for p in manifest_files(folder)}
        manifests = {name: read_json(p) for name, p in paths.items()}
        for name in refresh_gain_checks(manifests):
            # in the file's own layout: exported manifests are compact (export_manifests), zoo manifests indented
            compact = paths[name].suffix == ".gz" or not paths[name].read_text().startswith("{\n ")
            written.append(write_json_atomic(paths[name], manifests[name], compact=compact))
    return written


def main(argv: list[str] | None = None) -> None:
    from .presets import preset_specs

    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--export"]:
        if len(args) != 2:
            raise InvalidConfigError("Usage: python -m rlmeta_interp.organism.tables --export ZOO_DIR (or --export-pilot"
                                     " ZOO_DIR: the built models of the presets outside validation into data/pilots)")
        export_manifests(args[1], validation_manifests_dir(), preset_specs("validation"))
        args = []
    elif args[:1] == ["--export-rebuilds"]:
        if len(args) != 2:
            raise InvalidConfigError("Usage: python -m rlmeta_interp.organism.tables --export-rebuilds ZOO_DIR (the"
                                     " validation models built there with other weights than their records)")
        export_rebuilds(args[1])
        args = []
    elif args[:1] == ["--export-pilot"]:
        if len(args) != 2:
            raise InvalidConfigError("Usage: python -m rlmeta_interp.organism.tables --export-pilot ZOO_DIR")
        copy_manifests(args[1], pilot_manifests_dir(), [s for preset in PILOT_PRESETS for s in preset_specs(preset)],
                       suffix=".json.gz")
        args = []
    zoo_dir = Path(args[0]) if args else shipped_zoo_dir()
    refresh_stored_gain_checks([zoo_dir, validation_manifests_dir(), pilot_manifests_dir()])
    readme = zoo_dir.parent / "README.md"
    write_text_atomic(readme, render_sections(readme.read_text(), readme_sections(zoo_dir)))
    if is_source_checkout():  # the repository's README summarises the composition tests from the same files
        top = REPO_ROOT / "README.md"
        write_text_atomic(top, render_sections(top.read_text(), top_readme_sections()))


def top_readme_sections(pilot_dir: str | Path | None = None) -> dict[str, str]:
    """The repository README's generated sections: the composition tests' summary (:func:`~.answers.tests_summary_rows`)
    from the shipped readings and answers under ``pilot_dir`` (default: the shipped pilots')."""
    pdir = pilot_manifests_dir() if pilot_dir is None else pilot_dir
    return {"composition-tests-table": markdown_rows(tests_summary_rows(pdir), "(no composition test read yet)")}


if __name__ == "__main__":
    main()
