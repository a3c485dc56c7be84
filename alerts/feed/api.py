"""The officers' feed over HTTP: `build_router(service)` gives every endpoint and the page.

`service` is the running officer service (alerts.service.OfficerService): the in-process
engine (stream/live.py) or, in Kafka mode, the producer and alerts reader
(stream/kafka/officer.py), where `submit_action` may raise ActionPending: the action went to
the workers and its result is not back yet; the answer is then 202 with `pending: true`.

The handlers are module-level routers (alerts/feed/routes/, the roster, map and summary
modules here, and /v1/admin from alerts/admin/api.py); `build_router` makes one `Feed` (logins,
sessions, the bundle view, the stream's broadcaster, tickets, the clock) and binds it to each.

Every endpoint asks `scope_for` what the caller may see, and an id outside it answers 404,
exactly like an id that does not exist, so that office B's ids cannot be probed from office A.
Actions and reads of a person's track are written to the store's audit log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends

from alerts.admin.api import router as admin_router
from alerts.feed import basemap, roster, summary_page
from alerts.feed.apidocs import docs_routes
from alerts.feed.page import static_routes
from alerts.feed.person import build_person_router
from alerts.feed.problems import no_such_person
from alerts.feed.routes import actions, alerts, events, ops, persons, session
from alerts.feed.routes.deps import HEARTBEAT_S, Auth, Feed
from alerts.service import OfficerService

__all__ = ["HEARTBEAT_S", "Feed", "build_router"]

# in the order the API lists them
FEED_ROUTERS = (session.router, ops.router, alerts.router, actions.router, persons.router,
                events.router)


class _RedactTickets(logging.Filter):
    """EventSource and a new tab cannot send headers, so their one-time ticket rides in the
    URL: spent at once, and still kept out of the access log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any("ticket=" in str(a) for a in record.args):
            record.args = tuple(_redact(a) for a in record.args)
        return True


def _redact(value: Any) -> Any:
    if not isinstance(value, str) or "ticket=" not in value:
        return value
    head, _, tail = value.partition("ticket=")
    rest = tail.split("&", 1)
    return head + "ticket=…" + ("&" + rest[1] if len(rest) > 1 else "")


def redact_tickets_in_access_log() -> None:
    access_log = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _RedactTickets) for f in access_log.filters):
        access_log.addFilter(_RedactTickets())


def build_router(service: OfficerService, *, clock: Callable[[], float] = time.time,
                 session_ttl_s: float | None = None, heartbeat_s: float = HEARTBEAT_S,
                 ) -> APIRouter:
    """Every feed endpoint, /v1/admin, the page and /docs, over one Feed of `service`.
    `session_ttl_s`: None takes the bundle's setting."""
    feed = Feed(service, clock=clock, session_ttl_s=session_ttl_s, heartbeat_s=heartbeat_s)
    redact_tickets_in_access_log()
    bound = [Depends(feed.bind)]
    router = APIRouter()
    for r in FEED_ROUTERS:
        router.include_router(r, dependencies=bound)
    router.include_router(build_person_router(service, Auth, feed.now_ms, feed.audit,
                                              no_such_person), dependencies=bound)
    for r in (roster.router, summary_page.router, admin_router, basemap.router):
        router.include_router(r, dependencies=bound)
    router.include_router(static_routes(
        lambda: feed.views.get().bundle.settings.map_tiles.origins()))
    router.include_router(docs_routes())
    return router
