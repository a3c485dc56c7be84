"""The notifier on the engine's real update records: a tamper alert, its repeats, its
escalation and its acknowledgement make exactly two pushes."""

from __future__ import annotations

from enginekit import Feed, bundle, ms

from alerts.engine import Engine
from alerts.notify import Directory
from config.model import OfficerSpec, ShiftSpec
from stream import events as ev

from .kit import notifier, target

D = "2026-11-27 "  # a Friday


def staffed():
    b = bundle()
    b.officers = [
        OfficerSpec("officer-1", "李警官", "office-1", "officer", "sup-1"),
        OfficerSpec("duty-1", "值班员", "office-1", "duty", "sup-1"),
        OfficerSpec("sup-1", "王值班长", "office-1", "supervisor"),
    ]
    b.shifts = [ShiftSpec("officer-1", (1, 2, 3, 4, 5), 8 * 60, 18 * 60)]
    return b


def test_engine_updates_push_once_when_new_and_once_when_escalated(receiver, clock):
    b = staffed()
    engine = Engine(b)
    state = engine.new_state()
    updates = []
    for at in ("10:00", "10:01", "10:02"):  # a tamper, then two repeats of it
        updates += engine.process(state, Feed(engine).status(ms(D + at), ev.TAMPER).batch(), 0)
    updates += engine.process(state, Feed(engine).tick(ms(D + "10:05")).batch(), 0)
    ack = {"type": "action", "person_id": "P1", "alert_id": updates[0].alert_id,
           "ts": "2026-11-27T10:06:00+08:00", "action": "acknowledge", "by": "sup-1"}
    updates += engine.act(state, ack, 0)
    assert [(u.version, u.escalated, u.handling) for u in updates] == [
        (1, False, "new"), (2, False, "new"), (3, False, "new"), (4, True, "new"),
        (5, True, "acknowledged")]

    n = notifier([target(receiver.url(), fmt="dingtalk", offices=["office-1"],
                         min_severity="critical")],
                 clock, directory=Directory.from_bundle(b))
    assert sum(n.offer(u) for u in updates) == 2
    assert n.close(5)
    new, esc = (body["markdown"] for body in receiver.bodies)
    assert new["title"] == "[紧急] 新告警：防拆报警 对象P1"
    assert "矫正工作人员：李警官（officer-1）" in new["text"]
    assert esc["title"] == "[紧急] 告警已升级上报：防拆报警 对象P1"
    assert "已升级上报：值班长 王值班长（sup-1），2026-11-27 10:05:00" in esc["text"]
