"""Within one base, at one learning rate and length, is a run that ends less accurate at the held-out level read more
toward creation? The middle-rate seeds test's registered question (docs/preregistration.md), computed from committed
readings, manifests and the committed fit alone.

The middle-rate test (lr 3e-4, 1500 steps, RL seeds 0 and 1 on four dose-0.01 bases, activation by design) could
not tell its rate from the end state: the runs read creation all ended more than 0.05 below their twin at the usual
rate on the deepest (held-out) level, and the two read activation both came from one base. Rate and length fixed,
this test adds RL seeds 2 to 5 on two of those bases (seeds 15 and 16), so that the end state varies within each
base (by RL seed alone), and asks whether it orders the readings there:

- *the statistic*: for each base with at least :data:`MIN_PER_BASE` cases (runs that passed their gain check), the
  Kendall rank correlation (tau-b, :func:`scipy.stats.kendalltau`) between the cases' deepest-level pass@1 and their
  P(creation); the mean over those bases (a base whose cases all share one value of either is left out, since its
  tau is undefined);
- *its exact p-value*: the share of the within-base permutations of P(creation) (every one, each equally likely when
  the end state does not order the readings within a base) whose mean tau is at most the observed one (one-sided:
  the end state predicts a negative correlation);
- *the verdict*: *cannot answer* with fewer than :data:`MIN_CASES` cases or fewer than :data:`MIN_BASES` bases in
  the statistic; *ranked by the end state, within bases* when the mean tau is negative and the p-value at most
  :data:`ALPHA`; *not shown at this size* otherwise.

Registered beside it, not deciding:

- each case classed *matched* when its deepest-level pass@1 is at least the mean of its base's two runs at the usual
  rate minus :data:`~.lrmid.MATCHED`; two predictors fixed before these runs were built, the end state (activation
  when matched) and the base (the reading both of the base's middle-rate runs got; none where they differ), with how
  many cases each reads right and, where they disagree, which one does, summed up by :func:`disagreement`;
- per base, the change in P(creation) from its most to its least accurate case, split into each summary input's
  share of the change in log-odds (its coefficient times the change in its standardised value);
- the statistic again without the cases whose deepest-level pass@1 is below :data:`COLLAPSED`, and without the base
  of :data:`NOISY_BASE` (near the ceiling, where evaluation noise may set the order);
- not clean (the middle-rate runs were read before this test was registered): the same statistic with them added.

The bases were rebuilt for this test on another machine and differ from the recorded ones in their last digits
(:func:`realisations` reports which). The statistic compares runs of one rebuilt base with each other only; every
comparison with runs of the recorded bases (the usual-rate references, the base predictor, the statistic with the
middle-rate runs) compares two realisations of one base design.

``python -m rlmeta_interp.analysis.validation.lrmidseeds TEST`` writes ``<TEST>-lrmidseeds.json`` beside the readings
(``data/pilots/readings/``), from ``TEST.csv``, the middle-rate readings, the twins' (the second low-dose test's)
and the pilot manifests.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import kendalltau

from ...errors import InvalidConfigError
from ...io import WEIGHTS_FILE
from .lrmid import MATCHED
from .lrmid import VARIANTS as MID  # the middle-rate runs' naming: -rl-long-mid, twins -rl-long
from .lrshift import TWINS
from .questions import Row, deepest, require_manifests, run_question
from .twins import STATISTICS, stats_of, twin_of

EARLIER = "composition-lrmid"  # the middle-rate test's readings: RL seeds 0 and 1 at this rate
MIDDLE_RUNS = 2  # per base, in those readings: the base predictor needs both, passed and read alike
MAX_PER_BASE = 8  # the exact distribution enumerates n! orderings per base
MIN_CASES = 6  # amended twice: cases (implied by the next two, kept as registered), bases in the statistic, and
# cases a base needs to enter it
MIN_BASES = 2
MIN_PER_BASE = 3
ALPHA = 0.05  # registered: the one-sided level of the exact permutation test
COLLAPSED = 0.05  # amended, beside: cases below this deepest-level pass@1 are left out of one recomputation
NOISY_BASE = "-s15-base"  # amended, beside: the base left out of another (its runs end near pass@1 1)
MIN_DISAGREE, MIN_DISAGREE_BASES = 3, 2  # amended, beside: what the disagreement summary rests on
DIGITS = 9  # tau values are rounded to this many decimals before their distributions are combined
TIE = 1e-7


def _pass1(pair: str, manifests: Mapping[str, Mapping[str, Any]]) -> float:
    value = deepest(manifests[pair].get("metrics") or {}).get("pass@1")
    if value is None or not np.isfinite(float(value)):
        raise InvalidConfigError(f"{pair} has no (finite) deepest-level pass@1 in its manifest: export the manifests"
                                 " again from the zoo that built them.")
    return float(value)


def references(earlier: Sequence[Row], twins: Sequence[Row], manifests: Mapping[str, Mapping[str, Any]]
               ) -> dict[str, dict[str, Any]]:
    """Per base of the middle-rate runs ``earlier``: the mean deepest-level pass@1 of its runs at the usual rate (the
    middle-rate runs' twins, each of which must have been read in ``twins``), their readings, and the base predictor
    (the reading both of its middle-rate runs got, None where they differ or one failed its gain check). A base
    without both middle-rate runs is refused."""
    read = {str(r["pair"]): str(r["reading"]) for r in twins}
    out: dict[str, dict[str, Any]] = {}
    for r in earlier:
        base, twin = str(manifests[str(r["pair"])]["base"]), twin_of(str(r["pair"]), MID)
        if twin not in read:
            raise InvalidConfigError(f"No reading of the usual-rate run {twin} among the twins' readings: read them"
                                     " first.")
        b = out.setdefault(base, {"usual": {}, "middle": {}})
        b["usual"][twin] = {"reading": read[twin], "deepest_pass@1": _pass1(twin, manifests)}
        b["middle"][str(r["pair"])] = str(r["reading"]) if str(r["gain_check"]) == "passed" else None
    for base, b in out.items():
        if len(b["middle"]) != MIDDLE_RUNS:
            raise InvalidConfigError(f"{base} has {len(b['middle'])} middle-rate runs read, not {MIDDLE_RUNS} (RL seeds"
                                     " 0 and 1): give the middle-rate test's readings whole.")
        b["reference"] = float(np.mean([u["deepest_pass@1"] for u in b["usual"].values()]))
        said = set(b["middle"].values())
        b["base_prediction"] = said.pop() if len(said) == 1 and None not in said else None
    return out


def runs(test: Sequence[Row], refs: Mapping[str, Mapping[str, Any]], manifests: Mapping[str, Mapping[str, Any]]
         ) -> list[dict[str, Any]]:
    """One entry per reading of ``test``: its pair, base, gain check, reading, P(creation), deepest-level pass@1, its
    base's reference and whether it matched, and the two predictors' readings."""
    pairs = [str(r["pair"]) for r in test]
    if len(set(pairs)) < len(pairs):
        twice = sorted({p for p in pairs if pairs.count(p) > 1})
        raise InvalidConfigError(f"{twice[0]} is read more than once: keep one reading per run.")
    out = []
    for r in test:
        pair = str(r["pair"])
        base = str(manifests[pair]["base"])
        if base not in refs:
            raise InvalidConfigError(f"{pair} starts from {base}, which no middle-rate run starts from: this test"
                                     " reads only those bases.")
        p1, ref, p = _pass1(pair, manifests), float(refs[base]["reference"]), float(r["p_creation"])
        if not np.isfinite(p):
            raise InvalidConfigError(f"{pair} has no finite P(creation) ({p}): read it again.")
        # the epsilon keeps a value exactly on the bound matched (as the middle-rate test's match does)
        hit = p1 >= ref - MATCHED - 1e-9
        out.append({"pair": pair, "base": base, "gain_check": str(r["gain_check"]), "reading": str(r["reading"]),
                    "p_creation": p, "deepest_pass@1": p1,
                    "inputs": {k: v for k, v in stats_of(r).items() if k in STATISTICS}, "reference": ref,
                    "matched": hit,
                    "end_state_prediction": "activation" if hit else "creation",
                    "base_prediction": refs[base]["base_prediction"]})
    return out


def realisations(test: Sequence[Row], manifests: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per base of ``test``'s runs: the base weights its runs were tuned from (``base_weights_sha256``), the weights
    the committed base manifest records, and whether they are the same. The bases were rebuilt on another machine
    for this test; its statistic compares runs of one base with each other only, so the runs of a base must share
    one set of base weights (refused otherwise), which need not be the recorded set."""
    out: dict[str, dict[str, Any]] = {}
    for r in test:
        m = manifests[str(r["pair"])]
        b = out.setdefault(str(m["base"]), {"tuned_from": set(), "recorded": (manifests[str(m["base"])].get("files")
                                                                                or {}).get(WEIGHTS_FILE)})
        b["tuned_from"].add(m.get("base_weights_sha256"))
    for base, b in out.items():
        if len(b["tuned_from"]) != 1 or None in b["tuned_from"]:
            raise InvalidConfigError(f"The runs from {base} were not all tuned from one recorded set of base weights"
                                     " (base_weights_sha256): rebuild them from one base.")
        (b["tuned_from"],) = b["tuned_from"]
        b["same"] = b["tuned_from"] == b["recorded"]
    return out


def _tau(x: Sequence[float], y: Sequence[float]) -> float:
    return float(kendalltau(x, y).statistic)


def within_base(cases: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The registered statistic over ``cases`` (module docstring): per base, its cases and tau (None where undefined
    or below :data:`MIN_PER_BASE` cases); the mean tau over the bases that have one and its exact one-sided p-value.

    The permutation distribution of the mean is exact: each base's tau is taken under every permutation of its
    P(creation) values, and the per-base distributions are combined by convolution (every base's permutations are
    independent and equally likely), which stays small where enumerating all joint permutations would not (six runs
    on two bases: 720^2). scipy's permutation_test has no stratified (within-group) mode, hence this. A base with
    more than :data:`MAX_PER_BASE` cases is refused (n! orderings)."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for c in cases:
        groups.setdefault(str(c["base"]), []).append(c)
    per_base, used = {}, []
    for base, cs in sorted(groups.items()):
        if len(cs) > MAX_PER_BASE:
            raise InvalidConfigError(f"{base} has {len(cs)} cases: the exact test enumerates every ordering of at most"
                                     f" {MAX_PER_BASE} per base; read fewer runs per base.")
        x, y = [c["deepest_pass@1"] for c in cs], [c["p_creation"] for c in cs]
        defined = len(cs) >= MIN_PER_BASE and len(set(x)) > 1 and len(set(y)) > 1
        tau = _tau(x, y) if defined else None
        per_base[base] = {"cases": [c["pair"] for c in cs], "tau": tau}
        if defined:
            used.append((x, y, tau))
    if not used:
        return {"per_base": per_base, "bases": 0, "mean_tau": None, "p_value": None}
    total: Counter[float] = Counter({0.0: 1})
    for x, y, _ in used:
        one = Counter(round(_tau(x, perm), DIGITS) for perm in itertools.permutations(y))
        joint: Counter[float] = Counter()
        for a, n in total.items():
            for b, m in one.items():
                joint[round(a + b, DIGITS)] += n * m
        total = joint
    observed = round(sum(t for _, _, t in used), DIGITS)
    # sums at the observed one count as at most it: rounding leaves them within TIE of each other
    p = sum(n for s, n in total.items() if s <= observed + TIE) / sum(total.values())
    return {"per_base": per_base, "bases": len(used), "mean_tau": sum(t for _, _, t in used) / len(used),
            "p_value": float(p)}


def verdict(cases: Sequence[Mapping[str, Any]], stat: Mapping[str, Any]) -> str:
    """The registered verdict (module docstring) from the cases and their :func:`within_base` statistic."""
    if len(cases) < MIN_CASES or stat["bases"] < MIN_BASES:
        return "cannot answer"
    if stat["mean_tau"] < 0 and stat["p_value"] <= ALPHA:
        return "ranked by the end state, within bases"
    return "not shown at this size"


def predictors(cases: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """How many cases each predictor reads right (the base's only where it has a prediction), and, on the cases where
    both predict and they disagree, how many each gets right."""
    based = [c for c in cases if c["base_prediction"] is not None]
    split = [c for c in based if c["base_prediction"] != c["end_state_prediction"]]
    return {"end_state_right": sum(c["end_state_prediction"] == c["reading"] for c in cases),
            "base_right": sum(c["base_prediction"] == c["reading"] for c in based), "base_predicts": len(based),
            "disagree": [c["pair"] for c in split],
            "disagree_end_state_right": sum(c["end_state_prediction"] == c["reading"] for c in split),
            "disagree_base_right": sum(c["base_prediction"] == c["reading"] for c in split)}


def disagreement(pred: Mapping[str, Any], cases: Sequence[Mapping[str, Any]]) -> str:
    """The predictors' disagreement in a few words (beside, not deciding): *end state favoured* (or *base favoured*)
    when at least :data:`MIN_DISAGREE` cases from :data:`MIN_DISAGREE_BASES` bases have the two disagree and that
    predictor is right on a strict majority of them; *not separated* otherwise."""
    split = [c for c in cases if c["pair"] in set(pred["disagree"])]
    if len(split) < MIN_DISAGREE or len({c["base"] for c in split}) < MIN_DISAGREE_BASES:
        return "not separated"
    for key, name in (("disagree_end_state_right", "end state favoured"), ("disagree_base_right", "base favoured")):
        if 2 * pred[key] > len(split):
            return name
    return "not separated"


def contributions(cases: Sequence[Mapping[str, Any]], fitted: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Per base with two or more cases: its most and least accurate case (deepest-level pass@1), their change in
    P(creation), and each summary input's share of the change in log-odds (coefficient x change in its standardised
    value; None where either case lacks it)."""
    coef = dict(zip(fitted["inputs"], map(float, fitted["coef"]), strict=True))
    out = {}
    # ties in pass@1 are broken by P(creation) then name, so the pair chosen does not depend on the readings' order
    for base in sorted({c["base"] for c in cases}):
        cs = sorted((c for c in cases if c["base"] == base),
                    key=lambda c: (c["deepest_pass@1"], -c["p_creation"], c["pair"]))
        if len(cs) < 2:
            continue
        low, high = cs[0], cs[-1]
        out[base] = {"least_accurate": low["pair"], "most_accurate": high["pair"],
                     "change_p_creation": low["p_creation"] - high["p_creation"],
                     "log_odds_share": {k: None if low["inputs"].get(k) is None or high["inputs"].get(k) is None
                                        else coef[k] * (low["inputs"][k] - high["inputs"][k]) for k in coef}}
    return out


def lrmidseeds_question(test: Sequence[Row], earlier: Sequence[Row], twins: Sequence[Row],
                        manifests: Mapping[str, Mapping[str, Any]], fitted: Mapping[str, Any]) -> dict[str, Any]:
    """The registered question (module docstring) over readings rows ``test``, the middle-rate readings ``earlier``,
    the usual-rate runs read in ``twins`` and the committed fit's summary ``fitted``. JSON-ready."""
    require_manifests([*test, *earlier, *twins], manifests)
    bases = realisations(test, manifests)
    refs = references(earlier, twins, manifests)
    mine = runs(test, refs, manifests)
    cases = [r for r in mine if r["gain_check"] == "passed"]
    stat = within_base(cases)
    # the middle-rate runs of this test's bases (those of other bases could not enter the statistic)
    seen = [r for r in runs(earlier, refs, manifests) if r["gain_check"] == "passed" and r["base"] in bases]
    pred = predictors(cases)
    return {"verdict": verdict(cases, stat), "runs": mine, "cases": [c["pair"] for c in cases],
            "not_cases": [r["pair"] for r in mine if r["gain_check"] != "passed"], "within_base": stat,
            "alpha": ALPHA, "min_cases": MIN_CASES, "min_bases": MIN_BASES, "min_per_base": MIN_PER_BASE,
            "within": MATCHED, "base_weights": bases, "references": refs,
            "predictors": {**pred, "summary": disagreement(pred, cases)},
            "contributions": contributions(cases, fitted),
            "without_collapsed": {**within_base([c for c in cases if c["deepest_pass@1"] >= COLLAPSED]),
                                  "below": COLLAPSED},
            "without_noisy_base": {**within_base([c for c in cases if not c["base"].endswith(NOISY_BASE)]),
                                   "base": NOISY_BASE},
            "with_seen": {**within_base([*seen, *cases]), "middle_rate_cases": [c["pair"] for c in seen]}}


def main(argv: list[str] | None = None, folder: str | Path | None = None,
         table_dir: str | Path | None = None) -> Path:
    """The command (module docstring; :func:`~.questions.run_question`). Returns the JSON's path."""
    return run_question(argv, "lrmidseeds", "TEST (a readings name under data/pilots/readings, e.g."
                        " composition-lrmid-seeds)", (EARLIER, TWINS),
                        lambda r, m, f: lrmidseeds_question(r[0], r[1], r[2], m, f), folder, table_dir)


if __name__ == "__main__":
    main()
