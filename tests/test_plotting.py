import matplotlib.pyplot as plt
import pandas as pd
import pytest

from rlmeta_interp import plotting
from rlmeta_interp.errors import InvalidConfigError
from rlmeta_interp.plotting import bar_ci, layout_under_title, line_ci, panel_grid, save_fig, set_style


def test_save_fig_writes_png_and_pdf(tmp_path):
    set_style()
    df = pd.DataFrame({"k": [1, 2, 1, 2], "p": [0.1, 0.2, 0.3, 0.4], "lo": [0, 0.1, 0.2, 0.3],
                       "hi": [0.2, 0.3, 0.4, 0.5], "model": ["base", "base", "rl", "rl"]})
    fig, (a, b) = plt.subplots(1, 2)
    line_ci(a, df, "k", "p", "lo", "hi", hue="model")
    bar_ci(b, df[df.model == "rl"], "k", "p", "lo", "hi")
    paths = save_fig(fig, 3, "boundary", out_dir=tmp_path)
    assert [p.name for p in paths] == ["03_boundary.png", "03_boundary.pdf"]
    assert paths[0].read_bytes()[:4] == b"\x89PNG" and paths[1].read_bytes()[:4] == b"%PDF"
    again = save_fig(fig, 3, "boundary", out_dir=tmp_path / "again")
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in paths]  # reproducible: no timestamps
    assert b"CreationDate" not in paths[1].read_bytes()
    with pytest.raises(InvalidConfigError):
        save_fig(fig, 3, "bad name", out_dir=tmp_path)
    plt.close(fig)


def test_default_folder_is_results_not_the_figures_of_record(tmp_path, monkeypatch):
    from rlmeta_interp.paths import record_figures_dir

    monkeypatch.delenv("RLMETA_FIGURES", raising=False)
    monkeypatch.setenv("RLMETA_RESULTS", str(tmp_path))
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    png, pdf = save_fig(fig, 0, "default_place")
    plt.close(fig)
    assert png.parent == tmp_path / "figures" and pdf.exists()
    assert not (record_figures_dir() / "00_default_place.png").exists()


def test_verdict_chart_marks_agreement(tmp_path):
    from rlmeta_interp.plotting import verdict_chart

    rows = pd.DataFrame({"pair": ["a-rl", "b-rl", "c-rl"], "verdict": ["activation", "no gain", "creation"],
                         "label": ["activation", "creation", None], "expected": ["activation", "creation", None]})
    fig = verdict_chart(rows, "The meter's accuracy has not been measured yet.")
    texts = [t.get_text() for t in fig.axes[0].texts] + [t.get_text() for t in fig.texts]
    assert "\u2713 agrees" in texts and "\u2717 does not agree" in texts and "no label to check" in texts
    assert "unlabelled" in texts and any("not been measured" in t for t in texts)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["a-rl", "b-rl", "c-rl"]
    png, _ = save_fig(fig, "demo", "verdicts", out_dir=tmp_path)
    plt.close(fig)
    assert png.exists()
    # a note of several lines (the meter's accuracy with its tests) sits under the chart, not over the pair names
    long = verdict_chart(rows, " ".join(["(1) 0.84 (95% CI 0.62 to 1.00) on 29 pairs, the bar missed;"] * 8))
    renderer = long.canvas.get_renderer()
    note = next(t for t in long.texts if "the bar missed" in t.get_text())
    assert note.get_text().count("\n") >= 2
    assert note.get_window_extent(renderer).y1 < long.axes[0].get_tightbbox(renderer).y0
    plt.close(long)


def test_drawn_series_names_what_is_drawn_and_what_is_missing():
    from rlmeta_interp.plotting import drawn_series

    assert drawn_series(["correct"], ["correct", "oneshot"], "RL variants") == (
        "RL variants drawn: correct; not in this zoo, so not drawn: oneshot")
    assert drawn_series(["a", "b"], ["b", "a"], "pairs") == "pairs drawn: a, b"
    assert drawn_series([], ["x"], "pairs") == "pairs drawn: none; not in this zoo, so not drawn: x"


def test_panel_grid_wraps_many_panels_into_two_columns_of_stacked_axes():

    fig, panels, cols = plotting.panel_grid(3, (2.0, 1.5), rows_per_panel=2)
    assert cols == 3 and len(panels) == 3 and all(len(p) == 2 for p in panels)
    assert tuple(fig.get_size_inches()) == (6.0, 3.0)
    plt.close(fig)
    fig, panels, cols = plotting.panel_grid(5, (2.0, 1.5), rows_per_panel=2)
    assert cols == 2 and tuple(fig.get_size_inches()) == (4.0, 9.0)  # 3 grid rows of 2 stacked axes
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 10 and len({id(ax) for p in panels for ax in p}) == 10
    # panel 2 starts the second grid row: its axes lie below panel 0's, in the first column
    assert panels[2][0].get_position().y0 < panels[0][1].get_position().y0
    assert panels[2][0].get_position().x0 == panels[0][0].get_position().x0
    panels[0][1].set_ylim(0, 7)
    assert panels[4][1].get_ylim() == (0, 7) and panels[4][0].get_ylim() != (0, 7)  # shared per stacked row
    plt.close(fig)
    for bad in ({"n": 0}, {"n": 2, "rows_per_panel": 0}, {"n": 2, "max_cols": 1}):
        with pytest.raises(InvalidConfigError, match="panel_grid needs"):
            plotting.panel_grid(panel_size=(1.0, 1.0), **bad)


def test_checkpoint_rows_draw_one_row_per_world_and_a_line_per_label():
    import numpy as np

    from rlmeta_interp.plotting import checkpoint_rows

    rows = []
    for world, labels in (("composition", ["a", "b"]), ("arithmetic", ["c"])):
        for label in labels:
            for step in (0, 10):
                rows.append({"world": world, "label": label, "step": step, "accuracy": 0.5, "acc_lo": 0.4,
                             "acc_hi": 0.6, "exec_entropy": 1.0, "exec_lo": 0.9, "exec_hi": 1.1, "plan_entropy": 0.1,
                             "sem_rarefied": np.nan if label == "c" else 2.0, "sem_rar_lo": 1.9, "sem_rar_hi": 2.1,
                             "semantic_entropy": 2.0})
    fig, grid = checkpoint_rows(pd.DataFrame(rows), ngram=2, legend_right=True)
    assert grid.shape == (2, 4)
    assert grid[0, 0].get_title() == "composition: accuracy (sampled, T=1)" and grid[1, 0].get_title().startswith(
        "arithmetic")
    # one line per label in each panel (the semantic panel adds a dashed unrarefied line per label)
    assert [len(ax.lines) for ax in grid[0]] == [2, 2, 2, 4] and len(grid[1, 0].lines) == 1
    # legend_right: one legend per row, right of the last panel, naming that row's labels only
    assert grid[0, 0].get_legend() is None
    assert [t.get_text() for t in grid[0, 3].get_legend().get_texts()] == ["a", "b"]
    assert "planning 2-grams" in grid[1, 3].get_title()
    fig2, grid2 = checkpoint_rows(pd.DataFrame(rows), ngram=3)
    assert grid2[0, 0].get_legend() is not None
    with pytest.raises(InvalidConfigError, match="non-empty table"):
        checkpoint_rows(pd.DataFrame(columns=["world"]), ngram=2)


def test_layout_under_title_keeps_every_panel_title_below_a_two_line_suptitle():
    fig, panels, _ = panel_grid(6, (6, 3.5), rows_per_panel=2, max_cols=3, sharey=False)
    for top, _bottom in panels:
        top.set_title("a long panel title of one run, with its label and dose\n(a second line)", fontsize=8)
    title = fig.suptitle("the first line of a figure title " * 5 + "\n" + "its second line " * 8, fontsize=8)
    layout_under_title(fig, title)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    title_bottom = title.get_window_extent(renderer).y0
    reach = max(ax.get_tightbbox(renderer).y1 for ax in fig.axes if ax.get_visible())
    assert reach < title_bottom
    assert title_bottom - reach < 10 * fig.dpi / 72  # and no wide gap: the grid is lowered by the overlap only
    assert all(ax.get_position().y1 < 1 for ax in fig.axes)
    plt.close(fig)


def test_condition_bars_follow_the_order_then_the_seed_and_name_each_bar():
    from rlmeta_interp.plotting import condition_bars

    df = pd.DataFrame({"condition": ["random_own", "rl_model", "random_own", "unsteered_base", "own"],
                       "seed": [1.0, None, 0.0, None, None], "accuracy": [0.1, 0.9, 0.2, 0.3, 0.6]})
    bars = condition_bars(df, ["unsteered_base", "rl_model", "own", "random_own"], {"rl_model": "RL"})
    assert bars["bar"].tolist() == ["unsteered_base", "RL", "own", "random_own s0", "random_own s1"]
    assert bars["accuracy"].tolist() == [0.3, 0.9, 0.6, 0.2, 0.1]  # each row keeps its values
    assert "_rank" not in bars.columns and df["condition"].tolist()[0] == "random_own"  # the input is left as it was
    with pytest.raises(InvalidConfigError, match=r"Conditions \['bias'\] are not in the bar order"):
        condition_bars(pd.concat([df, pd.DataFrame({"condition": ["bias"], "seed": [None]})]), list(df["condition"]))
