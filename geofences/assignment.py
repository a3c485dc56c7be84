"""Which zones apply to which person, as arrays.

A zone applies to a person when the person lists it, when the zone says `applies_to: all`,
or when they share a group named in the zone's `applies_to`. Inclusion zones are few per
person and are kept as a CSR list (every fix is checked against all of them). Exclusion zones
can be thousands (venues under a prohibition order) applying through groups, so their
applicability is a test on candidate pairs found by the spatial index, never a full list:
2,000 venues × 20,000 persons would be 40 million pairs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from config.model import PersonSpec, ZoneSpec
from config.persons import PersonTable


class ZoneAssignment:
    def __init__(self, persons: Sequence[PersonSpec], zones: list[ZoneSpec]):
        table = PersonTable.of(persons)
        self.n_persons = len(table)
        self.n_zones = len(zones)
        zone_index = {z.zone_id: i for i, z in enumerate(zones)}
        inclusion = np.array([z.kind == "inclusion" for z in zones], dtype=bool)
        self.zone_all = np.array([z.applies_to_all for z in zones], dtype=bool)

        groups = sorted({g for z in zones for g in z.applies_to_groups})
        group_bit = {g: i for i, g in enumerate(groups)}
        words = max(1, (len(groups) + 63) // 64)
        self.zone_groups = _bits([z.applies_to_groups for z in zones], group_bit, words)
        # persons share a few distinct group lists: their bits once each, then one take
        self.person_groups = _bits(table.group_lists, group_bit, words)[table.groups]

        # every (person, listed zone) pair as one code, without a Python step per pair
        self.explicit_codes, pairs, listed = _listed_pairs(table, zone_index, self.n_zones)

        # inclusion zones of each person, CSR: the listed ones, those applying to all, and
        # those sharing a group, sorted by zone and each once
        mine = [pairs[inclusion[listed]]]
        everyone = np.arange(self.n_persons, dtype=np.int64) * self.n_zones
        for zi in np.flatnonzero(inclusion & self.zone_all):
            mine.append(everyone + zi)
        for zi in np.flatnonzero(inclusion & self.zone_groups.any(axis=1)):
            members = np.flatnonzero((self.person_groups & self.zone_groups[zi]).any(axis=1))
            mine.append(members.astype(np.int64) * self.n_zones + zi)
        codes = np.unique(np.concatenate(mine))
        self.incl_ptr = np.zeros(self.n_persons + 1, dtype=np.int64)
        np.cumsum(np.bincount(codes // self.n_zones, minlength=self.n_persons),
                  out=self.incl_ptr[1:])
        self.incl_zone = (codes % self.n_zones).astype(np.int32)

    def inclusion_pairs(self, rows: np.ndarray, person: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row, zone) for every inclusion zone of each row's person."""
        start = self.incl_ptr[person]
        count = self.incl_ptr[person + 1] - start
        row_rep = np.repeat(rows, count)
        offsets = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
        return row_rep, self.incl_zone[np.repeat(start, count) + offsets]

    def applies(self, person: np.ndarray, zone: np.ndarray) -> np.ndarray:
        """Vectorised: does zone[i] apply to person[i]?"""
        ok = self.zone_all[zone].copy()
        ok |= (self.zone_groups[zone] & self.person_groups[person]).any(axis=1)
        if self.explicit_codes.size:
            codes = person.astype(np.int64) * self.n_zones + zone
            pos = np.searchsorted(self.explicit_codes, codes)
            pos = np.minimum(pos, self.explicit_codes.size - 1)
            ok |= self.explicit_codes[pos] == codes
        return ok

    def inclusion_zones_of(self, person: int) -> np.ndarray:
        return self.incl_zone[self.incl_ptr[person] : self.incl_ptr[person + 1]]

    def persons_with_zone(self, zone: int) -> np.ndarray:
        """Every person a zone applies to (used only when a schedule changes)."""
        persons = np.arange(self.n_persons)
        return persons[self.applies(persons, np.full(self.n_persons, zone, dtype=np.int64))]


def _bits(lists: Sequence[tuple[str, ...]], bit: dict[str, int], words: int) -> np.ndarray:
    """One row of group bits per list; groups without a bit (no zone names them) are left out."""
    out = np.zeros((len(lists), words), dtype=np.uint64)
    for row, names in enumerate(lists):
        for g in names:
            b = bit.get(g)
            if b is not None:
                out[row, b // 64] |= np.uint64(1 << (b % 64))
    return out


def _listed_pairs(table: PersonTable, zone_index: dict[str, int], n_zones: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sorted pair codes, pair codes in person order, zone of each pair) of the zones each
    person lists (person * n_zones + zone), skipping ids not among the zones."""
    # the distinct zone lists, flattened; each person takes its list's slice
    lists = table.zone_lists
    length = np.array([len(z) for z in lists], dtype=np.int64)
    flat = np.fromiter((zone_index.get(zid, -1) for z in lists for zid in z), dtype=np.int64,
                       count=int(length.sum()))
    first = np.cumsum(length) - length
    counts = length[table.zones]
    total = int(counts.sum())
    offsets = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    listed = flat[np.repeat(first[table.zones], counts) + offsets]
    owner = np.repeat(np.arange(len(table), dtype=np.int64), counts)
    known = listed >= 0
    owner, listed = owner[known], listed[known]
    pairs = owner * n_zones + listed
    return np.sort(pairs), pairs, listed
