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
