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
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from fastapi import APIRouter

from alerts.feed import models as m
from alerts.timefmt import rfc3339

# open alert types that say what the person's device is doing now
_SILENT, _OFF, _LOCATION_OFF = "signal_lost", "device_off", "location_disabled"


@runtime_checkable
class PersonState(Protocol):
    """A runtime that holds each person's live state (stream/live.py); Kafka mode's answers
    None for everyone: the state is in the workers."""

    def person_status(self, person_id: str) -> dict | None: ...


def _unknown(person_id: str) -> None:  # noqa: ARG001
    return None


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
        counts = Counter(r["person_id"] for r in open_alerts)
        active: dict[str, set[str]] = defaultdict(set)
        for r in open_alerts:
            if r.get("condition") == "active":
                active[r["person_id"]].add(r["type"])
        leave = _on_leave(view.bundle.permits, now)
        live = runtime.person_status if isinstance(runtime, PersonState) else _unknown
        feed_down = known = False
        out = []
        for p in persons:
            st = live(p.person_id)
            known = known or st is not None
            feed_down = feed_down or bool(st and st.get("feed_down"))
            due = st.get("silence_due_ms") if st else None
            overdue = due is not None and due <= now and not (st and st.get("feed_down"))
            fix = (st or {}).get("last_fix")
            types = active.get(p.person_id, set())
            until = leave.get(p.person_id)
            out.append(m.RosterEntry(
                person_id=p.person_id, name=p.name, office_id=p.office_id,
                officer_id=p.officer_id, officer_name=getattr(
                    view.officers.get(p.officer_id), "name", None),
                mine=p.officer_id == who.officer_id, risk=p.risk,
                last_seen=rfc3339(st.get("last_seen_ms"), tz) if st else None,
                last_fix=rfc3339(fix["ts"], tz) if fix else None,
                silent=_SILENT in types or overdue, device_off=_OFF in types,
                location_disabled=_LOCATION_OFF in types, on_leave=until is not None,
                leave_until=rfc3339(until, tz), open_alerts=counts.get(p.person_id, 0)))
        out.sort(key=lambda e: (not e.mine, e.office_id, e.person_id))
        audit(who.officer_id, "read_roster", who.officer_id, None, {"persons": len(out)})
        return m.Roster(persons=out, live_state=known, feed_down=feed_down)

    return router


def _on_leave(permits, now: int) -> dict[str, int]:
    """Person -> when their current leave ends, for persons on leave now."""
    out: dict[str, int] = {}
    for p in permits:
        if p.start <= now < p.effective_end:
            out[p.person_id] = max(out.get(p.person_id, 0), p.effective_end)
    return out
