"""Officers' acknowledgements and resolutions, applied by the engine (SPEC §4)."""

from __future__ import annotations

from dataclasses import dataclass

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


class ActionPending(Exception):
    """The action went to an engine in another process (the Kafka workers) and its result has
    not come back in time. It may still take effect; `record` is the alert as last known."""

    def __init__(self, record: dict | None):
        super().__init__("the action was sent; its result has not come back yet")
        self.record = record


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


def check_action(action: dict, alert, clock: int | None) -> bool:
    """Validate `action` against `alert` (an Incident, or an `AlertFacts` read from the alert's
    latest record; None: no such alert). True when applying it would change the alert, False
    when it already took effect; raises ActionError when it is refused. `clock`: the engine
    clock the alert's expiry counts on (None: unknown, not checked)."""
    if not isinstance(action, dict) or action.get("type", "action") != "action":
        raise ActionError("invalid_field", "type: must be \"action\"")
    kind = action.get("action")
    if kind not in ("acknowledge", "resolve"):
        raise ActionError("invalid_field", f"action: must be acknowledge or resolve, got {kind!r}")
    _text(action, "by")
    _ts(action)
    if alert is None:
        raise ActionError("unknown_alert", f"alert_id: no such alert {action.get('alert_id')!r}")
    if action.get("person_id") not in (None, alert.person_id or None):
        raise ActionError("invalid_field", "person_id: does not match the alert")
    if (clock is not None and alert.cleared_at is not None
            and alert.cleared_at + RESOLVABLE_FOR_MS < clock):
        raise ActionError("unknown_alert", "alert_id: the alert has expired")
    if kind == "acknowledge":
        return alert.handling == "new"
    if action.get("disposition") not in DISPOSITIONS:
        raise ActionError("invalid_field", f"disposition: must be one of {', '.join(DISPOSITIONS)}")
    _text(action, "note", required=alert.type == TAMPER)
    return alert.handling != "resolved"


@dataclass(frozen=True, slots=True)
class AlertFacts:
    """What `check_action` reads of an alert, taken from its latest SPEC §4 record: for a
    service that holds the records but not the engine (the officers' service on Kafka)."""

    person_id: str | None
    type: str
    handling: str
    cleared_at: int | None  # epoch ms

    @classmethod
    def of(cls, record: dict) -> AlertFacts:
        from config.loader import parse_ts_ms

        cleared = record.get("cleared_at")
        return cls(record.get("person_id"), record["type"], record["handling"],
                   parse_ts_ms(cleared) if cleared else None)


def apply_action(part: PartState, cl: Caseload, inc: Incident | None, action: dict) -> bool:
    """Validate and apply; True when the alert changed (one new version)."""
    if not check_action(action, inc, part.clock):
        return False
    assert inc is not None  # check_action refuses an unknown alert
    by, at = action["by"], _ts(action)
    if action["action"] == "acknowledge":
        inc.handling = "acknowledged"
        inc.acknowledged_at, inc.acknowledged_by = at, by
        inc.escalate_due = None
        inc.version += 1
        return True
    inc.handling = "resolved"
    inc.escalate_due = None
    inc.resolution = {"disposition": action["disposition"], "note": action.get("note") or "",
                      "by": by, "at": at}
    if inc.type in STICKY:
        part.book.end_sticky(inc, at)
    inc.version += 1
    return True
