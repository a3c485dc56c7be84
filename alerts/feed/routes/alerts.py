"""GET /v1/alerts (the caller's triage list) and /v1/alerts/{id} (one alert with its history,
zone and the person's track around it). An id outside the caller's scope answers 404, exactly
like an id that does not exist, so that office B's ids cannot be probed from office A."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at runtime.
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from alerts.feed import models as m
from alerts.feed.problems import no_such_alert
from alerts.feed.routes.deps import Auth, Caller, Feed, FeedDep
from alerts.feed.routes.persons import track_of
from alerts.kinds import ALERT_TYPES
from alerts.timefmt import ms_or_none
from alerts.triage import HANDLING_STATES, SEVERITIES, AlertQuery

# The map shows the person's fixes from this long before the alert opened...
TRACK_BEFORE_MS = 60 * 60_000
# ...to this long after it last changed.
TRACK_AFTER_MS = 10 * 60_000

AlertType = Literal[ALERT_TYPES]  # type: ignore[valid-type]
Handling = Literal[HANDLING_STATES]  # type: ignore[valid-type]
Severity = Literal[SEVERITIES]  # type: ignore[valid-type]
NOT_FOUND = {"model": m.ProblemResponse, "description": "no such alert (or not yours)"}

router = APIRouter(prefix="/v1", tags=["feed"])


@dataclass(frozen=True, slots=True)
class ListParams:
    """The list's filters and page as the query gave them."""

    office: list[str] | None
    type: list[str] | None
    handling: list[str] | None
    severity: list[str] | None
    mine: bool
    person: str | None
    since_ms: int | None
    until_ms: int | None
    drill: bool
    limit: int
    offset: int


async def list_params(
    office: Annotated[list[str] | None, Query(description="司法所 office_id; repeatable")] = None,
    type: Annotated[list[AlertType] | None, Query(description="alert type; repeatable")] = None,
    handling: Annotated[list[Handling] | None,
                        Query(description="handling state; repeatable (default: all)")] = None,
    severity: Annotated[list[Severity] | None, Query(description="severity; repeatable")] = None,
    mine: Annotated[bool, Query(description="only alerts whose current officer is me")] = False,
    person: Annotated[str | None, Query(max_length=64,
                                        description="person id, or part of a name")] = None,
    since_ms: Annotated[int | None, Query(description="opened at or after (epoch ms)")] = None,
    until_ms: Annotated[int | None, Query(description="opened before (epoch ms)")] = None,
    drill: Annotated[bool, Query(description="true: the drill view (演练) only")] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ListParams:
    return ListParams(office, type, handling, severity, mine, person, since_ms, until_ms, drill,
                      limit, offset)


@router.get("/alerts", response_model=m.AlertList)
def list_alerts(feed: FeedDep, who: Auth, q: Annotated[ListParams, Depends(list_params)]):
    """The caller's alerts in triage order: unacknowledged escalated or critical alerts
    first, then by severity, then newest first; one page of `total`. `counts`: totals per
    handling state under the other filters; `attention`: over the whole scope, what is
    unread for the caller and how many critical alerts nobody has acknowledged. Real and
    drill alerts never mix."""
    store = feed.service.store
    page = store.alerts.triage(filtered_query(who, q), who.officer_id, limit=q.limit, offset=q.offset)
    # checked again here, whatever the store did with the filters: nothing leaks
    rows = [who.view.enrich(r) for r in page.alerts if who.sees(r)]
    attention = store.alerts.attention(scoped_query(who, q.drill), who.officer_id)
    return m.AlertList(alerts=rows, drill=q.drill, total=page.total, offset=q.offset,
                       counts=m.HandlingCounts(**page.counts), attention=m.Attention(**attention))


def _set(values: list[str] | None) -> frozenset[str] | None:
    return frozenset(values) if values else None


def filtered_query(who: Caller, q: ListParams) -> AlertQuery:
    matching = person_ids_matching(who, q.person) if q.person and q.person.strip() else None
    return scoped_query(
        who, q.drill, handling=_set(q.handling), assigned_to=who.officer_id if q.mine else None,
        offices=_set(q.office), types=_set(q.type), severities=_set(q.severity),
        person_ids=matching, opened_from_ms=q.since_ms, opened_before_ms=q.until_ms)


def scoped_query(who: Caller, drill: bool, **filters) -> AlertQuery:
    scope = who.scope
    if scope.everything:
        return AlertQuery(drill=drill, **filters)
    return AlertQuery(drill=drill, routed_to=frozenset(scope.officer_ids or ()),
                      of_offices=frozenset(scope.office_ids or ()), **filters)


def person_ids_matching(who: Caller, text: str) -> frozenset[str]:
    """Persons whose id is `text` or whose name contains it (names live in the bundle,
    not in the store)."""
    text = text.strip().casefold()
    people = [*who.view.persons.values(), *who.view.former.values()]
    return frozenset(p.person_id for p in people
                     if p.person_id.casefold() == text or text in p.name.casefold())


@router.get("/alerts/{alert_id}", response_model=m.AlertDetail, responses={404: NOT_FOUND})
def alert_detail(feed: FeedDep, who: Auth, alert_id: str):
    """The alert, its history, its zone and the person's recent track for the map.
    Reading the track is audited; opening it marks it read for the caller."""
    store = feed.service.store
    record = scoped_alert(feed, who, alert_id)
    store.alerts.mark_read(who.officer_id, [alert_id], feed.now_ms())
    history = sorted(store.alerts.history(alert_id), key=lambda r: r["version"])
    track = None
    if record.get("person_id"):
        since, until = track_span(record, feed.now_ms())
        track = track_of(feed, who, record["person_id"], since, until, alert_id,
                         bool(record.get("drill")))
    return m.AlertDetail(alert=who.view.enrich(record),
                         history=[who.view.enrich(r) for r in history],
                         zone=who.view.zone_outline(record.get("zone_id")), track=track)


def track_span(record: dict, now: int) -> tuple[int, int]:
    """From an hour before the alert opened to ten minutes after it last changed."""
    ends = [e for e in (ms_or_none(record.get(k)) for k in ("opened_at", "last_event_at", "cleared_at"))
            if e is not None]
    since = (ms_or_none(record.get("opened_at")) or now) - TRACK_BEFORE_MS
    until = max(ends) + TRACK_AFTER_MS if any(ends) else now
    return since, until


def scoped_alert(feed: Feed, who: Caller, alert_id: str) -> dict:
    """The alert's latest record, or 404 when it does not exist or is not the caller's."""
    record = feed.service.store.alerts.latest(alert_id)
    if record is None or not who.sees(record):
        raise no_such_alert()
    return record
