"""/v1/admin handlers, one module-level `APIRouter` per concern; `alerts/admin/api.py` gathers
them, and the feed (alerts/feed/api.py) includes them with its `Feed` bound.

    deps      who may edit, the one-at-a-time bundle editor, refusals as problems
    permits   请假外出: list, add, revoke (admins; supervisors for their offices)
    persons   enrol, update, release; the list with the released (admins)
    zones     list, add, replace, remove (admins)
    officers  rotas (排班) and passwords (admins)
    upkeep    reload hand-edited files, the audit log, a purge now (admins)
"""
