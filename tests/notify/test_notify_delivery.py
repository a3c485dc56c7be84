"""Delivery against a real local HTTP receiver: retries, backoff, dead letters, hanging and
refusing receivers, and that the caller is never held up."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from urllib.parse import parse_qs, urlsplit

from alerts.notify import Notifier, NotifyConfig

from .kit import alert, eventually, notifier, record, target


def test_a_receiver_failing_twice_gets_the_same_push_a_third_time(receiver, clock):
    receiver.fail(2, status=500)
    n = notifier([target(receiver.url())], clock)
    assert n.offer(alert()) == 1
    assert n.close(5)
    assert len(receiver.requests) == 3
    assert receiver.bodies[0] == receiver.bodies[1] == receiver.bodies[2]
    st = n.stats()
    assert (st["sent"], st["retries"], st["dead_lettered"]) == (1, 2, 0)
    # exponential with equal jitter: wait k is in [base*2^(k-1)/2, base*2^(k-1)]
    assert len(clock.sleeps) == 2
    assert 0.5 <= clock.sleeps[0] <= 1.0 and 1.0 <= clock.sleeps[1] <= 2.0


def test_a_receiver_that_keeps_failing_ends_in_the_dead_letter_file(receiver, clock, tmp_path):
    receiver.fail(10, status=503)
    dl = tmp_path / "notify-dead.jsonl"
    n = notifier([target(receiver.url("/cgi-bin/webhook/send?key=SECRET-KEY"), name="城东所群")],
                 clock, dead_letter_path=str(dl),
                 retry={"attempts": 4, "base_delay_s": 1, "max_delay_s": 3})
    n.offer(alert())
    assert n.close(5)
    assert len(receiver.requests) == 4
    (entry,) = [json.loads(line) for line in dl.read_text(encoding="utf-8").splitlines()]
    assert entry["target"] == "城东所群" and entry["reason"] == "exhausted"
    assert entry["attempts"] == 4 and entry["detail"] == "http 503"
    assert entry["alert_id"] == "a-1" and entry["notification"] == "new"
    assert entry["payload"] == receiver.bodies[0]
    assert "SECRET-KEY" not in dl.read_text(encoding="utf-8")  # the webhook key stays secret
    assert n.dead_letters == [entry]
    assert n.stats()["dead_by_reason"] == {"exhausted": 1}
    assert max(clock.sleeps) <= 3  # max_delay caps the backoff
    assert n.stats()["targets"]["城东所群"]["dead_lettered"] == 1


def test_429_waits_at_least_retry_after(receiver, clock):
    receiver.answer(429, {"errcode": 45009, "errmsg": "api freq out of limit"},
                    headers={"Retry-After": "5"})
    n = notifier([target(receiver.url())], clock,
                 retry={"attempts": 3, "base_delay_s": 0.1, "max_delay_s": 30})
    n.offer(alert())
    assert n.close(5)
    assert len(receiver.requests) == 2 and n.stats()["sent"] == 1
    assert clock.sleeps[0] >= 5


def test_an_errcode_under_http_200_is_a_failure(receiver, clock):
    receiver.answer(200, {"errcode": 93000, "errmsg": "invalid webhook url"}, times=10)
    n = notifier([target(receiver.url(), fmt="wecom")], clock)
    n.offer(alert())
    assert n.close(5)
    (entry,) = n.dead_letters
    assert entry["reason"] == "exhausted" and entry["attempts"] == 4
    assert entry["detail"].startswith("errcode 93000")
    assert n.stats()["sent"] == 0


def test_errcode_then_success_is_delivered(receiver, clock):
    receiver.answer(200, {"errcode": 130101, "errmsg": "send too fast"})
    n = notifier([target(receiver.url(), fmt="dingtalk")], clock)
    n.offer(alert())
    assert n.close(5)
    assert len(receiver.requests) == 2 and n.stats()["sent"] == 1 and not n.dead_letters


def test_a_plain_json_target_does_not_read_errcode(receiver, clock):
    receiver.answer(200, {"errcode": 93000})
    n = notifier([target(receiver.url(), fmt="json")], clock)
    n.offer(alert())
    assert n.close(5)
    assert len(receiver.requests) == 1 and n.stats()["sent"] == 1


def test_a_4xx_other_than_429_is_not_retried(receiver, clock):
    receiver.answer(404, {"error": "no such hook"})
    n = notifier([target(receiver.url())], clock)
    n.offer(alert())
    assert n.close(5)
    assert len(receiver.requests) == 1
    (entry,) = n.dead_letters
    assert (entry["reason"], entry["attempts"], entry["detail"]) == ("rejected", 1, "http 404")


def test_a_hanging_receiver_times_out_and_the_retry_gets_through(receiver, clock):
    receiver.hang(1)
    n = notifier([target(receiver.url())], clock, timeout_s=0.3)
    n.offer(alert())
    assert n.close(5)
    assert len(receiver.requests) == 2 and n.stats()["sent"] == 1 and n.stats()["retries"] == 1


def test_a_hanging_receiver_holds_up_neither_the_caller_nor_another_group(
        receiver, other_receiver, clock):
    receiver.hang(10)
    n = notifier([target(receiver.url(), name="hangs"), target(other_receiver.url(), name="fine")],
                 clock, timeout_s=2.0)
    t0 = time.monotonic()
    for i in range(5):
        n.offer(alert(f"a-{i}"))
    assert time.monotonic() - t0 < 0.5  # offer never waits for delivery
    # well inside the hanging lane's 2 s timeout
    eventually(lambda: n.stats()["targets"]["fine"]["sent"] == 5, timeout=1.5)
    n.close(0)


def test_a_full_queue_dead_letters_at_once_instead_of_waiting(receiver, clock):
    receiver.hang(10)
    n = notifier([target(receiver.url())], clock, timeout_s=2.0, queue_size=2)
    n.offer(alert("a-0"))
    receiver.wait_for(1)  # a-0 is in flight, the queue is empty
    t0 = time.monotonic()
    assert [n.offer(alert(f"a-{i}")) for i in range(1, 5)] == [1, 1, 0, 0]
    assert time.monotonic() - t0 < 0.2
    full = n.dead_letters
    assert [d["alert_id"] for d in full] == ["a-3", "a-4"]
    assert all(d["reason"] == "queue_full" and d["attempts"] == 0 for d in full)
    assert n.stats()["pending"] == 3
    n.close(0)


def test_close_gives_up_at_its_timeout_and_dead_letters_what_is_left(receiver, clock):
    receiver.hang(10)
    n = notifier([target(receiver.url())], clock, timeout_s=0.4)
    for i in range(3):
        n.offer(alert(f"a-{i}"))
    receiver.wait_for(1)
    t0 = time.monotonic()
    assert n.close(0.2) is False
    assert time.monotonic() - t0 < 0.5
    queued = [d for d in n.dead_letters if d["reason"] == "shutdown"]
    assert sorted(d["alert_id"] for d in queued) == ["a-1", "a-2"]
    # the one in flight ends at its timeout and is dead-lettered then, not retried
    eventually(lambda: len(n.dead_letters) == 3)
    assert sorted(d["alert_id"] for d in n.dead_letters) == ["a-0", "a-1", "a-2"]
    assert len(receiver.requests) == 1
    assert n.offer(alert("late")) == 0 and n.dead_letters[-1]["reason"] == "closed"


def test_nobody_listening_is_a_network_error_that_is_retried(receiver, clock):
    url = receiver.url()
    receiver.close()  # the port is free again: connection refused
    n = notifier([target(url)], clock, retry={"attempts": 2, "base_delay_s": 1, "max_delay_s": 1})
    n.offer(alert())
    assert n.close(5)
    (entry,) = n.dead_letters
    assert entry["attempts"] == 2 and entry["detail"].startswith("network:")
    assert entry["reason"] == "exhausted"


def test_offer_never_raises(receiver, clock):
    n = notifier([target(receiver.url())], clock)
    # store records that cannot be read back are counted at priming, not pushed
    n.prime([{}, {"alert_id": "x", "version": "one"}, {**record(), "opened_at": "yesterday"}])
    assert n.offer(alert(severity="catastrophic")) == 0
    # something that is no alert update at all is a bug upstream: logged, counted, not raised
    assert n.offer(None) == 0  # type: ignore[arg-type]
    assert n.offer(record()) == 0  # type: ignore[arg-type]
    assert n.close(5)
    st = n.stats()
    assert st["malformed"] == 4 and st["errors"] == 2 and st["sent"] == 0


def test_robots_are_paced_below_their_limit_of_20_a_minute(receiver, clock):
    n = notifier([target(receiver.url())], clock)
    for i in range(21):
        n.offer(alert(f"a-{i}"))
    assert n.close(5)
    assert len(receiver.requests) == 21
    assert len(clock.sleeps) == 1 and 59 <= clock.sleeps[0] <= 60


def test_dingtalk_signing_adds_a_fresh_timestamp_and_sign(receiver, clock):
    secret = "SEC0123456789abcdef"
    n = notifier([target(receiver.url("/robot/send?access_token=T"), fmt="dingtalk",
                         secret=secret)], clock)
    n.offer(alert())
    assert n.close(5)
    q = parse_qs(urlsplit(receiver.requests[0]["path"]).query)
    assert q["access_token"] == ["T"]
    ts = q["timestamp"][0]
    assert ts == str(int(clock.now * 1000))
    mac = hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
    assert q["sign"] == [base64.b64encode(mac).decode()]


def test_a_notifier_never_started_dead_letters_its_queue_on_close(receiver, clock):
    n = Notifier(NotifyConfig.from_dict({"targets": [target(receiver.url())]}),
                 clock=clock.time, sleep=clock.sleep, start=False)
    assert n.offer(alert()) == 1
    assert n.close(0.1) is False
    assert [d["reason"] for d in n.dead_letters] == ["shutdown"]
    assert receiver.requests == []
