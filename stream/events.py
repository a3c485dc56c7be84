"""What the decoder hands on: the event columns (defined in the core, alerts/events.py) and the
dead-letter record for input it refuses."""

from __future__ import annotations

from dataclasses import dataclass

from alerts.events import (
    FIX,
    HEARTBEAT,
    KIND_NAMES,
    LOCATION_DISABLED,
    LOCATION_ENABLED,
    LOW_BATTERY,
    NO_STATUS,
    POWER_OFF,
    POWER_ON,
    SOURCE_NAMES,
    STATUS,
    STATUS_NAMES,
    TAMPER,
    TICK,
    EventBatch,
)
from alerts.kinds import CRS_NAMES

__all__ = [
    "CRS_NAMES", "FIX", "FUTURE_TS", "HEARTBEAT", "INVALID_FIELD", "KIND_NAMES", "LOCATION_DISABLED",
    "LOCATION_ENABLED", "LOW_BATTERY", "MALFORMED_JSON", "NO_STATUS", "POWER_OFF", "POWER_ON",
    "REJECT_REASONS", "SOURCE_NAMES", "STATUS", "STATUS_NAMES", "TAMPER", "TICK", "UNKNOWN_PERSON", "WRONG_PARTITION",
    "DeadLetter", "EventBatch",
]

# dead-letter reasons (SPEC §1)
MALFORMED_JSON = "malformed_json"
INVALID_FIELD = "invalid_field"
UNKNOWN_PERSON = "unknown_person"
FUTURE_TS = "future_ts"
WRONG_PARTITION = "wrong_partition"  # Kafka: a registered person's event keyed to another partition
REJECT_REASONS = (MALFORMED_JSON, INVALID_FIELD, UNKNOWN_PERSON, FUTURE_TS, WRONG_PARTITION)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A rejected input record, as written to the dead-letter output."""

    received_at: str  # RFC 3339 wall clock
    reason: str
    detail: str
    raw: str  # the original text, cut at 4 KiB

    def to_dict(self) -> dict:
        return {
            "received_at": self.received_at,
            "reason": self.reason,
            "detail": self.detail,
            "raw": self.raw,
        }


