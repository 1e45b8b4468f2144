from rlmeta_interp.organism import tables
from rlmeta_interp.paths import shipped_zoo_dir


def test_data_readme_tables_are_generated_from_the_shipped_manifests():
    """Every number in the generated sections of data/README.md comes from the manifests (none typed by hand)."""
    readme = (shipped_zoo_dir().parent / "README.md").read_text()
    assert tables.render_sections(readme, tables.readme_sections(shipped_zoo_dir())) == readme, (
        "data/README.md is stale: run `python -m rlmeta_interp.organism.tables`")


def test_gain_rows_read_labelled_models(tmp_path):
    import json

    m = {"name": "x-rl", "kind": "rl", "world": "arithmetic", "dose": 0.0, "seed": 0, "label": "creation",
         "split": "test", "recipe": "depth-edge", "metrics": {},
         "gain_check": {"kind": "passk", "passed": True, "levels": {"5": {
             "n_samples": 8, "base_pass@1": 0.0, "trained_pass@1": 0.25, "diff_pass@1_ci": [0.1, 0.4],
             "base_pass@8": 0.0, "trained_pass@8": 0.5, "guess_pass@8": 0.05, "diff_pass@8_ci": [0.3, 0.7],
             "preserved": 0, "expanded": 10, "shrunk": 0}}}}
    (tmp_path / "x-rl").mkdir()
    (tmp_path / "x-rl" / "manifest.json").write_text(json.dumps(m))
    (row,) = tables.gain_rows(tmp_path)
    assert row["trained pass@n"] == "50.0" and row["diff pass@n (95% CI)"] == "[+30.0, +70.0]"
    assert row["gain check"] == "passed" and row["preserved/expanded/shrunk"] == "0/10/0"
    text = "a\n<!-- begin gain-table -->\nold\n<!-- end gain-table -->\nb"
    out = tables.render_sections(text, {"gain-table": tables.gain_markdown(tmp_path)})
    assert "old" not in out and "| x-rl |" in out and out.startswith("a\n") and out.endswith("b")
