"""The validation figures, drawn from the committed table's held-out evaluation."""

from __future__ import annotations

import matplotlib
import numpy as np

from rlmeta_interp.analysis.validation import plots as vp
from rlmeta_interp.analysis.validation import report as vr
from rlmeta_interp.paths import REPO_ROOT

matplotlib.use("Agg")
EV = vr.committed_summary(REPO_ROOT / "figures")["evaluation"]


def test_confusion_figure_draws_both_readings_counts_and_both_baselines():
    import matplotlib.pyplot as plt

    fig = vp.confusion_figure(EV)
    try:
        axes = fig.axes
        assert len(axes) == 2
        for ax, key in zip(axes, ("summary", "vote_rule"), strict=True):
            counts = np.asarray(EV[key]["confusion"]["counts"])
            assert sorted(int(t.get_text()) for t in ax.texts) == sorted(counts.ravel().tolist())
            assert [t.get_text() for t in ax.get_xticklabels()] == EV[key]["confusion"]["columns"]
            assert f"{EV[key]['balanced_accuracy']:.2f} [{EV[key]['ci_lo']:.2f}" in ax.get_title()
        title = fig.get_suptitle()
        gtc, const = EV["gain_then_constant"], EV["constant_baseline"]
        assert f"scores {const['balanced_accuracy']:.2f}" in title
        assert f"{gtc['balanced_accuracy']:.2f} [{gtc['ci_lo']:.2f}, {gtc['ci_hi']:.2f}]" in title
    finally:
        plt.close(fig)


def test_roc_figure_draws_every_indicator_with_an_roc_and_says_what_its_cis_resample():
    import matplotlib.pyplot as plt

    fig = vp.roc_figure(EV)
    try:
        ax = fig.axes[0]
        drawn = [r for r in EV["indicators"] if r["roc"].get("fpr") and ": " not in r["indicator"]]
        labels = [line.get_label() for line in ax.get_lines()]
        assert labels[0] == "chance" and len(labels) == len(drawn) + 1
        for r, label in zip(drawn, labels[1:], strict=True):
            assert label.startswith(f"{r['indicator']}: AUC {r['test_auc']:.2f}")
            assert label.endswith(", descriptive") is (not r["votes"])
        assert "resampling base models" in ax.get_title()
    finally:
        plt.close(fig)


def test_statistics_figure_draws_each_fitted_statistic_as_the_fit_reads_it():
    import matplotlib.pyplot as plt
    import pandas as pd

    from rlmeta_interp.analysis.validation.fit import FittedRules

    summary = vr.committed_summary(REPO_ROOT / "figures")
    fitted = FittedRules.from_dict(summary["fitted"])
    table = pd.read_csv(REPO_ROOT / "figures" / vr.PAIRS_CSV)
    fig = vp.statistics_figure(table, fitted)
    try:
        voting = [f.name for f in fitted.indicators if f.votes and f.cut is not None]
        axes = fig.axes
        assert [ax.get_ylabel().split("\n")[0] for ax in axes] == [*voting, "summary"]
        order = table.assign(_s=table["split"].map({"calibration": 0, "test": 1})).sort_values(["_s", "label", "pair"])
        for ax, name in zip(axes[:-1], voting, strict=True):
            # one marker per pair with the statistic, at the value the fit reads (0 = its world's cut)
            points = [line for line in ax.get_lines() if line.get_marker() == "o"]
            want = fitted.standardised(order.reset_index(drop=True), name)
            got = np.array([line.get_ydata()[0] for line in points])
            assert np.allclose(np.sort(got), np.sort(want[np.isfinite(want)]))
            assert any(line.get_linestyle() == "--" and np.allclose(line.get_ydata(), 0.0) for line in ax.get_lines())
            # filled markers are the held-out pairs, hollow ones the calibration pairs, each in its label's colour
            with_stat = order[np.isfinite(want)]
            filled = [line for line in points if line.get_markerfacecolor() != "white"]
            assert len(filled) == int((with_stat["split"] == "test").sum())
            assert len(points) - len(filled) == int((with_stat["split"] == "calibration").sum())
        summary_points = [line for line in axes[-1].get_lines() if line.get_marker() == "o"]
        # the summary panel draws the pairs with a gain only (it reads the others as no_signal)
        assert len(summary_points) == int(table["gain"].astype(bool).sum())
        assert all(0.0 <= line.get_ydata()[0] <= 1.0 for line in summary_points)
        colours = {line.get_color() for line in summary_points}
        assert len(colours) == table.loc[table["gain"].astype(bool), "label"].nunique()
        n_cal = int((table["split"] == "calibration").sum())
        assert f"calibration pairs ({n_cal}" in axes[0].get_title()
    finally:
        plt.close(fig)
