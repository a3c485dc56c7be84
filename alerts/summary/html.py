"""A printable HTML page: headings in 中文 and English, the tables, and the two charts as
inline PNG, so the file prints the same anywhere with no font or network on the reader's side."""

from __future__ import annotations

import base64
from html import escape

from alerts.summary import charts
from alerts.summary.model import Summary
from alerts.summary.tables import TOP, Cell, Table, header_lines, heading, sections
from alerts.summary.words import t

CSS = """
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei",
       "WenQuanYi Zen Hei", sans-serif; margin: 2em; color: #111; font-size: 13px; }
h1 { font-size: 20px; margin-bottom: 0.2em; } h2 { font-size: 16px; margin-top: 1.4em;
     border-bottom: 2px solid #2f6db5; } h3 { font-size: 14px; margin: 1em 0 0.3em; }
table { border-collapse: collapse; margin: 0.3em 0; } th, td { border: 1px solid #bbb;
     padding: 2px 6px; text-align: left; } th { background: #eef2f8; }
td.num { text-align: right; } .meta td { border: none; padding: 0 1em 0 0; }
.none { color: #777; font-style: italic; } img.chart { max-width: 100%; height: auto; }
.note { color: #555; }
@media print { body { margin: 1cm; } h2, h3 { break-after: avoid; }
  tr, img { break-inside: avoid; } }
"""


def _cell(v: Cell) -> str:
    if v is None or v == "":
        return "<td>—</td>"
    cls = ' class="num"' if isinstance(v, int | float) else ""
    return f"<td{cls}>{escape(str(v))}</td>"


def table_html(tb: Table, lang: str) -> str:
    if not tb.rows:
        return f'<p class="none">{escape(t("none", lang))}</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in tb.headers)
    body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in tb.rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode()
    return f'<img class="chart" alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def render_html(s: Summary, lang: str, with_charts: bool = True) -> str:
    """`with_charts=False`: the tables only (a server without a CJK font still serves the
    page; the figures are all in the tables)."""
    # Charts first: a missing CJK font fails here, before any half-built page exists.
    charts_after = {"per_hour": _img(charts.hourly_png(s, lang), t("per_hour", lang)),
                    "ack_dist": _img(charts.ack_png(s, lang), t("ack_dist", lang))
                    } if with_charts else {}
    parts = [f"<h1>{escape(heading('title', lang))}</h1>", '<table class="meta">']
    parts += [f"<tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in header_lines(s, lang)]
    parts.append("</table>")
    for tb in sections(s, lang):
        if tb.key == "open":
            parts.append(f"<h2>{escape(heading('handover', lang))}</h2>")
        if tb.key in TOP:
            parts.append(f"<h2>{escape(heading(tb.key, lang))}</h2>")
        else:
            parts.append(f"<h3>{escape(heading(tb.key, lang))}</h3>")
        if tb.key == "ack":
            parts.append(f'<p class="note">{escape(t("ack_note", lang))}</p>')
        parts.append(table_html(tb, lang))
        if tb.key in charts_after:
            parts.append(charts_after[tb.key])
    html_lang = "en" if lang == "en" else "zh-CN"
    return (f'<!DOCTYPE html>\n<html lang="{html_lang}"><head><meta charset="utf-8">'
            f"<title>{escape(heading('title', lang))}</title><style>{CSS}</style></head>"
            f"<body>{''.join(parts)}</body></html>\n")
