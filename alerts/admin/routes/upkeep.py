"""/v1/admin/reload (take up hand-edited bundle files), /v1/admin/audit (the audit log) and
/v1/admin/purge (retention now). Admins only."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at runtime.
from typing import Annotated

from fastapi import APIRouter, Query

from alerts.admin.bundle_files import read_texts
from alerts.admin.routes.deps import ADMINS_ONLY, Admin, BundleEditor, answered_as_problems
from alerts.feed.routes.deps import Service

router = APIRouter(prefix="/v1/admin", tags=["admin 管理"])


@router.post("/reload")
def reload(who: Admin, editor: BundleEditor):
    """Take up bundle files edited by hand (officers.json, settings.toml, ...), checked
    like any change; answers which files differed from what the service runs on."""
    service = editor.feed.service
    with editor.feed.edit_lock:
        loaded, disk = service.bundle_texts, read_texts(service.bundle_dir)
        files = sorted(n for n in disk if disk[n] != loaded.get(n))
        with answered_as_problems():
            service.change_bundle({}, audit=(who.officer_id, "bundle.reload",
                                             str(service.bundle_dir), None, {"files": files}))
    return {"what": "bundle.reload", "changed": bool(files), "files": files}


@router.get("/audit", dependencies=ADMINS_ONLY)
def audit_log(service: Service, limit: Annotated[int, Query(ge=1, le=5000)] = 200):
    return {"audit": service.store.audits.audit_log(limit)}


@router.post("/purge")
def purge(who: Admin, service: Service):
    """Purge tracks and dead letters past `track_retention_days` now (audited)."""
    return service.purge_now(who=who.officer_id)
