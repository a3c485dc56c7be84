"""/v1/admin/permits: leave permits (请假外出). Admins: any person's; supervisors: those of
persons in their offices (approving leave is their daily work). A permit or person outside
the caller's offices answers 404, as if it did not exist."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at runtime.
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Body, HTTPException, Query

from alerts.admin import edits
from alerts.admin.bundle_files import read_texts
from alerts.admin.routes.deps import BundleEditor, Lead, require_permits
from alerts.feed.problems import problem
from alerts.feed.routes.deps import Auth, Caller, Service
from alerts.timefmt import rfc3339
from config.model import PermitSpec

_EXAMPLE_PERMIT = {"person_id": "WC0015", "start": "2026-11-20T08:00:00+08:00",
                   "end": "2026-11-20T20:00:00+08:00", "destination": "杭州（就医复查）"}

router = APIRouter(prefix="/v1/admin", tags=["admin 管理"])


@router.get("/permits")
def list_permits(who: Lead, editor: BundleEditor, person_id: str | None = None,
                 current: Annotated[bool, Query(description="only those not yet ended")] = False):
    """Leave permits as the bundle holds them, within the caller's offices."""
    bundle = editor.feed.service.bundle
    now = editor.feed.now_ms()
    shown = [p for p in bundle.permits if _sees(who, p)
             and not (person_id and p.person_id != person_id)
             and not (current and p.effective_end <= now)]
    return {"permits": [permit_out(p, bundle.settings.timezone) for p in shown]}


def _sees(who: Caller, permit: PermitSpec) -> bool:
    person = who.view.persons.get(permit.person_id)
    return person is not None and who.scope.sees_person(person.office_id)


@router.post("/permits", status_code=201)
def add_permit(who: Auth, editor: BundleEditor,
               body: Annotated[dict, Body(examples=[_EXAMPLE_PERMIT])]):
    """批准请假外出. Fields as in permits.jsonl (SPEC §2); `permit_id` is made up when
    left out (QJ-<date>-<n>). The person's zones are suspended in [start, end)."""
    require_permits(who, body.get("person_id") if isinstance(body, dict) else None)
    tz = ZoneInfo(editor.feed.service.bundle.settings.timezone)
    day = datetime.fromtimestamp(editor.feed.now_ms() / 1000, tz).strftime("%Y-%m%d")
    return editor.change(who, lambda t: edits.add_permit(t, body, edits.new_permit_id(t, day)))


@router.post("/permits/{permit_id}/revoke")
def revoke_permit(who: Auth, service: Service, editor: BundleEditor, permit_id: str,
                  body: Annotated[dict | None, Body(examples=[{"at": None}])] = None):
    """撤销: the permit ends at `at` (default now); the person's zones apply again."""
    found = edits.permit(read_texts(service.bundle_dir), permit_id)
    if found is None:
        raise _no_such_permit()
    try:
        require_permits(who, found.get("person_id"))
    except HTTPException as e:
        if e.status_code == 404:
            raise _no_such_permit() from None
        raise
    at = (body or {}).get("at") or editor.local_now()
    return editor.change(who, lambda t: edits.revoke_permit(t, permit_id, at))


def _no_such_permit() -> HTTPException:
    return problem(404, "not_found", "没有该请假记录", "no such permit")


def permit_out(p: PermitSpec, tz: str) -> dict:
    return {"permit_id": p.permit_id, "person_id": p.person_id, "start": rfc3339(p.start, tz),
            "end": rfc3339(p.end, tz), "revoked_at": rfc3339(p.revoked_at, tz),
            "destination": p.destination,
            "suspend_zones": list(p.suspend_zones) if p.suspend_zones is not None else None}
