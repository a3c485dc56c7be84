"""POST /v1/login, /v1/logout, GET /v1/me: who the caller is and for how long."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at runtime.
import asyncio

import anyio
from fastapi import APIRouter, HTTPException, Request, Response, status

from alerts.feed import models as m
from alerts.feed.access import LoginRefused
from alerts.feed.problems import problem
from alerts.feed.routes.deps import Auth, Caller, FeedDep

REFUSED_LOGIN_DELAY_S = 1.0

router = APIRouter(prefix="/v1", tags=["feed"])


@router.post("/login", response_model=m.LoginResult,
             responses={401: {"model": m.ProblemResponse}, 429: {"model": m.ProblemResponse},
                        503: {"model": m.ProblemResponse}})
async def login(feed: FeedDep, body: m.LoginBody, request: Request, response: Response):
    """Exchange an officer's id and password for a bearer token (expires, see `me`).
    Too many wrong passwords for one id, or from one address, answer 429 for a while.
    A refused login is answered after REFUSED_LOGIN_DELAY_S."""
    response.headers["Cache-Control"] = "no-store"
    # behind a trusted proxy (`lookout run --trusted-proxy`) the server has already put
    # the X-Forwarded-For address here; from anyone else that header is ignored
    client = request.client.host if request.client else ""
    try:
        session = await anyio.to_thread.run_sync(feed.access.login, body.officer_id,
                                                 body.password, client)
    except LoginRefused as e:
        # waiting costs the server nothing here (no thread, no core), and it slows a
        # guesser's loop down to one try a second per connection
        await asyncio.sleep(REFUSED_LOGIN_DELAY_S)
        raise refusal(e) from None
    await anyio.to_thread.run_sync(
        feed.audit, session.officer.officer_id, "login", session.officer.officer_id, None,
        {"expires_at_ms": session.expires_at_ms})
    return m.LoginResult(token=session.token, expires_at_ms=session.expires_at_ms,
                         me=me_of(feed.caller(session)))


def refusal(e: LoginRefused) -> HTTPException:
    if e.reason == "locked":
        minutes = e.retry_after_s // 60 + 1
        return problem(429, "locked", f"密码错误次数过多，请 {minutes} 分钟后再试",
                       f"too many wrong passwords, try again in {minutes} min",
                       headers={"Retry-After": str(e.retry_after_s)})
    if e.reason == "busy":
        return problem(503, "busy", "登录请求过多，请稍后再试",
                       "too many logins at once, try again shortly",
                       headers={"Retry-After": str(e.retry_after_s)})
    return problem(401, "bad_credentials", "工号或密码错误", "wrong officer id or password")


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(feed: FeedDep, who: Auth):
    feed.access.logout(who.session.token)
    feed.audit(who.officer_id, "logout", who.officer_id, None, None)


@router.get("/me", response_model=m.Me)
def me(who: Auth):
    """The caller, the offices they may see, and when their session ends."""
    return me_of(who)


def me_of(who: Caller) -> m.Me:
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
