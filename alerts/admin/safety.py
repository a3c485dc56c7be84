"""Changes to reference data that would leave the service unable to supervise: refused.

The loader (config/loader.py) checks that a bundle is well formed; this checks that a change
keeps it workable. A change may not take away the last admin (nobody could log in to put it
right) nor leave an office that has persons with no officer (their alerts would reach
nobody). Only what the change breaks is refused: a bundle that never had an admin or any
officer (a test, a tool) may still change.
"""

from __future__ import annotations

from collections import Counter

from config.loader import BundleError
from config.model import Bundle


class UnsafeChange(BundleError):
    """A change refused for what it would leave; `zh` says it in Chinese."""

    def __init__(self, file: str, where: str, field: str, problem: str, zh: str = ""):
        super().__init__(file, where, field, problem)
        self.args = (file, where, field, problem, zh)  # picklable, as BundleError is
        self.zh = zh


def _unstaffed(bundle: Bundle) -> Counter:
    """office -> persons, for offices with persons and no officer."""
    staffed = {o.office_id for o in bundle.officers}
    return Counter(p.office_id for p in bundle.persons if p.office_id not in staffed)


def check_change(before: Bundle, after: Bundle) -> None:
    """Raises UnsafeChange when `after` has no admin and `before` had one, or an office with
    persons and no officer that `before` did not leave so."""
    if any(o.role == "admin" for o in before.officers) and \
            not any(o.role == "admin" for o in after.officers):
        raise UnsafeChange(
            "officers.json", "", "officers",
            "no officer with role admin would be left: nobody could log in to manage the "
            "service; keep at least one admin",
            "修改后将没有系统管理员（role 为 admin 的工作人员），无人能登录管理本服务；请至少保留一名系统管理员")
    if not before.officers:  # a bundle without officers.json routes nothing to anyone
        return
    was = _unstaffed(before)
    left = {office: n for office, n in sorted(_unstaffed(after).items()) if office not in was}
    if left:
        office, n = next(iter(left.items()))
        officers_changed = before.officers != after.officers
        raise UnsafeChange(
            "officers.json" if officers_changed else "persons.jsonl", "",
            "officers" if officers_changed else "office_id",
            f"office {office} would have {n} person(s) and no officer: their alerts would "
            "reach nobody; give the office an officer first",
            f"司法所 {office} 将有 {n} 名社区矫正对象而没有工作人员，其告警将无人接收；请先为该司法所配备工作人员")
