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
from collections.abc import Callable

from fastapi import APIRouter

from alerts.feed import models as m
from alerts.feed.person import live_state, status_now
from alerts.timefmt import rfc3339


def build_roster_router(runtime, Auth, now_ms: Callable[[], int], audit) -> APIRouter:  # noqa: N803
    router = APIRouter(prefix="/v1", tags=["feed"])

    @router.get("/roster", response_model=m.Roster)
    def roster(who: Auth):
        """对象名册: every person the caller may see, with their state now."""
        view, now = who.view, now_ms()
        tz = view.bundle.settings.timezone
        persons = [p for p in view.bundle.persons if who.scope.sees_person(p.office_id)]
        offices = who.scope.offices
        open_alerts = [r for r in runtime.store.open_alerts(
            set(offices) if offices is not None else None) if who.sees(r)]
        by_person: dict[str, list[dict]] = defaultdict(list)
        for r in open_alerts:
            by_person[r["person_id"]].append(r)
        leave = _on_leave(view.bundle.permits, now)
        # Kafka mode's runtime answers None for everyone: the state is in the workers
        live = bool(persons) and live_state(runtime, persons[0].person_id) is not None
        out, feed_down = [], False
        for p in persons:
            mine = by_person.get(p.person_id, [])
            st = status_now(runtime, p, [], mine, now, tz)
            feed_down = feed_down or st.feed_down
            until = leave.get(p.person_id)
            officer = view.officers.get(p.officer_id)
            out.append(m.RosterEntry(
                person_id=p.person_id, name=p.name, office_id=p.office_id,
                officer_id=p.officer_id, officer_name=officer.name if officer else None,
                mine=p.officer_id == who.officer_id, risk=p.risk, last_seen=st.last_seen,
                last_fix=st.last_fix.at if st.last_fix else None, silent=st.silent,
                device_off=st.device_off, location_disabled=st.location_disabled,
                on_leave=until is not None, leave_until=rfc3339(until, tz),
                open_alerts=len(mine)))
        out.sort(key=lambda e: (not e.mine, e.office_id, e.person_id))
        audit(who.officer_id, "read_roster", who.officer_id, None, {"persons": len(out)})
        return m.Roster(persons=out, live_state=live, feed_down=feed_down)

    return router


def _on_leave(permits, now: int) -> dict[str, int]:
    """Person -> when their current leave ends, for persons on leave now."""
    out: dict[str, int] = {}
    for p in permits:
        if p.start <= now < p.effective_end:
            out[p.person_id] = max(out.get(p.person_id, 0), p.effective_end)
    return out
