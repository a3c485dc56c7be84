"""A bundle's persons as columns: one list or array per field, not one object per person.

A province holds 200,000 persons. As frozen dataclasses they took half a second to build and
as long again to unpickle from the bundle cache; the engine only ever wants whole columns (ids,
offices, timeouts, zone lists). `PersonTable` keeps the columns and is still a sequence of
`PersonSpec`: indexing or iterating builds each person on the way, so code that reads persons
one at a time does not change.

Repeated values (offices, officers, zone and group lists) are stored once and referred to by
code; so are the three risks. Phones and addresses are rare in bulk bundles and kept sparse.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar, overload

import numpy as np

from alerts.kinds import RISKS
from config.cache import Compiled
from config.idtable import IdTable
from config.model import PersonSpec

_RISK_CODE = {r: i for i, r in enumerate(RISKS)}
T = TypeVar("T")


class Codes:
    """Values seen so far, each with its code (its position in `values`)."""

    __slots__ = ("values", "_code")

    def __init__(self) -> None:
        self.values: list = []
        self._code: dict = {}

    def codes(self, values: Iterable) -> np.ndarray:
        values = values if isinstance(values, list) else list(values)
        known = self._code
        for v in dict.fromkeys(values):  # the distinct ones, in order of first sight
            if v not in known:
                known[v] = len(self.values)
                self.values.append(v)
        return np.fromiter(map(known.__getitem__, values), dtype=np.int32, count=len(values))


class PersonRows(Mapping[str, int]):
    """person_id -> row, held in the id table the decoder looks whole columns up in (one
    index, not a dict of 200,000 ids beside it), with the store of what was built from the
    bundle."""

    __slots__ = ("compiled", "ids", "table")

    def __init__(self, ids: Sequence[str], compiled: Compiled) -> None:
        self.ids = ids
        self.compiled = compiled
        self.table: IdTable = compiled.get("person id table",
                                           lambda: IdTable(ids, range(len(ids))))

    @overload
    def get(self, key: object) -> int | None: ...

    @overload
    def get(self, key: object, default: T) -> int | T: ...

    def get(self, key: object, default: Any = None) -> Any:
        return self.table.get(key, default)

    def rows(self, ids: Sequence[str]) -> np.ndarray:
        """The row of each id (-1: not registered) in one column lookup: for many ids at once
        (a restore), where one `get` each would cost microseconds apiece."""
        if all(type(pid) is str and "\n" not in pid for pid in ids):
            raw = "\n".join(ids).encode("utf-8", "surrogatepass")
            return self.table.lookup(raw, len(ids)).astype(np.int64)
        return np.fromiter((self.get(pid, -1) for pid in ids), dtype=np.int64, count=len(ids))

    def __getitem__(self, key: str) -> int:
        row = self.table.get(key)
        if row is None:
            raise KeyError(key)
        return row

    def __contains__(self, key: object) -> bool:
        return self.table.get(key) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids)

    def __len__(self) -> int:
        return len(self.ids)


class _Strings(Sequence[str]):
    """A read-only column of strings that compares as a list."""

    __slots__ = ()

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice) -> list[str]: ...

    def __getitem__(self, i: int | slice) -> str | list[str]:
        return self._slice(i) if isinstance(i, slice) else self._one(i)

    def _one(self, i: int) -> str:
        raise NotImplementedError

    def _slice(self, i: slice) -> list[str]:
        return [self._one(j) for j in range(*i.indices(len(self)))]

    def __eq__(self, other: object) -> bool:
        return _equal_items(self, other)

    __hash__ = None  # type: ignore[assignment]  # compares as a list, which has none


class TextColumn(_Strings):
    """Strings kept as one: a cache holding 200,000 names as separate strings took a sixth of
    a second to read back, one string and its offsets take nothing."""

    __slots__ = ("_text", "_ends")

    def __init__(self, values: Sequence[str]) -> None:
        self._text = "".join(values)
        ends = np.cumsum(np.fromiter(map(len, values), dtype=np.int64, count=len(values)))
        # four bytes a string, not eight, wherever the text allows
        self._ends = ends.astype(np.int32) if len(self._text) < 2**31 else ends

    def __len__(self) -> int:
        return len(self._ends)

    def _one(self, i: int) -> str:
        end = int(self._ends[i])  # raises IndexError past either end
        start = int(self._ends[i - 1]) if i % len(self._ends) else 0
        return self._text[start:end]

    def __iter__(self) -> Iterator[str]:
        text, start = self._text, 0
        for end in self._ends.tolist():
            yield text[start:end]
            start = end

    def has_empty(self) -> bool:
        return bool(len(self._ends)) and bool(
            (np.diff(self._ends, prepend=0) == 0).any())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, TextColumn):
            return self._text == other._text and np.array_equal(self._ends, other._ends)
        return super().__eq__(other)


class CodedColumn(_Strings):
    """Each row's value read through its code: a list of them would hold 8 bytes a row
    more than the codes the person table keeps anyway."""

    __slots__ = ("_values", "_codes")

    def __init__(self, values: list[str], codes: np.ndarray) -> None:
        self._values, self._codes = values, codes

    def __len__(self) -> int:
        return len(self._codes)

    def _one(self, i: int) -> str:
        return self._values[self._codes[i]]

    def _slice(self, i: slice) -> list[str]:
        return _decode(self._values, self._codes[i])


class PersonTable(Sequence[PersonSpec]):
    """Persons in columns; `table[i]` and iteration build `PersonSpec`s on demand."""

    __slots__ = ("ids", "names", "offices", "office", "officers", "officer", "zone_lists",
                 "zones", "group_lists", "groups", "silence_timeout_s", "risk", "phones",
                 "addresses", "_specs")

    def __init__(self, ids: Sequence[str], names: list[str], offices: Codes, officers: Codes,
                 zone_lists: Codes, group_lists: Codes, office: np.ndarray,
                 officer: np.ndarray, zones: np.ndarray, groups: np.ndarray,
                 silence_timeout_s: np.ndarray, risk: np.ndarray,
                 phones: dict[int, str], addresses: dict[int, str]) -> None:
        # one string and its offsets: 200,000 str objects held 67 bytes a person
        self.ids = ids if isinstance(ids, TextColumn) else TextColumn(ids)
        self.names = TextColumn(names)
        self.offices: list[str] = offices.values  # distinct values; `office` holds codes
        self.officers: list[str] = officers.values
        self.zone_lists: list[tuple[str, ...]] = zone_lists.values
        self.group_lists: list[tuple[str, ...]] = group_lists.values
        # codes as narrow as their distinct values allow (a few hundred offices: 2 bytes)
        self.office, self.officer = _narrow(office, len(self.offices)), _narrow(officer, len(self.officers))
        self.zones, self.groups = _narrow(zones, len(self.zone_lists)), _narrow(groups, len(self.group_lists))
        self.silence_timeout_s = silence_timeout_s
        self.risk = risk  # codes into RISKS
        self.phones, self.addresses = phones, addresses  # row -> value, where given
        # Every PersonSpec, once something has read them all (the officers' service indexes
        # persons by id): made once, not on every pass. The engine never asks for them.
        self._specs: list[PersonSpec] | None = None

    def __getstate__(self) -> tuple[None, dict]:
        state = {name: getattr(self, name) for name in self.__slots__}
        state["_specs"] = None  # the columns are the table; the objects are made again
        return None, state

    @classmethod
    def of(cls, persons: Sequence[PersonSpec]) -> PersonTable:
        """The table itself, or one made of a list of PersonSpec (tests, admin edits)."""
        return persons if isinstance(persons, PersonTable) else cls.from_specs(persons)

    @classmethod
    def from_specs(cls, persons: Sequence[PersonSpec]) -> PersonTable:
        offices, officers, zone_lists, group_lists = Codes(), Codes(), Codes(), Codes()
        return cls(
            [p.person_id for p in persons], [p.name for p in persons],
            offices, officers, zone_lists, group_lists,
            offices.codes(p.office_id for p in persons),
            officers.codes(p.officer_id for p in persons),
            zone_lists.codes(tuple(p.zones) for p in persons),
            group_lists.codes(tuple(p.groups) for p in persons),
            np.array([p.silence_timeout_s for p in persons], dtype=np.float64),
            np.array([_RISK_CODE[p.risk] for p in persons], dtype=np.int8),
            {i: p.phone for i, p in enumerate(persons) if p.phone is not None},
            {i: p.address for i, p in enumerate(persons) if p.address is not None})

    # -- columns as the engine wants them ---------------------------------------------------

    def office_ids(self) -> list[str]:
        return _decode(self.offices, self.office)

    def office_column(self) -> CodedColumn:
        return CodedColumn(self.offices, self.office)

    def officer_column(self) -> CodedColumn:
        return CodedColumn(self.officers, self.officer)

    def officer_ids(self) -> list[str]:
        return _decode(self.officers, self.officer)

    # -- a sequence of PersonSpec -----------------------------------------------------------

    def __len__(self) -> int:
        return len(self.ids)

    @overload
    def __getitem__(self, i: int) -> PersonSpec: ...

    @overload
    def __getitem__(self, i: slice) -> list[PersonSpec]: ...

    def __getitem__(self, i: int | slice) -> PersonSpec | list[PersonSpec]:
        if self._specs is not None:
            return self._specs[i]
        if isinstance(i, slice):
            return [self._spec(j) for j in range(*i.indices(len(self)))]
        n = len(self.ids)
        if not -n <= i < n:
            raise IndexError("person row out of range")
        return self._spec(i % n)

    def _spec(self, i: int) -> PersonSpec:
        return PersonSpec(
            self.ids[i], self.names[i], self.offices[self.office[i]],
            self.officers[self.officer[i]], self.zone_lists[self.zones[i]],
            self.group_lists[self.groups[i]], float(self.silence_timeout_s[i]),
            RISKS[self.risk[i]], self.phones.get(i), self.addresses.get(i))

    def __iter__(self) -> Iterator[PersonSpec]:
        if self._specs is None:
            self._specs = list(self._made())
        return iter(self._specs)

    def _made(self) -> Iterator[PersonSpec]:
        phones, addresses = self.phones, self.addresses
        columns = zip(self.ids, iter(self.names), self.office_ids(), self.officer_ids(),
                      _decode(self.zone_lists, self.zones), _decode(self.group_lists, self.groups),
                      self.silence_timeout_s.tolist(), _decode(list(RISKS), self.risk),
                      strict=True)
        for i, (pid, name, office, officer, zones, groups, timeout, risk) in enumerate(columns):
            yield PersonSpec(pid, name, office, officer, zones, groups, timeout, risk,
                             phones.get(i), addresses.get(i))

    def __eq__(self, other: object) -> bool:
        return _equal_items(self, other)

    __hash__ = None  # type: ignore[assignment]  # compares as a list, which has none

    def __repr__(self) -> str:
        return f"<PersonTable of {len(self)} persons>"


def _narrow(codes: np.ndarray, distinct: int) -> np.ndarray:
    for dtype in (np.int8, np.int16):
        if distinct <= np.iinfo(dtype).max + 1:
            return codes.astype(dtype, copy=False)
    return codes


def _equal_items(mine: Sequence, other: object) -> bool:
    """Equal to any sequence (a list, say) with equal items in the same order."""
    if not isinstance(other, Sequence) or isinstance(other, str | bytes):
        return NotImplemented
    return len(mine) == len(other) and all(a == b for a, b in zip(mine, other, strict=True))


def _decode(values: Sequence, codes: np.ndarray) -> list:
    """Each code's value, in one step rather than one lookup a row."""
    table = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):  # one by one: numpy would unpack tuple values
        table[i] = v
    return table[codes].tolist() if len(codes) else []


def take(table: PersonTable, rows: np.ndarray) -> PersonTable:
    """The persons at `rows`, in that order, as a table of their own (a Kafka partition's
    caseload). The distinct values (offices, officers, zone and group lists) are shared."""
    rows = np.asarray(rows, dtype=np.int64)
    at = rows.tolist()
    new_row = {r: i for i, r in enumerate(at)}
    out = PersonTable.__new__(PersonTable)
    out.ids = TextColumn([table.ids[i] for i in at])
    out.names = TextColumn([table.names[i] for i in at])
    out.offices, out.officers = table.offices, table.officers
    out.zone_lists, out.group_lists = table.zone_lists, table.group_lists
    out.office, out.officer = table.office[rows], table.officer[rows]
    out.zones, out.groups = table.zones[rows], table.groups[rows]
    out.silence_timeout_s, out.risk = table.silence_timeout_s[rows], table.risk[rows]
    out.phones = {new_row[i]: v for i, v in table.phones.items() if i in new_row}
    out.addresses = {new_row[i]: v for i, v in table.addresses.items() if i in new_row}
    out._specs = None
    return out
