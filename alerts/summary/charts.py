"""The two charts of the printed summary, drawn with matplotlib's Agg canvas.

matplotlib's bundled font (DejaVu Sans) has no Chinese: labels would print as empty boxes. So a
real CJK font is looked up on the system and set explicitly for every chart, and a missing
one is an error that says what to install, never a silently unreadable sheet.
"""

from __future__ import annotations

import io
import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from alerts.summary.figures import ACK_EDGES_MIN
from alerts.summary.model import Summary
from alerts.summary.words import TYPE_WORDS, t, value

# Simplified-Chinese faces first: the same code points are drawn differently in JP/TC faces.
PREFERRED = (
    "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN",
    "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Noto Sans CJK JP", "Noto Sans CJK TC",
    "Noto Serif CJK SC", "Source Han Serif SC",
)
FILE_HINTS = ("notosanscjk", "notoserifcjk", "sourcehansans", "wqy-zenhei", "wqy-microhei",
              "notosanssc")
PROBE = "告警签收值班"  # must all be in the font


# rc_context swaps matplotlib's global rcParams: two summaries drawn at once on the service's
# threads must not see each other's half-restored settings.
_DRAWING = threading.Lock()


class CJKFontMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class CJKFont:
    name: str  # the family matplotlib knows it by
    path: str


@lru_cache(maxsize=1)
def cjk_font() -> CJKFont:
    """LOOKOUT_CJK_FONT (a font file) if set, else the first PREFERRED family installed."""
    from matplotlib import font_manager as fm

    override = os.environ.get("LOOKOUT_CJK_FONT")
    if override:
        if not Path(override).is_file():
            raise CJKFontMissing(f"LOOKOUT_CJK_FONT: no such font file: {override}")
        fm.fontManager.addfont(override)
    else:
        # fonts installed after matplotlib built its cache are not in ttflist yet
        known = {Path(f.fname).name.lower() for f in fm.fontManager.ttflist}
        for path in fm.findSystemFonts():
            name = Path(path).name.lower()
            if any(h in name for h in FILE_HINTS) and name not in known:
                fm.fontManager.addfont(path)
    if override:
        # the operator chose this file: use it or fail, never quietly fall back to another
        entries = [f for f in fm.fontManager.ttflist if Path(f.fname) == Path(override)]
    else:
        entries = sorted((f for f in fm.fontManager.ttflist if f.name in PREFERRED),
                         key=lambda f: (PREFERRED.index(f.name), _weight_gap(f)))
    for f in entries:
        if _covers(f.fname):
            return CJKFont(f.name, f.fname)
    raise CJKFontMissing(
        "no Chinese font for the summary charts / 找不到中文字体: install one, e.g. "
        "`apt-get install fonts-noto-cjk` (or fonts-wqy-zenhei), or set LOOKOUT_CJK_FONT to a "
        ".ttf/.otf/.ttc file")


def _weight_gap(f) -> int:
    """Regular (400) first: bold CJK text in small charts smudges when printed."""
    return abs(f.weight - 400) if isinstance(f.weight, int) else 0


def _covers(path: str) -> bool:
    from matplotlib.ft2font import FT2Font

    try:
        font = FT2Font(path)
    except (OSError, RuntimeError):
        return False
    return all(font.get_char_index(ord(c)) for c in PROBE)


def _rc() -> dict:
    font = cjk_font()
    # DejaVu after the CJK face only catches a symbol the CJK face lacks
    return {"font.family": [font.name, "DejaVu Sans"], "axes.unicode_minus": False,
            "svg.fonttype": "path", "figure.dpi": 100}


def _figure(width: float = 8.0, height: float = 3.2):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # a bare Figure on an Agg canvas: no pyplot, so no global backend or figure registry is
    # touched in a server process
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=150)
    return buf.getvalue()


def hourly_figure(s: Summary, lang: str):
    """The figure is returned (not only its PNG) so tests can ask which font a label got."""
    import matplotlib
    from matplotlib.ticker import MaxNLocator

    with matplotlib.rc_context(_rc()):
        fig = _figure()
        ax = fig.add_subplot()
        labels = [h.start[11:16] if len(s.per_hour) <= 48 else h.start[5:13].replace("T", " ")
                  for h in s.per_hour]
        ax.bar(range(len(labels)), [h.count for h in s.per_hour], color="#2f6db5")
        step = max(1, len(labels) // 24)
        ax.set_xticks(range(0, len(labels), step), labels[::step], rotation=45 if step > 1 or len(labels) > 12 else 0)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(t("per_hour", lang))
        ax.set_xlabel(t("hour", lang))
        ax.set_ylabel(t("count", lang))
        ax.grid(axis="y", alpha=0.3)
        fig.canvas.draw()  # lay out inside the rc context, where the font is set
    return fig


def ack_figure(s: Summary, lang: str):
    import matplotlib
    from matplotlib.ticker import MaxNLocator

    mins = t("minutes", lang)
    edges = list(ACK_EDGES_MIN)
    labels = [f"{a}–{b}" for a, b in zip(edges[:-1], edges[1:], strict=True)] + [f"≥{edges[-1]}"]
    with matplotlib.rc_context(_rc()):
        fig = _figure()
        ax = fig.add_subplot()
        counts = [b.count for b in s.ack.buckets]
        ax.bar(range(len(labels)), counts, color="#c0504d")
        ax.set_ylim(0, max(1, max(counts)) * 1.3)  # headroom for the figures in the corner
        ax.set_xticks(range(len(labels)), labels)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(t("ack_dist", lang))
        f = s.ack.timed
        if f.n and f.median_s is not None and f.p90_s is not None:  # n > 0: both are known
            # the two figures the table reports, on the chart they summarise
            ax.text(0.99, 0.95, f"n = {f.n}   {t('median', lang)} {f.median_s / 60:.1f} {mins}   "
                    f"{t('p90', lang)} {f.p90_s / 60:.1f} {mins}", transform=ax.transAxes,
                    ha="right", va="top")
        ax.set_xlabel(f"{t('ack', lang)}（{mins}）" if lang != "en" else f"time to acknowledge ({mins})")
        ax.set_ylabel(t("count", lang))
        ax.grid(axis="y", alpha=0.3)
        fig.canvas.draw()
    return fig


def false_alarm_figure(s: Summary, lang: str):
    """Per alert type, the resolved alerts split into false alarm, device fault and the rest,
    with the false-alarm share at the end of each bar."""
    import matplotlib
    from matplotlib.ticker import MaxNLocator

    rows = s.fatigue.by_type
    with matplotlib.rc_context(_rc()):
        fig = _figure(height=max(1.6, 0.9 + 0.4 * len(rows)))
        ax = fig.add_subplot()
        labels = [value(TYPE_WORDS[r.key], lang) if r.key in TYPE_WORDS else str(r.key) for r in rows]
        y = list(range(len(rows)))[::-1]  # the most false alarms on top
        fa = [r.false_alarm for r in rows]
        df = [r.device_fault for r in rows]
        rest = [r.resolved - r.false_alarm - r.device_fault for r in rows]
        ax.barh(y, fa, color="#c0504d", label=t("false_alarm", lang))
        ax.barh(y, df, left=fa, color="#e3a33b", label=t("device_fault", lang))
        ax.barh(y, rest, left=[a + b for a, b in zip(fa, df, strict=True)], color="#9bb7d9",
                label=t("other_resolved", lang))
        for yi, r in zip(y, rows, strict=True):
            ax.text(r.resolved, yi, f"  {100 * r.share:.0f}%", va="center")
        ax.set_yticks(y, labels)
        ax.set_xlim(0, max([1] + [r.resolved for r in rows]) * 1.2)  # room for the percentages
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(t("false_alarms", lang))
        ax.set_xlabel(t("count", lang))
        if rows:
            ax.legend(loc="lower right", fontsize="small")
        ax.grid(axis="x", alpha=0.3)
        ax.set_axisbelow(True)
        fig.canvas.draw()
    return fig


def false_alarm_png(s: Summary, lang: str) -> bytes:
    return _draw(false_alarm_figure, s, lang)


def hourly_png(s: Summary, lang: str) -> bytes:
    return _draw(hourly_figure, s, lang)


def ack_png(s: Summary, lang: str) -> bytes:
    return _draw(ack_figure, s, lang)


def _draw(make, s: Summary, lang: str) -> bytes:
    import matplotlib

    rc = _rc()  # outside the lock: a missing font fails without holding it
    with _DRAWING, matplotlib.rc_context(rc):
        return _png(make(s, lang))
