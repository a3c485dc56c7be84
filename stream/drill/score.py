"""The scorecard: per injected incident, was it detected, how fast, who got it, who answered.

Matching an incident to an alert: a drill alert version of the incident's person and expected
type (and zone, when the incident has one) whose `last_event_at` is at or after the incident's
start, earliest first, each version answering one incident. A new alert dates its detection
by `detected_at`; an alert that was already open (an earlier drill's tamper nobody resolved)
can only absorb the incident as a repeat, and is dated by when its new version was first seen.

Detection passes when it came within `detect_within_s` of the moment the rules could first
raise it (`due_at`); acknowledgement passes when an officer acknowledged within
`acknowledge_within_s` of detection. Until that window closes an unanswered alert is pending.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from alerts.records import AlertUpdate
from alerts.transitions import TransitionTracker

ZONE_KINDS = ("leave_zone", "enter_exclusion")


@dataclass(frozen=True, slots=True)
class Recorded:
    """A recorded alert version: typed for judging, as recorded for the scorecard."""

    update: AlertUpdate
    record: dict
    observed_at: int | None  # wall clock when the drill first saw this version

    @classmethod
    def of(cls, record: dict) -> Recorded:
        return cls(AlertUpdate.from_wire(record), record, record.get("observed_at"))


def match_incidents(incidents: list[dict], versions: list[dict], actions: list[dict]) -> dict[int, dict]:
    """incident index -> what answered it: alert, version, detected_at, acknowledgement."""
    seen = [Recorded.of(v) for v in versions]
    by_alert: dict[str, list[Recorded]] = defaultdict(list)
    for s in sorted(seen, key=lambda s: s.update.version):
        by_alert[s.update.alert_id].append(s)
    acks = _acknowledgements(by_alert, actions)
    claimed: set[tuple[str, int]] = set()
    out: dict[int, dict] = {}
    for inc in sorted(incidents, key=lambda i: (i["start_ts"], i["index"])):
        found = [s.update for s in seen if _answers(inc, s.update) and
                 (s.update.alert_id, s.update.version) not in claimed]
        if not found:
            continue
        u = min(found, key=lambda u: (u.last_event_at_ms, u.version))
        claimed.add((u.alert_id, u.version))
        history = by_alert[u.alert_id]
        new_alert = u.opened_at_ms >= inc["start_ts"]
        detected_at = u.detected_at_ms if new_alert else next(
            s.observed_at for s in history if s.update.version == u.version)
        ack = min((a for a in acks[u.alert_id] if detected_at is None or a["at"] >= detected_at),
                  key=lambda a: a["at"], default=None)
        out[inc["index"]] = {"alert_id": u.alert_id, "version": u.version,
                             "new_alert": new_alert, "detected_at": detected_at,
                             "latest": history[-1].record, "acknowledged": ack}
    return out


def _acknowledgements(by_alert: dict[str, list[Recorded]], actions: list[dict]) -> dict[str, list[dict]]:
    """alert_id -> the acknowledgements that took. On Kafka an action is only known to be sent:
    it counts once a version shows the alert was handled."""
    tracker = TransitionTracker(capacity=len(by_alert) + 1)
    handled: set[str] = set()
    for alert_id, history in by_alert.items():
        for s in history:
            t = tracker.observe(s.update)
            # a version first seen already handled shows it as well as the step to it does
            if t is not None and (t.handled or (t.unseen and s.update.handling != "new")):
                handled.add(alert_id)
    acks: dict[str, list[dict]] = defaultdict(list)
    for a in actions:
        if a["action"] == "acknowledge" and (a.get("outcome") == "applied" or
                                             (a.get("outcome") == "sent" and a["alert_id"] in handled)):
            acks[a["alert_id"]].append(a)
    return acks


def _answers(inc: dict, u: AlertUpdate) -> bool:
    if not u.drill or u.person_id != inc["person_id"] or u.type != inc["expected_type"]:
        return False
    if inc["kind"] in ZONE_KINDS and inc.get("zone_id") and u.zone_id != inc["zone_id"]:
        return False
    return u.last_event_at_ms >= inc["start_ts"]


def score(record: dict, now_ms: int) -> dict:
    incidents = record["incidents"]
    matched = match_incidents(incidents, record["alerts"], record["actions"])
    rows = [_row(inc, matched.get(inc["index"]), now_ms) for inc in incidents]
    answered = {m["alert_id"] for m in matched.values()}
    others = {}
    for v in record["alerts"]:
        if v["alert_id"] not in answered:
            others[v["alert_id"]] = v  # the latest version seen
    results = [r["result"] for r in rows]
    overall = "fail" if "fail" in results else "pending" if "pending" in results else "pass"
    detected = [r for r in rows if r["detected"]]
    latencies = [r["detection_delay_s"] for r in detected if r["detection_delay_s"] is not None]
    return {
        "drill_id": record["drill_id"],
        "scenario": record["scenario"]["name"],
        "result": overall,
        "scored_at": now_ms,
        "summary": {
            "incidents": len(rows),
            "passed": results.count("pass"),
            "failed": results.count("fail"),
            "pending": results.count("pending"),
            "detected": len(detected),
            "acknowledged": sum(1 for r in rows if r["acknowledged_by"] is not None),
            "escalated": sum(1 for r in rows if r["escalations"]),
            "max_detection_delay_s": max(latencies) if latencies else None,
        },
        "incidents": rows,
        "other_alerts": [
            {"alert_id": v["alert_id"], "person_id": v.get("person_id"), "type": v["type"],
             "zone_id": v.get("zone_id"), "opened_at": v["opened_at"],
             "condition": v["condition"], "handling": v["handling"]}
            for v in sorted(others.values(), key=lambda v: (v["opened_at"], v["alert_id"]))],
    }


def _row(inc: dict, m: dict | None, now_ms: int) -> dict:
    targets = inc["targets"]
    row = {
        "index": inc["index"], "person_id": inc["person_id"], "kind": inc["kind"],
        "expected_type": inc["expected_type"], "zone_id": inc.get("zone_id"),
        "note": inc.get("note", ""), "problem": inc.get("problem"),
        "injected_at": inc.get("injected_at"), "due_at": inc.get("due_at"),
        "detect_within_s": targets["detect_within_s"],
        "acknowledge_within_s": targets["acknowledge_within_s"],
        "detected": m is not None, "alert_id": None, "detected_at": None,
        "detection_latency_s": None, "detection_delay_s": None, "detect_ok": False,
        "routed_to": None, "officer_now": None, "escalations": [], "acknowledged_by": None,
        "acknowledged_at": None, "acknowledge_latency_s": None, "acknowledge_ok": None,
        "resolution": None, "reasons": [],
    }
    if m is None:
        row["reasons"].append("not detected / 未检出")
        row["result"] = "fail"
        return row
    latest = m["latest"]
    route = latest.get("route") or []
    row.update(alert_id=m["alert_id"], detected_at=m["detected_at"],
               routed_to=route[0] if route else None, officer_now=latest.get("officer_id"),
               escalations=[s for s in route if s.get("role") == "supervisor"],
               resolution=latest.get("resolution"))
    start = inc.get("due_at") or inc.get("injected_at")
    if m["detected_at"] is not None and inc.get("injected_at") is not None:
        row["detection_latency_s"] = round((m["detected_at"] - inc["injected_at"]) / 1000, 3)
    if m["detected_at"] is not None and start is not None:
        row["detection_delay_s"] = round((m["detected_at"] - start) / 1000, 3)
        row["detect_ok"] = row["detection_delay_s"] <= targets["detect_within_s"]
    if not row["detect_ok"]:
        row["reasons"].append(f"detected later than {targets['detect_within_s']:g} s / 检出超时")
    ack, ack_target = m["acknowledged"], targets["acknowledge_within_s"]
    if ack is not None:
        row.update(acknowledged_by=ack["by"], acknowledged_at=ack["at"])
        if m["detected_at"] is not None:
            row["acknowledge_latency_s"] = round((ack["at"] - m["detected_at"]) / 1000, 3)
    if ack_target is not None:
        if row["acknowledge_latency_s"] is not None:
            row["acknowledge_ok"] = row["acknowledge_latency_s"] <= ack_target
        elif m["detected_at"] is not None and now_ms < m["detected_at"] + ack_target * 1000:
            row["acknowledge_ok"] = None  # still within its window
        else:
            row["acknowledge_ok"] = False
        if row["acknowledge_ok"] is False:
            row["reasons"].append(f"not acknowledged within {ack_target:g} s / 未按时签收")
    if not row["detect_ok"] or row["acknowledge_ok"] is False:
        row["result"] = "fail"
    elif ack_target is not None and row["acknowledge_ok"] is None:
        row["result"] = "pending"
    else:
        row["result"] = "pass"
    return row
