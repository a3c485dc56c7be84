"""The fast way through a large bundle file: typed msgspec decoding, then plain checks.

A province's persons.jsonl holds 200,000 lines; checking them one field at a time through the
loader's helpers was most of start-up. Here msgspec checks the types and the known fields while
decoding, and what is left (lengths, duplicates, known zones) is one short test per row. This path accepts only a subset of what config/loader.py accepts and builds
exactly the objects it would build. Anything it is unsure of (a type, a length, a duplicate,
a blank line that is not plain ASCII whitespace) makes it return None, and the loader then
reads the file line by line, which is what names the file, line and field of the problem.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Literal, cast

import msgspec
import numpy as np
import shapely
import shapely.errors

from config.persons import RISKS, Codes, PersonTable

_BOM = b"\xef\xbb\xbf"
_JSON_SPACE = b" \t\r\n"


class _Person(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    person_id: str | None = None
    name: str | None = None
    office_id: str | None = None
    officer_id: str | None = None
    zones: list[str] | None = None
    groups: list[str] | None = None
    silence_timeout_s: float | None = None
    risk: Literal["low", "medium", "high"] | None = None
    phone: str | None = None
    address: str | None = None


_PERSONS = msgspec.json.Decoder(list[_Person])


class _Unfit(Exception):
    """Something the fast path does not take; the loader's own checks decide about it."""


# Rows decoded at a time: all at once, their freed memory would stay scattered between the
# objects kept (60 MiB more resident at 200,000 persons); a chunk's is reused by the next.
_CHUNK_LINES = 10_000


def jsonl_chunks(path: Path, record: msgspec.json.Decoder) -> Iterator[list]:
    """Every non-blank line of a JSONL file decoded as `record`, a list of rows at a time;
    raises _Unfit when the file is missing or anything in it does not fit."""
    try:
        yield from _chunks_in_place(path, record)
    except _Unfit:
        raise
    except (OSError, msgspec.DecodeError, UnicodeDecodeError):
        raise _Unfit from None


def _chunks_in_place(path: Path, record: msgspec.json.Decoder) -> Iterator[list]:
    """The file read once, its newlines made commas in place, and each chunk of lines decoded
    as a JSON array between a "[" and a "]" written over the separators around it: a
    province's persons.jsonl is 30 MB, and copies of it would count in peak memory."""
    with open(path, "rb") as fh:
        buf = bytearray(os.fstat(fh.fileno()).st_size + 2)
        with memoryview(buf) as view:
            size = fh.readinto(view[1:-1])
    if size != len(buf) - 2:
        raise OSError("the file changed while being read")
    buf[0] = buf[-1] = ord(" ")
    if buf[1:4] == _BOM:
        buf[1:4] = b"   "
    # trailing blank lines would make a trailing comma; JSON's own whitespace only, since
    # Python's (a form feed, say) after the last record is an error the loader reports
    end = len(buf) - 1
    while end and buf[end - 1] in _JSON_SPACE:
        end -= 1
    if end == 0:
        return
    chars = np.frombuffer(buf, dtype=np.uint8)
    separators = np.flatnonzero(chars[:end] == ord("\n"))
    chars[separators] = ord(",")
    del chars
    # chunk k runs from bounds[k] to bounds[k + 1], both separators (or the ends)
    bounds = [0, *separators[_CHUNK_LINES - 1::_CHUNK_LINES].tolist()]
    if bounds[-1] != end:
        bounds.append(end)
    with memoryview(buf) as view:
        for k, (lo, hi) in enumerate(zip(bounds, bounds[1:], strict=False)):
            buf[lo], buf[hi] = ord("["), ord("]")
            rows = record.decode(view[lo:hi + 1])
            lines = min(_CHUNK_LINES, separators.size + 1 - k * _CHUNK_LINES)
            # a line "{...},{...}" would add two rows: the loader rejects it, so must we
            if len(rows) != lines:
                raise _Unfit
            yield rows


def _without_blank_lines(path: Path, record: msgspec.json.Decoder) -> Iterator[list]:
    """Blank lines inside the file make ",," above; this drops them, at a copy more."""
    try:
        data = path.read_bytes()
        if data.startswith(_BOM):
            data = data[len(_BOM):]
        lines = [line for line in data.split(b"\n") if line.strip()]
        rows = record.decode(b"[" + b",".join(lines) + b"]")
    except (OSError, msgspec.DecodeError, UnicodeDecodeError):
        raise _Unfit from None
    if len(rows) != len(lines):
        raise _Unfit
    yield rows


def fast_persons(path: Path, default_timeout_s: float, zone_ids: set[str],
                 max_id: int, phone: re.Pattern, max_address: int) -> PersonTable | None:
    """What the loader's line-by-line checks would build, or None where they must decide."""
    for read in (jsonl_chunks, _without_blank_lines):
        try:
            columns = _Columns(default_timeout_s)
            for rows in read(path, _PERSONS):
                columns.add(rows, max_id, phone, max_address)
            return columns.table(zone_ids)
        except _Unfit:
            continue
    return None


class _Columns:
    """Persons gathered column by column, a chunk of rows at a time, each column checked
    whole: a Python step per field of each row was most of the cost."""

    def __init__(self, default_timeout_s: float) -> None:
        self.default_timeout_s = default_timeout_s
        self.ids: list[str] = []
        self.names: list[str] = []
        self.offices, self.officers = Codes(), Codes()
        self.zone_lists, self.group_lists = Codes(), Codes()
        self.office: list[np.ndarray] = []
        self.officer: list[np.ndarray] = []
        self.zones: list[np.ndarray] = []
        self.groups: list[np.ndarray] = []
        self.timeouts: list[float] = []
        self.risks: list[int] = []
        self.phones: dict[int, str] = {}
        self.addresses: dict[int, str] = {}

    def add(self, rows: list[_Person], max_id: int, phone: re.Pattern, max_address: int) -> None:
        at = len(self.ids)
        ids = [r.person_id for r in rows]
        if not all(ids) or max(map(len, ids), default=0) > max_id:  # type: ignore[arg-type]
            raise _Unfit
        names = [r.name for r in rows]
        if "" in names:
            raise _Unfit
        offices, officers = [r.office_id for r in rows], [r.officer_id for r in rows]
        if not (all(offices) and all(officers)):
            raise _Unfit
        given = cast(list[str], ids)  # all() above: no None left
        self.ids += given
        self.names += [pid if n is None else n for pid, n in zip(given, names, strict=True)]
        self.office.append(self.offices.codes(offices))
        self.officer.append(self.officers.codes(officers))
        self.zones.append(self.zone_lists.codes(_lists(r.zones for r in rows)))
        self.groups.append(self.group_lists.codes(_lists(r.groups for r in rows)))
        default = self.default_timeout_s
        timeouts = [default if r.silence_timeout_s is None else r.silence_timeout_s for r in rows]
        if min(timeouts, default=1.0) <= 0:
            raise _Unfit
        self.timeouts += timeouts
        self.risks += [_RISK[r.risk] for r in rows]
        self._rare(rows, at, phone, max_address)

    def _rare(self, rows: list[_Person], at: int, phone: re.Pattern, max_address: int) -> None:
        for i, r in enumerate(rows):
            if r.phone is not None:
                if not phone.fullmatch(r.phone):
                    raise _Unfit
                self.phones[at + i] = r.phone
            if r.address is not None:
                if not 0 < len(r.address) <= max_address:
                    raise _Unfit
                self.addresses[at + i] = r.address

    def table(self, zone_ids: set[str]) -> PersonTable:
        listed = {z for zones in self.zone_lists.values for z in zones}
        named = listed | {g for groups in self.group_lists.values for g in groups}
        if "" in named or not listed <= zone_ids or len(set(self.ids)) != len(self.ids):
            raise _Unfit
        return PersonTable(
            self.ids, self.names, self.offices, self.officers, self.zone_lists,
            self.group_lists, _joined(self.office), _joined(self.officer),
            _joined(self.zones), _joined(self.groups),
            np.array(self.timeouts, dtype=np.float64), np.array(self.risks, dtype=np.int8),
            self.phones, self.addresses)


_RISK: dict[str | None, int] = {None: RISKS.index("medium"), **{r: i for i, r in enumerate(RISKS)}}


def _lists(values: Iterator[list[str] | None]) -> list[tuple[str, ...]]:
    return [tuple(v) if v else () for v in values]


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)


class _Feature(msgspec.Struct):
    geometry: msgspec.Raw = msgspec.Raw()  # any JSON value, empty when the key is missing


class _Collection(msgspec.Struct):
    features: list[_Feature] | None = None


_GEOMETRIES = msgspec.json.Decoder(_Collection)


def raw_geometries(text: str) -> list[bytes | None] | None:
    """Each feature's geometry as the JSON text it was written in; None when the file is not
    shaped so (the loader then says what is wrong)."""
    try:
        features = _GEOMETRIES.decode(text).features
    except msgspec.DecodeError:
        return None
    return None if features is None else [bytes(f.geometry) or None for f in features]


def fast_geometry(gtype: str, raw: bytes) -> shapely.Geometry | None:
    """The geometry `shapely.geometry.shape` makes of this GeoJSON geometry, read by GEOS at C
    speed, when it is 2-D and every position is within longitude and latitude range; None
    otherwise (the loader then checks position by position and says where). GEOS refuses
    what the loader's checks refuse: positions that are not numbers, unclosed rings."""
    try:
        geom = shapely.from_geojson(raw)
    except (shapely.errors.ShapelyError, ValueError):
        return None
    if geom.geom_type != gtype or shapely.has_z(geom):
        return None
    xy = shapely.get_coordinates(geom)
    lon, lat = xy[:, 0], xy[:, 1]
    inside = (lon >= -180) & (lon <= 180) & (lat >= -90) & (lat <= 90)
    return geom if bool(inside.all()) else None
