"""Decoding raw lines into events and dead letters (SPEC §1), and reading/writing them."""

from __future__ import annotations

import gzip
import importlib.util
import io
import json
import math
import sys
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.timefmt import utc_rfc3339
from config.settings import Settings
from stream.deadletter import DeadLetterWriter
from stream.decode import (
    Decoder,
    check_record,
    raw_text,
    rfc3339_ms,
)
from stream.decode.timestamps import _parse_rfc3339
from stream.events import (
    FIX,
    FUTURE_TS,
    INVALID_FIELD,
    MALFORMED_JSON,
    NO_STATUS,
    POWER_OFF,
    STATUS,
    TICK,
    UNKNOWN_PERSON,
    DeadLetter,
    EventBatch,
)
from stream.source import read_chunks

RECV = 1_795_737_600_000  # 2026-11-27T00:00:00Z, the wall clock at receipt in these tests
PEOPLE = {"P1": 0, "P2": 1, "L" * 64: 2, "L" * 65: 3}
HAS_CRS = importlib.util.find_spec("geofences.crs") is not None


def make_decoder(**overrides) -> Decoder:
    return Decoder(PEOPLE, Settings(**overrides))


DEC = make_decoder()


def line(**fields) -> bytes:
    return json.dumps(fields, ensure_ascii=False).encode()


def fix(**fields) -> bytes:
    base = {"type": "fix", "person_id": "P1", "ts": RECV - 60_000, "lat": 29.08, "lon": 119.65}
    base.update(fields)
    return line(**{k: v for k, v in base.items() if v is not ...})


def assert_same(a: tuple[EventBatch, list[DeadLetter]], b: tuple[EventBatch, list[DeadLetter]]):
    (ba, da), (bb, db) = a, b
    assert da == db
    assert len(ba) == len(bb)
    for col in EventBatch.COLUMNS:
        x, y = getattr(ba, col), getattr(bb, col)
        assert x.dtype == y.dtype, col
        if col in ("lat", "lon"):
            np.testing.assert_allclose(x, y, rtol=0, atol=1e-9, err_msg=col)
        else:
            np.testing.assert_array_equal(x, y, err_msg=col)


def decode(lines: list[bytes], dec: Decoder = DEC, received_at_ms: int = RECV, first_seq: int = 0):
    """Decode with both paths, check they agree, return the fast path's answer."""
    fast = dec.decode(lines, received_at_ms, first_seq)
    assert_same(fast, dec.decode_slow(lines, received_at_ms, first_seq))
    return fast


def accepted(ln: bytes, dec: Decoder = DEC) -> EventBatch:
    batch, dead = decode([ln], dec)
    assert not dead, dead
    assert len(batch) == 1
    return batch


def rejected(ln: bytes, reason: str, dec: Decoder = DEC) -> DeadLetter:
    batch, dead = decode([ln], dec)
    assert len(batch) == 0
    assert [d.reason for d in dead] == [reason], dead
    return dead[0]


# --- fields at their edges -------------------------------------------------------------------


def test_valid_fix_columns():
    b = accepted(fix(accuracy_m=12.5, battery_pct=80, source="cell", speed_mps=1.5, device_id="D"))
    assert b.kind[0] == FIX and b.person[0] == 0 and b.ts[0] == RECV - 60_000
    assert (b.lat[0], b.lon[0], b.accuracy_m[0], b.battery_pct[0]) == (29.08, 119.65, 12.5, 80)
    assert b.status[0] == NO_STATUS and not b.drill[0] and b.seq[0] == 0


@pytest.mark.parametrize("lat", [90, -90, 90.0, 0, 45.5])
def test_lat_in_range(lat):
    accepted(fix(lat=lat, lon=1))


@pytest.mark.parametrize("lat", [90.0001, -90.0001, 123.0, 1e300])
def test_lat_out_of_range(lat):
    d = rejected(fix(lat=lat), INVALID_FIELD)
    assert d.detail.startswith("lat: must be within [-90, 90], got ")


def test_lat_detail_names_the_value():
    assert rejected(fix(lat=123.0), INVALID_FIELD).detail == "lat: must be within [-90, 90], got 123.0"


@pytest.mark.parametrize("lon, ok", [(180, True), (-180, True), (180.0001, False), (-181, False)])
def test_lon_edges(lon, ok):
    if ok:
        accepted(fix(lon=lon))
    else:
        assert rejected(fix(lon=lon), INVALID_FIELD).detail.startswith("lon:")


def test_lat_lon_both_zero_rejected_but_one_zero_is_fine():
    assert rejected(fix(lat=0, lon=0), INVALID_FIELD).detail.startswith("lat, lon:")
    rejected(fix(lat=-0.0, lon=0.0), INVALID_FIELD)
    accepted(fix(lat=0, lon=1))
    accepted(fix(lat=1, lon=0))


@pytest.mark.parametrize("field", ["lat", "lon"])
@pytest.mark.parametrize("value", ["29.1", True, None, [1], {"a": 1}, ...])
def test_coordinates_must_be_numbers(field, value):
    d = rejected(fix(**{field: value}), INVALID_FIELD)
    assert d.detail.startswith(f"{field}:")


def test_huge_numbers():
    rejected(fix().replace(b'"lat": 29.08', b'"lat": 1e400'), INVALID_FIELD)
    rejected(fix().replace(b'"lat": 29.08', b'"lat": ' + b"9" * 400), INVALID_FIELD)
    # a number too big for a float in a field nobody reads is still just ignored
    accepted(fix().replace(b"{", b'{"extra": 1e400, ', 1))


def test_accuracy_edges_and_default():
    assert accepted(fix(accuracy_m=0)).accuracy_m[0] == 0
    assert accepted(fix()).accuracy_m[0] == 30
    assert accepted(fix(accuracy_m=None)).accuracy_m[0] == 30
    assert accepted(fix(), make_decoder(default_accuracy_m=50)).accuracy_m[0] == 50
    d = rejected(fix(accuracy_m=-1), INVALID_FIELD)
    assert d.detail == "accuracy_m: must be >= 0, got -1"
    rejected(fix(accuracy_m="5"), INVALID_FIELD)


def test_battery_edges():
    assert accepted(fix(battery_pct=100)).battery_pct[0] == 100
    assert accepted(fix(battery_pct=0)).battery_pct[0] == 0
    assert np.isnan(accepted(fix()).battery_pct[0])
    assert rejected(fix(battery_pct=101), INVALID_FIELD).detail.startswith("battery_pct:")
    rejected(fix(battery_pct=-0.5), INVALID_FIELD)
    rejected(line(type="status", person_id="P1", ts=RECV, event="heartbeat", battery_pct=100.5), INVALID_FIELD)


def test_enums():
    for source in ("gnss", "cell", "wifi", "manual", None):
        accepted(fix(source=source))
    for crs in ("wgs84", None):
        accepted(fix(crs=crs))
    assert rejected(fix(source="network"), INVALID_FIELD).detail.startswith("source: must be one of")
    assert rejected(fix(crs="WGS84"), INVALID_FIELD).detail.startswith("crs:")
    assert rejected(fix(source=1), INVALID_FIELD).detail.startswith("source:")


def test_speed_and_device_id_types():
    accepted(fix(speed_mps=-1))  # some devices say -1 for "unknown"; it is still a number
    rejected(fix(speed_mps="fast"), INVALID_FIELD)
    rejected(fix(device_id=7), INVALID_FIELD)
    accepted(fix(device_id=None))


def test_type_rules():
    assert rejected(fix(type=...), INVALID_FIELD).detail == "type: required"
    assert rejected(fix(type="Fix"), INVALID_FIELD).detail.startswith("type: must be one of")
    rejected(fix(type=1), INVALID_FIELD)


def test_person_id_rules():
    assert rejected(fix(person_id=...), INVALID_FIELD).detail == "person_id: required"
    rejected(fix(person_id=""), INVALID_FIELD)
    rejected(fix(person_id=7), INVALID_FIELD)
    accepted(fix(person_id="L" * 64))
    # 65 characters break the rule even when the bundle (wrongly) registered the id
    rejected(fix(person_id="L" * 65), INVALID_FIELD)
    d = rejected(fix(person_id="P9"), UNKNOWN_PERSON)
    assert d.detail == 'person_id: not a registered person, got "P9"'


def test_status_event():
    b = accepted(line(type="status", person_id="P2", ts=RECV, event="power_off", battery_pct=9))
    assert (b.kind[0], b.person[0], b.status[0], b.battery_pct[0]) == (STATUS, 1, POWER_OFF, 9)
    assert np.isnan(b.lat[0]) and np.isnan(b.accuracy_m[0])
    rejected(line(type="status", person_id="P2", ts=RECV), INVALID_FIELD)
    d = rejected(line(type="status", person_id="P2", ts=RECV, event="reboot"), INVALID_FIELD)
    assert d.detail.startswith("event: must be one of power_off")
    # fix-only fields on a status are somebody else's extra fields
    accepted(line(type="status", person_id="P2", ts=RECV, event="heartbeat", lat="x", crs="?"))


def test_tick_needs_no_person():
    b = accepted(line(type="tick", ts=RECV))
    assert (b.kind[0], b.person[0], b.status[0]) == (TICK, -1, NO_STATUS)
    accepted(line(type="tick", ts=RECV, person_id=5, lat="x"))  # nothing else is read
    rejected(line(type="tick"), INVALID_FIELD)


def test_extra_fields_ignored():
    accepted(fix(note={"deep": [1, 2, {"x": None}]}, vendor="acme", heading=270))


def test_drill_flag():
    assert accepted(fix(drill=True)).drill[0]
    assert not accepted(fix(drill=False)).drill[0]
    assert not accepted(fix(drill=None)).drill[0]
    assert rejected(fix(drill="yes"), INVALID_FIELD).detail.startswith("drill:")
    rejected(fix(drill=1), INVALID_FIELD)


# --- timestamps ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ts",
    [
        "2026-11-27T08:00:00+08:00",
        "2026-11-27T00:00:00Z",
        "2026-11-27T00:00:00z",
        "2026-11-27t00:00:00.000Z",
        "2026-11-27 00:00:00Z",
        "2026-11-26T19:30:00-04:30",
        "2026-11-27T00:00:00.0009999999999999999Z",
        1795737600000,
        1795737600000.0,
        1795737600000.999,
    ],
)
def test_ts_forms_agree(ts):
    assert accepted(fix(ts=ts)).ts[0] == 1_795_737_600_000


def test_ts_fraction_truncates_to_ms():
    assert accepted(fix(ts="2026-11-27T00:00:00.1239Z")).ts[0] == RECV + 123
    assert accepted(fix(ts="2026-11-27T08:00:00.5+08:00")).ts[0] == RECV + 500
    assert accepted(fix(ts="1999-12-31T23:59:59.999999-00:00")).ts[0] == 946684799999


@pytest.mark.parametrize(
    "ts",
    [
        True,
        False,
        "2026-11-27T00:00:00",  # no offset
        "2026-11-27",
        "2026-11-27T00:00Z",
        "20261127T000000Z",
        "2026-02-29T00:00:00Z",
        "2026-11-27T24:00:00Z",
        "2026-11-27T00:00:60Z",
        "2026-11-27T00:00:00+24:00",
        "2026-11-27T00:00:00+08:60",
        "2026-11-27T00:00:00.Z",
        "2026-11-27T00:00:00Z ",
        "１７９５７３７６００００００",
        "1795737600000",
        [],
        {},
        1e20,
        -1e20,
        10**30,
    ],
)
def test_ts_rejected(ts):
    d = rejected(fix(ts=ts), INVALID_FIELD)
    assert d.detail.startswith("ts:")


def test_ts_missing():
    assert rejected(fix(ts=...), INVALID_FIELD).detail == "ts: required"


def test_future_ts_edge():
    limit = RECV + 300_000
    assert accepted(fix(ts=limit)).ts[0] == limit
    d = rejected(fix(ts=limit + 1), FUTURE_TS)
    assert d.detail.startswith("ts: 300.001 s ahead")
    rejected(fix(ts="2026-11-27T00:05:00.001Z"), FUTURE_TS)
    accepted(fix(ts="2026-11-27T00:05:00.000999Z"))
    rejected(line(type="tick", ts=limit + 1), FUTURE_TS)
    accepted(fix(ts=limit + 1), make_decoder(max_future_s=301))


def test_drill_exempt_from_future_ts():
    accepted(fix(ts=RECV + 86_400_000, drill=True))
    accepted(line(type="tick", ts=RECV + 86_400_000, drill=True))
    rejected(fix(ts=RECV + 86_400_000, drill=False), FUTURE_TS)


def test_reason_priority():
    # a broken field wins over an unknown person, which wins over a future ts
    assert rejected(fix(person_id="P9", lat=100, ts=RECV * 2), INVALID_FIELD).detail.startswith("lat")
    rejected(fix(person_id="P9", ts=RECV + 10**9), UNKNOWN_PERSON)


_TS_SHAPES = st.one_of(
    st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.timezones()
    ).map(lambda t: t.isoformat()),
    st.builds(
        "{:04d}-{:02d}-{:02d}{}{:02d}:{:02d}:{:02d}{}{}".format,
        st.integers(0, 10000),
        st.integers(0, 13),
        st.integers(0, 32),
        st.sampled_from("Tt x"),
        st.integers(0, 25),
        st.integers(0, 61),
        st.integers(0, 61),
        st.sampled_from(["", ".", ".1", ".12", ".123", ".1234", ".123456789", ".1234567890123456"]),
        st.sampled_from(["Z", "z", "", "+08:00", "-00:00", "+23:59", "-24:00", "+05:60", "+0800", "+8:00"]),
    ),
    st.text(alphabet="0123456789-:TZ.+ ", max_size=36),
    st.text(max_size=40),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_TS_SHAPES, max_size=30))
def test_vectorised_rfc3339_matches_reference(strs):
    ms, ok = _parse_rfc3339(strs)
    expected = [rfc3339_ms(s) for s in strs]
    assert [int(m) if o else None for m, o in zip(ms, ok, strict=True)] == expected


# Timestamps a live feed sends in one chunk: mostly one date, hour and zone, with the odd one
# out, and minutes, seconds or fraction broken now and then.
_NEAR_TS = st.builds(
    "{}{}{}:{}{}{}{}{}".format,
    st.sampled_from(["2026-11-27", "2026-11-27", "2026-11-28", "2024-02-29", "2026-02-29", "0001-01-01"]),
    st.sampled_from(["T", "T", "t", " ", "_"]),
    st.sampled_from(["08", "08", "00", "23", "24"]),
    st.sampled_from(["00", "07", "59", "60", "99", "0a", " 1"]),
    st.sampled_from([":", ":", ":", "-"]),
    st.sampled_from(["00", "30", "59", "60", "-1"]),
    st.sampled_from([".173", ".173", ".999", ".1739", ".1", "", ".x73", "0173", ".17 "]),
    st.sampled_from(["+08:00", "+08:00", "Z", "z", "-05:30", "+00:00", "+08:60", "+08-00", "+24:00"]),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_NEAR_TS, min_size=1, max_size=40))
def test_vectorised_rfc3339_matches_reference_on_feed_like_runs(strs):
    ms, ok = _parse_rfc3339(strs)
    expected = [rfc3339_ms(s) for s in strs]
    assert [int(m) if o else None for m, o in zip(ms, ok, strict=True)] == expected


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.timezones()))
def test_rfc3339_reference_matches_datetime(t):
    text = t.isoformat(timespec="milliseconds")
    if len(text) > 29:  # isoformat writes seconds in odd historical offsets; RFC 3339 has none
        return
    utc = datetime.fromisoformat(text).astimezone(UTC).replace(tzinfo=None)
    assert rfc3339_ms(text) == (utc - datetime(1970, 1, 1)) // timedelta(milliseconds=1)


# --- structure -------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [b"[1, 2]", b"5", b'"fix"', b"null", b"true", b"[]"])
def test_non_object_is_malformed(text):
    d = rejected(text, MALFORMED_JSON)
    assert d.raw == text.decode()


@pytest.mark.parametrize(
    "text", [b"{", b'{"type": "fix",}', b"not json", b'{"type":"tick","ts":1} {}', b'{"a": NaN}']
)
def test_bad_json_is_malformed(text):
    rejected(text, MALFORMED_JSON)


def test_invalid_utf8_is_malformed_even_in_an_unread_field():
    d = rejected(fix(note="caf\u00e9").replace("\u00e9".encode(), b"\xe9"), MALFORMED_JSON)
    assert "\ufffd" in d.raw
    rejected(b'{"type": "tick", "ts": 1, "\xff": 1}', MALFORMED_JSON)
    accepted(fix(note="合规 ✓"))


def test_raw_is_cut_at_4096_chars():
    d = rejected(fix(lat=500, note="x" * 10_000), INVALID_FIELD)
    assert len(d.raw) == 4096 and d.raw.startswith('{"type": "fix"')
    long_cjk = ("定" * 5000).encode()
    assert raw_text(long_cjk) == "定" * 4096
    assert raw_text(b"\xff" * 5000) == "\ufffd" * 4096


def test_dead_letter_fields():
    d = rejected(b"oops", MALFORMED_JSON)
    assert d.received_at == "2026-11-27T00:00:00.000Z"
    assert d.to_dict() == {"received_at": d.received_at, "reason": d.reason, "detail": d.detail, "raw": "oops"}
    assert utc_rfc3339(RECV + 1234) == "2026-11-27T00:00:01.234Z"
    assert utc_rfc3339(-1) == "1969-12-31T23:59:59.999Z"


def test_blank_lines_take_no_seq():
    lines = [b"", fix(), b"  \t", b"\r", fix(lat=500), b"", line(type="tick", ts=RECV)]
    batch, dead = decode(lines, first_seq=100)
    assert batch.seq.tolist() == [100, 102]
    assert len(dead) == 1
    batch, dead = decode([b"", b"   "])
    assert len(batch) == 0 and dead == []


def test_empty_input():
    batch, dead = decode([])
    assert len(batch) == 0 and dead == []
    assert batch.kind.dtype == np.uint8


def test_one_bad_line_keeps_all_the_good_ones():
    lines = [fix(ts=RECV - 100_000 + i) for i in range(3001)]
    lines[1500] = b'{"type": "fix", "lat": '  # cut off mid-record
    lines[2222] = fix(lat="north")
    lines[7] = b"\xff\xfe"
    batch, dead = decode(lines)
    assert len(batch) == 2998
    assert [d.reason for d in dead] == [MALFORMED_JSON, MALFORMED_JSON, INVALID_FIELD]
    assert 1500 not in batch.seq and 2222 not in batch.seq and 7 not in batch.seq
    assert (np.diff(batch.seq) > 0).all()
    assert batch.ts[-1] == RECV - 100_000 + 3000


def test_a_record_cannot_span_lines():
    # Each half is malformed alone; joined they would be one valid tick, and the last line
    # would be two ticks. A chunk decoder must still see three malformed lines.
    lines = [b'{"type": "tick", "ts": 1, "a": [{}', b"{}]}", b'{"type":"tick","ts":1},{"type":"tick","ts":2}']
    batch, dead = decode(lines)
    assert len(batch) == 0
    assert [d.reason for d in dead] == [MALFORMED_JSON] * 3
    lines = [b'{"type": "tick", "ts": 1, "a": "', b'"}']
    assert [d.reason for d in decode(lines)[1]] == [MALFORMED_JSON] * 2


def test_mixed_kinds_and_ts_forms_in_one_chunk():
    lines = [
        fix(ts="2026-11-26T23:59:00Z"),
        line(type="status", person_id="P2", ts=RECV - 1, event="tamper"),
        line(type="tick", ts="2026-11-27T07:59:59.5+08:00"),
        fix(ts=RECV - 2.5, crs="wgs84", drill=True),
        fix(ts="2026-11-26T23:59:00.25-00:00"),
    ]
    batch, dead = decode(lines)
    assert not dead
    assert batch.kind.tolist() == [FIX, STATUS, TICK, FIX, FIX]
    assert batch.ts.tolist() == [RECV - 60_000, RECV - 1, RECV - 500, RECV - 3, RECV - 59_750]
    assert batch.drill.tolist() == [False, False, False, True, False]


def test_check_record_normalises():
    rec = check_record(fix(ts="2026-11-27T00:00:00Z", lat=1, drill=None))
    assert (rec.ts, rec.lat, rec.drill) == (RECV, 1.0, False)
    assert check_record(b"[]")[0] == MALFORMED_JSON


# --- datums ----------------------------------------------------------------------------------


def _metres(lat1, lon1, lat2, lon2):
    k = math.pi / 180
    x = (lon2 - lon1) * k * math.cos((lat1 + lat2) / 2 * k)
    return math.hypot(x, (lat2 - lat1) * k) * 6_371_000


@pytest.mark.skipif(not HAS_CRS, reason="geofences.crs not built yet")
@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
def test_chinese_datums_are_converted(crs):
    b = accepted(fix(lat=29.08, lon=119.65, crs=crs))
    moved = _metres(29.08, 119.65, float(b.lat[0]), float(b.lon[0]))
    assert 300 <= moved <= 700 if crs == "gcj02" else 300 <= moved <= 1500
    mixed, _ = decode([fix(crs=crs), fix(), fix(crs=crs, drill=True)])
    assert mixed.lat[0] == mixed.lat[2] != mixed.lat[1] == 29.08


def test_datum_conversion_can_be_switched_off():
    b = accepted(fix(lat=29.08, lon=119.65, crs="gcj02"), make_decoder(datum_conversion=False))
    assert (b.lat[0], b.lon[0]) == (29.08, 119.65)


# --- properties ------------------------------------------------------------------------------

NO_DATUM = make_decoder(datum_conversion=False)


def conserved(lines: list[bytes]) -> None:
    """Every non-blank line ends up in exactly one of the outputs; both paths agree."""
    batch, dead = decode(lines, NO_DATUM)
    assert len(batch) + len(dead) == sum(1 for ln in lines if ln.strip())
    assert all(len(d.raw) <= 4096 for d in dead)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=60).map(lambda b: b.replace(b"\n", b"")), max_size=40))
def test_random_bytes_never_raise(lines):
    conserved(lines)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_json, max_size=30))
def test_random_json_never_raises(values):
    conserved([json.dumps(v).encode() for v in values])


_anything = _json | st.integers(-(10**400), 10**400)
_FIELDS = {
    "type": st.sampled_from(["fix", "fix", "status", "tick", "Fix"]) | _anything,
    "person_id": st.sampled_from(["P1", "P2", "P3", "", "L" * 64, "L" * 65]) | _anything,
    "ts": st.one_of(
        st.sampled_from([RECV, RECV + 300_000, RECV + 300_001, RECV - 0.5, 253402300799999.5]),
        st.integers(-(10**16), 10**16),
        st.floats(-1e16, 1e16),
        _TS_SHAPES,
        _anything,
    ),
    "drill": st.booleans() | _anything,
    "lat": st.floats(-95, 95) | st.sampled_from([0, 90, -90, 90.0001, -90.3]) | _anything,
    "lon": st.floats(-185, 185) | st.sampled_from([0, 180, -180.0001, 180.3]) | _anything,
    "accuracy_m": st.floats(-5, 100) | st.sampled_from([0, -0.0]) | _anything,
    "source": st.sampled_from(["gnss", "cell", "wifi", "manual", "network"]) | _anything,
    "crs": st.sampled_from(["wgs84", "gcj02", "bd09", "utm"]) | _anything,
    "speed_mps": st.floats(-5, 50) | _anything,
    "battery_pct": st.floats(-1, 101) | st.sampled_from([0, 100, 100.01]) | _anything,
    "event": st.sampled_from(["power_off", "heartbeat", "tamper", "boot"]) | _anything,
    "device_id": st.text(max_size=5) | _anything,
}
_VALID = {
    "fix": {
        "person_id": st.sampled_from(["P1", "P2", "L" * 64]),
        "ts": st.integers(RECV - 10**9, RECV + 300_000)
        | st.integers(RECV - 10**9, RECV + 300_000).map(lambda ms: utc_rfc3339(ms)),
        "lat": st.floats(-90, 90),
        "lon": st.floats(-180, 180),
        "accuracy_m": st.floats(0, 2000),
        "source": st.sampled_from(["gnss", "cell", "wifi", "manual"]),
        "crs": st.sampled_from(["wgs84", "gcj02", "bd09"]),
        "speed_mps": st.floats(0, 60),
        "battery_pct": st.floats(0, 100),
        "drill": st.booleans(),
        "device_id": st.text(max_size=5),
    },
    "status": {"event": st.sampled_from(["power_off", "power_on", "heartbeat", "tamper"])},
    "tick": {},
}


@st.composite
def _record(draw) -> bytes:
    """A valid record of a random kind, then up to three fields broken, dropped or nulled."""
    kind = draw(st.sampled_from(["fix", "status", "tick"]))
    fields = {**_VALID["fix"], **_VALID[kind]}
    if kind != "fix":
        fields = {k: v for k, v in fields.items() if k in ("person_id", "ts", "drill", "battery_pct", "event", "device_id")}
    if kind == "tick":
        fields = {k: v for k, v in fields.items() if k in ("ts", "drill")}
    rec = {"type": kind}
    for name, values in fields.items():
        if name in ("type", "person_id", "ts", "lat", "lon", "event") or draw(st.booleans()):
            rec[name] = draw(values)
    for name in draw(st.lists(st.sampled_from(sorted(_FIELDS)), max_size=3)):
        how = draw(st.sampled_from(["break", "break", "drop", "null"]))
        if how == "drop":
            rec.pop(name, None)
        else:
            rec[name] = None if how == "null" else draw(_FIELDS[name])
    return json.dumps(rec, ensure_ascii=False).encode()


_junk = st.sampled_from([b"", b"  ", b"{", b"[1]", b'{"type":"tick","ts":1,"a":[{}', b"{}]}", b"\xff"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_record() | _record() | _junk, max_size=40), st.integers(0, 10**6))
def test_fast_path_equals_slow_path(lines, first_seq):
    batch, dead = decode(lines, NO_DATUM, first_seq=first_seq)
    assert len(batch) + len(dead) == sum(1 for ln in lines if ln.strip())
    assert set(batch.seq.tolist()).isdisjoint(range(first_seq)) and (np.diff(batch.seq) > 0).all()


_EDGE_VALUES = [
    ..., None, True, False, 0, -0.0, 1, -1, 0.5, 89.9999, 90, 90.0001, -90, -90.0001, 179.9999,
    180, 180.0001, -180, -180.0001, 99.99, 100, 100.0001, 1e300, 10**30, -(10**30), 2**63, "",
    "x", "P1", "L" * 64, "L" * 65, "gnss", "network", "wgs84", "gcj02", "utm", "power_off",
    "boot", "fix", "status", "tick", [], {}, [1], {"a": 1}, RECV, RECV + 300_000,
    RECV + 300_001, RECV - 0.5, 253402300799999, 253402300800000, -62135596800000,
    -62135596800001, "2026-11-27T00:00:00Z", "2026-11-27T00:05:00.001Z",
    "2026-11-27T08:04:59.999999+08:00", "2026-11-27T00:00:00", "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+00:01", "9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59-00:01",
    "2024-02-29T12:00:00Z", "2100-02-29T12:00:00Z",
]


def test_fast_path_equals_slow_path_on_every_edge():
    """Every field of every kind set to every edge value (or dropped), all in one chunk."""
    bases = {
        "fix": json.loads(fix(accuracy_m=5, battery_pct=50, source="cell", speed_mps=1, device_id="d")),
        "status": json.loads(line(type="status", person_id="P2", ts=RECV, event="heartbeat", battery_pct=50)),
        "tick": json.loads(line(type="tick", ts=RECV, drill=False)),
    }
    lines = []
    for base in bases.values():
        for name in [*_FIELDS, "drill"]:
            for value in _EDGE_VALUES:
                rec = {k: v for k, v in {**base, name: value}.items() if v is not ...}
                lines.append(json.dumps(rec).encode())
                lines.append(json.dumps({**rec, "drill": True}).encode())
    lines.append(fix().replace(b"29.08", b"1e400"))
    batch, dead = decode(lines, NO_DATUM)
    assert len(batch) + len(dead) == len(lines)
    assert {d.reason for d in dead} == {INVALID_FIELD, UNKNOWN_PERSON, FUTURE_TS}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_record(), min_size=1, max_size=15), st.integers(1100, 2500))
def test_fast_path_equals_slow_path_across_blocks(sample, n):
    # Longer than one decoding block, so the per-block fallback is exercised too.
    lines = [fix(ts=RECV - i) for i in range(n)]
    for k, rec in enumerate(sample):
        lines[(k * 7919) % n] = rec
    decode(lines, NO_DATUM)


# --- person lookup ---------------------------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.text(max_size=70), max_size=40, unique=True),
    st.lists(st.text(max_size=70), max_size=20),
    st.randoms(use_true_random=False),
)
def test_person_lookup_matches_the_registry(registered, strangers, rng):
    # Any ids: empty, over 64 characters, not ASCII, with newlines, of many widths at once.
    dec = Decoder({pid: 7 * i for i, pid in enumerate(registered)}, Settings(datum_conversion=False))
    ids = registered + strangers
    rng.shuffle(ids)
    decode([fix(person_id=pid) for pid in ids], dec)


def test_person_lookup_in_a_big_registry():
    # Thousands of ids alike in all but their last digits, so that table slots collide, in a
    # chunk longer than a block; one width throughout, then a mix of widths.
    registry = {f"SIM{i:06d}": i for i in range(0, 30_000, 3)}
    dec = Decoder(registry, Settings(datum_conversion=False))
    ids = [f"SIM{(i * 7919) % 30_000:06d}" for i in range(2500)]
    batch, dead = decode([fix(person_id=pid) for pid in ids], dec)
    assert batch.person.tolist() == [int(pid[3:]) for pid in ids if pid in registry]
    assert {d.reason for d in dead} == {UNKNOWN_PERSON} and len(dead) == len(ids) - len(batch)
    ids[::5] = [f"S{i}" for i in range(len(ids[::5]))]
    ids[1::7] = [f"SIM{i:06d}" + "x" * (i % 60) for i in range(0, 3 * len(ids[1::7]), 3)]
    decode([fix(person_id=pid) for pid in ids], dec)


def test_feed_like_chunk_across_blocks():
    """What a live feed looks like: many persons, RFC 3339 ts with a fraction and an offset,
    statuses, an hour boundary, a few Chinese datums, drills, strangers and broken records."""
    registry = {f"P{i:05d}": i for i in range(5000)}
    dec = Decoder(registry, Settings(datum_conversion=HAS_CRS))
    start = datetime(2026, 11, 27, 8, 58, tzinfo=timezone(timedelta(hours=8)))
    lines = []
    for i in range(3000):
        when = (start + timedelta(milliseconds=83 * i)).isoformat(timespec="milliseconds")
        pid = f"P{(i * 7919) % 5200:05d}"
        if i % 37 == 0:
            lines.append(line(type="status", person_id=pid, ts=when, event="heartbeat", battery_pct=50))
        else:
            crs = "gcj02" if i % 10 == 0 else "bd09" if i % 97 == 0 else "wgs84"
            lines.append(fix(person_id=pid, ts=when, lat=29 + i / 1e4, lon=119.6, crs=crs, drill=i % 500 == 0))
    lines[1234] = fix(ts="2026-11-27T09:61:00.000+08:00")
    lines[2345] = b""
    lines[2900] = line(type="tick", ts="2026-11-27T09:02:00.000+08:00")
    batch, dead = decode(lines, dec, received_at_ms=RECV + 86_400_000)
    assert len(batch) + len(dead) == len(lines) - 1
    assert {d.reason for d in dead} == {UNKNOWN_PERSON, INVALID_FIELD}


# --- source and dead-letter writer -----------------------------------------------------------


def test_read_chunks_plain_gz_crlf_and_bom(tmp_path):
    plain = tmp_path / "a.jsonl"
    plain.write_bytes(b"\xef\xbb\xbf" + b"\r\n".join(b"%d" % i for i in range(10)) + b"\r\n")
    packed = tmp_path / "b.jsonl.gz"
    with gzip.open(packed, "wb") as f:
        f.write(b"\n".join(b"x%d" % i for i in range(5)))  # no newline at the end
    chunks = list(read_chunks([str(plain), str(packed)], chunk_lines=4))
    flat = [ln for c in chunks for ln in c]
    assert flat == [b"%d" % i for i in range(10)] + [b"x%d" % i for i in range(5)]
    assert [len(c) for c in chunks] == [4, 4, 4, 3]


def test_read_chunks_streams_big_files(tmp_path):
    path = tmp_path / "big.jsonl"
    body = b"".join(fix(ts=RECV - i) + b"\n" for i in range(30_000))
    path.write_bytes(body)
    chunks = read_chunks([str(path)], chunk_lines=7_000)
    first = next(chunks)  # a generator: nothing past the first chunk has been asked for yet
    assert len(first) == 7_000 and first[0] == fix(ts=RECV)
    assert sum(len(c) for c in chunks) == 23_000


def test_read_chunks_stdin(monkeypatch):
    fake = io.TextIOWrapper(io.BytesIO(b'{"a":1}\n\n{"b":2}\n'))
    monkeypatch.setattr(sys, "stdin", fake)
    assert list(read_chunks(["-"])) == [[b'{"a":1}', b"", b'{"b":2}']]


def test_dead_letter_writer(tmp_path):
    _, dead = decode([b"nope", fix(lat=99), fix(person_id="P9"), b"[]", fix()])
    path = tmp_path / "dead.jsonl"
    with DeadLetterWriter(path) as w:
        w.write(dead)
        w.write([])
    assert w.counts == {MALFORMED_JSON: 2, INVALID_FIELD: 1, UNKNOWN_PERSON: 1}
    assert w.total == 4
    rows = [orjson.loads(x) for x in path.read_bytes().splitlines()]
    assert [r["reason"] for r in rows] == [d.reason for d in dead]
    assert rows[0] == dead[0].to_dict()
    counting = DeadLetterWriter(None)
    counting.write(dead)
    counting.close()
    assert counting.counts[MALFORMED_JSON] == 2
