"""Tables generated from zoo manifests, for data/README.md: one row per model, and the gain readings per level.

``python -m rlmeta_interp.organism.tables`` rewrites the generated sections of data/README.md (between
``<!-- begin NAME -->`` and ``<!-- end NAME -->`` markers) from the manifests, so no number there is typed by hand:
the shipped models' (``data/zoo/*/manifest.json``) and the validation build's (``data/validation/<name>.json``, the
manifests of a ``zoo build --preset validation``, committed without their weights). ``--export ZOO_DIR`` first copies
the validation preset's manifests from a built zoo into ``data/validation/``.
"""

from __future__ import annotations

import math
import re
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import InvalidConfigError
from ..io import read_csv, read_json, write_json_atomic, write_text_atomic
from ..paths import data_dir, shipped_zoo_dir
from .gain import is_validation_case

MANIFEST = "manifest.json"


def validation_manifests_dir() -> Path:
    return data_dir() / "validation"


def pilot_manifests_dir() -> Path:
    """Manifests of pilot models built outside a preset to choose a recipe's budget (committed without weights);
    they are no validation case."""
    return data_dir() / "pilots"


def manifest_files(folder: str | Path) -> list[Path]:
    """The manifests in ``folder``: ``<model>/manifest.json`` (a zoo) or ``<model>.json`` / ``<model>.json.gz``
    (exported manifests; pilots are shipped compressed)."""
    folder = Path(folder)
    return sorted(folder.glob("*/" + MANIFEST)) + sorted([*folder.glob("*.json"), *folder.glob("*.json.gz")])


#: Rows of a training curve kept in an exported manifest. A full RL curve (one row per step) is about 0.5 MB of
#: JSON, and the exported manifests ship with the package, whose data must stay under 60 MB; the full curve stays in
#: the built zoo's manifest. 34 rows are every third of the 100 kept before (index 3i of 0..99 is step
#: round(3i(N-1)/99) = round(i(N-1)/33)), so manifests exported at 100 rows were thinned to these exactly.
EXPORTED_CURVE_ROWS = 34


def exported_manifest(manifest: dict[str, Any], rows: int = EXPORTED_CURVE_ROWS) -> dict[str, Any]:
    """``manifest`` with its training curve thinned to at most ``rows`` rows, evenly spaced, first and last kept;
    ``training_curve_rows`` records how many rows the build wrote, so a reader knows the curve was thinned."""
    if rows < 2:
        raise InvalidConfigError(f"exported_manifest keeps the first and last rows of a curve: rows={rows} must be"
                                 " at least 2.")
    curve = manifest.get("training_curve") or []
    if len(curve) <= rows:
        return manifest
    keep = sorted({round(i * (len(curve) - 1) / (rows - 1)) for i in range(rows)})
    return {**manifest, "training_curve": [curve[i] for i in keep], "training_curve_rows": len(curve)}


def export_manifests(zoo_dir: str | Path, dest: str | Path, specs: Sequence[Any]) -> list[Path]:
    """Copy the manifest of every spec in ``specs`` that is built, from exactly that spec, in ``zoo_dir`` to
    ``dest/<name>.json`` (training curve thinned by :func:`exported_manifest`), and delete the other
    ``dest/*.json``; returns the written paths. A model not built yet, or built from another config (an older
    budget, changed files, another base: :func:`~rlmeta_interp.organism.zoo.is_up_to_date`, the test the
    validation uses), is left out."""
    out = copy_manifests(zoo_dir, dest, specs)
    for stale in set(Path(dest).glob("*.json")) - set(out):
        stale.unlink()
    return out


def copy_manifests(zoo_dir: str | Path, dest: str | Path, specs: Sequence[Any], *, suffix: str = ".json") -> list[Path]:
    """:func:`export_manifests` without deleting anything: for pilots, whose folder also holds manifests of models
    built outside any preset. ``suffix`` ".json.gz" writes them gzip-compressed (and drops an uncompressed copy of
    the same model, which would list it twice)."""
    from .zoo import is_up_to_date

    if suffix not in (".json", ".json.gz"):
        raise InvalidConfigError(f"copy_manifests writes '.json' or '.json.gz' files, not {suffix!r}.")
    out = []
    for spec in specs:
        src = Path(zoo_dir) / spec.name / MANIFEST
        if is_up_to_date(src.parent, spec):
            # compact (and for pilots compressed): the shipped package's data budget (tests/test_paths.py) counts
            # these files
            out.append(write_json_atomic(Path(dest) / f"{spec.name}{suffix}", exported_manifest(read_json(src)),
                                         compact=True))
            if suffix != ".json":
                (Path(dest) / f"{spec.name}.json").unlink(missing_ok=True)
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
    return _markdown(summary_rows(out_dir), "(no models)")


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


def _markdown(rows: list[dict[str, Any]], empty: str) -> str:
    if not rows:
        return empty + "\n"
    cols: list[str] = []
    for r in rows:
        cols += [c for c in r if c not in cols]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def gain_markdown(out_dir: str | Path) -> str:
    """``gain_rows`` as a Markdown table (percentages; n = samples per problem)."""
    return _markdown(gain_rows(out_dir), "(no labelled model with a per-level evaluation)")


def render_sections(text: str, sections: dict[str, str]) -> str:
    """``text`` with each ``<!-- begin NAME -->...<!-- end NAME -->`` block replaced by ``sections[NAME]``."""
    for name, body in sections.items():
        pat = re.compile(rf"(<!-- begin {re.escape(name)} -->\n).*?(<!-- end {re.escape(name)} -->)", re.S)
        if not pat.search(text):
            raise InvalidConfigError(f"data/README.md has no '<!-- begin {name} -->' ... '<!-- end {name} -->' block")
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
                 "composition-speed-pilot", "composition-speed")
# written by `rlmeta-interp validate --read ... --readings data/pilots/readings/<name>.csv`, with the evaluation
# beside it (.json); in a folder of its own, apart from the exported manifests (*.json)
READINGS_DIR = "readings"
#: the readings data/README.md renders: the composition pilot's and the composition tests'
READINGS = ("composition", "composition-test", "composition-test2", "composition-lowdose", "composition-speed")
#: readings whose registered question "does the meter read more than pass@k?" is answered beside them
#: (``python -m rlmeta_interp.analysis.validation.beyond NAME REFERENCE`` writes ``<NAME>-beyond.json``)
BEYOND = ("composition-lowdose",)
#: readings whose registered question "does the meter read RL's learning speed?" is answered beside them
#: (``python -m rlmeta_interp.analysis.validation.speed NAME`` writes ``<NAME>-speed.json``)
SPEED = ("composition-speed",)


def readings_path(folder: str | Path, name: str) -> Path:
    """Where the readings ``name`` lie under ``folder`` (CSV; the evaluation beside it as JSON)."""
    return Path(folder) / READINGS_DIR / f"{name}.csv"


def readings_records(folder: str | Path, name: str) -> list[dict[str, Any]]:
    """The rows of ``folder``'s readings ``name`` as ``validate --read`` wrote them (checksum verified; a statistic
    not measured is NaN); none when the readings are not there."""
    path = readings_path(folder, name)
    if not path.exists():
        return []
    return read_csv(path, required=True, keep_default_na=False, na_values=[""]).to_dict("records")


def readings_rows(folder: str | Path, name: str = "composition") -> list[dict[str, Any]]:
    """Pairs outside the validation table as the committed validation fit read them (``validate --read``), from
    ``folder``'s readings ``name`` (checksum verified): per pair its label, gain check, whether it is a validation
    case by that check, whether the fit reads it by its world's own cuts or the pooled ones, the fitted reading and
    P(creation), the vote rule's reading, and each summary input as the fit reads it with its vote."""
    records = readings_records(folder, name)
    inputs = [c.removesuffix("_vote") for c in (records[0] if records else {}) if c.endswith("_vote")]
    rows = []
    for r in records:
        row = {"pair": r["pair"], "label": r["label"], "gain check": r["gain_check"],
               "case": "yes" if r["case"] else "no", "cuts": "own world" if r["own_world_cuts"] else "pooled",
               "fitted reading": r["reading"], "P(creation)": _num(r["p_creation"], "{:.2f}"),
               "vote rule": r["vote_rule"]}
        row.update({f"{name} (vote)": f"{_num(r[name], '{:+.2f}')} ({r[f'{name}_vote']})" for name in inputs})
        rows.append(row)
    return rows


def readings_evaluation(folder: str | Path, name: str = "composition") -> str:
    """One paragraph from the evaluation of ``folder``'s readings ``name`` (``validate --read`` writes it beside the
    CSV, checksum verified): the cases, the fitted summary's balanced accuracy with its CI beside the constant answer's, each
    class's recall with its exact interval, each voting indicator's AUC with the bases it rests on, and whether the
    project's bar is met over them."""
    path = readings_path(folder, name).with_suffix(".json")
    if not path.exists():
        return "(no readings evaluated yet)\n"
    ev = read_json(path, required=True).get("evaluation")
    if ev is None:
        return "No pair read is a validation case by its gain check: nothing to evaluate.\n"
    s = ev["summary"]
    recall = "; ".join(f"{c.replace('_', ' ')} {k}/{n} ({lo:.2f} to {hi:.2f})"
                       for c, (k, n, lo, hi) in sorted(s["recall_exact_ci"].items()))
    inds = "; ".join(f"{r['indicator']} {_num(r['test_auc'], '{:.2f}')} ({_num(r['test_lo'], '{:.2f}')} to"
                     f" {_num(r['test_hi'], '{:.2f}')}) over {r.get('test_bases_unseen') or 0} bases"
                     for r in ev["indicators"] if r["votes"] and r.get("cut") is not None)
    two = s.get("creation_vs_activation")  # absent from readings evaluated before it was reported
    two_text = (f"; creation against activation alone {two['balanced_accuracy']:.2f} (CI {two['ci_lo']:.2f} to"
                f" {two['ci_hi']:.2f}, {two['n']} cases)" if two else "")
    rule = ev.get("expansion_rule")  # likewise
    rule_text = (f" The label-free expansion rule (no gain: no-signal; pass@n expanded: creation; else activation)"
                 f" over the same cases: balanced accuracy {rule['balanced_accuracy']:.2f} (CI {rule['ci_lo']:.2f} to"
                 f" {rule['ci_hi']:.2f}), {len(rule['read_wrong'])} read wrong." if rule else "")
    const = ev["constant_baseline"]
    absent = "" if const["answer"] in s["recall_exact_ci"] else f", always {const['answer'].replace('_', ' ')}, a class absent here"
    # the bar asks for creation recall: over cases without a creation case it cannot be met, so it is not applied
    bar = ("met" if ev["meets_bar"] else "not met") if "creation" in s["recall_exact_ci"] else "not applicable (no creation case)"
    return (f"Over the {ev['n_test']} cases read: the fitted summary's balanced accuracy"
            f" {s['balanced_accuracy']:.2f} (CI {s['ci_lo']:.2f} to {s['ci_hi']:.2f}; the constant answer"
            f" {const['balanced_accuracy']:.2f}{absent}){two_text}; recall with exact 95% intervals: {recall}."
            f" Held-out AUC of each indicator voting by a fitted cut, as the fit reads it: {inds or 'none'}."
            f"{rule_text} The project's bar over these pairs: {bar}.\n")


def beyond_text(folder: str | Path, name: str) -> str:
    """The registered "more than pass@k?" answer for ``folder``'s readings ``name`` (from ``<name>-beyond.json``,
    checksum verified; ``analysis.validation.beyond`` says what each part means): the verdict, the credit per set of
    expanding activation cases and reader, the expanding cases, per-dose counts, every reader's readings per class,
    the AUCs against the reference's creation cases, and each base's pass@1 and pass@n at the deepest level."""
    path = readings_path(folder, name).with_name(f"{name}-beyond.json")
    if not path.exists():
        return "(not answered yet)\n"
    b = read_json(path, required=True)
    every = b["questions"]["all"]
    verdict = (f"credited: it read {every['as read']['read_activation']} of {every['as read']['n']} expanding activation"
               " cases as activation, as read and with its pass@k input held at its cut" if b["credited"] else "not credited" if all(q["answerable"] for q in every.values()) else
               f"not answerable (fewer than {b['min_expanding']} expanding activation cases, or from fewer than"
               f" {b['min_bases']} bases)")
    credit = [{"cases": subset, "reader": reader, "read activation": f"{q['read_activation']}/{q['n']}",
               "exact 95% interval": f"{_num(q['interval'][0], '{:.2f}')} to {_num(q['interval'][1], '{:.2f}')}",
               "bases right": f"{q['bases_right']}/{q['n_bases']}",
               "over bases": f"{_num(q['bases_interval'][0], '{:.2f}')} to {_num(q['bases_interval'][1], '{:.2f}')}",
               "answerable": "yes" if q["answerable"] else "no", "credited": "yes" if q["credited"] else "no"}
              for subset, readers in b["questions"].items() for reader, q in readers.items()]
    cases = [{"pair": r["pair"], "base": r["base"], "fitted reading": r["reading"],
              **{k: v for k, v in r.items() if k.endswith("at its cut")},
              "expanded at levels": ", ".join(map(str, r["expanded_levels"])),
              "reward >= 0.5 from step (not registered)": "" if r.get("takeoff_step") is None else r["takeoff_step"]}
             for r in b["expanding"]]
    doses = "; ".join(f"dose {d}: {c.get('runs', 0)} activation runs, {c.get('passed', 0)} passed their gain check,"
                      f" {c.get('expanding', 0)} expanding, {c.get('expanding read activation', 0)} of those read"
                      " activation" for d, c in b["per_dose"].items())
    readers = [{"reader": reader, **{c.replace("_", " "): ", ".join(f"{k.replace('_', ' ')} {n}"
                                                                    for k, n in sorted(v.items()))
                                     for c, v in sorted(by.items())}} for reader, by in b["readers_by_class"].items()]
    aucs = "; ".join(f"{k} {_num(a['auc'], '{:.2f}')} ({_num(a['lo'], '{:.2f}')} to {_num(a['hi'], '{:.2f}')},"
                     f" {a['n']} pairs)" for k, a in b["auc_vs_reference_creation"].items())
    two = b["summary_two_class"]
    bases = [{"base": r["base"], "dose": r["dose"], "level": r.get("level", ""), "pass@1": _num(r.get("pass@1"), "{:.3f}"),
              f"pass@{r.get('n', 'n')}": _num(r.get("pass@n"), "{:.3f}"),
              "guesser pass@n": _num(r.get("guess_pass@n"), "{:.3f}")} for r in b["bases"]]
    return (f"**Does the meter read more than pass@k here? {verdict[0].upper() + verdict[1:]}.** Expanding activation"
            f" cases (activation cases whose label-free expansion rule reads creation): {len(b['expanding'])}. The"
            f" registered credit per set of them and reader (at least {b['min_expanding']} cases from"
            f" {b['min_bases']} bases, the exact interval's lower end above one half; \"headroom\": bases whose"
            f" deepest-level pass@n is above every reference creation base's, {_num(b['reference_creation_top_passn'], '{:.3f}')}):\n\n"
            + _markdown(credit, "(none)") + "\nThe expanding activation cases:\n\n" + _markdown(cases, "(none)")
            + f"\nPer dose: {doses or 'no activation runs'}.\n\nEvery case of the test, per label, by each reader:\n\n"
            + _markdown(readers, "(no cases)")
            + f"\nAgainst the reference test's {b['reference_creation_cases']} creation cases (positive), AUC with a"
            f" bootstrap over bases: {aucs or 'none'}. The fitted summary's balanced accuracy over those creation cases and the"
            f" expanding activation cases: {_num(two['balanced_accuracy'], '{:.2f}')}.\n\nEach base at the deepest"
            " level evaluated:\n\n" + _markdown(bases, "(no bases)"))


def speed_text(folder: str | Path, name: str) -> str:
    """The registered "does the meter read learning speed?" answer for ``folder``'s readings ``name`` (from
    ``<name>-speed.json``, checksum verified; ``analysis.validation.speed`` says what each part means): the verdict,
    the take-off cut, the credit per reader over the slow activation cases, each run beside its twin, and every
    reader's readings per class."""
    path = readings_path(folder, name).with_name(f"{name}-speed.json")
    if not path.exists():
        return "(not answered yet)\n"
    b = read_json(path, required=True)
    cut, slow = b["takeoff_cut"], b["slow_activation"]
    credit = [{"reader": reader, "read activation": f"{q['read_activation']}/{q['n']}",
               "exact 95% interval": f"{_num(q['interval'][0], '{:.2f}')} to {_num(q['interval'][1], '{:.2f}')}",
               "bases right": f"{q['bases_right']}/{q['n_bases']}", "credited": "yes" if q["credited"] else "no"}
              for reader, q in slow.items() if isinstance(q, dict)]
    change = {k: "change in " + k for k in ("p_creation", "boundary", "likelihood", "elicitation")}
    runs = [{"run": r["pair"], "label": r["label"], "gain check": r["gain_check"],
             "reward >= 0.5 from step": _num(r["takeoff_step"], "{:.0f}"), "take-off rule": r["takeoff_rule"],
             "fitted reading": r["reading"], "P(creation)": _num(r["p_creation"], "{:.2f}"),
             "twin (lr 1e-4) from step": _num(r["twin_takeoff_step"], "{:.0f}"), "twin's reading": r["twin_reading"],
             **{label: _num(r["change"][k], "{:+.2f}") for k, label in change.items()}} for r in b["runs"]]
    readers = [{"reader": reader, **{c.replace("_", " "): ", ".join(f"{k.replace('_', ' ')} {n}"
                                                                    for k, n in sorted(v.items()))
                                     for c, v in sorted(by.items())}} for reader, by in b["readers_by_class"].items()]
    return (f"**Does the meter read RL's learning speed here? Verdict: {b['verdict']}.** The take-off rule's cut,"
            f" fitted on the cases of {' and '.join(b['calibration'])}: reward >= 0.5 first after step"
            f" {cut['cut']:g} (balanced accuracy {cut['balanced_accuracy']:.2f} over {cut['n']} cases there). Slow"
            f" activation cases (activation cases it reads creation): {len(slow['pairs'])}. The registered credit"
            " (at least 6 cases from 4 bases, the exact interval's lower end above one half, for both readers):\n\n"
            + _markdown(credit, "(none)") + "\nEach run beside its twin (same base and RL seed, lr 1e-4; changes are"
            " this run's value minus the twin's, standardised inputs as the fit reads them):\n\n"
            + _markdown(runs, "(no runs)") + "\nEvery case of the test, per label, by each reader:\n\n"
            + _markdown(readers, "(no cases)"))


def _num(x: Any, fmt: str) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else fmt.format(float(x))


def readme_sections(zoo_dir: str | Path, validation_dir: str | Path | None = None,
                    pilot_dir: str | Path | None = None) -> dict[str, str]:
    vdir = validation_manifests_dir() if validation_dir is None else validation_dir
    pdir = pilot_manifests_dir() if pilot_dir is None else pilot_dir
    return {"zoo-table": markdown_table(zoo_dir), "gain-table": gain_markdown(vdir),
            "validation-counts": validation_counts(vdir),
            "validation-table": _markdown(validation_rows(vdir), "(no validation build exported yet)"),
            "pilot-table": _markdown(pilot_rows(pdir), "(no pilot manifests)"),
            "pilot-gain-table": _markdown(gain_rows(pdir), "(no pilot with a per-level evaluation)"),
            **{f"{name}-readings-table": _markdown(readings_rows(pdir, name), "(no pair read by the validated fit yet)")
               for name in READINGS},
            # the pilot's readings were registered as no test of the bar: its evaluation is printed as such
            **{f"{name}-readings-evaluation": ("(Not a test of the bar.) " if name == "composition" else "")
               + readings_evaluation(pdir, name) for name in READINGS},
            **{f"{name}-beyond": beyond_text(pdir, name) for name in BEYOND},
            **{f"{name}-speed": speed_text(pdir, name) for name in SPEED}}


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


if __name__ == "__main__":
    main()
