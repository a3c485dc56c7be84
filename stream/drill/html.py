"""The scorecard as one printable HTML page, every heading in 中文 and English (SPEC §7 words),
with no script, font or network needed on the reader's side."""

from __future__ import annotations

from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from alerts.kinds import DRILL_WORDS, WORDS
from config.loader import parse_ts_ms

KIND_WORDS = {
    "leave_zone": ("离开活动区域", "leave the permitted area"),
    "enter_exclusion": ("进入禁入区域", "enter an exclusion zone"),
    "power_off": ("关机", "switch the phone off"),
    "go_silent": ("失联", "go silent"),
    "tamper": ("防拆报警", "tamper with the device"),
    "jump": ("定位异常跳变", "location jump"),
}
RESULT_WORDS = {"pass": ("通过", "pass"), "fail": ("未通过", "fail"), "pending": ("待定", "pending")}
ROLE_WORDS = {"officer": ("矫正工作人员", "officer"), "duty": ("值班人员", "duty officer"),
              "supervisor": ("值班长", "supervisor"), "operator": ("运维", "operator")}

CSS = """
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei",
       sans-serif; margin: 2em; color: #111; font-size: 13px; }
h1 { font-size: 20px; } h2 { font-size: 16px; border-bottom: 2px solid #2f6db5; margin-top: 1.5em; }
table { border-collapse: collapse; } th, td { border: 1px solid #bbb; padding: 3px 6px;
  text-align: left; vertical-align: top; } th { background: #eef2f8; }
.meta td { border: none; padding: 0 1.2em 0 0; } td.num { text-align: right; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 3px; color: #fff; }
.pass { background: #2e7d32; } .fail { background: #c62828; } .pending { background: #b26a00; }
.drill { background: #6a1b9a; } .note { color: #555; } .small { font-size: 11px; color: #555; }
@media print { body { margin: 1cm; } tr { break-inside: avoid; } }
"""


def _both(pair: tuple[str, str]) -> str:
    return f"{escape(pair[0])}<br><span class=small>{escape(pair[1])}</span>"


def _time(ms: int | None, tz: ZoneInfo) -> str:
    if ms is None:
        return "—"
    return datetime.fromtimestamp(ms / 1000, tz).strftime("%Y-%m-%d %H:%M:%S")


def _ms(text: str | None) -> int | None:
    return parse_ts_ms(text) if text else None


def _badge(result: str) -> str:
    zh, en = RESULT_WORDS[result]
    return f'<span class="badge {result}">{zh} {en}</span>'


def _secs(v) -> str:
    if v is None:
        return "—"
    return f"{v:.2f}" if abs(v) < 10 else f"{v:.1f}"  # sub-second detections are the norm


def _route(step: dict | None) -> str:
    if not step:
        return "—"
    zh, en = ROLE_WORDS.get(step.get("role"), (step.get("role") or "", step.get("role") or ""))
    return f"{escape(str(step.get('officer_id')))}<br><span class=small>{escape(zh)} {escape(en)}</span>"


def _row(r: dict, tz: ZoneInfo) -> str:
    kind = _both(KIND_WORDS[r["kind"]])
    expected = _both(WORDS[r["expected_type"]])
    if r["zone_id"]:
        expected += f"<br><span class=small>{escape(r['zone_id'])}</span>"
    if r["detected"]:
        detected = (f"{_time(r['detected_at'], tz)}<br><span class=small>"
                    f"{escape(r['alert_id'] or '')}</span>")
    else:
        detected = "未检出 not detected"
    ack = "—"
    if r["acknowledged_by"] is not None:
        ack = (f"{escape(str(r['acknowledged_by']))}<br><span class=small>"
               f"{_time(r['acknowledged_at'], tz)} (+{_secs(r['acknowledge_latency_s'])} s)</span>")
    esc = "<br>".join(f"{escape(str(s.get('officer_id')))}<br><span class=small>"
                      f"{_time(_ms(s.get('at')), tz)}</span>" for s in r["escalations"]) or "—"
    notes = [escape(x) for x in ([r["problem"]] if r["problem"] else []) + r["reasons"]]
    if r["note"]:
        notes.insert(0, f"<i>{escape(r['note'])}</i>")
    target = f"≤ {r['detect_within_s']:g} s"
    ack_target = "—" if r["acknowledge_within_s"] is None else f"≤ {r['acknowledge_within_s']:g} s"
    cells = [
        str(r["index"]), escape(r["person_id"]), kind, expected,
        _time(r["injected_at"], tz), detected,
        f"{_secs(r['detection_delay_s'])}<br><span class=small>{target}</span>",
        _route(r["routed_to"]), f"{ack}<br><span class=small>{ack_target}</span>", esc,
        _badge(r["result"]) + ("<br>" + "<br>".join(notes) if notes else ""),
    ]
    return "<tr>" + "".join(
        f'<td class="num">{c}</td>' if i in (0, 6) else f"<td>{c}</td>"
        for i, c in enumerate(cells)) + "</tr>"


def render(card: dict, record: dict, tz_name: str = "Asia/Shanghai") -> str:
    tz = ZoneInfo(tz_name)
    s = card["summary"]
    head = ["#", ("对象", "Person"), ("演练科目", "Incident"), ("应报告警", "Expected alert"),
            ("注入时间", "Injected"), ("检出", "Detected"), ("检出用时 s", "Detection s"),
            ("派送给", "Routed to"), ("签收", "Acknowledged"), ("升级上报", "Escalated"),
            ("结果", "Result")]
    th = "".join(f"<th>{h}</th>" if isinstance(h, str) else f"<th>{_both(h)}</th>" for h in head)
    rows = "".join(_row(r, tz) for r in card["incidents"])
    others = "".join(
        f"<tr><td>{escape(str(o['person_id']))}</td><td>{_both(WORDS[o['type']])}</td>"
        f"<td>{escape(o['zone_id'] or '—')}</td><td>{escape(o['opened_at'])}</td>"
        f"<td>{escape(o['condition'])} / {escape(o['handling'])}</td></tr>"
        for o in card["other_alerts"])
    sink = record.get("sink") or {}
    where = sink.get("url") or f"Kafka {sink.get('bootstrap')} ({sink.get('prefix')})"
    meta = [
        (("演练编号", "Drill id"), escape(card["drill_id"])),
        (("演练方案", "Scenario"), escape(record["scenario"]["name"]) + " <span class=small>"
         + escape(record["scenario"]["path"]) + "</span>"),
        (("对象系统", "Target"), escape(where)),
        (("倍速", "Speed"), "max" if record["speed"] is None else f"{record['speed']:g}×"),
        (("开始", "Started"), _time(record["started_at"], tz)),
        (("评分时间", "Scored"), _time(card["scored_at"], tz)),
        (("结果", "Result"), _badge(card["result"]) + f" {s['passed']}/{s['incidents']}"),
    ]
    meta_html = "".join(f"<tr><td>{_both(k)}</td><td>{v}</td></tr>" for k, v in meta)
    desc = record["scenario"].get("description")
    warn = "".join(f"<li>{escape(w)}</li>" for w in record.get("warnings", []))
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>{escape(DRILL_WORDS[0])}评分 Drill scorecard: {escape(card['drill_id'])}</title>
<style>{CSS}</style></head><body>
<h1><span class="badge drill">{DRILL_WORDS[0]} {DRILL_WORDS[1]}</span>
演练评分 Drill scorecard</h1>
{f'<p class="note">{escape(desc)}</p>' if desc else ''}
<table class="meta">{meta_html}</table>
{f'<ul class="note">{warn}</ul>' if warn else ''}
<h2>演练科目 Injected incidents</h2>
<table><tr>{th}</tr>{rows}</table>
<p class="small">检出用时：从规则可判定之时（如第二个越界定位、失联阈值届满）的数据发出起，到告警生成。
Detection: from when the event that lets the rules decide was sent (the confirming fix, the end of
a silence timeout) to the alert's detected_at. 签收用时自告警生成起计。Acknowledgement counts from
detection. 演练数据只进入演练视图，不影响真实对象的状态、告警与统计。Drill data stays in drill
views: no real person's state, alert or metric changes.</p>
<h2>其他演练告警 Other drill alerts</h2>
{f'<table><tr><th>{_both(("对象", "Person"))}</th><th>{_both(("告警", "Alert"))}</th><th>{_both(("区域", "Zone"))}</th><th>{_both(("开始", "Opened"))}</th><th>{_both(("状态", "State"))}</th></tr>{others}</table>' if others else '<p class="note">无 none</p>'}
</body></html>
"""
