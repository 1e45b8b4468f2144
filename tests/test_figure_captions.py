"""Captions that match their plots: the figures index is the sidecars' captions, and every series a caption names is
drawn in the figure (read from the text of the committed PDF)."""

from __future__ import annotations

import re
import shutil
import zlib
from pathlib import Path

import pytest

from rlmeta_interp import notebooks

FIGURES = Path(__file__).resolve().parents[1] / "figures"

# Figure -> the series (legend entries, bar or tick labels) its caption names, spelled as drawn.
CAPTION_SERIES = {
    "00_layer_sweep": ["greedy accuracy", "share of full 5-operand chains"],
    "00_steering_effect": ["share of full 5-operand chains"],
    "03_variants": ["val-arith-depth-d000-rl-edge", "val-arith-depth-d010-rl-edge", "val-arith-depth-d000-sft-deep",
                    "val-arith-depth-d010-sft-deep"],
    "03_coverage": ["val-arith-depth-d000-rl-edge", "val-arith-depth-d010-rl-edge", "val-arith-depth-d000-sft-deep",
                    "val-arith-depth-d010-sft-deep"],
    "03_passk_curves": ["base", "rl", "guess"],
    "04_prorl_knobs": ["300 steps, lr 0.0001, 8x8 per step", "1500 steps, lr 0.0001, 2x8 per step",
                       "3000 steps, lr 0.0003, 8x8 per step", "creation", "activation", "no signal"],
    "04_passk_by_world": ["ctest2-comp-d000-s8-rl-long", "clow-comp-d001-s12-rl-long", "val-arith-depth-d000-rl-edge",
                          "val-arith-depth-d010-rl-edge", "base", "rl", "guess"],
    "09_accuracy_by_level": ["base", "edge", "val-arith-depth-d000-base", "val-arith-depth-d010-base"],
    "09_already_solved": ["base", "edge", "val-arith-depth-d000-base", "val-arith-depth-d010-base"],
    "06_sparsity_by_layer": ["val-bandit-d000-rl-long (creation)", "val-bandit-d000-rl-long-s1 (creation)",
                             "val-bandit-d050-rl-long (activation)", "val-bandit-d050-rl-long-s1 (activation)",
                             "val-bandit-d000-s8-rl-long (creation)", "val-bandit-d000-s8-rl-long-random (no_signal)"],
    "06_update_rank": ["val-bandit-d000-rl-long", "val-bandit-d000-rl-long-s1", "val-bandit-d050-rl-long",
                       "val-bandit-d050-rl-long-s1", "val-bandit-d000-s8-rl-long", "val-bandit-d000-s8-rl-long-random"],
}


def pdf_text(path: Path) -> set[str]:
    """Every string a matplotlib PDF draws (``Tj`` / ``TJ`` operands of its Flate-compressed content streams).

    Hand-written because no PDF reader is in the project's stack; matplotlib writes text as literal strings, so
    decompressing the streams and joining each ``TJ`` array's fragments recovers the labels."""
    data = path.read_bytes()
    found = set()
    for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            s = zlib.decompress(m.group(1))
        except zlib.error:
            continue
        for tj in re.findall(rb"\[(.*?)\]\s*TJ", s, re.S):
            found.add(b"".join(re.findall(rb"\(((?:\\.|[^\\)])*)\)", tj)).decode("latin-1"))
        found.update(t.decode("latin-1") for t in re.findall(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", s))
    return {re.sub(r"\\(.)", r"\1", t) for t in found}


def caption(figure: str) -> str:
    rows = [r for r in (FIGURES / "README.md").read_text().splitlines() if r.startswith(f"| [{figure}](")]
    assert len(rows) == 1, f"{figure} is not listed once in figures/README.md"
    return rows[0]


def test_index_is_the_sidecar_captions(tmp_path):
    for p in [*FIGURES.glob("[0-9][0-9]_*.json"), *FIGURES.glob("validation_*.json")]:
        shutil.copy(p, tmp_path / p.name)
    index = notebooks.write_figure_index(tmp_path).read_text()
    assert index == (FIGURES / "README.md").read_text()
    # the validation figures are indexed too; the table's own JSON (no figure named in it) is not
    for figure in ("validation_confusion", "validation_roc", "validation_statistics"):
        assert caption(figure).startswith(f"| [{figure}]({figure}.png) | ")
    assert "validation_summary" not in index


@pytest.mark.parametrize("figure", sorted(CAPTION_SERIES))
def test_every_series_a_caption_names_is_drawn(figure):
    text = caption(figure)
    drawn = pdf_text(FIGURES / f"{figure}.pdf")
    for series in CAPTION_SERIES[figure]:
        assert series in text, f"{figure}: the caption no longer names {series!r}; update CAPTION_SERIES"
        assert series in drawn, f"{figure}: the caption names {series!r} but the figure does not draw it"


def test_pdf_text_reads_what_matplotlib_drew(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.bar(["alpha", "beta (b)"], [1, 2], label="gamma:delta")
    ax.legend()
    fig.savefig(tmp_path / "f.pdf")
    plt.close(fig)
    drawn = pdf_text(tmp_path / "f.pdf")
    assert {"alpha", "beta (b)", "gamma:delta"} <= drawn and "epsilon" not in drawn
