"""Alert types, severities and the words officers read (SPEC §7)."""

from __future__ import annotations

ZONE_EXIT = "zone_exit"
ZONE_ENTER = "zone_enter"
DEVICE_OFF = "device_off"
SIGNAL_LOST = "signal_lost"
LOCATION_DISABLED = "location_disabled"
TAMPER = "tamper"
LOW_BATTERY = "low_battery"
LOCATION_JUMP = "location_jump"
FEED_DOWN = "feed_down"

ALERT_TYPES = (
    ZONE_EXIT,
    ZONE_ENTER,
    DEVICE_OFF,
    SIGNAL_LOST,
    LOCATION_DISABLED,
    TAMPER,
    LOW_BATTERY,
    LOCATION_JUMP,
    FEED_DOWN,
)

DEFAULT_SEVERITY = {
    DEVICE_OFF: "high",
    SIGNAL_LOST: "high",
    LOCATION_DISABLED: "high",
    TAMPER: "critical",
    LOW_BATTERY: "low",
    LOCATION_JUMP: "medium",
    FEED_DOWN: "critical",
}

# Alerts that only an officer's resolution ends: the condition itself cannot be observed to stop.
STICKY = frozenset({TAMPER, LOCATION_JUMP})

WORDS = {
    ZONE_EXIT: ("越界（离开活动区域）", "left permitted area"),
    ZONE_ENTER: ("进入禁入区域", "entered exclusion zone"),
    DEVICE_OFF: ("关机", "phone switched off"),
    SIGNAL_LOST: ("失联", "no signal"),
    LOCATION_DISABLED: ("定位关闭", "location turned off"),
    TAMPER: ("防拆报警", "tamper"),
    LOW_BATTERY: ("电量低", "low battery"),
    LOCATION_JUMP: ("定位异常跳变（疑似作弊）", "location jump (suspected spoofing)"),
    FEED_DOWN: ("数据中断", "feed down"),
}

CONDITION_WORDS = {"active": ("未解除", "active"), "cleared": ("已解除", "cleared")}
DRILL_WORDS = ("演练", "drill")
LATE_WORDS = ("补传数据", "from buffered data")  # SPEC §7: an alert raised from late data

# SPEC §7: how officers name an alert's handling, a disposition, a severity and a role. The
# page (alerts/feed/words.py) and the shift summary (alerts/summary/words.py) both read these.
DISPOSITION_WORDS = {
    "violation_confirmed": ("确认违规", "violation confirmed"),
    "false_alarm": ("误报", "false alarm"),
    "authorized": ("已批准外出", "authorized"),
    "device_fault": ("设备故障", "device fault"),
    "other": ("其他", "other"),
}
HANDLING_WORDS = {
    "new": ("待签收", "new"),
    "acknowledged": ("已签收", "acknowledged"),
    "resolved": ("已处置", "resolved"),
}
SEVERITY_WORDS = {
    "critical": ("紧急", "critical"),
    "high": ("高", "high"),
    "medium": ("中", "medium"),
    "low": ("低", "low"),
}
ROLE_WORDS = {
    "officer": ("矫正工作人员", "officer"),
    "duty": ("值班人员", "duty officer"),
    "supervisor": ("值班长", "supervisor"),
    "admin": ("系统管理员", "admin"),
}

# The closed sets, defined here once; the bundle loader, the decoder, the geofences, the
# metrics and the notifications take them from here, and the words above are keyed by them.
SEVERITIES = ("low", "medium", "high", "critical")  # mildest first
CRS_NAMES = ("wgs84", "gcj02", "bd09")
RISKS = ("low", "medium", "high")
ROLES = ("officer", "supervisor", "duty", "admin")
assert set(SEVERITY_WORDS) == set(SEVERITIES) and set(ROLE_WORDS) == set(ROLES)


def message(alert_type: str, person_name: str, zone_name: str | None, condition: str, drill: bool) -> dict:
    """The alert's one-line summary in 中文 and English."""
    zh_type, en_type = WORDS[alert_type]
    zh_cond, en_cond = CONDITION_WORDS[condition]
    zh = f"{person_name}：{zh_type}"
    en = f"{person_name}: {en_type}"
    if zone_name:
        zh += f"（{zone_name}）"
        en += f" ({zone_name})"
    zh += f"，{zh_cond}"
    en += f", {en_cond}"
    if drill:
        zh = f"【{DRILL_WORDS[0]}】{zh}"
        en = f"[{DRILL_WORDS[1]}] {en}"
    return {"zh": zh, "en": en}
