"""`lookout summary --from TS --to TS [--office ID] [--format html|md|csv|json] [--out FILE]
--bundle DIR [--db PATH]`. Exit 0 on success, 2 on bad flags, a bad bundle or an unreadable
store, 1 when the charts cannot be drawn (no Chinese font installed)."""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from collections.abc import Callable, Iterable, Mapping

from alerts.summary.render import FORMATS, LANGS
from alerts.summary.source import SummaryInput, with_released
from alerts.timefmt import wall_ms

EXIT_BAD_INPUT = 2


def _ts(value: str) -> int:
    from config.loader import parse_ts_ms

    try:
        return parse_ts_ms(int(value) if value.isdigit() else value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected RFC 3339 (2026-11-16T08:00:00+08:00) or epoch ms, got {value!r}") from None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lookout summary",
                                description="Shift handover summary / 值班交接汇总")
    p.add_argument("--from", dest="start", type=_ts, required=True, help="period start (included)")
    p.add_argument("--to", dest="end", type=_ts, required=True, help="period end (excluded)")
    p.add_argument("--office", help="one judicial office (司法所) by office_id")
    p.add_argument("--format", choices=FORMATS, default="md")
    p.add_argument("--lang", choices=LANGS, default="both")
    p.add_argument("--csv-layout", choices=("sections", "alerts"), default="sections",
                   help="CSV: one table per section, or a flat list of the alerts")
    p.add_argument("--out", help="write here (default: stdout)")
    p.add_argument("--bundle", required=True, help="deployment bundle folder / 部署包目录")
    p.add_argument("--db", default="lookout.db", help="SQLite store (default: lookout.db)")
    return p


def cli_summary(
    argv: list[str],
    load_updates: Callable[[str], Iterable[dict]] | None = None,
    load_version_times: Callable[[str], Mapping[tuple[str, int], int]] | None = None,
    now_ms: int | None = None,
    *,
    source: Callable[[str, int], SummaryInput] | None = None,
) -> int:
    """`load_updates(db_path)`: every stored alert version (SPEC §4 records).
    `load_version_times(db_path)`: (alert_id, version) -> write time in epoch ms, if the store
    keeps it; without it acknowledgement times are known only where the first action was a
    resolution. `source(db_path, finished_before_ms)`: all three at once (versions, write
    times, who acted first), as alerts.summary.source.read_store reads them from the store;
    used instead of the two loaders. `now_ms` is for tests; the wall clock otherwise."""
    from alerts.summary.charts import CJKFontMissing
    from alerts.summary.compute import compute_summary
    from alerts.summary.render import render
    from config.loader import BundleError, load_bundle

    args = _parser().parse_args(argv)
    if args.end <= args.start:
        print("lookout summary: --to must be after --from / 结束时间须晚于开始时间", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        bundle = load_bundle(args.bundle)
    except (BundleError, FileNotFoundError) as err:
        print(f"lookout summary: bad bundle 部署包错误: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.office and args.office not in {p.office_id for p in bundle.persons} | {
            o.office_id for o in bundle.officers} | {o.office_id for o in bundle.offices}:
        print(f"lookout summary: --office: no such office in the bundle 部署包中无此司法所: "
              f"{args.office}", file=sys.stderr)
        return EXIT_BAD_INPUT
    # opening a SQLite path that does not exist creates an empty store: a mistyped --db would
    # print an empty summary that looks like a quiet shift
    if not os.path.isfile(args.db):
        print(f"lookout summary: --db: no such file 找不到数据库: {args.db}", file=sys.stderr)
        return EXIT_BAD_INPUT
    now = wall_ms() if now_ms is None else now_ms
    ack_by: dict[str, str] | None = None
    times: Mapping[tuple[str, int], int] | None
    try:
        if source is not None:
            read = source(args.db, min(args.start, now))
            updates, times, ack_by = read.updates, read.version_times, read.ack_by
            bundle = with_released(bundle, read.released)
        else:
            updates, times = _from_loaders(args.db, load_updates, load_version_times)
    except (OSError, ValueError, sqlite3.Error) as err:
        print(f"lookout summary: cannot read the store 无法读取数据库 {args.db}: {err}",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    summary = compute_summary(updates, bundle, args.start, args.end, args.office, now,
                              version_times=times, ack_by=ack_by)
    try:
        text = render(summary, args.format, args.lang, csv_layout=args.csv_layout)
    except CJKFontMissing as err:
        print(f"lookout summary: {err}", file=sys.stderr)
        return 1
    if args.out:
        # newline="": the CSV writer already ends rows with CRLF
        with open(args.out, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)
    return 0


def _from_loaders(
    db: str,
    load_updates: Callable[[str], Iterable[dict]] | None,
    load_version_times: Callable[[str], Mapping[tuple[str, int], int]] | None,
) -> tuple[list[dict], Mapping[tuple[str, int], int] | None]:
    if load_updates is None:
        raise TypeError("cli_summary: pass load_updates or source")
    return list(load_updates(db)), load_version_times(db) if load_version_times else None


def cli_summary_store(argv: list[str]) -> int:
    """`lookout summary`: the summary of the service's own store (--db)."""
    from alerts.summary.source import read_store

    return cli_summary(argv, source=read_store)
