"""The gain check: did training produce the gain that an organism's design label calls for?

This is an operational reading made after training, reported beside the design label and never used to set it:

- ``creation`` passes when some level deeper than the in-distribution (shallowest) one shows *boundary expansion*:
  pass@n of the trained model above the base's at the largest k measured, paired CI (over problems) above 0, and
  above the guessing baseline's pass@n;
  and the in-distribution level has not collapsed (pass@1 at least half the base's), so that a broken model guessing
  at depth cannot pass.
- ``activation`` passes when some evaluated level shows a pass@1 gain with paired CI above 0.
- ``no_signal`` controls have no gain to pass; their readings are recorded (``passed`` is None).

A check that passes when *any* of m levels shows a gain tests m times, so the per-level CIs are Bonferroni-corrected:
each is a (1 - 0.05/m) interval, m counting the levels the label's criterion can pass at (the deeper levels for
creation, every level otherwise), and the check as a whole keeps a 5% family-wise error rate.
Bandits compare per-bandit sampled regret (base minus trained, paired CI above 0 means the trained model is better);
that is one comparison.

:func:`recheck_gain` reads every comparison again with a paired sign-flip permutation test in place of the bootstrap,
so the records can show whether any verdict rests on the bootstrap's narrow intervals where few problems differ.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..analysis.passk import pass_at_k
from ..analysis.stats import paired_diff_ci, paired_gain_p
from ..errors import CorruptedCheckpointError

CI_SEED = 0
FAMILY_ALPHA = 0.05
# the corrected intervals reach further into the tails (0.6% per tail at 4 levels): more resamples than the default
N_BOOT = 4000


def _per_problem(counts: list[int], n: int, k: int) -> np.ndarray:
    return np.array([pass_at_k(n, int(c), k) for c in counts])


def level_readings(base: Mapping[str, Any], trained: Mapping[str, Any], n: int, ci: float = 0.95) -> dict[str, Any]:
    """Paired pass@1 and pass@n differences (trained - base) with ``ci`` CIs, and the guesser's pass@n, for one
    level."""
    cb, ct = base["correct_counts"], trained["correct_counts"]
    same = base.get("problems_sha256") == trained.get("problems_sha256") and len(cb) == len(ct)
    if not same:
        raise CorruptedCheckpointError(
            "The base and the trained model were evaluated on different problems (their problems_sha256 or counts"
            " differ): rebuild the trained model so both use the current evaluation config.")
    out: dict[str, Any] = {"n_problems": len(cb), "n_samples": n}
    for k in (1, n):
        b, t = _per_problem(cb, n, k), _per_problem(ct, n, k)
        lo, hi = paired_diff_ci(t, b, seed=CI_SEED, ci=ci, n_boot=N_BOOT)
        out[f"base_pass@{k}"] = float(b.mean())
        out[f"trained_pass@{k}"] = float(t.mean())
        out[f"diff_pass@{k}"] = float(t.mean() - b.mean())
        out[f"diff_pass@{k}_ci"] = [float(lo), float(hi)]
    out[f"guess_pass@{n}"] = float(trained.get(f"guess_pass@{n}", float("nan")))
    solved_b, solved_t = np.asarray(cb) > 0, np.asarray(ct) > 0
    # Invisible-Leash split of problems: solved by both, only by the trained model, only by the base
    out["preserved"] = int((solved_b & solved_t).sum())
    out["expanded"] = int((~solved_b & solved_t).sum())
    out["shrunk"] = int((solved_b & ~solved_t).sum())
    return out


def _level_verdict(levels: Mapping[str, Mapping[str, Any]], first: str, n: int, label: str, in_dist_ok: bool,
                   up_at_n: Callable[[str], bool], up_at_1: Callable[[str], bool]) -> dict[str, Any]:
    """The pass@k criteria of the module docstring, given per level whether pass@n (``up_at_n``) and pass@1
    (``up_at_1``) rose significantly: ``expanded_levels`` (deeper than ``first`` and above the guesser too),
    ``sharpened_levels``, ``passed`` for the label (None for a control) and ``gain``."""
    expanded = [lv for lv, r in levels.items() if int(lv) > int(first) and up_at_n(lv)
                and r[f"trained_pass@{n}"] > r[f"guess_pass@{n}"]]
    sharpened = [lv for lv in levels if up_at_1(lv)]
    passed = {"creation": bool(expanded), "activation": bool(sharpened)}.get(label)
    return {"expanded_levels": expanded, "sharpened_levels": sharpened,
            "passed": None if passed is None else passed and bool(in_dist_ok), "gain": bool(expanded or sharpened)}


def gain_check(base_metrics: Mapping[str, Any], metrics: Mapping[str, Any], label: str) -> dict[str, Any]:
    """The gain reading for a trained organism against its base (module docstring); JSON-ready."""
    if "regret_sampled_per_bandit" in metrics and "regret_sampled_per_bandit" in base_metrics:
        b = np.asarray(base_metrics["regret_sampled_per_bandit"])
        t = np.asarray(metrics["regret_sampled_per_bandit"])
        lo, hi = paired_diff_ci(b, t, seed=CI_SEED)
        gain = bool(lo > 0)
        return {"kind": "regret", "regret_reduction": float(b.mean() - t.mean()), "regret_reduction_ci": [lo, hi],
                "gain": gain, "passed": None if label == "no_signal" else gain}
    if "by_level" not in metrics or "by_level" not in base_metrics:
        return {"kind": "none", "passed": None, "why": "no per-level evaluation with per-problem counts"}
    n = int(metrics["n_samples"])
    shared = [lv for lv in metrics["by_level"] if lv in base_metrics["by_level"]]
    if not shared:
        return {"kind": "none", "passed": None, "why": "the base and the trained model share no evaluated level"}
    first = min(shared, key=int)
    tested = len(shared) - 1 if label == "creation" and len(shared) > 1 else len(shared)
    ci = 1.0 - FAMILY_ALPHA / tested
    levels = {lv: level_readings(base_metrics["by_level"][lv], metrics["by_level"][lv], n, ci) for lv in shared}
    ind = levels[first]
    in_dist_ok = ind["trained_pass@1"] >= 0.5 * ind["base_pass@1"]
    verdict = _level_verdict(levels, first, n, label, in_dist_ok, lambda lv: levels[lv][f"diff_pass@{n}_ci"][0] > 0,
                             lambda lv: levels[lv]["diff_pass@1_ci"][0] > 0)
    out: dict[str, Any] = {"kind": "passk", "ci": ci, "correction": f"Bonferroni over {tested} levels",
                           "levels": levels, "in_distribution_level": first,
                           "in_distribution_ok": bool(in_dist_ok), "expanded_levels": verdict["expanded_levels"],
                           "sharpened_levels": verdict["sharpened_levels"], "passed": verdict["passed"],
                           "gain": verdict["gain"]}
    return out


def recheck_gain(base_metrics: Mapping[str, Any], metrics: Mapping[str, Any], label: str,
                 check: Mapping[str, Any]) -> dict[str, Any]:
    """The gain check read again with each comparison's paired bootstrap interval replaced by a one-sided paired
    sign-flip permutation test at the same level (:func:`~rlmeta_interp.analysis.stats.paired_gain_p`), every other
    criterion unchanged: which levels expand and sharpen (or whether regret fell), and whether the check passes. The
    bootstrap is narrow where few problems differ, as they do at a depth the base never solves; this says whether any
    verdict rests on that. JSON-ready; ``check`` is the stored :func:`gain_check` of the same evaluations."""
    if check.get("kind") == "regret":
        p = paired_gain_p(base_metrics["regret_sampled_per_bandit"], metrics["regret_sampled_per_bandit"], seed=CI_SEED)
        gain = p < FAMILY_ALPHA / 2
        return {"kind": "regret", "p": p, "alpha": FAMILY_ALPHA / 2, "gain": gain,
                "passed": None if label == "no_signal" else gain}
    if check.get("kind") != "passk":
        return {"kind": check.get("kind", "none"), "passed": check.get("passed")}
    n, alpha = int(metrics["n_samples"]), (1.0 - float(check["ci"])) / 2
    first, levels = check["in_distribution_level"], check["levels"]
    p: dict[str, dict[str, float]] = {}
    for lv in levels:
        b, t = base_metrics["by_level"][lv]["correct_counts"], metrics["by_level"][lv]["correct_counts"]
        p[lv] = {f"pass@{k}": paired_gain_p(_per_problem(t, n, k), _per_problem(b, n, k), seed=CI_SEED) for k in (1, n)}
    return {"kind": "passk", "alpha": alpha, "p": p,
            **_level_verdict(levels, first, n, label, check["in_distribution_ok"],
                             lambda lv: p[lv][f"pass@{n}"] < alpha, lambda lv: p[lv]["pass@1"] < alpha)}


def _verdict(passed: bool | None) -> str:
    return "n/a" if passed is None else ("passed" if passed else "failed")


def recheck_records(manifests: Mapping[str, dict[str, Any]]) -> tuple[int, list[dict[str, Any]]]:
    """:func:`recheck_gain` over every labelled trained manifest in ``manifests`` (name -> manifest) whose base is
    there too: ``(how many were read, one row per model whose verdict or levels differ)``, each row naming the model,
    its label, both verdicts and, for pass@k checks, both lists of expanded and sharpened levels."""
    read, rows = 0, []
    for name, m in sorted(manifests.items()):
        base, check = manifests.get(str(m.get("base"))), m.get("gain_check")
        if not m.get("label") or base is None or not check or "metrics" not in m:
            continue
        read += 1
        again = recheck_gain(base["metrics"], m["metrics"], m["label"], check)
        keys = ("passed", "expanded_levels", "sharpened_levels")
        if any(again.get(k) != check.get(k) for k in (*keys, "gain")):  # gain: a no_signal control's reading
            rows.append({"model": name, "label": m["label"], "gain check": _verdict(check.get("passed")),
                         "recheck": _verdict(again.get("passed")),
                         **{f"{k.split('_')[0]}, check / recheck": f"{', '.join(check.get(k) or []) or 'none'} /"
                            f" {', '.join(again.get(k) or []) or 'none'}" for k in keys[1:]}})
    return read, rows


def is_validation_case(label: str | None, check: Mapping[str, Any] | None) -> bool:
    """Whether a labelled model counts as a validation case of its label: a control (no_signal) always does; a
    creation or activation model only when its gain check passed."""
    if not label:
        return False
    return label == "no_signal" or (check or {}).get("passed") is True


def case_label(label: str | None, check: Mapping[str, Any] | None) -> str:
    """A tuned model's label as a figure names it: the label fixed before tuning, with ", no gain" where a creation
    or activation model's gain check failed (it is not a case of its label); "" for a model without a label."""
    if not label:
        return ""
    return label + ("" if is_validation_case(label, check) else ", no gain")


def refresh_gain_checks(manifests: Mapping[str, dict[str, Any]]) -> list[str]:
    """Recompute, in place, the ``gain_check`` of every labelled trained manifest in ``manifests`` (name ->
    manifest) whose base manifest is there too, from the evaluations they store; returns the names whose check
    changed. For stored checks made under an older rule: the evaluations, not the verdicts, are the data."""
    changed = []
    for name, m in manifests.items():
        base = manifests.get(str(m.get("base")))
        if not m.get("label") or base is None or "metrics" not in m:
            continue
        new = gain_check(base["metrics"], m["metrics"], m["label"])
        if new != m.get("gain_check"):
            m["gain_check"] = new
            changed.append(name)
    return changed
