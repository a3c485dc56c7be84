"""`lookout record`: a window of live input to JSONL(.gz), for later replays and drills.

    lookout record --db lookout.db [--url http://127.0.0.1:8080] --out day.jsonl.gz
    lookout record --kafka 127.0.0.1:9092 [--prefix lookout] --out day.jsonl.gz
           [--duration S] [--pseudonymise SALT] [--include-drill]

The embedded service has no input tap of its own, so its recording reads the store's inbox,
where every accepted request lands first. The runtime deletes inbox rows once a snapshot
covers them, which can be as soon as they are applied (after `--batch-ms`, 200 ms by
default), so the inbox is read every 5 ms (one indexed SELECT). Inbox sequence numbers are
contiguous, so anything that still went by unread is counted and reported, never silently
lost. Kafka is simpler: `{prefix}.events` from its end.

Ticks are left out (a replay ends with its own) and so are drill events, unless asked for.
`--pseudonymise SALT` replaces person and device ids with a keyed hash (HMAC-SHA-256): the same
id always gives the same pseudonym with the same salt, and nobody without the salt can go back.
`--bundle B --bundle-out B2` writes B's persons and permits under the same pseudonyms, so the
recording replays against B2. Positions are not changed: pseudonymised is not anonymous.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import hmac
import json
import shutil
import sys
import time
import urllib.request
from pathlib import Path

import orjson

POLL_S = 0.005


def pseudonym(salt: bytes, value: str, kind: str = "person") -> str:
    digest = hmac.new(salt, kind.encode() + b"\0" + value.encode(), hashlib.sha256).hexdigest()
    return f"{kind[0]}-{digest[:24]}"


class Pseudonymiser:
    def __init__(self, salt: str):
        if salt.startswith("@"):  # a file, so the salt need not show in `ps`
            salt = Path(salt[1:]).read_text(encoding="utf-8").strip()
        if not salt:
            raise ValueError("--pseudonymise: the salt is empty")
        self.salt = salt.encode()

    def event(self, e: dict) -> dict:
        if isinstance(e.get("person_id"), str):
            e["person_id"] = pseudonym(self.salt, e["person_id"])
        if isinstance(e.get("device_id"), str):
            e["device_id"] = pseudonym(self.salt, e["device_id"], "device")
        return e

    def bundle(self, src: Path, dst: Path) -> None:
        """A copy of the bundle whose persons (and their permits) carry the pseudonyms."""
        shutil.copytree(src, dst, dirs_exist_ok=False)
        for name in ("persons.jsonl", "permits.jsonl"):
            path = dst / name
            if not path.is_file():
                continue
            out = []
            for line in path.read_text(encoding="utf-8").splitlines():
                if not line.strip():
                    continue
                rec = json.loads(line)
                if isinstance(rec.get("person_id"), str):
                    rec["person_id"] = pseudonym(self.salt, rec["person_id"])
                    if name == "persons.jsonl":
                        rec["name"] = "对象 " + rec["person_id"][2:8]
                out.append(json.dumps(rec, ensure_ascii=False))
            path.write_text("".join(x + "\n" for x in out), encoding="utf-8")


class StoreTap:
    def __init__(self, db: str):
        from alerts.store import Store

        if not Path(db).is_file():
            raise FileNotFoundError(f"no store at {db} (the service's --db)")
        self.store = Store(db)
        self.last = self.store.journal.last_seq
        self.missed = 0

    def poll(self) -> list[bytes]:
        lines: list[bytes] = []
        for row in self.store.journal.inbox_after(self.last):
            self.missed += row.seq - self.last - 1  # deleted by a snapshot before we came
            self.last = row.seq
            if row.kind == "events" and row.payload:
                lines += bytes(row.payload).split(b"\n")
        return lines

    def close(self) -> None:
        self.store.close()


class KafkaTap:
    missed = 0

    def __init__(self, bootstrap: str, prefix: str):
        from kafka import KafkaConsumer, TopicPartition

        from stream.kafka.topics import Topics

        topic = Topics(prefix).events
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        parts = self.consumer.partitions_for_topic(topic)
        if not parts:
            self.consumer.close()
            raise OSError(f"no topic {topic} on {bootstrap}")
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        self.consumer.assign(tps)
        self.consumer.seek_to_end(*tps)
        for tp in tps:
            self.consumer.position(tp)  # resolve "end" now, not at the first poll

    def poll(self) -> list[bytes]:
        got = self.consumer.poll(timeout_ms=100)
        return [r.value for records in got.values() for r in records if r.value is not None]

    def close(self) -> None:
        self.consumer.close()


class Writer:
    def __init__(self, path: str, pseudo: Pseudonymiser | None, include_drill: bool):
        self.fh = gzip.open(path, "wb", compresslevel=5) if path.endswith(".gz") else \
            open(path, "wb")  # closed in close()
        self.pseudo, self.include_drill = pseudo, include_drill
        self.counts = {"recorded": 0, "drill_left_out": 0, "ticks_left_out": 0,
                       "unreadable_left_out": 0}

    def write(self, lines: list[bytes]) -> None:
        for raw in lines:
            if not raw.strip():
                continue
            try:
                e = orjson.loads(raw)
            except orjson.JSONDecodeError:
                e = None
            if not isinstance(e, dict):
                if self.pseudo is not None:  # it may hold an id we cannot find to replace
                    self.counts["unreadable_left_out"] += 1
                    continue
                self._out(raw)
                continue
            if e.get("type") == "tick":
                self.counts["ticks_left_out"] += 1
            elif e.get("drill") is True and not self.include_drill:
                self.counts["drill_left_out"] += 1
            else:
                self._out(orjson.dumps(self.pseudo.event(e)) if self.pseudo else raw)

    def _out(self, line: bytes) -> None:
        self.fh.write(line + b"\n")
        self.counts["recorded"] += 1

    def close(self) -> None:
        self.fh.close()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lookout record",
                                description="Record live input to JSONL / 录制实时数据 "
                                            "(stream/drill/README.md)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--db", help="the embedded service's SQLite store (its inbox)")
    src.add_argument("--kafka", metavar="BOOTSTRAP", help="Kafka: {prefix}.events")
    p.add_argument("--url", help="the embedded service: checked at /healthz first (with --db)")
    p.add_argument("--prefix", default="lookout", help="Kafka topic prefix (default lookout)")
    p.add_argument("--out", required=True, help="FILE.jsonl or FILE.jsonl.gz")
    p.add_argument("--duration", type=float, help="seconds to record (default: until Ctrl-C)")
    p.add_argument("--pseudonymise", metavar="SALT",
                   help="replace person/device ids with HMAC pseudonyms; @FILE reads the salt")
    p.add_argument("--include-drill", action="store_true", help="keep drill events too")
    p.add_argument("--bundle", help="with --pseudonymise: a bundle to pseudonymise as well")
    p.add_argument("--bundle-out", help="where that pseudonymised bundle goes (a new folder)")
    return p


def cli_record(argv: list[str]) -> int:
    p = _parser()
    args = p.parse_args(argv)
    if args.url and not args.db:
        p.error("--url: recording the embedded service reads its store: add --db PATH")
    if bool(args.bundle) != bool(args.bundle_out) or (args.bundle and not args.pseudonymise):
        p.error("--bundle and --bundle-out go together, with --pseudonymise")
    try:
        pseudo = Pseudonymiser(args.pseudonymise) if args.pseudonymise else None
    except (OSError, ValueError) as err:
        p.error(str(err))
    if args.bundle_out and Path(args.bundle_out).exists():
        p.error(f"--bundle-out: {args.bundle_out} already exists")
    if args.url and not _healthy(args.url):
        print(f"lookout record: {args.url}/healthz does not answer ok; recording anyway",
              file=sys.stderr)
    try:
        tap = StoreTap(args.db) if args.db else KafkaTap(args.kafka, args.prefix)
    except Exception as err:  # no store, no broker: say so and stop
        print(f"lookout record: {err}", file=sys.stderr)
        return 3
    if pseudo is not None and args.bundle:
        pseudo.bundle(Path(args.bundle), Path(args.bundle_out))
    summary = record(tap, Writer(args.out, pseudo, args.include_drill), args.duration)
    if summary["inbox_rows_missed"]:
        print(f"lookout record: warning: {summary['inbox_rows_missed']} inbox rows (events, "
              "ticks or actions) were applied and deleted before they could be read / "
              "部分数据未能录制", file=sys.stderr)
    print(orjson.dumps(summary).decode(), file=sys.stderr)
    return 0


def record(tap, writer: Writer, duration_s: float | None) -> dict:
    started = time.monotonic()
    try:
        while duration_s is None or time.monotonic() - started < duration_s:
            lines = tap.poll()
            if lines:
                writer.write(lines)
            elif isinstance(tap, StoreTap):
                time.sleep(POLL_S)
    except KeyboardInterrupt:
        pass
    finally:
        writer.write(tap.poll())  # what came in the last moment
        writer.close()
        tap.close()
    return {**writer.counts, "inbox_rows_missed": tap.missed,
            "seconds": round(time.monotonic() - started, 1)}


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/healthz", timeout=5) as resp:
            return resp.status == 200
    except OSError:
        return False
