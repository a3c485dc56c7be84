"""The configuration: what a deployment writes, and the mistakes it is told about."""

from __future__ import annotations

import pytest

from alerts.notify import NotifyConfig, NotifyConfigError, load_config

HOOK = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY"


def test_a_toml_file_with_every_field(tmp_path):
    p = tmp_path / "notify.toml"
    p.write_text(f'''
base_url = "https://lookout.example/"
timeout_s = 3
queue_size = 100
dead_letter_path = "var/notify-dead.jsonl"
retry = {{ attempts = 6, base_delay_s = 0.5, max_delay_s = 30 }}

[[targets]]
name = "城东所"
url = "{HOOK}"
format = "wecom"
offices = ["wucheng-chengdong"]
min_severity = "high"

[[targets]]
name = "演练群"
url = "https://oapi.dingtalk.com/robot/send?access_token=T"
format = "dingtalk"
secret = "SECabc"
drill = true
''', encoding="utf-8")
    cfg = load_config(p)
    assert cfg.base_url == "https://lookout.example" and cfg.timeout_s == 3
    assert (cfg.retry.attempts, cfg.retry.base_delay_s, cfg.retry.max_delay_s) == (6, 0.5, 30)
    a, b = cfg.targets
    assert a.offices == frozenset({"wucheng-chengdong"}) and a.min_severity == "high"
    assert a.rate_per_minute == 20 and not a.drill
    assert b.drill and b.secret == "SECabc" and b.offices is None and b.min_severity == "low"
    assert "KEY" not in repr(cfg) and "SECabc" not in repr(cfg)


def test_the_url_can_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("LOOKOUT_WECOM_CD", HOOK)
    cfg = NotifyConfig.from_dict({"targets": [{"name": "a", "url": "env:LOOKOUT_WECOM_CD",
                                               "format": "wecom"}]})
    assert cfg.targets[0].url == HOOK


@pytest.mark.parametrize("change, words", [
    ({"min_severty": "high"}, "unknown field 'min_severty'"),
    ({"format": "feishu"}, "'format' must be one of"),
    ({"offices": []}, "'offices' is empty"),
    ({"offices": "wucheng"}, "'offices' must be a list"),
    ({"min_severity": "urgent"}, "'min_severity' must be one of"),
    ({"url": "qyapi.weixin.qq.com"}, "'url' must be an http(s) URL"),
    ({"url": "env:LOOKOUT_UNSET_FOR_SURE"}, "unset environment variable"),
    ({"drill": "yes"}, "'drill' must be true or false"),
    ({"secret": "SEC"}, "'secret' is a DingTalk signing key"),
])
def test_a_bad_target_is_named_with_its_field(change, words):
    raw = {"targets": [{"name": "城东所", "url": HOOK, "format": "wecom", **change}]}
    with pytest.raises(NotifyConfigError) as err:
        NotifyConfig.from_dict(raw)
    assert "targets[0] (城东所)" in str(err.value) and words in str(err.value)


@pytest.mark.parametrize("raw, words", [
    ({"retry": {"attempts": 0}}, "'attempts' must be an integer >= 1"),
    ({"retry": {"tries": 3}}, "unknown field 'tries'"),
    ({"link_template": "{base_url}/x"}, "must contain {alert_id}"),
    ({"link_template": "{base_url}/{person}/{alert_id}"}, "may use only"),
    ({"timeout_s": 0}, "'timeout_s' must be a number"),
    ({"targets": [{"name": "a", "url": HOOK, "format": "wecom"},
                  {"name": "a", "url": HOOK, "format": "json"}]}, "'a' is used twice"),
])
def test_bad_top_level_settings(raw, words):
    with pytest.raises(NotifyConfigError) as err:
        NotifyConfig.from_dict(raw)
    assert words in str(err.value)


def test_a_file_that_is_not_json_names_the_file(tmp_path):
    p = tmp_path / "notify.json"
    p.write_text("{targets: }", encoding="utf-8")
    with pytest.raises(NotifyConfigError) as err:
        load_config(p)
    assert str(p) in str(err.value)
