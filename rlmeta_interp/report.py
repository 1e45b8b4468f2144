"""Reports: Markdown plus a self-contained HTML version with the figures embedded (one file to open or send)."""

from __future__ import annotations

import base64
import re
from pathlib import Path

from .io import write_text_atomic

_CSS = """body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}table{border-collapse:collapse;margin:1em 0;font-size:.9em}th,td{border:1px solid #ccc;
padding:.3em .6em;text-align:left}th{background:#f3f3f3}img{max-width:100%;border:1px solid #eee}code{background:#f5f5f5;
padding:0 .2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}"""


def markdown_to_html(md: str, base_dir: Path, title: str) -> str:
    """Render ``md``; every local image ``![](path)`` relative to ``base_dir`` is embedded as a data URI."""
    import markdown

    def embed(m: re.Match) -> str:
        alt, src = m.group(1), m.group(2)
        path = (base_dir / src).resolve()
        if not path.exists() or path.suffix.lower() != ".png":
            return m.group(0)
        data = base64.b64encode(path.read_bytes()).decode()
        return f"![{alt}](data:image/png;base64,{data})"

    body = markdown.markdown(re.sub(r"!\[([^\]]*)\]\(([^)]+)\)", embed, md), extensions=["tables", "fenced_code"])
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title><style>{_CSS}</style></head>"
            f"<body>{body}</body></html>")


def write_report(md: str, folder: Path, name: str = "report", title: str = "rlmeta-interp report") -> tuple[Path, Path]:
    """Write ``<folder>/<name>.md`` and ``<folder>/<name>.html`` atomically."""
    md_path = write_text_atomic(folder / f"{name}.md", md)
    html_path = write_text_atomic(folder / f"{name}.html", markdown_to_html(md, folder, title))
    return md_path, html_path
