"""The simulator: a realistic feed for a bundle (world.py, feed.py), a bundle at benchmark scale
(synthesize.py) and their command lines (cli.py).

Names load on first use, so a module that needs only `areas` does not carry the rest.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stream.simulate.areas import zone_area_wgs84
    from stream.simulate.cli import cli_simulate, cli_synthesize_bundle
    from stream.simulate.feed import DEMO_START, Feed, simulate, write_feed
    from stream.simulate.synthesize import synthesize_bundle
    from stream.simulate.world import INCIDENT_KINDS, Incident, fictional_names

_HOME = {
    "zone_area_wgs84": "areas",
    "cli_simulate": "cli",
    "cli_synthesize_bundle": "cli",
    "DEMO_START": "feed",
    "Feed": "feed",
    "simulate": "feed",
    "write_feed": "feed",
    "synthesize_bundle": "synthesize",
    "INCIDENT_KINDS": "world",
    "Incident": "world",
    "fictional_names": "world",
}

__all__ = [
    "DEMO_START", "INCIDENT_KINDS", "Feed", "Incident", "cli_simulate", "cli_synthesize_bundle",
    "fictional_names", "simulate", "synthesize_bundle", "write_feed", "zone_area_wgs84",
]


def __getattr__(name: str) -> object:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
