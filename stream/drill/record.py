"""The drill record: everything needed to score a drill again later, in one JSON file.

    drills/DRILL_ID/record.json      scenario (its text too), injections with their exact
                                     times, where it was sent and read from, the alerts and
                                     actions seen
    drills/DRILL_ID/feed.jsonl.gz    the events as sent (`lookout replay --drill` takes it)
    drills/DRILL_ID/scorecard.json   the scorecard (score.py)
    drills/DRILL_ID/scorecard.html   the same, bilingual, printable

Times in the record are epoch milliseconds; `*_ts` are drill event times, `*_at` wall times.
"""

from __future__ import annotations

import re
from pathlib import Path

import orjson

FORMAT = "lookout-drill/1"
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def valid_id(drill_id: str) -> bool:
    return bool(_ID.fullmatch(drill_id))


def new_record(drill_id: str, plan, bundle_dir, sink: dict, source: dict | None,
               speed: float | None, log) -> dict:
    sc = plan.scenario
    return {
        "format": FORMAT,
        "drill_id": drill_id,
        "scenario": {"path": str(sc.path), "name": sc.name, "description": sc.description,
                     "text": sc.text},
        "bundle": str(Path(bundle_dir).resolve()),
        "timezone": plan.timezone,
        "sink": sink,
        "source": source,
        "speed": speed,
        "event_start_ms": plan.start_ms,
        "event_end_ms": plan.end_ms,
        "started_at": log.started_at,
        "sent_until": log.finished_at,
        "events_sent": log.sent,
        "base_events": plan.base_events,
        "warnings": list(plan.warnings),
        "incidents": [_incident(inj, log) for inj in plan.injections],
        "alerts": [],
        "actions": [],
    }


def _incident(inj, log) -> dict:
    s = inj.spec
    return {
        "index": s.index, "person_id": inj.person_id, "kind": s.kind,
        "expected_type": s.expected_type, "zone_id": inj.zone_id, "offset_s": s.offset_s,
        "note": s.note, "problem": inj.problem,
        "targets": {"detect_within_s": s.targets.detect_within_s,
                    "acknowledge_within_s": s.targets.acknowledge_within_s},
        "start_ts": inj.start_ts, "decisive_ts": inj.decisive_ts, "end_ts": inj.end_ts,
        "injected_at": log.injected_at.get(s.index), "due_at": log.due_at.get(s.index),
        "events": len(inj.events),
    }


def save(folder: Path, name: str, data: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    tmp.replace(path)  # a report regenerated while someone reads it never shows half a file
    return path


def load(folder: Path) -> dict:
    path = folder / "record.json"
    data = orjson.loads(path.read_bytes())
    if data.get("format") != FORMAT:
        raise ValueError(f"{path}: not a drill record ({data.get('format')!r})")
    return data
