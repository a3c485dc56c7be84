"""签收 (acknowledge) and 处置 (resolve): one alert, or many with one disposition. Every action
goes through the engine (`OfficerService.submit_action`) and is audited with what it changed,
refused or left pending. In Kafka mode the engine is in the workers: an answer that has not
come back yet is 202 with `pending: true`."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at runtime.
from concurrent.futures import ThreadPoolExecutor

from fastapi import APIRouter, HTTPException, Response, status

from alerts.actions import ActionError, ActionPending
from alerts.feed import models as m
from alerts.feed.problems import problem
from alerts.feed.routes.alerts import NOT_FOUND, scoped_alert
from alerts.feed.routes.deps import Auth, Caller, Feed, FeedDep
from alerts.kinds import TAMPER

# A bulk action's alerts go to the engine this many at a time: enough to share its steps.
BULK_THREADS = 16
_PROBLEM = {"model": m.ProblemResponse}
_PENDING = {"model": m.ActionResult,
            "description": "Kafka mode: sent to the workers, result not back yet (`pending`)"}

router = APIRouter(prefix="/v1", tags=["feed"])


def _handling(record: dict) -> dict:
    """What an action changes, for the audit log's before/after."""
    return {k: record.get(k) for k in ("version", "handling", "condition", "escalated",
                                         "officer_id", "resolution")}


def act(feed: Feed, who: Caller, alert_id: str, kind: str, extra: dict,
        response: Response) -> m.ActionResult:
    """One action on one alert of the caller's: checked, sent to the engine, audited."""
    record = scoped_alert(feed, who, alert_id)
    action = {"type": "action", "person_id": record.get("person_id"), "alert_id": alert_id,
              "ts": feed.now_ms(), "action": kind, "by": who.officer_id, **extra}
    before = _handling(record)
    try:
        updates = feed.service.submit_action(action)
    except ActionError as e:
        feed.audit(who.officer_id, kind, alert_id, before, {"refused": e.reason})
        raise _refused(e) from None
    except ActionPending as e:
        # Kafka mode: sent to the workers, whose answer has not come back yet; the new
        # version reaches the page on the stream when it does
        feed.audit(who.officer_id, kind, alert_id, before, {"pending": True})
        response.status_code = status.HTTP_202_ACCEPTED
        return m.ActionResult(alert=who.view.enrich(e.record or record), changed=False,
                              pending=True)
    except (RuntimeError, TimeoutError) as e:
        feed.audit(who.officer_id, kind, alert_id, before, {"failed": str(e)})
        raise problem(503, "unavailable", "服务暂时无法处理该操作，请稍后重试",
                      "the service cannot take the action now: try again shortly") from None
    new = next((u for u in reversed(updates) if u.get("alert_id") == alert_id), None)
    after = new or feed.service.store.alerts.latest(alert_id) or record
    feed.audit(who.officer_id, kind, alert_id, before, _handling(after))
    return m.ActionResult(alert=who.view.enrich(after), changed=new is not None)


def _refused(e: ActionError) -> HTTPException:
    if e.reason == "unknown_alert":
        return problem(409, "expired", "该告警已过期，无法再操作",
                       "the alert has expired and can no longer be changed")
    return problem(422, e.reason, f"操作被拒绝：{e}", f"refused: {e}")


@router.post("/alerts/{alert_id}/acknowledge", response_model=m.ActionResult,
             responses={202: _PENDING, 404: NOT_FOUND, 409: _PROBLEM, 503: _PROBLEM})
def acknowledge(feed: FeedDep, who: Auth, alert_id: str, response: Response):
    """签收: the officer has seen it; stops escalation."""
    return act(feed, who, alert_id, "acknowledge", {}, response)


@router.post("/alerts/{alert_id}/resolve", response_model=m.ActionResult,
             responses={202: _PENDING, 404: NOT_FOUND, 409: _PROBLEM, 422: _PROBLEM,
                        503: _PROBLEM})
def resolve(feed: FeedDep, who: Auth, alert_id: str, body: m.ResolveBody, response: Response):
    """处置: close the case with a disposition. A tamper (防拆报警) needs a note."""
    record = scoped_alert(feed, who, alert_id)
    return act(feed, who, alert_id, "resolve", resolve_fields(feed, who, record, body),
               response)


def resolve_fields(feed: Feed, who: Caller, record: dict, body: m.ResolveBody) -> dict:
    note = body.note.strip()
    if record.get("type") == TAMPER and not note:
        feed.audit(who.officer_id, "resolve", record["alert_id"], _handling(record),
                   {"refused": "note_required"})
        raise problem(422, "note_required", "防拆报警须填写处置说明后才能处置",
                      "a tamper alert cannot be resolved without a note")
    # an empty note is no note: the engine refuses "" (SPEC §4: note is text when given)
    return {"disposition": body.disposition} | ({"note": note} if note else {})


def act_one(feed: Feed, who: Caller, alert_id: str, body: m.BulkBody) -> m.BulkOutcome:
    """One alert of a bulk action, through the same path (checks, engine, audit) as
    the single-alert endpoints."""
    scratch = Response()
    try:
        fields = {}
        if body.action == "resolve":
            fields = resolve_fields(feed, who, scoped_alert(feed, who, alert_id), m.ResolveBody(
                disposition=body.disposition, note=body.note))
        res = act(feed, who, alert_id, body.action, fields, scratch)
    except HTTPException as e:
        return m.BulkOutcome(alert_id=alert_id, ok=False, status=e.status_code,
                             problem=m.Problem.model_validate(e.detail))
    return m.BulkOutcome(alert_id=alert_id, ok=True, status=scratch.status_code or 200,
                         changed=res.changed, pending=res.pending, alert=res.alert)


@router.post("/alerts/bulk", response_model=m.BulkResult, responses={422: _PROBLEM})
def bulk(feed: FeedDep, who: Auth, body: m.BulkBody):
    """签收 or 处置 many alerts with one disposition and note. Each alert is its own
    action through the engine, with its own audit entry and its own outcome here (one
    refused alert does not stop the others). Submitted side by side, so the engine takes
    them in a few steps rather than one step per alert."""
    ids = list(dict.fromkeys(body.alert_ids))
    with ThreadPoolExecutor(max_workers=min(BULK_THREADS, len(ids))) as pool:
        outcomes = list(pool.map(lambda a: act_one(feed, who, a, body), ids))
    return m.BulkResult(results=outcomes, ok=sum(o.ok for o in outcomes),
                        failed=sum(not o.ok for o in outcomes))
