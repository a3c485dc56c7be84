"""/v1/admin/...: reference data changed while the service runs, and the audit log.

Who may do what (decided here, documented in README "Daily tasks"):

* `admin` (系统管理员): everything: persons (enrol, update, release), zones, shifts, permits,
  officers' passwords, the audit log, a purge now.
* `supervisor` (值班长): leave permits (请假外出) of persons in their own offices: list, add,
  revoke. Approving leave is their daily work; enrolment and geofences are not.
* everyone else: 403. A supervisor naming a person or permit outside their offices gets 404,
  as if it did not exist (office B's ids cannot be probed from office A).

Every change goes to `runtime.change_bundle`, which has the bundle loader check it on a scratch
copy first: a bad value answers 422 with the loader's own `file:line:field` message and
nothing is written. A good one goes through the runtime's inbox and is audited in the same
transaction that applies it: who, when, what, before, after.
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at runtime,
# and `Auth` is a parameter of build_admin_router.
import threading
from collections.abc import Callable
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Body, HTTPException, Query

from alerts.admin import edits
from alerts.admin.bundle_files import read_texts
from alerts.admin.safety import UnsafeChange
from alerts.coverage import coverage_gaps
from alerts.feed.access import MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, set_password
from alerts.timefmt import rfc3339
from config.loader import BundleError

_EXAMPLE_PERMIT = {"person_id": "WC0015", "start": "2026-11-20T08:00:00+08:00",
                   "end": "2026-11-20T20:00:00+08:00", "destination": "杭州（就医复查）"}
_EXAMPLE_PERSON = {"person_id": "WC0021", "name": "张某", "office_id": "wucheng-chengdong",
                   "officer_id": "wc-cd-01", "zones": ["cn-330702"], "risk": "medium"}


def _problem(status: int, code: str, zh: str, en: str, **extra) -> HTTPException:
    return HTTPException(status, {"code": code, "zh": zh, "en": en, **extra})


def bundle_problem(err: BundleError) -> HTTPException:
    text = str(err)
    if isinstance(err, UnsafeChange):
        return _problem(422, "unsafe_change", f"修改被拒绝：{err.zh}", f"change refused: {text}",
                        message=text, file=err.file, where=err.where, field=err.field,
                        problem=err.problem)
    return _problem(422, "bad_bundle", f"部署包校验未通过：{text}", f"bundle check failed: {text}",
                    message=text, file=err.file, where=err.where, field=err.field,
                    problem=err.problem)


def build_admin_router(runtime, Auth, now_ms: Callable[[], int]) -> APIRouter:
    router = APIRouter(prefix="/v1/admin", tags=["admin 管理"])
    lock = threading.Lock()  # one edit at a time: each reads the texts the last one wrote

    def require_admin(who) -> None:
        if who.session.officer.role != "admin":
            raise _problem(403, "forbidden", "需要系统管理员权限", "admin role required")

    def require_permits(who, person_id: Any) -> None:
        """Admins: any person. Supervisors: persons of their offices."""
        role = who.session.officer.role
        if role == "admin":
            return
        if role != "supervisor":
            raise _problem(403, "forbidden", "需要值班长或系统管理员权限",
                           "supervisor or admin role required")
        person = who.view.persons.get(person_id) if isinstance(person_id, str) else None
        if person is None or not who.scope.sees_person(person.office_id):
            raise _problem(404, "not_found", "没有该社区矫正对象", "no such person")

    @contextmanager
    def answered_as_problems():
        """A refused edit, a bad bundle or a runtime that cannot take the change, as the
        bilingual problem the caller gets."""
        try:
            yield
        except edits.EditRefused as e:  # also Kafka mode: the bundle is the workers'
            raise _problem(e.status, e.code, e.zh, e.en) from None
        except BundleError as e:
            raise bundle_problem(e) from None
        except (RuntimeError, TimeoutError) as e:
            raise _problem(503, "unavailable", "服务暂不可用，请稍后重试",
                           f"the service cannot apply changes now: {e}") from None

    def change(who, make: Callable[[edits.Texts], edits.Edit]) -> dict:
        with lock:
            # what runs, not the folder: a refused hand edit lying there is not built upon
            texts = runtime.bundle_texts
            with answered_as_problems():
                edit = make(texts)
                changed = any(texts.get(n) != t for n, t in edit.files.items())
                # checked by the loader on a scratch copy first: BundleError, nothing written
                bundle = runtime.change_bundle(edit.files, audit=(
                    who.officer_id, edit.what, edit.target, edit.before, edit.after))
        return {"what": edit.what, "target": edit.target, "changed": changed,
                "before": edit.before, "after": edit.after,
                "bundle": {"persons": len(bundle.persons), "zones": len(bundle.zones),
                           "permits": len(bundle.permits), "shifts": len(bundle.shifts)},
                # a new rota, or persons in a new office, may leave hours nobody answers
                "coverage_gaps": [g.as_json() for g in coverage_gaps(bundle)]}

    def local_now() -> str:
        return rfc3339(now_ms(), runtime.bundle.settings.timezone)

    # -- permits (请假外出): admins, and supervisors for their offices ------------------------
    @router.get("/permits")
    def list_permits(who: Auth, person_id: str | None = None,
                     current: Annotated[bool, Query(description="only those not yet ended")] = False):
        """Leave permits as the bundle holds them, within the caller's offices."""
        if who.session.officer.role not in ("admin", "supervisor"):
            raise _problem(403, "forbidden", "需要值班长或系统管理员权限",
                           "supervisor or admin role required")
        now = now_ms()
        out = []
        for p in runtime.bundle.permits:
            person = who.view.persons.get(p.person_id)
            if person is None or not who.scope.sees_person(person.office_id):
                continue
            if (person_id and p.person_id != person_id) or (current and p.effective_end <= now):
                continue
            out.append(_permit_out(p, runtime.bundle.settings.timezone))
        return {"permits": out}

    @router.post("/permits", status_code=201)
    def add_permit(who: Auth, body: Annotated[dict, Body(examples=[_EXAMPLE_PERMIT])]):
        """批准请假外出. Fields as in permits.jsonl (SPEC §2); `permit_id` is made up when
        left out (QJ-<date>-<n>). The person's zones are suspended in [start, end)."""
        require_permits(who, body.get("person_id") if isinstance(body, dict) else None)
        day = datetime.fromtimestamp(now_ms() / 1000, ZoneInfo(runtime.bundle.settings.timezone))
        return change(who, lambda t: edits.add_permit(
            t, body, edits.new_permit_id(t, day.strftime("%Y-%m%d"))))

    @router.post("/permits/{permit_id}/revoke")
    def revoke_permit(who: Auth, permit_id: str,
                      body: Annotated[dict | None, Body(examples=[{"at": None}])] = None):
        """撤销: the permit ends at `at` (default now); the person's zones apply again."""
        found = edits.permit(read_texts(runtime.bundle_dir), permit_id)
        if found is None:
            raise _problem(404, "not_found", "没有该请假记录", "no such permit")
        try:
            require_permits(who, found.get("person_id"))
        except HTTPException as e:
            if e.status_code == 404:
                raise _problem(404, "not_found", "没有该请假记录", "no such permit") from None
            raise
        at = (body or {}).get("at") or local_now()
        return change(who, lambda t: edits.revoke_permit(t, permit_id, at))

    # -- persons, zones, shifts: admins only -------------------------------------------------
    @router.get("/persons")
    def list_persons(who: Auth):
        """Every person's bundle record, and those released (解除矫正). Audited."""
        require_admin(who)
        runtime.store.audit(who.officer_id, "admin.read_persons", None, None, None, now_ms())
        released = {pid: {"person_id": pid, "name": p.name, "office_id": p.office_id}
                    for pid, p in getattr(runtime, "former_persons", {}).items()}
        texts = read_texts(runtime.bundle_dir)
        return {"persons": edits.records(texts.get(edits.PERSONS)),
                "released": sorted(released.values(), key=lambda r: r["person_id"])}

    @router.post("/persons", status_code=201)
    def add_person(who: Auth, body: Annotated[dict, Body(examples=[_EXAMPLE_PERSON])]):
        """入矫 (enrol): a persons.jsonl record (SPEC §2). Tracked from now: silence
        (失联) counts from this moment."""
        require_admin(who)
        return change(who, lambda t: edits.add_person(t, body))

    @router.patch("/persons/{person_id}")
    def update_person(who: Auth, person_id: str,
                      body: Annotated[dict, Body(examples=[{"officer_id": "wc-cd-02"}])]):
        """Change fields of a person (officer, zones, groups, risk, ...); null removes one."""
        require_admin(who)
        return change(who, lambda t: edits.update_person(t, person_id, body))

    @router.post("/persons/{person_id}/release")
    def release_person(who: Auth, person_id: str,
                       body: Annotated[dict | None, Body(examples=[{"reason": "期满解矫"}])] = None):
        """解除矫正: out of the bundle, with their permits. They raise no more alerts; those
        still open stay in their office's list until resolved."""
        require_admin(who)
        reason = str((body or {}).get("reason") or "")
        return change(who, lambda t: edits.release_person(t, person_id, reason))

    @router.get("/zones")
    def list_zones(who: Auth):
        require_admin(who)
        return {"zones": [{"zone_id": z.zone_id, "name": z.name, "kind": z.kind,
                           "severity": z.severity, "crs": z.crs, "scheduled": z.schedule is not None}
                          for z in runtime.bundle.zones]}

    @router.post("/zones", status_code=201)
    def add_zone(who: Auth, feature: Annotated[dict, Body(description="a GeoJSON Feature")]):
        """A zone as one GeoJSON Feature with SPEC §2 properties."""
        require_admin(who)
        return change(who, lambda t: edits.add_zone(t, feature))

    @router.put("/zones/{zone_id}")
    def update_zone(who: Auth, zone_id: str, feature: Annotated[dict, Body()]):
        require_admin(who)
        return change(who, lambda t: edits.update_zone(t, zone_id, feature))

    @router.delete("/zones/{zone_id}")
    def remove_zone(who: Auth, zone_id: str):
        """Refused (422, with the line) while a person or a permit still names the zone."""
        require_admin(who)
        return change(who, lambda t: edits.remove_zone(t, zone_id))

    @router.get("/shifts")
    def list_shifts(who: Auth):
        require_admin(who)
        return {"shifts": edits.shifts_of(read_texts(runtime.bundle_dir)),
                "coverage_gaps": [g.as_json() for g in coverage_gaps(runtime.bundle)]}

    @router.put("/shifts/{officer_id}")
    def set_shifts(who: Auth, officer_id: str, body: Annotated[dict, Body(examples=[
            {"shifts": [{"days": [1, 2, 3, 4, 5], "start": "08:30", "end": "17:30"}]}])]):
        """排班: the officer's shifts become these windows (bundle time zone)."""
        require_admin(who)
        return change(who, lambda t: edits.set_shifts(t, officer_id, body.get("shifts")))

    @router.put("/officers/{officer_id}/password", status_code=204)
    def set_officer_password(who: Auth, officer_id: str,
                             body: Annotated[dict, Body(examples=[{"password": "at least 8"}])]):
        """Set an officer's password (their open sessions end). The officer must be in
        officers.json. Audited, without the password."""
        require_admin(who)
        if officer_id not in who.view.officers:
            raise _problem(404, "not_found", "没有该工作人员", "no such officer")
        try:
            set_password(runtime.store.path, officer_id, body.get("password"))
        except ValueError:
            raise _problem(422, "weak_password",
                           f"密码须为 {MIN_PASSWORD_CHARS}–{MAX_PASSWORD_CHARS} 个字符",
                           f"password: {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"
                           ) from None
        runtime.store.audit(who.officer_id, "officers.password", officer_id, None,
                            {"set": True}, now_ms())

    @router.post("/reload")
    def reload(who: Auth):
        """Take up bundle files edited by hand (officers.json, settings.toml, ...), checked
        like any change; answers which files differed from what the service runs on."""
        require_admin(who)
        with lock:
            loaded, disk = runtime.bundle_texts, read_texts(runtime.bundle_dir)
            files = sorted(n for n in disk if disk[n] != loaded.get(n))
            with answered_as_problems():
                runtime.change_bundle({}, audit=(who.officer_id, "bundle.reload",
                                                 str(runtime.bundle_dir), None, {"files": files}))
        return {"what": "bundle.reload", "changed": bool(files), "files": files}

    # -- the audit log and retention -------------------------------------------------------
    @router.get("/audit")
    def audit_log(who: Auth, limit: Annotated[int, Query(ge=1, le=5000)] = 200):
        require_admin(who)
        return {"audit": runtime.store.audit_log(limit)}

    @router.post("/purge")
    def purge(who: Auth):
        """Purge tracks and dead letters past `track_retention_days` now (audited)."""
        require_admin(who)
        return runtime.purge_now(who=who.officer_id)

    return router


def _permit_out(p, tz: str) -> dict:
    return {"permit_id": p.permit_id, "person_id": p.person_id, "start": rfc3339(p.start, tz),
            "end": rfc3339(p.end, tz), "revoked_at": rfc3339(p.revoked_at, tz),
            "destination": p.destination,
            "suspend_zones": list(p.suspend_zones) if p.suspend_zones is not None else None}
