"""Routing decisions per second (alerts/routing.py) and coverage-gap analysis time on a
synthetic province: `--counties` command centres, each with `--offices` 司法所 of five staff
(two officers on weekday days, a duty officer 08:00-22:00, and at the centre a day and a night
duty officer and supervisor). Instants are spread over a week from a fixed seed, so a run is
reproducible; the machine is shared, so compare runs on one machine.

    python -m benchmarks.routing_bench [--counties 10] [--offices 20] [--decisions 50000]
"""

from __future__ import annotations

import argparse
import json
import random
import time

from alerts.coverage import coverage_gaps
from alerts.routing import Router
from config.model import Bundle, OfficerSpec, OfficeSpec, PersonSpec, ShiftSpec
from config.settings import Settings

WEEK = tuple(range(1, 8))
WEEKDAYS = (1, 2, 3, 4, 5)
MONDAY_MS = 1_795_363_200_000  # 2026-11-23 00:00 +08:00


def province(counties: int, offices: int, persons_per_office: int = 50) -> Bundle:
    b = Bundle(path=None, settings=Settings())
    for c in range(counties):
        centre = f"c{c}"
        b.offices.append(OfficeSpec(centre, f"第{c}县社区矫正指挥中心"))
        for who, role, start, end in (("sup-day", "supervisor", 480, 1320),
                                      ("sup-night", "supervisor", 1320, 480),
                                      ("desk-day", "duty", 480, 1320),
                                      ("desk-night", "duty", 1320, 480)):
            b.officers.append(OfficerSpec(f"{centre}-{who}", who, centre, role))
            b.shifts.append(ShiftSpec(f"{centre}-{who}", WEEK, start, end))
        for o in range(offices):
            office = f"{centre}-o{o}"
            b.offices.append(OfficeSpec(office, f"第{o}司法所", centre))
            for k in range(2):
                oid = f"{office}-w{k}"
                b.officers.append(OfficerSpec(oid, oid, office, "officer", f"{centre}-sup-day"))
                b.shifts.append(ShiftSpec(oid, WEEKDAYS, 510, 1050))
            b.officers.append(OfficerSpec(f"{office}-duty", "duty", office, "duty"))
            b.shifts.append(ShiftSpec(f"{office}-duty", WEEK, 480, 1320))
            b.persons += [PersonSpec(f"{office}-p{i}", "p", office, f"{office}-w{i % 2}")
                          for i in range(persons_per_office)]
    return b


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--counties", type=int, default=10)
    ap.add_argument("--offices", type=int, default=20)
    ap.add_argument("--decisions", type=int, default=50_000)
    args = ap.parse_args(argv)
    b = province(args.counties, args.offices)
    rnd = random.Random(13)
    persons = [rnd.choice(b.persons) for _ in range(args.decisions)]
    # one alert after another in time, as the engine raises them
    instants = sorted(MONDAY_MS + rnd.randrange(7 * 86_400_000) for _ in range(args.decisions))

    t = time.perf_counter()
    router = Router(b)
    build_s = time.perf_counter() - t
    t = time.perf_counter()
    unstaffed = 0
    for p, at in zip(persons, instants, strict=True):
        steps = router.first_route(p.officer_id, p.office_id, at)
        unstaffed += steps[0]["reason"] == "unstaffed"
    first_s = time.perf_counter() - t
    t = time.perf_counter()
    for p, at in zip(persons, instants, strict=True):
        router.escalation_route(p.officer_id, p.office_id, at)
    escalate_s = time.perf_counter() - t
    t = time.perf_counter()
    gaps = coverage_gaps(b)
    gaps_s = time.perf_counter() - t
    print(json.dumps({
        "bench": "routing", "officers": len(b.officers), "offices": len(b.offices),
        "persons": len(b.persons), "decisions": args.decisions,
        "router_build_s": round(build_s, 4),
        "first_route_per_s": round(args.decisions / first_s),
        "first_route_us": round(first_s / args.decisions * 1e6, 2),
        "escalation_per_s": round(args.decisions / escalate_s),
        "coverage_gaps_s": round(gaps_s, 3), "gaps": len(gaps), "unstaffed": unstaffed,
    }))


if __name__ == "__main__":
    main()
