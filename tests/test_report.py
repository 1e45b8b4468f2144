import base64
import json
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from rlmeta_interp.paths import REPO_ROOT
from rlmeta_interp.plotting import save_fig
from rlmeta_interp.report import (
    fmt_agrees,
    fmt_duration,
    fmt_interval,
    fmt_num,
    fmt_pct,
    md_table,
    meter_accuracy_text,
    read_meter_accuracy,
    reliability_table,
    write_report,
)


def test_report_embeds_local_figures(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    save_fig(fig, "demo", "line", out_dir=tmp_path / "figs")
    plt.close(fig)
    md = "# Title\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n![a line](figs/demo_line.png)\n\n![missing](figs/none.png)\n"
    md_path, html_path = write_report(md, tmp_path)
    html = html_path.read_text()
    assert md_path.read_text() == md
    assert "<table>" in html and "<h1>Title</h1>" in html
    png = (tmp_path / "figs" / "demo_line.png").read_bytes()
    assert base64.b64encode(png).decode()[:200] in html  # embedded, not linked
    assert 'src="figs/none.png"' in html  # a missing figure stays a plain link


def test_html_escapes_title_and_text_and_marks_the_footer(tmp_path):
    md = "# Pair <b>x</b>\n\nA <script>alert(1)</script> & `a<b`\n\n---\n\n_run took 3 s_\n"
    _, html_path = write_report(md, tmp_path, title="demo <i>&</i>")
    html = html_path.read_text()
    assert "<script>" not in html and "&lt;script&gt;" in html and "<b>x</b>" not in html
    assert "<title>demo &lt;i&gt;&amp;&lt;/i&gt;</title>" in html
    assert "<code>a&lt;b</code>" in html
    assert "<div class='footer'>" in html and html.index("<div class='footer'>") < html.index("run took 3 s")


def test_numbers_for_people():
    assert fmt_interval(0.0, -0.0) == "[0, 0]" and fmt_num(-0.0) == "0" and fmt_num(-1e-20) != "-0"
    assert fmt_interval(0.61, 1.0, pct=True) == "[61%, 100%]" and fmt_interval(None, 1) == ""
    assert fmt_interval(float("-inf"), 0.4, pct=True) == "[-inf, 40%]" and fmt_interval(math.inf, 1) == "[inf, 1]"
    assert fmt_interval(float("nan"), 1) == "" and fmt_interval(True, 1) == "" and fmt_interval("inf", 1) == ""
    assert fmt_interval(np.float32("inf"), np.float32(0.5)) == "[inf, 0.5]"
    assert fmt_pct(0.8333) == "83%" and fmt_pct(float("nan")) == "–" and fmt_pct(-0.001) == "0%"
    assert fmt_num(float("nan")) == "–" and fmt_num(None) == "–" and fmt_num(0.123456) == "0.123"
    assert [fmt_agrees(x) for x in (True, False, None, math.nan, 1.0, 0.0)] == \
        ["agrees", "disagrees", "undecided", "undecided", "agrees", "disagrees"]
    assert fmt_duration(83) == "1 min 23 s" and fmt_duration(8.4) == "8 s"
    table = md_table(pd.DataFrame({"a": [1.0, float("nan")], "b": ["x|y", None]}))
    assert "| 1 | x\\|y |" in table and "| – | – |" in table and "nan" not in table


def test_reliability_never_shows_raw_numbers():
    rel = pd.DataFrame({"indicator": ["boundary", "hybrid"], "pairs": [3, 3], "decisive": [2, 0], "agree": [1, 0],
                        "agreement": [0.5, float("nan")]})
    text = reliability_table(rel)
    assert "1 of 2 (50%)" in text and "no decisive vote" in text and "nan" not in text


def test_meter_accuracy_from_the_validation_table(tmp_path):
    path = tmp_path / "validation_summary.json"
    assert read_meter_accuracy(path) is None
    assert "has not been measured yet" in meter_accuracy_text(None)
    path.write_text(json.dumps({"split": "test", "n_pairs": 12,
                                "balanced_accuracy": {"value": 0.75, "ci_lo": 0.5, "ci_hi": 0.95}}))
    acc = read_meter_accuracy(path)
    assert (acc.value, acc.ci_lo, acc.ci_hi, acc.n_pairs, acc.split) == (0.75, 0.5, 0.95, 12, "test")
    assert meter_accuracy_text(acc) == ("The meter's measured accuracy: balanced accuracy 75% 95% CI [50%, 95%] on the"
                                        " labelled validation zoo (test split, 12 pairs).")
    path.write_text(json.dumps({"summary": {"balanced_accuracy": {"value": 0.8, "ci_lo": 0.6, "ci_hi": 1.0},
                                            "n_pairs": 10, "split": "test", "constant_baseline": 0.5}}))
    assert meter_accuracy_text(read_meter_accuracy(path)).endswith("(test split, 10 pairs); a constant guess scores 50%.")
    # the exact per-class intervals the validation table carries are shown beside a bootstrap CI
    path.write_text(json.dumps({"summary": {"balanced_accuracy": {"value": 1.0, "ci_lo": 1.0, "ci_hi": 1.0},
                                            "n_pairs": 5, "split": "test"},
                                "evaluation": {"summary": {"recall_exact_ci": {"creation": [3, 3, 0.292, 1.0]}}}}))
    assert meter_accuracy_text(read_meter_accuracy(path)).endswith(
        "(test split, 5 pairs); per class, pairs read right with the exact 95% interval: creation 3/3 [29%, 100%].")
    # the committed table says whether the bar is met, and the sentence says so
    committed = read_meter_accuracy(REPO_ROOT / "figures" / "validation_summary.json")
    from rlmeta_interp.analysis.validation.bar import meets_bar
    from rlmeta_interp.analysis.validation.report import committed_summary

    assert committed.meets_bar is meets_bar(committed_summary(REPO_ROOT / "figures"))
    said = "meets the project's bar" if committed.meets_bar else "does not meet the project's bar"
    assert said in meter_accuracy_text(committed)
    # a table with clean tests says its pooled figure is none, and gives each test in order (the trust paragraph's)
    from rlmeta_interp.analysis.validation.testlines import tests_in_order

    tests = tests_in_order(committed_summary(REPO_ROOT / "figures"))
    assert committed.tests == tuple(tests) and len(tests) >= 2
    text = meter_accuracy_text(committed)
    assert "pooled over every held-out pair, which is no test of its own" in text
    assert f"in the order read: (1) {tests[0]}; (2) {tests[1]}" in text
    # and, read over base models as the committed evaluation keeps it, whether the bar holds there too
    from rlmeta_interp.analysis.validation.reading import judged_test_over_bases

    over = judged_test_over_bases(committed_summary(REPO_ROOT / "figures"))
    assert committed.over_bases is over["established"]
    tail = {True: ", and over base models too", False: " by its registered intervals, but not over base models"}
    assert f"the last of those tests {said}{tail[committed.over_bases] if committed.meets_bar else ''}" in text
    path.write_text(json.dumps({"summary": {"accuracy": 0.6}}))
    assert read_meter_accuracy(path).value == 0.6
    path.write_text(json.dumps({"something": "else"}))
    assert read_meter_accuracy(path) is None


def test_answer_line_says_verdict_label_and_agreement():
    from rlmeta_interp.analysis.scorecard import Scorecard
    from rlmeta_interp.report import answer_line, scorecard_section

    card = Scorecard(pair="x-rl", world="arithmetic", dose=0.0, layer=2, results={}, label="creation")
    line = answer_line(card)
    assert line.startswith("**x-rl** (arithmetic, dose 0): the toolkit reads **inconclusive**")
    assert line.endswith("known label **creation**: it does not agree.")
    unlabelled = Scorecard(pair="y-rl", world="arithmetic", dose=0.5, layer=2, results={})
    assert answer_line(unlabelled).endswith("; no known label.")
    assert scorecard_section(card).startswith("## x-rl\n\n" + line)


def test_fitted_line_names_reading_label_and_split():
    from rlmeta_interp.analysis.scorecard import Scorecard
    from rlmeta_interp.report import fitted_line

    card = Scorecard(pair="x-sft", world="arithmetic", dose=0.0, layer=2, results={}, label="creation")
    line = fitted_line(card, "creation", {"x-sft": "calibration"})
    assert line == ("**x-sft**: the meter fitted on the calibration split reads **creation**; known label"
                    " **creation**: it agrees (a calibration pair: the fit saw it, so this reading is in-sample).")
    held = fitted_line(card, "no_signal", {"x-sft": "test"})
    assert "reads **no signal**" in held and "does not agree" in held and held.endswith("validation table).")
    assert fitted_line(card, "activation", {}).endswith("(not in the validation table).")
