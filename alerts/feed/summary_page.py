"""GET /v1/summary: the shift handover summary (值班交接汇总) of the live store, for
supervisors (their offices: `visible_offices`) and admins (everything, feed_down included).

The page opens it in a tab of its own, and a new tab cannot send the Authorization header. So
the page first asks `POST /v1/summary/link` for a link with a one-time ticket (60 s, one use)
instead of putting the session token into a URL, where browser history would keep it.

Without `from`/`to` the period is the reader's own shift (alerts/summary/period.py). The HTML
carries a period form that submits to the same URL with a fresh one-time ticket of its own
(PICKER_TTL_S: a person choosing dates needs longer than a click), so the page needs no script.

Reading it is audited (`read_summary`): it lists persons by name.
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at runtime.
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, JSONResponse, Response

from alerts.feed.problems import forbidden_unless_lead, problem
from alerts.feed.routes.deps import Bearer, Caller, Feed, FeedDep
from alerts.summary.charts import CJKFontMissing
from alerts.summary.compute import compute_summary
from alerts.summary.html import Picker
from alerts.summary.model import Summary
from alerts.summary.period import FALLBACK_MS, local_input, parse_instant, reader_period
from alerts.summary.render import render
from alerts.summary.source import with_released
from config.model import Bundle
from config.offices import Offices

PICKER_TTL_S = 900.0
MAX_SPAN_MS = 31 * 86_400_000
# The summary page has no script at all; its style and charts are inline. Its one form (the
# period picker) submits to this service only.
SUMMARY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
Format = Literal["html", "json", "csv"]

router = APIRouter(prefix="/v1", tags=["summary 汇总"])


def reader(feed: Feed, creds: Bearer, ticket: str | None) -> Caller:
    """The caller by bearer token or one-time ticket: a supervisor or an admin."""
    token = creds.credentials if creds else feed.tickets.redeem(ticket)
    who = feed.authenticate(token)
    if who.role not in ("supervisor", "admin"):
        raise forbidden_unless_lead()
    return who


def instant(text: str | None, tz: str) -> int | None:
    if text is None or not text.strip():
        return None
    try:
        return parse_instant(text, tz)
    except ValueError:
        raise problem(422, "bad_period", f"时间无法识别：{text}",
                      f"not a time: {text} (epoch ms, RFC 3339 or YYYY-MM-DDTHH:MM)") from None


def period(feed: Feed, who: Caller, start_text: str | None,
           end_text: str | None) -> tuple[int, int, str]:
    """(start, end, basis): what the reader asked for, or their own shift."""
    tz = who.view.bundle.settings.timezone
    start, end = instant(start_text, tz), instant(end_text, tz)
    if start is None and end is None:
        p = reader_period(who.view.bundle, who.officer_id, feed.now_ms())
        start, end, basis = p.start_ms, p.end_ms, f"period_{p.basis}"
    else:
        basis = "period_chosen"
        end = end if end is not None else feed.now_ms()
        start = start if start is not None else end - FALLBACK_MS
    if not 0 < end - start <= MAX_SPAN_MS:
        raise problem(422, "bad_period", "时间段无效（结束须晚于开始，且不超过 31 天）",
                      "bad period: `to` must be after `from`, at most 31 days")
    return start, end, basis


@router.post("/summary/link")
def summary_link(feed: FeedDep, creds: Bearer,
                 start: Annotated[str | None, Query(alias="from")] = None,
                 end: Annotated[str | None, Query(alias="to")] = None,
                 office: str | None = None,
                 format: Format = "html"):
    """A one-time link to the summary (60 s), for opening it in a new tab. Without
    `from`/`to` the link leaves the period to the summary: the reader's shift."""
    who = reader(feed, creds, None)
    period(feed, who, start, end)  # a bad period is refused here, not in the new tab
    q = {"format": format, "ticket": feed.tickets.issue(who.session.token)}
    q.update({k: v for k, v in (("from", start), ("to", end)) if v})
    if office:
        q["office"] = office
    return JSONResponse({"url": "/v1/summary?" + urlencode(q)},
                        headers={"Cache-Control": "no-store"})


@router.get("/summary", responses={200: {"content": {"text/html": {}, "text/csv": {}}}})
def summary(feed: FeedDep, creds: Bearer,
            start: Annotated[str | None, Query(
                alias="from", description="epoch ms, RFC 3339 or YYYY-MM-DDTHH:MM (bundle "
                "time zone); default: the start of the reader's shift")] = None,
            end: Annotated[str | None, Query(
                alias="to", description="as `from`; default: the end of the reader's "
                "shift")] = None,
            office: Annotated[str | None, Query(description="one 司法所")] = None,
            format: Format = "html",
            lang: Literal["zh", "en", "both"] = "both",
            ticket: Annotated[str | None, Query(description="from POST /v1/summary/link")] = None):
    """值班交接汇总 of the caller's offices: counts, handover lists, time to acknowledge,
    repeat persons, officer load. Nothing outside the caller's offices is in it, in any
    format."""
    who = reader(feed, creds, ticket)
    start_ms, end_ms, basis = period(feed, who, start, end)
    visible = None if who.scope.offices is None else set(who.scope.offices)
    office = office or None  # the picker's "all" sends office=
    if office is not None and visible is not None and office not in visible:
        raise problem(404, "not_found", "没有该司法所", "no such office")
    now = feed.now_ms()
    read = feed.service.store.alerts.summary_input(min(start_ms, now))
    bundle = with_released(who.view.bundle, who.view.former.values())
    s = compute_summary(read.updates, bundle, start_ms, end_ms, office, now,
                        visible_offices=visible, version_times=read.version_times,
                        ack_by=read.ack_by)
    feed.audit(who.officer_id, "read_summary", office, None,
               {"from_ms": start_ms, "to_ms": end_ms, "format": format,
                "alerts": s.opened_total})
    if format == "json":
        return JSONResponse(s.model_dump(mode="json"), headers={"Cache-Control": "no-store"})
    if format == "csv":
        name = f"summary-{start_ms}-{end_ms}.csv"
        return Response(render(s, "csv", lang), media_type="text/csv; charset=utf-8",
                        headers={**SUMMARY_HEADERS,
                                 "Content-Disposition": f'attachment; filename="{name}"'})
    picker = _picker(bundle, s, visible, office, lang, basis,
                     feed.tickets.issue(who.session.token, PICKER_TTL_S))
    return HTMLResponse(_html(s, lang, picker), headers=SUMMARY_HEADERS)


def _html(s: Summary, lang: str, picker: Picker) -> str:
    try:
        return render(s, "html", lang, picker=picker)
    except CJKFontMissing:  # the figures are all in the tables; only the pictures go
        return render(s, "html", lang, charts=False, picker=picker)


def _picker(bundle: Bundle, s: Summary, visible: set[str] | None, office: str | None,
            lang: str, basis: str, ticket: str) -> Picker:
    names = Offices(bundle)
    offices = sorted(visible if visible is not None else {p.office_id for p in bundle.persons})
    tz = s.timezone
    return Picker(action="/v1/summary", ticket=ticket, start_local=local_input(s.start_ms, tz),
                  end_local=local_input(s.end_ms, tz), office=office,
                  offices=[(o, names.name(o) or o) for o in offices] if len(offices) > 1 else [],
                  lang=lang, basis=basis)
