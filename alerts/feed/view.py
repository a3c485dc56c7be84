"""Lookups over the current bundle for the feed: persons and officers by id, offices, and zone
outlines as GeoJSON in WGS-84 for the detail map. Rebuilt when the runtime swaps its bundle.

`former`: persons released from supervision (解除矫正), no longer in the bundle. Their alerts
keep their office (and so stay in scope for it) and their name until resolved."""

from __future__ import annotations

import math
import threading

import numpy as np
import shapely
from shapely.geometry import mapping

from alerts.service import OfficerService
from config.model import Bundle, OfficerSpec, PersonSpec, ZoneSpec
from config.offices import Offices
from geofences.geodesy import LocalFrame
from geofences.zones import CompiledZones

# A circle drawn with 72 sides is within 0.1 % of its radius: invisible at map scale.
_CIRCLE_SIDES = 72
# Outline simplification for the map (metres, at most 1/400 of the zone's extent): a county
# boundary drops from thousands of vertices to a few hundred, below what a map can show.
_SIMPLIFY_M = 15.0


def _round(coords, places=6):
    if isinstance(coords, (list, tuple)) and coords and isinstance(coords[0], (int, float)):
        return [round(c, places) for c in coords]
    return [_round(c, places) for c in coords]


class BundleView:
    def __init__(self, bundle: Bundle, former: dict[str, PersonSpec] | None = None):
        self.bundle = bundle
        self.persons: dict[str, PersonSpec] = {p.person_id: p for p in bundle.persons}
        self.former: dict[str, PersonSpec] = former if former is not None else {}
        self.officers: dict[str, OfficerSpec] = {o.officer_id: o for o in bundle.officers}
        self.zones = {z.zone_id: z for z in bundle.zones}
        self.offices = sorted({p.office_id for p in bundle.persons}
                              | {o.office_id for o in bundle.officers})
        self.office_names = Offices(bundle)
        self._outlines: dict[str, dict | None] = {}
        self._lock = threading.Lock()

    def person(self, person_id: str | None) -> PersonSpec | None:
        return self.persons.get(person_id or "") or self.former.get(person_id or "")

    def person_office(self, person_id: str | None) -> str | None:
        p = self.person(person_id)
        return p.office_id if p else None

    def officer_name(self, officer_id: str | None) -> str | None:
        o = self.officers.get(officer_id or "")
        return o.name if o else None
    def zones_of(self, person: PersonSpec) -> list[ZoneSpec]:
        """Every zone that applies to the person (SPEC §2: listed, `applies_to: all`, or a
        shared group), inclusion zones first, in bundle order."""
        groups = set(person.groups)
        mine = [z for z in self.bundle.zones if z.zone_id in person.zones or z.applies_to_all
                or not groups.isdisjoint(z.applies_to_groups)]
        return sorted(mine, key=lambda z: z.kind != "inclusion")

    def enrich(self, record: dict) -> dict:
        """The record plus the names a list row shows, so the page needs no second request."""
        p = self.person(record.get("person_id"))
        z = self.zones.get(record.get("zone_id") or "")
        out = {**record, "person_name": p.name if p else None,
               "office_id": p.office_id if p else None,
               "office_name": self.office_names.name(p.office_id) if p else None,
               "officer_name": self.officer_name(record.get("officer_id")),
               "zone_name": z.name if z else None}
        if record.get("route"):
            out["route"] = [{**step, "name": self.officer_name(step.get("officer_id"))}
                            for step in record["route"]]
        if record.get("resolution"):
            res = record["resolution"]
            out["resolution"] = {**res, "by_name": self.officer_name(res.get("by"))}
        return out

    def zone_outline(self, zone_id: str | None) -> dict | None:
        """A GeoJSON Feature (WGS-84) of the zone's area: polygons as they are, circles and
        corridors as polygons, since the page draws areas, not centres."""
        if not zone_id or zone_id not in self.zones:
            return None
        with self._lock:
            if zone_id not in self._outlines:
                self._outlines[zone_id] = self._build_outline(zone_id)
            return self._outlines[zone_id]

    def _build_outline(self, zone_id: str) -> dict:
        spec = self.zones[zone_id]
        settings = self.bundle.settings
        compiled = CompiledZones.build([spec], convert_datum=settings.datum_conversion,
                                       tz=settings.timezone)
        geom = compiled.geometries[0]
        minx, miny, maxx, maxy = geom.bounds
        frame = LocalFrame((minx + maxx) / 2, (miny + maxy) / 2)
        local = shapely.transform(geom, frame.forward_coords)
        if spec.radius_m is not None and geom.geom_type not in ("Polygon", "MultiPolygon"):
            local = local.buffer(spec.radius_m, quad_segs=math.ceil(_CIRCLE_SIDES / 4))
        x0, y0, x1, y1 = local.bounds
        tolerance = min(_SIMPLIFY_M, max(x1 - x0, y1 - y0) / 400)  # small circles stay round
        local = local.simplify(tolerance, preserve_topology=True)

        def back(xy):
            return np.column_stack(frame.inverse(xy[:, 0], xy[:, 1]))

        gj = mapping(shapely.transform(local, back))
        return {
            "type": "Feature",
            "geometry": {"type": gj["type"], "coordinates": _round(gj["coordinates"])},
            "properties": {"zone_id": spec.zone_id, "name": spec.name, "kind": spec.kind,
                           "radius_m": spec.radius_m, "buffer_m": spec.buffer_m},
        }


class ViewCache:
    """The BundleView of whatever bundle (and released persons) the service holds now."""

    def __init__(self, runtime: OfficerService):
        self.runtime = runtime
        self._view: BundleView | None = None
        self._lock = threading.Lock()

    def get(self) -> BundleView:
        bundle = self.runtime.bundle
        former = self.runtime.former_persons
        with self._lock:
            view = self._view
            if view is None or view.bundle is not bundle or view.former is not former:
                view = self._view = BundleView(bundle, former)
            return view
