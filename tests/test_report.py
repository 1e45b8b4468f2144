import base64

import matplotlib.pyplot as plt

from rlmeta_interp.plotting import save_fig
from rlmeta_interp.report import write_report


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
