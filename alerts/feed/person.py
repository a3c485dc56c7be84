"""GET /v1/persons/{person_id}: one person on one screen, for the officer who has to decide
what to do: are they heard from, where were they lately, what is open, are they on leave, and
what happened in what order.

Only persons of the caller's offices (`Scope.sees_person`); anyone else answers 404 like an
id that does not exist. Alerts are filtered once more per alert (an officer sees the alerts
routed to them and their office's duty, as in the list). Reading it is audited as a read of
personal data (`read_person`). Released persons (解除矫正) stay readable while their alerts do.
"""

# No `from __future__ import annotations`: FastAPI reads the endpoint's annotations at runtime.
import math
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from alerts.fatigue import DeviceCheck, device_check, device_check_since
from alerts.feed import models as m
from alerts.service import NotInThisMode, OfficerService
from alerts.store import Store
from alerts.timefmt import parse_ts_ms, rfc3339

TRACK_LIMIT = 500
ALERT_LIMIT = 50
# venues under a prohibition order can be thousands; the map shows the nearest
ZONE_LIMIT = 100
_HOUR_MS = 3_600_000


def build_person_router(runtime: OfficerService, Auth, now_ms: Callable[[], int], audit,
                        not_found: Callable[[], HTTPException]) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["feed"])

    @router.get("/persons/{person_id}", response_model=m.PersonDetail,
                responses={404: {"model": m.ProblemResponse}})
    def person_detail(who: Auth, person_id: str,
                      hours: Annotated[int, Query(ge=1, le=72, description="track and timeline "
                                                  "span, hours back from now")] = 12):
        """社区矫正对象 at a glance: status, recent track, open alerts, leave, timeline."""
        view = who.view
        person = view.persons.get(person_id)
        released = person is None
        if released:
            person = view.former.get(person_id)
        if person is None or not who.scope.sees_person(person.office_id):
            raise not_found()
        tz = view.bundle.settings.timezone
        now = now_ms()
        since = now - hours * _HOUR_MS
        store = runtime.store
        points = store.tracks.track(person_id, since, now, limit=TRACK_LIMIT)
        alerts = [r for r in _person_alerts(store, person_id) if who.sees(r)]
        status = None if released else status_now(runtime, person, points, alerts, now, tz)
        zone_id = next((z for z in person.zones if view.zones.get(z) is not None
                        and view.zones[z].kind == "inclusion"), None)
        zones = view.zones_of(person)
        last = status.last_fix if status else None
        near = (last.lat, last.lon) if last else (
            (points[-1]["lat"], points[-1]["lon"]) if points else None)
        shown = _nearest_first(zones, near)[:ZONE_LIMIT]
        timeline = _timeline(store, person_id, alerts, view.bundle.permits, since, now, tz)
        audit(who.officer_id, "read_person", person_id, None,
              {"since_ms": since, "until_ms": now, "points": len(points),
               "alerts": len(alerts)})
        return m.PersonDetail(
            # phone and address: personal data, in this audited read only
            person=m.Person(person_id=person.person_id, name=person.name,
                            office_id=person.office_id, officer_id=person.officer_id,
                            risk=person.risk, officer_name=view.officer_name(person.officer_id),
                            office_name=view.office_names.name(person.office_id),
                            phone=person.phone, address=person.address),
            released=released, status=status, zone=view.zone_outline(zone_id),
            zones=[view.zone_outline(z.zone_id) for z in shown], zones_total=len(zones),
            track=m.Track(person_id=person_id, since_ms=since, until_ms=now, points=points),
            alerts=[view.enrich(r) for r in _open_first(alerts)],
            permits=_permits(view.bundle.permits, person_id, now, tz),
            timeline=timeline, device_check=_device_check(store, person_id, now))

    return router


def _device_check(store: Store, person_id: str, now: int) -> DeviceCheck:
    """需核查设备: the person's resolved alerts of the rule's window (alerts/fatigue.py)."""
    return device_check(store.alerts.resolved_alerts(device_check_since(now), person_id), now)
def _nearest_first(zones: list, near: tuple[float, float] | None) -> list:
    """Inclusion zones first, then exclusion zones by distance from `near` (lat, lon),
    nearest first; a rough planar distance in degrees is enough to order them."""
    if near is None:
        return zones
    lat, lon = near
    kx = math.cos(math.radians(lat))

    def key(z) -> tuple:
        if z.kind == "inclusion":
            return (0, 0.0)
        c = z.geometry.centroid
        return (1, math.hypot((c.x - lon) * kx, c.y - lat))

    return sorted(zones, key=key)


def live_state(runtime: OfficerService, person_id: str) -> dict | None:
    """The engine's view of the person where the service holds it (stream/live.py); None for
    a person not in the bundle, and in Kafka mode, where the state is in the workers."""
    try:
        return runtime.person_status(person_id)
    except NotInThisMode:
        return None


def _person_alerts(store: Store, person_id: str) -> list[dict]:
    return store.alerts.person_alerts(person_id, limit=ALERT_LIMIT)


def _is_open(r: dict) -> bool:
    return r.get("handling") != "resolved" or r.get("condition") == "active"


def _open_first(alerts: list[dict]) -> list[dict]:
    return sorted(alerts, key=lambda r: (not _is_open(r), -_ms(r.get("opened_at"))))


def _ms(text) -> int:
    return parse_ts_ms(text) if text else 0


def status_now(runtime: OfficerService, person, points: list[dict], alerts: list[dict], now: int,
               tz: str) -> m.PersonStatus:
    """失联, 关机, location off, last seen and last fix, from the engine's state where the
    runtime holds it, else from `points` (the recent track) and the active `alerts`."""
    active = {r["type"] for r in alerts if r.get("condition") == "active"}
    st = live_state(runtime, person.person_id)
    timeout_ms = round(person.silence_timeout_s * 1000)
    last_fix = None
    if st and st.get("last_fix"):
        f = st["last_fix"]
        last_fix = m.LastFix(ts_ms=f["ts"], at=rfc3339(f["ts"], tz), lat=f["lat"], lon=f["lon"],
                             accuracy_m=f["accuracy_m"])
    elif points:
        p = points[-1]
        last_fix = m.LastFix(ts_ms=p["ts"], at=rfc3339(p["ts"], tz), lat=p["lat"], lon=p["lon"],
                             accuracy_m=p.get("accuracy_m"))
    last_seen = st.get("last_seen_ms") if st else (last_fix.ts_ms if last_fix else None)
    feed_down = bool(st and st.get("feed_down"))
    due = st.get("silence_due_ms") if st else None
    overdue = due is not None and due <= now and not feed_down
    return m.PersonStatus(last_seen_ms=last_seen, last_seen=rfc3339(last_seen, tz),
                          last_fix=last_fix,
                          silent="signal_lost" in active or overdue,
                          silence_timeout_s=timeout_ms / 1000,
                          device_off="device_off" in active,
                          location_disabled="location_disabled" in active, feed_down=feed_down)


def _permits(permits, person_id: str, now: int, tz: str) -> list[m.PermitInfo]:
    out = []
    for p in sorted(permits, key=lambda p: (p.start, p.permit_id)):
        if p.person_id != person_id or p.effective_end <= now:
            continue
        out.append(m.PermitInfo(
            permit_id=p.permit_id, start=rfc3339(p.start, tz), end=rfc3339(p.end, tz),
            revoked_at=rfc3339(p.revoked_at, tz), destination=p.destination,
            suspend_zones=list(p.suspend_zones) if p.suspend_zones is not None else None,
            state="active" if p.start <= now else "upcoming"))
    return out


def _timeline(store: Store, person_id: str, alerts: list[dict], permits, since: int, until: int,
              tz: str) -> list[m.TimelineEntry]:
    """Fixes counted per hour (a track is hundreds of points; an hour says enough), status
    events one by one (heartbeats are not kept), each change of each alert, leave start/end."""
    out: list[dict] = []
    for h in store.tracks.fix_hours(person_id, since, until):
        out.append({"at_ms": h["first_ms"], "kind": "fixes", "count": h["count"],
                    "until_ms": h["last_ms"]})
    for s in store.tracks.statuses(person_id, since, until):
        out.append({"at_ms": s["ts"], "kind": "status", "event": s["event"]})
    for r in alerts:
        out += _alert_changes(store, r)
    for p in permits:
        if p.person_id != person_id:
            continue
        for change, at in (("start", p.start), ("end", p.effective_end)):
            out.append({"at_ms": at, "kind": "permit", "change": change,
                        "permit_id": p.permit_id, "destination": p.destination})
    out = [e for e in out if since <= e["at_ms"] <= until]
    out.sort(key=lambda e: (e["at_ms"], e["kind"]), reverse=True)
    return [m.TimelineEntry(at=rfc3339(e["at_ms"], tz), until=rfc3339(e.get("until_ms"), tz), **e)
            for e in out]


def _alert_changes(store: Store, latest: dict) -> list[dict]:
    """What each version changed, at the instant the record names for it (an acknowledgement
    names none: the store's write time then, when it has one)."""
    versions = sorted(store.alerts.history(latest["alert_id"]), key=lambda r: r["version"])
    written = store.alerts.written_times(latest["alert_id"])
    out, prev = [], None
    for v in versions:
        base = {"kind": "alert", "alert_id": v["alert_id"], "type": v["type"],
                "severity": v["severity"]}
        changes: list[tuple[str, int | None]] = []
        if prev is None:
            changes.append(("opened", _ms(v.get("opened_at"))))
        else:
            if v["condition"] != prev["condition"]:
                changes.append(("cleared", _ms(v.get("cleared_at"))) if v["condition"] == "cleared"
                               else ("reopened", _ms(v.get("last_event_at"))))
            if v["handling"] != prev["handling"]:
                res = v.get("resolution") or {}
                at = _ms(res.get("at")) if v["handling"] == "resolved" else None
                changes.append((v["handling"], at or written.get(v["version"])))
            if v.get("escalated") and not prev.get("escalated"):
                steps = v.get("route") or []
                changes.append(("escalated", _ms(steps[-1].get("at")) if steps else None))
        out += [{**base, "change": c, "at_ms": at} for c, at in changes if at]
        prev = v
    return out
