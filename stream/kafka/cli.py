"""Command lines: `lookout worker`, `lookout kafka create-topics`, `lookout replay --kafka`.

Exit codes as elsewhere: 0 done, 2 bad arguments or a bad bundle; 1 when Kafka is unreachable,
the topics do not fit together, or `--collect` timed out.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from stream.cliargs import positive_float, positive_int
from stream.cliargs import speed as parse_speed

EXIT_BAD_INPUT = 2
EXIT_KAFKA = 1
DEFAULT_PARTITIONS = 4


def _common(p: argparse.ArgumentParser, partitions_help: str) -> None:
    p.add_argument("--kafka", required=True, metavar="BOOTSTRAP",
                   help="bootstrap servers, host:port[,host:port...]")
    p.add_argument("--prefix", default="lookout", help="topic prefix (default: lookout)")
    p.add_argument("--partitions", type=positive_int, help=partitions_help)
    p.add_argument("--replication-factor", type=positive_int, default=1,
                   help="for topics created here (default 1: a single broker)")


_PARTITIONS_HELP = (f"partitions of events/actions when they are created (default "
                    f"{DEFAULT_PARTITIONS}); existing topics keep theirs")


def _ensure_topics(args) -> dict[str, int] | int:
    from stream.kafka.topics import TopicError, Topics, broker_answers, create_topics

    if not broker_answers(args.kafka):
        print(f"lookout: no Kafka answers at {args.kafka}", file=sys.stderr)
        return EXIT_KAFKA
    try:
        counts = create_topics(args.kafka, Topics(args.prefix),
                               args.partitions or DEFAULT_PARTITIONS, args.replication_factor)
    except TopicError as err:
        print(f"lookout: {err}", file=sys.stderr)
        return EXIT_KAFKA
    events = Topics(args.prefix).events
    if args.partitions and counts[events] != args.partitions:
        print(f"lookout: {events} already has {counts[events]} partitions; using them",
              file=sys.stderr)
    return counts


def _load_bundle(path: str):
    from config.loader import BundleError, load_bundle

    try:
        return load_bundle(path)
    except (BundleError, FileNotFoundError) as err:
        print(f"lookout: bad bundle 部署包错误: {err}", file=sys.stderr)
        return None


# -- lookout kafka create-topics -----------------------------------------------------------------

def cli_kafka(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="lookout kafka", description="Kafka tools")
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("create-topics", help="create the topics (idempotent)")
    _common(c, _PARTITIONS_HELP)
    args = p.parse_args(argv)
    counts = _ensure_topics(args)
    if isinstance(counts, int):
        return counts
    for name, n in sorted(counts.items()):
        print(f"{name}\t{n} partitions")
    return 0


# -- lookout worker ------------------------------------------------------------------------------

def cli_worker(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="lookout worker",
        description="Run the engine on Kafka: events and actions in, alert updates out.")
    p.add_argument("--bundle", required=True, help="deployment bundle folder")
    _common(p, _PARTITIONS_HELP)
    p.add_argument("--batch", type=positive_int, default=20000,
                   help="messages per batch at most (default 20000)")
    p.add_argument("--within", type=positive_float, default=0.05,
                   help="seconds a fetch waits when nothing is there (default 0.05); a batch "
                        "is whatever has arrived, up to --batch")
    p.add_argument("--session-timeout", type=positive_float, default=10.0,
                   help="seconds before a silent worker's partitions move on (default 10)")
    p.add_argument("--heartbeat", type=positive_float, default=None,
                   help="seconds between heartbeats (default: session timeout / 5)")
    p.add_argument("--checkpoint", type=positive_float, default=5.0,
                   help="seconds between state checkpoints while busy (default 5; always when "
                        "idle); a restart reruns about this much input")
    p.add_argument("--metrics-port", type=positive_int,
                   help="serve Prometheus metrics on 127.0.0.1:PORT/metrics")
    p.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    args = p.parse_args(argv)
    bundle = _load_bundle(args.bundle)
    if bundle is None:
        return EXIT_BAD_INPUT
    counts = _ensure_topics(args)
    if isinstance(counts, int):
        return counts

    from stream.kafka.topics import Topics
    from stream.kafka.worker import WorkerConfig, run_worker

    topics = Topics(args.prefix)
    conf = WorkerConfig(
        bootstrap=args.kafka, topics=topics, partitions=counts[topics.events],
        batch=args.batch, within_s=args.within,
        session_timeout_s=args.session_timeout,
        heartbeat_s=args.heartbeat or args.session_timeout / 5, checkpoint_s=args.checkpoint,
        loglevel=args.log_level, metrics_port=args.metrics_port)
    return run_worker(bundle, conf)


# -- lookout replay --kafka ----------------------------------------------------------------------

def cli_replay_kafka(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="lookout replay --kafka",
        description="Send a JSONL feed to {prefix}.events for the workers, keyed by person_id; "
                    "ticks to every partition; ends with a tick at the largest ts.")
    p.add_argument("events", nargs="+", help="JSONL files (.gz allowed); - for stdin")
    _common(p, _PARTITIONS_HELP)
    p.add_argument("--bundle", help="optional: the workers' bundle, so that exactly the records "
                                    "they accept move the clocks")
    p.add_argument("--speed", default="max", help="max (default) or N× real time")
    p.add_argument("--rebase-time", action="store_true",
                   help="shift every ts so that the feed starts now")
    p.add_argument("--drill", action="store_true", help="mark every event as a drill / 演练")
    p.add_argument("--collect", metavar="FILE",
                   help="wait for the workers, then write the alerts topic as JSONL (- stdout)")
    p.add_argument("--timeout", type=positive_float, default=120.0,
                   help="seconds --collect waits for the workers (default 120)")
    args = p.parse_args(argv)

    try:
        speed = parse_speed(args.speed)
    except argparse.ArgumentTypeError as err:
        p.error(str(err))
    for path in args.events:
        if path != "-" and not os.path.isfile(path):
            print(f"lookout: events file not found 找不到事件文件: {path}", file=sys.stderr)
            return EXIT_BAD_INPUT
    decoder = None
    if args.bundle:
        bundle = _load_bundle(args.bundle)
        if bundle is None:
            return EXIT_BAD_INPUT
        from alerts.caseload import Caseload
        from stream.decode import Decoder

        decoder = Decoder(Caseload(bundle).index, bundle.settings)
    counts = _ensure_topics(args)
    if isinstance(counts, int):
        return counts

    from stream.kafka.replay import (
        FeedPlan,
        read_topic,
        send_feed,
        summary_line,
        wait_processed,
        write_jsonl,
    )
    from stream.kafka.topics import Topics
    from stream.source import read_chunks

    topics = Topics(args.prefix)
    plan = FeedPlan(counts[topics.events], drill=args.drill, rebase=args.rebase_time,
                    decoder=decoder)
    started = time.perf_counter()
    sent = send_feed(args.kafka, topics, read_chunks(args.events, chunk_lines=10_000), plan,
                     speed=speed)
    print(summary_line(plan, sent, time.perf_counter() - started), file=sys.stderr)
    if not args.collect:
        return 0
    if not wait_processed(args.kafka, topics, args.timeout):
        print(f"lookout: the workers did not finish within {args.timeout:g} s "
              f"(is `lookout worker --prefix {args.prefix}` running?)", file=sys.stderr)
        return EXIT_KAFKA
    write_jsonl(args.collect, read_topic(args.kafka, topics.alerts))
    return 0
