"""Edits of the bundle's file texts: each takes the current texts and returns the texts to
write and what the audit log should say. Pure: no I/O, no clock.

Validation is the loader's job (config/loader.py): an edit writes what it was given, and the
caller loads the result from a scratch copy, so a bad value comes back as the loader's
`file:line:field` message, e.g. `permits.jsonl:line 4: start: must be an RFC 3339 time...`.
An edit refuses only what the loader cannot see: an id that does not exist, a field an
update may not change.

Untouched lines keep their bytes: a person's line numbers, and whoever reads a `git diff` of
the bundle, see only the change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from alerts.admin.bundle_files import Texts

PERSONS, PERMITS, ZONES, OFFICERS = "persons.jsonl", "permits.jsonl", "zones.geojson", "officers.json"


class EditRefused(Exception):
    """`status`: the HTTP status that says it best (404 unknown id, 409 conflict, 422 bad)."""

    def __init__(self, status: int, code: str, zh: str, en: str):
        super().__init__(en)
        self.status, self.code, self.zh, self.en = status, code, zh, en


@dataclass
class Edit:
    files: Texts
    what: str  # e.g. permits.add, for the audit log
    target: str
    before: Any = None
    after: Any = None
    extra: dict = field(default_factory=dict)


def _dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False)


def _lines(text: str | None) -> list[str]:
    """Lines without their newline; a final newline makes no empty last line."""
    if not text:
        return []
    lines = text.split("\n")
    return lines[:-1] if lines[-1] == "" else lines


def _join(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


def _find(lines: list[str], key: str, value: str) -> tuple[int, dict] | None:
    for i, line in enumerate(lines):
        try:
            obj = json.loads(line.lstrip("\ufeff")) if line.strip() else None
        except json.JSONDecodeError:
            continue  # the loader reports it; this edit is about another line
        if isinstance(obj, dict) and obj.get(key) == value:
            return i, obj
    return None


def records(text: str | None) -> list[dict]:
    out = []
    for line in _lines(text):
        try:
            obj = json.loads(line.lstrip("\ufeff")) if line.strip() else None
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            out.append(obj)
    return out


def _body(body: Any, what: str) -> dict:
    if not isinstance(body, dict):
        raise EditRefused(422, "invalid_body", f"{what}：须为 JSON 对象", f"{what}: must be a JSON object")
    return body


# -- permits (请假外出) -------------------------------------------------------------------------


def new_permit_id(texts: Texts, day: str) -> str:
    """QJ-<local date>-<n>, the next number free that day."""
    taken = {r.get("permit_id") for r in records(texts.get(PERMITS))}
    n = 1
    while f"QJ-{day}-{n:03d}" in taken:
        n += 1
    return f"QJ-{day}-{n:03d}"


def add_permit(texts: Texts, body: dict, default_id: str) -> Edit:
    body = _body(body, "permit")
    # the id first, as people read the file
    record = {"permit_id": body["permit_id"] if "permit_id" in body else default_id,
              **{k: v for k, v in body.items() if k != "permit_id"}}
    lines = _lines(texts.get(PERMITS)) + [_dumps(record)]
    return Edit({PERMITS: _join(lines)}, "permits.add", str(record["permit_id"]), None, record)


def revoke_permit(texts: Texts, permit_id: str, at: str) -> Edit:
    lines = _lines(texts.get(PERMITS))
    found = _find(lines, "permit_id", permit_id)
    if found is None:
        raise EditRefused(404, "not_found", "没有该请假记录", "no such permit")
    i, old = found
    if old.get("revoked_at") is not None:
        raise EditRefused(409, "already_revoked", "该请假已撤销", "the permit is already revoked")
    new = {**old, "revoked_at": at}
    lines[i] = _dumps(new)
    return Edit({PERMITS: _join(lines)}, "permits.revoke", permit_id, old, new)


def permits_of(texts: Texts, person_id: str | None = None) -> list[dict]:
    return [r for r in records(texts.get(PERMITS))
            if person_id is None or r.get("person_id") == person_id]


def permit(texts: Texts, permit_id: str) -> dict | None:
    found = _find(_lines(texts.get(PERMITS)), "permit_id", permit_id)
    return found[1] if found else None


# -- persons (社区矫正对象) ---------------------------------------------------------------------


def add_person(texts: Texts, body: dict) -> Edit:
    record = _body(body, "person")
    lines = _lines(texts.get(PERSONS)) + [_dumps(record)]
    return Edit({PERSONS: _join(lines)}, "persons.add", str(record.get("person_id")), None, record)


def update_person(texts: Texts, person_id: str, changes: dict) -> Edit:
    """Fields in `changes` replace the person's; a null removes the field (its default then
    applies). The id cannot change: alerts and tracks are filed under it."""
    changes = _body(changes, "person")
    if changes.get("person_id", person_id) != person_id:
        raise EditRefused(422, "id_immutable", "编号不能修改", "person_id cannot change")
    lines = _lines(texts.get(PERSONS))
    found = _find(lines, "person_id", person_id)
    if found is None:
        raise EditRefused(404, "not_found", "没有该社区矫正对象", "no such person")
    i, old = found
    new = {k: v for k, v in {**old, **changes}.items() if v is not None}
    lines[i] = _dumps(new)
    return Edit({PERSONS: _join(lines)}, "persons.update", person_id, old, new)


def release_person(texts: Texts, person_id: str, reason: str = "") -> Edit:
    """解除矫正: out of persons.jsonl, and their permits with them (a permit names a person
    the bundle must know). Both go into the audit log's `before`."""
    lines = _lines(texts.get(PERSONS))
    found = _find(lines, "person_id", person_id)
    if found is None:
        raise EditRefused(404, "not_found", "没有该社区矫正对象", "no such person")
    i, old = found
    del lines[i]
    files: dict[str, str | None] = {PERSONS: _join(lines)}
    permit_lines = _lines(texts.get(PERMITS))
    kept = [ln for ln in permit_lines if not _is_permit_of(ln, person_id)]
    dropped = [json.loads(ln) for ln in permit_lines if _is_permit_of(ln, person_id)]
    if dropped:
        files[PERMITS] = _join(kept)
    return Edit(files, "persons.release", person_id, {"person": old, "permits": dropped},
                {"released": True, "reason": reason})


def _is_permit_of(line: str, person_id: str) -> bool:
    return _find([line], "person_id", person_id) is not None


# -- zones (电子围栏) ---------------------------------------------------------------------------


def _collection(texts: Texts) -> dict:
    try:
        fc = json.loads((texts.get(ZONES) or "").lstrip("\ufeff"))
    except json.JSONDecodeError:
        fc = None
    if not isinstance(fc, dict) or not isinstance(fc.get("features"), list):
        raise EditRefused(409, "bundle_unreadable", "zones.geojson 无法读取，请先修复",
                          "zones.geojson cannot be read; fix it first")
    return fc


def _dump_collection(fc: dict) -> str:
    # one feature per line: a feature's number (the loader's "feature #n") is its line
    head = "".join(f"{_dumps(k)}: {_dumps(v)}, " for k, v in fc.items() if k != "features")
    rows = ",\n".join(_dumps(f) for f in fc["features"])
    return "{" + head + '"features": [\n' + rows + "\n]}\n"


def _zone_id(feature: Any) -> Any:
    props = feature.get("properties") if isinstance(feature, dict) else None
    return props.get("zone_id") if isinstance(props, dict) else None


def _index(fc: dict, zone_id: str) -> int:
    for i, f in enumerate(fc["features"]):
        if _zone_id(f) == zone_id:
            return i
    raise EditRefused(404, "not_found", "没有该区域", "no such zone")


def add_zone(texts: Texts, feature: dict) -> Edit:
    fc = _collection(texts)
    fc["features"].append(_body(feature, "feature"))
    return Edit({ZONES: _dump_collection(fc)}, "zones.add", str(_zone_id(feature)), None,
                feature)


def update_zone(texts: Texts, zone_id: str, feature: dict) -> Edit:
    feature = _body(feature, "feature")
    if _zone_id(feature) not in (None, zone_id):
        raise EditRefused(422, "id_immutable", "区域编号不能修改", "zone_id cannot change")
    if isinstance(feature.get("properties"), dict):
        feature = {**feature, "properties": {**feature["properties"], "zone_id": zone_id}}
    fc = _collection(texts)
    i = _index(fc, zone_id)
    old = fc["features"][i]
    fc["features"][i] = feature
    return Edit({ZONES: _dump_collection(fc)}, "zones.update", zone_id, old, feature)


def remove_zone(texts: Texts, zone_id: str) -> Edit:
    """A zone still named by a person or a permit is refused by the loader, with the line."""
    fc = _collection(texts)
    old = fc["features"].pop(_index(fc, zone_id))
    return Edit({ZONES: _dump_collection(fc)}, "zones.remove", zone_id, old, None)


# -- shifts (排班) ------------------------------------------------------------------------------


def _officers(texts: Texts) -> dict:
    try:
        top = json.loads((texts.get(OFFICERS) or "{}").lstrip("\ufeff"))
    except json.JSONDecodeError:
        top = None
    if not isinstance(top, dict):
        raise EditRefused(409, "bundle_unreadable", "officers.json 无法读取，请先修复",
                          "officers.json cannot be read; fix it first")
    return top


def _dump_officers(top: dict) -> str:
    # the demo's layout: one officer or shift per line, so a rota change is a one-line diff
    parts = []
    for k, v in top.items():
        if isinstance(v, list) and v:
            parts.append(f'  {_dumps(k)}: [\n' + ",\n".join("    " + _dumps(x) for x in v) + "\n  ]")
        else:
            parts.append(f"  {_dumps(k)}: {_dumps(v)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def _list(value: object) -> list:
    return value if isinstance(value, list) else []


def set_shifts(texts: Texts, officer_id: str, windows: list) -> Edit:
    """The officer's shifts become `windows` ([{days, start, end}]); [] leaves them none,
    which the router reads as always on duty (SPEC §4)."""
    if not isinstance(windows, list):
        raise EditRefused(422, "invalid_body", "shifts：须为列表", "shifts: must be a list")
    top = _officers(texts)
    officers = _list(top.get("officers"))
    if not any(isinstance(o, dict) and o.get("officer_id") == officer_id for o in officers):
        raise EditRefused(404, "not_found", "没有该工作人员", "no such officer")
    shifts = _list(top.get("shifts"))
    mine = [i for i, s in enumerate(shifts) if isinstance(s, dict)
            and s.get("officer_id") == officer_id]
    old = [shifts[i] for i in mine]
    new = [{"officer_id": officer_id, **w} if isinstance(w, dict) else w for w in windows]
    at = mine[0] if mine else len(shifts)  # where the officer's rota was: a small diff
    rest = [s for i, s in enumerate(shifts) if i not in set(mine)]
    top["shifts"] = rest[:at] + new + rest[at:]
    return Edit({OFFICERS: _dump_officers(top)}, "shifts.set", officer_id, old, new)


def shifts_of(texts: Texts) -> list[dict]:
    shifts = _officers(texts).get("shifts")
    return shifts if isinstance(shifts, list) else []
