"""The Markdown helpers of data/README.md's generated sections."""

from rlmeta_interp.organism.markdown import fmt_num, markdown_rows


def test_a_table_has_every_key_as_a_column_in_order_of_first_appearance():
    text = markdown_rows([{"a": 1, "b": 2}, {"c": 3, "a": 4}], "(none)")
    assert text == "| a | b | c |\n|---|---|---|\n| 1 | 2 |  |\n| 4 |  | 3 |\n"
    assert markdown_rows([], "(none)") == "(none)\n"


def test_a_missing_or_nan_number_reads_n_a():
    assert fmt_num(0.123, "{:.2f}") == "0.12" and fmt_num(3, "{:+.1f}") == "+3.0"
    assert fmt_num(None, "{:.2f}") == "n/a" and fmt_num(float("nan"), "{:.2f}") == "n/a"
