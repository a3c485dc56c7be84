"""Alert update records, exactly as SPEC §4 lays them out."""

from __future__ import annotations

from alerts.caseload import Caseload
from alerts.incidents import Incident
from alerts.kinds import message
from alerts.timefmt import rfc3339, utc_rfc3339


def _resolution(res: dict | None, tz: str) -> dict | None:
    if res is None:
        return None
    return {**res, "at": rfc3339(res["at"], tz)}


def update_record(inc: Incident, cl: Caseload, drill: bool) -> dict:
    tz = cl.tz
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
        location = {"lat": round(lat, 7), "lon": round(lon, 7), "accuracy_m": round(acc, 1)}
    return {
        "alert_id": inc.alert_id,
        "version": inc.version,
        "person_id": inc.person_id or None,
        "type": inc.type,
        "zone_id": inc.zone_id,
        "severity": inc.severity,
        "condition": inc.condition,
        "handling": inc.handling,
        "opened_at": rfc3339(inc.opened_at, tz),
        "last_event_at": rfc3339(inc.last_event_at, tz),
        "cleared_at": rfc3339(inc.cleared_at, tz),
        "event_count": inc.event_count,
        "reopen_count": inc.reopen_count,
        "detected_at": utc_rfc3339(inc.detected_at) if inc.detected_at is not None else None,
        "location": location,
        "officer_id": inc.officer_id or officer_id,
        "route": list(inc.route),
        "escalated": inc.escalated,
        "drill": drill,
        "late": inc.late,
        "resolution": _resolution(inc.resolution, tz),
        "message": message(inc.type, person_name, zone_name, inc.condition, drill),
    }
