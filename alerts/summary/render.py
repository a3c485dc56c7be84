"""render(summary, format, lang): JSON for machines, Markdown for chat groups, CSV for
spreadsheets, HTML for printing at handover."""

from __future__ import annotations

import csv
import io

import orjson

from alerts.summary.model import Summary
from alerts.summary.tables import TOP, Cell, Table, alert_list, header_lines, heading, sections
from alerts.summary.words import t

FORMATS = ("json", "md", "csv", "html")
LANGS = ("zh", "en", "both")
# Markdown leaves the full alert list out: a chat message is read on a phone; the list is in
# the HTML and CSV.
MD_SKIP = {"alerts"}


def render(summary: Summary, format: str, lang: str = "both", *, csv_layout: str = "sections",
           charts: bool = True, picker=None) -> str:
    """`csv_layout`: "sections" (one titled table after another) or "alerts" (one flat table
    of the period's alerts). `charts=False`: HTML without the charts. `picker`: an
    alerts.summary.html.Picker, the HTML's period form (the service's page)."""
    if format not in FORMATS:
        raise ValueError(f"format: one of {', '.join(FORMATS)}, got {format!r}")
    if lang not in LANGS:
        raise ValueError(f"lang: one of {', '.join(LANGS)}, got {lang!r}")
    if format == "json":
        return orjson.dumps(summary.model_dump(mode="json"), option=orjson.OPT_INDENT_2).decode()
    if format == "md":
        return render_md(summary, lang)
    if format == "csv":
        if csv_layout not in ("sections", "alerts"):
            raise ValueError(f"csv_layout: sections or alerts, got {csv_layout!r}")
        return render_csv(summary, lang, flat=csv_layout == "alerts")
    from alerts.summary.html import render_html

    return render_html(summary, lang, with_charts=charts, picker=picker)


def _text(v: Cell) -> str:
    return "—" if v is None or v == "" else str(v)


def _md_cell(v: Cell) -> str:
    return _text(v).replace("|", "\\|").replace("\n", " ")


def md_table(tb: Table, lang: str) -> list[str]:
    if not tb.rows:
        return [f"_{t('none', lang)}_"]
    tb = tb.for_people()
    out = ["| " + " | ".join(_md_cell(h) for h in tb.headers) + " |",
           "|" + "---|" * len(tb.headers)]
    out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in tb.rows]
    return out


def render_md(s: Summary, lang: str) -> str:
    lines = [f"## {heading('title', lang)}", ""]
    lines += [f"- **{k}**: {v}" for k, v in header_lines(s, lang)]
    for tb in sections(s, lang):
        if tb.key in MD_SKIP:
            continue
        if tb.key == "open":
            lines += ["", f"## {heading('handover', lang)}"]
        if tb.key == "opened":
            lines += ["", f"## {heading('opened', lang)}", ""]
            lines += [f"- {_text(k)}: **{_text(v)}**" for k, v in tb.rows]
            continue
        level = "##" if tb.key in TOP else "###"
        lines += ["", f"{level} {heading(tb.key, lang)}", ""] + md_table(tb, lang)
    return "\n".join(lines) + "\n"


# OWASP CSV injection: Excel and WPS read a cell that starts with one of these as a formula
# (=HYPERLINK(...) exfiltrates, =cmd|... runs). A leading apostrophe makes it text, and the
# spreadsheet does not show the apostrophe. Names, notes and ids come from people and gateways.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell: Cell) -> Cell:
    """Text cells only: numbers are ours, and a number stays a number in the spreadsheet."""
    if isinstance(cell, str) and cell.startswith(FORMULA_START):
        return "'" + cell
    return cell


def _csv_row(cells) -> list:
    return [spreadsheet_safe("" if c is None else c) for c in cells]


def render_csv(s: Summary, lang: str, flat: bool = False) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    tables = [alert_list(s, lang)] if flat else sections(s, lang)
    if not flat:
        w.writerow([heading("title", lang)])
        w.writerows(_csv_row([k, v]) for k, v in header_lines(s, lang))
        w.writerow([])
    for tb in tables:
        if not flat:
            w.writerow([f"# {heading(tb.key, lang)}"])
        w.writerow(tb.headers)
        w.writerows(_csv_row(row) for row in tb.rows)
        if not flat:
            w.writerow([])
    # The BOM is how Excel and WPS know the file is UTF-8; without it Chinese opens garbled.
    return "\ufeff" + buf.getvalue()
