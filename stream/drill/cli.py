"""`lookout drill run|report|check` (see README.md here).

Exit codes: 0 the drill passed (check: the scenario is fine); 1 it ran but did not pass
(failed, or acknowledgements still pending); 2 bad arguments, scenario or bundle; 3 the
service or Kafka could not be reached.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime
from pathlib import Path

from alerts.timefmt import wall_ms
from stream.cliargs import speed

EXIT_PASS, EXIT_NOT_PASSED, EXIT_BAD_INPUT, EXIT_UNREACHABLE = 0, 1, 2, 3


def _common_out(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dir", default="drills", help="drills folder (default: drills)")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lookout drill",
                                description="Emergency drills / 应急演练 (stream/drill/README.md)")
    sub = p.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="run a drill against a live system / 执行演练")
    run.add_argument("scenario", help="scenario file (TOML)")
    run.add_argument("--bundle", required=True, help="the bundle the service runs / 部署包")
    run.add_argument("--url", help="embedded service, e.g. http://127.0.0.1:8080")
    run.add_argument("--token", help="gateway token (default: $LOOKOUT_GATEWAY_TOKEN)")
    run.add_argument("--db", help="the service's SQLite store, to read drill alerts and "
                                  "acknowledgements back / 服务数据库")
    run.add_argument("--kafka", metavar="BOOTSTRAP", help="Kafka bootstrap servers instead")
    run.add_argument("--prefix", default="lookout", help="Kafka topic prefix (default lookout)")
    run.add_argument("--speed", type=speed, default=60.0,
                     help="drill time runs N× real time (default 60; max: all at once)")
    run.add_argument("--id", dest="drill_id", help="drill id (default: scenario-YYYYmmdd-HHMMSS)")
    _common_out(run)
    run.add_argument("--out-dir", help="exact folder for the record (default: DIR/DRILL_ID)")
    run.add_argument("--timeout", type=float, default=60.0,
                     help="seconds to wait for detections after the last event (default 60)")
    run.add_argument("--ack-wait", type=float, default=None,
                     help="at most this many seconds to wait for acknowledgements (default: "
                          "until each acknowledgement target has passed)")
    rep = sub.add_parser("report", help="score a drill again from its record / 重新生成评分")
    rep.add_argument("drill_id")
    _common_out(rep)
    rep.add_argument("--db", help="read acknowledgements from this store (default: the record's)")
    rep.add_argument("--kafka", metavar="BOOTSTRAP", help="read from this Kafka instead")
    rep.add_argument("--no-refresh", action="store_true",
                     help="score only what the record holds")
    chk = sub.add_parser("check", help="check a scenario against a bundle / 检查演练方案")
    chk.add_argument("scenario")
    chk.add_argument("--bundle", required=True)
    return p


def cli_drill(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    return {"run": _run, "report": _report, "check": _check}[args.cmd](args)


def _fail(msg: str, code: int = EXIT_BAD_INPUT) -> int:
    print(f"lookout drill: {msg}", file=sys.stderr)
    return code


def _plan(scenario_path: str, bundle: str, start_ms: int):
    from config.loader import BundleError
    from stream.drill.plan import build_plan
    from stream.drill.scenario import ScenarioError, load_scenario

    try:
        return build_plan(load_scenario(scenario_path), bundle, start_ms)
    except ScenarioError as err:
        raise _Bad(f"bad scenario 演练方案错误: {err}") from None
    except (BundleError, FileNotFoundError) as err:
        raise _Bad(f"bad bundle 部署包错误: {err}") from None


class _Bad(Exception):
    pass


def _check(args) -> int:
    try:
        plan = _plan(args.scenario, args.bundle, wall_ms())
    except _Bad as err:
        return _fail(str(err))
    print(f"{plan.scenario.name}: {len(plan.events)} events over "
          f"{(plan.end_ms - plan.start_ms) / 1000:g} s of drill time, {plan.base_events} base")
    def at(ts: int) -> str:
        return f"+{(ts - plan.start_ms) / 1000:g} s"

    for inj in plan.injections:
        due = "never 不会触发" if inj.decisive_ts is None else at(inj.decisive_ts)
        print(f"  [{inj.index}] {at(inj.start_ts)}..{at(inj.end_ts)} {inj.spec.kind} "
              f"{inj.person_id}{' ' + inj.zone_id if inj.zone_id else ''} -> "
              f"{inj.expected_type}, due {due}{'  ! ' + inj.problem if inj.problem else ''}")
    for w in plan.warnings:
        print(f"  warning: {w}")
    return EXIT_PASS


def _run(args) -> int:
    from stream.drill import record as rec
    from stream.drill.runner import Poller, say_stderr, send
    from stream.drill.sinks import SinkError
    from stream.drill.sources import Observed

    drill_id = args.drill_id or f"{Path(args.scenario).stem}-{datetime.now():%Y%m%d-%H%M%S}"
    out_dir = Path(args.out_dir) if args.out_dir else Path(args.dir) / drill_id
    problem = _flag_problem(args) or _place_problem(drill_id, out_dir)
    if problem:
        return _fail(problem)
    start_ms = _start_after_earlier_drills(Path(args.dir), args.db)
    try:
        plan = _plan(args.scenario, args.bundle, start_ms)
    except _Bad as err:
        return _fail(str(err))
    _say_plan_problems(plan, say_stderr)
    observed = Observed(since_ms=plan.start_ms)
    try:
        sink, source = _connect(args, observed)
    except (SinkError, OSError) as err:
        return _fail(str(err), EXIT_UNREACHABLE)
    except Exception as err:  # kafka-python's NoBrokersAvailable and kin
        return _fail(f"cannot connect: {err!r}", EXIT_UNREACHABLE)
    poller = Poller(source, observed).start() if source is not None else None
    say_stderr(f"{drill_id}: {len(plan.events)} events, {len(plan.injections)} incidents, "
               f"{(plan.end_ms - plan.start_ms) / 1000:g} s of drill time at "
               f"{'max' if args.speed is None else f'{args.speed:g}×'}")
    try:
        log = send(plan, sink, args.speed, say_stderr)
    except SinkError as err:
        if poller is not None:
            poller.stop()
        return _fail(f"sending stopped 发送中断: {err}", EXIT_UNREACHABLE)
    finally:
        sink.close()
    record = rec.new_record(drill_id, plan, args.bundle, sink.describe(),
                            source.describe() if source is not None else None, args.speed, log)
    record["accepted"], record["rejected_by_reason"] = sink.accepted, sink.rejected
    out_dir.mkdir(parents=True, exist_ok=True)
    plan.write(out_dir / "feed.jsonl.gz")
    _read_back(args, drill_id, record, poller, observed, source)
    return _finish(out_dir, record)


def _flag_problem(args) -> str | None:
    """What is wrong with the flags of `drill run`, if anything."""
    if bool(args.url) == bool(args.kafka):
        return "give either --url (embedded service) or --kafka BOOTSTRAP"
    if args.url and not (args.token or os.environ.get("LOOKOUT_GATEWAY_TOKEN")):
        return "--url needs --token (or LOOKOUT_GATEWAY_TOKEN) / 缺少网关令牌"
    if args.db and args.kafka:
        return "--db reads the embedded service's store; with --kafka alerts come from Kafka"
    return None


def _place_problem(drill_id: str, out_dir: Path) -> str | None:
    from stream.drill import record as rec

    if not rec.valid_id(drill_id):
        return f"--id: use letters, digits, '.', '_' or '-' (≤ 64), got {drill_id!r}"
    if (out_dir / "record.json").exists():
        return f"{out_dir} already holds a drill record: pick another --id"
    return None


def _say_plan_problems(plan, say) -> None:
    for w in plan.warnings:
        say(f"warning: {w}")
    for inj in plan.injections:
        if inj.problem:
            say(f"incidents[{inj.index}]: {inj.problem}")


def _read_back(args, drill_id: str, record: dict, poller, observed, source) -> None:
    """The drill's alerts and acknowledgements into the record, when there is a source."""
    from stream.drill.runner import say_stderr, wait

    if poller is None:
        say_stderr("no --db: alerts were not read back; score later with "
                   f"`lookout drill report {drill_id} --db PATH`")
        return
    wait(poller, record, args.timeout, args.ack_wait, say_stderr)
    poller.stop()
    if poller.error is not None:
        say_stderr(f"reading alerts failed once: {poller.error!r}")
    record["alerts"], record["actions"] = observed.to_lists()
    source.close()


def _connect(args, observed):
    from stream.drill.sinks import HttpSink, KafkaSink
    from stream.drill.sources import KafkaSource, StoreSource

    if args.kafka:
        source = KafkaSource(args.kafka, args.prefix, observed)  # offsets before anything goes
        try:
            return KafkaSink(args.kafka, args.prefix), source
        except BaseException:
            source.close()
            raise
    sink = HttpSink(args.url, args.token or os.environ["LOOKOUT_GATEWAY_TOKEN"])
    return sink, (StoreSource(args.db, observed) if args.db else None)


def _start_after_earlier_drills(folder: Path, db: str | None) -> int:
    """Now, or just after the latest event time an earlier drill left in the drill world: a
    person's events not newer than their latest are ignored, and a fast drill's clock runs
    ahead of the wall clock."""
    from config.loader import parse_ts_ms
    from stream.drill import record as rec

    start = wall_ms()
    if folder.is_dir():
        for sub in folder.iterdir():
            try:
                start = max(start, rec.load(sub)["event_end_ms"] + 1000)
            except (OSError, ValueError, KeyError):
                continue
    if db and Path(db).is_file():
        from alerts.store import Store

        store = Store(db)
        try:
            for a in store.alerts.list_alerts(drill=True, limit=100_000):
                start = max(start, parse_ts_ms(a["last_event_at"]) + 1000)
        finally:
            store.close()
    return start


def _finish(out_dir: Path, record: dict) -> int:
    from stream.drill import html
    from stream.drill import record as rec
    from stream.drill.score import score

    rec.save(out_dir, "record.json", record)
    card = score(record, wall_ms())
    rec.save(out_dir, "scorecard.json", card)
    tz = record.get("timezone", "Asia/Shanghai")
    (out_dir / "scorecard.html").write_text(html.render(card, record, tz), encoding="utf-8")
    _print_card(card, out_dir)
    return EXIT_PASS if card["result"] == "pass" else EXIT_NOT_PASSED


def _print_card(card: dict, out_dir: Path) -> None:
    s = card["summary"]
    print(f"drill 演练 {card['drill_id']}: {card['result'].upper()} "
          f"({s['passed']} passed, {s['failed']} failed, {s['pending']} pending of "
          f"{s['incidents']}; detected {s['detected']}, acknowledged {s['acknowledged']})")
    for r in card["incidents"]:
        delay = "-" if r["detection_delay_s"] is None else f"{r['detection_delay_s']:.1f} s"
        print(f"  [{r['index']}] {r['kind']:<15} {r['person_id']:<10} {r['result']:<7} "
              f"detected in {delay}; {'; '.join(r['reasons']) or 'ok'}")
    print(f"scorecard 评分: {out_dir / 'scorecard.html'}")


def _report(args) -> int:
    from stream.drill import record as rec
    from stream.drill.sources import KafkaSource, Observed, StoreSource

    folder = Path(args.dir) / args.drill_id
    try:
        record = rec.load(folder)
    except FileNotFoundError:
        return _fail(f"no drill record at {folder / 'record.json'}")
    except ValueError as err:
        return _fail(str(err))
    if not args.no_refresh:
        observed = Observed(since_ms=record["event_start_ms"])
        observed.load(record["alerts"], record["actions"])
        saved = record.get("source") or {}
        source = None
        try:
            if args.kafka or saved.get("kind") == "kafka":
                prefix = saved.get("prefix") or (record.get("sink") or {}).get("prefix", "lookout")
                source = KafkaSource(args.kafka or saved["bootstrap"], prefix, observed,
                                     saved.get("offsets"))
            elif args.db or saved.get("db"):
                source = StoreSource(args.db or saved["db"], observed)
        except Exception as err:  # score what the record has, and say why
            print(f"lookout drill: not refreshed ({err}); scoring the saved record",
                  file=sys.stderr)
        if source is not None:
            source.poll(full=True)
            source.close()
            record["alerts"], record["actions"] = observed.to_lists()
            if args.db and not saved:
                record["source"] = source.describe()
    return _finish(folder, record)
