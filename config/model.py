"""The deployment bundle (SPEC §2) as typed, already-validated objects.

The loader (config/loader.py) builds these; everything else only reads them. Times are
int64 epoch milliseconds (UTC). Zone geometries stay in the datum they were written in
(`crs`); geofences/ converts them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config.cache import Compiled
from config.settings import Settings


def _by_fields(self: Any) -> tuple:
    """Pickled as a call with the fields: a frozen dataclass's own way sets them one at a
    time in Python, a tenth of a second over a province's zones and officers in the cache."""
    return type(self), tuple(getattr(self, name) for name in self.__slots__)
ZONE_KINDS = ("inclusion", "exclusion")


@dataclass(frozen=True, slots=True)
class Window:
    """One schedule window: active on `days` (ISO 1..7, the day the window starts) from
    `start` to `end` minutes after local midnight; end <= start runs past midnight."""

    days: tuple[int, ...]
    start_min: int
    end_min: int

    __reduce__ = _by_fields


@dataclass(frozen=True, slots=True)
class ZoneSpec:
    zone_id: str
    name: str
    kind: str  # "inclusion" | "exclusion"
    geometry: Any  # shapely geometry, in `crs`
    radius_m: float | None  # Point -> circle, LineString -> corridor
    crs: str  # "wgs84" | "gcj02" | "bd09"
    buffer_m: float
    severity: str
    schedule: tuple[Window, ...] | None  # None = always active
    applies_to_all: bool = False
    applies_to_groups: tuple[str, ...] = ()
    source: str = ""  # "zones.geojson feature #n", for messages
    # the zone's own evidence rule (SPEC §3); None: the settings' value
    confirm_fixes: int | None = None
    confirm_s: float | None = None
    accuracy_sigmas: float | None = None

    __reduce__ = _by_fields


@dataclass(frozen=True, slots=True)
class PersonSpec:
    person_id: str
    name: str
    office_id: str
    officer_id: str
    zones: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    silence_timeout_s: float = 1800.0
    risk: str = "medium"
    phone: str | None = None  # personal data: shown only to whoever may see the person
    address: str | None = None

    __reduce__ = _by_fields


@dataclass(frozen=True, slots=True)
class OfficerSpec:
    officer_id: str
    name: str
    office_id: str
    role: str  # officer | supervisor | duty | admin
    supervisor_id: str | None = None
    phone: str | None = None

    __reduce__ = _by_fields


@dataclass(frozen=True, slots=True)
class OfficeSpec:
    """A 司法所 or the county's 社区矫正指挥中心; parent_id None: a root."""

    office_id: str
    name: str
    parent_id: str | None = None

    __reduce__ = _by_fields


@dataclass(frozen=True, slots=True)
class ShiftSpec:
    officer_id: str
    days: tuple[int, ...]
    start_min: int
    end_min: int

    __reduce__ = _by_fields


@dataclass(frozen=True, slots=True)
class PermitSpec:
    permit_id: str
    person_id: str
    start: int  # ms
    end: int  # ms
    suspend_zones: tuple[str, ...] | None  # None = every inclusion zone of the person
    destination: str = ""
    revoked_at: int | None = None

    @property
    def effective_end(self) -> int:
        return self.end if self.revoked_at is None else min(self.end, self.revoked_at)

    __reduce__ = _by_fields


@dataclass(slots=True)
class Bundle:
    path: Path | None
    settings: Settings
    zones: list[ZoneSpec] = field(default_factory=list)
    # config.persons.PersonTable when loaded; a plain list where built by hand
    persons: Sequence[PersonSpec] = field(default_factory=list)
    officers: list[OfficerSpec] = field(default_factory=list)
    shifts: list[ShiftSpec] = field(default_factory=list)
    permits: list[PermitSpec] = field(default_factory=list)
    offices: list[OfficeSpec] = field(default_factory=list)
    # what the engine, decoder and reports built from this bundle (config.cache); not an
    # argument, so dataclasses.replace() starts a new, empty one
    compiled: Compiled = field(default_factory=Compiled, init=False, repr=False, compare=False)
