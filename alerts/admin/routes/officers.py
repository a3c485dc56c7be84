"""/v1/admin/shifts and /v1/admin/officers/{id}/password: rotas (排班) and passwords.
Admins only."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at runtime.
from typing import Annotated, Any

from fastapi import APIRouter, Body

from alerts.admin import edits
from alerts.admin.bundle_files import read_texts
from alerts.admin.routes.deps import ADMINS_ONLY, Admin, BundleEditor
from alerts.coverage import coverage_gaps
from alerts.feed.access import MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, set_password
from alerts.feed.problems import problem
from alerts.feed.routes.deps import FeedDep, Service

_EXAMPLE_SHIFTS = {"shifts": [{"days": [1, 2, 3, 4, 5], "start": "08:30", "end": "17:30"}]}

router = APIRouter(prefix="/v1/admin", tags=["admin 管理"])


@router.get("/shifts", dependencies=ADMINS_ONLY)
def list_shifts(service: Service):
    return {"shifts": edits.shifts_of(read_texts(service.bundle_dir)),
            "coverage_gaps": [g.as_json() for g in coverage_gaps(service.bundle)]}


@router.put("/shifts/{officer_id}")
def set_shifts(who: Admin, editor: BundleEditor, officer_id: str,
               body: Annotated[dict, Body(examples=[_EXAMPLE_SHIFTS])]):
    """排班: the officer's shifts become these windows (bundle time zone)."""
    windows: Any = body.get("shifts")  # JSON as sent: set_shifts refuses what is not a list
    return editor.change(who, lambda t: edits.set_shifts(t, officer_id, windows))


@router.put("/officers/{officer_id}/password", status_code=204)
def set_officer_password(who: Admin, feed: FeedDep, officer_id: str,
                         body: Annotated[dict, Body(examples=[{"password": "at least 8"}])]):
    """Set an officer's password (their open sessions end). The officer must be in
    officers.json. Audited, without the password."""
    if officer_id not in who.view.officers:
        raise problem(404, "not_found", "没有该工作人员", "no such officer")
    password: Any = body.get("password")  # JSON as sent: set_password refuses a non-string
    try:
        set_password(feed.service.store.path, officer_id, password)
    except ValueError:
        raise problem(422, "weak_password",
                      f"密码须为 {MIN_PASSWORD_CHARS}–{MAX_PASSWORD_CHARS} 个字符",
                      f"password: {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"
                      ) from None
    feed.audit(who.officer_id, "officers.password", officer_id, None, {"set": True})
