"""The words the page shows, as (中文, English), taken from SPEC §7 and `alerts.kinds`, so that the
browser never spells an alert type or a disposition on its own."""

from __future__ import annotations

from alerts.actions import DISPOSITIONS
from alerts.kinds import (
    ALERT_TYPES,
    CONDITION_WORDS,
    DISPOSITION_WORDS,
    DRILL_WORDS,
    HANDLING_WORDS,
    ROLE_WORDS,
    SEVERITY_WORDS,
    WORDS,
)

assert tuple(DISPOSITION_WORDS) == DISPOSITIONS

ACTION_WORDS = {"acknowledge": ("签收", "acknowledge"), "resolve": ("处置", "resolve")}
STATUS_WORDS = {  # status events (SPEC §1), as the person timeline lists them
    "power_off": ("关机", "switched off"),
    "power_on": ("开机", "switched on"),
    "heartbeat": ("心跳", "heartbeat"),
    "low_battery": ("电量低", "low battery"),
    "tamper": ("防拆报警", "tamper"),
    "location_disabled": ("定位关闭", "location turned off"),
    "location_enabled": ("定位开启", "location turned on"),
}
RISK_WORDS = {"low": ("低风险", "low risk"), "medium": ("中风险", "medium risk"),
              "high": ("高风险", "high risk")}
REASON_WORDS = {  # why a route step went where it did (docs/routing.md)
    "on_shift": ("责任人在班", "officer on shift"),
    "officer_off_shift": ("责任人不在班，转本所", "officer off shift: to the office"),
    "office_off_shift": ("本所无人在班，转上级", "nobody on shift at the office: up the chain"),
    "not_acknowledged": ("超时未签收", "not acknowledged in time"),
    "unstaffed": ("无人值班", "nobody on shift"),
    "feed_down": ("数据中断", "feed down"),
}
OTHER_WORDS = {
    "escalated": ("已升级上报", "escalated"),
    "drill": DRILL_WORDS,
    "person": ("社区矫正对象", "person"),
    "permit": ("请假外出", "leave permit"),
}


def vocabulary() -> dict[str, dict[str, dict[str, str]]]:
    def both(table):
        return {k: {"zh": zh, "en": en} for k, (zh, en) in table.items()}

    return {
        "types": both({t: WORDS[t] for t in ALERT_TYPES}),
        "conditions": both(CONDITION_WORDS),
        "handling": both(HANDLING_WORDS),
        "actions": both(ACTION_WORDS),
        "dispositions": both(DISPOSITION_WORDS),
        "severities": both(SEVERITY_WORDS),
        "roles": both(ROLE_WORDS),
        "statuses": both(STATUS_WORDS),
        "risks": both(RISK_WORDS),
        "reasons": both(REASON_WORDS),
        "other": both(OTHER_WORDS),
    }
