"""`make run`: simulate a day in 婺城区, replay it, and show what officers would see."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import orjson

DEMO_BUNDLE = Path(__file__).resolve().parent.parent / "config" / "demo"
WORKDIR = Path(".lookout-demo")


def main() -> int:
    from rich.console import Console
    from rich.table import Table

    from alerts.kinds import WORDS
    from config.loader import load_bundle
    from stream.deadletter import DeadLetterWriter
    from stream.replay import replay, write_summary
    from stream.simulate import simulate, write_feed

    console = Console(width=140)
    WORKDIR.mkdir(exist_ok=True)
    feed_path = WORKDIR / "feed.jsonl.gz"
    # the last twelve hours, so that timestamps are recent but never in the future
    start_ms = (int(time.time()) // 60 - 12 * 60) * 60_000
    feed = simulate(DEMO_BUNDLE, start_ms=start_ms, hours=12, fix_interval_s=120, seed=1,
                    violations=4)
    n = write_feed(feed_path, feed)
    console.print(f"simulated 模拟 {n:,} events → {feed_path}")

    bundle = load_bundle(DEMO_BUNDLE)
    alerts_path = WORKDIR / "alerts.jsonl"
    dead = DeadLetterWriter(str(WORKDIR / "dead-letter.jsonl"))
    with open(alerts_path, "wb") as out:
        summary = replay(bundle, [str(feed_path)], out, dead)
    dead.close()
    write_summary(summary)

    last: dict[str, dict] = {}
    for line in alerts_path.read_bytes().splitlines():
        u = orjson.loads(line)
        last[u["alert_id"]] = u
    table = Table(title=f"Alerts raised 告警 ({len(last)}) — {alerts_path}")
    for col in ("opened 开始", "person 对象", "type 类型", "zone 区域", "severity", "condition 状态"):
        table.add_column(col)
    for u in sorted(last.values(), key=lambda u: u["opened_at"]):
        zh, en = WORDS[u["type"]]
        table.add_row(u["opened_at"][5:16].replace("T", " "), u["person_id"], f"{zh} / {en}",
                      u["zone_id"] or "", u["severity"], u["condition"])
    console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
