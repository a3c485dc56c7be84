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
        "other": both(OTHER_WORDS),
    }
