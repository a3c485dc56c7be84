"""The embedded runtime behind `lookout run`: one engine, one thread, one SQLite store.

Killing it at any moment and starting it again loses no accepted event's alert and raises no
alert twice. That rests on three rules:

* Every input is written to the store's inbox, in one committed transaction, before anyone is
  told it was taken: accepted event lines (so a 202 means durable), officers' actions, and the
  runtime's own wall-clock ticks and feed_down/feed_up decisions. The inbox order is the
  engine's input order, so a restart replays exactly what the first run saw.
* The engine thread applies inbox rows in steps. A step's alert updates, the wall clock it ran
  at (its `now_ms`, stamped on the step's last row) and, now and then, a state snapshot commit
  together. A restart loads the snapshot and re-runs the later rows in the same steps with the
  same `now_ms`: the same versions come out, and INSERT OR IGNORE drops those already stored.
* Listeners, action callers and counters hear about an update only after its commit, and only
  once: a re-run's versions that were already stored are not announced again.

Reference data (persons, zones, permits, shifts) changes while it runs through the inbox too:
`change_bundle` records the new file texts as a row, and the engine writes the files and
swaps the bundle when it reaches that row (alerts/admin/bundle_files.py says why this makes a
crash at any moment safe). A restart re-runs earlier rows against the old person table and
later ones against the new.

Tracks and dead letters older than `track_retention_days` are purged hourly by a thread of
their own (stream/officer/purge.py). What this runtime shares with the Kafka officer service
(announcing versions, the person directory, action intake, store faults) is in stream/officer/.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson

from alerts import coverage
from alerts.actions import ActionError
from alerts.admin import bundle_files
from alerts.admin.safety import check_change
from alerts.engine import Engine
from alerts.records import AlertUpdate
from alerts.service import OfficerService
from alerts.state import NEVER, NO_TIME, EngineState
from alerts.store import Action, Audit, Fix, Released, Status, StepCommit, Store, StoreWriteError
from alerts.timefmt import wall_ms
from config.loader import BundleError, load_bundle
from config.model import Bundle, PersonSpec
from stream import events as ev
from stream.deadletter import DeadLetterCap
from stream.decode import Decoder
from stream.metrics import LookoutMetrics, count_persons
from stream.officer import actions
from stream.officer.announce import Announcer
from stream.officer.faults import StoreFaults
from stream.officer.lines import nonblank
from stream.officer.persons import PersonDirectory, record_of
from stream.officer.purge import Purger
from stream.subscriptions import Subscription

log = logging.getLogger("lookout.live")

# Event seq = inbox seq << SEQ_SHIFT + line: ordered across rows, and the same after a restart.
SEQ_SHIFT = 24
_CHUNK_LINES = 100_000  # one inbox row at most: bounds a row's memory and stays under 2**24
_FIXES_PER_WRITE, _FIXES_EVERY_MS = 50_000, 1_000
_PERSONS_EVERY_MS = 15_000  # persons tracked/silent gauges: a full scan, so not every step
_RETRY_FIRST_S, _RETRY_MAX_S = 0.05, 2.0  # a store that cannot write is tried again this often


@dataclass(slots=True, eq=False)
class _Input:
    seq: int
    kind: str  # events | tick | action | feed_down | feed_up
    at_ms: int  # wall clock when recorded (received_at for events)
    payload: bytes | None = None
    batch: ev.EventBatch | None = None  # decoded on receipt; absent after a restart
    generation: int = -1  # which bundle the batch was decoded against
    future: Future | None = None
    queued: float = field(default_factory=time.monotonic)


@dataclass(slots=True)
class _StepOut:
    updates: list[AlertUpdate] = field(default_factory=list)
    fixes: list[Fix] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    dead: list = field(default_factory=list)
    replies: list = field(default_factory=list)  # (future, result or exception)
    statuses: list[Status] = field(default_factory=list)
    audits: list[Audit] = field(default_factory=list)
    released: list[Released] = field(default_factory=list)
    enrolled: list[str] = field(default_factory=list)
    snapshot: bool = False  # a bundle change: snapshot with it, so it is never re-run
    good_bundle: dict | None = None  # the texts of a bundle change that was accepted


class LiveRuntime:
    def __init__(self, bundle_dir, db_path, *, gateway_tokens=(), batch_ms: int = 200,
                 tick_ms: int = 1000, snapshot_every_s: float = 5.0, notify_config=None,
                 purge_every_s: float | None = 3600.0, strict: bool = False):
        """`strict`: a bundle on disk that does not load (or would leave an office with
        persons and no officer, or no admin) stops start-up with BundleError instead of
        running on the last good bundle kept in the store."""
        self.bundle_dir = Path(bundle_dir)
        self.metrics = LookoutMetrics()
        # a write the disk refused, while the engine retries it: /healthz and ingest say so
        self.faults = StoreFaults(self.metrics)
        self.store = Store(db_path, on_write_error=self.faults.failed)
        # the bundle on disk that was refused (file, line, field), while it stays there
        self.bundle_invalid: dict | None = None
        try:
            self._files = self._files_at_snapshot()
            self.bundle = self._load_or_last_good(strict)
        except BaseException:
            self.store.close()
            raise
        self.engine = Engine(self.bundle)
        coverage.report(self.bundle, self.metrics)
        self.announcer = Announcer(self.metrics, notify_config, self.bundle)
        self._persons_counted = 0
        self.gateway_tokens = tuple(t for t in gateway_tokens if t)
        self.batch_ms, self.tick_ms = batch_ms, tick_ms
        self.snapshot_every_ms = int(snapshot_every_s * 1000)
        self.accepted, self.updates = 0, 0
        self.rejected_by_reason: Counter[str] = Counter()
        self.error: BaseException | None = None
        self._decoding = (Decoder(self.engine.person_index, self.bundle.settings), 0)
        self.directory = PersonDirectory(self.bundle, self.store.persons.released_persons())
        # _input_lock orders inbox rows and the in-memory queue alike; _cv wakes the thread.
        self._input_lock = threading.RLock()
        self._cv = threading.Condition()
        self._pending: deque[_Input] = deque()
        # held while the engine applies inputs, so readers of person state see a whole step
        self._state_lock = threading.Lock()
        # one bundle change at a time: each one's `before` is the previous one's `after`
        self._change_lock = threading.Lock()
        self.purge_every_s = purge_every_s
        self.purger = Purger(self.store, lambda: self.bundle.settings)
        self._thread: threading.Thread | None = None
        self._stopping = self._closed = False
        self._last_snapshot = 0
        self._fixes_buffer: list[Fix] = []
        self._status_buffer: list[Status] = []
        self._fixes_written = 0
        self._recover()
        self.announcer.seed(self.store.alerts.all_latest())
        self._feed_down = self._state.real.feed_down_since is not None
        self._last_event = wall_ms()

    # -- start, restart, stop -------------------------------------------------------------
    def _files_at_snapshot(self) -> bundle_files.Texts:
        """Put back the bundle files the snapshot was taken with, when bundle changes are
        still in the inbox (they write their own files again as they re-run)."""
        snap = self.store.journal.load_snapshot()
        pending = [bundle_files.unpack(_body(r.payload))
                   for r in self.store.journal.inbox_after(snap[0] if snap else 0) if r.kind == "bundle"]
        current = bundle_files.read_texts(self.bundle_dir)
        if not pending:
            return current
        base = bundle_files.base_texts(current, pending)
        restored = bundle_files.write_texts(self.bundle_dir, base)
        log.info("%d bundle changes to re-run; restored %s as of the snapshot", len(pending),
                 ", ".join(restored) or "nothing")
        return base

    def _load_or_last_good(self, strict: bool) -> Bundle:
        """The bundle on disk; when it does not load, or is unsafe next to the last good
        one, the last good one (bundle_invalid raised) unless `strict`."""
        good = self.store.journal.good_bundle()
        try:
            bundle = load_bundle(self.bundle_dir)
            if good is not None and good != self._files:
                try:
                    before = bundle_files.load_with(self.bundle_dir, good)
                except BundleError:
                    before = None  # the loader changed under a stored bundle: nothing to compare
                if before is not None:
                    check_change(before, bundle)
        except BundleError as err:
            if strict or good is None:
                raise
            try:
                bundle = bundle_files.load_with(self.bundle_dir, good)
            except BundleError:
                raise err from None
            bundle.path = self.bundle_dir
            self._files = dict(good)
            self._mark_invalid(err)
            log.error("the bundle on disk is refused (%s); supervising on the last good bundle "
                      "kept in the store", err)
            return bundle
        if good != self._files:
            self.store.journal.save_good_bundle(self._files)
        return bundle

    def _mark_invalid(self, err: BundleError) -> None:
        self.bundle_invalid = {"file": err.file, "where": err.where, "field": err.field,
                               "since_ms": wall_ms()}
        self.metrics.set_bundle_invalid(True)

    def _clear_invalid_if_disk_good(self) -> None:
        if self.bundle_invalid is not None and \
                bundle_files.read_texts(self.bundle_dir) == self._files:
            self.bundle_invalid = None
            self.metrics.set_bundle_invalid(False)

    def _recover(self) -> None:
        snap = self.store.journal.load_snapshot()
        upto = 0
        if snap is None:
            self._state = self.engine.new_state()
        else:
            upto, blob = snap
            self._state = EngineState.from_bytes(blob)
            if self._state.real.person_ids != self.engine.caseload.person_ids:
                self.engine.reload(self.bundle, self._state)  # the bundle changed while down
        self._applied = upto
        group: list[_Input] = []
        rows = self.store.journal.inbox_after(upto)
        self.recovered = len(rows)
        if rows:
            log.info("re-running %d inputs after seq %d", len(rows), upto)
        for row in rows:
            group.append(_Input(row.seq, row.kind, row.at_ms, row.payload))
            if row.step_ms is not None:
                self._step(group, row.step_ms, snapshot=False)
                group = []
        if group:  # taken before the crash, never applied: a step like any other
            self._step(group, wall_ms(), snapshot=False)
        self._snapshot()

    def start(self) -> LiveRuntime:
        self._thread = threading.Thread(target=self._loop, name="lookout-engine", daemon=True)
        self._thread.start()
        if self.purge_every_s:
            self.purger.start(self.purge_every_s)
        return self

    def stop(self) -> None:
        """Apply everything taken, save a snapshot, close the store."""
        if self._closed:
            return
        with self._input_lock, self._cv:
            self._stopping = True
            self._cv.notify()
        self.purger.stop()
        if self._thread is not None:
            self._thread.join()
        elif self.error is None:
            self._drain_and_snapshot()
        self._closed = True
        self.store.close()
        self.announcer.close()

    def __enter__(self) -> LiveRuntime:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self.error is None

    # -- inputs ---------------------------------------------------------------------------
    def submit_events(self, lines, received_at_ms: int | None = None) -> tuple[int, dict[str, int]]:
        """Decode, dead-letter the rejects, store the accepted lines durably; returns
        (accepted, rejected by reason) once the inbox row is committed."""
        now = wall_ms() if received_at_ms is None else int(received_at_ms)
        lines = nonblank(lines)
        accepted, rejected = 0, Counter[str]()
        cap = DeadLetterCap(self.bundle.settings.dead_letters_per_request)
        for lo in range(0, len(lines), _CHUNK_LINES):
            chunk = lines[lo : lo + _CHUNK_LINES]
            decoder, generation = self._decoding
            batch, rejects = decoder.decode(chunk, now)
            self.metrics.observe_decoded(batch, rejects)
            reasons = Counter(r.reason for r in rejects)
            rejected.update(reasons)
            rejects = cap.keep(rejects)
            good = [chunk[i] for i in batch.seq.tolist()]
            with self._input_lock:
                self.rejected_by_reason.update(reasons)
                if not good:
                    if rejects:
                        self.store.dead_letters.record_dead_letters(rejects)
                    continue
                # Only real events say the gateway works again: a drill during an outage must
                # not end the real feed_down alert (SPEC §3: a drill never changes real alerts).
                real = bool(len(batch)) and not bool(batch.drill.all())
                if real and self._feed_down:  # the outage ends before these apply
                    self._record("feed_up", now, orjson.dumps({"at": now}))
                    self._feed_down = False
                if real:
                    self._last_event = max(self._last_event, now)
                self._record("events", now, b"\n".join(good), rejects, batch=batch,
                             generation=generation)
                self.accepted += len(good)
            accepted += len(good)
        if (summary := cap.summary(now)) is not None:
            with self._input_lock:
                self.store.dead_letters.record_dead_letters([summary])
        return accepted, dict(rejected)

    def submit_action(self, action: dict, timeout: float = 30.0) -> list[dict]:
        """Acknowledge or resolve (SPEC §4) through the engine; returns the new versions
        ([] when it changed nothing) or raises ActionError. `ts` defaults to now."""
        now = wall_ms()
        action = actions.opened(action, now)
        if not self.alive:
            raise RuntimeError("the runtime is not running / 运行时未运行")
        payload = actions.payload(action)
        future: Future = Future()
        self._record("action", now, payload, future=future)
        return future.result(timeout)

    def reload(self, bundle_dir=None, timeout: float = 120.0) -> None:
        """Take up bundle files edited by hand (or, from another folder, copy them into ours)
        without losing any state. Raises BundleError and keeps the old bundle when the new
        one breaks a rule."""
        texts = bundle_files.read_texts(Path(bundle_dir)) if bundle_dir is not None else {}
        self.change_bundle(texts, audit=(None, "bundle.reload", str(bundle_dir or
                                                                     self.bundle_dir), None, None),
                           timeout=timeout)

    def change_bundle(self, texts: bundle_files.Texts, *, audit: tuple | None = None,
                      timeout: float = 120.0):
        """Write these bundle files and swap the bundle, in inbox order: inputs taken before
        this call apply against the old bundle, later ones against the new. `audit`: (who,
        what, target, before, after), stored with the change. Returns the new Bundle (the old
        one when nothing differs); raises BundleError when the result breaks a rule."""
        unknown = set(texts) - set(bundle_files.BUNDLE_FILES)
        if unknown:
            raise ValueError(f"not bundle files: {', '.join(sorted(unknown))}")
        with self._change_lock:
            # an edit changes what runs; a reload ({}) takes up the folder as it is
            base = self._files if texts else bundle_files.read_texts(self.bundle_dir)
            after = {**base, **texts}
            changed = {n: t for n, t in after.items() if t != self._files.get(n)}
            if not changed:
                self._clear_invalid_if_disk_good()
                return self.bundle
            # checked on a scratch copy before anything is recorded: a bad change (or a bad
            # hand edit) comes back as BundleError and the folder is left as it is
            try:
                check_change(self.bundle,
                             bundle_files.load_with(self.bundle_dir, {**self._files, **changed}))
            except BundleError as err:
                if not texts:  # the folder holds it: a restart would meet it again
                    self._mark_invalid(err)
                raise
            change = {"after": changed, "before": {n: self._files.get(n) for n in changed},
                      "audit": list(audit) if audit else None}
            future: Future = Future()
            self._record("bundle", wall_ms(), bundle_files.pack(change), future=future)
            if not self.alive:  # not started (tools, tests): apply it here and now
                self._run_pending()
            return future.result(timeout)

    def subscribe(self, maxsize: int = 10_000) -> Subscription:
        """Every new alert update from now on (a thread-safe queue, for server-sent events)."""
        return self.announcer.subscribe(maxsize)

    def stats(self) -> dict:
        return {"accepted": self.accepted, "rejected": dict(self.rejected_by_reason),
                "updates": self.updates, "inbox_seq": self.store.journal.last_seq,
                "applied_seq": self._applied, "recovered": self.recovered,
                "feed_down": self._feed_down,
                "engine": dict(self.engine.stats), "alive": self.alive,
                "error": repr(self.error) if self.error else None,
                "store_fault": dict(self.faults.current) if self.faults.current else None,
                "bundle_invalid": dict(self.bundle_invalid) if self.bundle_invalid else None}

    def office_of(self, person_id: str | None) -> str | None:
        return self.directory.office_of(person_id)

    @property
    def bundle_texts(self) -> bundle_files.Texts:
        """The bundle files' texts the running bundle was loaded from."""
        return dict(self._files)

    @property
    def former_persons(self) -> dict[str, PersonSpec]:
        """Persons released from supervision (解除矫正): no longer in the bundle, but their
        alerts stay with their office until resolved."""
        return self.directory.former

    def person_status(self, person_id: str) -> dict | None:
        """The engine's view of one person (None: not in the bundle): last sign of life, last
        fix, and when silence would count. Times are epoch ms, None when never."""
        with self._state_lock:
            p = self.engine.caseload.index.get(person_id)
            if p is None:
                return None
            st = self._state.real

            def t(col) -> int | None:
                v = int(col[p])
                return None if v <= NO_TIME or v >= NEVER else v

            last_fix = None
            if t(st.last_fix_ts) is not None:
                last_fix = {"ts": t(st.last_fix_ts), "lat": float(st.last_lat[p]),
                            "lon": float(st.last_lon[p]), "accuracy_m": float(st.last_acc[p])}
            return {"last_seen_ms": t(st.latest_ts), "last_fix": last_fix,
                    "tracked_since_ms": t(st.tracked_since), "silence_due_ms": t(st.silence_due),
                    "timeout_ms": int(self.engine.caseload.timeout_ms[p]),
                    "feed_down": st.feed_down_since is not None}

    def purge_now(self, now_ms: int | None = None, who: str = "lookout") -> dict:
        """Purge tracks and dead letters past the retention setting now (audited)."""
        return self.purger.purge_now(now_ms, who)

    @property
    def last_purge(self) -> dict | None:
        return self.purger.last

    def _record(self, kind: str, at_ms: int, payload: bytes | None = None, dead=(), *,
                future: Future | None = None, batch: ev.EventBatch | None = None,
                generation: int = -1) -> _Input:
        with self._input_lock:
            if self._stopping or self.error is not None:
                raise RuntimeError("the runtime is stopping or failed / 运行时已停止或出错")
            seq = self.store.journal.record_input(kind, at_ms, payload, dead)
            if batch is not None:
                batch.seq = (seq << SEQ_SHIFT) + np.arange(len(batch), dtype=np.int64)
            item = _Input(seq, kind, at_ms, payload, batch, generation, future)
            with self._cv:
                self._pending.append(item)
                self._cv.notify()
        return item

    # -- the engine thread ----------------------------------------------------------------
    def _loop(self) -> None:
        next_tick = time.monotonic() + self.tick_ms / 1000
        try:
            while True:
                with self._cv:
                    while not self._ready(next_tick):
                        self._cv.wait(self._timeout(next_tick))
                    stopping = self._stopping
                if stopping:
                    self._drain_and_snapshot()
                    return
                if time.monotonic() >= next_tick:
                    next_tick = time.monotonic() + self.tick_ms / 1000
                    try:
                        self._tick()
                    except StoreWriteError:
                        pass  # counted and shown; the next tick tries again
                self._run_pending()
        except BaseException as exc:
            self.error = exc
            log.exception("engine thread failed; inputs stay in the inbox for a restart")
            with self._cv:
                for item in self._pending:
                    if item.future is not None:
                        item.future.set_exception(RuntimeError(f"engine failed: {exc!r}"))

    def _ready(self, next_tick: float) -> bool:
        now = time.monotonic()
        if self._stopping or now >= next_tick:
            return True
        if not self._pending:
            return False
        urgent = any(item.future is not None for item in self._pending)
        return urgent or now - self._pending[0].queued >= self.batch_ms / 1000

    def _timeout(self, next_tick: float) -> float:
        due = next_tick
        if self._pending:
            due = min(due, self._pending[0].queued + self.batch_ms / 1000)
        return max(due - time.monotonic(), 0.001)

    def _tick(self) -> None:
        """The live clock is the wall clock: record a tick; and note a silent feed."""
        now = wall_ms()
        silence_ms = self.bundle.settings.feed_silence_s * 1000
        with self._input_lock:
            if self._stopping:  # stop() won the race: the final drain comes next
                return
            if not self._feed_down and now - self._last_event >= silence_ms:
                self._record("feed_down", now, orjson.dumps({"at": self._last_event}))
                self._feed_down = True
            self._record("tick", now)

    def _run_pending(self) -> None:
        with self._cv:
            items = list(self._pending)
            self._pending.clear()
        if items:
            self._step(items, wall_ms())

    def _drain_and_snapshot(self) -> None:
        self._run_pending()
        self._snapshot()

    def _snapshot(self) -> None:
        fixes, self._fixes_buffer = self._fixes_buffer, []
        statuses, self._status_buffer = self._status_buffer, []
        self.store.commit(StepCommit([], self.office_of, self._applied, fixes=fixes,
                                     statuses=statuses, snapshot=self._state.to_bytes()))
        self._last_snapshot = self._fixes_written = wall_ms()

    def _apply_change(self, item: _Input, out: _StepOut) -> None:
        """A bundle change row: load its texts, write its files, swap. A bundle that fails
        to load (checked before the row was taken) or files that cannot be written keep the
        old files and the old bundle."""
        change = bundle_files.unpack(_body(item.payload))
        who, what, target, before, after = change.get("audit") or (None, "bundle", None,
                                                                      None, None)
        try:
            # loaded from the texts, not the folder: a hand edit of another file lying there
            # (refused, bundle_invalid) is not swept in
            bundle = bundle_files.load_with(self.bundle_dir, {**self._files, **change["after"]})
            try:
                bundle_files.write_texts(self.bundle_dir, change["after"])
            except BaseException:
                bundle_files.write_texts(self.bundle_dir, change["before"])
                raise
        except Exception as exc:  # handed back to the caller
            out.audits.append(Audit(item.at_ms, who, what, target, before, {"refused": str(exc)}))
            result: Bundle | Exception = exc
        else:
            bundle.path = self.bundle_dir
            self.engine.reload(bundle, self._state)
            with self._input_lock:
                self._decoding = (Decoder(self.engine.person_index, bundle.settings),
                                  self._decoding[1] + 1)
                swap = self.directory.swap(self.bundle, bundle)
                self.bundle = bundle
            coverage.report(bundle, self.metrics)
            self.announcer.set_bundle(bundle)
            self._files.update(change["after"])
            out.good_bundle = dict(self._files)
            self._clear_invalid_if_disk_good()
            out.released += [Released(p.person_id, orjson.dumps(record_of(p)).decode(), item.at_ms, who)
                             for p in swap.released]
            out.enrolled += swap.enrolled
            out.audits.append(Audit(item.at_ms, who, what, target, before,
                                    after if after is not None else {"files": sorted(change["after"])}))
            result = bundle
        out.snapshot = True
        if item.future is not None:
            out.replies.append((item.future, result))

    # -- one step: inputs in, one transaction out -----------------------------------------
    def _step(self, items: list[_Input], now_ms: int, snapshot: bool | None = None) -> None:
        out = _StepOut()
        with self._state_lock:
            self._apply(items, now_ms, out)
        if snapshot is None:
            snapshot = now_ms - self._last_snapshot >= self.snapshot_every_ms
        snapshot = snapshot or out.snapshot
        blob = self._state.to_bytes() if snapshot else None
        # Fixes are only for maps: written in big transactions (a thousand random inserts
        # cost ~5x more per row than fifty thousand), and always with a snapshot, so a
        # restart's re-run regenerates exactly those not yet written (the key drops repeats).
        self._fixes_buffer += out.fixes
        self._status_buffer += out.statuses
        fixes: list[Fix] = []
        statuses: list[Status] = []
        if (blob is not None or len(self._fixes_buffer) >= _FIXES_PER_WRITE
                or now_ms - self._fixes_written >= _FIXES_EVERY_MS):
            fixes, self._fixes_buffer, self._fixes_written = self._fixes_buffer, [], now_ms
            statuses, self._status_buffer = self._status_buffer, []
        records = [u.to_wire() for u in out.updates]
        new = self._commit(lambda: self.store.commit(StepCommit(
            records, self.office_of, items[-1].seq, step_ms=now_ms, snapshot=blob,
            fixes=fixes, actions=out.actions, dead_letters=out.dead, statuses=statuses,
            audits=out.audits, released=out.released, enrolled=out.enrolled,
            good_bundle=out.good_bundle)))
        self._applied = items[-1].seq
        if blob is not None:
            self._last_snapshot = now_ms
        self.updates += len(new)
        # the store returns the records it had not seen; their typed twins go to the consumers
        kept = {id(r) for r in new}
        typed = [u for u, r in zip(out.updates, records, strict=True) if id(r) in kept]
        if now_ms - self._persons_counted >= _PERSONS_EVERY_MS:
            self._persons_counted = now_ms
            self.metrics.set_persons(*count_persons(self.engine, self._state))
        self.announcer.announce(typed, new, now_ms)
        for future, result in out.replies:
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)

    def _commit(self, write):
        """The step's one transaction. On the engine thread a store that cannot write (disk
        full, I/O error) is tried again, backing off, until it can: the step's inputs are in
        the inbox and its outputs in memory, so waiting loses nothing. A stop while waiting
        gives up; the inbox re-runs the step at the next start."""
        wait = _RETRY_FIRST_S
        while True:
            try:
                result = write()
            except StoreWriteError:
                if threading.current_thread() is not self._thread or self._stopping:
                    raise
                log.warning("store cannot write; retrying in %.2f s: %s", wait,
                            (self.faults.current or {}).get("error"))
                time.sleep(wait)
                wait = min(wait * 2, _RETRY_MAX_S)
                continue
            if (fault := self.faults.cleared()) is not None:
                log.info("store writes again after %d failures", fault["failures"])
            return result

    def _apply(self, items: list[_Input], now_ms: int, out: _StepOut) -> None:
        parts: list[ev.EventBatch] = []

        def flush() -> None:
            if parts:
                batch = parts[0] if len(parts) == 1 else ev.EventBatch.concat(parts)
                parts.clear()
                started = time.perf_counter()
                ups = self.engine.process(self._state, batch, now_ms)
                # updates are observed after the commit, with the rest of the step's
                self.metrics.observe_process(batch, [], time.perf_counter() - started, now_ms,
                                             self.engine.stats)
                out.updates += ups
                out.fixes += self._fixes(batch)
                out.statuses += self._statuses(batch)

        for item in items:
            if item.kind == "events":
                parts.append(self._batch(item, out))
                item.batch = None
            elif item.kind == "tick":
                parts.append(ev.EventBatch.from_rows(
                    [{"kind": ev.TICK, "ts": item.at_ms, "seq": item.seq << SEQ_SHIFT}]))
            else:
                flush()
                if item.kind == "action":
                    self._act(item, now_ms, out)
                elif item.kind == "bundle":
                    self._apply_change(item, out)
                else:
                    at = orjson.loads(_body(item.payload))["at"]
                    op = self.engine.feed_down if item.kind == "feed_down" else self.engine.feed_up
                    out.updates += op(self._state, at, now_ms)
        flush()

    def _batch(self, item: _Input, out: _StepOut) -> ev.EventBatch:
        decoder, generation = self._decoding
        if item.batch is not None and item.generation == generation:
            return item.batch
        # After a restart, or when a reload changed the person table since it was decoded.
        batch, rejects = decoder.decode(_body(item.payload).split(b"\n"), item.at_ms)
        out.dead += rejects
        batch.seq = (item.seq << SEQ_SHIFT) + np.arange(len(batch), dtype=np.int64)
        return batch

    def _fixes(self, b: ev.EventBatch) -> list[Fix]:
        rows = np.flatnonzero(b.kind == ev.FIX)
        if rows.size == 0:
            return []
        ids = self.engine.caseload.person_ids
        return list(map(Fix, [ids[p] for p in b.person[rows].tolist()], b.drill[rows].tolist(),
                        b.ts[rows].tolist(), b.lat[rows].tolist(), b.lon[rows].tolist(),
                        b.accuracy_m[rows].tolist()))

    def _statuses(self, b: ev.EventBatch) -> list[Status]:
        # heartbeats say only "alive", which last_seen already says; the rest tell a story
        rows = np.flatnonzero((b.kind == ev.STATUS) & (b.status != ev.HEARTBEAT))
        ids = self.engine.caseload.person_ids
        return [Status(ids[p], d, t, ev.STATUS_NAMES[s]) for p, d, t, s in zip(
            b.person[rows].tolist(), b.drill[rows].tolist(), b.ts[rows].tolist(),
            b.status[rows].tolist(), strict=True)]

    def _act(self, item: _Input, now_ms: int, out: _StepOut) -> None:
        payload = _body(item.payload)
        action = orjson.loads(payload)
        result: list[AlertUpdate] | Exception
        try:
            result = self.engine.act(self._state, action, now_ms)
            outcome, detail = ("applied" if result else "no_change"), None
            out.updates += result
        except ActionError as exc:
            result, outcome, detail = exc, exc.reason, str(exc)
        except Exception as exc:  # one bad action must not stop the engine
            log.exception("action %s failed", item.seq)
            result, outcome, detail = exc, "error", repr(exc)

        out.actions.append(Action(item.seq, item.at_ms, *actions.log_fields(action), outcome,
                                  detail, payload.decode()))
        if item.future is not None:
            # callers (the API) get the SPEC §4 records, as the Kafka officer runtime gives them
            reply = [u.to_wire() for u in result] if isinstance(result, list) else result
            out.replies.append((item.future, reply))


def _body(payload: bytes | None) -> bytes:
    """An inbox row's payload, which every kind but a tick has."""
    if payload is None:
        raise ValueError("an inbox row without its payload / 收件箱记录缺少内容")
    return payload


_: type[OfficerService] = LiveRuntime  # mypy holds the runtime to the declared service
