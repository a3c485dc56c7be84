"""What one engine step hands the store to keep, as one typed record (`StepCommit`), and the
row types it carries. Rows are NamedTuples: they go to SQLite as they are."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from alerts.store.dead_letters import DeadLetterLike

OfficeOf = Callable[[str | None], str | None]
BundleTexts = dict[str, str | None]


class Fix(NamedTuple):
    """An accepted fix: for maps and the person view."""
    person_id: str
    drill: bool
    ts: int
    lat: float | None
    lon: float | None
    accuracy_m: float | None


class Status(NamedTuple):
    person_id: str
    drill: bool
    ts: int
    event: str


class Action(NamedTuple):
    """An officer's action as the action log keeps it; `seq` is the inbox row it came in."""
    seq: int | None
    received_at: int
    alert_id: str | None
    action: str | None
    by: str | None
    outcome: str
    detail: str | None
    record: str | None


class Audit(NamedTuple):
    """One audit line; `before` and `after` are JSON-able values, stored as JSON."""
    at: int
    who: str | None
    what: str
    target: str | None
    before: Any
    after: Any


class Released(NamedTuple):
    """A person taken out of the bundle (解除矫正): their last bundle record, as JSON text."""
    person_id: str
    record: str
    released_at: int
    by: str | None


@dataclass(slots=True)
class StepCommit:
    """Everything one engine step produced, kept in one transaction.

    `seq`: the last inbox row the step applied. `step_ms` marks that row with the wall clock
    the step ran at, so a restart re-runs the same steps with the same `now_ms`; it is also
    the versions' `written_at`. `snapshot`: EngineState bytes after the step; the inbox rows
    it covers are deleted. `enrolled`: ids back in the bundle (no longer released).
    `good_bundle`: the texts of a bundle the step accepted, kept to start on should the
    files on disk not load."""

    updates: Sequence[dict]
    office_of: OfficeOf
    seq: int
    step_ms: int | None = None
    snapshot: bytes | None = None
    fixes: Sequence[Fix] = ()
    statuses: Sequence[Status] = ()
    actions: Sequence[Action] = ()
    dead_letters: Sequence[DeadLetterLike] = ()
    audits: Sequence[Audit] = ()
    released: Sequence[Released] = ()
    enrolled: Sequence[str] = ()
    good_bundle: BundleTexts | None = field(default=None)
