"""The summary as data: what every renderer draws from, and what `--format json` writes."""

from __future__ import annotations

from pydantic import BaseModel

from alerts.fatigue import FatigueFigures


class AlertRow(BaseModel):
    """One alert as it stood at the summary's `as_of`."""

    alert_id: str
    person_id: str | None
    person_name: str | None
    office_id: str | None
    office_name: str | None = None  # from the bundle's offices
    type: str
    severity: str
    opened_ms: int
    opened_at: str
    condition: str
    handling: str
    escalated: bool
    officer_id: str | None  # who holds it at as_of
    officer_name: str | None
    disposition: str | None
    age_s: float  # as_of - opened
    ack_s: float | None  # time to acknowledge, when known
    ack_basis: str | None  # written | resolution | unknown; None: not acknowledged


class Handover(BaseModel):
    open: list[AlertRow]
    escalated: list[AlertRow]
    unacknowledged: list[AlertRow]


class OfficeCount(BaseModel):
    office_id: str | None  # None: feed_down (no person) or a person missing from the bundle
    office_name: str | None = None
    count: int


class AckBucket(BaseModel):
    lo_s: float
    hi_s: float | None  # None: open-ended
    count: int


class AckFigures(BaseModel):
    n: int
    median_s: float | None
    p90_s: float | None


class AckStats(BaseModel):
    timed: AckFigures
    unknown: int  # acknowledged by as_of, but no record says when
    pending: int  # still "new" at as_of
    buckets: list[AckBucket]
    by_severity: dict[str, AckFigures]


class RepeatPerson(BaseModel):
    person_id: str
    person_name: str | None
    office_id: str | None
    office_name: str | None = None
    count: int
    by_type: dict[str, int]


class OfficerLoad(BaseModel):
    officer_id: str
    name: str | None
    role: str | None
    office_id: str | None
    office_name: str | None = None
    routed: int
    acknowledged: int
    resolved: int
    escalated_to: int


class DispositionShare(BaseModel):
    disposition: str
    count: int
    share: float  # of resolved_total; 0 when nothing was resolved


class HourCount(BaseModel):
    start_ms: int
    start: str  # local RFC 3339
    count: int


class Summary(BaseModel):
    timezone: str
    start_ms: int
    end_ms: int
    as_of_ms: int
    start: str
    end: str
    as_of: str
    office: str | None
    office_name: str | None = None
    visible_offices: list[str] | None
    drill_alerts_left_out: int
    opened_total: int
    by_type: dict[str, int]
    by_severity: dict[str, int]
    by_office: list[OfficeCount]
    escalated_total: int
    handover: Handover
    ack: AckStats
    repeat_persons: list[RepeatPerson]
    officer_load: list[OfficerLoad]
    resolved_total: int
    dispositions: list[DispositionShare]
    fatigue: FatigueFigures  # false-alarm shares of the period's resolved alerts
    per_hour: list[HourCount]
    per_hour_mean: float
    alerts: list[AlertRow]
