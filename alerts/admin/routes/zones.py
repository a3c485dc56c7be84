"""/v1/admin/zones: the zones as GeoJSON Features with SPEC §2 properties. Admins only."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at runtime.
from typing import Annotated

from fastapi import APIRouter, Body

from alerts.admin import edits
from alerts.admin.routes.deps import ADMINS_ONLY, Admin, BundleEditor
from alerts.feed.routes.deps import Service

router = APIRouter(prefix="/v1/admin", tags=["admin 管理"])


@router.get("/zones", dependencies=ADMINS_ONLY)
def list_zones(service: Service):
    return {"zones": [{"zone_id": z.zone_id, "name": z.name, "kind": z.kind,
                       "severity": z.severity, "crs": z.crs, "scheduled": z.schedule is not None}
                      for z in service.bundle.zones]}


@router.post("/zones", status_code=201)
def add_zone(who: Admin, editor: BundleEditor,
             feature: Annotated[dict, Body(description="a GeoJSON Feature")]):
    """A zone as one GeoJSON Feature with SPEC §2 properties."""
    return editor.change(who, lambda t: edits.add_zone(t, feature))


@router.put("/zones/{zone_id}")
def update_zone(who: Admin, editor: BundleEditor, zone_id: str,
                feature: Annotated[dict, Body()]):
    return editor.change(who, lambda t: edits.update_zone(t, zone_id, feature))


@router.delete("/zones/{zone_id}")
def remove_zone(who: Admin, editor: BundleEditor, zone_id: str):
    """Refused (422, with the line) while a person or a permit still names the zone."""
    return editor.change(who, lambda t: edits.remove_zone(t, zone_id))
