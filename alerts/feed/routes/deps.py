"""What the feed's handlers are given through FastAPI dependencies.

`Feed` is one running feed: the officer service, logins and sessions, the bundle view, the
stream's broadcaster, the one-time tickets and the clock. `build_router` (alerts/feed/api.py)
makes one and binds it to every route it includes (`Feed.bind`, a router dependency that runs
first); handlers then ask for what they need:

    FeedDep  the Feed            Service  the officer service (alerts.service.OfficerService)
    Auth     the Caller: session, scope and bundle view of a bearer token, or 401

A handler module is an `APIRouter` at module level: include it with
`dependencies=[Depends(feed.bind)]`, or override `current_feed` in a test app. Dependencies
that only look something up are `async def`: they run on the event loop instead of taking a
worker thread each.
"""

# No `from __future__ import annotations`: FastAPI reads the dependencies' annotations at runtime.
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from alerts.feed.access import Access, Scope, Session, scope_for
from alerts.feed.page import leaflet_files
from alerts.feed.problems import problem
from alerts.feed.stream import Broadcaster
from alerts.feed.tickets import Tickets
from alerts.feed.view import BundleView, ViewCache
from alerts.service import OfficerService

# The stream says something at least this often, so that proxies keep it open and a page can
# tell a quiet feed from a dead connection.
HEARTBEAT_S = 15.0

# where a request carries its Feed (an ASGI scope key: per request, set by Feed.bind)
_SCOPE_KEY = "lookout.feed"
bearer = HTTPBearer(auto_error=False, description="the token from POST /v1/login")
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


@dataclass(frozen=True, slots=True)
class Caller:
    session: Session
    scope: Scope
    view: BundleView

    @property
    def officer_id(self) -> str:
        return self.session.officer.officer_id

    @property
    def role(self) -> str:
        return self.session.officer.role

    def sees(self, record: dict | None) -> bool:
        return record is not None and self.scope.sees_alert(
            record, self.view.person_office(record.get("person_id")))


class Feed:
    """One running feed over one officer service. `session_ttl_s`: None takes the bundle's
    setting at start-up."""

    __slots__ = ("access", "broadcaster", "clock", "edit_lock", "heartbeat_s", "leaflet",
                 "service", "tickets", "views")

    def __init__(self, service: OfficerService, *, clock: Callable[[], float] = time.time,
                 session_ttl_s: float | None = None, heartbeat_s: float = HEARTBEAT_S):
        self.service = service
        self.clock = clock
        self.heartbeat_s = heartbeat_s
        self.views = ViewCache(service)
        ttl_s = (session_ttl_s if session_ttl_s is not None
                 else service.bundle.settings.session_ttl_s)
        self.access = Access(service.store.path, lambda oid: self.views.get().officers.get(oid),
                             ttl_s=ttl_s, clock=clock)
        self.broadcaster = Broadcaster(service)
        self.tickets = Tickets()
        self.leaflet = bool(leaflet_files())  # whether npm installed the map library
        # one bundle edit at a time: each reads the texts the last one wrote
        self.edit_lock = threading.Lock()

    async def bind(self, request: Request) -> None:
        """The router dependency that hands this feed to the routes it is attached to."""
        request.scope[_SCOPE_KEY] = self

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def audit(self, who: str, what: str, target: str | None, before: Any, after: Any) -> None:
        self.service.store.audits.audit(who, what, target, before, after, self.now_ms())

    def caller(self, session: Session) -> Caller:
        view = self.views.get()
        return Caller(session, scope_for(session.officer, view.bundle), view)

    def authenticate(self, token: str | None) -> Caller:
        session = self.access.session(token)
        if session is None:
            raise problem(401, "unauthorized", "请先登录", "please log in",
                          headers={"WWW-Authenticate": "Bearer"})
        return self.caller(session)


async def current_feed(request: Request) -> Feed:
    feed = request.scope.get(_SCOPE_KEY)
    if not isinstance(feed, Feed):
        raise RuntimeError("a feed route was included without its Feed: include it with "
                           "dependencies=[Depends(feed.bind)] (alerts/feed/api.py build_router)")
    return feed


FeedDep = Annotated[Feed, Depends(current_feed)]


async def current_service(feed: FeedDep) -> OfficerService:
    return feed.service


Service = Annotated[OfficerService, Depends(current_service)]


def current_caller(feed: FeedDep, creds: Bearer, response: Response) -> Caller:
    # personal data: no browser or proxy cache may keep a copy
    response.headers["Cache-Control"] = "no-store"
    return feed.authenticate(creds.credentials if creds else None)


Auth = Annotated[Caller, Depends(current_caller)]
