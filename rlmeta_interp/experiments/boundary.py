"""The capability-boundary experiment across pairs (notebooks 03 and 04; claims 3-5 in docs/claims.md).

:func:`boundary_table` puts many :func:`~rlmeta_interp.analysis.capability.run_boundary` results side by side
(variants, doses, worlds) with paired CIs of the RL - base differences; :func:`relative_gains` asks whether a
spurious reward "nearly works" (Shao et al. 2506.10947): its pass@1 gain as a fraction of the correct reward's gain,
with a CI; :func:`boundary_sentence` reads a row in words. Notebooks choose the pairs with
:func:`rlmeta_interp.selection.select_pairs`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from ..analysis.capability import BoundaryResult
from ..analysis.passk import pass_at_k_matrix
from ..analysis.ratios import recovered_share_ci
from ..analysis.stats import mean_diff_ci
from ..errors import EmptyInputError, InvalidConfigError
from ..prose import fmt_ci


def boundary_table(results: Sequence[BoundaryResult]) -> pd.DataFrame:
    """One row per result: pass@1 and pass@n of base and RL with CIs, RL - base differences with paired CIs and
    their direction (``up`` / ``down`` / ``no detectable change``), crossover k, coverage fractions, the guessing
    baseline, and the perplexity ratio of RL samples to base samples under the base (with a paired CI)."""
    if not results:
        raise EmptyInputError("No results given: pass the BoundaryResults of run_boundary.")
    return pd.DataFrame([r.summary() for r in results])


def curves(results: Sequence[BoundaryResult], ks: Sequence[int] | None = None) -> pd.DataFrame:
    """The pass@k curves of every result stacked (columns of :meth:`BoundaryResult.curve`)."""
    if not results:
        raise EmptyInputError("No results given: pass the BoundaryResults of run_boundary.")
    return pd.concat([r.curve(ks) for r in results], ignore_index=True)


def relative_gains(results: Sequence[BoundaryResult], reference: str = "correct", *, k: int = 1) -> pd.DataFrame:
    """Each variant's pass@k gain over the shared base, and that gain as a fraction of the ``reference`` variant's.

    All results must share one base and one problem set (as the variants of one zoo base do). The gains' CIs are
    paired by problem (:func:`~..analysis.stats.mean_diff_ci`). The fraction is a ratio of sums of per-problem gains,
    with the interval of a share of a gap recovered (:func:`~..analysis.ratios.recovered_share_ci`: the variant's gain
    over the reference's, both paired with the base by problem). When the reference's own gain is not clearly
    positive (its CI touches 0) the fraction is undefined and reported as NaN.
    Columns: ``variant, gain, gain_lo, gain_hi, fraction_of_reference, fraction_lo, fraction_hi``.
    """
    if not results:
        raise EmptyInputError("No results given.")
    by = {r.label: r for r in results}
    if reference not in by:
        raise InvalidConfigError(f"No result for reference variant {reference!r}; have {sorted(by)}.")
    ref = by[reference]
    for r in results:
        if r.base != ref.base or r.prompts != ref.prompts or r.n != ref.n:
            raise InvalidConfigError(
                f"{r.pair} and {ref.pair} do not share a base model, problems and n: relative gains compare variants"
                " of one base on the same problems (same BoundaryConfig)."
            )
    if not 1 <= k <= ref.n:
        raise InvalidConfigError(f"k={k} must lie in [1, n={ref.n}].")
    c = ref.config
    base = pass_at_k_matrix(ref.counts_base, ref.n, [k])[:, 0]
    ref_rl = pass_at_k_matrix(ref.counts_rl, ref.n, [k])[:, 0]
    d_ref = ref_rl - base
    ref_lo, _ = mean_diff_ci(ref_rl, base, n_boot=c.n_boot, ci=c.ci, seed=c.seed)
    fraction_defined = d_ref.sum() > 0 and ref_lo > 0
    rows = []
    for label, r in by.items():
        rl = pass_at_k_matrix(r.counts_rl, r.n, [k])[:, 0]
        d = rl - base
        lo, hi = mean_diff_ci(rl, base, n_boot=c.n_boot, ci=c.ci, seed=c.seed)
        if not fraction_defined:
            frac, flo, fhi = float("nan"), float("nan"), float("nan")
        elif label == reference:
            frac, flo, fhi = 1.0, 1.0, 1.0  # the reference's own gain is its whole gain, by definition
        else:
            frac = float(d.sum() / d_ref.sum())
            # + 0.0 prints a zero-width interval at 0 as 0, not -0
            flo, fhi = (v + 0.0 for v in recovered_share_ci(rl, base, ref_rl, n_boot=c.n_boot, ci=c.ci, seed=c.seed))
        rows.append({"variant": label, "pair": r.pair, "k": k, "gain": float(d.mean()), "gain_lo": lo, "gain_hi": hi,
                     "fraction_of_reference": frac, "fraction_lo": flo, "fraction_hi": fhi})
    return pd.DataFrame(rows)


def boundary_sentence(row: Mapping[str, Any]) -> str:
    """One sentence reading a :func:`boundary_table` row against claim 3 (RL stays inside the base's boundary)."""
    n = int(row["n"])
    d1 = fmt_ci(row["d_pass@1"], row["d_pass@1_lo"], row["d_pass@1_hi"], digits=3)
    dn = fmt_ci(row["d_pass@n"], row["d_pass@n_lo"], row["d_pass@n_hi"])
    head = (f"`{row['pair']}`: pass@1 {fmt_ci(row['pass@1_base'], digits=3)} (base) vs"
            f" {fmt_ci(row['pass@1_rl'], digits=3)} (RL),"
            f" difference {d1}; pass@{n} {fmt_ci(row['pass@n_base'])} vs {fmt_ci(row['pass@n_rl'])}, difference {dn}")
    cross = row.get("crossover_k")
    cross_txt = (f"the base's pass@k first reaches RL's at k = {int(cross)} (the crossover)"
                 if cross is not None and not pd.isna(cross) else f"the base's pass@k stays below RL's up to k = {n}")
    change = row["pass@n_change"]
    if change == "up":
        verdict = (f"RL solves problems the base never solved in {n} samples ({row['frac_rl_only']:.0%} of problems"
                   " are RL-only): the boundary expanded, creation evidence, against what Yue et al. report")
    elif change == "down":
        verdict = (f"at k = {n} the base solves more problems than RL ({row['frac_base_only']:.0%} base-only,"
                   f" {row['frac_rl_only']:.0%} RL-only): RL narrowed the boundary, as Yue et al. report")
    else:
        verdict = (f"pass@{n} does not differ detectably ({row['frac_rl_only']:.0%} RL-only, "
                   f"{row['frac_base_only']:.0%} base-only problems): RL stays inside the base's boundary at this n")
    gain = {"up": "RL raised pass@1", "down": "RL lowered pass@1",
            "no detectable change": "RL did not change pass@1 detectably"}.get(row["pass@1_change"], "")
    return f"{head}; {gain}, {cross_txt}, and {verdict}."


def below_guesser(row: Mapping[str, Any]) -> bool:
    """True when a guesser that does not reason does at least as well as the base or the RL model, at k = 1 or at
    k = n (the ks a :func:`boundary_table` row reports). False when the row has no guessing baseline."""
    if pd.isna(row.get("guess_pass@1", float("nan"))):
        return False
    return any(row[f"pass@{k}_{m}"] <= row[f"guess_pass@{k}"] for k in ("1", "n") for m in ("base", "rl"))


def beats_guesser(row: Mapping[str, Any]) -> bool:
    """True when the base or the RL model beats the guesser's pass@n (the row's largest k); True when the row has no
    guessing baseline. A boundary reading means something only there."""
    if pd.isna(row.get("guess_pass@n", float("nan"))):
        return True
    return max(row["pass@n_base"], row["pass@n_rl"]) > row["guess_pass@n"]


def guesser_note(main: pd.DataFrame) -> str:
    """A warning naming the (world, dose) rows of ``main`` (a :func:`boundary_table`) at or below the guesser; "" if
    none. A boundary change there cannot show reasoning."""
    low = sorted({(r["world"], float(r["dose"])) for r in main.to_dict("records") if below_guesser(r)})
    if not low:
        return ""
    return ("**Read with care:** a guesser that does not reason does at least as well as the base or RL (at k = 1 or"
            " k = n) on " + ", ".join(f"{w} dose {d:g}" for w, d in low) + "; boundary changes there cannot show"
            " reasoning, and these worlds are outside the validation claims (data/README.md).")


def domain_verdict(main: pd.DataFrame) -> str:
    """Claim 4 (creation in planning, activation in arithmetic) read from ``main``, a :func:`boundary_table` of the
    correct-reward pairs of both worlds. A world counts only at the doses where the RL model or the base beats the
    guesser at k = n (:func:`beats_guesser`; a base at the guesser's level with RL above it is what creation looks
    like); when one world has no such dose the comparison is not made, and the verdict says why instead of agreeing
    or not."""
    worlds = set(main["world"])
    if not worlds >= {"arithmetic", "planning"}:
        return (f"Only {sorted(worlds)} exists in this zoo, so the domain comparison cannot be made here (build the"
                " paper preset: `rlmeta-interp zoo build --preset paper`).")
    rows = [r for r in main.to_dict("records") if beats_guesser(r)]
    usable = {w: sorted({float(r["dose"]) for r in rows if r["world"] == w}) for w in ("arithmetic", "planning")}
    void = [w for w, doses in usable.items() if not doses]
    if void:
        return (f"**Claim 4 is not tested on this zoo**: in {' and '.join(void)}, a guesser that does not reason does at"
                " least as well as both the base and RL at k = n at every dose measured, so a boundary change there"
                " cannot show reasoning, and the domain comparison is not made. Testing the claim needs organisms that"
                " beat the guesser in both worlds (for planning: a larger model, a frontier scratchpad, or the adjacency"
                " written into the prompt), which this zoo does not have.")
    up = {w: sorted({float(r["dose"]) for r in rows if r["world"] == w and r["pass@n_change"] == "up"})
          for w in ("arithmetic", "planning")}

    def where(w: str) -> str:
        return f"at doses {', '.join(f'{d:g}' for d in up[w])}" if up[w] else "at no dose"

    scope = f" (doses where a model beats the guesser: arithmetic {usable['arithmetic']}, planning {usable['planning']})"
    if up["planning"] and not up["arithmetic"]:
        return (f"**Agrees with claim 4**: RL expanded the boundary on planning ({where('planning')}) and on no"
                f" arithmetic dose{scope}.")
    if not up["planning"] and not up["arithmetic"]:
        return ("**Does not agree with claim 4**: RL expanded the boundary (pass@n CI above 0) in neither world"
                f"{scope}; the claim predicts expansion on planning.")
    return ("**Does not agree with claim 4**: boundary expansion (pass@n CI above 0) appeared on arithmetic"
            f" {where('arithmetic')} and on planning {where('planning')}; the claim predicts planning only{scope}.")
