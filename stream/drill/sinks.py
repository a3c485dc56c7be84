"""Where a drill's events go: the embedded service over HTTP, or Kafka's events topic.

A sink takes a slice of lines and returns once they are durably taken (HTTP 202, Kafka
acks), so the time just before `send` is an honest "sent at" for latency.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Protocol

import orjson

MAX_POST_BYTES = 900 * 1024  # under the service's 1 MiB body limit


class SinkError(RuntimeError):
    pass


class Sink(Protocol):
    def send(self, lines: list[bytes]) -> None: ...

    def close(self) -> None: ...

    def describe(self) -> dict: ...


class HttpSink:
    """POST /v1/events with the gateway token, JSONL bodies under the size limit."""

    def __init__(self, url: str, token: str, timeout_s: float = 30.0):
        self.url = url.rstrip("/") + "/v1/events"
        self.base = url.rstrip("/")
        self.token, self.timeout_s = token, timeout_s
        self.accepted = 0
        self.rejected: dict[str, int] = {}
        # an empty body is taken as no record at all: it checks the address and the token
        # before the drill starts, and leaves nothing behind
        self._post([])

    def describe(self) -> dict:
        return {"kind": "http", "url": self.base}

    def send(self, lines: list[bytes]) -> None:
        body: list[bytes] = []
        size = 0
        for line in lines:
            if body and size + len(line) + 1 > MAX_POST_BYTES:
                self._post(body)
                body, size = [], 0
            body.append(line)
            size += len(line) + 1
        if body:
            self._post(body)

    def _post(self, lines: list[bytes]) -> None:
        req = urllib.request.Request(
            self.url, data=b"\n".join(lines), method="POST",
            headers={"Authorization": f"Bearer {self.token}",
                     "Content-Type": "application/x-ndjson"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                answer = orjson.loads(resp.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode(errors="replace")
            raise SinkError(f"{self.url} answered {exc.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise SinkError(f"cannot reach {self.url}: {exc}") from None
        self.accepted += answer.get("accepted", 0)
        for reason, n in (answer.get("rejected_by_reason") or {}).items():
            self.rejected[reason] = self.rejected.get(reason, 0) + n

    def close(self) -> None:
        pass


class KafkaSink:
    """`{prefix}.events`, keyed by person_id, ticks to every partition (stream.kafka.replay)."""

    def __init__(self, bootstrap: str, prefix: str):
        from kafka import KafkaAdminClient, KafkaProducer

        from stream.kafka.replay import FeedPlan
        from stream.kafka.topics import Topics, partition_counts

        self.bootstrap, self.topics = bootstrap, Topics(prefix)
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        try:
            if self.topics.events not in set(admin.list_topics()):
                raise SinkError(f"no topic {self.topics.events} on {bootstrap}: is "
                                f"`lookout worker --prefix {prefix}` running?")
            n = partition_counts(admin, [self.topics.events])[self.topics.events]
        finally:
            admin.close()
        # the plan already marks drill and carries its own ticks; FeedPlan fans ticks out
        self.plan = FeedPlan(n, drill=True)
        self.producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2,
                                      max_in_flight_requests_per_connection=1)
        self.accepted = None  # the workers decide, later; rejects go to {prefix}.dead-letter
        self.rejected: dict[str, int] = {}

    def describe(self) -> dict:
        return {"kind": "kafka", "bootstrap": self.bootstrap, "prefix": self.topics.prefix}

    def send(self, lines: list[bytes]) -> None:
        for m in self.plan.messages(lines):
            self.producer.send(self.topics.events, value=m.value, key=m.key,
                               partition=m.partition)
        self.producer.flush()

    def close(self) -> None:
        self.producer.flush()
        self.producer.close()
