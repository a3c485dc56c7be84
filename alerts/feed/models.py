"""Request and response shapes of the feed API (they make its OpenAPI description).

Alert records are SPEC §4 as the engine writes them (times stay the RFC 3339 strings it
produced); `person_name`, `office_id`, `office_name`, `officer_name`, `zone_name`, route
steps' `name` and the resolution's `by_name` are added from the bundle: names belong to views,
the engine's records keep ids.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from alerts.actions import DISPOSITIONS
from alerts.fatigue import DeviceCheck

Disposition = Literal[DISPOSITIONS]  # type: ignore[valid-type]


class Location(BaseModel):
    lat: float
    lon: float
    accuracy_m: float | None = None


class RouteStep(BaseModel):
    officer_id: str | None
    role: str
    reason: str = Field(description="on_shift, officer_off_shift, office_off_shift, "
                        "not_acknowledged, unstaffed (nobody on shift up the chain), feed_down")
    at: str | None = None
    name: str | None = Field(None, description="the officer's name, from the bundle")


class Resolution(BaseModel):
    disposition: str
    note: str = ""
    by: str
    at: str | None = None
    by_name: str | None = Field(None, description="who resolved it, by name")


class Message(BaseModel):
    zh: str
    en: str


class Alert(BaseModel):
    alert_id: str
    version: int
    person_id: str | None
    type: str
    zone_id: str | None = None
    severity: str
    condition: Literal["active", "cleared"]
    handling: Literal["new", "acknowledged", "resolved"]
    opened_at: str | None = None
    last_event_at: str | None = None
    cleared_at: str | None = None
    event_count: int = 0
    reopen_count: int = 0
    detected_at: str | None = None
    location: Location | None = None
    officer_id: str | None = None
    route: list[RouteStep] = []
    escalated: bool = False
    drill: bool = False
    resolution: Resolution | None = None
    message: Message
    person_name: str | None = Field(None, description="from the bundle")
    office_id: str | None = Field(None, description="the person's 司法所, from the bundle")
    office_name: str | None = Field(None, description="the office's name (offices in "
                                    "officers.json; its id when not listed)")
    officer_name: str | None = Field(None, description="the current officer's name")
    zone_name: str | None = None
    late: bool | None = Field(None, description="补传数据: raised from buffered data")
    unread: bool | None = Field(None, description="lists only: not acknowledged and never "
                                "opened by the caller")


class HandlingCounts(BaseModel):
    new: int
    acknowledged: int
    resolved: int


class Attention(BaseModel):
    unread: int = Field(description="not acknowledged and never opened by the caller")
    critical_new: int = Field(description="critical alerts nobody has acknowledged")


class AlertList(BaseModel):
    alerts: list[Alert] = Field(description="one page, in triage order")
    drill: bool = Field(description="true: a drill view, only drill alerts (演练)")
    total: int = Field(0, description="alerts matching the filters, over every page")
    offset: int = 0
    counts: HandlingCounts | None = Field(
        None, description="totals per handling state, the other filters applied")
    attention: Attention | None = Field(None, description="over the caller's whole scope")


class TrackPoint(BaseModel):
    ts: Any = Field(description="as the store gives it: epoch ms or RFC 3339")
    lat: float
    lon: float
    accuracy_m: float | None = None


class Track(BaseModel):
    person_id: str
    since_ms: int
    until_ms: int
    points: list[TrackPoint]
    truncated: bool = Field(False, description="the range held more fixes than the limit: "
                            "these are the latest")


class ZoneFeature(BaseModel):
    type: Literal["Feature"] = "Feature"
    geometry: dict[str, Any] = Field(description="GeoJSON Polygon/MultiPolygon, WGS-84")
    properties: dict[str, Any]


class AlertDetail(BaseModel):
    alert: Alert
    history: list[Alert] = Field(description="every version, oldest first")
    zone: ZoneFeature | None = Field(description="the alert's zone as an area, WGS-84")
    track: Track | None = Field(description="the person's recent fixes (reading it is audited)")


class ActionResult(BaseModel):
    alert: Alert
    changed: bool = Field(description="false when the action had already taken effect")
    pending: bool = Field(False, description="true (answer 202, Kafka mode only): sent to the "
                          "workers, whose new version has not come back yet; it arrives on "
                          "the stream")


class ResolveBody(BaseModel):
    disposition: Disposition
    note: str = Field("", max_length=2000)


class BulkBody(BaseModel):
    alert_ids: list[str] = Field(min_length=1, max_length=1000)
    action: Literal["acknowledge", "resolve"]
    disposition: Disposition | None = None
    note: str = Field("", max_length=2000)

    @model_validator(mode="after")
    def _resolve_needs_disposition(self):
        if self.action == "resolve" and self.disposition is None:
            raise ValueError("resolve: a disposition is required / 处置须选择处置结果")
        return self


class BulkOutcome(BaseModel):
    alert_id: str
    ok: bool
    status: int = Field(description="what the single-alert endpoint would have answered")
    changed: bool = False
    pending: bool = False
    alert: Alert | None = None
    problem: Problem | None = None


class BulkResult(BaseModel):
    results: list[BulkOutcome]
    ok: int
    failed: int


class LoginBody(BaseModel):
    officer_id: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class Officer(BaseModel):
    officer_id: str
    name: str
    office_id: str
    role: str
    office_name: str | None = None
    phone: str | None = None


class Office(BaseModel):
    office_id: str
    name: str
    parent_id: str | None = None


class Me(BaseModel):
    officer: Officer
    offices: list[str] = Field(description="offices whose persons this officer may see")
    office_list: list[Office] = Field([], description="those offices with their names")
    sees_everything: bool
    session_expires_at_ms: int


class LoginResult(BaseModel):
    token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at_ms: int
    me: Me


class Person(BaseModel):
    person_id: str
    name: str
    office_id: str
    officer_id: str
    risk: str
    officer_name: str | None = Field(None, description="the person's officer, from the bundle")
    office_name: str | None = None
    phone: str | None = Field(None, description="personal data: only in the person view, "
                              "whose reads are audited")
    address: str | None = Field(None, description="personal data, as phone")


class Problem(BaseModel):
    """Errors carry both languages so the page shows the officer's own."""

    code: str
    zh: str
    en: str


class ProblemResponse(BaseModel):
    detail: Problem


# -- the person view (GET /v1/persons/{person_id}) ---------------------------------------------


class LastFix(BaseModel):
    ts_ms: int
    at: str = Field(description="ts_ms in RFC 3339, the bundle's time zone")
    lat: float
    lon: float
    accuracy_m: float | None = None


class PersonStatus(BaseModel):
    last_seen_ms: int | None = Field(description="the last event of any kind (sign of life)")
    last_seen: str | None = Field(description="last_seen_ms in RFC 3339, the bundle's zone")
    last_fix: LastFix | None
    silent: bool = Field(description="失联: nothing heard for the silence timeout")
    silence_timeout_s: float
    device_off: bool = Field(description="关机: a power_off not followed by anything yet")
    location_disabled: bool
    feed_down: bool = Field(description="the whole feed is down: silence means little now")


class PermitInfo(BaseModel):
    permit_id: str
    start: str
    end: str
    revoked_at: str | None = None
    destination: str = ""
    suspend_zones: list[str] | None = None
    state: Literal["active", "upcoming"]


class TimelineEntry(BaseModel):
    at_ms: int
    at: str = Field(description="RFC 3339 in the bundle's time zone")
    kind: Literal["fixes", "status", "alert", "permit"]
    count: int | None = Field(None, description="fixes: how many in this hour")
    until_ms: int | None = Field(None, description="fixes: the last of them")
    until: str | None = None
    event: str | None = Field(None, description="status: power_off, tamper, ...")
    alert_id: str | None = None
    type: str | None = None
    severity: str | None = None
    change: str | None = Field(None, description="alert: opened, cleared, reopened, "
                               "acknowledged, resolved, escalated; permit: start, end")
    permit_id: str | None = None
    destination: str | None = None


class PersonDetail(BaseModel):
    person: Person
    released: bool = Field(description="解除矫正: no longer supervised; alerts stay to resolve")
    status: PersonStatus | None = Field(description="None for a released person")
    zone: ZoneFeature | None = Field(description="the person's own area (first inclusion zone)")
    zones: list[ZoneFeature] = Field(description="every zone that applies to the person: "
                                     "inclusion first, then exclusion zones nearest the last "
                                     "fix first (at most 100)")
    zones_total: int = Field(description="how many zones apply, drawn or not")
    track: Track
    alerts: list[Alert] = Field(description="open first (not resolved, or still active), "
                                "then recent ones")
    permits: list[PermitInfo] = Field(description="active and upcoming leave (请假外出)")
    timeline: list[TimelineEntry] = Field(description="newest first")
    device_check: DeviceCheck | None = Field(
        None, description="需核查设备 / device check needed: the rule's figures over the last 30 "
        "days (docs/operations.md); None when the store cannot say")


# -- the roster (GET /v1/roster) ----------------------------------------------------------------


class RosterEntry(BaseModel):
    person_id: str
    name: str
    office_id: str
    officer_id: str
    officer_name: str | None = None
    mine: bool = Field(description="the caller is the person's own officer")
    risk: str
    last_seen: str | None = Field(description="RFC 3339, the bundle's zone; null: never, or "
                                  "not known here (`live_state` false)")
    last_fix: str | None = None
    silent: bool = Field(description="失联")
    device_off: bool = Field(description="关机")
    location_disabled: bool
    on_leave: bool = Field(description="请假外出 now")
    leave_until: str | None = None
    open_alerts: int = Field(description="open alerts of the person that the caller sees")


class Roster(BaseModel):
    persons: list[RosterEntry] = Field(description="the caller's own persons first, then by "
                                       "office and id")
    live_state: bool = Field(description="false in Kafka mode: the persons' live state is in "
                             "the workers, so last seen is unknown and 失联/关机 come from open "
                             "alerts only")
    feed_down: bool = Field(description="the whole feed is down: silence means little now")
