"""A printable HTML page: headings in 中文 and English, the tables (names, no id columns), the
charts as inline PNG, 交班人/接班人 signature lines and page numbers when printed, so the file
prints the same anywhere with no font or network on the reader's side.

With a `Picker`, the page also carries a period form (hidden when printed) that asks the
service for the same summary over another period."""

from __future__ import annotations

import base64
from dataclasses import dataclass
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
.sign { display: flex; gap: 3em; margin-top: 2.5em; break-inside: avoid; }
.sign div { flex: 1; } .sign p { display: flex; align-items: end; margin: 1.4em 0 0; white-space: nowrap; }
.sign span { flex: 1; min-width: 6em; border-bottom: 1px solid #111; margin-left: 0.5em; }
form.picker { background: #f3f6fa; border: 1px solid #c9d3e0; padding: 0.6em 0.8em;
     margin: 0.6em 0 1em; display: flex; flex-wrap: wrap; gap: 0.6em 1.2em; align-items: end; }
form.picker label { display: flex; flex-direction: column; gap: 0.2em; }
form.picker button { padding: 0.3em 1.2em; }
@page { size: A4; margin: 1.5cm 1.2cm 1.8cm;
  @bottom-center { content: "第 " counter(page) " 页，共 " counter(pages) " 页 / page "
                   counter(page) " of " counter(pages); font-size: 9pt; color: #444; } }
@media print { body { margin: 0; } h2, h3 { break-after: avoid; }
  tr, img { break-inside: avoid; } thead { display: table-header-group; }
  form.picker, .no-print { display: none; } }
"""


@dataclass(frozen=True)
class Picker:
    """The period form: a GET back to `action` with a fresh one-time ticket. Times are local
    (`YYYY-MM-DDTHH:MM`, the bundle's time zone), as <input type="datetime-local"> shows them."""

    action: str
    ticket: str
    start_local: str
    end_local: str
    office: str | None
    offices: list[tuple[str, str]]  # (office_id, name) the reader may choose; [] : no choice
    lang: str
    basis: str  # words.T key saying where the period came from: period_shift, period_last_12h, period_chosen


NOTES = {"ack": "ack_note", "false_alarms": "fa_note"}


def _cell(v: Cell) -> str:
    if v is None or v == "":
        return "<td>—</td>"
    cls = ' class="num"' if isinstance(v, int | float) else ""
    return f"<td{cls}>{escape(str(v))}</td>"


def table_html(tb: Table, lang: str) -> str:
    if not tb.rows:
        return f'<p class="none">{escape(t("none", lang))}</p>'
    tb = tb.for_people()
    head = "".join(f"<th>{escape(h)}</th>" for h in tb.headers)
    body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in tb.rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode()
    return f'<img class="chart" alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def picker_html(p: Picker) -> str:
    def field(label: str, name: str, val: str) -> str:
        return (f'<label>{escape(t(label, p.lang))}<input type="datetime-local" name="{name}" '
                f'value="{escape(val)}" required></label>')

    parts = [f'<form class="picker no-print" method="get" action="{escape(p.action)}">',
             f'<input type="hidden" name="ticket" value="{escape(p.ticket)}">',
             f'<input type="hidden" name="lang" value="{escape(p.lang)}">',
             field("period_from", "from", p.start_local), field("period_to", "to", p.end_local)]
    if p.offices:
        opts = [f'<option value="">{escape(t("all_offices", p.lang))}</option>']
        opts += [f'<option value="{escape(oid)}"{" selected" if oid == p.office else ""}>'
                 f"{escape(name)}</option>" for oid, name in p.offices]
        parts.append(f'<label>{escape(t("office", p.lang))}<select name="office">'
                     f'{"".join(opts)}</select></label>')
    elif p.office:
        parts.append(f'<input type="hidden" name="office" value="{escape(p.office)}">')
    parts.append(f'<button type="submit">{escape(t("show", p.lang))}</button>')
    parts.append(f'<span class="note">{escape(t(p.basis, p.lang))}</span></form>')
    return "".join(parts)


def signatures_html(lang: str) -> str:
    def person(role: str) -> str:
        return (f"<div><p>{escape(t(role, lang))}<span></span></p>"
                f"<p>{escape(t('signed_at', lang))}<span></span></p></div>")

    return f'<section class="sign">{person("handing_over")}{person("taking_over")}</section>'


def render_html(s: Summary, lang: str, with_charts: bool = True,
                picker: Picker | None = None) -> str:
    """`with_charts=False`: the tables only (a server without a CJK font still serves the
    page; the figures are all in the tables)."""
    # Charts first: a missing CJK font fails here, before any half-built page exists.
    charts_after = {"per_hour": _img(charts.hourly_png(s, lang), t("per_hour", lang)),
                    "ack_dist": _img(charts.ack_png(s, lang), t("ack_dist", lang)),
                    "fa_by_type": _img(charts.false_alarm_png(s, lang), t("false_alarms", lang)),
                    } if with_charts else {}
    parts = [f"<h1>{escape(heading('title', lang))}</h1>"]
    if picker is not None:
        parts.append(picker_html(picker))
    parts.append('<table class="meta">')
    parts += [f"<tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in header_lines(s, lang)]
    parts.append("</table>")
    for tb in sections(s, lang):
        if tb.key == "open":
            parts.append(f"<h2>{escape(heading('handover', lang))}</h2>")
        if tb.key in TOP:
            parts.append(f"<h2>{escape(heading(tb.key, lang))}</h2>")
        else:
            parts.append(f"<h3>{escape(heading(tb.key, lang))}</h3>")
        if tb.key in NOTES:
            parts.append(f'<p class="note">{escape(t(NOTES[tb.key], lang))}</p>')
        parts.append(table_html(tb, lang))
        if tb.key in charts_after:
            parts.append(charts_after[tb.key])
    parts.append(signatures_html(lang))
    html_lang = "en" if lang == "en" else "zh-CN"
    return (f'<!DOCTYPE html>\n<html lang="{html_lang}"><head><meta charset="utf-8">'
            f"<title>{escape(heading('title', lang))}</title><style>{CSS}</style></head>"
            f"<body>{''.join(parts)}</body></html>\n")
