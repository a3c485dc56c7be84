"""The one time module: epoch ms inside, RFC 3339 at the edges, both ways exact."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.timefmt import ms_or_none, parse_ts_ms, rfc3339, utc_rfc3339
from stream.decode import rfc3339_ms

YEAR_1 = -62_135_596_800_000
YEAR_9999_END = 253_402_300_799_999


@given(st.integers(YEAR_1, YEAR_9999_END))
def test_utc_text_and_back_is_exact_over_the_whole_range(ms):
    text = utc_rfc3339(ms)
    assert text.endswith("Z") and len(text) == 24
    assert parse_ts_ms(text) == ms
    assert rfc3339_ms(text) == ms  # the decoder's parser reads it the same


def test_utc_text_has_no_float_rounding_far_from_1970():
    # through a float of seconds this came out a millisecond early
    assert utc_rfc3339(106_852_994_960_411) == "5356-01-14T11:29:20.411Z"
    assert utc_rfc3339(-1) == "1969-12-31T23:59:59.999Z"
    assert utc_rfc3339(YEAR_1) == "0001-01-01T00:00:00.000Z"


@given(st.integers(0, 4_102_444_800_000))  # 1970..2100, where the wall clock lives
def test_utc_text_matches_the_standard_library(ms):
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")
    assert utc_rfc3339(ms) == dt.replace("+00:00", "Z")


def test_local_text_carries_the_offset_and_reads_back():
    ms = 1_795_737_600_000  # 2026-11-27T00:00:00Z
    assert rfc3339(ms) == "2026-11-27T08:00:00.000+08:00"
    assert rfc3339(ms, "UTC") == "2026-11-27T00:00:00.000+00:00"
    assert parse_ts_ms(rfc3339(ms)) == ms
    assert rfc3339(None) is None


@pytest.mark.parametrize("value, ms", [
    (1_795_737_600_000, 1_795_737_600_000),
    (1_795_737_600_000.9, 1_795_737_600_000),  # epoch ms: fractions go down
    ("2026-11-27T08:00:00+08:00", 1_795_737_600_000),
    ("2026-11-27T00:00:00.123Z", 1_795_737_600_123),
])
def test_parse_reads_rfc3339_and_epoch_ms(value, ms):
    assert parse_ts_ms(value) == ms


@pytest.mark.parametrize("value", [
    "2026-11-27T08:00:00",  # no offset: a different instant on every machine
    "yesterday", True, None, float("nan"), float("inf"), [1],
])
def test_parse_refuses_what_is_not_an_instant(value):
    with pytest.raises(ValueError, match="RFC 3339"):
        parse_ts_ms(value)


def test_ms_or_none_passes_absence_through_and_refuses_nonsense():
    assert ms_or_none(None) is None
    assert ms_or_none("2026-11-27T08:00:00+08:00") == 1_795_737_600_000
    with pytest.raises(ValueError):
        ms_or_none("")
