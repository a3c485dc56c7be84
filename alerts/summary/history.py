"""An alert's versions, folded: what was known at a moment, and when it was first handled.

When was a version written? The store knows (its write time), and passes it as
`version_times[(alert_id, version)]`. SPEC §4 records do not carry it, so without that we
take the latest instant the record itself names (opened_at, last_event_at, cleared_at, the
routing steps' `at`, the resolution's `at`): the engine writes a version at the moment of the
change that made it, and that change stamps one of those fields. Acknowledgement is the one
change that stamps nothing, so for an acknowledgement version this is only a lower bound.

Time to acknowledge runs from when the alert reached an officer to the first version whose
`handling` left "new" (签收, or 处置 straight away). Both ends are taken on one clock:
- the store's write time of that version, if given: against the write time of version 1, or
  `detected_at` (the runtime's wall clock at version 1) — basis "written";
- else, when that version is the resolution: the officer's own `resolution.at`, against the
  first routing step's `at` (the engine clock when the alert was routed) — basis "resolution";
- else no record says when the acknowledgement happened — basis "unknown". Such alerts are
  counted but kept out of the median and p90 rather than guessed: the nearest bounds (the
  escalation step before, a resolution after) can be hours apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from alerts.timefmt import ms_or_none, parse_ts_ms

VersionTimes = Mapping[tuple[str, int], int]


def named_instants(rec: dict) -> list[int]:
    out = [ms_or_none(rec.get(k)) for k in ("opened_at", "last_event_at", "cleared_at")]
    out += [ms_or_none(step.get("at")) for step in rec.get("route") or ()]
    res = rec.get("resolution")
    if res:
        out.append(ms_or_none(res.get("at")))
    return [t for t in out if t is not None]


@dataclass(slots=True)
class Timeline:
    alert_id: str
    versions: list[dict]  # ascending version, one record each
    times: list[int]  # when each version was written (see the module docstring)

    @property
    def first(self) -> dict:
        return self.versions[0]

    def known_at(self, as_of: int) -> list[dict]:
        """The versions written before `as_of`; at least version 1, as the alert existed."""
        last = 0
        for i, t in enumerate(self.times):
            if t < as_of:
                last = i
        return self.versions[: last + 1]


def timelines(updates: Iterable[dict], version_times: VersionTimes | None) -> list[Timeline]:
    vt = version_times or {}
    by_id: dict[str, dict[int, dict]] = {}
    for rec in updates:
        # a version stored twice (a re-run after a restart) is the same version
        by_id.setdefault(rec["alert_id"], {}).setdefault(int(rec["version"]), rec)
    out = []
    for alert_id, versions in by_id.items():
        recs = [versions[v] for v in sorted(versions)]
        times = [vt.get((alert_id, int(r["version"])), max(named_instants(r))) for r in recs]
        out.append(Timeline(alert_id, recs, times))
    return out


@dataclass(slots=True)
class FirstHandling:
    record: dict  # the first version whose handling is not "new"
    seconds: float | None
    basis: str  # written | resolution | unknown
    by: str | None  # who acted; see `first_handling`


def first_handling(tl: Timeline, known: list[dict], version_times: VersionTimes | None,
                   ack_by: Mapping[str, str] | None) -> FirstHandling | None:
    """Who acted is `ack_by[alert_id]` when the caller knows it (the store's action log),
    the resolver when the first action was a resolution, and otherwise whoever held the alert
    in that version: SPEC §4 records do not name who acknowledged."""
    rec = next((r for r in known if r["handling"] != "new"), None)
    if rec is None:
        return None
    vt = version_times or {}
    first = known[0]
    res = rec.get("resolution") if rec["handling"] == "resolved" else None
    written = vt.get((tl.alert_id, int(rec["version"])))
    seconds, basis = None, "unknown"
    if written is not None:
        start = vt.get((tl.alert_id, int(first["version"])), ms_or_none(first.get("detected_at")))
        if start is not None:
            seconds, basis = (written - start) / 1000, "written"
    if basis == "unknown" and res and res.get("at") is not None:
        seconds, basis = (parse_ts_ms(res["at"]) - routed_at(first)) / 1000, "resolution"
    if seconds is not None:
        seconds = max(0.0, seconds)  # two clocks can disagree by a little; never report < 0
    by = (ack_by or {}).get(tl.alert_id) or (res or {}).get("by") or rec.get("officer_id")
    return FirstHandling(rec, seconds, basis, by)


def routed_at(first: dict) -> int:
    route = first.get("route") or ()
    if route and route[0].get("at") is not None:
        return parse_ts_ms(route[0]["at"])
    return parse_ts_ms(first["opened_at"])
