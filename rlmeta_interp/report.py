"""Reports: Markdown plus a self-contained HTML version with the figures embedded (one file to open or send).

Also the formatting every report shares, written for people: percentages and intervals (never ``[0, -0]``), votes
and agreement in words (never raw ``1``/``0``/``nan``), durations, and the one-line answer per pair.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .io import read_json, write_text_atomic
from .paths import validation_table

_CSS = """body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}table{border-collapse:collapse;margin:1em 0;font-size:.9em}th,td{border:1px solid #ccc;
padding:.3em .6em;text-align:left}th{background:#f3f3f3}img{max-width:100%;border:1px solid #eee}code{background:#f5f5f5;
padding:0 .2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
.footer{color:#666;font-size:.85em;border-top:1px solid #ddd;margin-top:3em;padding-top:.5em}"""

MISSING = "–"  # shown for a value that was not measured


# ---------------------------------------------------------------------------------------------- formatting
def _finite(x: Any) -> float | None:
    if x is None or isinstance(x, bool):
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) or math.isinf(v) else v


def fmt_num(x: Any, digits: int = 3) -> str:
    """A number to ``digits`` significant digits; ``-0`` is ``0``; missing, NaN and infinities read ``–``."""
    if isinstance(x, bool):
        return "yes" if x else "no"
    v = _finite(x)
    if v is None:
        return MISSING if not isinstance(x, str) else x
    text = f"{v:.{digits}g}"
    return "0" if re.fullmatch(r"-0(\.0*)?(e[+-]?\d+)?", text) else text


def fmt_pct(x: Any, digits: int = 0) -> str:
    """A fraction as a percentage (``0.8333`` -> ``83%``); missing reads ``–``."""
    v = _finite(x)
    if v is None:
        return MISSING
    text = f"{100 * v:.{digits}f}"
    return f"{'0' if float(text) == 0 else text}%"


def fmt_interval(lo: Any, hi: Any, *, pct: bool = False) -> str:
    """``[lo, hi]`` in the same format as its value; an unbounded end reads ``-inf`` / ``inf``; empty when either
    end is missing."""
    ends = []
    for x in (lo, hi):
        v = _finite(x)
        if v is None:
            try:
                unbounded = not isinstance(x, (bool, str)) and math.isinf(float(x))
            except (TypeError, ValueError):
                unbounded = False
            if not unbounded:
                return ""
            ends.append("inf" if float(x) > 0 else "-inf")
        else:
            ends.append(fmt_pct(v) if pct else fmt_num(v))
    return f"[{ends[0]}, {ends[1]}]"


def fmt_agrees(x: Any) -> str:
    """Whether a vote matched the known label, in words: agrees / disagrees / undecided."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "undecided"
    return "agrees" if bool(x) else "disagrees"


def fmt_duration(seconds: float) -> str:
    """``83`` -> ``1 min 23 s``; under a minute, seconds only."""
    s = int(round(max(0.0, float(seconds))))
    return f"{s} s" if s < 60 else f"{s // 60} min {s % 60:02d} s"


def fmt_when(timestamp: float) -> str:
    """A POSIX time as ``2026-12-02 06:10 UTC``."""
    return _dt.datetime.fromtimestamp(timestamp, _dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def md_escape(text: Any) -> str:
    """Text safe inside a Markdown table cell (pipes and newlines would break the row)."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def md_table(df: pd.DataFrame, formats: dict[str, Any] | None = None) -> str:
    """``df`` as a Markdown table; ``formats`` maps a column to a formatter (default: :func:`fmt_num` for numbers)."""
    formats = formats or {}
    cols = list(df.columns)

    def cell(col: str, v: Any) -> str:
        if col in formats:
            return md_escape(formats[col](v))
        if isinstance(v, (float, int)) and not isinstance(v, bool):
            return fmt_num(v)
        return md_escape(MISSING if v is None else v)

    rows = ["| " + " | ".join(md_escape(c) for c in cols) + " |", "|" + "---|" * len(cols)]
    rows += ["| " + " | ".join(cell(c, v) for c, v in zip(cols, r, strict=True)) + " |" for r in df.itertuples(index=False)]
    return "\n".join(rows)


# ------------------------------------------------------------------------------------------- meter accuracy
@dataclass(frozen=True)
class MeterAccuracy:
    """How often the scorecard's summary matched the known label, as measured on the labelled validation zoo."""

    value: float
    ci_lo: float | None
    ci_hi: float | None
    n_pairs: int | None
    metric: str
    split: str | None
    source: Path
    baseline: float | None = None  # what a constant guess scores on the same pairs
    # per class: [pairs read right, pairs, exact 95% interval low, high] (a bootstrap over a few pairs read without
    # error is the point [1, 1]; these say how much the pairs can show)
    exact: dict[str, list[float]] | None = None
    meets_bar: bool | None = None  # the project's bar (README, "How far to trust each vote"); None: not known
    # every test on held-out pairs no fit had seen, in the order read (analysis.validation.testlines.tests_in_order);
    # when there are any, the pooled figure above is no test of its own
    tests: tuple[str, ...] = ()
    # whether the test the bar is judged on meets its criteria read over base models with exact tests
    # (analysis.validation.bases); None: not read (the evaluation keeps no such reading and no per-pair table is beside)
    over_bases: bool | None = None

    def text(self) -> str:
        ci = fmt_interval(self.ci_lo, self.ci_hi, pct=True)
        n = f", {self.n_pairs} pairs" if self.n_pairs else ""
        split = f" ({self.split} split{n})" if self.split else (f" ({self.n_pairs} pairs)" if self.n_pairs else "")
        base = f"; a constant guess scores {fmt_pct(self.baseline)}" if self.baseline is not None else ""
        exact = ("; per class, pairs read right with the exact 95% interval: " + ", ".join(
            f"{c.replace('_', ' ')} {int(k)}/{int(m)} {fmt_interval(lo, hi, pct=True)}"
            for c, (k, m, lo, hi) in self.exact.items())) if self.exact else ""
        who = "the last of those tests" if self.tests else "it"  # with tests, the bar is judged on the latest alone
        bases = {True: ", and over base models too", False: (" by its registered intervals, but not over base models"
                                                            " (exact tests; README, 'The same test over base"
                                                            " models')"), None: ""}[self.over_bases]
        bar = {True: f"; {who} meets the project's bar{bases}", None: ""}.get(self.meets_bar, (
            f"; {who} does not meet the project's bar (README, 'How far to trust each vote', and the caveats under it)"))
        pooled = ", pooled over every held-out pair, which is no test of its own" if self.tests else ""
        tests = ("; on held-out pairs no fit had seen, test by test in the order read: "
                 + "; ".join(f"({i}) {t}" for i, t in enumerate(self.tests, 1))) if self.tests else ""
        return (f"{self.metric.replace('_', ' ')} {fmt_pct(self.value)}{' 95% CI ' + ci if ci else ''} on the labelled"
                f" validation zoo{split}{pooled}{base}{exact}{tests}{bar}")


_ACCURACY_KEYS = ("balanced_accuracy", "summary_balanced_accuracy", "accuracy", "summary_accuracy")


def read_meter_accuracy(path: Path | None = None) -> MeterAccuracy | None:
    """The meter's measured accuracy from the committed validation table (``figures/validation_summary.json``).

    Reads the first of ``balanced_accuracy`` / ``accuracy`` (top level or under ``summary``), given as a number or as
    ``{"value", "ci_lo", "ci_hi"}``, with ``n_pairs``, ``split`` and ``constant_baseline`` when present (the layout
    :mod:`rlmeta_interp.analysis.validation` writes). None when the file is absent or holds no accuracy: the report
    then says the accuracy has not been measured.
    """
    path = path or validation_table()
    if not path.exists():
        return None
    data = read_json(path)
    for scope in (data, data.get("summary") if isinstance(data.get("summary"), dict) else {}):
        for key in _ACCURACY_KEYS:
            if key not in scope:
                continue
            v = scope[key]
            if isinstance(v, dict):
                value, lo, hi = v.get("value"), v.get("ci_lo"), v.get("ci_hi")
            else:
                value, lo, hi = v, scope.get(f"{key}_ci_lo"), scope.get(f"{key}_ci_hi")
            if _finite(value) is None:
                continue
            n = scope.get("n_pairs", data.get("n_pairs"))
            exact = ((data.get("evaluation") or {}).get("summary") or {}).get("recall_exact_ci")
            bar, tests, over_bases = None, (), None
            if isinstance(data.get("evaluation"), dict) and "indicators" in data["evaluation"]:
                from .analysis.validation.bar import meets_bar
                from .analysis.validation.testlines import tests_in_order

                bar, tests = meets_bar(data), tuple(tests_in_order(data))
                over_bases = _over_bases(data, path.parent)
            return MeterAccuracy(float(value), _finite(lo), _finite(hi), int(n) if _finite(n) else None, key,
                                 scope.get("split", data.get("split")), path, _finite(scope.get("constant_baseline")),
                                 exact if isinstance(exact, dict) else None, bar, tests, over_bases)
    return None


def _over_bases(summary: dict[str, Any], folder: Path) -> bool | None:
    """Whether the judged test of ``summary`` meets the bar over base models: as its evaluation keeps it, else read
    from the per-pair table beside it; None without either."""
    from .analysis.validation.reading import judged_test_over_bases, stored_pair_rows

    read = judged_test_over_bases(summary, stored_pair_rows(folder))
    return None if read is None else bool(read["established"])


def meter_accuracy_text(acc: MeterAccuracy | None) -> str:
    if acc is None:
        return ("The meter's accuracy has not been measured yet (no validation table in `figures/"
                "validation_summary.json`): read these verdicts as uncalibrated.")
    return f"The meter's measured accuracy: {acc.text()}."


# ------------------------------------------------------------------------------------------------ scorecards
def answer_line(card: Any) -> str:
    """One line: the pair, the toolkit's verdict, the known label, and whether they agree."""
    from .analysis.scorecard import summarize_votes

    verdict = card.summary
    why = summarize_votes(card.votes)[1]
    head = f"**{card.pair}** ({card.world}, dose {fmt_num(card.dose)}): "
    if verdict == "no gain":
        said = "training made **no measurable gain**, so there is nothing to attribute"
    else:
        said = f"the toolkit reads **{verdict}** ({why})"
    expected = getattr(card, "expected", None)
    if expected is None:
        known = "no known label"
    elif verdict == "no gain":
        known = f"known label **{card.label}** (without a gain the pair is not a case of it)"
    else:
        agree = "agrees" if verdict == expected else "does not agree"
        known = f"known label **{card.label}**: it {agree}"
    return head + said + "; " + known + "."


def fitted_line(card: Any, reading: str, split_of: dict[str, str]) -> str:
    """One line: the reading of the summary fitted on the calibration split (``validate``), the known label, and
    whether that pair was a calibration pair (an in-sample reading) or a held-out one (``split_of``: pair -> split
    in the committed validation table)."""
    head = f"**{card.pair}**: the meter fitted on the calibration split reads **{reading.replace('_', ' ')}**"
    if card.label is None:
        known = "no known label"
    else:
        known = (f"known label **{card.label.replace('_', ' ')}**: it "
                 f"{'agrees' if reading == card.label else 'does not agree'}")
    split = split_of.get(card.pair)
    where = {"calibration": " (a calibration pair: the fit saw it, so this reading is in-sample)",
             "test": " (a held-out test pair of the validation table)"}.get(split or "", " (not in the validation table)")
    return f"{head}; {known}{where}."


def scorecard_section(card: Any, figure: str | None = None) -> str:
    """A pair's scorecard in Markdown: answer, indicator table (values and 95% CIs for people), rules."""
    lines = [f"## {card.pair}", "", answer_line(card), ""]
    t = card.table()
    if len(t):
        rows = []
        last = None
        for r in t.itertuples(index=False):
            first = r.indicator != last
            last = r.indicator
            rows.append({"indicator": r.indicator if first else "", "vote": r.vote if first else "",
                         "metric": r.metric, "value": fmt_num(r.value),
                         "95% CI": fmt_interval(r.ci_lo, r.ci_hi), "note": r.note or ""})
        lines += [md_table(pd.DataFrame(rows)), ""]
    lines += ["Rules:", ""] + [f"- **{k}** ({r.vote}): {md_escape(r.rule)}" for k, r in card.results.items()]
    if figure:
        lines += ["", f"![scorecard of {card.pair}]({figure})"]
    return "\n".join(lines) + "\n"


def reliability_table(reliability: pd.DataFrame) -> str:
    """Per indicator: decisive votes that agreed with the label, as ``3 of 4 (75%)``; never a raw NaN."""
    rows = [{"indicator": r.indicator, "pairs": int(r.pairs), "decisive votes": int(r.decisive),
             "agreed with the label": (f"{int(r.agree)} of {int(r.decisive)} ({fmt_pct(r.agreement)})"
                                       if r.decisive else "no decisive vote")}
            for r in reliability.itertuples(index=False)]
    return md_table(pd.DataFrame(rows))


def votes_table(validation: pd.DataFrame) -> str:
    """Pairs by indicators: each vote, marked when it disagrees with the known label."""
    rows: dict[str, dict[str, Any]] = {}
    for r in validation.itertuples(index=False):
        label = r.label if isinstance(r.label, str) and r.label else "unlabelled"
        row = rows.setdefault(r.pair, {"pair": r.pair, "dose": fmt_num(r.dose), "label": label})
        vote = r.vote if isinstance(r.vote, str) else "n/a"  # "n/a" reads back from CSV as NaN
        row[r.indicator] = f"{vote} ✗" if r.agrees is False else vote
    return md_table(pd.DataFrame(list(rows.values())).fillna(MISSING))


def footer(lines: Iterable[str]) -> str:
    """A report footer (rendered small and grey in HTML)."""
    return "\n".join(["", "---", "", *[f"_{md_escape(line)}_  " for line in lines]])


# -------------------------------------------------------------------------------------------------- writing
def _no_raw_html():
    """A Markdown extension that treats raw HTML as text, so report text is always escaped in the HTML."""
    from markdown.extensions import Extension

    class NoRawHtml(Extension):
        def extendMarkdown(self, md: Any) -> None:  # noqa: N802 (the Markdown API's name)
            md.preprocessors.deregister("html_block")
            md.inlinePatterns.deregister("html")

    return NoRawHtml()


def markdown_to_html(md: str, base_dir: Path, title: str) -> str:
    """Render ``md``; every local image ``![](path)`` relative to ``base_dir`` is embedded as a data URI.

    Raw HTML in ``md`` is shown as text (escaped), and so is the title.
    """
    import markdown

    def embed(m: re.Match) -> str:
        alt, src = m.group(1), m.group(2)
        path = (base_dir / src).resolve()
        if not path.exists() or path.suffix.lower() != ".png":
            return m.group(0)
        data = base64.b64encode(path.read_bytes()).decode()
        return f"![{alt}](data:image/png;base64,{data})"

    body = markdown.markdown(re.sub(r"!\[([^\]]*)\]\(([^)]+)\)", embed, md),
                             extensions=["tables", "fenced_code", _no_raw_html()])
    if "<hr />" in body:  # the footer: everything after the last rule
        head, _, tail = body.rpartition("<hr />")
        body = f"{head}<hr /><div class='footer'>{tail}</div>"
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body>{body}</body></html>")


def write_report(md: str, folder: Path, name: str = "report", title: str = "rlmeta-interp report") -> tuple[Path, Path]:
    """Write ``<folder>/<name>.md`` and ``<folder>/<name>.html`` atomically."""
    md_path = write_text_atomic(folder / f"{name}.md", md)
    html_path = write_text_atomic(folder / f"{name}.html", markdown_to_html(md, folder, title))
    return md_path, html_path

