"""What the admin handlers share: role checks as dependencies, the bundle editor (one edit at
a time, checked by the loader before anything is written), and refusals as the bilingual
problems the caller gets."""

# No `from __future__ import annotations`: FastAPI reads the dependencies' annotations at runtime.
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import Depends, HTTPException

from alerts.admin import edits
from alerts.admin.safety import UnsafeChange
from alerts.coverage import coverage_gaps
from alerts.feed.problems import forbidden_unless_lead, no_such_person, problem
from alerts.feed.routes.deps import Auth, Caller, Feed, FeedDep
from alerts.service import NotInThisMode
from alerts.timefmt import rfc3339
from config.loader import BundleError


async def require_admin(who: Auth) -> Caller:
    if who.role != "admin":
        raise problem(403, "forbidden", "需要系统管理员权限", "admin role required")
    return who


async def require_lead(who: Auth) -> Caller:
    if who.role not in ("admin", "supervisor"):
        raise forbidden_unless_lead()
    return who


Admin = Annotated[Caller, Depends(require_admin)]
Lead = Annotated[Caller, Depends(require_lead)]
# for a handler that needs no caller, only the check
ADMINS_ONLY = [Depends(require_admin)]


def require_permits(who: Caller, person_id: Any) -> None:
    """Leave permits of this person: admins any, supervisors those of their offices."""
    if who.role == "admin":
        return
    if who.role != "supervisor":
        raise forbidden_unless_lead()
    person = who.view.persons.get(person_id) if isinstance(person_id, str) else None
    if person is None or not who.scope.sees_person(person.office_id):
        raise no_such_person()


def bundle_problem(err: BundleError) -> HTTPException:
    text = str(err)
    where: dict[str, Any] = {"message": text, "file": err.file, "where": err.where, "field": err.field,
             "problem": err.problem}
    if isinstance(err, UnsafeChange):
        return problem(422, "unsafe_change", f"修改被拒绝：{err.zh}", f"change refused: {text}",
                       **where)
    return problem(422, "bad_bundle", f"部署包校验未通过：{text}", f"bundle check failed: {text}",
                   **where)


@contextmanager
def answered_as_problems() -> Iterator[None]:
    """A refused edit, a bad bundle or a service that cannot take the change, as the
    bilingual problem the caller gets."""
    try:
        yield
    except edits.EditRefused as e:
        raise problem(e.status, e.code, e.zh, e.en) from None
    except BundleError as e:
        raise bundle_problem(e) from None
    except NotInThisMode as e:
        # only Kafka mode refuses (the bundle is the workers'): the code README documents;
        # the refusal's own message is in both languages
        raise problem(409, "kafka_mode", str(e), str(e)) from None
    except (RuntimeError, TimeoutError) as e:
        raise problem(503, "unavailable", "服务暂不可用，请稍后重试",
                      f"the service cannot apply changes now: {e}") from None


class Editor:
    """Changes to the bundle the service runs, one at a time: each reads the texts the last
    one wrote. The service checks each with the loader on a scratch copy first (a bad value:
    422 with the loader's `file:line:field`, nothing written) and audits it in the same
    transaction that applies it."""

    def __init__(self, feed: Feed):
        self.feed = feed

    def change(self, who: Caller, make: Callable[[edits.Texts], edits.Edit]) -> dict:
        service = self.feed.service
        with self.feed.edit_lock:
            # what runs, not the folder: a refused hand edit lying there is not built upon
            texts = service.bundle_texts
            with answered_as_problems():
                edit = make(texts)
                changed = any(texts.get(n) != t for n, t in edit.files.items())
                bundle = service.change_bundle(edit.files, audit=(
                    who.officer_id, edit.what, edit.target, edit.before, edit.after))
        return {"what": edit.what, "target": edit.target, "changed": changed,
                "before": edit.before, "after": edit.after,
                "bundle": {"persons": len(bundle.persons), "zones": len(bundle.zones),
                           "permits": len(bundle.permits), "shifts": len(bundle.shifts)},
                # a new rota, or persons in a new office, may leave hours nobody answers
                "coverage_gaps": [g.as_json() for g in coverage_gaps(bundle)]}

    def local_now(self) -> str:
        text = rfc3339(self.feed.now_ms(), self.feed.service.bundle.settings.timezone)
        assert text is not None  # rfc3339 answers None only for no time
        return text


async def current_editor(feed: FeedDep) -> Editor:
    return Editor(feed)


BundleEditor = Annotated[Editor, Depends(current_editor)]
