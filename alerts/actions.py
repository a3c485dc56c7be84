"""Officers' acknowledgements and resolutions, applied by the engine (SPEC §4)."""

from __future__ import annotations

from alerts.caseload import Caseload
from alerts.incidents import RESOLVABLE_FOR_MS, Incident
from alerts.kinds import STICKY, TAMPER
from alerts.state import PartState

DISPOSITIONS = ("violation_confirmed", "false_alarm", "authorized", "device_fault", "other")


class ActionError(ValueError):
    """A bad action; `reason` is a short code for counters and dead letters."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def _ts(action: dict) -> int:
    from config.loader import parse_ts_ms

    try:
        return parse_ts_ms(action.get("ts"))
    except (TypeError, ValueError):
        raise ActionError("invalid_field", f"ts: must be RFC 3339 or epoch ms, got {action.get('ts')!r}") from None


def _text(action: dict, key: str, required: bool = True) -> str | None:
    v = action.get(key)
    if v is None and not required:
        return None
    if not isinstance(v, str) or not v.strip():
        raise ActionError("invalid_field", f"{key}: must be a non-empty string")
    return v


def apply_action(part: PartState, cl: Caseload, inc: Incident | None, action: dict) -> bool:
    """Validate and apply; True when the alert changed (one new version)."""
    if not isinstance(action, dict) or action.get("type", "action") != "action":
        raise ActionError("invalid_field", "type: must be \"action\"")
    kind = action.get("action")
    if kind not in ("acknowledge", "resolve"):
        raise ActionError("invalid_field", f"action: must be acknowledge or resolve, got {kind!r}")
    by = _text(action, "by")
    at = _ts(action)
    if inc is None:
        raise ActionError("unknown_alert", f"alert_id: no such alert {action.get('alert_id')!r}")
    if action.get("person_id") not in (None, inc.person_id or None):
        raise ActionError("invalid_field", "person_id: does not match the alert")
    if inc.cleared_at is not None and inc.cleared_at + RESOLVABLE_FOR_MS < part.clock:
        raise ActionError("unknown_alert", "alert_id: the alert has expired")
    if kind == "acknowledge":
        if inc.handling != "new":
            return False
        inc.handling = "acknowledged"
        inc.acknowledged_at, inc.acknowledged_by = at, by
        inc.escalate_due = None
        inc.version += 1
        return True
    disposition = action.get("disposition")
    if disposition not in DISPOSITIONS:
        raise ActionError("invalid_field", f"disposition: must be one of {', '.join(DISPOSITIONS)}")
    note = _text(action, "note", required=inc.type == TAMPER)
    if inc.handling == "resolved":
        return False
    inc.handling = "resolved"
    inc.escalate_due = None
    inc.resolution = {"disposition": disposition, "note": note or "", "by": by,
                      "at": at}
    if inc.type in STICKY:
        part.book.end_sticky(inc, at)
    inc.version += 1
    return True
