"""Engine state: per-person columns plus the few incidents and counters that are live.

A province's caseload is hundreds of thousands of persons, nearly all of them calm (no open
alert, no pending count). Their state is a handful of numbers each, kept in numpy columns
indexed by person; only persons with something going on appear in the dicts.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import orjson

from alerts.incidents import IncidentBook
from config.persons import TextColumn

NO_TIME = -(2**62)  # "never happened": far in the past, still safe to subtract from
NEVER = 2**62  # "never due": far in the future

COLUMNS = {
    "latest_ts": (np.int64, NO_TIME),  # newest applied event: the last sign of life
    "tracked_since": (np.int64, NO_TIME),  # when the clock first ran for this person (漏管)
    "silence_due": (np.int64, NEVER),  # when signal_lost fires unless something arrives
    # content signature of the newest applied event: an exact repeat of it is a duplicate
    "latest_sig": (np.int64, 0),
    "last_fix_ts": (np.int64, NO_TIME),  # newest fix within max_accuracy_m
    "last_lon": (np.float64, np.nan),
    "last_lat": (np.float64, np.nan),
    "last_acc": (np.float32, np.nan),
    "calm": (np.bool_, True),  # no active incident and no pending confirmation count
    # earliest escalation among the person's unacknowledged alerts (engine clock; NEVER: none)
    "esc_due": (np.int64, NEVER),
}


class PartState:
    """The state of one world: the real one, or the drill one (SPEC §3 Drills)."""

    latest_ts: np.ndarray
    tracked_since: np.ndarray
    silence_due: np.ndarray
    latest_sig: np.ndarray
    last_fix_ts: np.ndarray
    last_lon: np.ndarray
    last_lat: np.ndarray
    last_acc: np.ndarray
    calm: np.ndarray
    esc_due: np.ndarray

    def __init__(self, person_ids: Sequence[str], drill: bool, reopen_window_ms: int):
        self.drill = drill
        self.started = False
        self.clock = NO_TIME  # largest ts seen
        self.threshold = NO_TIME  # timers due strictly before this have fired
        # the caseload's own column (or a snapshot's), never changed: a copy per world (and
        # per Kafka partition) would cost a person's id each
        self.person_ids = person_ids
        # Read-only views of the defaults until the world's first write (own_columns): the
        # drill world is held for every person, and most never see a drill.
        self._default_columns(len(person_ids))
        self.book = IncidentBook(drill, reopen_window_ms)
        # person_id -> zone_id -> [consecutive qualifying fixes, ts of the first of them,
        # consecutive clearing fixes while the alert is active, and the trajectory rules' notes]
        self.counters: dict[str, dict[str, list]] = {}
        # person_id -> the few things only some persons have (see Extras): same-second
        # signatures, a buffered track being uploaded, late runs already raised
        self.extras: dict[str, dict] = {}
        self.batches = 0
        self.feed_down_since: int | None = None  # live service: when the whole feed stopped
        # Rows the engine may have written (columns, counters, incidents), when someone asks:
        # a Kafka worker persists only those persons, and diffing every column of a province's
        # person table per batch cost more than the batch. None: nobody asks, nothing kept.
        self.writes: list[np.ndarray] | None = None
        # No silence_due / esc_due is below these: a batch whose clock has not reached them
        # skips the scan of the whole person table (~0.1 ms each at 200,000 persons), which
        # tiny batches at a steady rate would otherwise pay on every call.
        self.silence_floor = NO_TIME
        self.esc_floor = NO_TIME

    @property
    def n_persons(self) -> int:
        return len(self.person_ids)

    def _default_columns(self, n: int) -> None:
        for name, (dtype, fill) in COLUMNS.items():
            setattr(self, name, np.broadcast_to(np.array(fill, dtype=dtype), (n,)))

    def own_columns(self) -> None:
        """Every column a writable array of its own; called before anything writes one. A
        column still a view of its default is made now (a write to it would raise)."""
        for name in COLUMNS:
            col = getattr(self, name)
            if not col.flags.writeable:
                setattr(self, name, np.array(col))

    def untouched(self) -> bool:
        """No column was ever written: every one still the view of its default."""
        return not any(getattr(self, name).flags.writeable for name in COLUMNS)

    def note_writes(self, rows) -> None:
        if self.writes is not None:
            self.writes.append(np.asarray(rows, dtype=np.int64).ravel())

    def take_writes(self) -> np.ndarray:
        """The rows noted since the last call (repeats possible), and forget them."""
        rows = np.concatenate(self.writes) if self.writes else np.zeros(0, dtype=np.int64)
        self.writes = []
        return rows

    # -- timers due: silence and escalation ----------------------------------------------
    def arm_silence(self, rows, due: np.ndarray | int) -> None:
        """silence_due[rows] = due. Every write that may bring a silence forward goes here."""
        self.silence_due[rows] = due
        low = int(due) if isinstance(due, (int, np.integer)) else int(due.min(initial=NEVER))
        self.silence_floor = min(self.silence_floor, low)

    def lower_esc_due(self, p: int, due: int) -> None:
        """A new alert of person p escalates at `due` unless handled first."""
        self.esc_due[p] = min(int(self.esc_due[p]), due)
        self.esc_floor = min(self.esc_floor, due)

    def silence_due_before(self, t: int) -> np.ndarray:
        """The persons whose silence_due is before t."""
        self.silence_floor, rows = _due_before(self.silence_due, self.silence_floor, t)
        return rows

    def esc_due_before(self, t: int) -> np.ndarray:
        """The persons with an escalation due before t."""
        self.esc_floor, rows = _due_before(self.esc_due, self.esc_floor, t)
        return rows

    def columns_loaded(self) -> None:
        """Columns were written wholesale (a snapshot, a restore): the floors start over."""
        self.silence_floor = self.esc_floor = NO_TIME

    def remap(self, person_ids: Sequence[str], clock_start_for_new: bool) -> np.ndarray:
        """Follow a changed person table: keep every kept person's state, start new ones."""
        old = {pid: i for i, pid in enumerate(self.person_ids)}
        src = np.array([old.get(pid, -1) for pid in person_ids], dtype=np.int64)
        keep = src >= 0
        if self.untouched():  # everyone, kept or new, still has the defaults
            self._default_columns(len(person_ids))
        else:
            for name, (dtype, fill) in COLUMNS.items():
                col: np.ndarray = np.full(len(person_ids), fill, dtype=dtype)
                col[keep] = getattr(self, name)[src[keep]]
                setattr(self, name, col)
        self.person_ids = person_ids
        self.columns_loaded()
        gone = set(old) - set(person_ids)
        for pid in gone:
            self.counters.pop(pid, None)
            self.extras.pop(pid, None)
        return keep

    # -- serialisation -------------------------------------------------------------------
    def clock_state(self) -> dict:
        """What a partition shares among its persons: the clock and the timer threshold."""
        return {"started": self.started, "clock": self.clock, "threshold": self.threshold,
                "batches": self.batches, "feed_down_since": self.feed_down_since}

    def load_clock_state(self, d: dict) -> None:
        self.started, self.clock = d["started"], d["clock"]
        self.threshold, self.batches = d["threshold"], d["batches"]
        self.feed_down_since = d.get("feed_down_since")

    def refresh_escalation(self, person_id: str, p: int) -> None:
        """esc_due[p] = the earliest pending escalation among the person's alerts."""
        due = NEVER
        for key in self.book.keys_by_person.get(person_id, ()):
            inc = self.book.by_key[key]
            if inc.escalate_due is not None:
                due = min(due, inc.escalate_due)
        self.esc_due[p] = due
        self.esc_floor = min(self.esc_floor, due)

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        # an untouched world's columns are its defaults, which from_bytes gives it again
        np.savez(buf, **{name: getattr(self, name) for name in COLUMNS
                         if getattr(self, name).flags.writeable})
        meta = {
            "drill": self.drill,
            "started": self.started,
            "clock": self.clock,
            "threshold": self.threshold,
            "person_ids": list(self.person_ids),
            "incidents": self.book.to_state(),
            "counters": self.counters,
            "extras": self.extras,
            "reopen_window_ms": self.book.reopen_window_ms,
            "batches": self.batches,
            "feed_down_since": self.feed_down_since,
        }
        meta_bytes = orjson.dumps(meta)
        return len(meta_bytes).to_bytes(8, "big") + meta_bytes + buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> PartState:
        n = int.from_bytes(data[:8], "big")
        meta = orjson.loads(data[8 : 8 + n])
        st = cls(TextColumn(meta["person_ids"]), meta["drill"], meta["reopen_window_ms"])
        st.started = meta["started"]
        st.clock = meta["clock"]
        st.threshold = meta["threshold"]
        st.batches = meta["batches"]
        st.feed_down_since = meta.get("feed_down_since")
        st.counters = meta["counters"]
        st.extras = meta.get("extras", {})
        st.book.load_state(meta["incidents"])
        with np.load(io.BytesIO(data[8 + n :])) as arrays:
            for name in COLUMNS:
                if name in arrays:  # a snapshot from before a column existed keeps its default
                    setattr(st, name, arrays[name])
        st.columns_loaded()
        return st


_NONE = np.zeros(0, dtype=np.int64)


def _due_before(col: np.ndarray, floor: int, t: int) -> tuple[int, np.ndarray]:
    """(the new floor, rows of col below t). The floor is the column's minimum as it stood
    here, found in the same call: the rows due now fire (or move on) in this batch, so the
    next call scans once more and then the floor jumps past them."""
    if t <= floor or col.size == 0:
        return floor, _NONE
    floor = int(col.min())
    return floor, (np.flatnonzero(col < t) if floor < t else _NONE)


class EngineState:
    """Both worlds. Drill events never touch `real`, and real ones never touch `drill`."""

    def __init__(self, real: PartState, drill: PartState):
        self.real = real
        self.drill = drill

    def part(self, drill: bool) -> PartState:
        return self.drill if drill else self.real

    def to_bytes(self) -> bytes:
        r, d = self.real.to_bytes(), self.drill.to_bytes()
        return len(r).to_bytes(8, "big") + r + d

    @classmethod
    def from_bytes(cls, data: bytes) -> EngineState:
        n = int.from_bytes(data[:8], "big")
        return cls(PartState.from_bytes(data[8 : 8 + n]), PartState.from_bytes(data[8 + n :]))
