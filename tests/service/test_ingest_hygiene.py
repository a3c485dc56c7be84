"""Ingest bodies as gateways and tools really send them: a UTF-8 BOM in front, a megabyte of
junk. Every record is still accounted for; the store does not fill with copies of junk."""

from __future__ import annotations

import sqlite3

import pytest
from servicekit import fix, now_ms

from stream.service import create_app

AUTH = {"Authorization": "Bearer gw-secret"}
JSONL = {**AUTH, "Content-Type": "application/x-ndjson"}


@pytest.fixture
def client(runtime):
    from fastapi.testclient import TestClient

    with TestClient(create_app(runtime, officer_api=False)) as c:
        yield c


def dead_rows(runtime) -> list[tuple]:
    with sqlite3.connect(runtime.store.path) as con:
        return con.execute("SELECT reason, detail, raw FROM dead_letters ORDER BY id").fetchall()


@pytest.mark.parametrize("content_type", ["application/x-ndjson", "application/json"])
def test_a_utf8_bom_at_the_start_of_a_body_is_accepted(client, runtime, content_type):
    t = now_ms() - 10_000
    lines = [fix("P1", t), fix("P2", t + 1)]
    body = b"\n".join(lines) if "ndjson" in content_type else b"[" + b",".join(lines) + b"]"
    r = client.post("/v1/events", content=b"\xef\xbb\xbf" + body,
                    headers={**AUTH, "Content-Type": content_type})
    assert r.status_code == 202, r.text
    assert r.json() == {"accepted": 2, "rejected": 0, "rejected_by_reason": {}}


def test_a_megabyte_of_junk_keeps_the_first_letters_and_counts_the_rest(client, runtime):
    body = b"\n".join([b"{}"] * 349_000)  # just under 1 MiB
    t = now_ms() - 10_000
    body += b"\n" + fix("P1", t) + b"\n{not json"
    r = client.post("/v1/events", content=body, headers=JSONL)
    assert r.status_code == 202
    # the answer still counts every record
    assert r.json()["accepted"] == 1 and r.json()["rejected"] == 349_001
    rows = dead_rows(runtime)
    kept = runtime.bundle.settings.dead_letters_per_request
    assert len(rows) == kept + 1
    assert all(reason == "invalid_field" and raw == "{}" for reason, _, raw in rows[:kept])
    reason, detail, raw = rows[-1]
    assert reason == "too_many_rejects" and raw == ""
    assert f"{349_001 - kept} more" in detail
    assert f"invalid_field: {349_000 - kept}" in detail and "malformed_json: 1" in detail


def test_the_cap_is_per_request(client, runtime):
    for _ in range(3):
        client.post("/v1/events", content=b"\n".join([b"{}"] * 150), headers=JSONL)
    rows = dead_rows(runtime)
    kept = runtime.bundle.settings.dead_letters_per_request
    assert len(rows) == 3 * (kept + 1)
    assert [r[0] for r in rows].count("too_many_rejects") == 3
