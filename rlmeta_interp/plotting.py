"""One figure style, and the only way figures are written: ``save_fig`` -> ``<NN>_<name>.png`` and ``.pdf``."""

from __future__ import annotations

import logging
import re
import textwrap
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg", force=False)  # headless by default; notebooks switch to inline themselves
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from .errors import InvalidConfigError  # noqa: E402
from .io import atomic_path, ensure_dir, write_json_atomic  # noqa: E402
from .paths import figures_dir  # noqa: E402

log = logging.getLogger(__name__)

COLORS = {"base": "#4C72B0", "rl": "#DD8452", "control": "#8C8C8C", "steered": "#55A868", "hybrid": "#C44E52",
          "reference": "#8172B3", "random": "#BBBBBB"}


# No timestamps in saved files, so rerunning a notebook on the same numbers leaves the figures byte-identical.
_FIXED_METADATA = {"pdf": {"CreationDate": None}, "png": {}}


def set_style() -> None:
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 150, "savefig.bbox": "tight", "axes.titlesize": 11,
                         "figure.figsize": (6.4, 4.0)})


def color(key: str) -> str:
    return COLORS.get(key, "#333333")


def save_fig(fig: Any, notebook: int | str, name: str, out_dir: str | Path | None = None, caption: str = "") -> list[Path]:
    """Write ``fig`` as ``<out_dir>/<NN>_<name>.png`` and ``.pdf`` atomically; returns both paths.

    ``out_dir`` defaults to ``RLMETA_FIGURES`` or ``<results>/figures`` (never the tracked figures of record, which
    only ``rlmeta-interp figures`` writes). ``caption`` (what the figure shows) goes to a ``<NN>_<name>.json``
    sidecar, from which ``rlmeta-interp figures`` writes ``figures/README.md``. Files are reproducible: the same
    figure gives the same bytes (no creation date in the PDF).
    """
    nn = f"{int(notebook):02d}" if str(notebook).isdigit() else str(notebook)
    if not re.fullmatch(r"[A-Za-z0-9_\-]+", name):
        raise InvalidConfigError(f"Figure name {name!r} must be letters, digits, '_' or '-'.")
    folder = ensure_dir(out_dir if out_dir is not None else figures_dir())
    paths = []
    for ext in ("png", "pdf"):
        final = folder / f"{nn}_{name}.{ext}"
        with atomic_path(final) as tmp:
            fig.savefig(tmp, format=ext, metadata=_FIXED_METADATA[ext])
        paths.append(final)
    write_json_atomic(folder / f"{nn}_{name}.json", {"figure": f"{nn}_{name}", "notebook": nn, "caption": caption})
    log.info("saved figure %s", paths[0])
    return paths


def drawn_series(drawn: list[str], asked: list[str], what: str) -> str:
    """A caption's account of a figure's series: the ``what`` it draws, and those of ``asked`` it does not (the zoo
    lacks them), so a caption never names a series the figure leaves out."""
    missing = [a for a in asked if a not in drawn]
    text = f"{what} drawn: {', '.join(drawn) or 'none'}"
    return text + (f"; not in this zoo, so not drawn: {', '.join(missing)}" if missing else "")


def panel_grid(n: int, panel_size: tuple[float, float], rows_per_panel: int = 1, max_cols: int = 3,
               sharey: bool = True) -> tuple[Any, list[list[Any]], int]:
    """A figure of ``n`` panels, each ``rows_per_panel`` axes stacked, in ``n`` columns when ``n <= max_cols`` and
    else wrapped into 2 columns (so a list of pairs given as creation/activation twins keeps each twin beside its
    case); returns ``(fig, panels, cols)``, ``panels[i]`` the axes of panel ``i`` top to bottom, unused axes hidden.
    With ``sharey``, the axes of one stacked row share y across every panel. matplotlib's subplots has no wrapping
    grid of stacked panels, hence this helper."""
    if n < 1 or rows_per_panel < 1 or max_cols < 2:
        raise InvalidConfigError(f"panel_grid needs at least one panel of at least one row, and max_cols >= 2 (got {n}"
                                 f" panels x {rows_per_panel} rows, max_cols={max_cols}).")
    cols = n if n <= max_cols else 2
    grid_rows = -(-n // cols)
    w, h = panel_size
    fig, axes = plt.subplots(grid_rows * rows_per_panel, cols, figsize=(w * cols, h * grid_rows * rows_per_panel),
                             squeeze=False)
    panels = [[axes[(i // cols) * rows_per_panel + r, i % cols] for r in range(rows_per_panel)] for i in range(n)]
    for i in range(n, grid_rows * cols):
        for r in range(rows_per_panel):
            axes[(i // cols) * rows_per_panel + r, i % cols].set_visible(False)
    if sharey:
        for r in range(rows_per_panel):
            first = panels[0][r]
            for p in panels[1:]:
                p[r].sharey(first)
    return fig, panels, cols


def layout_under_title(fig: Any, title: Any, pad: float = 4.0) -> None:
    """``fig.tight_layout()``, then the grid's top lowered just enough that every axes (titles and tick labels
    included) ends ``pad`` points below ``title`` (the Text ``fig.suptitle`` returned).

    tight_layout alone leaves too little room for a suptitle of several lines over panels that have titles of their
    own, and the two overlap; passing it a smaller ``rect`` instead reserves the suptitle's room twice."""
    fig.tight_layout()
    _grid_clear_of(fig, title, pad, above=True)


def _grid_clear_of(fig: Any, text: Any, pad: float, *, above: bool) -> None:
    """Move the grid's top down (``text`` above the axes) or its bottom up (``text`` below them) just enough that
    every visible axes, titles and tick labels included, ends ``pad`` points from ``text``; nothing moves when they
    are clear already."""
    renderer = fig.canvas.get_renderer()
    box, gap = text.get_window_extent(renderer), pad * fig.dpi / 72
    axes = [ax.get_tightbbox(renderer) for ax in fig.axes if ax.get_visible()]
    if above and (over := max(b.y1 for b in axes) - (box.y0 - gap)) > 0:
        fig.subplots_adjust(top=fig.subplotpars.top - over / fig.bbox.height)
    elif not above and (over := (box.y1 + gap) - min(b.y0 for b in axes)) > 0:
        fig.subplots_adjust(bottom=fig.subplotpars.bottom + over / fig.bbox.height)


def line_ci(ax: Any, df: pd.DataFrame, x: str, y: str, lo: str | None = None, hi: str | None = None,
            hue: str | None = None, palette: dict[str, str] | None = None, **kw: Any) -> Any:
    """Lines of ``y`` against ``x`` with a shaded ``[lo, hi]`` band, one per ``hue`` level."""
    groups = [(None, df)] if hue is None else list(df.groupby(hue, sort=False))
    for key, g in groups:
        g = g.sort_values(x)
        c = (palette or COLORS).get(str(key)) if key is not None else None
        ax.plot(g[x], g[y], label=None if key is None else str(key), color=c, **kw)
        if lo and hi:
            ax.fill_between(g[x], g[lo], g[hi], alpha=0.2, color=ax.lines[-1].get_color(), linewidth=0)
    if hue is not None:
        ax.legend(frameon=False)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    return ax


def bar_ci(ax: Any, df: pd.DataFrame, x: str, y: str, lo: str | None = None, hi: str | None = None,
           colors: list[str] | None = None) -> Any:
    """Bars of ``y`` per ``x`` with asymmetric ``[lo, hi]`` error bars."""
    err = None
    if lo and hi:
        err = [(df[y] - df[lo]).clip(lower=0).to_numpy(), (df[hi] - df[y]).clip(lower=0).to_numpy()]
    ax.bar(df[x].astype(str), df[y], yerr=err, capsize=3, color=colors)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    return ax


def condition_bars(df: pd.DataFrame, order: list[str], names: dict[str, str] | None = None) -> pd.DataFrame:
    """The rows of ``df`` (a ``condition`` column, and a ``seed`` column, empty where a condition has no seeds) in
    bar order: by the condition's place in ``order``, then by seed, with a ``bar`` column naming each bar: the
    condition as ``names`` renames it (unchanged where absent), and `` s<seed>`` for a seeded row. Conditions
    outside ``order`` are refused, since their place would be a guess."""
    if unknown := sorted(set(df["condition"]) - set(order)):
        raise InvalidConfigError(f"Conditions {unknown} are not in the bar order {order}: add them to it.")
    names = names or {}
    out = df.assign(_rank=df["condition"].map(order.index)).sort_values(["_rank", "seed"]).drop(columns="_rank")
    out["bar"] = [names.get(c, c) + ("" if pd.isna(s) else f" s{int(s)}")
                  for c, s in zip(out["condition"], out["seed"], strict=True)]
    return out


VERDICT_COLORS = {"activation": COLORS["base"], "creation": COLORS["rl"], "no gain": "#BBBBBB", "mixed": "#C9B3D9",
                  "inconclusive": "#E4E4E4", "no_signal": "#BBBBBB", "unlabelled": "#FFFFFF"}


def verdict_chart(rows: pd.DataFrame, note: str = "") -> Any:
    """The report's headline: per pair, the toolkit's verdict beside the known label, and whether they agree.

    ``rows``: columns ``pair``, ``verdict``, ``label`` (None when unlabelled) and ``expected`` (the verdict the label
    calls for). ``note`` (e.g. the meter's measured accuracy) is printed under the title.
    """
    from matplotlib.patches import Rectangle

    set_style()
    n = len(rows)
    lines = textwrap.wrap(note, 130) if note else []  # about 130 characters of 8.5 pt text fit 8 inches
    fig, ax = plt.subplots(figsize=(8.0, 0.55 * n + 1.5 + 0.15 * len(lines)))
    for i, r in enumerate(rows.itertuples(index=False)):
        y = n - 1 - i
        label = r.label if isinstance(r.label, str) and r.label else "unlabelled"
        for x, text in ((0, str(r.verdict)), (1, label)):
            ax.add_patch(Rectangle((x + 0.04, y + 0.08), 0.92, 0.84, facecolor=VERDICT_COLORS.get(text, "#EEEEEE"),
                                   edgecolor="#999999", linewidth=0.6))
            ax.text(x + 0.5, y + 0.5, text, ha="center", va="center", fontsize=10)
        if label == "unlabelled":
            mark, tone = "no label to check", "#666666"
        elif r.verdict == r.expected:
            mark, tone = "\u2713 agrees", "#2E7D32"
        else:
            mark, tone = "\u2717 does not agree", "#C62828"
        ax.text(2.1, y + 0.5, mark, va="center", fontsize=10, color=tone)
    ax.set_xlim(0, 3.4)
    ax.set_ylim(0, max(n, 1))
    ax.set_yticks([n - 1 - i + 0.5 for i in range(n)], [str(p) for p in rows["pair"]])
    ax.set_xticks([0.5, 1.5], ["toolkit's verdict", "known label"])
    ax.xaxis.tick_top()
    ax.grid(False)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.tick_params(length=0)
    ax.set_title("Did RL activate or create the capability? The verdict against the truth", loc="left", pad=28)
    fig.tight_layout()
    if lines:  # the note under the chart, the grid raised just enough that the pair names end above it
        _grid_clear_of(fig, fig.text(0.01, 0.01, "\n".join(lines), fontsize=8.5, color="#444444", va="bottom"), 6.0,
                       above=False)
    return fig


def checkpoint_rows(dyn: pd.DataFrame, *, ngram: int, legend_right: bool = False) -> tuple[Any, Any]:
    """Four panels per world (one row each, in order of appearance) of a checkpoint-dynamics table with columns
    ``world, label, step`` and those of :func:`rlmeta_interp.analysis.dynamics.checkpoint_dynamics` (with
    ``rarefy=True``): accuracy, token entropy at execution and at planning tokens, and the rarefied semantic entropy of
    planning ``ngram``-grams with the unrarefied value dashed grey; one line per ``label``. ``legend_right`` puts one
    legend per row right of it (for many labels; leave the figure's right 18% free). Returns ``(fig, grid)``."""
    rows = list(dyn.groupby("world", sort=False))
    if not rows:
        raise InvalidConfigError("checkpoint_rows needs a non-empty table with a 'world' column.")
    fig, grid = plt.subplots(len(rows), 4, figsize=(21 if legend_right else 16, 4.2 * len(rows)), squeeze=False)
    for axes, (world, d) in zip(grid, rows, strict=True):
        line_ci(axes[0], d, "step", "accuracy", "acc_lo", "acc_hi", hue="label", marker="o")
        axes[0].set_title(f"{world}: accuracy (sampled, T=1)")
        line_ci(axes[1], d, "step", "exec_entropy", "exec_lo", "exec_hi", hue="label", marker="o")
        axes[1].set_title("token entropy at execution tokens (nats)")
        line_ci(axes[2], d, "step", "plan_entropy", hue="label", marker="s", ls=":")
        axes[2].set_title("token entropy at planning tokens (nats)")
        line_ci(axes[3], d, "step", "sem_rarefied", "sem_rar_lo", "sem_rar_hi", hue="label", marker="o")
        for _label, g in d.groupby("label", sort=False):
            axes[3].plot(g["step"], g["semantic_entropy"], ls="--", lw=1, color="grey", alpha=0.7)
        axes[3].set_title(f"semantic entropy of planning {ngram}-grams (nats)\nsolid: rarefied; dashed grey: all"
                          " successes", fontsize=9)
        for ax in axes:
            ax.set_xlabel("RL step (0 = base)")
            if legend_right:
                ax.get_legend().remove()
        if legend_right:
            axes[3].legend(*axes[0].get_legend_handles_labels(), loc="upper left", bbox_to_anchor=(1.02, 1),
                           fontsize=7, frameon=False)
    return fig, grid
