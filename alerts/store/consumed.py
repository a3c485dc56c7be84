"""The Kafka officer store's read position: for each partition of the alerts topic, the next
offset to read, written in the same transaction as the alert versions read up to it, so a
restart resumes exactly after what is stored."""

from __future__ import annotations

from collections.abc import Iterable

from alerts.store.alerts import Alerts
from alerts.store.commit import OfficeOf
from alerts.store.db import Repository
from alerts.timefmt import wall_ms


class ConsumedOffsets(Repository):

    def append_consumed(self, updates: Iterable[dict], office_of: OfficeOf, topic: str,
                        next_offsets: dict[int, int], written_at: int | None = None) -> list[dict]:
        """Alert updates read from `topic` and, for each partition read, the next offset to
        read, in one transaction. Returns the updates that were new (a version sent twice is
        stored once)."""
        written = wall_ms() if written_at is None else written_at
        with self.db.tx() as c:
            new = Alerts.add(c, updates, office_of, written, written)
            c.executemany("INSERT INTO consumed VALUES (?,?,?) ON CONFLICT(topic, partition) "
                          "DO UPDATE SET next_offset = excluded.next_offset",
                          [(topic, p, o) for p, o in sorted(next_offsets.items())])
        return new

    def consumed_offsets(self, topic: str) -> dict[int, int]:
        """partition -> the next offset to read, for the partitions of `topic` read so far."""
        rows = self.db.reader().execute(
            "SELECT partition, next_offset FROM consumed WHERE topic = ?", (topic,)).fetchall()
        return dict(rows)
