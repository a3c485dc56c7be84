"""GET /v1/ops (what an operator must act on now) and GET /v1/words (the page's words)."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at runtime.
from fastapi import APIRouter

from alerts.feed.routes.deps import Auth, Service
from alerts.feed.words import vocabulary

router = APIRouter(prefix="/v1", tags=["feed"])


@router.get("/ops")
def ops(who: Auth, service: Service) -> dict[str, dict | None]:
    """What an operator must act on now (the bundle on disk refused, the store unable to
    write), for admins and shift leads; the page's banner reads it. Others get nothing."""
    if who.role not in ("admin", "supervisor"):
        return {}
    health = service.stats()
    return {"bundle_invalid": health.get("bundle_invalid"),
            "store_fault": health.get("store_fault")}


@router.get("/words")
def words() -> dict[str, dict[str, dict[str, str]]]:
    """The words the page shows (SPEC §7), in 中文 and English."""
    return vocabulary()
