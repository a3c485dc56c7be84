"""Where a drill reads its alerts and the officers' actions back.

* StoreSource: the embedded service's SQLite store (`--db`), read alongside the running
  service (WAL lets readers run next to its writer): drill alerts, their versions, and the
  actions table, which says who acknowledged what and when.
* KafkaSource: `{prefix}.alerts` and `{prefix}.actions` from the offsets they had when the
  drill started.

Both collect into an Observed: every alert version once, with the wall time it was written
(the store's written_at, Kafka's message timestamp) or else first seen, the only "when" a
repeat of an already open alert has; and every action once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from alerts.timefmt import wall_ms
from config.loader import parse_ts_ms


@dataclass
class Observed:
    since_ms: int  # the drill's first event time: older drill alerts are not this drill's
    versions: dict[tuple[str, int], dict] = field(default_factory=dict)
    actions: dict[str, dict] = field(default_factory=dict)

    def add_version(self, record: dict, observed_at: int) -> bool:
        key = (record["alert_id"], int(record["version"]))
        if key in self.versions:
            return False
        self.versions[key] = {**record, "observed_at": observed_at}
        return True

    def belongs(self, record: dict) -> bool:
        if not record.get("drill"):
            return False
        last = record.get("last_event_at")
        return last is not None and parse_ts_ms(last) >= self.since_ms

    def alert_ids(self) -> set[str]:
        return {k[0] for k in self.versions}

    def to_lists(self) -> tuple[list[dict], list[dict]]:
        versions = sorted(self.versions.values(), key=lambda r: (r["alert_id"], r["version"]))
        actions = sorted(self.actions.values(), key=lambda a: (a.get("at") or 0, a["key"]))
        return versions, actions

    def load(self, versions: list[dict], actions: list[dict]) -> None:
        for v in versions:
            self.versions.setdefault((v["alert_id"], int(v["version"])), v)
        for a in actions:
            self.actions.setdefault(a["key"], a)


class StoreSource:
    def __init__(self, db: str | Path, observed: Observed):
        from alerts.store import Store

        if not Path(db).is_file():
            raise FileNotFoundError(f"no store at {db} (the service's --db)")
        self.db = str(Path(db).resolve())
        self.store = Store(self.db)
        self.seen = observed

    def describe(self) -> dict:
        return {"kind": "store", "db": self.db}

    def poll(self, full: bool = False) -> None:
        now = wall_ms()
        tracked = self.seen.alert_ids()
        for rec in self.store.alerts.list_alerts(drill=True, limit=100_000):
            aid = rec["alert_id"]
            if aid not in tracked and not self.seen.belongs(rec):
                continue
            if (aid, int(rec["version"])) in self.seen.versions:
                continue
            history = self.store.alerts.history(aid)
            first = next((h["version"] for h in history if self.seen.belongs(h)), None)
            # when the store wrote each version: then a repeat is dated exactly, even by a
            # report run days later (versions from before the store kept it have none)
            times = self.store.alerts.written_times(aid)
            for h in history:
                if first is not None and h["version"] >= first:
                    self.seen.add_version(h, _v1_time(h) or times.get(h["version"]) or now)
        ids = self.seen.alert_ids()
        for a in self.store.actions.actions_log(limit=1_000_000 if full else 1_000):
            if a["alert_id"] in ids and a["action"] in ("acknowledge", "resolve"):
                self.seen.actions.setdefault(f"store:{a['seq']}", {
                    "key": f"store:{a['seq']}", "alert_id": a["alert_id"],
                    "action": a["action"], "by": a["by"], "at": a["received_at"],
                    "outcome": a["outcome"]})

    def close(self) -> None:
        self.store.close()


def _v1_time(record: dict) -> int | None:
    """A version 1's detected_at is when it was emitted; later versions carry v1's stamp."""
    if record["version"] == 1 and record.get("detected_at"):
        return parse_ts_ms(record["detected_at"])
    return None


class KafkaSource:
    def __init__(self, bootstrap: str, prefix: str, observed: Observed,
                 offsets: dict[str, dict[str, int]] | None = None):
        from kafka import KafkaConsumer, TopicPartition

        from stream.kafka.topics import Topics

        self.bootstrap, self.prefix = bootstrap, prefix
        self.topics = Topics(prefix)
        self.seen = observed
        self._pending: dict[str, dict] = {}
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                      auto_offset_reset="earliest")
        tps = []
        for topic in (self.topics.alerts, self.topics.actions):
            for p in sorted(self.consumer.partitions_for_topic(topic) or ()):
                tps.append(TopicPartition(topic, p))
        self.consumer.assign(tps)
        if offsets is None:  # a new drill: only what comes from now on
            ends = self.consumer.end_offsets(tps)
            offsets = {}
            for tp, off in ends.items():
                offsets.setdefault(tp.topic, {})[str(tp.partition)] = off
        self.offsets = offsets
        for tp in tps:
            self.consumer.seek(tp, offsets.get(tp.topic, {}).get(str(tp.partition), 0))

    def describe(self) -> dict:
        return {"kind": "kafka", "bootstrap": self.bootstrap, "prefix": self.prefix,
                "offsets": self.offsets}

    def poll(self, full: bool = False) -> None:
        deadline = time.monotonic() + (10.0 if full else 0.3)
        while True:
            got = self.consumer.poll(timeout_ms=200)
            for tp, records in got.items():
                for r in records:
                    self._one(tp.topic, r)
            if (not full and (not got or time.monotonic() > deadline)) or \
                    (full and (self._caught_up() or time.monotonic() > deadline)):
                break
        ids = self.seen.alert_ids()
        for key in [k for k, a in self._pending.items() if a["alert_id"] in ids]:
            self.seen.actions.setdefault(key, self._pending.pop(key))

    def _caught_up(self) -> bool:
        tps = list(self.consumer.assignment())
        ends = self.consumer.end_offsets(tps)
        return all(self.consumer.position(tp) >= ends[tp] for tp in tps)

    def _one(self, topic: str, r) -> None:
        try:
            value = orjson.loads(r.value) if r.value else None
        except orjson.JSONDecodeError:
            return
        if not isinstance(value, dict):
            return
        if topic == self.topics.alerts:
            if value.get("alert_id") in self.seen.alert_ids() or self.seen.belongs(value):
                self.seen.add_version(value, _v1_time(value) or r.timestamp)
            return
        if value.get("action") in ("acknowledge", "resolve") and value.get("alert_id"):
            try:
                at = parse_ts_ms(value.get("ts"))
            except ValueError:
                at = r.timestamp
            key = f"kafka:{r.partition}:{r.offset}"
            # kept aside until its alert is known to be this drill's: real actions stay out
            self._pending.setdefault(key, {
                "key": key, "alert_id": value["alert_id"], "action": value["action"],
                "by": value.get("by"), "at": at, "outcome": "sent"})

    def close(self) -> None:
        self.consumer.close()
