"""Small helpers every repository uses to write records and times."""

from __future__ import annotations

import time
from typing import Any

import orjson


def to_json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def now_ms() -> int:
    return int(time.time() * 1000)
