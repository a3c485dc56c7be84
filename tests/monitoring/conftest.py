"""Monitoring tests share the engine tests' builders (tests/enginekit.py) and a reader of
the metrics' text exposition."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
