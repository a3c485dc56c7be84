"""GET /v1/persons (社区矫正对象 the caller may see) and /v1/persons/{id}/track (their fixes).
Reading a track is audited (`read_track`), here and on an alert's detail."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at runtime.
from typing import Annotated

from fastapi import APIRouter, Query

from alerts.feed import models as m
from alerts.feed.problems import no_such_person, problem
from alerts.feed.routes.deps import Auth, Caller, Feed, FeedDep

TRACK_LIMIT = 500
# track playback: three and a half days at a fix a minute; a longer period answers the
# latest, marked `truncated`, and the page asks for a shorter one
TRACK_MAX = 5000
DEFAULT_SPAN_MS = 2 * 3600_000

router = APIRouter(prefix="/v1", tags=["feed"])


@router.get("/persons", response_model=list[m.Person])
def persons(who: Auth):
    """社区矫正对象 the caller may see."""
    view = who.view
    return [m.Person(person_id=p.person_id, name=p.name, office_id=p.office_id,
                     officer_id=p.officer_id, risk=p.risk,
                     officer_name=view.officer_name(p.officer_id),
                     office_name=view.office_names.name(p.office_id))
            for p in view.bundle.persons if who.scope.sees_person(p.office_id)]


@router.get("/persons/{person_id}/track", response_model=m.Track,
            responses={404: {"model": m.ProblemResponse}})
def person_track(feed: FeedDep, who: Auth, person_id: str,
                 since_ms: Annotated[int | None, Query(ge=0, le=m.TS_MS_MAX)] = None,
                 until_ms: Annotated[int | None, Query(ge=0, le=m.TS_MS_MAX)] = None,
                 drill: bool = False,
                 limit: Annotated[int, Query(ge=1, le=TRACK_MAX, description="at most "
                                             "this many fixes, the latest")] = TRACK_LIMIT):
    """A person's fixes (default: the last two hours; `drill`: the drill's), at most
    `limit`, the latest (`truncated` says when there were more).
    Audited."""
    person = who.view.persons.get(person_id)
    if person is None or not who.scope.sees_person(person.office_id):
        raise no_such_person()
    until = until_ms if until_ms is not None else feed.now_ms()
    since = since_ms if since_ms is not None else until - DEFAULT_SPAN_MS
    if until < since:
        raise problem(422, "bad_range", "开始时间须早于结束时间",
                      "the range must start before it ends")
    return track_of(feed, who, person_id, since, until, drill=drill, limit=limit)


def track_of(feed: Feed, who: Caller, person_id: str, since: int, until: int,
             alert_id: str | None = None, drill: bool = False,
             limit: int = TRACK_LIMIT) -> m.Track:
    """The person's fixes in [since, until], the latest `limit`; audited."""
    # one more than asked: whether the range held more than `limit` fixes. A drill's fixes
    # are kept apart from real ones, like its alerts.
    points = feed.service.store.tracks.track(person_id, since, until, limit=limit + 1, drill=drill)
    truncated = len(points) > limit
    points = points[-limit:]
    feed.audit(who.officer_id, "read_track", person_id, None,
               {"alert_id": alert_id, "since_ms": since, "until_ms": until, "drill": drill,
                "points": len(points)})
    return m.Track(person_id=person_id, since_ms=since, until_ms=until,
                   points=[m.TrackPoint(**p) for p in points], truncated=truncated)
