"""Who hears of alert versions new to the store: the metrics, the notifications (when a
`--notify` file is given) and the officers' page streams. Each version is announced once,
after its commit; at start the metrics and the notifier learn what the store already holds,
so a restart neither counts nor notifies those again."""

from __future__ import annotations

from typing import TYPE_CHECKING

from alerts.records import AlertUpdate
from stream.metrics import LookoutMetrics
from stream.subscriptions import Subscribers, Subscription

if TYPE_CHECKING:
    from alerts.notify import Notifier
    from config.model import Bundle


class Announcer:
    def __init__(self, metrics: LookoutMetrics, notify_config=None, bundle: Bundle | None = None):
        self.metrics = metrics
        self.subscribers = Subscribers()
        self.notifier: Notifier | None = None
        if notify_config is not None:
            from alerts.notify import Notifier

            self.notifier = Notifier.from_file(notify_config, bundle=bundle)

    def seed(self, known: list[dict]) -> None:
        """The latest version of every alert the store holds: known, not new."""
        self.metrics.seed_alerts(known)
        if self.notifier is not None:
            self.notifier.prime(known)

    def announce(self, typed: list[AlertUpdate], records: list[dict], now_ms: int) -> None:
        """Versions just committed, new to the store: typed for the metrics and the notifier,
        as SPEC §4 records for the page's streams."""
        self.metrics.observe_updates(typed, now_ms)
        if self.notifier is not None:
            for u in typed:
                self.notifier.offer(u)
        self.subscribers.publish(records)

    def subscribe(self, maxsize: int = 10_000) -> Subscription:
        """Every version announced from now on (a thread-safe queue, for server-sent events)."""
        return self.subscribers.subscribe(maxsize)

    def set_bundle(self, bundle: Bundle) -> None:
        """Reference data changed: notifications name the new officers and offices."""
        if self.notifier is not None:
            self.notifier.set_bundle(bundle)

    def close(self) -> None:
        if self.notifier is not None:
            self.notifier.close()
