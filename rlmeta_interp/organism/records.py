"""The committed build records read back as tables: what each labelled tuning run's gain check measured, so that a
notebook can compare recipes, doses and budgets over every run the project built, without the weights.

The records are the exported manifests under ``data/`` (``validation``, ``pilots``, ``pilots/dynamics``): a tuned
model's manifest holds, per evaluated level, the per-problem correct counts of its samples and the guesser's pass@k,
and the gain check made when it was built (:mod:`.gain`); its base's counts are in the base's manifest. Nothing here
samples a model: the tables are what the builds measured.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..analysis.passk import passk_table
from ..config import TUNED_KINDS
from ..errors import EmptyInputError, InvalidConfigError
from ..io import read_json
from ..paths import data_dir
from .manifests import manifest_files, weights_sha

log = logging.getLogger(__name__)

#: The committed record folders under ``data/``, in the order a name is looked up (a validation record wins over a
#: pilot or dynamics manifest of the same name, and is the one kept among models with the same weights), with the
#: bandit RL-seeds runs trained from record-identical bases (``pilots/bandit-rlseeds-recorded``). The folders of runs
#: trained from rebuilt bases (``pilots/rebuilds``, ``pilots/rebuilt``, ``pilots/bandit-rlseeds``) are left out
#: unless named: their bases have other weights than the recorded bases of the same names, which this table, keyed
#: by name, would take their base readings from.
RECORD_FOLDERS = ("validation", "pilots", "pilots/dynamics", "pilots/bandit-rlseeds-recorded")


def load_records(folders: Sequence[str] = RECORD_FOLDERS) -> dict[str, dict[str, Any]]:
    """Every manifest in ``folders`` (paths relative to ``data/``, or absolute), by model name; the first folder
    that records a name wins, so a later folder's model of that name is left out (logged)."""
    if isinstance(folders, str):
        raise InvalidConfigError(f"folders must be a list of folder names, not the string {folders!r}:"
                                 f" pass [{folders!r}].")
    out: dict[str, dict[str, Any]] = {}
    for name in folders:
        folder = Path(name) if Path(name).is_absolute() else data_dir() / name
        if not folder.is_dir():
            raise InvalidConfigError(f"No record folder {folder}: name folders under {data_dir()} such as"
                                     f" {list(RECORD_FOLDERS)}.")
        for path in manifest_files(folder):
            m = read_json(path)
            if m["name"] in out:
                log.info("%s: already recorded in an earlier folder; %s left out", m["name"], path)
                continue
            out[m["name"]] = m
    if not out:
        raise EmptyInputError(f"No manifest in {list(folders)}: export a build's manifests first"
                              " (python -m rlmeta_interp.organism.tables --help).")
    return out


def _budget(m: Mapping[str, Any]) -> dict[str, Any]:
    """A run's budget, and its name as drawn: steps and learning rate, with the batch (prompts x generations per step)
    and the KL coefficient where set, so runs pooled under one name shared all of them."""
    b = m.get("budget") or {}
    steps, lr = b.get("steps"), b.get("lr")
    batch = (f", {b['prompts_per_step']}x{b['num_generations']} per step" if b.get("prompts_per_step")
             and b.get("num_generations") else "")
    name = (f"{steps} steps, lr {lr:g}" if lr is not None else f"{steps} steps") + batch
    kl = f", KL {b['beta']:g}" if b.get("beta") else ""
    return {"steps": steps, "lr": lr, "beta": b.get("beta"), "prompts_per_step": b.get("prompts_per_step"),
            "num_generations": b.get("num_generations"), "reward": b.get("reward") or "", "budget": name + kl}


def _passk_rows(g: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per evaluated level of a pass@k gain check: paired pass@1 and pass@n changes with the check's
    (Bonferroni-corrected) CIs, the levels' pass rates, the guesser's pass@n and the expanded-problem count."""
    rows = []
    in_dist = str(g.get("in_distribution_level"))
    for level, r in sorted(g["levels"].items(), key=lambda kv: int(kv[0])):
        n = r["n_samples"]
        row = {"level": int(level), "deeper": level != in_dist, "n_samples": n, "n_problems": r["n_problems"],
               "ci_level": g.get("ci"), "expanded": r["expanded"], "guess_pass@n": r[f"guess_pass@{n}"]}
        for k, key in ((1, "1"), (n, "n")):
            lo, hi = r[f"diff_pass@{k}_ci"]
            row |= {f"pass@{key}_base": r[f"base_pass@{k}"], f"pass@{key}_tuned": r[f"trained_pass@{k}"],
                    f"d_pass@{key}": r[f"diff_pass@{k}"], f"d_pass@{key}_lo": lo, f"d_pass@{key}_hi": hi}
        rows.append(row)
    return rows


def dose_tag(m: Mapping[str, Any], base: Mapping[str, Any] | None) -> str:
    """A run's dose as drawn: the number, marked ``shuffled`` when its base's bandit histories had their rewards
    shuffled (a dose of documents with no value signal, not of the capability)."""
    corpus = (((base or {}).get("config") or {}).get("pretrain") or {}).get("corpus") or {}
    return f"{float(m['dose']):g}" + (" shuffled" if corpus.get("bandit_rewards") == "shuffled" else "")


def gain_frame(records: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """One row per (labelled tuned model, evaluated level) of a pass@k gain check, and one per bandit model (its
    regret check, ``level`` missing): the design label, recipe, dose, seeds (``pretrain_seed`` from the base's
    manifest, ``tune_seed`` the RL or fine-tuning seed), budget, whether the check passed (None for controls),
    ``kept_base_weights`` (a run that took no step: no group of samples with rewards that differed), ``weights``
    (the weights file's checksum) and ``same_weights_as``: the first model (in the records' order: folder, then name)
    with the same weights (a repeat of a run, or a run that kept its base's weights like another). ``deeper`` marks
    the levels the creation check reads: every level but the gain check's in-distribution one, the shallowest
    evaluated (depth world: depth 4, the deepest chain the dose-0 bases saw, while depth-edge RL trains at depth 5;
    composition: level 2, the RL training level)."""
    first_by_sha: dict[str, str] = {}
    rows = []
    for name, m in records.items():
        g = m.get("gain_check")
        if m.get("kind") not in TUNED_KINDS or not m.get("label") or not g:
            continue
        sha = weights_sha(m)
        same = first_by_sha.setdefault(sha, name) if sha else name
        base = records.get(m.get("base") or "")
        head = {"name": name, "base": m.get("base") or "", "world": m["world"], "recipe": m.get("recipe") or "",
                "kind": m["kind"], "variant": m.get("variant") or "", "dose": float(m["dose"]),
                "dose_tag": dose_tag(m, base), "label": m["label"],
                "pretrain_seed": None if base is None else base.get("seed"), "tune_seed": m.get("seed"),
                **_budget(m), "passed": g.get("passed"), "same_weights_as": "" if same == name else same,
                "kept_base_weights": bool(sha) and sha == m.get("base_weights_sha256"), "weights": sha or name,
                "measure": g.get("kind")}
        if g.get("kind") == "passk":
            rows += [head | r for r in _passk_rows(g)]
        elif g.get("kind") == "regret":
            lo, hi = g["regret_reduction_ci"]
            rows.append(head | {"level": None, "deeper": True, "regret_reduction": g["regret_reduction"],
                                "regret_reduction_lo": lo, "regret_reduction_hi": hi})
    if not rows:
        raise EmptyInputError("No labelled tuned model with a gain check in these records.")
    return pd.DataFrame(rows)


BUDGET_KEYS = ("steps", "lr", "beta", "prompts_per_step", "num_generations")


def select_runs(frame: pd.DataFrame, recipe: str, *, kind: str = "rl", distinct: bool = True,
                **budget: Any) -> pd.DataFrame:
    """The rows of ``recipe``'s ``kind`` runs, optionally of one budget (``budget``: any of :data:`BUDGET_KEYS`, e.g.
    ``steps=1500, lr=1e-4``), each model once when ``distinct``: among the selected runs with the same weights, the
    first in the records' order is kept. A typed error names the recipes and budgets recorded when nothing matches."""
    if unknown := sorted(set(budget) - set(BUDGET_KEYS)):
        raise InvalidConfigError(f"Unknown budget keys {unknown}: choose among {list(BUDGET_KEYS)}.")
    keep = (frame["recipe"] == recipe) & (frame["kind"] == kind)
    for key, value in budget.items():
        keep &= np.isclose(frame[key].astype(float), float(value)) if key in ("lr", "beta") else frame[key] == value
    out = frame[keep]
    if distinct and not out.empty:
        first = out.groupby("weights", sort=False)["name"].transform("first")
        out = out[out["name"] == first]
    if out.empty:
        have = frame[frame["kind"] == kind].groupby("recipe")["budget"].unique()
        raise EmptyInputError(f"No {kind} run of recipe {recipe!r} with {budget or 'any budget'} in the records; they"
                              f" hold: {({r: sorted(b) for r, b in have.items()})}.")
    return out


def pass_tally(runs: pd.DataFrame, by: Sequence[str] = ("recipe", "dose", "label")) -> pd.DataFrame:
    """Per group of distinct runs: how many there are and how many passed their gain check (controls, whose check
    has no verdict, count as ``checked`` 0)."""
    per_run = runs.drop_duplicates("name")
    checked = per_run["passed"].notna()
    return (per_run.assign(checked=checked, passed_=per_run["passed"].fillna(False).astype(bool) & checked)
            .groupby(list(by), sort=True).agg(runs=("name", "size"), checked=("checked", "sum"),
                                                passed=("passed_", "sum")).reset_index())


def _counts(m: Mapping[str, Any], level: int) -> tuple[list[int], int, Mapping[str, Any]]:
    by_level = (m.get("metrics") or {}).get("by_level") or {}
    r = by_level.get(str(level))
    if r is None or "correct_counts" not in r:
        raise InvalidConfigError(f"{m['name']} records no per-problem counts at level {level}; it has levels"
                                 f" {sorted(by_level)}.")
    return r["correct_counts"], int(r["n_samples"]), r


def record_curves(records: Mapping[str, Mapping[str, Any]], name: str, level: int, *, n_boot: int = 1000,
                  seed: int = 0) -> pd.DataFrame:
    """pass@k curves at ``level`` of the tuned model ``name`` (model ``"rl"``) and its base (``"base"``) from their
    recorded per-problem counts, with 95% CIs over problems (:func:`~..analysis.passk.passk_table`), and the
    guesser's recorded pass@k (``"guess"``, no CI), columns ``model, k, pass@k, ci_lo, ci_hi``."""
    if name not in records:
        raise InvalidConfigError(f"No record of {name!r}: pick a name of gain_frame(records)['name'].")
    m = records[name]
    base = records.get(m.get("base") or "")
    if base is None:
        raise InvalidConfigError(f"{name}'s base {m.get('base')!r} has no record in these folders: add the folder that"
                                 " holds it.")
    tuned, n, r = _counts(m, level)
    based, nb, rb = _counts(base, level)
    if n != nb or r.get("problems_sha256") != rb.get("problems_sha256"):
        raise InvalidConfigError(f"{name} and its base were evaluated on other problems or sample counts at level"
                                 f" {level}: their curves cannot be paired.")
    curves = passk_table({"base": based, "rl": tuned}, n, n_boot=n_boot, seed=seed)
    ks = sorted(int(k.split("@")[1]) for k in r if k.startswith("guess_pass@"))
    guess = pd.DataFrame({"model": "guess", "k": ks, "pass@k": [float(r[f"guess_pass@{k}"]) for k in ks],
                          "ci_lo": np.nan, "ci_hi": np.nan, "n_problems": len(tuned)})
    return pd.concat([curves, guess], ignore_index=True)
