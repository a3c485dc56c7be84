"""Who an alert goes to (SPEC §4 Routing): the person's officer while on shift, otherwise the
office's duty officer; unacknowledged past escalate_after_s[severity], the supervisor."""

from __future__ import annotations

import numpy as np

from alerts.timefmt import rfc3339
from config.model import Bundle, Window
from geofences.schedule import Schedule


class Router:
    def __init__(self, bundle: Bundle):
        tz = bundle.settings.timezone
        self.tz = tz
        self.officers = {o.officer_id: o for o in bundle.officers}
        windows: dict[str, list[Window]] = {}
        for s in bundle.shifts:
            windows.setdefault(s.officer_id, []).append(Window(s.days, s.start_min, s.end_min))
        # An officer without any shift listed is taken to be always on duty: a small office
        # may not keep a rota in the bundle.
        # officers on the same rota share one Schedule, so its expansion is paid once
        shared: dict[tuple, Schedule] = {}
        self.shifts: dict[str, Schedule] = {}
        for oid, w in windows.items():
            rota = tuple(w)
            if rota not in shared:
                shared[rota] = Schedule(rota, tz)
            self.shifts[oid] = shared[rota]
        self.duty_by_office: dict[str, list[str]] = {}
        self.supervisors_by_office: dict[str, list[str]] = {}
        for o in sorted(bundle.officers, key=lambda o: o.officer_id):
            if o.role == "duty":
                self.duty_by_office.setdefault(o.office_id, []).append(o.officer_id)
            elif o.role == "supervisor":
                self.supervisors_by_office.setdefault(o.office_id, []).append(o.officer_id)
        self.operators = sorted(o.officer_id for o in bundle.officers if o.role == "admin")
        esc = bundle.settings.escalate_after_s
        self.escalate_after_ms = {
            sev: round(getattr(esc, sev) * 1000) for sev in ("low", "medium", "high", "critical")
        }

    def on_shift(self, officer_id: str, at_ms: int) -> bool:
        sched = self.shifts.get(officer_id)
        if sched is None:
            return officer_id in self.officers or not self.officers
        return bool(sched.active_at(np.array([at_ms], dtype=np.int64))[0])

    def first_route(self, officer_id: str | None, office_id: str | None, at_ms: int) -> dict:
        if officer_id and self.on_shift(officer_id, at_ms):
            return self._step(officer_id, "officer", "on_shift", at_ms)
        duty = self.duty_by_office.get(office_id or "", [])
        on = [d for d in duty if self.on_shift(d, at_ms)] or duty
        if on:
            return self._step(on[0], "duty", "officer_off_shift", at_ms)
        # nobody on duty listed for the office: the officer still gets it rather than nobody
        return self._step(officer_id, "officer", "no_duty_officer", at_ms)

    def escalation_target(self, officer_id: str | None, office_id: str | None) -> str | None:
        officer = self.officers.get(officer_id or "")
        if officer is not None and officer.supervisor_id:
            return officer.supervisor_id
        sups = self.supervisors_by_office.get(office_id or "", [])
        if sups:
            return sups[0]
        any_sup = sorted(oid for oid, o in self.officers.items() if o.role == "supervisor")
        return any_sup[0] if any_sup else (self.operators[0] if self.operators else None)

    def escalation_step(self, officer_id, office_id, at_ms: int) -> dict | None:
        target = self.escalation_target(officer_id, office_id)
        return self._step(target, "supervisor", "not_acknowledged", at_ms) if target else None

    def operator_route(self, at_ms: int) -> dict:
        """feed_down goes to the operators (admins), or failing that a supervisor."""
        target = self.operators[0] if self.operators else self.escalation_target(None, None)
        return self._step(target, "operator", "feed_down", at_ms)

    def _step(self, officer_id, role, reason, at_ms) -> dict:
        return {"officer_id": officer_id, "role": role, "reason": reason,
                "at": rfc3339(at_ms, self.tz)}
