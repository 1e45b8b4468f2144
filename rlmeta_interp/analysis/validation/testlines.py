"""The trust paragraph's lines on the tests of the bar: the clean test (held-out pairs first measured after the fit
last changed), each test the bar was judged on before the preset grew, and the pairs measured since the last of
those, on which the bar is judged now (:mod:`.bar`)."""

from __future__ import annotations

from typing import Any

from ...prose import criteria_note, fmt2
from .bar import (MIN_AUC, MIN_BASES, MIN_BASES_PER_CLASS, MIN_INDICATORS, MIN_RECALL_LO, add_records, criteria_now,
                  fit_changes, judged_since_fit_change, judgements, meets_evaluation, only_remeasured, pending,
                  tested_key)
from .bases import ALPHA, all_right_lower
from .reading import judged_test_over_bases


def bar_words(criteria: int) -> str:
    """The project's bar in words, as criteria version ``criteria`` (:mod:`.bar`) has it: from version 2 it names the
    same readings over base models."""
    over = (f"; over base models too: at least {MIN_INDICATORS} counted indicators at AUC >= {MIN_AUC:g} with exact"
            f" p < {ALPHA:g}, and every class's recall over bases with its exact interval above {MIN_RECALL_LO:g}"
            if criteria >= 2 else "")
    return ("the project's bar (balanced accuracy >= 0.85 with its CI above 0.5 and every class's exact recall"
            " interval above 0.5, creation recall >= 0.8, no-signal controls measured and at most 1 in 10 read as"
            f" creation, 3 indicators voting by a cut fitted on calibration with AUC >= 0.8 over at least {MIN_BASES}"
            f" bases no calibration pair starts from, {MIN_BASES_PER_CLASS} of each class, and also without the"
            " held-out pairs the indicator's design saw; on held-out pairs unseen when the fit or a held-out reading"
            f" last changed and in no test judged before{over})")


def pending_text(summary: dict[str, Any]) -> str:
    """Why the bar is not judged yet on a table that lacks designed pairs (:func:`~.bar.pending`); empty when it
    lacks none."""
    if not pending(summary):
        return ""
    missing = (summary.get("build") or {}).get("not_in_table") or []
    if missing:
        return f"{len(missing)} designed pair{'s have' if len(missing) != 1 else ' has'} no row yet"
    return "the run did not cover every designed pair, built up to date"


def _bar_sentence(summary: dict[str, Any], ev: dict[str, Any]) -> str:
    why = pending_text(summary)
    if why:
        return f"Not judged until every designed pair is in the table ({why})."
    met = meets_evaluation(ev, criteria=criteria_now(summary.get("run") or {}))
    return f"On these pairs alone the bar is {'met' if met else 'not met'}."


def last_change_text(run: dict[str, Any]) -> str:
    """What last ended every test of a table, in words: ``the fit last changed``, or, when held-out pairs measured
    again replaced readings seen before under the same fit (``remeasured``), ``held-out readings were last
    replaced``."""
    ends = fit_changes(run)
    return "held-out readings were last replaced" if ends and only_remeasured(ends[-1]) else "the fit last changed"


def clean_test_line(summary: dict[str, Any]) -> str:
    """The summary and the voting indicators on the clean held-out pairs of a table whose fit changed after its
    held-out readings had been seen (``clean_test``), and whether they meet the bar."""
    ev = (summary.get("clean_test") or {}).get("evaluation")
    since = last_change_text(summary.get("run") or {})
    if ev is None:
        return (f"- **Clean test:** none yet: no held-out pair was first measured after {since}."
                + _previous_clean_test(summary))
    n_pairs = ev["n_test"]
    pooled = judged_since_fit_change(summary.get("run") or {})
    return (f"- **Clean test** ({n_pairs} held-out pair{'s' if n_pairs != 1 else ''} first measured after {since}):"
            f" {evaluation_text(ev)}. " + (
                "These include the pairs of tests judged since the fit last changed (below): the fit saw none of them,"
                " so all count for accuracy, but the bar is judged on the pairs measured since the last judged test"
                " alone." if pooled else _bar_sentence(summary, ev)))


def tests_in_order(summary: dict[str, Any]) -> list[str]:
    """Every test of the bar in the order it was read, each on pairs no fit had seen when it was measured: a clean
    test a change of the fit ended (``clean_test_before``; the change came after its readings), each judged test
    (``judged_before``), then the test the bar is judged on now (the bar test after a judged test, else the clean
    test), each as the summary's balanced accuracy with its CI, the pairs and whether the bar was met. Empty for a
    table whose fit never changed and that was never judged: its pooled held-out reading is the test."""
    run = summary.get("run") or {}
    if not (fit_changes(run) or judgements(run)):
        return []

    def reading(s: dict[str, Any], n: int, met: bool, judged: bool = True, criteria: int = 1) -> str:
        # a test judged by the later criteria says so: its verdict includes the reading over base models
        return (f"{fmt2(s['balanced_accuracy'])} (95% CI {fmt2(s['ci_lo'])} to {fmt2(s['ci_hi'])}) on {n} pairs, the"
                f" bar{criteria_note(criteria)} {'met' if met else 'missed'}"
                + ("" if judged else " (not judged: pairs missing)"))

    parts = []
    for a in add_records(run):
        if (ended := a.get("clean_test_before")) and ended.get("pairs"):
            parts.append(reading(ended["summary"], len(ended["pairs"]), ended["met_bar"], ended["judged"],
                                 ended.get("bar_criteria", 1))
                         + ", under an earlier fit, changed after these readings were seen")
        if judged := a.get("judged_before"):
            parts.append(reading(judged["summary"], len(judged["pairs"]), judged["met_bar"],
                                 criteria=judged.get("bar_criteria", 1)) + outside_bar_over_bases(judged, ", and"))
    now = summary.get(tested_key(run)) or {}
    if (ev := now.get("evaluation")) is not None:
        now_criteria = criteria_now(run)
        parts.append(reading(ev["summary"], ev["n_test"], meets_evaluation(ev, criteria=now_criteria),
                             criteria=now_criteria)
                     if not pending_text(summary) else
                     f"{fmt2(ev['summary']['balanced_accuracy'])} on {ev['n_test']} pairs so far, not judged yet")
    return parts


def outside_bar_over_bases(judged: dict[str, Any], lead: str) -> str:
    """For a judged test whose bar did not include the reading over base models (criteria version 1) but whose record
    keeps that reading: ``lead`` and whether it was established there; empty otherwise (a version-2 verdict says it
    includes the reading, :func:`~.prose.criteria_note`)."""
    over = judged.get("over_bases")
    if not over or judged.get("bar_criteria", 1) >= 2:
        return ""
    return (f"{lead} over base models it was {'established' if over['established'] else 'not established'} (not part"
            " of its bar)")


def kept_over_bases_text(judged: dict[str, Any]) -> str:
    """A judged test's line on what its record keeps of the reading over base models, for a test whose bar did not
    include it (:func:`outside_bar_over_bases`): each class's recall over bases with its exact interval and the
    counted indicators that reached AUC 0.8 with p < 0.05 over bases; empty where there is none."""
    head = outside_bar_over_bases(judged, ";")
    if not head:
        return ""
    over = judged["over_bases"]
    recall = ", ".join(recall_text(c, *v) for c, v in over["recall"].items())
    strong = ", ".join(over["strong"]) or "none"
    return (f"{head}: recall over bases {recall}; indicators at AUC {MIN_AUC:g} with p < {ALPHA:g} over bases:"
            f" {strong} ({len(over['strong'])} of the {MIN_INDICATORS} needed)")


def tests_in_order_line(summary: dict[str, Any], last_note: str = "") -> str:
    """The trust paragraph's first line once a table has had more than its pooled reading (:func:`tests_in_order`),
    with ``last_note`` after the last test; empty when it has not."""
    parts = tests_in_order(summary)
    if not parts:
        return ""
    parts[-1] += last_note
    return ("- **Read first: every test of the meter, in the order it was read** (summary balanced accuracy on"
            " held-out pairs no fit had seen; the lines below give the current fit's tests in full): " + "; ".join(
                f"({i}) {t}" for i, t in enumerate(parts, 1)) + ". The pooled numbers of the line 'Summary on the test"
            " pairs' are no test of their own.")


def judged_lines(summary: dict[str, Any]) -> list[str]:
    """One line per test the bar was judged on before held-out pairs of a grown preset were added (``judged_before``
    of the record that added them), and one on the pairs measured since the last, on which the bar is judged now
    (``bar_test``); none for a table without such a record."""
    run = summary.get("run") or {}
    lines = []
    for a in judgements(run):
        before = a["judged_before"]
        s, rule, n_judged = before["summary"], before["vote_rule"], len(before["pairs"])
        lines.append(
            f"- **Judged test** ({n_judged} held-out pair{'s' if n_judged != 1 else ''}; the bar was"
            f" {'met' if before['met_bar'] else 'not met'} there): under the fit then, the summary read balanced"
            f" accuracy {fmt2(s['balanced_accuracy'])} (95% CI {fmt2(s['ci_lo'])} to {fmt2(s['ci_hi'])}), recall "
            + ", ".join(f"{c} {k}/{n}" for c, (k, n, _, _) in (s.get("recall_exact_ci") or {}).items())
            + ", read wrong: " + wrong_pairs(s.get("read_wrong") or {})
            + f"; the vote rule {fmt2(rule['balanced_accuracy'])} ({fmt2(rule['ci_lo'])} to {fmt2(rule['ci_hi'])})"
            + kept_over_bases_text(before) + ". Pairs measured after it are a test of their own: the bar is never"
            " judged on them pooled with these.")
    if not judged_since_fit_change(run):
        return lines
    ev = (summary.get("bar_test") or {}).get("evaluation")
    if ev is None:
        return [*lines, "- **Bar test:** none yet: no held-out pair was first measured after the last judged test."]
    n_pairs = ev["n_test"]
    return [*lines, f"- **Bar test** ({n_pairs} held-out pair{'s' if n_pairs != 1 else ''} first measured after the"
                    f" last judged test): {evaluation_text(ev)}. " + _bar_sentence(summary, ev)]


def evaluation_text(ev: dict[str, Any]) -> str:
    """The summary, the vote rule and the voting indicators' AUC on the held-out pairs of one evaluation."""
    s, const = ev["summary"], ev["constant_baseline"]
    exact = s.get("recall_exact_ci") or {}
    wrong = s.get("read_wrong") or {}
    rule = ev["vote_rule"]
    rule_wrong = rule.get("read_wrong") or {}
    voting = [r for r in ev["indicators"] if r["votes"] and r.get("test_n")]
    gtc = ev.get("gain_then_constant")
    return (f"summary balanced accuracy {fmt2(s['balanced_accuracy'])} (95% CI {fmt2(s['ci_lo'])} to"
            f" {fmt2(s['ci_hi'])}) against {fmt2(const['balanced_accuracy'])} for always answering '{const['answer']}'"
            + ("" if not gtc else f" and {fmt2(gtc['balanced_accuracy'])} for the gain check followed by always"
               f" answering '{gtc['answer']}'") + ";"
            " recall " + ", ".join(f"{c} {k}/{n} ({fmt2(lo)} to {fmt2(hi)})" for c, (k, n, lo, hi) in exact.items())
            + "; read wrong: " + wrong_pairs(wrong)
            + f"; the vote rule {fmt2(rule['balanced_accuracy'])} ({fmt2(rule['ci_lo'])} to {fmt2(rule['ci_hi'])}), recall "
            + ", ".join(f"{c} {k}/{n}" for c, (k, n, _, _) in (rule.get("recall_exact_ci") or {}).items())
            + ", read wrong: " + wrong_pairs(rule_wrong)
            + "; voting indicators' AUC: " + (", ".join(
                f"{r['indicator']} {fmt2(r['test_auc'])} ({fmt2(r['test_lo'])} to {fmt2(r['test_hi'])}{bases_text(r)}"
                + (f"; bases per class {', '.join(f'{c} {k}' for c, k in sorted(r['test_bases_by_class'].items()))}"
                   if r.get("test_bases_by_class") else "") + ")" for r in voting) or "none"))


def _previous_clean_test(summary: dict[str, Any]) -> str:
    """A sentence on the last clean test a change ended (``clean_test_before`` of its record): what its pairs read
    under the fit they were measured with. Those readings informed a change of the fit, so they are no test of it;
    or they were replaced by readings of the same pairs measured again (``remeasured``), which were taken after
    the first were seen."""
    ended = [a for a in fit_changes(summary.get("run") or {}) if a.get("clean_test_before")]
    if not ended:
        return ""
    last = ended[-1]
    before = last["clean_test_before"]
    s, rule = before["summary"], before["vote_rule"]
    verdict = ("met" if before["met_bar"] else "not met") + ("" if before["judged"] else
                                                              " (not judged: the preset had pairs without a row)")
    fit_kept = only_remeasured(last)
    again = sorted(last.get("remeasured") or {})
    why = (f"Held-out pair{'s' if len(again) != 1 else ''} {', '.join(again)} {'were' if len(again) != 1 else 'was'}"
           " measured again and no longer read as before: those readings had been seen, so no pair then in the"
           " table is a test any more." if fit_kept else
           "Those readings were seen when the fit changed: they are no test of the current fit.")
    return (f" The last clean test ({len(before['pairs'])} pairs) ended with the change; under the fit"
            f" {'it was measured with (unchanged by the change)' if fit_kept else 'before it'} the"
            f" summary read balanced accuracy {fmt2(s['balanced_accuracy'])} (95% CI {fmt2(s['ci_lo'])} to"
            f" {fmt2(s['ci_hi'])}), recall " + ", ".join(f"{c} {k}/{n}" for c, (k, n, _, _) in
                                                      (s.get("recall_exact_ci") or {}).items())
            + ", read wrong: " + wrong_pairs(s.get("read_wrong") or {})
            + f"; the vote rule {fmt2(rule['balanced_accuracy'])} ({fmt2(rule['ci_lo'])} to {fmt2(rule['ci_hi'])}); the bar"
            f" was {verdict} there. {why}")


def wrong_pairs(wrong: dict[str, Any]) -> str:
    """``pair (label read as reading)`` for each pair read wrong, by name, or ``none``."""
    return ", ".join(f"{p} ({lab} read as {rd})" for p, (lab, rd) in sorted(wrong.items())) or "none"


def bases_text(r: dict[str, Any]) -> str:
    n, unseen = r.get("test_bases"), r.get("test_bases_unseen")
    if n is None:
        return ""
    return f"; {r.get('test_n')} pairs, {n} bases" + ("" if unseen is None else f", {unseen} unseen in calibration")


def recall_text(c: str, k: int, n: int, lo: float, hi: float, *, reach: bool = False) -> str:
    """A class's recall over bases, ``k`` of ``n`` right, with its exact interval; ``reach``: say so where ``n`` bases
    all read right cannot lift the interval's lower end above the bar's level."""
    best = all_right_lower(n)
    all_right = f"{n} bases all right reach" if n != 1 else "1 base right reaches"
    return f"{c} {k}/{n} ({fmt2(lo)} to {fmt2(hi)}" + (
        f"; {all_right} at most {fmt2(best)})" if reach and best <= MIN_RECALL_LO else ")")


def base_level_line(reading: dict[str, Any], *, so_far: bool = False) -> str:
    """The trust paragraph's line on the test the bar is judged on, read over base models
    (:func:`~.bases.judged_test_over_bases`), saying where so few bases left a criterion out of reach whatever the
    readings; ``so_far``: the test still lacks designed pairs, so the reading is an interim one."""
    def auc(name: str, r: dict[str, Any]) -> str:
        kind = "exact p" if r["exact"] else "permutation p"
        reach = (f"; no ordering of these bases reaches p < {ALPHA:g}, the smallest being {r['p_min']:.3f}"
                 if r["p_min"] >= ALPHA else "")
        return (f"{name} {fmt2(r['auc'])} ({r['creation']} creation and {r['activation']} activation bases; {kind}"
                f" = {r['p']:.3f}{reach})")

    short = [f"{c} ({fmt2(lo)} to {fmt2(hi)})" for c, (_, _, lo, hi) in reading["recall"].items()
             if lo <= MIN_RECALL_LO]
    n_ind = len(reading["strong"])
    why = ([f"{n_ind} of the {MIN_INDICATORS} indicators needed reach AUC {MIN_AUC:g} with p < {ALPHA:g}"]
           if n_ind < MIN_INDICATORS else []) + (
        [f"the recall interval{'s' if len(short) > 1 else ''} of {' and '.join(short)}"
         f" {'do' if len(short) > 1 else 'does'} not lie above {MIN_RECALL_LO:g}"] if short else [])
    n_pairs, n_bases = reading["n_pairs"], reading["n_bases"]
    return (f"- **The same test over base models** (its {n_pairs} pairs start from {n_bases} bases, the unit the"
            " pretraining seeds replicate; exact tests, since a bootstrap cannot vary a perfect reading): AUC over"
            " bases of the indicators the bar counts: " + (", ".join(auc(n, r) for n, r in reading["indicators"].items())
                                                             or "none") + "; recall over bases (a base is right when"
            " every pair of the class is): "
            + ", ".join(recall_text(c, *v, reach=True) for c, v in reading["recall"].items())
            + (". Read so far (the test is judged once every designed pair has a row), the bar is " if so_far
               else ". Read so, the bar is ")
            + ("established." if reading["established"] else "not established: " + "; ".join(why) + ".")
            + (" This reading over bases was added after the test had been read (docs/preregistration.md); it stands"
               " beside the registered verdict, not in its place; every later test must meet it as part of its bar."
               if reading["bar_criteria"] < 2 else
               " These criteria were registered before this test began (docs/preregistration.md): they are part of"
               " its bar."))


def base_level_texts(summary: dict[str, Any], pairs: Any) -> tuple[str, str, bool | None]:
    """The trust paragraph's line on the test the bar is judged on, read over bases (:func:`base_level_line`), the
    note the first line adds to that test, and whether the bar's criteria hold over bases ("", "", None without such
    a test, or when its evaluation keeps no such reading and ``pairs``, the stored per-pair table, is None)."""
    read = judged_test_over_bases(summary, pairs)
    if read is None:
        return "", "", None
    so_far = pending(summary)
    note = (", and over base models it is " + ("established" if read["established"] else "not established")
            + (" so far" if so_far else "") + " (next line)")
    return base_level_line(read, so_far=so_far), note, bool(read["established"])
