"""The validation figures: the held-out confusion matrix of the summary, and each indicator's held-out ROC curve."""

from __future__ import annotations

from typing import Any

import numpy as np


def confusion_figure(evaluation: dict[str, Any]) -> Any:
    """Confusion matrices (rows: label, columns: reading) of the fitted summary and of the vote rule on test pairs."""
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
                ax.text(j, i, f"{int(m[i, j])}", ha="center", va="center")
        r = evaluation[key]
        ax.set_title(f"{title}: balanced accuracy {r['balanced_accuracy']:.2f} [{r['ci_lo']:.2f}, {r['ci_hi']:.2f}]",
                     fontsize=9)
        ax.set_xlabel("reading")
        ax.set_ylabel("label (corpus design)")
    gtc = evaluation.get("gain_then_constant")
    fig.suptitle(f"held-out test pairs ({evaluation['n_test']}); constant answer"
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
