"""Runs read beside their twins: for the registered composition tests that change one setting of runs read already
(``speed``: the learning rate; ``after``: the number of steps), each run's reading, summary inputs and training-curve
facts next to those of its twin (the same base, RL seed and reward at the earlier tests' budget, named ``-rl-long``),
and the paired changes with an interval over bases."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ...errors import InvalidConfigError
from ...organism.tables import takeoff_step
from .metrics import resampler
from .questions import Row, deepest

TWIN = "-rl-long"  # the earlier tests' runs: the twins' variant
STATISTICS = ("boundary", "likelihood", "elicitation")  # the summary inputs compared
TAKEOFF_ROWS = 2  # take-off: the first of two stored rows in a row at reward >= 1/2 (the learning-speed amendment)
CONVERGED = 0.95  # reported: the first of two stored rows at reward >= 0.95
N_BOOT = 2000


def twin_of(pair: str, variants: Sequence[str]) -> str:
    """The name of ``pair``'s twin: its ``-rl-<variant>`` (the first of ``variants`` in its name) as ``-rl-long``."""
    for v in variants:
        if f"-rl-{v}" in pair:
            return pair.replace(f"-rl-{v}", TWIN, 1)
    raise InvalidConfigError(f"{pair} is not a run of this test (none of {', '.join(f'-rl-{v}' for v in variants)}"
                             " in its name).")


def takeoff(manifest: Mapping[str, Any]) -> int | None:
    """The run's take-off step (:data:`TAKEOFF_ROWS` stored rows at reward >= 1/2)."""
    return takeoff_step(dict(manifest), rows=TAKEOFF_ROWS)


def stats_of(r: Row) -> dict[str, Any]:
    """A reading's fitted reading, P(creation) and standardised summary inputs (None where not measured)."""
    return {"reading": str(r["reading"]), "p_creation": float(r["p_creation"]),
            **{k: None if r.get(k) in (None, "") or np.isnan(float(r[k])) else float(r[k]) for k in STATISTICS}}


def curve_facts(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """From a run's stored curve and evaluation: its take-off, the first stored step with reward >= :data:`CONVERGED`
    (for :data:`TAKEOFF_ROWS` rows), steps trained after it, the last stored entropy; the deepest level's pass@1 and
    pass@n."""
    curve = manifest.get("training_curve") or []
    done = takeoff_step(dict(manifest), CONVERGED, rows=TAKEOFF_ROWS)
    last = int(curve[-1]["step"]) if curve else None
    deep = deepest(manifest.get("metrics") or {})
    return {"takeoff_step": takeoff(manifest), "converged_step": done,
            "steps_after_converged": None if done is None or last is None else last - done,
            "final_entropy": curve[-1].get("entropy") if curve else None,
            "deepest_pass@1": deep.get("pass@1"), "deepest_pass@n": deep.get("pass@n")}


def paired_runs(test: Sequence[Row], earlier: Sequence[Row], manifests: Mapping[str, Mapping[str, Any]],
                variants: Sequence[str]) -> list[dict[str, Any]]:
    """One entry per reading of ``test``: its pair, base, label, gain check, curve facts and statistics, its twin's
    (found among ``earlier`` by :func:`twin_of`; every twin must have been read) with ``twin_`` before each key, and
    the change (run minus twin) of P(creation) and each summary input."""
    by_name = {str(r["pair"]): r for r in earlier}
    missing = sorted({twin_of(str(r["pair"]), variants) for r in test} - set(by_name))
    if missing:
        raise InvalidConfigError(f"No reading of the twin {missing[0]} (and {len(missing) - 1} more) among the"
                                 " earlier tests' readings: read them first.")
    runs = []
    for r in test:
        twin = by_name[twin_of(str(r["pair"]), variants)]
        mine, theirs = stats_of(r), stats_of(twin)
        runs.append({"pair": str(r["pair"]), "base": str(manifests[str(r["pair"])]["base"]), "label": str(r["label"]),
                     "gain_check": str(r["gain_check"]), **curve_facts(manifests[str(r["pair"])]), **mine,
                     "twin": str(twin["pair"]), "twin_gain_check": str(twin["gain_check"]),
                     **{f"twin_{k}": v for k, v in {**curve_facts(manifests[str(twin["pair"])]), **theirs}.items()},
                     "change": {k: None if mine[k] is None or theirs[k] is None else mine[k] - theirs[k]
                                for k in ("p_creation", *STATISTICS)}})
    return runs


def paired_change(runs: Sequence[Mapping[str, Any]], key: str, *, n_boot: int = N_BOOT, seed: int = 0
                  ) -> dict[str, Any]:
    """The mean change (run minus twin) of ``key`` over ``runs`` where both have it, with a 95% bootstrap interval
    over bases (runs that share a base are not independent)."""
    kept = [r for r in runs if r["change"].get(key) is not None]
    if not kept:
        return {"mean": None, "lo": None, "hi": None, "n": 0, "n_bases": 0}
    values = np.asarray([r["change"][key] for r in kept], dtype=float)
    groups = [str(r["base"]) for r in kept]
    rng, draw = np.random.default_rng(seed), resampler(len(values), groups)
    boot = [values[draw(rng)].mean() for _ in range(n_boot)]
    lo, hi = np.quantile(boot, [0.025, 0.975])
    return {"mean": float(values.mean()), "lo": float(lo), "hi": float(hi), "n": len(kept),
            "n_bases": len(set(groups))}


def changes_by_class(runs: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """:func:`paired_change` of P(creation) and each summary input, per design label."""
    return {lab: {k: paired_change([r for r in runs if r["label"] == lab], k) for k in ("p_creation", *STATISTICS)}
            for lab in sorted({str(r["label"]) for r in runs})}


def creation_check(runs: Sequence[Mapping[str, Any]], threshold: float, *, twin_read_creation: bool
                   ) -> dict[str, Any]:
    """Whether the test's creation runs that passed their gain check lean activation: any read activation (with
    ``twin_read_creation``, only those whose twin was read creation count), or their median change in P(creation)
    below ``threshold``. "no creation case" when none passed."""
    created = [r for r in runs if r["label"] == "creation" and r["gain_check"] == "passed"]
    counted = [r for r in created if not twin_read_creation or r["twin_reading"] == "creation"]
    shift = float(np.median([r["change"]["p_creation"] for r in created])) if created else None
    result = ("no creation case" if not created else
              "confounded" if shift < threshold or any(r["reading"] == "activation" for r in counted) else
              "not confounded")
    return {"result": result, "median_change_p_creation": shift, "threshold": threshold,
            "creation_passed": [r["pair"] for r in created]}


def repeats_twin(run: Mapping[str, Any], twin: Mapping[str, Any], tol: float = 1e-6) -> dict[str, Any]:
    """Whether ``run``'s stored training curve has its twin's reward at every stored step both hold: whether the two
    runs took the same steps, as far as their curves show (None when they share no stored step; exported curves are
    thinned, so a short run and its twin may share few), with the number of steps compared."""
    mine = {int(r["step"]): r.get("reward") for r in run.get("training_curve") or []}
    theirs = {int(r["step"]): r.get("reward") for r in twin.get("training_curve") or []}
    shared = sorted(set(mine) & set(theirs))
    same = (None if not shared else all(mine[s] is not None and theirs[s] is not None and abs(mine[s] - theirs[s]) <= tol
                                        for s in shared))
    return {"same": same, "steps_compared": len(shared)}
