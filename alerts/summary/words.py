"""What the summary calls things, as (中文, English) pairs (SPEC §7).

Alert types, conditions, handling, dispositions, severities and roles come from `alerts.kinds`
(SPEC §7), as on the officer page, so the handover sheet reads with the same words as the
screen; the headings below are the summary's own.
"""

from __future__ import annotations

from alerts.kinds import (  # noqa: F401 - the summary's modules take every word from here
    CONDITION_WORDS,
    DISPOSITION_WORDS,
    DRILL_WORDS,
    HANDLING_WORDS,
    ROLE_WORDS,
    SEVERITY_WORDS,
    WORDS,
)

Pair = tuple[str, str]

TYPE_WORDS = WORDS
CONDITIONS = CONDITION_WORDS
DRILL = DRILL_WORDS

ACK_BASIS_WORDS: dict[str, Pair] = {
    "written": ("记录时间", "write time"),
    "resolution": ("处置时间", "resolution time"),
    "unknown": ("无签收时间", "no time recorded"),
}

# Section headings and column names. One table so every format uses the same words.
T: dict[str, Pair] = {
    "title": ("值班交接汇总", "Shift handover summary"),
    "period": ("统计时段", "Period"),
    "as_of": ("截至", "As of"),
    "office": ("司法所", "Judicial office"),
    "all_offices": ("全部", "all"),
    "no_office": ("无所属司法所", "no office"),
    "drills_left_out": ("演练告警未计入", "drill alerts left out"),
    "handover": ("交接时仍需处理", "Still open at handover"),
    "open": ("未解除告警", "Open alerts"),
    "escalated": ("已升级上报（未处置）", "Escalated, not resolved"),
    "unacknowledged": ("待签收告警", "Not acknowledged"),
    "opened": ("本时段新增告警", "Alerts opened in the period"),
    "total": ("合计", "total"),
    "by_type": ("按类型", "By type"),
    "by_severity": ("按级别", "By severity"),
    "by_office": ("按司法所", "By judicial office"),
    "escalated_total": ("其中已升级上报", "of which escalated"),
    "escalated_col": ("已升级上报", "escalated"),
    "per_hour": ("每小时告警数", "Alerts per hour"),
    "per_hour_mean": ("平均每小时", "mean per hour"),
    "hour": ("时段", "hour"),
    "ack": ("签收用时", "Time to acknowledge"),
    "ack_dist": ("签收用时分布", "Time to acknowledge, distribution"),
    "median": ("中位数", "median"),
    "p90": ("90% 分位", "90th percentile"),
    "n_timed": ("有签收时间", "timed"),
    "n_unknown": ("签收时间无记录（未计入）", "acknowledged, no time recorded (left out)"),
    "n_pending": ("尚未签收", "not yet acknowledged"),
    "ack_note": ("用时自告警派发起算，至首次签收或处置。",
                 "Measured from when the alert was routed to the first acknowledgement or resolution."),
    "minutes": ("分钟", "min"),
    "count": ("数量", "count"),
    "share": ("占比", "share"),
    "dispositions": ("处置结果（已处置告警）", "Dispositions (resolved alerts)"),
    "resolved_total": ("已处置", "resolved"),
    "false_alarms": ("误报占比（已处置告警）", "False-alarm share (resolved alerts)"),
    "fa_by_type": ("按告警类型", "By alert type"),
    "fa_by_zone": ("按区域", "By zone"),
    "fa_by_person": ("按社区矫正对象（有误报或设备故障者）", "By person (with false alarms or device faults)"),
    "fa_by_officer": ("按处置人", "By officer who resolved"),
    "fa_note": ("误报占比 = 误报 ÷ 已处置；设备故障单列，不计入误报。",
                "False-alarm share = false alarms ÷ resolved; device faults are listed beside it, "
                "not in it."),
    "false_share_pct": ("误报占比（%）", "false-alarm share (%)"),
    "false_alarm": ("误报", "false alarms"),
    "device_fault": ("设备故障", "device faults"),
    "zone": ("区域", "zone"),
    "key_id": ("编号", "id"),
    "resolved_by": ("处置人", "resolved by"),
    "other_resolved": ("其他处置结果", "other dispositions"),
    "repeat": ("多次告警的社区矫正对象", "Persons with repeat alerts"),
    "load": ("人员工作量", "Load per officer"),
    "routed": ("派发", "routed"),
    "acknowledged": ("签收", "acknowledged"),
    "resolved": ("处置", "resolved"),
    "escalated_to": ("升级接收", "escalated to them"),
    "role": ("角色", "role"),
    "alerts": ("告警明细", "Alert list"),
    "alert_id": ("告警编号", "alert id"),
    "person": ("社区矫正对象", "person"),
    "person_id": ("对象编号", "person id"),
    "officer": ("承办人", "held by"),
    "officer_name": ("工作人员", "officer"),
    "officer_id": ("人员编号", "officer id"),
    "type": ("类型", "type"),
    "severity": ("级别", "severity"),
    "opened_at": ("发生时间", "opened"),
    "condition": ("状态", "condition"),
    "handling": ("处理", "handling"),
    "age": ("距发生（分钟）", "since opened (min)"),
    "disposition": ("处置结果", "disposition"),
    "ack_time": ("签收用时（分钟）", "time to ack (min)"),
    "median_min": ("中位数（分钟）", "median (min)"),
    "p90_min": ("90% 分位（分钟）", "90th percentile (min)"),
    "range_min": ("区间（分钟）", "range (min)"),
    "share_pct": ("占比（%）", "share (%)"),
    "item": ("项目", "item"),
    "value": ("数值", "value"),
    "ack_basis": ("用时依据", "timed by"),
    "none": ("无", "none"),
    "handing_over": ("交班人（签名）", "Handing over (signature)"),
    "taking_over": ("接班人（签名）", "Taking over (signature)"),
    "signed_at": ("交接时间", "Time of handover"),
    "period_from": ("开始", "from"),
    "period_to": ("结束", "to"),
    "show": ("查看", "Show"),
    "period_shift": ("默认：您当前的班次", "Default: your current shift"),
    "period_since_shift": ("默认：您上一班次开始至今", "Default: from the start of your last shift until now"),
    "period_last_12h": ("默认：最近 12 小时（您没有起止明确的班次）",
                        "Default: the last 12 hours (you have no shift with a start and an end)"),
    "period_chosen": ("自选时段", "A period you chose"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
}


def value(pair: Pair, lang: str) -> str:
    """A word inside a table: in "both", Chinese only. Headings carry the English; doubling
    every cell would make the printed tables too wide to read."""
    return say(pair, "zh" if lang == "both" else lang)


def say(pair: Pair, lang: str) -> str:
    """The words for `lang`: "zh", "en" or "both" (中文 / English)."""
    zh, en = pair
    if lang == "zh":
        return zh
    if lang == "en":
        return en
    return zh if zh == en else f"{zh} / {en}"


def t(key: str, lang: str) -> str:
    return say(T[key], lang)
