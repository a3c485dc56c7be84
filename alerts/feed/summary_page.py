"""GET /v1/summary: the shift handover summary (值班交接汇总) of the live store, for
supervisors (their offices: `visible_offices`) and admins (everything, feed_down included).

The page opens it in a tab of its own, and a new tab cannot send the Authorization header. So
the page first asks `POST /v1/summary/link` for a link with a one-time ticket (60 s, one use)
instead of putting the session token into a URL, where browser history would keep it.

Reading it is audited (`read_summary`): it lists persons by name.
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at runtime.
from collections.abc import Callable
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from alerts.feed.models import TS_MS_MAX
from alerts.feed.tickets import Tickets
from alerts.summary.charts import CJKFontMissing
from alerts.summary.compute import compute_summary
from alerts.summary.render import render
from alerts.summary.source import with_released

DEFAULT_SPAN_MS = 12 * 3_600_000  # a day or a night shift
MAX_SPAN_MS = 31 * 86_400_000
# The summary page has no script at all; its style and charts are inline.
SUMMARY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_bearer = HTTPBearer(auto_error=False)


def _problem(status: int, code: str, zh: str, en: str) -> HTTPException:
    return HTTPException(status, {"code": code, "zh": zh, "en": en})


def build_summary_router(runtime, authenticate, now_ms: Callable[[], int], audit,
                         tickets: Tickets) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["summary 汇总"])

    def reader(creds, ticket: str | None):
        token = creds.credentials if creds else tickets.redeem(ticket)
        who = authenticate(token)
        if who.session.officer.role not in ("supervisor", "admin"):
            raise _problem(403, "forbidden", "需要值班长或系统管理员权限",
                           "supervisor or admin role required")
        return who

    def period(start: int | None, end: int | None) -> tuple[int, int]:
        end = end if end is not None else now_ms()
        start = start if start is not None else end - DEFAULT_SPAN_MS
        if not 0 < end - start <= MAX_SPAN_MS:
            raise _problem(422, "bad_period", "时间段无效（结束须晚于开始，且不超过 31 天）",
                           "bad period: `to` must be after `from`, at most 31 days")
        return start, end

    @router.post("/summary/link")
    def summary_link(creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
                     start: Annotated[int | None, Query(alias="from", ge=0, le=TS_MS_MAX)] = None,
                     end: Annotated[int | None, Query(alias="to", ge=0, le=TS_MS_MAX)] = None,
                     office: str | None = None,
                     format: Literal["html", "json", "csv"] = "html"):
        """A one-time link to the summary (60 s), for opening it in a new tab."""
        who = reader(creds, None)
        start, end = period(start, end)
        q = {"from": start, "to": end, "format": format, "ticket": tickets.issue(
            who.session.token)}
        if office:
            q["office"] = office
        return JSONResponse({"url": "/v1/summary?" + urlencode(q)},
                            headers={"Cache-Control": "no-store"})

    @router.get("/summary", responses={200: {"content": {"text/html": {}, "text/csv": {}}}})
    def summary(creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
                start: Annotated[int | None, Query(alias="from", ge=0, le=TS_MS_MAX,
                                                   description="epoch ms; default: `to` - 12 h"
                                                   )] = None,
                end: Annotated[int | None, Query(alias="to", ge=0, le=TS_MS_MAX,
                                                 description="epoch ms; default: now")] = None,
                office: Annotated[str | None, Query(description="one 司法所")] = None,
                format: Literal["html", "json", "csv"] = "html",
                lang: Literal["zh", "en", "both"] = "both",
                ticket: Annotated[str | None, Query(description="from POST /v1/summary/link")] = None):
        """值班交接汇总 of the caller's offices: counts, handover lists, time to acknowledge,
        repeat persons, officer load. Nothing outside the caller's offices is in it, in any
        format."""
        who = reader(creds, ticket)
        start, end = period(start, end)
        visible = None if who.scope.offices is None else set(who.scope.offices)
        if office is not None and visible is not None and office not in visible:
            raise _problem(404, "not_found", "没有该司法所", "no such office")
        now = now_ms()
        read = runtime.store.summary_input(min(start, now))
        bundle = with_released(who.view.bundle, who.view.former.values())
        s = compute_summary(read.updates, bundle, start, end, office, now,
                            visible_offices=visible, version_times=read.version_times,
                            ack_by=read.ack_by)
        audit(who.officer_id, "read_summary", office, None,
              {"from_ms": start, "to_ms": end, "format": format, "alerts": s.opened_total})
        if format == "json":
            return JSONResponse(s.model_dump(mode="json"), headers={"Cache-Control": "no-store"})
        if format == "csv":
            name = f"summary-{start}-{end}.csv"
            return Response(render(s, "csv", lang), media_type="text/csv; charset=utf-8",
                            headers={**SUMMARY_HEADERS,
                                     "Content-Disposition": f'attachment; filename="{name}"'})
        try:
            text = render(s, "html", lang)
        except CJKFontMissing:  # the figures are all in the tables; only the pictures go
            text = render(s, "html", lang, charts=False)
        return HTMLResponse(text, headers=SUMMARY_HEADERS)

    return router
