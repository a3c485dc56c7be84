"""The reference data the engine consults, compiled once per bundle version.

Everything here is read-only during a batch; a new bundle builds a new Caseload and the state
follows it with PartState.remap (persons keep their state by person_id).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alerts.routing import Router
from config.cache import compiled
from config.model import Bundle, PermitSpec
from config.persons import PersonRows, PersonTable
from geofences.assignment import ZoneAssignment
from geofences.zones import CompiledZones


@dataclass(frozen=True, slots=True)
class Permit:
    permit_id: str
    start: int
    end: int  # effective end: revoked_at when earlier
    zones: frozenset[int]  # suspended zone indices


def compiled_zones(bundle: Bundle) -> CompiledZones:
    """The bundle's zones compiled for the engine: once per bundle, kept in its cache."""
    s = bundle.settings
    return compiled(bundle).get(
        f"zones {s.datum_conversion} {s.timezone} {s.accuracy_sigmas}",
        lambda: CompiledZones.build(bundle.zones, convert_datum=s.datum_conversion,
                                    tz=s.timezone, accuracy_sigmas=s.accuracy_sigmas))


class Caseload:
    def __init__(self, bundle: Bundle, zones: CompiledZones | None = None):
        s = bundle.settings
        self.bundle = bundle
        self.settings = s
        self.tz = s.timezone
        # built once per bundle and kept in the bundle cache (config/cache.py)
        built = compiled(bundle)
        self.zones = zones or compiled_zones(bundle)
        self.zone_names = [z.name for z in bundle.zones]
        self.zone_ids = [z.zone_id for z in bundle.zones]
        self.inclusion = np.array([z.kind == "inclusion" for z in bundle.zones], dtype=bool)
        self.scheduled = [i for i, z in enumerate(bundle.zones) if z.schedule is not None]

        persons = PersonTable.of(bundle.persons)
        self.person_ids = persons.ids
        self.index = PersonRows(persons.ids, built)
        self.names = persons.names if not persons.names.has_empty() else [
            name or pid for name, pid in zip(persons.names, persons.ids, strict=True)]
        self.officer_ids = persons.officer_column()
        self.office_ids = persons.office_column()
        self.router = Router(bundle)
        self.timeout_ms = _timeouts_ms(persons.silence_timeout_s)
        self.assignment = built.get("assignment", lambda: ZoneAssignment(persons, bundle.zones))

        self.permits: dict[int, list[Permit]] = {}
        for spec in bundle.permits:
            p = self.index.get(spec.person_id)
            if p is not None:
                self.permits.setdefault(p, []).append(self._permit(p, spec))
        for plist in self.permits.values():
            plist.sort(key=lambda x: (x.start, x.permit_id))
        owners = sorted(self.permits)
        self.permit_person = np.array(
            [p for p in owners for _ in self.permits[p]], dtype=np.int64
        )
        self.permit_start = np.array(
            [pm.start for p in owners for pm in self.permits[p]], dtype=np.int64
        )
        self.permit_end = np.array(
            [pm.end for p in owners for pm in self.permits[p]], dtype=np.int64
        )

        self.max_accuracy_m = s.max_accuracy_m
        # per zone (SPEC §3): fixes and span that confirm, and inside fixes that clear
        self.confirm_fixes = np.array([
            z.confirm_fixes if z.confirm_fixes is not None
            else s.confirm_fixes if z.kind == "inclusion" else s.confirm_fixes_exclusion
            for z in bundle.zones], dtype=np.int64)
        self.confirm_ms = np.array([
            round(1000 * (z.confirm_s if z.confirm_s is not None
                          else s.confirm_s if z.kind == "inclusion" else 0.0))
            for z in bundle.zones], dtype=np.int64)
        self.clear_fixes = np.where(self.inclusion, s.clear_fixes, 1).astype(np.int64)
        self.sharp_m = s.sharp_accuracy_m
        self.suspect_max_ms = round(s.suspect_max_s * 1000)
        self.reopen_window_ms = round(s.reopen_window_s * 1000)
        self.low_battery = s.low_battery_pct
        self.battery_ok = s.battery_recovered_pct
        self.max_speed = s.max_speed_mps
        self.jump_min_m = s.jump_min_distance_m

    def _permit(self, p: int, spec: PermitSpec) -> Permit:
        if spec.suspend_zones is None:
            zones = frozenset(int(z) for z in self.assignment.inclusion_zones_of(p))
        else:
            idx = {zid: i for i, zid in enumerate(self.zone_ids)}
            zones = frozenset(idx[z] for z in spec.suspend_zones if z in idx)
        return Permit(spec.permit_id, spec.start, spec.effective_end, zones)

    def suspended(self, p: int, zone: int, t: int) -> bool:
        for pm in self.permits.get(p, ()):
            if pm.start <= t < pm.end and zone in pm.zones:
                return True
        return False

    def zone_severity(self, zone: int) -> str:
        return self.bundle.zones[zone].severity


def _timeouts_ms(timeout_s: np.ndarray) -> np.ndarray:
    """Each person's silence timeout in ms: read-only, and when everyone has the same one
    (a bundle-wide default, the usual case) a view of that one value, not a column."""
    ms = np.round(timeout_s * 1000).astype(np.int64)
    if ms.size and (ms == ms[0]).all():
        return np.broadcast_to(ms[:1].copy(), ms.shape)  # a copy: a view would keep `ms`
    ms.flags.writeable = False
    return ms
