"""Lookout's Kafka topics (SPEC §6) and their creation with sane defaults.

Creation is idempotent: a topic that exists is left as it is, and only checked. The events and
actions topics must have the same number of partitions, since actions are co-partitioned with
events (an officer's action reaches the worker holding that person's state); the state
changelogs follow the events' count too.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

DAY_MS = 86_400_000
STATE_TABLES = ("persons", "clocks")


class TopicError(Exception):
    """Topics that exist but cannot work together (e.g. events and actions not co-partitioned)."""


@dataclass(frozen=True)
class Topics:
    prefix: str = "lookout"

    @property
    def events(self) -> str:
        return f"{self.prefix}.events"

    @property
    def actions(self) -> str:
        return f"{self.prefix}.actions"

    @property
    def alerts(self) -> str:
        return f"{self.prefix}.alerts"

    @property
    def dead_letter(self) -> str:
        return f"{self.prefix}.dead-letter"

    @property
    def app_id(self) -> str:
        """The workers' consumer group (and the stem of their changelog topics' names)."""
        return f"{self.prefix}-worker"

    def changelog(self, table: str) -> str:
        return f"{self.app_id}-{table}-changelog"  # the names faust gave its tables' logs

    def specs(self, partitions: int) -> dict[str, dict]:
        """name -> (partitions, configs) as created when missing."""
        keyed = {"num_partitions": partitions}
        specs = {
            self.events: {**keyed, "configs": {"cleanup.policy": "delete",
                                               "retention.ms": str(7 * DAY_MS)}},
            self.actions: {**keyed, "configs": {"cleanup.policy": "delete",
                                                "retention.ms": str(30 * DAY_MS)}},
            # the last version of an alert_id is its state: compaction keeps it, and retention
            # drops alerts nobody has touched for 90 days
            self.alerts: {**keyed, "configs": {"cleanup.policy": "compact,delete",
                                               "retention.ms": str(90 * DAY_MS),
                                               "min.compaction.lag.ms": str(DAY_MS)}},
            self.dead_letter: {"num_partitions": 1,
                               "configs": {"cleanup.policy": "delete",
                                           "retention.ms": str(30 * DAY_MS)}},
        }
        for table in STATE_TABLES:
            specs[self.changelog(table)] = {**keyed, "configs": {"cleanup.policy": "compact"}}
        return specs


def create_topics(bootstrap: str, topics: Topics, partitions: int,
                  replication_factor: int = 1, timeout_s: float = 30.0) -> dict[str, int]:
    """Creates the missing topics; returns name -> partition count for all of them."""
    from kafka import KafkaAdminClient
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000))
    try:
        specs = topics.specs(partitions)
        existing = set(admin.list_topics())
        missing = {name: {**spec, "replication_factor": replication_factor}
                   for name, spec in specs.items() if name not in existing}
        if missing:
            result = admin.create_topics(missing, timeout_ms=int(timeout_s * 1000),
                                         raise_errors=False)
            for t in result["topics"]:
                code = t["error_code"]
                if code and code != TopicAlreadyExistsError.errno:  # another worker was first
                    raise TopicError(f"creating {t['name']}: error {code}: {t['error_message']}")
            admin.wait_for_topics(list(missing), timeout_ms=int(timeout_s * 1000))
        counts = partition_counts(admin, list(specs))
    finally:
        admin.close()
    if counts[topics.events] != counts[topics.actions]:
        raise TopicError(
            f"{topics.events} has {counts[topics.events]} partitions and {topics.actions} "
            f"{counts[topics.actions]}: actions must be co-partitioned with events")
    for table in STATE_TABLES:
        name = topics.changelog(table)
        if counts[name] != counts[topics.events]:
            raise TopicError(f"{name} has {counts[name]} partitions, {topics.events} "
                             f"{counts[topics.events]}: state must be co-partitioned with events")
    return counts


def partition_counts(admin, names: list[str]) -> dict[str, int]:
    return {t["name"]: len(t["partitions"]) for t in admin.describe_topics(names)}


def broker_answers(bootstrap: str, timeout_s: float = 3.0) -> bool:
    # kafka-python retries an unanswered bootstrap for about a minute before it gives up: an
    # open port is asked first, so a missing broker is known in well under a second.
    if not any(_port_open(server, timeout_s) for server in bootstrap.split(",")):
        return False
    from kafka import KafkaAdminClient

    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap,
                                 request_timeout_ms=int(timeout_s * 1000))
    except Exception:  # any failure to connect means no
        return False
    try:
        admin.list_topics()
        return True
    except Exception:
        return False
    finally:
        admin.close()


def _port_open(server: str, timeout_s: float) -> bool:
    host, _, port = server.strip().rpartition(":")
    try:
        with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)),
                                      timeout=min(timeout_s, 1.0)):
            return True
    except (OSError, ValueError):
        return False
