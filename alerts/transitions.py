"""What a new version of an alert changed, against the last version this consumer saw.

Every consumer of alert updates (metrics, notifications, drill scoring) asks the same question
of each version: is it new to me, and what happened since the one before (opened, cleared,
reopened, escalated, acknowledged, resolved, routed)? Versions arrive more than once (a restart
re-runs a step, Kafka redelivers, a second listener), and a consumer that starts late first sees
an alert at some version > 1; the tracker answers both the same way for everyone.

    tracker = TransitionTracker(capacity=200_000)
    t = tracker.observe(update)      # None: a version already seen
    if t is not None and t.escalated: ...

It remembers a few fields per alert in a bounded LRU; an alert pushed out is handed to
`on_forget`, so a consumer summing over what it remembers (the open-alert gauges) stays equal
to its memory.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from alerts.records import AlertUpdate, RouteStep


class Seen(NamedTuple):
    """What the tracker keeps of an alert's latest version."""

    version: int
    type: str
    severity: str
    drill: bool
    active: bool
    handling: str
    escalated: bool
    reopen_count: int
    routed: int  # route steps so far

    @classmethod
    def of(cls, u: AlertUpdate) -> Seen:
        return cls(u.version, u.type, u.severity, u.drill, u.active, u.handling, u.escalated,
                   u.reopen_count, len(u.route))

    @classmethod
    def before_opening(cls, u: AlertUpdate) -> Seen:
        """The nothing a version 1 follows: active, new, not escalated, not routed."""
        return cls(0, u.type, u.severity, u.drill, True, "new", False, 0, 0)


@dataclass(frozen=True, slots=True)
class Transition:
    """One version new to the consumer. `before` is the version it last saw, None when it saw
    none; then only an opening (version 1) tells what changed, anything later is `unseen`."""

    update: AlertUpdate
    before: Seen | None
    after: Seen

    @property
    def opened(self) -> bool:
        return self.after.version == 1

    @property
    def _base(self) -> Seen | None:
        if self.before is not None:
            return self.before
        return Seen.before_opening(self.update) if self.opened else None

    @property
    def unseen(self) -> bool:
        """First seen after its opening (the consumer started late): its history is unknown."""
        return self._base is None

    @property
    def cleared(self) -> bool:
        b = self._base
        return b is not None and b.active and not self.after.active

    @property
    def reopened(self) -> int:
        b = self._base
        return max(0, self.after.reopen_count - b.reopen_count) if b is not None else 0

    @property
    def escalated(self) -> bool:
        b = self._base
        return b is not None and self.after.escalated and not b.escalated

    @property
    def handled(self) -> bool:
        """Left "new": acknowledged, or resolved without an acknowledgement."""
        b = self._base
        return b is not None and b.handling == "new" and self.after.handling != "new"

    @property
    def acknowledged(self) -> bool:
        return self.handled and self.after.handling == "acknowledged"

    @property
    def resolved(self) -> bool:
        b = self._base
        return b is not None and b.handling != "resolved" and self.after.handling == "resolved"

    @property
    def new_route_steps(self) -> tuple[RouteStep, ...]:
        """The steps this version added: one routing decision (or none)."""
        b = self._base
        return self.update.route[b.routed:] if b is not None else ()


class TransitionTracker:
    """Not thread-safe: each consumer calls it under its own lock."""

    def __init__(self, capacity: int = 200_000,
                 on_forget: Callable[[Seen], None] | None = None):
        self.capacity = capacity
        self._seen: OrderedDict[str, Seen] = OrderedDict()
        self._on_forget = on_forget

    def observe(self, u: AlertUpdate) -> Transition | None:
        """The transition to `u`, remembered; None when this version (or a later one) was seen."""
        before = self._seen.get(u.alert_id)
        if before is not None and u.version <= before.version:
            return None
        after = Seen.of(u)
        self._seen[u.alert_id] = after
        self._seen.move_to_end(u.alert_id)
        while len(self._seen) > self.capacity:
            _, old = self._seen.popitem(last=False)
            if self._on_forget is not None:
                self._on_forget(old)
        return Transition(u, before, after)

    def forget(self, alert_id: str) -> None:
        """Drop an alert nothing more can happen to (no `on_forget`: the caller knows)."""
        self._seen.pop(alert_id, None)

    def get(self, alert_id: str) -> Seen | None:
        return self._seen.get(alert_id)

    def __len__(self) -> int:
        return len(self._seen)

    def values(self) -> list[Seen]:
        return list(self._seen.values())
