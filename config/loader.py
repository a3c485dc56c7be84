"""Reads a deployment bundle folder (SPEC §2) into the objects of config.model.

A bundle that breaks a rule stops start-up, so every check raises BundleError naming the file,
the line or feature, and the field: whoever edits the bundle fixes it without reading this code.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import tomllib
from pathlib import Path
from typing import Any, Literal, NoReturn, cast, overload
from zoneinfo import ZoneInfo

import msgspec
import orjson
import shapely
from pydantic import ValidationError
from shapely.errors import ShapelyError
from shapely.geometry import MultiPolygon, shape

from alerts.kinds import CRS_NAMES as CRSES
from alerts.kinds import RISKS, ROLES, SEVERITIES
from alerts.timefmt import parse_ts_ms
from config import cache
from config.fastload import fast_geometry, fast_persons, raw_geometries
from config.model import (
    ZONE_KINDS,
    Bundle,
    OfficerSpec,
    OfficeSpec,
    PermitSpec,
    PersonSpec,
    ShiftSpec,
    Window,
    ZoneSpec,
)
from config.persons import PersonTable
from config.settings import EscalateAfter, NotJSON, Settings, environment_values

_PERSON_FIELDS = ("person_id", "name", "office_id", "officer_id", "zones", "groups",
                  "silence_timeout_s", "risk", "phone", "address")
_OFFICER_FIELDS = ("officer_id", "name", "office_id", "role", "supervisor_id", "phone")
_OFFICE_FIELDS = ("office_id", "name", "parent_id")
_ID_CHARS, _ADDRESS_CHARS = 64, 200
# what a `tel:` link can dial: digits, a leading +, and the separators people write
_PHONE = re.compile(r"\+?[0-9][0-9 -]{2,30}")
_PERMIT_FIELDS = ("permit_id", "person_id", "start", "end", "suspend_zones", "destination",
                  "revoked_at")
_AREAS, _LINES = ("Polygon", "MultiPolygon"), ("Point", "LineString")
_DEPTH = {"Point": 0, "LineString": 1, "Polygon": 2, "MultiPolygon": 3}
_REQUIRED: Any = object()
_HHMM = re.compile(r"(\d\d):(\d\d)")


class BundleError(Exception):
    def __init__(self, file: str, where: str, field: str, problem: str) -> None:
        super().__init__(file, where, field, problem)  # keeps the error picklable
        self.file, self.where, self.field, self.problem = file, where, field, problem

    def __str__(self) -> str:
        place = f"{self.file}:{self.where}" if self.where else self.file
        return f"{place}: {self.field}: {self.problem}"


def parse_hhmm(s: Any, *, end: bool = False) -> int:
    """"HH:MM" -> minutes after midnight; "24:00" only where it ends a window (end=True)."""
    m = _HHMM.fullmatch(s) if isinstance(s, str) else None
    minutes = int(m[1]) * 60 + int(m[2]) if m and int(m[2]) < 60 else -1
    if not 0 <= minutes < 1440 + end:
        last = "24:00" if end else "23:59"
        raise ValueError(f'must be a time "HH:MM" from 00:00 to {last}, got {_show(s)}')
    return minutes


def _show(v: Any) -> str:
    text = json.dumps(v, ensure_ascii=False, default=repr)
    return text if len(text) <= 60 else text[:57] + "..."


def _one_of(choices: tuple[str, ...]) -> str:
    quoted = [f'"{c}"' for c in choices]
    return ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _suggest(key: str, known: Any) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    return f' (did you mean "{close[0]}"?)' if close else ""


class _Rec:
    """One JSON object under check; its errors carry the file, the place and the field path."""

    def __init__(self, data: Any, file: str, where: str, prefix: str = "") -> None:
        self.data, self.file, self.where, self.prefix = data, file, where, prefix
        if not isinstance(data, dict):
            self.fail("", f"must be a JSON object, got {_show(data)}")

    def fail(self, key: str, problem: str) -> NoReturn:
        whole = "(record)" if self.where else "(file)"
        field = self.prefix + key if key else self.prefix.rstrip(".") or whole
        raise BundleError(self.file, self.where, field, problem)

    def only(self, allowed: tuple[str, ...]) -> None:
        # a typo such as "silence_timeout" must not silently leave the default in force
        for key in self.data:
            if key not in allowed:
                self.fail(key, "unknown field" + _suggest(key, allowed))

    def get(self, key: str, default: Any = _REQUIRED) -> Any:
        v = self.data.get(key)
        if v is None and default is _REQUIRED:
            self.fail(key, "is required")
        return default if v is None else v

    def sub(self, key: str) -> _Rec:
        return _Rec(self.get(key), self.file, self.where, f"{self.prefix}{key}.")

    def text(self, key: str, default: Any = _REQUIRED, *, max_len: int = 0, empty: bool = False):
        v = self.get(key, default)
        if v is None or (isinstance(v, str) and (v or empty) and len(v) <= (max_len or len(v))):
            return v
        want = f"a string of 1 to {max_len} characters" if max_len else (
            "a string" if empty else "a non-empty string")
        self.fail(key, f"must be {want}, got {_show(v)}")

    def choice(self, key: str, choices: tuple[str, ...], default: Any = _REQUIRED) -> str:
        v = self.get(key, default)
        if not isinstance(v, str) or v not in choices:
            self.fail(key, f"must be {_one_of(choices)}, got {_show(v)}")
        return v

    def num(self, key: str, default: Any = _REQUIRED, *, positive: bool = False) -> float:
        v = self.get(key, default)
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            self.fail(key, f"must be a number, got {_show(v)}")
        if positive and v <= 0:
            self.fail(key, "must be greater than 0")
        if v < 0:
            self.fail(key, "must not be negative")
        return float(v)

    def strs(self, key: str) -> tuple[str, ...]:
        v = self.get(key, [])
        if not isinstance(v, list) or not all(isinstance(s, str) and s for s in v):
            self.fail(key, f"must be a list of non-empty strings, got {_show(v)}")
        return tuple(v)

    def known(self, key: str, values: Any, ids: Any, what: str, source: str) -> None:
        """`values` is one id (the field is `key`) or a tuple of them (`key[i]`)."""
        for i, v in enumerate(values) if isinstance(values, tuple) else [(None, values)]:
            if v not in ids:
                at = key if i is None else f"{key}[{i}]"
                self.fail(at, f"unknown {what} {_show(v)} (not in {source})")

    def unique(self, key: str, seen: dict[str, str], *, max_len: int = 0) -> str:
        v = self.text(key, max_len=max_len)
        if v in seen:
            self.fail(key, f"duplicate {_show(v)} (first used at {seen[v]})")
        seen[v] = self.where
        return v

    def parsed(self, key: str, parse: Any, default: Any = _REQUIRED) -> Any:
        v = self.get(key, default)
        try:
            return None if v is None else parse(v)
        except ValueError as e:
            self.fail(key, str(e))

    def window(self) -> tuple[tuple[int, ...], int, int]:
        days = self.get("days")
        if not isinstance(days, list) or not days or not all(
            type(d) is int and 1 <= d <= 7 for d in days
        ):
            self.fail("days", "must be a non-empty list of ISO weekdays, 1 (Monday) to 7 "
                      f"(Sunday), got {_show(days)}")
        start = self.parsed("start", parse_hhmm)
        end = self.parsed("end", lambda v: parse_hhmm(v, end=True))
        if start == end:
            both = _show(self.data["start"])
            self.fail("", f"a window must not be empty (start and end are both {both})")
        return tuple(sorted(set(days))), start, end


@overload
def _read(d: Path, name: str, required: Literal[True]) -> str: ...


@overload
def _read(d: Path, name: str, required: bool) -> str | None: ...


def _read(d: Path, name: str, required: bool) -> str | None:
    p = d / name
    if not p.is_file():
        if required:
            raise BundleError(name, "", "(file)", f"is required but missing from {d}")
        return None
    try:
        return p.read_text(encoding="utf-8-sig")  # tolerate the BOM Windows editors write
    except UnicodeDecodeError as e:
        raise BundleError(name, "", "(file)", f"is not UTF-8 ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise BundleError(name, "", "(file)", f"cannot be read: {e.strerror}") from None


def _loads(text: str, name: str, line: int = 0) -> Any:
    # orjson first (a province's officers.json is read on every start, before the cache is
    # looked up); what it refuses (NaN, huge integers, bad JSON) goes the json module's way,
    # which accepts what it always did and words the error
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        where, field = (f"line {line}", "(line)") if line else (f"line {e.lineno}", "(json)")
        raise BundleError(name, where, field, f"malformed JSON: {e.msg} at column {e.colno}") from None


def _jsonl(d: Path, name: str, required: bool):
    text = _read(d, name, required) or ""
    # split on "\n" only: str.splitlines() would also break at U+2028 inside a JSON string;
    # and one line at a time, since a province's persons.jsonl is large
    start, n = 0, 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        line, start, n = text[start:end], end + 1, n + 1
        if not line.strip():
            continue
        obj = _loads(line, name, n)
        if not isinstance(obj, dict):
            raise BundleError(name, f"line {n}", "(line)", f"must be a JSON object, got {_show(obj)}")
        yield _Rec(obj, name, f"line {n}")


def _check_coords(g: _Rec, v: Any, path: str, depth: int) -> None:
    """`depth` is how many list levels stand above the positions (Point 0 .. MultiPolygon 3)."""
    if depth == 0:
        if not (isinstance(v, list) and len(v) >= 2 and all(
                isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
                for x in v)):
            g.fail(path, f"must be a position [lon, lat] of finite numbers, got {_show(v)}")
        if not -180 <= v[0] <= 180:
            g.fail(path, f"longitude {v[0]} is outside [-180, 180]")
        if not -90 <= v[1] <= 90:
            g.fail(path, f"latitude {v[1]} is outside [-90, 90]")
    elif not isinstance(v, list):
        g.fail(path, f"must be a list, got {_show(v)}")
    else:
        for i, x in enumerate(v):
            _check_coords(g, x, f"{path}[{i}]", depth - 1)


def _geometry(f: _Rec, p: _Rec, raw: bytes | None) -> tuple[Any, float | None]:
    g = f.sub("geometry")
    gtype = g.choice("type", _AREAS + _LINES)
    coordinates = g.get("coordinates")
    geom = None if raw is None else fast_geometry(gtype, raw)
    if geom is None:
        _check_coords(g, coordinates, "coordinates", _DEPTH[gtype])
        try:
            geom = shape({"type": gtype, "coordinates": coordinates})
        except (ValueError, TypeError, IndexError, ShapelyError) as e:
            g.fail("coordinates", f"do not make a {gtype}: {str(e).strip()}")
    if geom.is_empty:
        g.fail("coordinates", "must not be empty")
    if gtype in _LINES:
        what = "circle" if gtype == "Point" else "corridor"
        if p.data.get("radius_m") is None:
            p.fail("radius_m", f"is required for a {gtype} zone (the {what}'s radius in metres)")
        return geom, p.num("radius_m", positive=True)
    if p.data.get("radius_m") is not None:
        p.fail("radius_m", f"is only allowed with a Point or LineString geometry, not a {gtype}")
    parts = list(geom.geoms) if isinstance(geom, MultiPolygon) else [geom]
    for i, part in enumerate(parts):
        if not shapely.is_valid(part):
            at = f"coordinates[{i}]" if isinstance(geom, MultiPolygon) else "coordinates"
            g.fail(at, f"is not a valid polygon: {shapely.is_valid_reason(part)}")
    # Alternatives that overlap or share a border (home district next to an approved work
    # district) make an invalid MultiPolygon in OGC terms, yet mean exactly their union.
    return (geom if shapely.is_valid(geom) else shapely.union_all(parts)), None


def _applies_to(p: _Rec) -> tuple[bool, tuple[str, ...]]:
    raw = p.get("applies_to", None)
    if raw is None:
        return False, ()
    if isinstance(raw, dict) and raw.keys() == {"all"} and raw["all"] is True:
        return True, ()
    if isinstance(raw, dict) and raw.keys() == {"groups"}:
        return False, p.sub("applies_to").strs("groups")
    p.fail("applies_to", f'must be {{"all": true}} or {{"groups": [...]}}, got {_show(raw)}')


def _zone(feature: Any, n: int, s: Settings, seen: dict[str, str], raw: bytes | None) -> ZoneSpec:
    f = _Rec(feature, "zones.geojson", f"feature #{n}")
    f.choice("type", ("Feature",))
    # unknown properties are let through: GIS tools add styling and attribute columns
    p = f.sub("properties")
    zone_id = p.unique("zone_id", seen)
    inclusion = p.choice("kind", ZONE_KINDS) == "inclusion"
    geometry, radius_m = _geometry(f, p, raw)
    buffer = s.default_buffer_inclusion_m if inclusion else s.default_buffer_exclusion_m
    schedule = p.get("schedule", None)
    if schedule is not None and (not isinstance(schedule, list) or not schedule):
        p.fail("schedule", "must be a non-empty list of windows (leave it out for a zone that "
               f"is always active), got {_show(schedule)}")
    windows = None if schedule is None else tuple(
        Window(*_Rec(w, f.file, f.where, f"properties.schedule[{i}].").window())
        for i, w in enumerate(schedule))
    applies_all, groups = _applies_to(p)
    evidence = _evidence_overrides(p)
    return ZoneSpec(
        zone_id=zone_id, name=p.text("name", zone_id), kind=p.data["kind"], geometry=geometry,
        radius_m=radius_m, crs=p.choice("crs", CRSES, "wgs84"), buffer_m=p.num("buffer_m", buffer),
        severity=p.choice("severity", SEVERITIES, "high" if inclusion else "critical"),
        schedule=windows, applies_to_all=applies_all, applies_to_groups=groups,
        source=f"zones.geojson feature #{n}", **evidence)


def _evidence_overrides(p: _Rec) -> dict[str, Any]:
    """A zone's own confirm_fixes, confirm_s and accuracy_sigmas (SPEC §3), when it sets them."""
    out: dict[str, Any] = {}
    if p.data.get("confirm_fixes") is not None:
        v = p.data["confirm_fixes"]
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            p.fail("confirm_fixes", f"must be a whole number of fixes, at least 1, got {_show(v)}")
        out["confirm_fixes"] = v
    if p.data.get("confirm_s") is not None:
        out["confirm_s"] = p.num("confirm_s")
    if p.data.get("accuracy_sigmas") is not None:
        out["accuracy_sigmas"] = p.num("accuracy_sigmas")
    return out


def _load_zones(d: Path, s: Settings) -> list[ZoneSpec]:
    text = _read(d, "zones.geojson", required=True)
    try:
        fc = msgspec.json.decode(text)
    except msgspec.DecodeError:
        fc = _loads(text, "zones.geojson")  # says where; or reads what only Python's json takes
    top = fc.get("type") if isinstance(fc, dict) else fc
    if top != "FeatureCollection":
        raise BundleError("zones.geojson", "", "type", f'must be "FeatureCollection", got {_show(top)}')
    if not isinstance(fc.get("features"), list):
        raise BundleError("zones.geojson", "", "features", "must be a list of features")
    seen: dict[str, str] = {}
    raws = raw_geometries(text)
    if raws is None or len(raws) != len(fc["features"]):
        raws = [None] * len(fc["features"])
    return [_zone(feature, n, s, seen, raw)
            for n, (feature, raw) in enumerate(zip(fc["features"], raws, strict=True), 1)]


def _load_persons(d: Path, s: Settings, zone_ids: set[str]) -> PersonTable:
    fast = fast_persons(d / "persons.jsonl", float(s.silence_timeout_s), zone_ids,
                        _ID_CHARS, _PHONE, _ADDRESS_CHARS)
    if fast is not None:
        return fast
    # the line-by-line checks below are what name the file, line and field of a problem
    persons: list[PersonSpec] = []
    seen: dict[str, str] = {}
    # Offices, officers and zone lists repeat across a caseload: sharing one object per value
    # saves a few hundred bytes a person, which at a province's 200,000 persons is most of
    # the engine's memory.
    shared: dict = {}
    for r in _jsonl(d, "persons.jsonl", required=True):
        r.only(_PERSON_FIELDS)
        pid = r.unique("person_id", seen, max_len=_ID_CHARS)
        zones = r.strs("zones")
        r.known("zones", zones, zone_ids, "zone", "zones.geojson")
        groups = r.strs("groups")
        persons.append(PersonSpec(
            person_id=pid, name=r.text("name", pid),
            office_id=shared.setdefault(r.text("office_id"), r.text("office_id")),
            officer_id=shared.setdefault(r.text("officer_id"), r.text("officer_id")),
            zones=shared.setdefault(zones, zones), groups=shared.setdefault(groups, groups),
            silence_timeout_s=r.num("silence_timeout_s", s.silence_timeout_s, positive=True),
            risk=r.choice("risk", RISKS, "medium"),
            phone=r.parsed("phone", _phone, None),
            address=r.text("address", None, max_len=_ADDRESS_CHARS)))
    return PersonTable.from_specs(persons)


def _phone(v: Any) -> str:
    if not isinstance(v, str) or not _PHONE.fullmatch(v):
        raise ValueError(f'must be a phone number such as "13800000000" or "+86 579 8200 0000", '
                         f"got {_show(v)}")
    return v


def _items(top: _Rec, key: str):
    items = top.get(key, [])
    if not isinstance(items, list):
        top.fail(key, f"must be a list, got {_show(items)}")
    for i, item in enumerate(items):
        yield _Rec(item, top.file, f"{key}[{i}]")


def _load_offices(top: _Rec) -> list[OfficeSpec]:
    records: list[tuple[_Rec, OfficeSpec]] = []
    index: dict[str, str] = {}
    for r in _items(top, "offices"):
        r.only(_OFFICE_FIELDS)
        oid = r.unique("office_id", index, max_len=64)
        records.append((r, OfficeSpec(oid, r.text("name", oid), r.text("parent_id", None))))
    parents = {o.office_id: o.parent_id for _, o in records}
    for r, o in records:  # a parent may be listed after its children
        if o.parent_id is None:
            continue
        r.known("parent_id", o.parent_id, index, "office", "offices")
        chain, at = [o.office_id], cast(str | None, o.parent_id)
        while at is not None:
            if at in chain:
                loop = " → ".join([*chain[chain.index(at):], at])
                r.fail("parent_id", f"makes a cycle ({loop}): the chain must end at an office "
                       "without parent_id (the county's 社区矫正指挥中心)")
            chain.append(at)
            at = parents.get(at)
    return [o for _, o in records]


def _load_officers(top: _Rec) -> tuple[list[OfficerSpec], list[ShiftSpec]]:
    top.only(("offices", "officers", "shifts", "escalate_after_s"))
    officers: list[tuple[_Rec, OfficerSpec]] = []
    index: dict[str, str] = {}
    for r in _items(top, "officers"):
        r.only(_OFFICER_FIELDS)
        oid = r.unique("officer_id", index)
        officers.append((r, OfficerSpec(
            officer_id=oid, name=r.text("name", oid), office_id=r.text("office_id"),
            role=r.choice("role", ROLES, "officer"), supervisor_id=r.text("supervisor_id", None),
            phone=r.parsed("phone", _phone, None))))
    for r, o in officers:  # a second pass: a supervisor may be listed after their officers
        if o.supervisor_id is not None:
            r.known("supervisor_id", o.supervisor_id, index, "officer", "officers.json")
    shifts = []
    for r in _items(top, "shifts"):
        r.only(("officer_id", "days", "start", "end"))
        oid = r.text("officer_id")
        r.known("officer_id", oid, index, "officer", "officers.json")
        shifts.append(ShiftSpec(oid, *r.window()))
    return [o for _, o in officers], shifts


def _load_permits(d: Path, person_ids: set[str], zone_ids: set[str]) -> list[PermitSpec]:
    permits: list[PermitSpec] = []
    seen: dict[str, str] = {}
    for r in _jsonl(d, "permits.jsonl", required=False):
        r.only(_PERMIT_FIELDS)
        permit_id = r.unique("permit_id", seen)
        person_id = r.text("person_id")
        r.known("person_id", person_id, person_ids, "person", "persons.jsonl")
        start, end = r.parsed("start", parse_ts_ms), r.parsed("end", parse_ts_ms)
        if end <= start:
            r.fail("end", f"must be after start ({_show(r.data['start'])})")
        suspend = None
        if r.data.get("suspend_zones") is not None:
            suspend = r.strs("suspend_zones")
            r.known("suspend_zones", suspend, zone_ids, "zone", "zones.geojson")
        permits.append(PermitSpec(
            permit_id=permit_id, person_id=person_id, start=start, end=end,
            suspend_zones=suspend, destination=r.text("destination", "", empty=True),
            revoked_at=r.parsed("revoked_at", parse_ts_ms, None)))
    return permits


def _settings_error(e: ValidationError, file: str) -> BundleError:
    err = e.errors()[0]
    field = ".".join(str(x) for x in err["loc"])
    problem = err["msg"].replace("Input should be ", "must be ").removeprefix("Value error, ")
    if err["type"] == "model_type":  # the pydantic message names our class, not the shape
        problem = 'must be a table of severities, e.g. {"critical": 300}'

    problem = problem.replace("Extra inputs are not permitted", "unknown setting")
    if file == "environment":  # the variable holds the whole value, nested ones as JSON
        inner = ".".join(str(x) for x in err["loc"][1:])
        problem = f"{inner}: {problem}" if inner else problem
        return BundleError(file, "", f"LOOKOUT_{err['loc'][0]}".upper(), problem)
    return BundleError(file, "", field, f"{problem}, got {_show(err.get('input'))}")


def _load_settings(d: Path, escalate: dict[str, float]) -> Settings:
    text = _read(d, "settings.toml", required=False)
    try:
        toml = tomllib.loads(text or "")
    except tomllib.TOMLDecodeError as e:
        raise BundleError("settings.toml", "", "(toml)", f"malformed TOML: {e}") from None
    for key in toml:
        if key not in Settings.model_fields:
            raise BundleError("settings.toml", "", key,
                              "unknown setting" + _suggest(key, Settings.model_fields))
    try:
        env = environment_values()
        Settings(**env)
    except ValidationError as e:
        raise _settings_error(e, "environment") from None
    except NotJSON as e:
        raise BundleError("environment", "", e.variable.upper(),
                          'must be JSON, e.g. {"critical": 300}') from None
    env_keys = set(env)
    try:
        settings = Settings(**(toml | env))  # the environment wins
    except ValidationError as e:
        raise _settings_error(e, "settings.toml") from None
    source, field = ("environment", "LOOKOUT_TIMEZONE") if "timezone" in env_keys else (
        "settings.toml", "timezone")
    try:
        ZoneInfo(settings.timezone)
    except (KeyError, ValueError, OSError):
        raise BundleError(source, "", field, f"unknown time zone {_show(settings.timezone)} "
                          '(expected an IANA name such as "Asia/Shanghai")') from None
    if escalate and "escalate_after_s" not in env_keys:
        merged = settings.escalate_after_s.model_dump() | escalate
        settings = settings.model_copy(update={"escalate_after_s": EscalateAfter(**merged)})
    return settings


def load_bundle(path: str | Path) -> Bundle:
    """Reads and checks the bundle folder; raises BundleError at the first rule broken.
    A bundle that passed before, byte for byte and with the same settings, comes from the
    compiled bundle cache (config/cache.py) without being read again."""
    with cache.no_gc_pauses():
        return _load_bundle(Path(path))


def _load_bundle(d: Path) -> Bundle:
    if not d.is_dir():
        raise BundleError(str(d), "", "(bundle)", "is not a directory")
    raw = _read(d, "officers.json", required=False)
    top = _Rec({} if raw is None else _loads(raw, "officers.json"), "officers.json", "")
    escalate = {}
    if top.data.get("escalate_after_s") is not None:
        esc = top.sub("escalate_after_s")
        esc.only(SEVERITIES)
        escalate = {k: esc.num(k) for k in esc.data}
    # precedence: defaults < settings.toml < officers.json escalate_after_s < LOOKOUT_*
    settings = _load_settings(d, escalate)
    entry = cache.entry_folder(d, settings.model_dump_json().encode())
    parts = cache.read_bundle(entry)
    if parts is None:
        parts = _load_checked(d, settings, top)
        cache.write_bundle(entry, parts)
    else:
        cache.touch(entry)
    return cache.attach(Bundle(d, settings, *parts), entry)


def _load_checked(d: Path, settings: Settings, top: _Rec) -> tuple:
    """(zones, persons, officers, shifts, permits, offices), every rule checked."""
    zones = _load_zones(d, settings)
    zone_ids = {z.zone_id for z in zones}
    persons = _load_persons(d, settings, zone_ids)
    offices = _load_offices(top)
    officers, shifts = _load_officers(top)
    permits = _load_permits(d, set(persons.ids), zone_ids)
    return zones, persons, officers, shifts, permits, offices
