"""GET /v1/roster: 对象名册, the caller's persons and how each is doing now: last seen, 失联,
关机, location off, on leave (请假外出), open alerts. What an officer checks at the start of a
shift, not only the persons who happen to have an alert.

Who is listed follows the person view (`Scope.sees_person`): an officer the persons of their
office (their own first), a supervisor their offices', an admin everyone. Open alerts are
counted as the list shows them (`Caller.sees`). Reading it is audited (`read_roster`). In
Kafka mode the live state is in the workers: last seen is unknown there, and 失联/关机 come
from open alerts only (`live_state` false).
"""

# No `from __future__ import annotations`: FastAPI reads the endpoint's annotations at runtime.
from collections import defaultdict

from fastapi import APIRouter

from alerts.feed import models as m
from alerts.feed.person import live_state, status_now
from alerts.feed.routes.deps import Auth, Caller, FeedDep
from alerts.service import OfficerService
from alerts.timefmt import rfc3339
from config.model import PersonSpec

router = APIRouter(prefix="/v1", tags=["feed"])


@router.get("/roster", response_model=m.Roster)
def roster(feed: FeedDep, who: Auth):
    """对象名册: every person the caller may see, with their state now."""
    service, view, now = feed.service, who.view, feed.now_ms()
    tz = view.bundle.settings.timezone
    persons = [p for p in view.bundle.persons if who.scope.sees_person(p.office_id)]
    by_person = _open_alerts_by_person(service, who)
    leave = _on_leave(view.bundle.permits, now)
    statuses = [status_now(service, p, [], by_person.get(p.person_id, []), now, tz)
                for p in persons]
    out = [_entry(who, p, st, len(by_person.get(p.person_id, [])), leave.get(p.person_id), tz)
           for p, st in zip(persons, statuses, strict=True)]
    out.sort(key=lambda e: (not e.mine, e.office_id, e.person_id))
    feed.audit(who.officer_id, "read_roster", who.officer_id, None, {"persons": len(out)})
    return m.Roster(persons=out, live_state=_holds_live_state(service, persons),
                    feed_down=any(st.feed_down for st in statuses))


def _open_alerts_by_person(service: OfficerService, who: Caller) -> dict[str, list[dict]]:
    """The open alerts the caller's list shows, by person."""
    offices = who.scope.offices
    by_person: dict[str, list[dict]] = defaultdict(list)
    for r in service.store.alerts.open_alerts(set(offices) if offices is not None else None):
        if who.sees(r):
            by_person[r["person_id"]].append(r)
    return by_person


def _holds_live_state(service: OfficerService, persons: list[PersonSpec]) -> bool:
    # Kafka mode refuses person_status: the state is in the workers
    return bool(persons) and live_state(service, persons[0].person_id) is not None


def _entry(who: Caller, p: PersonSpec, st: m.PersonStatus, open_alerts: int,
           leave_until: int | None, tz: str) -> m.RosterEntry:
    officer = who.view.officers.get(p.officer_id)
    return m.RosterEntry(
        person_id=p.person_id, name=p.name, office_id=p.office_id,
        officer_id=p.officer_id, officer_name=officer.name if officer else None,
        mine=p.officer_id == who.officer_id, risk=p.risk, last_seen=st.last_seen,
        last_fix=st.last_fix.at if st.last_fix else None, silent=st.silent,
        device_off=st.device_off, location_disabled=st.location_disabled,
        on_leave=leave_until is not None, leave_until=rfc3339(leave_until, tz),
        open_alerts=open_alerts)


def _on_leave(permits, now: int) -> dict[str, int]:
    """Person -> when their current leave ends, for persons on leave now."""
    out: dict[str, int] = {}
    for p in permits:
        if p.start <= now < p.effective_end:
            out[p.person_id] = max(out.get(p.person_id, 0), p.effective_end)
    return out
