"""Argument types shared by the command lines: a bad value stops argparse with one clear line
(argparse puts the flag's name in front of it)."""

from __future__ import annotations

import argparse


def positive_int(v: str) -> int:
    try:
        n = int(v)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {v!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {v!r}")
    return n


def positive_float(v: str) -> float:
    try:
        x = float(v)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {v!r}") from None
    if not x > 0:  # NaN too
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {v!r}")
    return x


def speed(value: str) -> float | None:
    """'max' (None: as fast as possible), or N times real time."""
    if value == "max":
        return None
    try:
        return positive_float(value)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected max or a number greater than 0, got {value!r}") from None


def event_time_ms(value: str) -> int:
    """An instant given as RFC 3339 or epoch milliseconds."""
    from config.loader import parse_ts_ms

    try:
        return parse_ts_ms(int(value) if value.isdigit() else value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected RFC 3339 (2026-11-27T08:00:00+08:00) or epoch ms, got {value!r}"
        ) from None
