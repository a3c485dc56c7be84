"""The summary's default period is the reader's shift: day, night across midnight, weekdays
only, back-to-back windows, exactly at the handover instant, and no shifts at all."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from alerts.summary.period import parse_instant, reader_period
from config.model import ShiftSpec

from .fixture import BUNDLE

TZ = ZoneInfo("Asia/Shanghai")
EVERY_DAY = (1, 2, 3, 4, 5, 6, 7)


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=TZ).timestamp() * 1000)


def hm(text: str) -> int:
    h, m = text.split(":")
    return int(h) * 60 + int(m)


def with_shifts(*shifts: tuple[tuple[int, ...], str, str]):
    return replace(BUNDLE, shifts=[ShiftSpec("sup", days, hm(a), hm(b)) for days, a, b in shifts])


NIGHT = with_shifts((EVERY_DAY, "22:00", "08:00"))


@pytest.mark.parametrize(("now", "start", "end", "basis"), [
    # 2026-11-16 is a Monday
    ("2026-11-16T03:00", "2026-11-15T22:00", "2026-11-16T08:00", "shift"),  # 03:00 on the night
    ("2026-11-16T07:59:59.999", "2026-11-15T22:00", "2026-11-16T08:00", "shift"),
    # handover: the night just ended, up to now
    ("2026-11-16T08:00", "2026-11-15T22:00", "2026-11-16T08:00", "since_shift"),
    ("2026-11-16T08:05", "2026-11-15T22:00", "2026-11-16T08:05", "since_shift"),
    ("2026-11-16T21:59", "2026-11-15T22:00", "2026-11-16T21:59", "since_shift"),
    ("2026-11-16T22:00", "2026-11-16T22:00", "2026-11-17T08:00", "shift"),  # the new night
    ("2026-11-16T23:59", "2026-11-16T22:00", "2026-11-17T08:00", "shift"),
])
def test_a_night_shift_across_midnight(now, start, end, basis):
    p = reader_period(NIGHT, "sup", ms(now))
    assert (p.start_ms, p.end_ms, p.basis) == (ms(start), ms(end), basis)


def test_a_weekday_rota_at_the_weekend_goes_back_to_fridays_shift():
    b = with_shifts(((1, 2, 3, 4, 5), "09:00", "17:30"))
    p = reader_period(b, "sup", ms("2026-11-22T12:00"))  # Sunday
    assert (p.start_ms, p.end_ms) == (ms("2026-11-20T09:00"), ms("2026-11-22T12:00"))
    p = reader_period(b, "sup", ms("2026-11-23T09:00"))  # Monday, the shift's first instant
    assert (p.start_ms, p.end_ms) == (ms("2026-11-23T09:00"), ms("2026-11-23T17:30"))


def test_back_to_back_windows_are_one_shift():
    b = with_shifts((EVERY_DAY, "08:00", "16:00"), (EVERY_DAY, "16:00", "23:00"))
    p = reader_period(b, "sup", ms("2026-11-16T10:00"))
    assert (p.start_ms, p.end_ms) == (ms("2026-11-16T08:00"), ms("2026-11-16T23:00"))


@pytest.mark.parametrize("bundle", [BUNDLE, with_shifts((EVERY_DAY, "08:00", "08:00"))],
                         ids=["no shifts", "round the clock"])
def test_no_shift_to_go_by_gives_the_last_12_hours(bundle):
    now = ms("2026-11-16T03:00")
    p = reader_period(bundle, "sup", now)
    assert (p.start_ms, p.end_ms, p.basis) == (now - 12 * 3_600_000, now, "last_12h")


def test_another_officers_shifts_are_not_the_readers():
    p = reader_period(NIGHT, "ops", ms("2026-11-16T03:00"))
    assert p.basis == "last_12h"


def test_picker_and_query_times():
    tz = "Asia/Shanghai"
    assert parse_instant("2026-11-16T08:00", tz) == ms("2026-11-16T08:00")  # datetime-local
    assert parse_instant("2026-11-16T00:00:00Z", tz) == ms("2026-11-16T08:00")
    assert parse_instant("1794787200000", tz) == 1794787200000
    for bad in ("tomorrow", "99999999999999999999999", "2026-13-01T00:00"):
        with pytest.raises(ValueError):
            parse_instant(bad, tz)
