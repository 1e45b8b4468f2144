"""The registered questions' answers beside the shipped readings (``data/pilots/readings/<name>-<kind>.json``, written
by ``python -m rlmeta_interp.analysis.validation.<kind>``): where each lies, and their renderings for data/README.md
and notebook 11."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..io import read_json
from .markdown import fmt_num, markdown_rows
from .readings import READINGS, readings_bar, readings_path, readings_records

def answer_path(folder: str | Path, name: str, kind: str) -> Path:
    """Where the answer ``kind`` (a registered question's module under ``analysis.validation``: "beyond", "speed",
    "lrshift", ...) to ``folder``'s readings ``name`` lies: ``<name>-<kind>.json`` beside the readings, written by
    ``analysis.validation.<kind>``."""
    return readings_path(folder, name).with_name(f"{name}-{kind}.json")


NOT_ANSWERED = "(not answered yet)\n"  # what the rendering of a registered answer shows before it is computed


def _answer(folder: str | Path, name: str, kind: str) -> dict[str, Any] | None:
    """The answer ``kind`` to ``folder``'s readings ``name`` (checksum verified), None when it is not there yet."""
    path = answer_path(folder, name, kind)
    return read_json(path, required=True) if path.exists() else None


def _credit_row(q: dict[str, Any], **first: str) -> dict[str, str]:
    """One row of a registered credit (``questions.credit``): the share read activation with its exact interval, over
    pairs and over bases, whether the set answers the question and whether it is credited."""
    def span(lo: Any, hi: Any) -> str:
        return f"{fmt_num(lo, '{:.2f}')} to {fmt_num(hi, '{:.2f}')}"

    return {**first, "read activation": f"{q['read_activation']}/{q['n']}", "exact 95% interval": span(*q["interval"]),
            "bases right": f"{q['bases_right']}/{q['n_bases']}", "over bases": span(*q["bases_interval"]),
            "answerable": "yes" if q["answerable"] else "no", "credited": "yes" if q["credited"] else "no"}


def _twin_rows(runs: list[dict[str, Any]]) -> list[dict[str, str]]:
    """One row per run beside its twin: take-off and convergence, readings, P(creation), input changes, pass@n."""
    def both(r: dict[str, Any], key: str, fmt: str) -> str:
        return f"{fmt_num(r[key], fmt)} ({fmt_num(r['twin_' + key], fmt)})"

    return [{"run": r["pair"], "label": r["label"], "gain check": r["gain_check"],
             "take-off (twin)": both(r, "takeoff_step", "{:.0f}"),
             "reward >= 0.95 (twin)": both(r, "converged_step", "{:.0f}"),
             "fitted reading (twin)": f"{r['reading']} ({r['twin_reading']})",
             "P(creation) (twin)": both(r, "p_creation", "{:.2f}"),
             **{f"change in {k}": fmt_num(r["change"][k], "{:+.2f}") for k in ("boundary", "likelihood", "elicitation")},
             "final entropy (twin)": both(r, "final_entropy", "{:.2f}"),
             "deepest pass@1 (twin)": both(r, "deepest_pass@1", "{:.3f}"),
             "deepest pass@n (twin)": both(r, "deepest_pass@n", "{:.3f}")} for r in runs]


def _changes_rows(by_class: dict[str, dict[str, dict[str, Any]]], **first: str) -> list[dict[str, str]]:
    """One row per class: each statistic's mean paired change with its interval over bases."""
    return [{**first, "class": label.replace("_", " "),
             **{k: f"{fmt_num(c['mean'], '{:+.2f}')} ({fmt_num(c['lo'], '{:.2f}')} to {fmt_num(c['hi'], '{:.2f}')};"
                   f" {c['n']} runs, {c['n_bases']} bases)" for k, c in by.items()}} for label, by in by_class.items()]


def after_text(folder: str | Path, name: str) -> str:
    """The registered "does the meter read how long RL trained after it learnt?" answer for ``folder``'s readings
    ``name`` (from ``<name>-after.json``, checksum verified; ``analysis.validation.after`` says what each part means):
    the verdict, the credit per reader over the brief activation cases, the brief-budget check, each run beside its
    twin with whether its curve repeats the twin's, the paired changes per arm and class, every reader's readings."""
    b = _answer(folder, name, "after")
    if b is None:
        return NOT_ANSWERED
    read, check = b["brief_read"], b["brief_creation_check"]
    credit = [_credit_row(q, reader=reader) for reader, q in b["question"].items() if reader != "pairs"]
    runs = [{**row, "curve repeats the twin's (steps compared)":
             f"{ {True: 'yes', False: 'no', None: 'n/a'}[r['repeats_twin']['same']]} ({r['repeats_twin']['steps_compared']})"}
            for row, r in zip(_twin_rows(b["runs"]), b["runs"], strict=True)]
    changes = [row for arm, by in b["paired_change"].items() for row in _changes_rows(by, arm=arm)]
    return (f"**Does the meter read how long RL trained after it learnt? Verdict: {b['verdict']}.** Brief activation"
            f" cases (300-step activation runs that passed their gain check): {read['n']}, read by the fitted summary"
            f" as activation {read['activation']}, creation {read['creation']}, no-signal {read['no_signal']}."
            f" Brief-budget check: {check['result']} ({len(check['creation_passed'])} brief creation runs passed their"
            f" gain check; median change in P(creation) {fmt_num(check['median_change_p_creation'], '{:+.2f}')}). The"
            " registered credit over the brief activation cases (at least 6 cases from 4 bases, the exact interval's"
            " lower end above one half):\n\n" + markdown_rows(credit, "(none)")
            + "\nEach run beside its twin (same base and RL seed, 1500 steps; changes are this run's standardised input"
            " minus the twin's):\n\n" + markdown_rows(runs, "(no runs)")
            + "\nMean paired change per arm and class, with a bootstrap interval over bases:\n\n"
            + markdown_rows(changes, "(none)") + "\nEvery case of the test, per label, by each reader:\n\n"
            + markdown_rows(_readers_rows(b["readers_by_class"]), "(no cases)"))


def _readers_rows(readers_by_class: dict[str, dict[str, dict[str, int]]]) -> list[dict[str, str]]:
    """One row per reader: per design label, how often it gave each reading."""
    return [{"reader": reader, **{c.replace("_", " "): ", ".join(f"{k.replace('_', ' ')} {n}" for k, n in sorted(v.items()))
                                  for c, v in sorted(by.items())}} for reader, by in readers_by_class.items()]


def beyond_text(folder: str | Path, name: str) -> str:
    """The registered "more than pass@k?" answer for ``folder``'s readings ``name`` (from ``<name>-beyond.json``,
    checksum verified; ``analysis.validation.beyond`` says what each part means): the verdict, the credit per set of
    expanding activation cases and reader, the expanding cases, per-dose counts, every reader's readings per class,
    the AUCs against the reference's creation cases, and each base's pass@1 and pass@n at the deepest level."""
    b = _answer(folder, name, "beyond")
    if b is None:
        return NOT_ANSWERED
    every = b["questions"]["all"]
    verdict = (f"credited: it read {every['as read']['read_activation']} of {every['as read']['n']} expanding activation"
               " cases as activation, as read and with its pass@k input held at its cut" if b["credited"] else "not credited" if all(q["answerable"] for q in every.values()) else
               f"not answerable (fewer than {b['min_expanding']} expanding activation cases, or from fewer than"
               f" {b['min_bases']} bases)")
    credit = [_credit_row(q, cases=subset, reader=reader) for subset, readers in b["questions"].items()
              for reader, q in readers.items()]
    cases = [{"pair": r["pair"], "base": r["base"], "fitted reading": r["reading"],
              **{k: v for k, v in r.items() if k.endswith("at its cut")},
              "expanded at levels": ", ".join(map(str, r["expanded_levels"])),
              "reward >= 0.5 from step (not registered)": "" if r.get("takeoff_step") is None else r["takeoff_step"]}
             for r in b["expanding"]]
    doses = "; ".join(f"dose {d}: {c.get('runs', 0)} activation runs, {c.get('passed', 0)} passed their gain check,"
                      f" {c.get('expanding', 0)} expanding, {c.get('expanding read activation', 0)} of those read"
                      " activation" for d, c in b["per_dose"].items())
    readers = _readers_rows(b["readers_by_class"])
    aucs = "; ".join(f"{k} {fmt_num(a['auc'], '{:.2f}')} ({fmt_num(a['lo'], '{:.2f}')} to {fmt_num(a['hi'], '{:.2f}')},"
                     f" {a['n']} pairs)" for k, a in b["auc_vs_reference_creation"].items())
    two = b["summary_two_class"]
    bases = [{"base": r["base"], "dose": r["dose"], "level": r.get("level", ""), "pass@1": fmt_num(r.get("pass@1"), "{:.3f}"),
              f"pass@{r.get('n', 'n')}": fmt_num(r.get("pass@n"), "{:.3f}"),
              "guesser pass@n": fmt_num(r.get("guess_pass@n"), "{:.3f}")} for r in b["bases"]]
    return (f"**Does the meter read more than pass@k here? {verdict[0].upper() + verdict[1:]}.** Expanding activation"
            f" cases (activation cases whose label-free expansion rule reads creation): {len(b['expanding'])}. The"
            f" registered credit per set of them and reader (at least {b['min_expanding']} cases from"
            f" {b['min_bases']} bases, the exact interval's lower end above one half; \"headroom\": bases whose"
            f" deepest-level pass@n is above every reference creation base's, {fmt_num(b['reference_creation_top_passn'], '{:.3f}')}):\n\n"
            + markdown_rows(credit, "(none)") + "\nThe expanding activation cases:\n\n" + markdown_rows(cases, "(none)")
            + f"\nPer dose: {doses or 'no activation runs'}.\n\nEvery case of the test, per label, by each reader:\n\n"
            + markdown_rows(readers, "(no cases)")
            + f"\nAgainst the reference test's {b['reference_creation_cases']} creation cases (positive), AUC with a"
            f" bootstrap over bases: {aucs or 'none'}. The fitted summary's balanced accuracy over those creation cases and the"
            f" expanding activation cases: {fmt_num(two['balanced_accuracy'], '{:.2f}')}.\n\nEach base at the deepest"
            " level evaluated:\n\n" + markdown_rows(bases, "(no bases)"))


def speed_text(folder: str | Path, name: str) -> str:
    """The registered "does the meter read learning speed?" answer for ``folder``'s readings ``name`` (from
    ``<name>-speed.json``, checksum verified; ``analysis.validation.speed`` says what each part means): the verdict,
    the take-off cut and the meter's own switch, the credit per set of slow activation cases and reader, the
    learning-rate check, each run beside its twin, the paired changes per class, and every reader's readings."""
    b = _answer(folder, name, "speed")
    if b is None:
        return NOT_ANSWERED
    cut, switch, slow, lr = b["takeoff_cut"], b["meter_switch"], b["slow_read"], b["lr_check"]
    credit = [_credit_row(q, cases=subset, reader=reader) for subset, readers in b["questions"].items()
              for reader, q in readers.items() if reader != "pairs"]
    runs = [{**row, "take-off rule": r["takeoff_rule"],
             "P(creation) from take-off alone": fmt_num(r["p_if_takeoff_alone"], "{:.2f}")}
            for row, r in zip(_twin_rows(b["runs"]), b["runs"], strict=True)]
    changes = _changes_rows(b["paired_change"])
    readers = _readers_rows(b["readers_by_class"])
    passed = [r for r in b["runs"] if r["pair"] in set(lr["creation_passed"])]
    flipped = [r["pair"] for r in passed if r["reading"] == "activation"]
    lr_text = ("not possible: no creation run at this learning rate passed its gain check" if not passed else
               f"{lr['result']}: of {len(passed)} creation runs that passed their gain check, {len(flipped)} read"
               f" activation{' (' + ', '.join(flipped) + ')' if flipped else ''}")
    return (f"**Does the meter read RL's learning speed here? Verdict: {b['verdict']}.** The take-off rule (take-off:"
            f" the first of {b['takeoff_rows']} stored rows in a row with reward >= 0.5) reads creation after step"
            f" {cut['cut']:g}, fitted on the cases of {' and '.join(b['calibration'])} (balanced accuracy"
            f" {cut['balanced_accuracy']:.2f} over {cut['n']} cases there); the fitted summary's own readings of"
            f" those cases switch at step {switch['cut']:g} (agreement {switch['balanced_accuracy']:.2f}). Slow"
            f" activation cases (activation cases the rule reads creation): {slow['n']}, read by the fitted summary as"
            f" activation {slow['activation']}, creation {slow['creation']}, no-signal {slow['no_signal']}."
            f" Learning-rate check: {lr_text} (median change in P(creation)"
            f" {fmt_num(lr['median_change_p_creation'], '{:+.2f}')}). The registered credit per set and reader (at"
            " least 6 cases from 4 bases, the exact interval's lower end above one half):\n\n"
            + markdown_rows(credit, "(none)") + "\nEach run beside its twin (same base and RL seed, lr 1e-4; changes"
            " are this run's standardised input minus the twin's):\n\n" + markdown_rows(runs, "(no runs)")
            + "\nMean paired change per class, with a bootstrap interval over bases:\n\n"
            + markdown_rows(changes, "(none)") + "\nEvery case of the test, per label, by each reader:\n\n"
            + markdown_rows(readers, "(no cases)"))


def _verdict_cell(reading: Any, neutral: Any) -> str:
    return str(reading) if reading == neutral else f"{reading} ({neutral} with boundary at its cut)"


def rlseeds_text(folder: str | Path, name: str) -> str:
    """The registered "does the meter follow the base or its run's take-off?" answer for ``folder``'s readings
    ``name`` (from ``<name>-rlseeds.json``, checksum verified; ``analysis.validation.rlseeds`` says what each part
    means): the verdict, the meter's switch, each run of the base and its earlier runs, the rank correlation."""
    b = _answer(folder, name, "rlseeds")
    return NOT_ANSWERED if b is None else _rlseeds_body(b)


def _rlseeds_body(b: dict[str, Any]) -> str:
    """An RL-seeds answer (``rlseeds.rlseeds_question``'s dict) as text."""
    switch, rho = b["meter_switch"], b["spearman_p_creation_takeoff"]

    def step(x: Any) -> str:  # "n/a": a manifest exported before the full curve's take-off was recorded
        return "never" if x is None else x if isinstance(x, str) else fmt_num(x, "{:.0f}")

    def rows(runs: list[dict[str, Any]]) -> list[dict[str, str]]:
        return [{"run": r["pair"], "RL seed": str(r["rl_seed"]), "gain check": r["gain_check"],
                 "take-off": step(r["takeoff_step"]),
                 "full curve": step(r["takeoff_step_full_curve"]),
                 "side of the switch": r["side"] + (" (edge)" if r.get("edge") else "")
                 + (" (fragile)" if r.get("fragile") else ""),
                 "held after": fmt_num(r.get("held_after_takeoff"), "{:.2f}"),
                 "fitted reading": _verdict_cell(r["reading"], r["reading, boundary at its cut"]),
                 "P(creation)": fmt_num(r["p_creation"], "{:.2f}"),
                 **{k: fmt_num(r[k], "{:+.2f}") for k in ("boundary", "likelihood", "elicitation")}} for r in runs]

    late = b["late_read"]
    corr = "not defined" if rho is None else f"{rho['rho']:+.2f} over {rho['n']} runs"
    reproduced = ("cannot be checked (no late case)" if b["reproduction"] == "no late case"
                  else f"{b['reproduction']} across these RL seeds")
    weights = ("the runs were RL-tuned from the base's weights (their recorded checksums match its manifest's)"
               if b["same_base_weights"] else "**the runs were not all RL-tuned from the weights the base's earlier"
               " runs were: no verdict**")
    return (f"**Does the meter follow the base or its run's take-off? Verdict: {b['verdict']}.** Base {b['base']};"
            f" {weights}. The meter's switch (the take-off cut that best reproduces the fitted summary's readings of"
            f" {' and '.join(b['calibration'])}): step {switch['cut']:g} (agreement {switch['balanced_accuracy']:.2f}"
            f" over {switch['n']} cases); its edge (the last calibration take-off at or before it): step"
            f" {step(b['edge_step'])}. Verdict with edge runs counted early: {b['verdict_edge_counted_early']}; left"
            f" out: {b['verdict_edge_left_out']}. Early activation cases (take-off at or before the switch, reward"
            f" held at one half on at least {b['held']:.0%} of the stored rows after it): {len(b['early'])} (at least"
            f" {b['min_early']} needed to separate; edge: {', '.join(b['edge']) or 'none'}; fragile, not counted:"
            f" {', '.join(b['fragile']) or 'none'}); late: {len(b['late'])}, read creation {late['creation']},"
            f" activation {late['activation']}, no-signal {late['no_signal']}, so the base's creation reading"
            f" {reproduced}. Not cases (gain check failed):"
            f" {', '.join(b['not_cases']) or 'none'}. Rank correlation of P(creation) with the take-off step over the"
            f" base's activation cases, the earlier runs included (never: last):"
            f" {corr}.\n\nThe test's runs:\n\n"
            + markdown_rows(rows(b["runs"]), "(no runs)") + "\nThe base's earlier runs (read in an earlier test):\n\n"
            + markdown_rows(rows(b["earlier_runs"]), "(none)"))


def covariate_text(folder: str | Path, name: str) -> str:
    """The take-off and headroom readers beside the meter for ``folder``'s readings ``name`` (from
    ``<name>-covariate.json``, checksum verified; ``analysis.validation.covariate`` says what each part means)."""
    b = _answer(folder, name, "covariate")
    if b is None:
        return "(not computed yet)\n"
    split = [{"fitted summary": way, "cases where the readers disagree": str(a["disagree"]),
              "with the take-off rule": str(a["meter_with_first"]), "with the headroom rule": str(a["meter_with_second"]),
              "with neither": str(a["meter_with_neither"])} for way, a in b["where_they_disagree"].items()]
    runs = [{"pair": r["pair"], "base": r["base"],
             "take-off": "never" if r["takeoff_step"] is None else f"{r['takeoff_step']:.0f}",
             "take-off rule": r["takeoff_rule"], "headroom rule": r["headroom_rule"],
             "fitted reading": _verdict_cell(r["reading"], r["reading, boundary at its cut"]),
             "P(creation)": fmt_num(r["p_creation"], "{:.2f}")} for r in b["runs"]]
    agrees, right = b["meter_agrees"], b["reads_every_case_right"]
    every = " and ".join(k for k, v in right.items() if v)
    return (f"**Claim: {b['claim']}** (made only where the two rules disagree on at least {b['min_disagree']} cases"
            f" from at least {b['min_disagree_bases']} bases; here {b['where_they_disagree']['as read']['disagree']}"
            f" from {b['disagreeing_bases']}). "
            + (f"The {every} reads every case right, so a credit of the meter shows nothing it does not. " if every
               else "")
            + f"Not registered as deciding. Two label-free readers beside the fitted summary over the {b['n']} activation"
            f" cases: the take-off rule at the meter's switch (step {b['meter_switch']['cut']:g}) and the headroom rule"
            f" (creation when the base's deepest-level pass@n is at or below {fmt_num(b['reference_creation_top_passn'], '{:.3f}')},"
            f" the {b['reference']} creation bases' highest). The fitted summary agrees with the take-off rule on"
            f" {agrees['take-off rule']} and with the headroom rule on {agrees['headroom rule']}. Where the two"
            " disagree:\n\n" + markdown_rows(split, "(none)") + "\nEach case:\n\n" + markdown_rows(runs, "(no cases)"))


def replicate_text(folder: str | Path, name: str) -> str:
    """The named replication outcome for ``folder``'s readings ``name`` (from ``<name>-replicate.json``, checksum
    verified; ``analysis.validation.replicate`` says what each part means)."""
    b = _answer(folder, name, "replicate")
    if b is None:
        return NOT_ANSWERED

    def share(s: dict[str, Any]) -> str:
        lo, hi = s["interval"]
        return (f"{s['read_activation']} of {s['n']}" + ("" if lo is None else
                f" (exact 95% interval {fmt_num(lo, '{:.2f}')} to {fmt_num(hi, '{:.2f}')})"))

    pooled, chance = b["pooled"], b["chance_all_read_activation_at_earlier_share"]
    return (f"**Outcome: {b['outcome']}.** Expanding activation cases read activation: "
            + "; ".join(f"{way}, {share(c)}" for way, c in b["credit"].items())
            + f". Bases without an expanding case: {', '.join(b['bases_without_expanding_case']) or 'none'} (of"
            f" {len(b['bases'])}). The earlier test read {share(b['earlier_share'])}; at that share every case of"
            f" this test reads activation with chance {fmt_num(chance, '{:.2f}')} (stated in advance). Pooled over both"
            f" tests ({pooled['n_bases']} bases): as read {share(pooled['as read'])}; with boundary at its cut"
            f" {share(pooled['boundary at its cut'])}. Activation cases that did not expand: {b['not_expanding']}, read"
            f" creation: {', '.join(b['not_expanding_read_creation']) or 'none'}.\n")


def fastlr_text(folder: str | Path, name: str) -> str:
    """The registered fast-RL answer for ``folder``'s readings ``name`` (from ``<name>-fastlr.json``, checksum
    verified; ``analysis.validation.fastlr`` says what each part means): the verdict and its qualifier, the late
    base's runs as the RL-seeds question reads them, and every run beside its twin at the usual learning rate."""
    b = _answer(folder, name, "fastlr")
    if b is None:
        return NOT_ANSWERED
    # per base the bootstrap over bases has one base to draw: its interval is degenerate, so only the mean is shown
    change = "; ".join(f"{base}: {fmt_num(c['mean'], '{:+.2f}')} over {c['n']} runs"
                       for base, c in b["change_p_creation"].items())
    control = ", ".join(f"{pair} {read}" for pair, read in b["control_readings"].items())
    return (f"**Fast RL: {b['verdict']}, {b['qualifier']}.** Control runs (base {', '.join(b['control_bases'])}) read:"
            f" {control}. Mean change in P(creation) from each run's twin at the usual learning rate, per base:"
            f" {change}.\n\nThe late base's runs, as the RL-seeds question reads them: "
            + _rlseeds_body(b["rlseeds"]) + "\nEvery run beside its twin:\n\n"
            + markdown_rows(_twin_rows(b["paired"]), "(no runs)"))


def lrshift_text(folder: str | Path, name: str) -> str:
    """The registered learning-rate answer for ``folder``'s readings ``name`` (from ``<name>-lrshift.json``, checksum
    verified; ``analysis.validation.lrshift`` says what each part means): the verdict, the cases, the paired changes
    with their intervals over bases, the pooled count with the runs seen before, and every run beside its twin."""
    b = _answer(folder, name, "lrshift")
    if b is None:
        return NOT_ANSWERED
    pooled = b["pooled_with_seen"]
    return (_rate_verdict(b, "a larger learning rate") + f" With the fast-RL control's runs (seen before this test"
            f" was registered; not a test): {pooled['read_creation']} of {pooled['cases']} cases read creation.\n\nEvery run"
            " beside its twin:\n\n" + markdown_rows(_twin_rows(b["runs"]), "(no runs)"))


def _rate_verdict(b: dict[str, Any], rate: str) -> str:
    """The learning-rate verdict's sentences (shared by the learning-rate and middle-rate answers)."""
    change = "; ".join(f"{k} {fmt_num(c['mean'], '{:+.2f}')} ({fmt_num(c['lo'], '{:+.2f}')} to"
                       f" {fmt_num(c['hi'], '{:+.2f}')}, {c['n']} cases from {c['n_bases']} bases)"
                       for k, c in b["change"].items())
    return (f"**Does {rate} alone move the meter? Verdict: {b['verdict']}.** Cases (a run that"
            f" passed its gain check beside a twin that passed and was read activation): {len(b['cases'])} (at least"
            f" {b['min_cases']} from {b['min_bases']} bases needed); read creation: {b['read_creation']}; median change"
            f" in P(creation): {fmt_num(b['median_change_p_creation'], '{:+.2f}')} (no movement below"
            f" {b['small']:g}). Not cases: {', '.join(b['not_cases']) or 'none'}. Mean change from the twin, with a"
            f" 95% bootstrap interval over bases: {change}.")


def lrmid_text(folder: str | Path, name: str) -> str:
    """The registered middle-rate answer for ``folder``'s readings ``name`` (from ``<name>-lrmid.json``, checksum
    verified; ``analysis.validation.lrmid`` says what each part means): the verdict, the end state, every run at the
    three learning rates, and every run beside its twin."""
    b = _answer(folder, name, "lrmid")
    if b is None:
        return NOT_ANSWERED
    end, rates = b["end_state"], b["three_rates"]

    def at(r: dict[str, Any] | None) -> str:
        return "not read" if r is None else f"{r['reading']}, {r['p_creation']:.2f} ({r['gain_check']})"

    three = [{"run": t["pair"], **{f"{k} ({lr})": at(t[k]) for k, lr in
                                   (("usual", "1e-4"), ("middle", "3e-4"), ("fast", "5e-4"))}} for t in rates["runs"]]
    return (_rate_verdict(b, "a three times larger learning rate") + f" End state: {end['result']} (cases whose"
            f" deepest-level pass@1 is no more than {end['within']:g} below their twin's: {len(end['matched'])}, of"
            f" them read creation: {len(end['matched_read_creation'])}).\n\nEach run at the three learning rates"
            f" (reading, P(creation), gain check; the five times larger rate's runs were read before this test was"
            f" registered, so this is not a test): of {rates['all_passed']} runs whose three models all passed,"
            f" {len(rates['ordered'])} have P(creation) non-decreasing with the rate.\n\n"
            + markdown_rows(three, "(no runs)")
            + "\nEvery run beside its twin:\n\n" + markdown_rows(_twin_rows(b["runs"]), "(no runs)"))


def lrmidext_text(folder: str | Path, name: str) -> str:
    """The registered extended middle-rate answer for ``folder``'s readings ``name`` (from ``<name>-lrmidext.json``,
    checksum verified; ``analysis.validation.lrmidext`` says what each part means): the verdict, the cases and those
    recovered, and every run at 1500 and 3000 steps beside its twin at the usual rate."""
    b = _answer(folder, name, "lrmidext")
    if b is None:
        return NOT_ANSWERED
    read = ", ".join(f"{k.replace('_', ' ')} {n}" for k, n in b["recovered_read"].items())
    rows = [{"run": r["pair"], "gain check": r["gain_check"],
             "reading at 1500 steps (P(creation))": f"{r['middle']['reading']} ({r['middle']['p_creation']:.2f})",
             "reading at 3000 steps (P(creation))": f"{r['reading']} ({r['p_creation']:.2f})",
             "usual twin's reading": r["twin_reading"],
             "deepest pass@1 at 1500, 3000 (usual twin)": f"{fmt_num(r['middle']['deepest_pass@1'], '{:.3f}')},"
             f" {fmt_num(r['deepest_pass@1'], '{:.3f}')} ({fmt_num(r['twin_deepest_pass@1'], '{:.3f}')})"}
            for r in b["runs"]]
    middle = ", ".join(f"{pair} {reading}" for pair, reading in b["middle_read_activation"].items()) or "none"
    return (f"**At a fixed learning rate, does the reading follow the end state? Verdict: {b['verdict']}.** Cases (a run"
            f" that passed its gain check whose 1500-step run passed, was read creation and ended more than 0.05 below"
            f" its usual twin's deepest-level pass@1): {len(b['cases'])}; recovered (back within 0.05 of the usual"
            f" twin at the deepest level and at every level, up at least {b['rise']:g} from 1500 steps):"
            f" {len(b['recovered'])} (at least {b['min_recovered']} from {b['min_bases']} bases needed), read:"
            f" {read}. Cases read activation without recovering: {', '.join(b['moved_without_recovering']) or 'none'}."
            f" Runs whose 1500-step run was read activation, at 3000 steps: {middle}. Mean change in P(creation) from"
            f" 1500 to 3000 steps: recovered {fmt_num(b['mean_change_from_middle']['recovered'], '{:+.2f}')}, not"
            f" recovered {fmt_num(b['mean_change_from_middle']['not recovered'], '{:+.2f}')}. Runs whose stored curve"
            f" does not repeat their 1500-step run's (fresh draws): {', '.join(b['not_repeating_middle']) or 'none'}.\n\n"
            + markdown_rows(rows, "(no runs)"))


def lrmidseeds_text(folder: str | Path, name: str) -> str:
    """The registered middle-rate seeds answer for ``folder``'s readings ``name`` (from ``<name>-lrmidseeds.json``,
    checksum verified; ``analysis.validation.lrmidseeds`` says what each part means): the verdict, the within-base
    statistic with its exact p-value, and beside it the two predictors, each base's change in P(creation) from its
    most to its least accurate case with the inputs' shares, the recomputations, the same statistic with the
    middle-rate runs (not clean), and every run beside its base's reference."""
    b = _answer(folder, name, "lrmidseeds")
    if b is None:
        return NOT_ANSWERED
    w, pred = b["within_base"], b["predictors"]

    def stat(s: dict[str, Any]) -> str:
        over = f"{s['bases']} base" + ("" if s["bases"] == 1 else "s")
        return f"mean tau {fmt_num(s['mean_tau'], '{:+.2f}')} over {over}, p {fmt_num(s['p_value'], '{:.4f}')}"

    taus = ", ".join(f"{base.removesuffix('-base')} {fmt_num(v['tau'], '{:+.2f}')}" for base, v in w["per_base"].items())
    shares = "; ".join(f"{base.removesuffix('-base')} {c['change_p_creation']:+.2f} ("
                       + ", ".join(f"{k} {fmt_num(v, '{:+.2f}')}" for k, v in c["log_odds_share"].items()) + ")"
                       for base, c in b["contributions"].items()) or "none"
    weights = ", ".join(f"{base.removesuffix('-base')} {'the recorded ones' if v['same'] else 'rebuilt, not the recorded ones'}"
                        for base, v in b["base_weights"].items())
    rows = [{"run": r["pair"], "gain check": r["gain_check"], "reading (P(creation))":
             f"{r['reading']} ({r['p_creation']:.2f})", "deepest pass@1": fmt_num(r["deepest_pass@1"], "{:.3f}"),
             "usual-rate mean": fmt_num(r["reference"], "{:.3f}"), "matched": "yes" if r["matched"] else "no",
             "end state predicts": r["end_state_prediction"], "base predicts": r["base_prediction"] or "none"}
            for r in b["runs"]]
    return (f"**At one rate and length, does the end state rank the readings within a base? Verdict:"
            f" {b['verdict']}.** Cases (runs that passed their gain check): {len(b['cases'])} (at least"
            f" {b['min_cases']}, and {b['min_bases']} bases with {b['min_per_base']} or more, needed); not cases:"
            f" {', '.join(b['not_cases']) or 'none'}. Kendall tau between deepest-level pass@1 and P(creation), per"
            f" base: {taus}; {stat(w)}, exact and one-sided (the end state needs a negative mean with p at most"
            f" {b['alpha']:g}). Base weights the runs were tuned from: {weights}.\n\nBeside it, not deciding"
            + ("" if all(v["same"] for v in b["base_weights"].values()) else
               " (each comparison with the middle-rate or usual-rate runs of a rebuilt base crosses to the recorded"
               " base's weights)") + f". The end state (activation when the deepest-level pass@1"
            f" is at least the base's usual-rate mean minus {b['within']:g}) reads {pred['end_state_right']} of"
            f" {len(b['cases'])} cases right; the base (its middle-rate runs' shared reading) reads"
            f" {pred['base_right']} of {pred['base_predicts']} right; where they disagree"
            f" (cases: {len(pred['disagree'])}) the end state is right on {pred['disagree_end_state_right']} and the"
            f" base on {pred['disagree_base_right']}: {pred['summary']}. Change in P(creation) from each base's"
            f" most to its least accurate case, with each input's share of the change in log-odds: {shares}."
            f" Without the cases below deepest-level pass@1 {b['without_collapsed']['below']:g}:"
            f" {stat(b['without_collapsed'])}; without the {b['without_noisy_base']['base'].strip('-')}:"
            f" {stat(b['without_noisy_base'])}. Not clean (with the {len(b['with_seen']['middle_rate_cases'])}"
            f" middle-rate runs, read before this test was registered): {stat(b['with_seen'])}.\n\n"
            + markdown_rows(rows, "(no runs)"))


def _verdict(b: dict[str, Any]) -> str:
    return str(b["verdict"])


@dataclass(frozen=True)
class Answer:
    """A registered question answered beside readings: its ``kind`` (the module under ``analysis.validation`` that
    writes ``<NAME>-<kind>.json``), what it asks, the readings it answers for, its rendering, and its verdict in a few
    words (None: it decides nothing)."""

    kind: str
    asks: str
    names: tuple[str, ...]
    render: Callable[[str | Path, str], str]
    verdict: Callable[[dict[str, Any]], str | None] = _verdict


#: every registered answer, in the order shown. ``python -m rlmeta_interp.analysis.validation.<kind> NAME`` writes
#: ``<NAME>-<kind>.json`` beside the readings (beyond also takes the reference readings, replicate the earlier and
#: reference ones); the covariate answer decides nothing: it puts the take-off and headroom readers beside the meter.
ANSWERS: tuple[Answer, ...] = (
    Answer("beyond", "beyond pass@k", ("composition-lowdose", "composition-lowdose2"), beyond_text,
           lambda b: "credited" if b["credited"] else "not credited"),
    Answer("speed", "learning speed", ("composition-speed",), speed_text),
    Answer("after", "training after take-off", ("composition-after",), after_text),
    Answer("replicate", "replication", ("composition-lowdose2",), replicate_text, lambda b: str(b["outcome"])),
    Answer("covariate", "take-off and headroom readers", ("composition-lowdose2",), covariate_text, lambda b: None),
    Answer("rlseeds", "base or take-off", ("composition-rlseeds",), rlseeds_text),
    Answer("fastlr", "base or take-off under faster RL", ("composition-fastlr",), fastlr_text,
           lambda b: f"{b['verdict']} ({b['qualifier']})"),
    Answer("lrshift", "a larger learning rate alone", ("composition-lrshift",), lrshift_text),
    Answer("lrmid", "a three times larger learning rate", ("composition-lrmid",), lrmid_text,
           lambda b: b["verdict"] + ("" if b["end_state"]["result"] == "not asked" else f" ({b['end_state']['result']})")),
    Answer("lrmidext", "the end state at a fixed rate", ("composition-lrmid-extended",), lrmidext_text),
    Answer("lrmidseeds", "the end state within bases", ("composition-lrmid-seeds",), lrmidseeds_text))


def answer_texts(folder: str | Path) -> list[tuple[str, str, str]]:
    """Every registered answer of :data:`ANSWERS` for ``folder``'s readings, rendered: (its data/README.md section,
    ``<name>-<kind>``; a title; the text)."""
    return [(f"{name}-{a.kind}", f"{name}, {a.asks}", a.render(folder, name)) for a in ANSWERS for name in a.names]


def tests_summary_rows(folder: str | Path) -> list[dict[str, str]]:
    """One row per shipped readings of a registered test (the composition pilot is no test): its cases (validation
    cases by the gain check), how many of each design label's cases the fitted summary read as that label (and of
    the no-signal controls, as creation), whether the project's bar is met over them, and each registered answer's
    verdict beside them. The README's summary of the composition tests."""
    rows = []
    for name in READINGS:
        records = readings_records(folder, name)
        if name == "composition" or not records:
            continue
        cases = [r for r in records if r["case"]]
        right = {(lab, read): f"{sum(r['reading'] == read for r in cases if r['label'] == lab)} of"
                              f" {sum(r['label'] == lab for r in cases)}"
                 for lab, read in (("creation", "creation"), ("activation", "activation"), ("no_signal", "creation"))}
        verdicts = [f"{a.asks}: {v}" for a in ANSWERS if name in a.names
                    for b in [_answer(folder, name, a.kind)] if b is not None for v in [a.verdict(b)] if v is not None]
        rows.append({"test": name, "cases": str(len(cases)),
                     "creation cases read creation": right["creation", "creation"],
                     "activation cases read activation": right["activation", "activation"],
                     "no-signal controls read creation": right["no_signal", "creation"],
                     "bar": readings_bar(folder, name),
                     "registered answer": "; ".join(verdicts) or "(the bar's evaluation only)"})
    return rows
