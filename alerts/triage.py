"""The officers' triage order and filters, as SQL over the store's `alerts` table.

What needs action comes first: alerts nobody has acknowledged yet that are escalated or
critical, then by severity, then the newest. The same order is the index `alerts_triage`
walks (alerts/store/schema.py creates it from these expressions, so the two cannot drift
apart), and the page applies it to rows that arrive live (web/list.js `triageKey`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from alerts.kinds import SEVERITIES as MILDEST_FIRST

HANDLING_STATES = ("new", "acknowledged", "resolved")
SEVERITIES = MILDEST_FIRST[::-1]

# 1 for "needs action now": unacknowledged and escalated or critical
URGENT = "(handling = 'new' AND (escalated = 1 OR severity = 'critical'))"
SEVERITY_RANK = ("(CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 "
                 "WHEN 'medium' THEN 2 ELSE 3 END)")
ORDER_BY = f"{URGENT} DESC, {SEVERITY_RANK}, opened_at DESC, alert_id"
INDEXES = f"""
CREATE INDEX IF NOT EXISTS alerts_triage ON alerts(drill, {URGENT} DESC, {SEVERITY_RANK},
  opened_at DESC, alert_id);
CREATE INDEX IF NOT EXISTS alerts_by_handling ON alerts(drill, handling);
CREATE INDEX IF NOT EXISTS alerts_by_person ON alerts(person_id, drill);
"""


@dataclass(frozen=True, slots=True)
class AlertQuery:
    """Which alerts a list shows. Scope first (`routed_to`: the current officer or anyone on
    the route is one of them; `of_offices`: the person's office is one of them; both None:
    everything), then the officer's own filters; None means "any"."""

    drill: bool = False
    routed_to: frozenset[str] | None = None
    of_offices: frozenset[str] | None = None
    handling: frozenset[str] | None = None
    assigned_to: str | None = None  # "mine": the alert's current officer
    offices: frozenset[str] | None = None
    types: frozenset[str] | None = None
    severities: frozenset[str] | None = None
    person_ids: frozenset[str] | None = None
    opened_from_ms: int | None = None
    opened_before_ms: int | None = None

    def where(self, *, with_handling: bool = True) -> tuple[str, list[Any]]:
        """The WHERE clause and its arguments. `with_handling=False` leaves the handling
        filter out, for the counts per handling state."""
        clauses: list[str] = ["drill = ?"]
        args: list[Any] = [int(self.drill)]
        scope = self._scope(args)
        if scope is not None:
            clauses.append(scope)
        filters = [("office_id", self.offices), ("type", self.types),
                   ("severity", self.severities), ("person_id", self.person_ids)]
        if with_handling:
            filters.append(("handling", self.handling))
        for column, values in filters:
            if values is not None:
                clauses.append(f"{column} IN ({_one_of(values, args)})" if values else "0")
        for clause, value in (("officer_id = ?", self.assigned_to),
                              ("opened_at >= ?", _int(self.opened_from_ms)),
                              ("opened_at < ?", _int(self.opened_before_ms))):
            if value is not None:
                clauses.append(clause)
                args.append(value)
        return " AND ".join(clauses), args

    def _scope(self, args: list[Any]) -> str | None:
        """Whose alerts: None when the query is not scoped."""
        if self.routed_to is None and self.of_offices is None:
            return None
        scope = []
        if self.of_offices:
            scope.append(f"office_id IN ({_one_of(self.of_offices, args)})")
        if self.routed_to:
            scope.append("alert_id IN (SELECT alert_id FROM alert_routes WHERE officer_id "
                         f"IN ({_one_of(self.routed_to, args)}))")
        return f"({' OR '.join(scope)})" if scope else "0"


def _one_of(values: frozenset[str], args: list[Any]) -> str:
    args.extend(sorted(values))
    return ",".join("?" * len(values))


def _int(value: int | None) -> int | None:
    return None if value is None else int(value)


@dataclass(frozen=True, slots=True)
class TriagePage:
    alerts: list[dict]  # each record carries `unread` for the reader
    total: int  # every alert the query matches, not only this page
    counts: dict[str, int]  # per handling state, the other filters applied
