"""Small helpers every repository uses to write records (times: alerts.timefmt)."""

from __future__ import annotations

from typing import Any

import orjson


def to_json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()
