from __future__ import annotations

import pytest

from alerts.notify import Directory

from .kit import FakeTime, Receiver


@pytest.fixture
def receiver():
    rx = Receiver()
    yield rx
    rx.close()


@pytest.fixture
def other_receiver():
    rx = Receiver()
    yield rx
    rx.close()


@pytest.fixture
def clock():
    return FakeTime()


@pytest.fixture
def directory():
    return Directory(
        persons={"WC0001": ("陈建军", "wucheng-chengdong"), "JN0001": ("周海燕", "wucheng-jiangnan")},
        officers={"wc-cd-02": "蒋文杰", "wc-zh-01": "金卫东", "ops-1": "运维值守"},
        zones={"cn-330702": "婺城区"},
    )
