"""What gets pushed, and to whom: new and escalated alerts only, office and severity filters,
drills only to drill groups. Every push goes through the real local receiver."""

from __future__ import annotations

from alerts.notify.policy import ESCALATED, NEW, Policy

from .kit import alert, escalated, notifier, target


def test_only_new_and_escalated_versions_are_pushed(receiver, clock, directory):
    n = notifier([target(receiver.url())], clock, directory=directory)
    versions = [
        alert(version=1),
        alert(version=2, event_count=2),  # a repeat fix
        escalated(version=3),  # nobody acknowledged
        escalated(version=4, event_count=3),  # another repeat, still escalated
        escalated(version=5, handling="acknowledged"),
        escalated(version=6, handling="acknowledged", condition="cleared"),
    ]
    assert [n.offer(v) for v in versions] == [1, 0, 1, 0, 0, 0]
    assert n.close(5)
    first, second = (b["markdown"]["content"] for b in receiver.bodies)
    assert first.startswith("**新告警：越界（离开活动区域）**")
    assert second.startswith("**告警已升级上报：越界（离开活动区域）**")
    assert "已升级上报：值班长 金卫东（wc-zh-01），2026-11-23 17:25:00" in second
    assert [r["headers"]["X-Lookout-Notification"] for r in receiver.requests] == [NEW, ESCALATED]
    st = n.stats()
    assert (st["offered"], st["push_new"], st["push_escalated"], st["sent"]) == (6, 1, 1, 2)


def test_a_version_announced_twice_is_pushed_once():
    p = Policy()
    assert p.decide(alert(version=1)) == NEW
    assert p.decide(alert(version=1)) is None
    assert p.decide(escalated(version=2)) == ESCALATED
    assert p.decide(escalated(version=2)) is None


def test_after_a_restart_an_open_unacknowledged_escalated_alert_is_pushed_once():
    p = Policy()
    assert p.decide(escalated(version=7)) == ESCALATED
    assert p.decide(escalated(version=8)) is None
    # already acknowledged, or over: someone has it in hand; no push
    assert p.decide(escalated("b", version=4, handling="acknowledged")) is None
    assert p.decide(escalated("c", version=4, condition="cleared")) is None
    # primed from the store at start-up: the notifier knows the escalation is old news
    primed = Policy()
    primed.prime(escalated(version=7))
    assert primed.decide(escalated(version=8)) is None
    assert primed.decide(alert("d", version=2)) is None  # a repeat of an unseen alert


def test_a_resolved_alert_is_forgotten():
    p = Policy()
    p.decide(alert(version=1))
    p.decide(alert(version=2, handling="resolved", condition="cleared"))
    assert len(p) == 0


def test_office_and_severity_filters(receiver, other_receiver, clock, directory):
    chengdong = target(receiver.url(), name="城东所", offices=["wucheng-chengdong"],
                       min_severity="high")
    county = target(other_receiver.url(), name="指挥中心", offices=None, min_severity="critical")
    n = notifier([chengdong, county], clock, directory=directory)
    assert n.offer(alert("low", severity="low", type="low_battery", zone_id=None)) == 0
    assert n.offer(alert("high", severity="high")) == 1  # 城东所 only
    assert n.offer(alert("crit", severity="critical", type="tamper", zone_id=None)) == 2
    assert n.offer(alert("jn", severity="critical", person_id="JN0001")) == 1  # 江南: county only
    feed_down = alert("feed", severity="critical", type="feed_down", person_id=None,
                      zone_id=None, officer_id="ops-1",
                      route=[{"officer_id": "ops-1", "role": "operator", "reason": "feed_down",
                              "at": "2026-11-23T17:10:00.000+08:00"}])
    assert n.offer(feed_down) == 1  # no office: only a target that takes every office
    assert n.close(5)
    got = lambda rx: [r["json"]["markdown"]["content"].split("\n")[0] for r in rx.requests]  # noqa: E731
    assert got(receiver) == ["**新告警：越界（离开活动区域）**", "**新告警：防拆报警**"]
    assert got(other_receiver) == ["**新告警：防拆报警**", "**新告警：越界（离开活动区域）**",
                                   "**新告警：数据中断**"]
    feed_text = other_receiver.bodies[-1]["markdown"]["content"]
    assert "系统管理员：运维值守（ops-1）" in feed_text and "社区矫正对象" not in feed_text


def test_drill_alerts_go_only_to_drill_groups_and_say_so(receiver, other_receiver, clock,
                                                          directory):
    real = target(receiver.url(), name="城东所")
    drills = target(other_receiver.url(), name="演练群", fmt="dingtalk", drill=True)
    n = notifier([real, drills], clock, directory=directory)
    assert n.offer(alert("real")) == 1
    assert n.offer(alert("drill", drill=True)) == 1
    assert n.close(5)
    assert len(receiver.requests) == 1 and "演练" not in str(receiver.bodies[0])
    (md,) = (b["markdown"] for b in other_receiver.bodies)
    assert md["title"].startswith("【演练】") and md["text"].startswith("#### 【演练】新告警")
    assert "[DRILL] New alert: left permitted area" in md["text"]
