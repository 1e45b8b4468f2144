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
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..analysis.passk import pass_at_k
from ..analysis.stats import paired_diff_ci
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
    expanded = [lv for lv, r in levels.items() if int(lv) > int(first) and r[f"diff_pass@{n}_ci"][0] > 0
                and r[f"trained_pass@{n}"] > r[f"guess_pass@{n}"]]
    sharpened = [lv for lv, r in levels.items() if r["diff_pass@1_ci"][0] > 0]
    out: dict[str, Any] = {"kind": "passk", "ci": ci, "correction": f"Bonferroni over {tested} levels",
                           "levels": levels, "in_distribution_level": first,
                           "in_distribution_ok": bool(in_dist_ok), "expanded_levels": expanded,
                           "sharpened_levels": sharpened}
    if label == "creation":
        out["passed"] = bool(expanded) and bool(in_dist_ok)
    elif label == "activation":
        out["passed"] = bool(sharpened) and bool(in_dist_ok)
    else:
        out["passed"] = None
    out["gain"] = bool(expanded or sharpened)
    return out


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
