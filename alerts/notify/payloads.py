"""What a push says, and the body each receiver takes.

Officers glance at a locked phone: the first line carries what happened, 中文 first; the English
block follows for bilingual staff. WeCom shows no title, so the first line of its content is
what the notification preview shows; DingTalk previews `title`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote
from zoneinfo import ZoneInfo

from alerts.feed.words import OTHER_WORDS, REASON_WORDS, ROLE_WORDS, SEVERITY_WORDS
from alerts.kinds import DRILL_WORDS, LATE_WORDS, WORDS
from alerts.notify.directory import Directory
from alerts.notify.policy import ESCALATED
from alerts.records import AlertUpdate

# WeCom documents markdown content up to 4096 bytes; keep a margin and hold DingTalk to it too.
MAX_BYTES = 4000
MAX_FIELD = 64  # a name or id longer than this is cut: no single field may crowd out the rest
ROLE_OF_STEP = {"operator": "admin"}  # feed_down goes to the operators, who are admins
WECOM_COLOR = {"critical": "warning", "high": "warning", "medium": "comment", "low": "comment"}
# Characters that would turn a person's or zone's name into markup; the full-width forms read
# the same to an officer and render as plain text in both robots' markdown.
_PLAIN = str.maketrans({"*": "＊", "_": "＿", "[": "［", "]": "］", "`": "｀", "<": "＜",
                        ">": "＞", "#": "＃", "\\": "＼", "\n": " ", "\r": " "})


@dataclass(frozen=True, slots=True)
class Row:
    key: str
    zh: str  # "label：value"
    en: str  # "Label: value"


@dataclass(slots=True)
class Summary:
    title: str  # 中文 one-liner for previews
    head_zh: str
    head_en: str
    severity: str
    rows: list[Row] = field(default_factory=list)
    link: str | None = None


def summarize(update: AlertUpdate, reason: str, directory: Directory, link: str | None) -> Summary:
    drill = update.drill
    type_zh, type_en = WORDS.get(update.type, (update.type, update.type))
    sev = update.severity
    sev_zh, sev_en = SEVERITY_WORDS.get(sev, (sev, sev))
    tag_zh = f"【{DRILL_WORDS[0]}】" if drill else ""
    tag_en = f"[{DRILL_WORDS[1].upper()}] " if drill else ""
    esc_zh, esc_en = OTHER_WORDS["escalated"]
    what_zh = f"告警{esc_zh}" if reason == ESCALATED else "新告警"
    what_en = f"Alert {esc_en}" if reason == ESCALATED else "New alert"
    if update.late:  # it happened a while ago: the phone uploaded it later
        what_zh += f"（{LATE_WORDS[0]}）"
        what_en += f" ({LATE_WORDS[1]})"
    pid = update.person_id
    name = directory.person_name(pid)
    title = f"{tag_zh}[{sev_zh}] {what_zh}：{type_zh}" + (f" {_plain(name or pid)}" if pid else "")
    s = Summary(title, f"{tag_zh}{what_zh}：{type_zh}", f"{tag_en}{what_en}: {type_en}", sev,
                link=link)

    if pid:
        p_zh, p_en = OTHER_WORDS["person"]
        s.rows.append(Row("person", f"{p_zh}：{_who(name, pid, '（', '）')}",
                          f"{p_en.capitalize()}: {_who(name, pid, ' (', ')')}"))
    zone = directory.zone_name(update.zone_id)
    if zone:
        s.rows.append(Row("zone", f"区域：{_plain(zone)}", f"Zone: {_plain(zone)}"))
    s.rows.append(Row("severity", f"级别：{sev_zh}", f"Severity: {sev_en}"))
    opened = _local(update.opened_at_ms, update.tz)
    s.rows.append(Row("time", f"发生时间：{opened}", f"Opened: {opened}"))
    _route_rows(s, update, reason, directory)
    return s


def _route_rows(s: Summary, update: AlertUpdate, reason: str, directory: Directory) -> None:
    """Who has it, whether nobody was on shift, and (escalated) which supervisor, when."""
    route = update.route
    first_id, first_role = (route[0].officer_id, route[0].role) if route else (update.officer_id, "officer")
    if first_id:
        role_zh, role_en, who_zh, who_en = _step(first_id, first_role, directory)
        s.rows.append(Row("officer", f"{role_zh}：{who_zh}", f"{role_en.capitalize()}: {who_en}"))
    if any(st.reason == "unstaffed" for st in route):
        # sent to someone off shift: whoever reads it must know nobody else is watching
        zh, en = REASON_WORDS["unstaffed"]
        s.rows.append(Row("unstaffed", f"注意：{zh}", f"Note: {en}"))
    if reason == ESCALATED:
        step = next((st for st in reversed(route) if st.role == "supervisor"), None)
        if step is not None and step.officer_id:
            role_zh, role_en, who_zh, who_en = _step(step.officer_id, step.role, directory)
            at = _local(step.at_ms, update.tz)
            esc_zh, _ = OTHER_WORDS["escalated"]
            s.rows.append(Row("escalated", f"{esc_zh}：{role_zh} {who_zh}，{at}",
                              f"Escalated to {role_en}: {who_en}, {at}"))


def _step(who: str, role: str, directory: Directory) -> tuple[str, str, str, str]:
    role = ROLE_OF_STEP.get(role, role)
    role_zh, role_en = ROLE_WORDS.get(role, ROLE_WORDS["officer"])
    name = directory.officer_name(who)
    return role_zh, role_en, _who(name, who, "（", "）"), _who(name, who, " (", ")")


def alert_link(template: str, base_url: str | None, update: AlertUpdate) -> str | None:
    if not base_url:
        return None
    return template.format(base_url=base_url, alert_id=quote(update.alert_id, safe=""),
                           drill="true" if update.drill else "false")


def wecom(s: Summary) -> dict:
    zh = [f"**{s.head_zh}**"]
    for r in s.rows:
        if r.key == "severity":  # WeCom has three colours: orange-red for what cannot wait
            label, value = r.zh.split("：", 1)
            zh.append(f'{label}：<font color="{WECOM_COLOR.get(s.severity, "comment")}">{value}</font>')
        else:
            zh.append(r.zh)
    en = [f"**{s.head_en}**", *(r.en for r in s.rows)]
    text = "\n".join(zh) + "\n\n" + "\n".join(en)
    if s.link:
        text += f"\n\n[查看告警 Open alert]({s.link})"
    return {"msgtype": "markdown", "markdown": {"content": _fit(text)}}


def dingtalk(s: Summary) -> dict:
    # DingTalk's markdown runs single newlines together: every line is a paragraph of its own.
    lines = [f"#### {s.head_zh}", *(r.zh for r in s.rows), f"**{s.head_en}**",
             *(r.en for r in s.rows)]
    if s.link:
        lines.append(f"[查看告警 Open alert]({s.link})")
    # no "at" block: a push mentions nobody
    return {"msgtype": "markdown", "markdown": {"title": s.title, "text": _fit("\n\n".join(lines))}}


def _who(name: str | None, ident: str | None, left: str, right: str) -> str:
    ident = _plain(ident or "?")
    return f"{_plain(name)}{left}{ident}{right}" if name and name != ident else ident


def _plain(text) -> str:
    s = str(text).translate(_PLAIN)
    return s if len(s) <= MAX_FIELD else s[: MAX_FIELD - 1] + "…"


def _local(ms: int, tz: str) -> str:
    """The time as the bundle's timezone reads it (SPEC §4), to the second."""
    return datetime.fromtimestamp(ms / 1000, ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S")


def _fit(text: str) -> str:
    raw = text.encode("utf-8")
    if len(raw) <= MAX_BYTES:
        return text
    return raw[: MAX_BYTES - 3].decode("utf-8", errors="ignore") + "…"
