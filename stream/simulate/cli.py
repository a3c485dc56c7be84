"""`lookout simulate` (a feed for a bundle) and `lookout simulate-bundle` (a bundle at
benchmark scale)."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict

from config.loader import BundleError, parse_ts_ms
from stream.simulate.feed import DEMO_START, simulate, write_feed
from stream.simulate.synthesize import synthesize_bundle


def _fail(msg: str) -> int:
    print(f"simulate: {msg}", file=sys.stderr)
    return 2


def cli_simulate(argv: list[str] | None = None) -> int:
    """`lookout simulate --bundle DIR --out FILE ...`; returns the exit code."""
    p = argparse.ArgumentParser(prog="lookout simulate",
                                description="Write a realistic location feed for a bundle.")
    p.add_argument("--bundle", required=True, help="bundle folder (persons, zones, permits)")
    p.add_argument("--out", required=True, help="JSONL events; .gz compresses, - is stdout")
    p.add_argument("--persons", type=int, help="the first N persons (default: all)")
    p.add_argument("--hours", type=float, default=24.0)
    p.add_argument("--interval", type=float, default=60.0, help="seconds between fixes")
    p.add_argument("--start", default=DEMO_START,
                   help=f"RFC 3339 or epoch ms (default {DEMO_START})")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--violations", type=int, default=3, help="incidents to inject")
    p.add_argument("--synthesize", metavar="PERSONS_OUT",
                   help="invent persons beyond the bundle's; their persons.jsonl lines go here")
    p.add_argument("--truth", metavar="FILE", help="write what happened (incidents) as JSONL")
    args = p.parse_args(argv)
    try:
        start = parse_ts_ms(int(args.start) if args.start.isdigit() else args.start)
    except ValueError as exc:
        return _fail(f"--start: {exc}")
    t0 = time.perf_counter()
    try:
        feed = simulate(args.bundle, args.persons, start, args.hours, args.interval, args.seed,
                        args.violations, synthesize=bool(args.synthesize))
    except (BundleError, ValueError) as exc:
        return _fail(str(exc))
    count = write_feed(args.out, feed)
    if args.synthesize:
        write_feed(args.synthesize, feed.synthesized)
    if args.truth:
        write_feed(args.truth, (asdict(i) for i in feed.incidents))
    injected = sum(i.injected for i in feed.incidents)
    print(f"simulate: {count} events, {len(feed._people)} persons, {injected} violations "
          f"in {time.perf_counter() - t0:.1f} s -> {args.out}", file=sys.stderr)
    return 0


def cli_synthesize_bundle(argv: list[str] | None = None) -> int:
    """`lookout simulate-bundle --out DIR --persons N ...`: a benchmark-scale bundle."""
    from geofences.admin_import import AdminDataMissing, find_admin

    p = argparse.ArgumentParser(
        prog="lookout simulate-bundle",
        description="Write a bundle of fictional persons over real counties.")
    p.add_argument("--out", required=True, help="bundle folder to write")
    p.add_argument("--persons", type=int, required=True)
    p.add_argument("--province", action="append", default=[],
                   help="counties of this province; repeat (default: 浙江省 and 江苏省)")
    p.add_argument("--venues", type=int, default=0, help="exclusion circles (group 'venues')")
    p.add_argument("--venue-share", type=float, default=0.0, help="share of persons in 'venues'")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--simplify-m", type=float, help="simplify county boundaries (metres)")
    args = p.parse_args(argv)
    try:
        counties = [a for prov in args.province for a in find_admin(province=prov)] or None
        if args.province and not counties:
            return _fail(f"no county in {args.province}")
        out = synthesize_bundle(args.out, args.persons, counties, args.venues, args.venue_share,
                                args.seed, simplify_m=args.simplify_m)
    except (AdminDataMissing, ValueError) as exc:
        return _fail(str(exc))
    print(f"simulate-bundle: {args.persons} persons -> {out}", file=sys.stderr)
    return 0
