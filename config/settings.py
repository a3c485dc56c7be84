"""Every tunable default of SPEC.md in one place.

Precedence, lowest first: these defaults, the bundle's `settings.toml`, `LOOKOUT_*`
environment variables (e.g. `LOOKOUT_CONFIRM_FIXES=3`).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class EscalateAfter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    critical: float = Field(300, ge=0)
    high: float = Field(900, ge=0)
    medium: float = Field(1800, ge=0)
    low: float = Field(3600, ge=0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOOKOUT_", extra="forbid")

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
    # worse than the last one's and than this is suspect until two fixes in a row are this
    # sharp again, or for suspect_max_s at most
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
    # 个人信息保护法: tracks (fixes, status events) and dead letters older than this are purged
    track_retention_days: float = Field(180.0, gt=0)
