"""A feed through whatever engine is importable, as `lookout replay` drives it: Decoder, Engine.

Also a script, so another checkout's engine can run the same day:

    PYTHONPATH=/tmp/lookout-baseline python benchmarks/quality/runner.py BUNDLE FEED > alerts.jsonl

It imports only the engine's public API (nothing from `benchmarks`), so the checkout on
PYTHONPATH decides which rules run. Output: one compact record per alert update.
"""

from __future__ import annotations

import sys
from datetime import datetime

CHUNK_LINES = 50_000


def _ms(value: str | None) -> int | None:
    return None if value is None else int(datetime.fromisoformat(value).timestamp() * 1000)


def compact(update) -> dict:
    """The fields the metrics need, times as epoch ms. The engine's typed update is read as its
    SPEC §4 record, which is all an older checkout's engine emits."""
    if not isinstance(update, dict):
        update = update.to_wire()
    return {
        "alert_id": update["alert_id"],
        "version": update["version"],
        "person_id": update["person_id"],
        "type": update["type"],
        "zone_id": update["zone_id"],
        "condition": update["condition"],
        "opened_at": _ms(update["opened_at"]),
        "last_event_at": _ms(update["last_event_at"]),
        "cleared_at": _ms(update["cleared_at"]),
        "reopen_count": update["reopen_count"],
        "late": bool(update.get("late")),  # absent before the engine knew late data
    }


def run_feed(bundle_dir: str, feed_path: str) -> list[dict]:
    from alerts.engine import Engine
    from config.loader import load_bundle
    from stream import events as ev
    from stream.decode import Decoder

    bundle = load_bundle(bundle_dir)
    engine = Engine(bundle)
    state = engine.new_state()
    decoder = Decoder(engine.person_index, bundle.settings)
    out: list[dict] = []
    seq = 0
    with open(feed_path, "rb") as fh:
        lines = fh.readlines()
    # the feed's own history: no record may look like it comes from the future
    received_at = 4_102_444_800_000  # 2100-01-01
    for start in range(0, len(lines), CHUNK_LINES):
        chunk = lines[start:start + CHUNK_LINES]
        batch, rejects = decoder.decode(chunk, received_at_ms=received_at, first_seq=seq)
        if rejects:
            raise ValueError(f"the engine rejected the benchmark's own feed: {rejects[0]}")
        seq += len(chunk)
        out += [compact(u) for u in engine.process(state, batch, 0)]
    if state.real.started:  # the end of input is a tick at the largest ts, as in replay
        tick = ev.EventBatch.from_rows([{"kind": ev.TICK, "ts": state.real.clock, "drill": False,
                                         "seq": seq}])
        out += [compact(u) for u in engine.process(state, tick, 0)]
    return out


def main(argv: list[str]) -> int:
    import orjson

    if len(argv) != 2:
        sys.stderr.write("usage: runner.py BUNDLE FEED\n")
        return 2
    for rec in run_feed(argv[0], argv[1]):
        sys.stdout.buffer.write(orjson.dumps(rec) + b"\n")
    return 0


if __name__ == "__main__":
    # run as a script, this folder is sys.path[0]: its day.py, noise.py... must not shadow
    # anything the engine imports
    sys.path.pop(0)
    sys.exit(main(sys.argv[1:]))
