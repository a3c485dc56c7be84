"""/v1/admin/persons: 社区矫正对象 in the bundle: enrol (入矫), update, release (解除矫正);
the list, with those released. Admins only."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at runtime.
from typing import Annotated

from fastapi import APIRouter, Body

from alerts.admin import edits
from alerts.admin.bundle_files import read_texts
from alerts.admin.routes.deps import Admin, BundleEditor
from alerts.feed.routes.deps import FeedDep

_EXAMPLE_PERSON = {"person_id": "WC0021", "name": "张某", "office_id": "wucheng-chengdong",
                   "officer_id": "wc-cd-01", "zones": ["cn-330702"], "risk": "medium"}

router = APIRouter(prefix="/v1/admin", tags=["admin 管理"])


@router.get("/persons")
def list_persons(who: Admin, feed: FeedDep):
    """Every person's bundle record, and those released (解除矫正). Audited."""
    feed.audit(who.officer_id, "admin.read_persons", None, None, None)
    service = feed.service
    released = [{"person_id": pid, "name": p.name, "office_id": p.office_id}
                for pid, p in sorted(service.former_persons.items(), key=lambda kv: kv[0])]
    texts = read_texts(service.bundle_dir)
    return {"persons": edits.records(texts.get(edits.PERSONS)), "released": released}


@router.post("/persons", status_code=201)
def add_person(who: Admin, editor: BundleEditor,
               body: Annotated[dict, Body(examples=[_EXAMPLE_PERSON])]):
    """入矫 (enrol): a persons.jsonl record (SPEC §2). Tracked from now: silence
    (失联) counts from this moment."""
    return editor.change(who, lambda t: edits.add_person(t, body))


@router.patch("/persons/{person_id}")
def update_person(who: Admin, editor: BundleEditor, person_id: str,
                  body: Annotated[dict, Body(examples=[{"officer_id": "wc-cd-02"}])]):
    """Change fields of a person (officer, zones, groups, risk, ...); null removes one."""
    return editor.change(who, lambda t: edits.update_person(t, person_id, body))


@router.post("/persons/{person_id}/release")
def release_person(who: Admin, editor: BundleEditor, person_id: str,
                   body: Annotated[dict | None, Body(examples=[{"reason": "期满解矫"}])] = None):
    """解除矫正: out of the bundle, with their permits. They raise no more alerts; those
    still open stay in their office's list until resolved."""
    reason = str((body or {}).get("reason") or "")
    return editor.change(who, lambda t: edits.release_person(t, person_id, reason))
