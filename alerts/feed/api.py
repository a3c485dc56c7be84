"""The officers' feed over HTTP: `build_router(runtime)` gives every endpoint and the page.

`runtime` is what the live service runs (stream/live.py): `.bundle`, `.store`,
`.submit_action(action) -> updates` (raises alerts.actions.ActionError) and
`.subscribe() -> sub` (`sub.get(timeout) -> record | None`, `sub.close()`). In Kafka mode
(stream/kafka/officer.py) `submit_action` may raise ActionPending: the action went to the
workers and its result is not back yet; the answer is then 202 with `pending: true`.

Every endpoint asks `scope_for` what the caller may see, and an id outside it answers 404,
exactly like an id that does not exist, so that office B's ids cannot be probed from office A.
Actions and reads of a person's track are written to the store's audit log.
"""

# No `from __future__ import annotations` here: FastAPI reads the endpoints' annotations at
# runtime, and `Auth` is local to build_router, out of reach of a string annotation.
import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal, Protocol, runtime_checkable

import anyio
import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from alerts.actions import ActionError, ActionPending
from alerts.feed import models as m
from alerts.feed.access import SESSION_TTL_S, Access, LoginRefused, Scope, Session, scope_for
from alerts.feed.basemap import build_map_router
from alerts.feed.page import static_routes
from alerts.feed.person import build_person_router
from alerts.feed.roster import build_roster_router
from alerts.feed.stream import RESYNC, Broadcaster
from alerts.feed.summary_page import build_summary_router
from alerts.feed.view import BundleView, ViewCache
from alerts.feed.words import vocabulary
from alerts.kinds import ALERT_TYPES, TAMPER
from alerts.triage import HANDLING_STATES, SEVERITIES, AlertQuery

# The map shows the person's fixes from this long before the alert opened...
TRACK_BEFORE_MS = 60 * 60_000
# ...to this long after it last changed.
TRACK_AFTER_MS = 10 * 60_000
TRACK_LIMIT = 500
# track playback: three and a half days at a fix a minute; a longer period answers the
# latest, marked `truncated`, and the page asks for a shorter one
TRACK_MAX = 5000
# The stream says something at least this often, so that proxies keep it open and a page can
# tell a quiet feed from a dead connection; the session is checked again each time.
HEARTBEAT_S = 15.0
# A bulk action's alerts go to the engine this many at a time: enough to share its steps.
BULK_THREADS = 16

AlertType = Literal[ALERT_TYPES]  # type: ignore[valid-type]
_bearer = HTTPBearer(auto_error=False, description="the token from POST /v1/login")
_NOT_FOUND = {"model": m.ProblemResponse, "description": "no such alert (or not yours)"}


def problem(status_code: int, code: str, zh: str, en: str, headers=None) -> HTTPException:
    return HTTPException(status_code, {"code": code, "zh": zh, "en": en}, headers=headers)


def _no_such_alert() -> HTTPException:
    return problem(404, "not_found", "没有该告警", "no such alert")


def _ms(text: str | None) -> int | None:
    return int(datetime.fromisoformat(text).timestamp() * 1000) if text else None


def _handling(record: dict) -> dict:
    """What an action changes, for the audit log's before/after."""
    return {k: record.get(k) for k in ("version", "handling", "condition", "escalated",
                                         "officer_id", "resolution")}


@runtime_checkable
class ReportsHealth(Protocol):
    """A runtime that knows its own health (stream/live.py, the Kafka officer service)."""

    def stats(self) -> dict: ...


@dataclass(frozen=True, slots=True)
class Caller:
    session: Session
    scope: Scope
    view: BundleView

    @property
    def officer_id(self) -> str:
        return self.session.officer.officer_id

    def sees(self, record: dict | None) -> bool:
        return record is not None and self.scope.sees_alert(
            record, self.view.person_office(record.get("person_id")))


class _RedactTokens(logging.Filter):
    """EventSource cannot send headers, so its token rides in the URL: keep it out of the
    access log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any("token=" in str(a) for a in record.args):
            record.args = tuple(_redact(a) for a in record.args)
        return True


def _redact(value):
    if not isinstance(value, str) or "token=" not in value:
        return value
    head, _, tail = value.partition("token=")
    rest = tail.split("&", 1)
    return head + "token=…" + ("&" + rest[1] if len(rest) > 1 else "")


def build_router(runtime, *, clock: Callable[[], float] = time.time,
                 session_ttl_s: float | None = None, heartbeat_s: float = HEARTBEAT_S,
                 ) -> APIRouter:
    views = ViewCache(runtime)
    if session_ttl_s is None:
        session_ttl_s = getattr(runtime.bundle.settings, "session_ttl_s", SESSION_TTL_S)
    access = Access(runtime.store.path, lambda oid: views.get().officers.get(oid),
                    ttl_s=session_ttl_s, clock=clock)
    broadcaster = Broadcaster(runtime)
    access_log = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _RedactTokens) for f in access_log.filters):
        access_log.addFilter(_RedactTokens())

    def now_ms() -> int:
        return int(clock() * 1000)

    def audit(who: str, what: str, target: str, before, after) -> None:
        runtime.store.audit(who, what, target, before, after, now_ms())

    def authenticate(token: str | None) -> Caller:
        session = access.session(token)
        if session is None:
            raise problem(401, "unauthorized", "请先登录", "please log in",
                          headers={"WWW-Authenticate": "Bearer"})
        view = views.get()
        return Caller(session, scope_for(session.officer, view.bundle), view)

    def caller(creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
               response: Response) -> Caller:
        # personal data: no browser or proxy cache may keep a copy
        response.headers["Cache-Control"] = "no-store"
        return authenticate(creds.credentials if creds else None)

    Auth = Annotated[Caller, Depends(caller)]

    def scoped_alert(who: Caller, alert_id: str) -> dict:
        record = runtime.store.latest(alert_id)
        if not who.sees(record):
            raise _no_such_alert()
        return record

    def track_of(who: Caller, person_id: str, since: int, until: int, alert_id=None,
                 drill: bool = False, limit: int = TRACK_LIMIT) -> m.Track:
        # a drill's fixes are kept apart from real ones, like its alerts
        kw = {"drill": True} if drill else {}
        # one more than asked: whether the range held more than `limit` fixes
        points = runtime.store.track(person_id, since, until, limit=limit + 1, **kw)
        truncated = len(points) > limit
        points = points[-limit:]
        audit(who.officer_id, "read_track", person_id, None,
              {"alert_id": alert_id, "since_ms": since, "until_ms": until, "drill": drill,
               "points": len(points)})
        return m.Track(person_id=person_id, since_ms=since, until_ms=until, points=points,
                       truncated=truncated)

    router = APIRouter()
    api = APIRouter(prefix="/v1", tags=["feed"])

    @api.post("/login", response_model=m.LoginResult,
              responses={401: {"model": m.ProblemResponse}, 429: {"model": m.ProblemResponse}})
    def login(body: m.LoginBody, response: Response):
        """Exchange an officer's id and password for a bearer token (expires, see `me`)."""
        response.headers["Cache-Control"] = "no-store"
        try:
            session = access.login(body.officer_id, body.password)
        except LoginRefused as e:
            if e.reason == "locked":
                raise problem(429, "locked", f"密码错误次数过多，请 {e.retry_after_s // 60 + 1} 分钟后再试",
                              f"too many wrong passwords, try again in {e.retry_after_s // 60 + 1} min",
                              headers={"Retry-After": str(e.retry_after_s)}) from None
            raise problem(401, "bad_credentials", "工号或密码错误",
                          "wrong officer id or password") from None
        audit(session.officer.officer_id, "login", session.officer.officer_id, None,
              {"expires_at_ms": session.expires_at_ms})
        view = views.get()
        return m.LoginResult(token=session.token, expires_at_ms=session.expires_at_ms,
                             me=_me(Caller(session, scope_for(session.officer, view.bundle), view)))

    @api.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
    def logout(who: Auth):
        access.logout(who.session.token)
        audit(who.officer_id, "logout", who.officer_id, None, None)

    @api.get("/me", response_model=m.Me)
    def me(who: Auth):
        """The caller, the offices they may see, and when their session ends."""
        return _me(who)

    @api.get("/ops")
    def ops(who: Auth) -> dict[str, dict | None]:
        """What an operator must act on now (the bundle on disk refused, the store unable to
        write), for admins and shift leads; the page's banner reads it. Others get nothing."""
        if who.session.officer.role not in ("admin", "supervisor"):
            return {}
        health = runtime.stats() if isinstance(runtime, ReportsHealth) else {}
        return {"bundle_invalid": health.get("bundle_invalid"),
                "store_fault": health.get("store_fault")}

    @api.get("/words")
    def words() -> dict[str, dict[str, dict[str, str]]]:
        """The words the page shows (SPEC §7), in 中文 and English."""
        return vocabulary()

    def person_ids_matching(who: Caller, text: str) -> frozenset[str]:
        """Persons whose id is `text` or whose name contains it (names live in the bundle,
        not in the store)."""
        text = text.strip().casefold()
        people = [*who.view.persons.values(), *who.view.former.values()]
        return frozenset(p.person_id for p in people
                         if p.person_id.casefold() == text or text in p.name.casefold())

    def scoped_query(who: Caller, drill: bool, **filters) -> AlertQuery:
        scope = who.scope
        if scope.everything:
            return AlertQuery(drill=drill, **filters)
        return AlertQuery(drill=drill, routed_to=frozenset(scope.officer_ids or ()),
                          of_offices=frozenset(scope.office_ids or ()), **filters)

    @api.get("/alerts", response_model=m.AlertList)
    def list_alerts(
        who: Auth,
        office: Annotated[list[str] | None, Query(description="司法所 office_id; repeatable")] = None,
        type: Annotated[list[AlertType] | None, Query(description="alert type; repeatable")] = None,
        handling: Annotated[list[Literal[HANDLING_STATES]] | None,  # type: ignore[valid-type]
                            Query(description="handling state; repeatable (default: all)")] = None,
        severity: Annotated[list[Literal[SEVERITIES]] | None,  # type: ignore[valid-type]
                            Query(description="severity; repeatable")] = None,
        mine: Annotated[bool, Query(description="only alerts whose current officer is me")] = False,
        person: Annotated[str | None, Query(max_length=64,
                                            description="person id, or part of a name")] = None,
        since_ms: Annotated[int | None, Query(description="opened at or after (epoch ms)")] = None,
        until_ms: Annotated[int | None, Query(description="opened before (epoch ms)")] = None,
        drill: Annotated[bool, Query(description="true: the drill view (演练) only")] = False,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
        offset: Annotated[int, Query(ge=0)] = 0,
    ):
        """The caller's alerts in triage order: unacknowledged escalated or critical alerts
        first, then by severity, then newest first; one page of `total`. `counts`: totals per
        handling state under the other filters; `attention`: over the whole scope, what is
        unread for the caller and how many critical alerts nobody has acknowledged. Real and
        drill alerts never mix."""
        query = scoped_query(
            who, drill, handling=frozenset(handling) if handling else None,
            assigned_to=who.officer_id if mine else None,
            offices=frozenset(office) if office else None,
            types=frozenset(type) if type else None,
            severities=frozenset(severity) if severity else None,
            person_ids=person_ids_matching(who, person) if person and person.strip() else None,
            opened_from_ms=since_ms, opened_before_ms=until_ms)
        store = runtime.store
        page = store.triage(query, who.officer_id, limit=limit, offset=offset)
        # checked again here, whatever the store did with the filters: nothing leaks
        rows = [who.view.enrich(r) for r in page.alerts if who.sees(r)]
        return m.AlertList(alerts=rows, drill=drill, total=page.total, offset=offset,
                           counts=m.HandlingCounts(**page.counts),
                           attention=m.Attention(**store.attention(scoped_query(who, drill),
                                                                   who.officer_id)))

    @api.get("/alerts/{alert_id}", response_model=m.AlertDetail, responses={404: _NOT_FOUND})
    def alert_detail(who: Auth, alert_id: str):
        """The alert, its history, its zone and the person's recent track for the map.
        Reading the track is audited; opening it marks it read for the caller."""
        record = scoped_alert(who, alert_id)
        runtime.store.mark_read(who.officer_id, [alert_id], now_ms())
        history = sorted(runtime.store.history(alert_id), key=lambda r: r["version"])
        track = None
        if record.get("person_id"):
            ends = [_ms(record.get(k)) for k in ("opened_at", "last_event_at", "cleared_at")]
            since = (_ms(record.get("opened_at")) or now_ms()) - TRACK_BEFORE_MS
            until = max(e for e in ends if e is not None) + TRACK_AFTER_MS if any(ends) else now_ms()
            track = track_of(who, record["person_id"], since, until, alert_id,
                             bool(record.get("drill")))
        return m.AlertDetail(alert=who.view.enrich(record),
                             history=[who.view.enrich(r) for r in history],
                             zone=who.view.zone_outline(record.get("zone_id")), track=track)

    def act(who: Caller, alert_id: str, kind: str, extra: dict,
            response: Response) -> m.ActionResult:
        record = scoped_alert(who, alert_id)
        action = {"type": "action", "person_id": record.get("person_id"), "alert_id": alert_id,
                  "ts": now_ms(), "action": kind, "by": who.officer_id, **extra}
        try:
            updates = runtime.submit_action(action)
        except ActionError as e:
            audit(who.officer_id, kind, alert_id, _handling(record), {"refused": e.reason})
            if e.reason == "unknown_alert":
                raise problem(409, "expired", "该告警已过期，无法再操作",
                              "the alert has expired and can no longer be changed") from None
            raise problem(422, e.reason, f"操作被拒绝：{e}", f"refused: {e}") from None
        except ActionPending as e:
            # Kafka mode: sent to the workers, whose answer has not come back yet; the new
            # version reaches the page on the stream when it does
            audit(who.officer_id, kind, alert_id, _handling(record), {"pending": True})
            response.status_code = status.HTTP_202_ACCEPTED
            return m.ActionResult(alert=who.view.enrich(e.record or record), changed=False,
                                  pending=True)
        except (RuntimeError, TimeoutError) as e:
            audit(who.officer_id, kind, alert_id, _handling(record), {"failed": str(e)})
            raise problem(503, "unavailable", "服务暂时无法处理该操作，请稍后重试",
                          "the service cannot take the action now: try again shortly") from None
        new = next((u for u in reversed(updates) if u.get("alert_id") == alert_id), None)
        after = new or runtime.store.latest(alert_id) or record
        audit(who.officer_id, kind, alert_id, _handling(record), _handling(after))
        return m.ActionResult(alert=who.view.enrich(after), changed=new is not None)

    _pending = {"model": m.ActionResult,
                "description": "Kafka mode: sent to the workers, result not back yet (`pending`)"}

    @api.post("/alerts/{alert_id}/acknowledge", response_model=m.ActionResult,
              responses={202: _pending, 404: _NOT_FOUND, 409: {"model": m.ProblemResponse},
                         503: {"model": m.ProblemResponse}})
    def acknowledge(who: Auth, alert_id: str, response: Response):
        """签收: the officer has seen it; stops escalation."""
        return act(who, alert_id, "acknowledge", {}, response)

    @api.post("/alerts/{alert_id}/resolve", response_model=m.ActionResult,
              responses={202: _pending, 404: _NOT_FOUND, 409: {"model": m.ProblemResponse},
                         422: {"model": m.ProblemResponse}, 503: {"model": m.ProblemResponse}})
    def resolve(who: Auth, alert_id: str, body: m.ResolveBody, response: Response):
        """处置: close the case with a disposition. A tamper (防拆报警) needs a note."""
        record = scoped_alert(who, alert_id)
        return act(who, alert_id, "resolve", resolve_fields(who, record, body), response)

    def resolve_fields(who: Caller, record: dict, body: m.ResolveBody) -> dict:
        note = body.note.strip()
        if record.get("type") == TAMPER and not note:
            audit(who.officer_id, "resolve", record["alert_id"], _handling(record),
                  {"refused": "note_required"})
            raise problem(422, "note_required", "防拆报警须填写处置说明后才能处置",
                          "a tamper alert cannot be resolved without a note")
        # an empty note is no note: the engine refuses "" (SPEC §4: note is text when given)
        return {"disposition": body.disposition} | ({"note": note} if note else {})

    def act_one(who: Caller, alert_id: str, body: m.BulkBody) -> m.BulkOutcome:
        """One alert of a bulk action, through the same path (checks, engine, audit) as
        the single-alert endpoints."""
        scratch = Response()
        try:
            if body.action == "resolve":
                record = scoped_alert(who, alert_id)
                fields = resolve_fields(who, record, m.ResolveBody(
                    disposition=body.disposition, note=body.note))
            else:
                fields = {}
            res = act(who, alert_id, body.action, fields, scratch)
        except HTTPException as e:
            return m.BulkOutcome(alert_id=alert_id, ok=False, status=e.status_code,
                                 problem=m.Problem(**e.detail))
        return m.BulkOutcome(alert_id=alert_id, ok=True, status=scratch.status_code or 200,
                             changed=res.changed, pending=res.pending, alert=res.alert)

    @api.post("/alerts/bulk", response_model=m.BulkResult,
              responses={422: {"model": m.ProblemResponse}})
    def bulk(who: Auth, body: m.BulkBody):
        """签收 or 处置 many alerts with one disposition and note. Each alert is its own
        action through the engine, with its own audit entry and its own outcome here (one
        refused alert does not stop the others). Submitted side by side, so the engine takes
        them in a few steps rather than one step per alert."""
        ids = list(dict.fromkeys(body.alert_ids))
        with ThreadPoolExecutor(max_workers=min(BULK_THREADS, len(ids))) as pool:
            outcomes = list(pool.map(lambda a: act_one(who, a, body), ids))
        return m.BulkResult(results=outcomes, ok=sum(o.ok for o in outcomes),
                            failed=sum(not o.ok for o in outcomes))

    @api.get("/persons", response_model=list[m.Person])
    def persons(who: Auth):
        """社区矫正对象 the caller may see."""
        view = who.view
        return [m.Person(person_id=p.person_id, name=p.name, office_id=p.office_id,
                         officer_id=p.officer_id, risk=p.risk,
                         officer_name=view.officer_name(p.officer_id),
                         office_name=view.office_names.name(p.office_id))
                for p in view.bundle.persons if who.scope.sees_person(p.office_id)]

    @api.get("/persons/{person_id}/track", response_model=m.Track,
             responses={404: {"model": m.ProblemResponse}})
    def person_track(who: Auth, person_id: str,
                     since_ms: int | None = None, until_ms: int | None = None,
                     drill: bool = False,
                     limit: Annotated[int, Query(ge=1, le=TRACK_MAX, description="at most "
                                                 "this many fixes, the latest")] = TRACK_LIMIT):
        """A person's fixes (default: the last two hours; `drill`: the drill's), at most
        `limit`, the latest (`truncated` says when there were more).
        Audited."""
        person = who.view.persons.get(person_id)
        if person is None or not who.scope.sees_person(person.office_id):
            raise problem(404, "not_found", "没有该社区矫正对象", "no such person")
        until = until_ms if until_ms is not None else now_ms()
        since = since_ms if since_ms is not None else until - 2 * 3600_000
        if until < since:
            raise problem(422, "bad_range", "开始时间须早于结束时间", "the range must start "
                          "before it ends")
        return track_of(who, person_id, since, until, drill=drill, limit=limit)

    @api.get("/stream", response_class=StreamingResponse,
             responses={200: {"content": {"text/event-stream": {}},
                              "description": "`event: alert` with an Alert as `data`; "
                                             "`event: resync`: reload the list"}})
    async def stream(request: Request,
                     creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
                     token: Annotated[str | None, Query(description="for EventSource")] = None):
        """New alert updates within the caller's scope, as server-sent events."""
        tok = creds.credentials if creds else token
        who = await anyio.to_thread.run_sync(authenticate, tok)
        return StreamingResponse(
            _events(who, tok), media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    async def _events(who: Caller, tok: str):
        # subscribed before `ready` goes out: the page loads its list after `ready`, so an
        # update is either in that list or on this stream
        listener = broadcaster.add()
        try:
            yield "retry: 3000\nevent: ready\ndata: {}\n\n"
            while True:
                try:
                    record = await asyncio.wait_for(listener.queue.get(), heartbeat_s)
                except TimeoutError:
                    try:
                        who = await anyio.to_thread.run_sync(authenticate, tok)
                    except HTTPException:
                        yield "event: logout\ndata: {}\n\n"
                        return
                    yield ": ping\n\n"
                    continue
                if record is RESYNC:
                    yield "event: resync\ndata: {}\n\n"
                    return
                if who.sees(record):
                    body = m.Alert.model_validate(who.view.enrich(record)).model_dump(mode="json")
                    yield (f"id: {record['alert_id']}:{record['version']}\nevent: alert\n"
                           f"data: {orjson.dumps(body).decode()}\n\n")
        finally:
            broadcaster.remove(listener)

    router.include_router(api)
    router.include_router(build_person_router(
        runtime, Auth, now_ms, audit,
        lambda: problem(404, "not_found", "没有该社区矫正对象", "no such person")))
    router.include_router(build_roster_router(runtime, Auth, now_ms, audit))
    if hasattr(runtime.store, "summary_input"):
        router.include_router(build_summary_router(runtime, authenticate, now_ms, audit))
    if hasattr(runtime, "change_bundle"):  # the live runtime: reference data can change
        from alerts.admin.api import build_admin_router

        router.include_router(build_admin_router(runtime, Auth, now_ms))
    pages = static_routes(lambda: views.get().bundle.settings.map_tiles.origins())
    router.include_router(build_map_router(Auth, views, pages.leaflet))
    router.include_router(pages)
    router.access = access  # for the service's own tools (and tests)
    router.broadcaster = broadcaster
    return router


def _me(who: Caller) -> m.Me:
    o = who.session.officer
    names = who.view.office_names
    offices = sorted(who.scope.offices) if who.scope.offices is not None else who.view.offices
    return m.Me(officer=m.Officer(officer_id=o.officer_id, name=o.name, office_id=o.office_id,
                                  role=o.role, office_name=names.name(o.office_id),
                                  phone=o.phone),
                offices=offices,
                office_list=[m.Office(office_id=oid, name=names.name(oid) or oid,
                                      parent_id=names.parent(oid)) for oid in offices],
                sees_everything=who.scope.everything,
                session_expires_at_ms=who.session.expires_at_ms)
