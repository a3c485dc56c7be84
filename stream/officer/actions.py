"""An officer's action (SPEC §4: acknowledge or resolve) as both backends take it in."""

from __future__ import annotations

import orjson

from alerts.actions import ActionError


def opened(action: object, now_ms: int) -> dict:
    """The action record as the engine reads it: `type` set, `ts` the time it was taken in
    unless the caller gave one. ActionError when it is not a JSON object."""
    if not isinstance(action, dict):
        raise ActionError("invalid_field", "action: must be a JSON object")
    action = {"type": "action", **action}
    if action.get("ts") is None:
        action["ts"] = now_ms
    return action


def payload(action: dict) -> bytes:
    """Its JSON text, as stored and sent; ActionError when a value is not JSON."""
    try:
        return orjson.dumps(action)
    except TypeError as exc:
        raise ActionError("invalid_field", f"action: not JSON ({exc})") from None


def log_fields(action: dict) -> tuple[str | None, str | None, str | None]:
    """(alert_id, action, by) for the action log; a value that is not text is logged as none."""

    def text(key: str) -> str | None:
        v = action.get(key)
        return v if isinstance(v, str) else None

    return text("alert_id"), text("action"), text("by")
