"""The officers' triage list at scale: how long one list request's queries take (the page of
100, its total, the counts per handling state and the attention counts) over a store holding
`--alerts` alerts, for an admin (everything), a duty officer (an office and what was routed to
them) and an officer (only what was routed to them). Prints JSON.

    .venv/bin/python -m benchmarks.triage_bench [--alerts 50000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
import time
from pathlib import Path

import orjson

from alerts.store import StepCommit, Store
from alerts.timefmt import rfc3339
from alerts.triage import AlertQuery

OFFICES = {"cd": "wucheng-chengdong", "jn": "wucheng-jiangnan", "xg": "wucheng-xiguan"}
KINDS = [("low_battery", "low"), ("device_off", "high"), ("silent", "high"),
         ("location_disabled", "medium"), ("tamper", "critical"), ("zone_enter", "high")]
START_MS = 1_790_000_000_000


def alerts(n: int):
    """n SPEC §4 records over 600 persons in three offices, a minute apart, a third in each
    handling state; officers `wc-<office>-<1..4>`, a tenth escalated to `wc-zh-01`."""
    handling = itertools.cycle(["new", "acknowledged", "resolved"])
    for i in range(n):
        office = list(OFFICES)[i % 3]
        person = f"P{i % 600:04d}"
        officer = f"wc-{office}-{i % 4 + 1}"
        type_, severity = KINDS[i % len(KINDS)]
        at = rfc3339(START_MS + i * 60_000)
        route = [{"officer_id": officer, "role": "officer", "reason": "on_shift", "at": at}]
        if i % 10 == 0:
            route.append({"officer_id": "wc-zh-01", "role": "supervisor",
                          "reason": "not_acknowledged", "at": at})
        yield {"alert_id": f"b{i:07d}", "version": 1, "person_id": person, "type": type_,
               "severity": severity, "condition": "active", "handling": next(handling),
               "opened_at": at, "last_event_at": at, "officer_id": route[-1]["officer_id"],
               "route": route, "escalated": i % 10 == 0, "drill": False,
               "message": {"zh": type_, "en": type_}}


def one_request(store: Store, query: AlertQuery, reader: str) -> float:
    t = time.perf_counter()
    store.alerts.triage(query, reader, limit=100)
    store.alerts.attention(AlertQuery(routed_to=query.routed_to, of_offices=query.of_offices), reader)
    return (time.perf_counter() - t) * 1000


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--alerts", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.db", durable=False)
        office_of = {f"P{i:04d}": OFFICES[list(OFFICES)[i % 3]] for i in range(600)}
        t = time.perf_counter()
        batch = list(alerts(args.alerts))
        for lo in range(0, len(batch), 5000):
            store.commit(StepCommit(batch[lo:lo + 5000], office_of.get, lo // 5000 + 1))
        write_s = time.perf_counter() - t
        open_ = frozenset({"new", "acknowledged"})
        callers = {
            "admin": (AlertQuery(handling=open_), "ops-admin"),
            "duty": (AlertQuery(routed_to=frozenset({"wc-cd-duty"}),
                                of_offices=frozenset({OFFICES["cd"]}), handling=open_),
                     "wc-cd-duty"),
            "officer": (AlertQuery(routed_to=frozenset({"wc-jn-1"}), of_offices=frozenset(),
                                   handling=open_), "wc-jn-1"),
        }
        out = {"alerts": args.alerts, "write_s": round(write_s, 2), "list_request_ms": {}}
        for name, (query, reader) in callers.items():
            times = [one_request(store, query, reader) for _ in range(args.repeat)]
            out["list_request_ms"][name] = {"median": round(statistics.median(times), 1),
                                            "max": round(max(times), 1),
                                            "total": store.alerts.triage(query, reader, limit=1).total}
        store.close()
    print(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
