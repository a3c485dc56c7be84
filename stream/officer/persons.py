"""The reference data the feed reads beside the bundle: each person's office, and the persons
released from supervision (解除矫正): no longer in the bundle, their alerts stay with their
office (and in its officers' view) until resolved."""

from __future__ import annotations

from dataclasses import dataclass

from config.model import Bundle, PersonSpec


def record_of(p: PersonSpec) -> dict:
    """A person's bundle record, as the store keeps a released one."""
    return {k: getattr(p, k) for k in PersonSpec.__slots__}


def spec_of(record: dict) -> PersonSpec:
    """The PersonSpec of a stored record (fields the model has no longer are left out)."""
    return PersonSpec(**{k: v for k, v in record.items() if k in PersonSpec.__slots__})


@dataclass(frozen=True, slots=True)
class Swap:
    """What a bundle change did to the caseload."""

    released: list[PersonSpec]  # in the old bundle, not in the new (by person_id)
    enrolled: list[str]  # released before, in the bundle again


class PersonDirectory:
    def __init__(self, bundle: Bundle, released: dict[str, dict]):
        """`released`: the store's released persons (`Store.released_persons()`)."""
        self._office = {p.person_id: p.office_id for p in bundle.persons}
        self._set_former({pid: spec_of(r["record"]) for pid, r in released.items()})

    @property
    def former(self) -> dict[str, PersonSpec]:
        """Released persons by id; a new dict after each change, so a view can tell."""
        return self._former

    def office_of(self, person_id: str | None) -> str | None:
        if not person_id:
            return None
        return self._office.get(person_id) or self._former_office.get(person_id)

    def swap(self, old: Bundle, new: Bundle) -> Swap:
        """The running bundle becomes `new`: who left it is released, who came back is not."""
        before = {p.person_id: p for p in old.persons}
        now = {p.person_id for p in new.persons}
        gone = [before[pid] for pid in sorted(set(before) - now)]
        enrolled = sorted(now & set(self._former))
        self._office = {p.person_id: p.office_id for p in new.persons}
        former = {pid: p for pid, p in self._former.items() if pid not in now}
        former.update({p.person_id: p for p in gone})
        self._set_former(former)
        return Swap(gone, enrolled)

    def _set_former(self, former: dict[str, PersonSpec]) -> None:
        self._former = former
        self._former_office = {pid: p.office_id for pid, p in former.items()}
