"""Alert updates: what the engine emits, typed, and their SPEC §4 wire record.

The engine hands every consumer an `AlertUpdate` with integer epoch-millisecond times;
`to_wire()` is the one place that writes the record SPEC §4 lays out (RFC 3339 times in the
bundle's timezone, `detected_at` in UTC), so consumers never parse back the strings the engine
has just written. `AlertUpdate.from_wire` reads a record back (the store, the Kafka alerts topic,
a drill record) at those boundaries.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import msgspec

from alerts.caseload import Caseload
from alerts.incidents import Incident, Resolution, RouteStep, wire_time
from alerts.kinds import message
from alerts.timefmt import utc_rfc3339
from config.loader import parse_ts_ms

__all__ = ["AlertUpdate", "Location", "Message", "Resolution", "RouteStep", "read_records",
           "update_record"]

log = logging.getLogger("lookout.alerts")

# rfc3339's own default: the zone a record read back is shown in when the reader does not say
DEFAULT_TZ = "Asia/Shanghai"


class Location(msgspec.Struct, frozen=True, gc=False):
    lat: float
    lon: float
    accuracy_m: float


class Message(msgspec.Struct, frozen=True, gc=False):
    zh: str
    en: str


class AlertUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """One version of one alert (SPEC §4), as the engine emitted it."""

    alert_id: str
    version: int
    person_id: str | None
    type: str
    zone_id: str | None
    severity: str
    condition: str
    handling: str
    opened_at_ms: int
    last_event_at_ms: int
    cleared_at_ms: int | None
    event_count: int
    reopen_count: int
    detected_at_ms: int | None
    location: Location | None
    officer_id: str | None
    route: tuple[RouteStep, ...]
    escalated: bool
    drill: bool
    late: bool
    resolution: Resolution | None
    message: Message
    tz: str = DEFAULT_TZ  # the IANA zone the wire record shows event times in

    @property
    def active(self) -> bool:
        return self.condition == "active"

    def to_wire(self) -> dict[str, Any]:
        """The SPEC §4 record, key for key and byte for byte what consumers have always read."""
        tz = self.tz
        loc = self.location
        res = self.resolution
        return {
            "alert_id": self.alert_id,
            "version": self.version,
            "person_id": self.person_id,
            "type": self.type,
            "zone_id": self.zone_id,
            "severity": self.severity,
            "condition": self.condition,
            "handling": self.handling,
            "opened_at": wire_time(self.opened_at_ms, tz),
            "last_event_at": wire_time(self.last_event_at_ms, tz),
            "cleared_at": None if self.cleared_at_ms is None else wire_time(self.cleared_at_ms, tz),
            "event_count": self.event_count,
            "reopen_count": self.reopen_count,
            "detected_at": utc_rfc3339(self.detected_at_ms) if self.detected_at_ms is not None else None,
            "location": None if loc is None else {"lat": loc.lat, "lon": loc.lon, "accuracy_m": loc.accuracy_m},
            "officer_id": self.officer_id,
            "route": [step.to_wire(tz) for step in self.route],
            "escalated": self.escalated,
            "drill": self.drill,
            "late": self.late,
            "resolution": None if res is None else res.to_wire(tz),
            "message": {"zh": self.message.zh, "en": self.message.en},
        }

    @classmethod
    def from_wire(cls, record: dict[str, Any], tz: str = DEFAULT_TZ) -> AlertUpdate:
        """A SPEC §4 record read back. Raises KeyError/TypeError/ValueError on a malformed one."""
        loc = record.get("location")
        res = record.get("resolution")
        msg = record.get("message") or {}
        return cls(
            alert_id=record["alert_id"],
            version=int(record["version"]),
            person_id=record.get("person_id"),
            type=record["type"],
            zone_id=record.get("zone_id"),
            severity=record["severity"],
            condition=record["condition"],
            handling=record.get("handling") or "new",
            opened_at_ms=parse_ts_ms(record["opened_at"]),
            last_event_at_ms=parse_ts_ms(record["last_event_at"]),
            cleared_at_ms=_ms_or_none(record.get("cleared_at")),
            event_count=int(record.get("event_count") or 0),
            reopen_count=int(record.get("reopen_count") or 0),
            detected_at_ms=_ms_or_none(record.get("detected_at")),
            location=None if loc is None else Location(loc["lat"], loc["lon"], loc["accuracy_m"]),
            officer_id=record.get("officer_id"),
            route=tuple(RouteStep.from_wire(s) for s in record.get("route") or ()),
            escalated=bool(record.get("escalated")),
            drill=bool(record.get("drill")),
            late=bool(record.get("late")),
            resolution=None if res is None else Resolution.from_wire(res),
            message=Message(msg.get("zh", ""), msg.get("en", "")),
            tz=tz,
        )


def read_records(records: Iterable[dict[str, Any]], tz: str = DEFAULT_TZ) -> list[AlertUpdate]:
    """Records read back (the store, a topic) as updates; one that cannot be read is logged
    and left out, never raised into the runtime reading it."""
    out = []
    for record in records:
        try:
            out.append(AlertUpdate.from_wire(record, tz))
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("an alert record cannot be read (%s): %.200r", exc, record)
    return out


def _ms_or_none(text: Any) -> int | None:
    return None if text in (None, "") else parse_ts_ms(text)


def update_record(inc: Incident, cl: Caseload, drill: bool) -> AlertUpdate:
    """The update for an incident's current version."""
    p = cl.index.get(inc.person_id)
    person_name = cl.names[p] if p is not None else inc.person_id
    officer_id = cl.officer_ids[p] if p is not None else None
    zone_name = None
    if inc.zone_id:
        zi = cl.zones.index.get(inc.zone_id)
        zone_name = cl.zone_names[zi] if zi is not None else inc.zone_id
    location = None
    if inc.location is not None:
        lon, lat, acc = inc.location
        location = Location(round(lat, 7), round(lon, 7), round(acc, 1))
    words = message(inc.type, person_name, zone_name, inc.condition, drill)
    return AlertUpdate(
        alert_id=inc.alert_id,
        version=inc.version,
        person_id=inc.person_id or None,
        type=inc.type,
        zone_id=inc.zone_id,
        severity=inc.severity,
        condition=inc.condition,
        handling=inc.handling,
        opened_at_ms=inc.opened_at,
        last_event_at_ms=inc.last_event_at,
        cleared_at_ms=inc.cleared_at,
        event_count=inc.event_count,
        reopen_count=inc.reopen_count,
        detected_at_ms=inc.detected_at,
        location=location,
        officer_id=inc.officer_id or officer_id,
        route=tuple(inc.route),
        escalated=inc.escalated,
        drill=drill,
        late=inc.late,
        resolution=Resolution.from_state(inc.resolution) if inc.resolution is not None else None,
        message=Message(words["zh"], words["en"]),
        tz=cl.tz,
    )
