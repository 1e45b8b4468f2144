"""The scorecard's figure and caption (``rlmeta_interp.analysis.scorecard_plot``), drawn from a card built by hand
from saved-result tables: what each panel holds, the steering bars merged and renamed, and a caption that names
exactly what is drawn."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex

from rlmeta_interp.analysis.indicators.core import IndicatorResult
from rlmeta_interp.analysis.scorecard import Scorecard
from rlmeta_interp.analysis.scorecard_plot import plot_scorecard, scorecard_caption
from rlmeta_interp.plotting import COLORS

PASSK = pd.DataFrame({"model": ["base"] * 3 + ["rl"] * 3 + ["guess"] * 3, "k": [1, 2, 4] * 3,
                      "pass@k": [0.2, 0.3, 0.4, 0.3, 0.4, 0.45, 0.05, 0.1, 0.2]})
PASSK["ci_lo"], PASSK["ci_hi"] = PASSK["pass@k"] - 0.05, PASSK["pass@k"] + 0.05
# "diff" twice (two layers): one bar of mean accuracy 0.5 whose CI spans both rows
STEERING = pd.DataFrame({
    "condition": ["unsteered_base", "rl_model", "diff", "diff", "random:own", "random:from_rl", "bias"],
    "accuracy": [0.3, 0.7, 0.4, 0.6, 0.31, 0.29, 0.32],
    "acc_ci_lo": [0.2, 0.6, 0.3, 0.5, 0.2, 0.2, 0.2],
    "acc_ci_hi": [0.4, 0.8, 0.5, 0.7, 0.4, 0.4, 0.4],
})
# four live latents (freq > 0) and one dead one, which is not drawn
LATENTS = pd.DataFrame({"freq": [0.1, 0.2, 0.0, 0.3, 0.05], "rel_norm": [0.1, 0.5, 0.95, 0.9, 0.52]})


def _result(name: str, vote: str, tables: dict, metrics: list | None = None) -> IndicatorResult:
    return IndicatorResult(name=name, vote=vote, rule="by hand", metrics=metrics or [], tables=tables)


def _card(with_label: bool = True) -> Scorecard:
    results = {
        "boundary": _result("boundary", "activation", {"passk_curve": PASSK},
                            [{"metric": "pass@1 RL - base", "key": "d_pass1", "value": 0.1, "ci_lo": 0.02,
                              "ci_hi": 0.18}]),
        "steering": _result("steering", "activation", {"steering": STEERING}),
        "features": _result("features", "creation", {"crosscoder_latents": LATENTS},
                            [{"metric": "SAE FVU ratio", "key": "fvu_ratio", "value": 1.25}]),
    }
    return Scorecard(pair="toy-rl", world="arithmetic", dose=0.5, layer=1, results=results,
                     label="activation" if with_label else None, recipe="toy recipe" if with_label else None)


@pytest.fixture
def figure():
    fig = plot_scorecard(_card())
    yield fig
    plt.close(fig)


def test_the_passk_panel_draws_one_line_per_model_on_a_log2_axis(figure):
    ax = figure.axes[0]
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert set(lines) == {"base", "rl", "guess"}
    for model, line in lines.items():
        rows = PASSK[PASSK.model == model]
        np.testing.assert_allclose(line.get_xdata(), rows["k"])
        np.testing.assert_allclose(line.get_ydata(), rows["pass@k"])
    assert to_hex(lines["guess"].get_color()) == COLORS["random"].lower()
    assert ax.get_xscale() == "log" and "pass@k" in ax.get_title()


def test_the_steering_panel_merges_repeated_conditions_and_greys_the_controls(figure):
    ax = figure.axes[1]
    names = [t.get_text() for t in ax.get_xticklabels()]
    assert names == ["diff", "random (own norm)", "random (RL norm)", "bias"]  # base and RL model are lines
    heights = [p.get_height() for p in ax.patches]
    assert heights == pytest.approx([0.5, 0.31, 0.29, 0.32])
    colors = [to_hex(p.get_facecolor()) for p in ax.patches]
    assert colors == [COLORS["steered"].lower()] + [COLORS["control"].lower()] * 3
    levels = sorted(ln.get_ydata()[0] for ln in ax.get_lines() if ln.get_linestyle() == "--")
    assert levels == pytest.approx([0.3, 0.7])  # unsteered base and the RL model


def test_the_features_panel_counts_live_latents_and_gives_the_fvu_ratio(figure):
    ax = figure.axes[2]
    assert sum(p.get_height() for p in ax.patches) == 4  # the dead latent is left out
    assert ax.get_title().endswith("SAE FVU ratio RL/base = 1.25")


def test_the_votes_panel_lists_each_vote_the_summary_and_the_label(figure):
    card = _card()
    table = figure.axes[3].tables[0]
    cells = [c.get_text().get_text() for c in table.get_celld().values()]
    for indicator, vote in card.votes.items():
        assert indicator in cells and vote in cells
    assert "SUMMARY" in cells and card.summary in cells and "label (toy recipe)" in cells
    assert figure.get_suptitle() == "toy-rl: activation or creation?"


def test_the_caption_names_what_each_panel_draws():
    words = scorecard_caption(_card())
    assert words.split("; ") == [
        "pass@k of the base, the tuned model and the guessing baseline (95% CI over problems)",
        "the base's greedy accuracy steered by diff and by the controls random (own norm), random (RL norm), bias"
        " (grey), beside the base unsteered and the tuned model (dashed)",
        "live crosscoder latents by relative decoder norm, with the SAE FVU ratio RL/base",
        "every indicator's vote and the summary, beside the label fixed by design",
    ]
    assert not scorecard_caption(_card(with_label=False)).endswith("label fixed by design")


def test_a_card_without_boundary_or_steering_says_so_and_shows_belief_probes():
    probes = pd.DataFrame({"model": ["base", "rl", "random_init"], "r2": [0.6, 0.7, 0.1], "ci_lo": [0.5, 0.6, 0.0],
                           "ci_hi": [0.7, 0.8, 0.2]})
    card = Scorecard(pair="bandit-rl", world="bandits", dose=None, layer=0,
                     results={"beliefs": _result("beliefs", "creation", {"belief_probes": probes})})
    assert scorecard_caption(card) == ("no pass@k (not measured for this world); belief-probe R^2 of the centred"
                                       " posterior means per model; every indicator's vote and the summary")
    fig = plot_scorecard(card)
    try:
        boundary, beliefs, features = fig.axes[:3]
        assert not boundary.axison and boundary.get_title() == "boundary: n/a for this world"
        assert [t.get_text() for t in beliefs.get_xticklabels()] == ["base", "rl", "random_init"]
        assert [p.get_height() for p in beliefs.patches] == pytest.approx([0.6, 0.7, 0.1])
        assert not features.axison
    finally:
        plt.close(fig)
