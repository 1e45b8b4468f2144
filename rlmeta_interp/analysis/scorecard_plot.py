"""The scorecard's figure, drawn only from a card's saved tables: boundary, steering or beliefs, features, votes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the card's type only: the scorecard module imports this one to draw
    from .scorecard import Scorecard


_CONTROLS = ("random", "bias")  # steering conditions drawn as controls (grey)


def _steering_bars(card: Scorecard) -> tuple[Any, Any] | None:
    """The steering panel's bars (one per condition, the unsteered base and the tuned model taken out) and the
    accuracy of each condition by name, or None when the card has no steering table."""
    s = card.results.get("steering")
    if s is None or "steering" not in s.tables:
        return None
    t = s.tables["steering"]
    ref = t.set_index("condition")["accuracy"]
    t = t[~t.condition.isin(["unsteered_base", "rl_model"])].copy()
    t["condition"] = t["condition"].str.replace("random:own", "random (own norm)").str.replace(
        "random:from_rl", "random (RL norm)")
    t = t.groupby("condition", as_index=False, sort=False).agg(
        {"accuracy": "mean", "acc_ci_lo": "min", "acc_ci_hi": "max"})
    return t, ref


def scorecard_caption(card: Scorecard) -> str:
    """What :func:`plot_scorecard` draws for ``card``, panel by panel, in words: a caption that names only what is
    plotted (steering conditions by the names on their bars)."""
    b, bel, f = card.results.get("boundary"), card.results.get("beliefs"), card.results.get("features")
    parts = ["pass@k of the base, the tuned model and the guessing baseline (95% CI over problems)"
             if b is not None and "passk_curve" in b.tables else "no pass@k (not measured for this world)"]
    bars = _steering_bars(card)
    if bars is not None:
        names = list(bars[0]["condition"])
        own = [c for c in names if not c.startswith(_CONTROLS)]
        ctrl = [c for c in names if c.startswith(_CONTROLS)]
        parts.append(f"the base's greedy accuracy steered by {', '.join(own) or 'no vector'} and by the controls"
                     f" {', '.join(ctrl) or 'none'} (grey), beside the base unsteered and the tuned model (dashed)")
    elif bel is not None and "belief_probes" in bel.tables:
        parts.append("belief-probe R^2 of the centred posterior means per model")
    if f is not None and "crosscoder_latents" in f.tables:
        parts.append("live crosscoder latents by relative decoder norm, with the SAE FVU ratio RL/base")
    parts.append("every indicator's vote and the summary"
                 + (", beside the label fixed by design" if card.label else ""))
    return "; ".join(parts)


def plot_scorecard(card: Scorecard) -> Any:
    """A 2x2 figure: pass@k with the guesser, steering against controls (or belief probes), crosscoder latents, votes."""
    import matplotlib.pyplot as plt

    from ..plotting import COLORS, bar_ci, line_ci, set_style

    set_style()
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5))
    ax = axes[0, 0]
    b = card.results.get("boundary")
    if b is not None and "passk_curve" in b.tables:
        line_ci(ax, b.tables["passk_curve"], "k", "pass@k", "ci_lo", "ci_hi", hue="model",
                palette={"base": COLORS["base"], "rl": COLORS["rl"], "guess": COLORS["random"]}, marker="o")
        ax.set_xscale("log", base=2)
        ax.set_title("capability boundary: pass@k (95% CI over problems)")
    else:
        ax.axis("off")
        ax.set_title("boundary: n/a for this world")
    ax = axes[0, 1]
    bel, bars = card.results.get("beliefs"), _steering_bars(card)
    if bars is not None:
        t, ref = bars
        bar_ci(ax, t, "condition", "accuracy", "acc_ci_lo", "acc_ci_hi",
               colors=[COLORS["control"] if c.startswith(_CONTROLS) else COLORS["steered"] for c in t.condition])
        ax.axhline(ref["unsteered_base"], color=COLORS["base"], lw=1.2, ls="--", label="base, unsteered")
        ax.axhline(ref["rl_model"], color=COLORS["rl"], lw=1.2, ls="--", label="RL model")
        ax.legend(frameon=False, fontsize=8)
        ax.set_ylabel("greedy accuracy (test half)")
        ax.set_title("steering the base: accuracy vs controls")
        plt.setp(ax.get_xticklabels(), rotation=40, ha="right", rotation_mode="anchor")  # long names: no overlap
    elif bel is not None and "belief_probes" in bel.tables:
        t = bel.tables["belief_probes"]
        bar_ci(ax, t, "model", "r2", "ci_lo", "ci_hi", colors=[COLORS.get(m, COLORS["control"]) for m in t["model"]])
        ax.set_title("belief probe R^2 (posterior means, centred)")
    else:
        ax.axis("off")
    ax = axes[1, 0]
    f = card.results.get("features")
    if f is not None and "crosscoder_latents" in f.tables:
        lat = f.tables["crosscoder_latents"]
        lat = lat[lat["freq"] > 0]
        ax.hist(lat["rel_norm"], bins=20, range=(0, 1), color=COLORS["reference"])
        ax.set_xlabel("relative decoder norm  ||d_RL|| / (||d_base|| + ||d_RL||)")
        ax.set_ylabel("live latents")
        ax.set_title(f"crosscoder latents; SAE FVU ratio RL/base = {f.metric('fvu_ratio'):.2f}")
    else:
        ax.axis("off")
    ax = axes[1, 1]
    ax.axis("off")
    cell = [[k, v] for k, v in card.votes.items()] + [["SUMMARY", card.summary]]
    if card.label:
        cell.append([f"label ({card.recipe or 'design'})", card.label])
    tab = ax.table(cellText=cell, colLabels=["indicator", "vote"], loc="center")
    tab.scale(1, 1.3)
    ax.set_title("votes")
    fig.suptitle(f"{card.pair}: activation or creation?")
    fig.tight_layout()
    return fig
