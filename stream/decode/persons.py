"""Registered person_id -> person index, looked up a whole column at a time (the table
lives in config/idtable.py: the engine uses it too)."""

from __future__ import annotations

from collections.abc import Mapping

from config.idtable import IdTable as _PersonIndex
from stream.decode.records import PERSON_ID_MAX


def registrable(person_index: Mapping[str, int]) -> dict[str, int]:
    """The index without the ids no event can carry: a registered id that breaks the 1-64
    rule must still be rejected as invalid_field."""
    return {k: int(v) for k, v in person_index.items()
            if isinstance(k, str) and 1 <= len(k) <= PERSON_ID_MAX}


__all__ = ["_PersonIndex", "registrable"]
