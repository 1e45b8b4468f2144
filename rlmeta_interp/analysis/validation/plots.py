"""The validation figures: the held-out confusion matrix of the summary, and each indicator's held-out ROC curve."""

from __future__ import annotations

from typing import Any

import numpy as np


def confusion_figure(evaluation: dict[str, Any], pooled: bool = False) -> Any:
    """Confusion matrices (rows: label, columns: reading) of the fitted summary and of the vote rule on test pairs;
    ``pooled``: the pairs pool tests of other fits (the title says they are no test of their own)."""
    import matplotlib.pyplot as plt

    from ...plotting import set_style

    set_style()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key, title in zip(axes, ("summary", "vote_rule"), ("fitted summary", "vote rule"), strict=True):
        c = evaluation[key]["confusion"]
        m = np.asarray(c["counts"], dtype=float)
        ax.imshow(m, cmap="Blues", vmin=0)
        ax.grid(False)
        ax.set_xticks(range(len(c["columns"])), c["columns"], rotation=25)
        ax.set_yticks(range(len(c["rows"])), c["rows"])
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                dark = m[i, j] > 0.6 * m.max()  # white on the darkest cells, which black text disappears into
                ax.text(j, i, f"{int(m[i, j])}", ha="center", va="center", color="white" if dark else "black")
        r = evaluation[key]
        ax.set_title(f"{title}: balanced accuracy {r['balanced_accuracy']:.2f} [{r['ci_lo']:.2f}, {r['ci_hi']:.2f}]",
                     fontsize=9)
        ax.set_xlabel("reading")
        ax.set_ylabel("label (corpus design)")
    gtc = evaluation.get("gain_then_constant")
    fig.suptitle(f"held-out test pairs ({evaluation['n_test']}{', pooled: no test of its own' if pooled else ''});"
                 " constant answer"
                 f" '{evaluation['constant_baseline']['answer']}' scores"
                 f" {evaluation['constant_baseline']['balanced_accuracy']:.2f}"
                 + ("" if not gtc else f"; gain check, then '{gtc['answer']}': {gtc['balanced_accuracy']:.2f}")
                 + ("" if not gtc or "ci_lo" not in gtc else f" [{gtc['ci_lo']:.2f}, {gtc['ci_hi']:.2f}]"))
    fig.tight_layout()
    return fig


def roc_figure(evaluation: dict[str, Any]) -> Any:
    """One ROC curve per indicator (creation vs activation on test pairs), AUC with its bootstrap CI in the legend."""
    import matplotlib.pyplot as plt

    from ...plotting import COLORS, set_style

    set_style()
    fig, ax = plt.subplots(figsize=(6.4, 5.2))
    ax.plot([0, 1], [0, 1], ls="--", color=COLORS["control"], lw=1, label="chance")
    for row in evaluation["indicators"]:
        roc = row["roc"]
        if not roc.get("fpr") or ": " in row["indicator"]:  # candidate readings are in the table, not drawn
            continue
        tag = "" if row["votes"] else ", descriptive"
        ax.plot(roc["fpr"], roc["tpr"], marker=".", ls="-" if row["votes"] else ":",
                label=f"{row['indicator']}: AUC {row['test_auc']:.2f} [{row['test_lo']:.2f}, {row['test_hi']:.2f}]{tag}")
    ax.set_xlabel("false creation rate (activation pairs read as creation)")
    ax.set_ylabel("creation recall")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.legend(frameon=False, fontsize=7, loc="lower right")
    ax.set_title("indicator statistics on held-out pairs (95% bootstrap CIs resampling base models)", fontsize=9)
    fig.tight_layout()
    return fig


def statistics_figure(table: Any, fitted: Any) -> Any:
    """Each indicator that votes by a fitted cut: its statistic per pair as the fit reads it
    (``FittedRules.standardised``: 0 is the pair's world's cut, one unit its spread there; symmetric-log axis beyond
    one unit), with its 95% CI; and the summary's P(creation) of the pairs with a gain (it reads a pair without one,
    every no-signal control here, as no_signal). One point per pair, coloured by design label, hollow for calibration
    pairs, filled for held-out ones."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    from ...plotting import COLORS, set_style

    set_style()
    colours = {"creation": COLORS["rl"], "activation": COLORS["base"], "no_signal": COLORS["control"]}
    order = {"calibration": 0, "test": 1}
    rows = table.assign(_s=table["split"].map(order), _l=table["label"]).sort_values(["_s", "_l", "pair"])
    rows = rows.reset_index(drop=True)
    names = [f.name for f in fitted.indicators if f.votes and f.cut is not None and f"{f.name}_lo" in rows.columns]
    panels = [*names, "summary"]
    fig, axes = plt.subplots(len(panels), 1, figsize=(max(8.0, 0.09 * len(rows)), 1.9 * len(panels)), sharex=True)
    axes = np.atleast_1d(axes)
    x = np.arange(len(rows))
    for ax, name in zip(axes, panels, strict=True):
        if name == "summary":
            y, lo, hi, line = fitted.creation_probability(rows), None, None, 0.5
            ax.set_ylabel("summary\nP(creation)", fontsize=8)
        else:
            y = fitted.standardised(rows, name)
            lo = fitted.standardised(rows.assign(**{name: rows[f"{name}_lo"]}), name)
            hi = fitted.standardised(rows.assign(**{name: rows[f"{name}_hi"]}), name)
            line = 0.0
            ax.set_ylabel(f"{name}\n(from its cut)", fontsize=8)
        for i, r in rows.iterrows():
            # the summary reads a pair without a gain as no_signal whatever its P(creation): not drawn there
            if not np.isfinite(y[i]) or (name == "summary" and not bool(r["gain"])):
                continue
            colour = colours.get(r["label"], COLORS["random"])
            if lo is not None and np.isfinite(lo[i]) and np.isfinite(hi[i]):
                ax.plot([i, i], [lo[i], hi[i]], color=colour, lw=0.8)
            ax.plot(i, y[i], marker="o", ms=4, ls="none", color=colour,
                    markerfacecolor=colour if r["split"] == "test" else "white")
        ax.axhline(line, ls="--", lw=1, color=COLORS["reference"])
        ax.grid(False, axis="x")
        if name != "summary":  # spreads differ by orders of magnitude between pairs: linear near the cut, log beyond
            ax.set_yscale("symlog", linthresh=1.0)
    n_cal = int((rows["split"] == "calibration").sum())
    for ax in axes:
        ax.axvline(n_cal - 0.5, color=COLORS["control"], lw=0.8)
    axes[0].set_title(f"left: calibration pairs ({n_cal}, hollow); right: held-out pairs ({len(rows) - n_cal}, filled)",
                      fontsize=9)
    handles = [Line2D([], [], marker="o", ls="none", color=c, label=lab) for lab, c in colours.items()]
    axes[0].legend(handles=handles, frameon=False, fontsize=7, ncol=3, loc="upper left", bbox_to_anchor=(0, 1.45))
    axes[-1].set_xticks(x, rows["pair"].str.replace("val-", "", regex=False), rotation=90, fontsize=5)
    fig.tight_layout()
    return fig
