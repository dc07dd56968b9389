"""HTML pieces of the review report (the page): escaping, numbers, tables, notes, plotly figures without their library.

Contract: `esc(value)`, `num(value, digits)` (`search.review.numbers.number`,
escaped), `table(header, rows, left)` (the first `left` columns left-aligned;
cells are already HTML), `note(text)`, `figure(fig)` (a plotly figure as a div,
plotly.js not included: the page inlines it once), and `STYLE`.
"""

from __future__ import annotations

import html
from typing import Any

from search.review.numbers import number

__all__ = ["STYLE", "esc", "figure", "note", "num", "table"]

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1200px;
       color: #222; padding: 0 1rem; }
h1 { margin-bottom: 0.2rem; } h2 { margin-top: 2.5rem; border-bottom: 1px solid #ddd; padding-bottom: 0.3rem; }
.meta, .note { color: #555; } .note { font-style: italic; } .warn { color: #a40000; font-weight: 600; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #ddd; padding: 0.3rem 0.6rem; text-align: right; }
th { background: #f5f5f5; } td.l, th.l { text-align: left; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
"""


def esc(value: Any) -> str:
    return html.escape(str(value))


def num(value: Any, digits: int = 3) -> str:
    return esc(number(value, digits))


def table(header: list[str], rows: list[list[Any]], left: int = 1) -> str:
    def cell(tag: str, i: int, v: Any) -> str:
        return f"<{tag}{' class=l' if i < left else ''}>{v}</{tag}>"

    head = "".join(cell("th", i, esc(h)) for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(cell("td", i, v) for i, v in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def figure(fig: Any) -> str:
    fig.update_layout(template="plotly_white", margin=dict(l=60, r=30, t=80, b=50), title_font_size=15)
    if fig.layout.height is None:
        fig.update_layout(height=450)
    return fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False, "responsive": True})


def note(text: str) -> str:
    return f"<p class=note>{esc(text)}</p>"
