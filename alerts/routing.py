"""Who an alert goes to (SPEC §4 Routing), at the engine's clock in the bundle's time zone.

A new alert goes to someone on shift: the person's officer; else a duty officer of the
person's office; else, office by office up the `parent_id` chain (the person's office first,
up to the county's 社区矫正指挥中心), a duty officer, any officer, a supervisor. Escalation
goes to a supervisor on shift: the person's officer's `supervisor_id`, then the supervisors up
the same chain. Only when nobody in the chain is on shift does an alert go to someone off
shift, with reason "unstaffed": the person's officer and the office's duty officers (for an
escalation, the supervisor it would normally reach).

The candidates of each office are worked out once per bundle; a routing decision is then one
"who is on shift now" vector (one `searchsorted` per distinct rota) and a first-true lookup.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alerts.incidents import RouteStep
from config.model import Bundle, Window
from config.offices import Offices
from geofences.schedule import Schedule

ON_SHIFT = "on_shift"  # the person's officer
OFFICER_OFF_SHIFT = "officer_off_shift"  # someone else of the person's office
OFFICE_OFF_SHIFT = "office_off_shift"  # nobody of the person's office: an office up the chain
NOT_ACKNOWLEDGED = "not_acknowledged"  # an escalation to a supervisor on shift
UNSTAFFED = "unstaffed"  # nobody up the chain is on shift (无人值班)
FEED_DOWN = "feed_down"

_FOREVER = np.iinfo(np.int64).max
_STRETCHES = 4
# The order in which an office's staff are tried once the person's officer is off shift.
_FIRST_ROLES = ("duty", "officer", "supervisor")


@dataclass(frozen=True, slots=True)
class _Plan:
    """Candidates in the order they are tried: officer index, role, reason."""

    idx: np.ndarray
    roles: tuple[str, ...]
    reasons: tuple[str, ...]

    def first_on(self, on: np.ndarray) -> int | None:
        if not self.idx.size:
            return None
        hits = on[self.idx]
        i = int(np.argmax(hits))
        return i if hits[i] else None


class Router:
    def __init__(self, bundle: Bundle):
        tz = bundle.settings.timezone
        self.tz = tz
        self.offices = Offices(bundle)
        self.officers = {o.officer_id: o for o in bundle.officers}
        self.ids = sorted(self.officers)
        self.pos = {oid: i for i, oid in enumerate(self.ids)}
        windows: dict[str, list[Window]] = {}
        for s in bundle.shifts:
            windows.setdefault(s.officer_id, []).append(Window(s.days, s.start_min, s.end_min))
        # An officer without any shift listed is taken to be always on duty: a small office
        # may not keep a rota in the bundle. Officers on the same rota share one Schedule, so
        # its expansion and each query are paid once.
        rotas: dict[tuple, int] = {}
        self.rotas: list[Schedule] = []
        rota_of = np.full(len(self.ids), -1, dtype=np.int64)
        for oid, w in windows.items():
            key = tuple(w)
            if key not in rotas:
                rotas[key] = len(self.rotas)
                self.rotas.append(Schedule(key, tz))
            rota_of[self.pos[oid]] = rotas[key]
        self.rota_of = rota_of
        self.always = rota_of < 0
        self._stretches: list[tuple[int, int, np.ndarray]] = []

        self.by_office: dict[tuple[str, str], list[str]] = {}
        for oid in self.ids:
            o = self.officers[oid]
            self.by_office.setdefault((o.office_id, o.role), []).append(oid)
        self.operators = self.by_office_all("admin")
        self.supervisors = self.by_office_all("supervisor")
        self._first_plans: dict[str, _Plan] = {}
        self._escalation_plans: dict[tuple[str, str | None], _Plan] = {}
        esc = bundle.settings.escalate_after_s
        self.escalate_after_ms = {
            sev: round(getattr(esc, sev) * 1000) for sev in ("low", "medium", "high", "critical")
        }

    def by_office_all(self, role: str) -> list[str]:
        return [oid for oid in self.ids if self.officers[oid].role == role]

    # -- who is on shift -------------------------------------------------------------------
    def on_shift_vector(self, at_ms: int) -> np.ndarray:
        """on[i]: officer self.ids[i] is on shift at at_ms. Who is on shift changes only at
        a shift's start or end, so the answer is kept for the stretch until the next one."""
        for lo, hi, on in self._stretches:
            if lo <= at_ms < hi:
                return on
        t = np.array([at_ms], dtype=np.int64)
        active = np.array([bool(r.active_at(t)[0]) for r in self.rotas] + [True], dtype=bool)
        on = active[self.rota_of]  # index -1 (no rota) reads the trailing True
        changes = [r.next_transition(at_ms) for r in self.rotas]
        hi = min((c[0] for c in changes if c is not None), default=_FOREVER)
        # alerts and escalations interleave around a few instants: a handful of stretches
        self._stretches = [(at_ms, hi, on), *self._stretches[:_STRETCHES - 1]]
        return on

    def on_shift(self, officer_id: str, at_ms: int) -> bool:
        i = self.pos.get(officer_id)
        if i is None:  # not in officers.json: on shift only where nobody is listed at all
            return not self.officers
        return bool(self.on_shift_vector(at_ms)[i])

    # -- plans -----------------------------------------------------------------------------
    def _plan(self, entries: list[tuple[str, str, str]]) -> _Plan:
        kept, seen = [], set()
        for e in entries:  # an officer is tried once, at their first place in the order
            if e[0] in self.pos and e[0] not in seen:
                seen.add(e[0])
                kept.append(e)
        return _Plan(np.array([self.pos[e[0]] for e in kept], dtype=np.int64),
                     tuple(e[1] for e in kept), tuple(e[2] for e in kept))

    def first_plan(self, office_id: str) -> _Plan:
        plan = self._first_plans.get(office_id)
        if plan is None:
            entries = []
            for depth, office in enumerate(self.offices.chain(office_id)):
                reason = OFFICER_OFF_SHIFT if depth == 0 else OFFICE_OFF_SHIFT
                for role in _FIRST_ROLES:
                    entries += [(oid, role, reason)
                                for oid in self.by_office.get((office, role), ())]
            plan = self._first_plans[office_id] = self._plan(entries)
        return plan

    def escalation_plan(self, office_id: str, supervisor_id: str | None) -> _Plan:
        key = (office_id, supervisor_id)
        plan = self._escalation_plans.get(key)
        if plan is None:
            entries = [(supervisor_id, "supervisor", NOT_ACKNOWLEDGED)] if supervisor_id else []
            for office in self.offices.chain(office_id):
                entries += [(oid, "supervisor", NOT_ACKNOWLEDGED)
                            for oid in self.by_office.get((office, "supervisor"), ())]
            if not entries:  # no supervisor anywhere up the chain: any the bundle has
                entries = [(oid, "supervisor", NOT_ACKNOWLEDGED) for oid in self.supervisors]
            plan = self._escalation_plans[key] = self._plan(entries)
        return plan

    # -- decisions -------------------------------------------------------------------------
    def first_route(self, officer_id: str | None, office_id: str | None, at_ms: int) -> list[RouteStep]:
        """The route steps of a new alert: one, or several when nobody is on shift."""
        if officer_id and self.on_shift(officer_id, at_ms):
            return [self._step(officer_id, "officer", ON_SHIFT, at_ms)]
        office = office_id or ""
        plan = self.first_plan(office)
        hit = plan.first_on(self.on_shift_vector(at_ms))
        if hit is not None:
            return [self._step(self.ids[plan.idx[hit]], plan.roles[hit], plan.reasons[hit], at_ms)]
        # nobody anywhere up the chain: those who answer for the person hear of it first
        steps = [self._step(officer_id, "officer", UNSTAFFED, at_ms)] if officer_id else []
        steps += [self._step(d, "duty", UNSTAFFED, at_ms)
                  for d in self.by_office.get((office, "duty"), ())]
        return steps or [self._step(officer_id, "officer", UNSTAFFED, at_ms)]

    def escalation_route(self, officer_id: str | None, office_id: str | None,
                         at_ms: int) -> list[RouteStep]:
        """The step of an escalation: a supervisor on shift, else the one it would normally
        reach, marked unstaffed; [] when the bundle has no supervisor or admin at all."""
        officer = self.officers.get(officer_id or "")
        supervisor_id = officer.supervisor_id if officer is not None else None
        plan = self.escalation_plan(office_id or "", supervisor_id)
        hit = plan.first_on(self.on_shift_vector(at_ms))
        if hit is not None:
            return [self._step(self.ids[plan.idx[hit]], "supervisor", NOT_ACKNOWLEDGED, at_ms)]
        fallback = self.ids[plan.idx[0]] if plan.idx.size else _first(self.operators)
        return [self._step(fallback, "supervisor", UNSTAFFED, at_ms)] if fallback else []

    def operator_route(self, at_ms: int) -> RouteStep:
        """feed_down goes to the operators (admins), or failing that a supervisor."""
        target = self.operators[0] if self.operators else _first(self.supervisors)
        return self._step(target, "operator", FEED_DOWN, at_ms)

    def _step(self, officer_id: str | None, role: str, reason: str, at_ms: int) -> RouteStep:
        return RouteStep(officer_id, role, reason, at_ms)


def _first(ids: list[str]) -> str | None:
    return ids[0] if ids else None
