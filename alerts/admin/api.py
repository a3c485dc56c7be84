"""/v1/admin/...: reference data changed while the service runs, and the audit log.

Who may do what (decided here, documented in README "Daily tasks"):

* `admin` (系统管理员): everything: persons (enrol, update, release), zones, shifts, permits,
  officers' passwords, the audit log, a purge now.
* `supervisor` (值班长): leave permits (请假外出) of persons in their own offices: list, add,
  revoke. Approving leave is their daily work; enrolment and geofences are not.
* everyone else: 403. A supervisor naming a person or permit outside their offices gets 404,
  as if it did not exist (office B's ids cannot be probed from office A).

Every change goes to the officer service's `change_bundle`, which has the bundle loader check
it on a scratch copy first: a bad value answers 422 with the loader's own `file:line:field`
message and nothing is written. A good one goes through the service's inbox and is audited in
the same transaction that applies it: who, when, what, before, after. A service that cannot
change its bundle (Kafka mode: the workers own it) answers 409, saying so in 中文 and English.

The handlers live in alerts/admin/routes/, one module per concern; `router` gathers them. It
needs a feed bound (alerts/feed/routes/deps.py): alerts/feed/api.py includes it.
"""

from __future__ import annotations

from fastapi import APIRouter

from alerts.admin.routes import officers, permits, persons, upkeep, zones
from alerts.admin.routes.deps import bundle_problem

__all__ = ["bundle_problem", "router"]

router = APIRouter()
for _module in (permits, persons, zones, officers, upkeep):
    router.include_router(_module.router)
