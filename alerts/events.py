"""Decoded events as columns: the one shape that flows from the decoder into the engine core.

Everything downstream of the decoder works on numpy columns, never on dicts, so a batch of
50,000 fixes costs a handful of vectorised calls instead of 50,000 Python objects.
Times are int64 epoch milliseconds (UTC); coordinates are WGS-84 degrees after decoding.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# event kinds
FIX, STATUS, TICK = 0, 1, 2
KIND_NAMES = ("fix", "status", "tick")

# status events, in SPEC order
POWER_OFF, POWER_ON, HEARTBEAT, LOW_BATTERY, TAMPER, LOCATION_DISABLED, LOCATION_ENABLED = range(7)
STATUS_NAMES = (
    "power_off",
    "power_on",
    "heartbeat",
    "low_battery",
    "tamper",
    "location_disabled",
    "location_enabled",
)
NO_STATUS = 255

SOURCE_NAMES = ("gnss", "cell", "wifi", "manual")

def _empty(dtype) -> np.ndarray:
    return np.empty(0, dtype=dtype)


@dataclass(slots=True)
class EventBatch:
    """Valid events in arrival order, one row per event.

    `person` indexes the engine's person table (-1 on ticks). `lat`/`lon` are WGS-84.
    `accuracy_m` has the default applied. `battery_pct` is NaN when absent.
    `status` is a STATUS code, NO_STATUS on fixes and ticks.
    `seq` is the record's position in the input stream (0-based, counting rejected records
    too), so that rejects and alerts can be ordered against each other.
    """

    kind: np.ndarray = field(default_factory=lambda: _empty(np.uint8))
    person: np.ndarray = field(default_factory=lambda: _empty(np.int32))
    ts: np.ndarray = field(default_factory=lambda: _empty(np.int64))
    lat: np.ndarray = field(default_factory=lambda: _empty(np.float64))
    lon: np.ndarray = field(default_factory=lambda: _empty(np.float64))
    accuracy_m: np.ndarray = field(default_factory=lambda: _empty(np.float64))
    battery_pct: np.ndarray = field(default_factory=lambda: _empty(np.float64))
    status: np.ndarray = field(default_factory=lambda: _empty(np.uint8))
    drill: np.ndarray = field(default_factory=lambda: _empty(np.bool_))
    seq: np.ndarray = field(default_factory=lambda: _empty(np.int64))

    COLUMNS = (
        "kind", "person", "ts", "lat", "lon", "accuracy_m", "battery_pct", "status", "drill", "seq",
    )

    def __len__(self) -> int:
        return int(self.kind.shape[0])

    def take(self, index: np.ndarray) -> EventBatch:
        """Rows selected by an integer or boolean index, order kept."""
        return EventBatch(**{c: getattr(self, c)[index] for c in self.COLUMNS})

    @staticmethod
    def concat(batches: list[EventBatch]) -> EventBatch:
        if not batches:
            return EventBatch()
        return EventBatch(
            **{c: np.concatenate([getattr(b, c) for b in batches]) for c in EventBatch.COLUMNS}
        )

    @staticmethod
    def from_rows(rows: list[dict]) -> EventBatch:
        """Build a batch from already-valid rows (tests and tools).

        Each row: kind, person, ts (ms), and optionally lat, lon, accuracy_m, battery_pct,
        status, drill, seq.
        """
        n = len(rows)
        return EventBatch(
            kind=np.array([r["kind"] for r in rows], dtype=np.uint8),
            person=np.array([r.get("person", -1) for r in rows], dtype=np.int32),
            ts=np.array([r["ts"] for r in rows], dtype=np.int64),
            lat=np.array([r.get("lat", np.nan) for r in rows], dtype=np.float64),
            lon=np.array([r.get("lon", np.nan) for r in rows], dtype=np.float64),
            accuracy_m=np.array([r.get("accuracy_m", 30.0) for r in rows], dtype=np.float64),
            battery_pct=np.array([r.get("battery_pct", np.nan) for r in rows], dtype=np.float64),
            status=np.array([r.get("status", NO_STATUS) for r in rows], dtype=np.uint8),
            drill=np.array([r.get("drill", False) for r in rows], dtype=np.bool_),
            seq=np.array([r.get("seq", i) for i, r in enumerate(rows)], dtype=np.int64)
            if n
            else _empty(np.int64),
        )
