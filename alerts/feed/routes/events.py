"""GET /v1/stream: new alert updates within the caller's scope as server-sent events, and
POST /v1/stream/ticket, the one-time ticket an EventSource (which cannot send headers) opens
it with. A stream ends (`logout`) within about a second of its session ending, however it
ended (logout, expiry, new password, officer removed or moved)."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at runtime.
import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

import anyio
import orjson
from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import StreamingResponse

from alerts.feed import models as m
from alerts.feed.routes.deps import Auth, Bearer, Caller, Feed, FeedDep
from alerts.feed.stream import RESYNC

# An open stream looks at its session at least this often, and on every update it carries.
RECHECK_S = 1.0

router = APIRouter(prefix="/v1", tags=["feed"])


@router.post("/stream/ticket", response_model=m.StreamTicket)
def stream_ticket(feed: FeedDep, who: Auth):
    """A one-time ticket (60 s, one use) to open `/v1/stream` with: EventSource cannot
    send the Authorization header, and a session token in a URL would stay in logs."""
    return m.StreamTicket(ticket=feed.tickets.issue(who.session.token))


@router.get("/stream", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}},
                             "description": "`event: alert` with an Alert as `data`; "
                                            "`event: resync`: reload the list; "
                                            "`event: logout`: the session ended"}})
async def stream(feed: FeedDep, creds: Bearer,
                 ticket: Annotated[str | None, Query(
                     description="from POST /v1/stream/ticket (for EventSource)")] = None):
    """New alert updates within the caller's scope, as server-sent events. The stream
    ends (`logout`) within about a second of its session ending, however it ended."""
    token = creds.credentials if creds else feed.tickets.redeem(ticket)
    who = await anyio.to_thread.run_sync(feed.authenticate, token)
    return StreamingResponse(
        events(feed, who), media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


class Watch:
    """The stream's hold on its caller: `check()` answers the caller again, or None once
    their session has ended. Costs nothing while the session generation and the bundle stay
    as they were; asks the store only when one changed."""

    def __init__(self, feed: Feed, who: Caller, generation: int):
        self.feed, self.who, self.generation = feed, who, generation

    async def check(self) -> Caller | None:
        access = self.feed.access
        if self.feed.now_ms() >= self.who.session.expires_at_ms:
            return None
        if access.generation_stale:
            await anyio.to_thread.run_sync(access.generation)
        now_generation = access.generation()
        if now_generation == self.generation and self.feed.views.get() is self.who.view:
            return self.who
        self.generation = now_generation
        try:
            self.who = await anyio.to_thread.run_sync(self.feed.authenticate,
                                                      self.who.session.token)
        except HTTPException:
            return None
        return self.who


async def events(feed: Feed, who: Caller) -> AsyncIterator[str]:
    # subscribed before `ready` goes out: the page loads its list after `ready`, so an
    # update is either in that list or on this stream
    listener = feed.broadcaster.add()
    loop = asyncio.get_running_loop()
    watch = Watch(feed, who, await anyio.to_thread.run_sync(feed.access.generation))
    try:
        yield "retry: 3000\nevent: ready\ndata: {}\n\n"
        ping_at = loop.time() + feed.heartbeat_s
        while True:
            wait = max(0.0, min(RECHECK_S, ping_at - loop.time()))
            try:
                record = await asyncio.wait_for(listener.queue.get(), wait)
            except TimeoutError:
                record = None
            caller = await watch.check()
            if caller is None:
                yield "event: logout\ndata: {}\n\n"
                return
            if record is RESYNC:
                yield "event: resync\ndata: {}\n\n"
                return
            if record is None and loop.time() >= ping_at:
                ping_at = loop.time() + feed.heartbeat_s
                yield ": ping\n\n"
            elif record is not None and caller.sees(record):
                yield frame(caller, record)
    finally:
        feed.broadcaster.remove(listener)


def frame(who: Caller, record: dict) -> str:
    """One alert update as an SSE event, its id the alert and version."""
    body = m.Alert.model_validate(who.view.enrich(record)).model_dump(mode="json")
    return (f"id: {record['alert_id']}:{record['version']}\nevent: alert\n"
            f"data: {orjson.dumps(body).decode()}\n\n")
