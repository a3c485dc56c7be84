"""`lookout run` serves /metrics, and its counters move by exactly what was posted (issue #6)."""

from __future__ import annotations

import warnings

from prometheus_client.parser import text_string_to_metric_families
from servicekit import fix, leaving, now_ms
from test_service_ingest import JSONL, wait_for

from stream.service import create_app

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx`")
    from fastapi.testclient import TestClient


def scrape(client) -> dict:
    r = client.get("/metrics")
    assert r.status_code == 200
    out = {}
    for fam in text_string_to_metric_families(r.text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def total(samples: dict, name: str, **labels) -> float:
    return sum(v for (n, ls), v in samples.items()
               if n == name and all(dict(ls).get(k) == val for k, val in labels.items()))


def test_counters_move_by_exactly_the_posted_amounts(runtime):
    with TestClient(create_app(runtime, officer_api=False)) as client:
        before = scrape(client)
        t = now_ms() - 100_000
        valid = [fix("P2", t), *leaving("P2", t + 1), fix("P3", t)]
        invalid = [b"{oops", fix("NOBODY", t), fix("P2", t + 3, lat=95.0)]
        r = client.post("/v1/events", content=b"\n".join(valid + invalid), headers=JSONL)
        assert r.status_code == 202
        wait_for(lambda: runtime.store.alerts.list_alerts())
        after = wait_for(lambda: (s := scrape(client)) and
                         total(s, "lookout_alerts_opened_total") >= 1 and s)

    def moved(name, **labels):
        return total(after, name, **labels) - total(before, name, **labels)

    assert moved("lookout_events_accepted_total", drill="false") == 5
    assert moved("lookout_events_rejected_total") == 3
    assert moved("lookout_events_rejected_total", reason="malformed_json") == 1
    assert moved("lookout_events_rejected_total", reason="unknown_person") == 1
    assert moved("lookout_events_rejected_total", reason="invalid_field") == 1
    assert moved("lookout_alerts_opened_total", type="zone_exit", drill="false") == 1
    # no label anywhere carries a person id
    assert not any("P2" in str(labels) for (_, labels) in after)
