"""Names for the ids in an alert record. Records carry ids only (SPEC §4), but an officer reading
a push on a locked phone needs 张三, not WC0001, and the office filter needs the person's office."""

from __future__ import annotations

from dataclasses import dataclass, field

from config.model import Bundle


@dataclass(frozen=True, slots=True)
class Directory:
    persons: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (name, office_id)
    officers: dict[str, str] = field(default_factory=dict)  # id -> name
    zones: dict[str, str] = field(default_factory=dict)  # id -> name

    @classmethod
    def from_bundle(cls, bundle: Bundle) -> Directory:
        return cls(
            persons={p.person_id: (p.name or p.person_id, p.office_id) for p in bundle.persons},
            officers={o.officer_id: o.name or o.officer_id for o in bundle.officers},
            zones={z.zone_id: z.name or z.zone_id for z in bundle.zones},
        )

    def person_name(self, person_id: str | None) -> str | None:
        if not person_id:
            return None
        known = self.persons.get(person_id)
        return known[0] if known else None

    def office_of(self, person_id: str | None) -> str | None:
        """The person's office. An alert about no person (feed_down) has no office and reaches
        only targets that take every office."""
        known = self.persons.get(person_id or "")
        return known[1] if known else None

    def officer_name(self, officer_id: str | None) -> str | None:
        return self.officers.get(officer_id) if officer_id else None

    def zone_name(self, zone_id: str | None) -> str | None:
        return self.zones.get(zone_id, zone_id) if zone_id else None
