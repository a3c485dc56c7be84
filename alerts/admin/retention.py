"""Retention of personal data (个人信息保护法): where a person was, and raw rejected records,
are kept `track_retention_days` (default 180) and no longer.

Purged: the `fixes` and `statuses` tables (by event time) and `dead_letters` (by the time
they were received). Alerts stay: they are case records, and what an officer did about them
must remain answerable. Every purge is written to the audit log with its cutoff and counts,
so that "was it deleted, and when" has an answer too.
"""

from __future__ import annotations

from alerts.store import Store
from alerts.timefmt import rfc3339
from config.settings import Settings

DAY_MS = 86_400_000


def cutoff_ms(settings: Settings, now_ms: int) -> int:
    return now_ms - round(settings.track_retention_days * DAY_MS)


def purge(store: Store, settings: Settings, now_ms: int, who: str | None) -> dict:
    """Delete what is older than the retention setting; returns (and audits) what went."""
    cutoff = cutoff_ms(settings, now_ms)
    rows = store.tracks.purge_tracks(cutoff)
    rows["dead_letters"] = store.dead_letters.purge_dead_letters(cutoff)
    result = {"cutoff_ms": cutoff, "cutoff": rfc3339(cutoff, settings.timezone),
              "retention_days": settings.track_retention_days, "rows": rows}
    store.audits.audit(who, "purge", ",".join(rows), None, result, now_ms)
    return result
