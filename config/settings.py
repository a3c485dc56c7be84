"""Every tunable default of SPEC.md in one place.

Precedence, lowest first: these defaults, the bundle's `settings.toml`, `LOOKOUT_*`
environment variables (e.g. `LOOKOUT_CONFIRM_FIXES=3`; `environment_values` reads them, and
config/loader.py applies them).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

ENV_PREFIX = "LOOKOUT_"


class EscalateAfter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    critical: float = Field(300, ge=0)
    high: float = Field(900, ge=0)
    medium: float = Field(1800, ge=0)
    low: float = Field(3600, ge=0)


# What a tile URL template may hold: Leaflet's own placeholders and nothing else.
_TILE_PLACEHOLDERS = {"{s}", "{z}", "{x}", "{y}", "{-y}", "{r}"}
_PLACEHOLDER = re.compile(r"\{[^{}]*\}|\$\{[^{}]*\}|<[^<>]*>|%7B[^%]*%7D", re.IGNORECASE)
# Left in from a copied example: the page would fetch tiles that never come.
_FILL_ME_IN = re.compile(r"your[_-]?(key|token|api)|api[_-]?key_here|xxxxx|changeme", re.IGNORECASE)


def check_tile_url(url: str, *, has_subdomains: bool) -> str:
    """A tile URL template the page can use as it is, or ValueError saying what is wrong."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http(s) URL")
    for token in _PLACEHOLDER.findall(url):
        if token not in _TILE_PLACEHOLDERS:
            raise ValueError(f"unknown placeholder {token} (a template may use only "
                             f"{', '.join(sorted(_TILE_PLACEHOLDERS))}: fill in keys and "
                             "layer names yourself)")
    missing = [t for t in ("{z}", "{x}") if t not in url]
    if missing or ("{y}" not in url and "{-y}" not in url):
        raise ValueError("must contain {z}, {x} and {y}")
    if (m := _FILL_ME_IN.search(url)) is not None:
        raise ValueError(f"holds the example text {m[0]!r}: put the real key in")
    host = parts.netloc.rsplit("@", 1)[-1]
    if "{" in host.replace("{s}", "") or ("{s}" in host and not has_subdomains):
        raise ValueError("{s} in the host needs `subdomains`" if "{s}" in host
                         else "only {s} may vary in the host")
    if "{s}" in parts.path + parts.query and "{s}" not in host:
        raise ValueError("{s} may appear only in the host")
    return url


class MapTiles(BaseModel):
    """The page's base map (docs/map.md). No `url`: the page draws its own map without tiles."""

    model_config = ConfigDict(extra="forbid")
    # first: the URL checks below read it
    subdomains: str = ""
    url: str = ""
    # 天地图 serves place names as a second layer over its streets
    labels_url: str = ""
    attribution: str = Field("", max_length=200)
    max_zoom: int = Field(18, ge=1, le=22)
    # 天地图 (CGCS2000) and most bureau GIS tiles are WGS-84 to within a metre; AMap-style
    # tiles are GCJ-02, and then the page shifts what it draws onto them
    crs: Literal["wgs84", "gcj02"] = "wgs84"

    @field_validator("subdomains")
    @classmethod
    def _subdomains(cls, v: str) -> str:
        if not re.fullmatch(r"[a-z0-9]*", v):
            raise ValueError('must be letters or digits, one per subdomain, e.g. "01234567"')
        return v

    @field_validator("url", "labels_url")
    @classmethod
    def _url(cls, v: str, info: ValidationInfo) -> str:
        return check_tile_url(v, has_subdomains=bool(info.data.get("subdomains"))) if v else v

    @model_validator(mode="after")
    def _labels_need_streets(self) -> MapTiles:
        if self.labels_url and not self.url:
            raise ValueError("labels_url needs url (the layer the labels are drawn over)")
        return self

    def origins(self) -> list[str]:
        """Every origin the page loads tiles from, for its Content-Security-Policy."""
        out: list[str] = []
        for url in (self.url, self.labels_url):
            if not url:
                continue
            parts = urlsplit(url)
            for s in self.subdomains or "-":
                origin = f"{parts.scheme}://{parts.netloc.replace('{s}', s)}"
                if origin not in out:
                    out.append(origin)
        return out


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timezone: str = "Asia/Shanghai"
    default_accuracy_m: float = Field(30.0, ge=0)
    max_accuracy_m: float = Field(1000.0, gt=0)
    max_future_s: float = Field(300.0, ge=0)
    # SPEC §3 inclusion zones: a run of clearly-outside fixes confirms an exit once it has
    # confirm_fixes of them spanning confirm_s; clear_fixes inside fixes in a row clear it
    confirm_fixes: int = Field(3, ge=1)
    confirm_s: float = Field(60.0, ge=0)
    clear_fixes: int = Field(2, ge=1)
    # clearly outside = beyond max(buffer_m, accuracy_sigmas × accuracy_m): phones report a
    # 68 % radius and often understate it
    accuracy_sigmas: float = Field(2.0, ge=0)
    # docs/detection.md "suspect fixes": a fix that leaps from the last one with an accuracy
    # worse than the last one's and than this starts an episode that lasts until a sharp fix
    # leaps back or two fixes in a row are this sharp, or for suspect_max_s at most
    sharp_accuracy_m: float = Field(20.0, ge=0)
    suspect_max_s: float = Field(2400.0, ge=0)
    confirm_fixes_exclusion: int = Field(1, ge=1)
    reopen_window_s: float = Field(900.0, ge=0)
    silence_timeout_s: float = Field(1800.0, gt=0)
    feed_silence_s: float = Field(120.0, gt=0)
    max_speed_mps: float = Field(100.0, gt=0)
    # a jump must also exceed this distance (net of both accuracies), SPEC §3 location_jump
    jump_min_distance_m: float = Field(2000.0, ge=0)
    low_battery_pct: float = Field(15.0, ge=0, le=100)
    battery_recovered_pct: float = Field(25.0, ge=0, le=100)
    default_buffer_inclusion_m: float = Field(100.0, ge=0)
    default_buffer_exclusion_m: float = Field(50.0, ge=0)
    # Off only to demonstrate the datum trap: zones and fixes are then compared in whatever
    # datum they were written in, and GCJ-02 boundaries sit hundreds of metres off.
    datum_conversion: bool = True
    escalate_after_s: EscalateAfter = Field(default_factory=EscalateAfter)
    # how long an officer's login lasts
    session_ttl_s: float = Field(43200.0, gt=0)
    # rejected records of one ingest request kept verbatim; the rest are counted by reason in
    # one more dead letter (`too_many_rejects`), so that a body of junk cannot fill the store
    dead_letters_per_request: int = Field(100, ge=0)
    # 个人信息保护法: tracks (fixes, status events) and dead letters older than this are purged
    track_retention_days: float = Field(180.0, gt=0)
    map_tiles: MapTiles = Field(default_factory=MapTiles)


class NotJSON(ValueError):
    """A table-valued setting whose variable does not hold JSON."""

    def __init__(self, variable: str) -> None:
        super().__init__(variable)
        self.variable = variable


def environment_values(environ: Mapping[str, str] = os.environ) -> dict[str, object]:
    """The settings LOOKOUT_* variables give, by field name, not yet validated. Names match
    whatever their case; a table (escalate_after_s, map_tiles) is written as JSON. Read here
    rather than through pydantic-settings, whose import alone was a twentieth of a second of
    every start."""
    by_name = {k.upper(): (k, v) for k, v in environ.items() if k.upper().startswith(ENV_PREFIX)}
    out: dict[str, object] = {}
    for name, field in Settings.model_fields.items():
        found = by_name.get(ENV_PREFIX + name.upper())
        if found is None:
            continue
        variable, text = found
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            try:
                out[name] = json.loads(text)
            except ValueError:
                raise NotJSON(variable) from None
        else:
            out[name] = text
    return out
