"""A hand-written shift: alert update records as SPEC §4 lays them out, counted by hand.

Day 2026-11-16 (Asia/Shanghai). The period is 08:00–16:00. Offices: east (P1 孙立, P2 周敏;
officer o-e1, duty o-e-duty) and west (P3 吴刚; officer o-w1); the supervisor `sup` and the
operator `ops` sit at hq.

  A1  P1 zone_exit      high     08:10  ack (store wrote v1 08:11:00, v2 08:15:00) → cleared
                                        08:40 → resolved violation_confirmed by o-e1 09:00
  A2  P1 zone_exit      high     08:50  routed 08:51 → resolved false_alarm by o-e1 08:57
                                        (no ack first) → cleared 09:10
  A3  P2 signal_lost    high     10:00  escalated to sup 10:15 → acknowledged (no write time)
  A4  P3 zone_enter     critical 11:00  escalated to sup 11:05; nobody acknowledged
  A5  P3 tamper         critical 12:00  detected 12:00:30 (wall); ack written 12:02:30 →
                                        resolved false_alarm by o-w1 12:30 (tamper: cleared too)
  A6  P1 zone_exit      DRILL    13:00  left out of every figure
  A7  -- feed_down      critical 14:00  to ops → cleared 14:10; never acknowledged
  A8  P2 low_battery    low      07:00  (before the period) still active and new
  A9  P3 location_jump  medium   15:30  ack written 16:30: after the period, so not known
  A10 P2 zone_exit      high     16:00  opens at the end instant: outside [08:00, 16:00)
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from config.model import Bundle, OfficerSpec, PersonSpec
from config.settings import Settings

TZ = ZoneInfo("Asia/Shanghai")
DAY = "2026-11-16"


def at(hhmm: str) -> str:
    """Local time of the day as the engine writes it (RFC 3339, +08:00)."""
    return datetime.fromisoformat(f"{DAY}T{hhmm}").replace(tzinfo=TZ).isoformat(timespec="milliseconds")


def ms(hhmm: str) -> int:
    return int(datetime.fromisoformat(f"{DAY}T{hhmm}").replace(tzinfo=TZ).timestamp() * 1000)


START, END = ms("08:00"), ms("16:00")

BUNDLE = Bundle(
    path=None,
    settings=Settings(),
    persons=[
        PersonSpec("P1", "孙立", "east", "o-e1"),
        PersonSpec("P2", "周敏", "east", "o-e1"),
        PersonSpec("P3", "吴刚", "west", "o-w1"),
    ],
    officers=[
        OfficerSpec("o-e1", "钱东", "east", "officer", "sup"),
        OfficerSpec("o-e-duty", "赵值", "east", "duty", "sup"),
        OfficerSpec("o-w1", "郑西", "west", "officer", "sup"),
        OfficerSpec("sup", "冯长", "hq", "supervisor"),
        OfficerSpec("ops", "陈运", "hq", "admin"),
    ],
)


def step(officer_id: str, role: str, reason: str, hhmm: str) -> dict:
    return {"officer_id": officer_id, "role": role, "reason": reason, "at": at(hhmm)}


def first(alert_id, person_id, type_, severity, opened, routed_to, *, zone_id=None, drill=False,
          detected=None, role="officer", reason="on_shift", routed=None) -> dict:
    """Version 1, as the engine emits a new alert."""
    return {
        "alert_id": alert_id, "version": 1, "person_id": person_id, "type": type_,
        "zone_id": zone_id, "severity": severity, "condition": "active", "handling": "new",
        "opened_at": at(opened), "last_event_at": at(routed or opened), "cleared_at": None,
        "event_count": 1, "reopen_count": 0,
        # wall clock in UTC, as records.py writes it
        "detected_at": detected or datetime.fromisoformat(at(routed or opened)).astimezone(ZoneInfo("UTC"))
        .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "location": None, "officer_id": routed_to,
        "route": [step(routed_to, role, reason, routed or opened)],
        "escalated": False, "drill": drill, "resolution": None,
        "message": {"zh": "", "en": ""},
    }


def then(prev: dict, **changes) -> dict:
    """The next version: the previous record with what changed."""
    return {**prev, **changes, "version": prev["version"] + 1}


def resolution(disposition: str, by: str, hhmm: str) -> dict:
    return {"disposition": disposition, "note": "", "by": by, "at": at(hhmm)}


def records() -> list[dict]:
    a1 = first("A1", "P1", "zone_exit", "high", "08:10", "o-e1", zone_id="home", routed="08:11")
    a1_2 = then(a1, handling="acknowledged")
    a1_3 = then(a1_2, condition="cleared", cleared_at=at("08:40"))
    a1_4 = then(a1_3, handling="resolved", resolution=resolution("violation_confirmed", "o-e1", "09:00"))

    a2 = first("A2", "P1", "zone_exit", "high", "08:50", "o-e1", zone_id="home", routed="08:51")
    a2_2 = then(a2, handling="resolved", resolution=resolution("false_alarm", "o-e1", "08:57"))
    a2_3 = then(a2_2, condition="cleared", cleared_at=at("09:10"))

    a3 = first("A3", "P2", "signal_lost", "high", "10:00", "o-e1")
    a3_2 = then(a3, escalated=True, officer_id="sup",
                route=a3["route"] + [step("sup", "supervisor", "not_acknowledged", "10:15")])
    a3_3 = then(a3_2, handling="acknowledged")

    a4 = first("A4", "P3", "zone_enter", "critical", "11:00", "o-w1", zone_id="bar")
    a4_2 = then(a4, escalated=True, officer_id="sup",
                route=a4["route"] + [step("sup", "supervisor", "not_acknowledged", "11:05")])

    a5 = first("A5", "P3", "tamper", "critical", "12:00", "o-w1", detected="2026-11-16T04:00:30.000Z")
    a5_2 = then(a5, handling="acknowledged")
    a5_3 = then(a5_2, handling="resolved", condition="cleared", cleared_at=at("12:30"),
                resolution=resolution("false_alarm", "o-w1", "12:30"))

    a6 = first("A6", "P1", "zone_exit", "high", "13:00", "o-e1", zone_id="home", drill=True)

    a7 = first("A7", None, "feed_down", "critical", "14:00", "ops", role="operator",
               reason="feed_down")
    a7_2 = then(a7, condition="cleared", cleared_at=at("14:10"))

    a8 = first("A8", "P2", "low_battery", "low", "07:00", "o-e-duty", role="duty",
               reason="officer_off_shift")

    a9 = first("A9", "P3", "location_jump", "medium", "15:30", "o-w1")
    a9_2 = then(a9, handling="acknowledged")

    a10 = first("A10", "P2", "zone_exit", "high", "16:00", "o-e1", zone_id="home")

    # emission order; A4 v2 twice, as a store re-run after a restart would hand it back
    return [a8, a1, a1_2, a1_3, a2, a2_2, a1_4, a2_3, a3, a3_2, a3_3, a4, a4_2, a4_2, a5, a5_2,
            a5_3, a6, a7, a7_2, a9, a10, a9_2]


# What the store wrote and when (epoch ms); A3's acknowledgement is deliberately missing.
VERSION_TIMES = {
    ("A1", 1): ms("08:11"), ("A1", 2): ms("08:15"),
    ("A5", 2): ms("12:02:30"),
    ("A9", 2): ms("16:30"),
}


def login(client, user: str) -> dict:
    """Log `user` in with the password the service tests set ("password-<id>"); the header."""
    r = client.post("/v1/login", json={"officer_id": user, "password": f"password-{user}"})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def write_bundle(folder) -> None:
    """BUNDLE as files, for the command line (which loads a bundle folder)."""
    import json
    from pathlib import Path

    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    (d / "zones.geojson").write_text('{"type": "FeatureCollection", "features": []}')
    (d / "persons.jsonl").write_text("".join(
        json.dumps({"person_id": p.person_id, "name": p.name, "office_id": p.office_id,
                    "officer_id": p.officer_id, "zones": []}, ensure_ascii=False) + "\n"
        for p in BUNDLE.persons), encoding="utf-8")
    officers = [{"officer_id": o.officer_id, "name": o.name, "office_id": o.office_id,
                 "role": o.role, **({"supervisor_id": o.supervisor_id} if o.supervisor_id else {})}
                for o in BUNDLE.officers]
    (d / "officers.json").write_text(json.dumps({"officers": officers}, ensure_ascii=False),
                                     encoding="utf-8")
