"""`lookout replay`: a recorded feed through the engine, alert updates out as JSONL.

A bad bundle or a missing events file exits 2 with a message naming it.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack

from stream.cliargs import event_time_ms, speed

EXIT_BAD_INPUT = 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lookout replay",
                                description="Run a recorded feed through the engine / 回放事件文件")
    p.add_argument("events", nargs="+", help="JSONL files (.gz allowed); - for stdin")
    p.add_argument("--bundle", required=True, help="deployment bundle folder")
    p.add_argument("--out", help="alert updates as JSONL (default: stdout)")
    p.add_argument("--dead-letter", help="rejected records as JSONL")
    p.add_argument("--speed", type=speed, default=None, help="max (default) or N× real time")
    p.add_argument("--until", type=event_time_ms, help="move the clock forward to this time at the end")
    p.add_argument("--drill", action="store_true", help="treat every event as a drill / 演练")
    p.add_argument("--summary-json", help="also write the summary as JSON to this file")
    p.add_argument("--metrics-file", help="write Prometheus metrics (text format) at the end")
    p.add_argument("--kafka", metavar="BOOTSTRAP",
                   help="send the feed to Kafka for `lookout worker` instead; "
                        "`lookout replay --kafka B -h` lists its options (--rebase-time, ...)")
    return p


def cli_replay(argv: list[str]) -> int:
    """`lookout replay`; with --kafka the feed goes to the workers (stream/kafka/cli.py) instead."""
    if any(a == "--kafka" or a.startswith("--kafka=") for a in argv):
        from stream.kafka.cli import cli_replay_kafka

        return cli_replay_kafka(argv)
    args = _parser().parse_args(argv)
    import orjson

    from config.loader import BundleError, load_bundle
    from stream.deadletter import DeadLetterWriter
    from stream.progress import progress_reporter
    from stream.replay import replay, write_summary

    try:
        bundle = load_bundle(args.bundle)
    except BundleError as err:
        print(f"lookout: bad bundle 部署包错误: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except FileNotFoundError as err:
        print(f"lookout: bad bundle 部署包错误: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    from alerts import coverage

    coverage.report(bundle)
    for path in args.events:
        if path != "-":
            import os

            if not os.path.isfile(path):
                print(f"lookout: events file not found 找不到事件文件: {path}", file=sys.stderr)
                return EXIT_BAD_INPUT
    with ExitStack() as stack:
        out = stack.enter_context(open(args.out, "wb")) if args.out else sys.stdout.buffer
        dead = DeadLetterWriter(args.dead_letter)
        stack.callback(dead.close)
        progress = stack.enter_context(progress_reporter(args.events))
        metrics = None
        if args.metrics_file:
            from stream.metrics import LookoutMetrics

            # a recorded feed's event times are history: event-to-alert latency means nothing
            metrics = LookoutMetrics(alert_latency=False)
        summary = replay(
            bundle, args.events, out, dead, speed=args.speed, until_ms=args.until,
            drill=args.drill, progress=progress, metrics=metrics,
        )
        if metrics is not None:
            metrics.write_textfile(args.metrics_file)
        out.flush()
    write_summary(summary)
    if args.summary_json:
        with open(args.summary_json, "wb") as fh:
            fh.write(orjson.dumps(summary.to_dict(), option=orjson.OPT_INDENT_2))
    return 0
