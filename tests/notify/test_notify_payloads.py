"""The bodies the receivers get: WeCom group robot markdown (msgtype + markdown.content),
DingTalk custom robot markdown (msgtype + markdown.title/text, no @), or the record itself."""

from __future__ import annotations

from alerts.notify import Directory
from alerts.records import AlertUpdate

from .kit import alert, escalated, notifier, record, target

BASE = "https://lookout.wucheng.example"


def _send(receiver, clock, directory, fmt, update, **cfg):
    tgt = target(receiver.url(), fmt=fmt, drill=update.drill)
    n = notifier([tgt], clock, directory=directory, **cfg)
    assert n.offer(update) == 1
    assert n.close(5)
    (req,) = receiver.requests
    assert req["headers"]["Content-Type"].startswith("application/json")
    return req["json"]


def test_wecom_markdown_message(receiver, clock, directory):
    body = _send(receiver, clock, directory, "wecom", alert(), base_url=BASE)
    assert set(body) == {"msgtype", "markdown"} and body["msgtype"] == "markdown"
    assert set(body["markdown"]) == {"content"}
    content = body["markdown"]["content"]
    assert len(content.encode()) <= 4096
    assert content == (
        "**新告警：越界（离开活动区域）**\n"
        "社区矫正对象：陈建军（WC0001）\n"
        "区域：婺城区\n"
        '级别：<font color="warning">高</font>\n'
        "发生时间：2026-11-23 17:10:00\n"
        "矫正工作人员：蒋文杰（wc-cd-02）\n"
        "\n"
        "**New alert: left permitted area**\n"
        "Person: 陈建军 (WC0001)\n"
        "Zone: 婺城区\n"
        "Severity: high\n"
        "Opened: 2026-11-23 17:10:00\n"
        "Officer: 蒋文杰 (wc-cd-02)\n"
        "\n"
        f"[查看告警 Open alert]({BASE}/?alert=a-1)"
    )


def test_dingtalk_markdown_message_mentions_nobody(receiver, clock, directory):
    body = _send(receiver, clock, directory, "dingtalk", escalated(), base_url=BASE + "/")
    assert set(body) == {"msgtype", "markdown"} and body["msgtype"] == "markdown"
    md = body["markdown"]
    assert set(md) == {"title", "text"}  # no "at": nobody is @-mentioned
    assert md["title"] == "[高] 告警已升级上报：越界（离开活动区域） 陈建军"
    paragraphs = md["text"].split("\n\n")
    assert paragraphs[0] == "#### 告警已升级上报：越界（离开活动区域）"
    assert "已升级上报：值班长 金卫东（wc-zh-01），2026-11-23 17:25:00" in paragraphs
    assert "**Alert escalated: left permitted area**" in paragraphs
    assert "Escalated to supervisor: 金卫东 (wc-zh-01), 2026-11-23 17:25:00" in paragraphs
    assert paragraphs[-1] == f"[查看告警 Open alert]({BASE}/?alert=a-1)"
    # 中文 first, then English
    assert md["text"].index("社区矫正对象") < md["text"].index("Person:")


def test_an_alert_from_buffered_data_says_so_first(receiver, clock, directory):
    body = _send(receiver, clock, directory, "dingtalk", alert(late=True), base_url=BASE)
    md = body["markdown"]
    assert md["title"] == "[高] 新告警（补传数据）：越界（离开活动区域） 陈建军"
    paragraphs = md["text"].split("\n\n")
    assert paragraphs[0] == "#### 新告警（补传数据）：越界（离开活动区域）"
    assert "**New alert (from buffered data): left permitted area**" in paragraphs


def test_json_target_gets_the_record_itself(receiver, clock, directory):
    rec = record(escalated=True)
    # the SPEC §4 record, byte for byte as it was read: times in the zone it was written in
    assert _send(receiver, clock, directory, "json", AlertUpdate.from_wire(rec)) == rec


def test_no_base_url_no_link_and_unknown_ids_are_shown_as_ids(receiver, clock):
    body = _send(receiver, clock, Directory(), "wecom", alert())
    content = body["markdown"]["content"]
    assert "](" not in content
    assert "社区矫正对象：WC0001\n" in content and "区域：cn-330702\n" in content


def test_names_cannot_inject_markup_and_long_ones_are_cut(receiver, clock):
    d = Directory(persons={"WC0001": ("张*三_[点我](http://x)<b>", "o")},
                  zones={"cn-330702": "区" * 5000})
    content = _send(receiver, clock, d, "wecom", alert())["markdown"]["content"]
    assert "张＊三＿［点我］(http://x)＜b＞" in content
    assert "[点我]" not in content and "<b>" not in content
    assert len(content.encode()) <= 4096 and "区" * 63 + "…" in content


def test_link_template_can_open_the_drill_view(receiver, clock, directory):
    body = _send(receiver, clock, directory, "wecom", alert("x/1", drill=True), base_url=BASE,
                 link_template="{base_url}/alerts/{alert_id}?drill={drill}")
    assert body == {"msgtype": "markdown", "markdown": {"content": body["markdown"]["content"]}}
    assert body["markdown"]["content"].endswith(f"({BASE}/alerts/x%2F1?drill=true)")
    assert body["markdown"]["content"].startswith("**【演练】新告警")


def test_an_unstaffed_alert_says_nobody_is_on_shift(receiver, clock, directory):
    route = [{"officer_id": "wc-cd-02", "role": "officer", "reason": "unstaffed",
              "at": "2026-11-23T03:10:00.000+08:00"},
             {"officer_id": "wc-cd-duty", "role": "duty", "reason": "unstaffed",
              "at": "2026-11-23T03:10:00.000+08:00"}]
    content = _send(receiver, clock, directory, "wecom", alert(route=route))["markdown"]["content"]
    assert "矫正工作人员：蒋文杰（wc-cd-02）\n注意：无人值班\n" in content
    assert content.endswith("Officer: 蒋文杰 (wc-cd-02)\nNote: nobody on shift")
