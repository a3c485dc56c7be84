"""One incident, one alert (SPEC §3 "One incident, one alert").

The book holds, per key (person, type, zone), the incident an officer would recognise as
"the same thing": the active one, or a cleared one that may still reopen. Every change
returns the incident so the caller can emit exactly one update record for it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import msgspec

from alerts.timefmt import rfc3339
from config.loader import parse_ts_ms

Key = tuple[str, str, str]  # (person_id, alert type, zone_id or "")
# A cleared alert stays actionable (officers resolve after the fact) this long in event time.
RESOLVABLE_FOR_MS = 7 * 24 * 3600 * 1000


@lru_cache(maxsize=1 << 16)
def wire_time(ms: int, tz: str) -> str:
    """An event time as the records write it. Kept: every version of an alert writes its
    opened_at and route times again, and formatting costs more than building the record."""
    return rfc3339(ms, tz) or ""


class RouteStep(msgspec.Struct, frozen=True, gc=False):
    """One routing decision: who was given the alert, as what, why, and when (event time)."""

    officer_id: str | None
    role: str
    reason: str
    at_ms: int

    def to_wire(self, tz: str) -> dict[str, Any]:
        return {"officer_id": self.officer_id, "role": self.role, "reason": self.reason,
                "at": wire_time(self.at_ms, tz)}

    def to_state(self) -> dict[str, Any]:
        return {"officer_id": self.officer_id, "role": self.role, "reason": self.reason,
                "at_ms": self.at_ms}

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> RouteStep:
        """A step as the wire or an engine state file holds it ("at" text or "at_ms")."""
        at = d["at_ms"] if "at_ms" in d else parse_ts_ms(d["at"])
        return cls(d.get("officer_id"), d["role"], d["reason"], int(at))


class Resolution(msgspec.Struct, frozen=True, gc=False):
    """An officer's resolution (SPEC §4): what they found, their note, who, when."""

    disposition: str
    note: str
    by: str
    at_ms: int

    def to_wire(self, tz: str) -> dict[str, Any]:
        return {"disposition": self.disposition, "note": self.note, "by": self.by,
                "at": wire_time(self.at_ms, tz)}

    @classmethod
    def from_state(cls, d: dict[str, Any]) -> Resolution:
        """From the engine's own record (at: epoch ms)."""
        return cls(d["disposition"], d.get("note") or "", d["by"], int(d["at"]))

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> Resolution:
        return cls(d["disposition"], d.get("note") or "", d["by"], parse_ts_ms(d["at"]))


def alert_id_for(key: Key, drill: bool, opened_at: int) -> str:
    """Derived from the key and the first opened_at, so a replay gives the same ids."""
    person_id, alert_type, zone_id = key
    raw = f"{int(drill)}|{person_id}|{alert_type}|{zone_id}|{opened_at}".encode()
    return "al-" + hashlib.blake2b(raw, digest_size=10).hexdigest()


@dataclass(slots=True)
class Incident:
    alert_id: str
    person_id: str
    type: str
    zone_id: str | None
    severity: str
    opened_at: int
    last_event_at: int
    event_count: int
    location: tuple[float, float, float] | None
    version: int = 1
    condition: str = "active"
    handling: str = "new"
    cleared_at: int | None = None
    reopen_count: int = 0
    detected_at: int | None = None  # wall clock of version 1, supplied by the runtime
    resolution: dict | None = None  # disposition, note, by, at (epoch ms)
    escalated: bool = False
    route: list[RouteStep] = field(default_factory=list)  # newest last
    officer_id: str | None = None  # who has it now
    escalate_due: int | None = None  # engine clock (wall clock in a drill); None: not pending
    acknowledged_at: int | None = None
    acknowledged_by: str | None = None
    late: bool = False  # raised from late (store-and-forward) data

    @property
    def active(self) -> bool:
        return self.condition == "active"

    def to_state(self) -> dict:
        d = {s: getattr(self, s) for s in self.__slots__}
        # copies, not shared lists: an emitted version must not change with later ones
        d["route"] = [step.to_state() for step in self.route]
        if self.resolution is not None:
            d["resolution"] = dict(self.resolution)
        return d

    @classmethod
    def from_state(cls, d: dict) -> Incident:
        d = dict(d)
        if d.get("location") is not None:
            d["location"] = tuple(d["location"])
        d["route"] = [RouteStep.from_wire(step) for step in d.get("route") or ()]
        return cls(**d)

    def add_route(self, steps: list[RouteStep]) -> None:
        """The steps of one routing decision; the first one now holds the alert."""
        self.route.extend(steps)
        self.officer_id = steps[0].officer_id


class IncidentBook:
    def __init__(self, drill: bool, reopen_window_ms: int):
        self.drill = drill
        self.reopen_window_ms = reopen_window_ms
        self.by_key: dict[Key, Incident] = {}
        self.by_id: dict[str, Key] = {}
        self.keys_by_person: dict[str, set[Key]] = {}
        self.active_count: dict[str, int] = {}  # person_id -> number of active incidents

    def is_active(self, key: Key) -> bool:
        inc = self.by_key.get(key)
        return inc is not None and inc.active

    def person_has_active(self, person_id: str) -> bool:
        return self.active_count.get(person_id, 0) > 0

    def _activated(self, person_id: str, delta: int) -> None:
        n = self.active_count.get(person_id, 0) + delta
        if n:
            self.active_count[person_id] = n
        else:
            self.active_count.pop(person_id, None)

    def qualify(
        self,
        key: Key,
        first_at: int,
        at: int,
        count: int,
        severity: str,
        location: tuple[float, float, float] | None,
        now_ms: int,
    ) -> Incident:
        """A confirmed occurrence at `at` whose run began at `first_at`.

        Active: a repeat. Cleared within the reopen window of its first event: reopened.
        Otherwise (never seen, resolved, or cleared too long ago): a new alert.
        """
        inc = self.by_key.get(key)
        if inc is not None and inc.active:
            inc.last_event_at = at
            inc.event_count += 1
            if location is not None:
                inc.location = location
            inc.version += 1
            return inc
        if (
            inc is not None
            and inc.resolution is None
            and inc.cleared_at is not None
            # an excursion that buffered data shows began before this alert cleared is
            # another incident, not a recurrence
            and 0 <= first_at - inc.cleared_at <= self.reopen_window_ms
        ):
            inc.condition = "active"
            inc.cleared_at = None
            inc.reopen_count += 1
            inc.last_event_at = at
            inc.event_count += count
            if location is not None:
                inc.location = location
            inc.version += 1
            self._activated(key[0], +1)
            return inc
        person_id, alert_type, zone_id = key
        inc = Incident(
            alert_id=alert_id_for(key, self.drill, first_at),
            person_id=person_id,
            type=alert_type,
            zone_id=zone_id or None,
            severity=severity,
            opened_at=first_at,
            last_event_at=at,
            event_count=count,
            location=location,
            detected_at=now_ms,
        )
        old = self.by_key.get(key)
        if old is not None:
            self.by_id.pop(old.alert_id, None)
        self.by_key[key] = inc
        self.by_id[inc.alert_id] = key
        self.keys_by_person.setdefault(person_id, set()).add(key)
        self._activated(person_id, +1)
        return inc

    def clear(self, key: Key, at: int) -> Incident | None:
        inc = self.by_key.get(key)
        if inc is None or not inc.active:
            return None
        inc.condition = "cleared"
        inc.cleared_at = at
        inc.version += 1
        self._activated(key[0], -1)
        return inc

    def active_keys_of(self, person_id: str) -> list[Key]:
        keys = self.keys_by_person.get(person_id, ())
        return sorted(k for k in keys if self.by_key[k].active)

    def get(self, key: Key) -> Incident | None:
        return self.by_key.get(key)

    def by_alert_id(self, alert_id: str) -> Incident | None:
        key = self.by_id.get(alert_id)
        return self.by_key.get(key) if key is not None else None

    def end_sticky(self, inc: Incident, at: int) -> None:
        """A resolution ends what only a resolution can end (tamper, jump)."""
        if inc.active:
            inc.condition = "cleared"
            inc.cleared_at = at
            self._activated(inc.person_id, -1)

    def prune(self, earliest_next_event: Callable[[str], int]) -> int:
        """Forget incidents that can no longer reopen; their updates are already out.

        `earliest_next_event(person_id)` bounds the first_at of anything that person can still
        raise, so pruning changes no future output and may run at any moment.
        """
        dead = []
        for k, inc in self.by_key.items():
            if inc.active or inc.cleared_at is None:
                continue
            keep_ms = max(self.reopen_window_ms, RESOLVABLE_FOR_MS if inc.resolution is None else 0)
            if inc.cleared_at + keep_ms < earliest_next_event(k[0]):
                dead.append(k)
        for k in dead:
            self.by_id.pop(self.by_key[k].alert_id, None)
            del self.by_key[k]
            keys = self.keys_by_person[k[0]]
            keys.discard(k)
            if not keys:
                del self.keys_by_person[k[0]]
        return len(dead)

    def to_state(self) -> list[dict]:
        return [inc.to_state() for inc in self.by_key.values()]

    def load_state(self, rows: list[dict]) -> None:
        self.by_key.clear()
        self.by_id.clear()
        self.keys_by_person.clear()
        self.active_count.clear()
        for row in rows:
            self.add_state(row)

    def add_state(self, row: dict) -> None:
        inc = Incident.from_state(row)
        key = (inc.person_id, inc.type, inc.zone_id or "")
        old = self.by_key.get(key)
        if old is not None:
            self.by_id.pop(old.alert_id, None)
            if old.active:
                self._activated(inc.person_id, -1)
        self.by_key[key] = inc
        self.by_id[inc.alert_id] = key
        self.keys_by_person.setdefault(inc.person_id, set()).add(key)
        if inc.active:
            self._activated(inc.person_id, +1)
