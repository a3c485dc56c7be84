"""Which period a handover summary covers when the reader does not say: their own shift.

A shift is a stretch of the reader's shifts in officers.json (bundle timezone; a window whose
end is before its start runs past midnight; back-to-back windows are one stretch, as routing
sees them). The period is the stretch the reader is on now, start to end (figures stop at
"now" until it ends). Off shift, it runs from the start of the stretch that ended last up to
now: the shift being handed over, and nothing opened since is left out of the "still open"
lists (a period that ended at the shift's end would report them as of then, and an alert
opened after it would be on no list). An officer without shifts, or whose shifts never end,
gets the last 12 hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from config.model import Bundle, Window
from geofences.schedule import Schedule

HOUR_MS = 3_600_000
FALLBACK_MS = 12 * HOUR_MS
LOOK_BACK_MS = 8 * 24 * HOUR_MS  # a weekly rota repeats within a week
LOOK_AHEAD_MS = 2 * 24 * HOUR_MS


@dataclass(frozen=True)
class Period:
    start_ms: int
    end_ms: int
    basis: str  # "shift": the reader's shift; "since_shift": last shift to now; "last_12h"


def reader_period(bundle: Bundle, officer_id: str, now_ms: int) -> Period:
    windows = tuple(Window(s.days, s.start_min, s.end_min) for s in bundle.shifts
                    if s.officer_id == officer_id)
    if windows:
        sched = Schedule(windows, bundle.settings.timezone)
        changes = sched.transitions(now_ms - LOOK_BACK_MS, now_ms + LOOK_AHEAD_MS)
        past = [(t, on) for t, on in changes if t <= now_ms]
        ahead = [t for t, on in changes if t > now_ms and not on]
        if sched.active_at([now_ms])[0]:
            start = next((t for t, on in reversed(past) if on), None)
            if start is not None and ahead:
                return Period(start, ahead[0], "shift")
        else:
            end = next((t for t, on in reversed(past) if not on), None)
            start = next((t for t, on in reversed(past) if on and end is not None and t < end),
                         None)
            if start is not None:
                return Period(start, now_ms, "since_shift")
    return Period(now_ms - FALLBACK_MS, now_ms, "last_12h")


def local_input(ms: int, tz: str) -> str:
    """For <input type="datetime-local">: YYYY-MM-DDTHH:MM, the bundle's wall clock."""
    return datetime.fromtimestamp(ms / 1000, ZoneInfo(tz)).strftime("%Y-%m-%dT%H:%M")


def parse_instant(text: str, tz: str) -> int:
    """Epoch ms, RFC 3339, or a datetime-local value (read in the bundle's time zone).
    Raises ValueError."""
    text = text.strip()
    if text.isdigit():
        value = int(text)
    else:
        when = datetime.fromisoformat(text)
        if when.tzinfo is None:
            when = when.replace(tzinfo=ZoneInfo(tz))
        value = round(when.timestamp() * 1000)
    if not 0 <= value <= MAX_MS:
        raise ValueError(f"out of range: {text}")
    return value


MAX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z: beyond it no calendar works
