"""Where notifications go and how hard delivery tries: the notifier's own configuration.

A JSON or TOML file (or the same dict in code). Unknown keys are errors: a misspelt
`min_severity` would otherwise quietly push every low-battery alert to a supervisor's phone.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from alerts.kinds import SEVERITIES

FORMATS = ("wecom", "dingtalk", "json")
# Both robots take at most 20 messages a minute; DingTalk then mutes the robot for 10 minutes,
# so pacing ourselves below the limit loses less than being throttled.
ROBOT_RATE_PER_MINUTE = 20
DEFAULT_LINK = "{base_url}/?alert={alert_id}"


class NotifyConfigError(ValueError):
    """A configuration that breaks a rule; the message names the target and the field."""


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    url: str = field(repr=False)  # a robot's webhook URL is its password: never logged
    format: str
    offices: frozenset[str] | None = None  # None: every office, and alerts with no office
    min_severity: str = "low"
    drill: bool = False  # True: drill alerts only; False: real alerts only
    secret: str | None = field(default=None, repr=False)  # DingTalk 加签
    rate_per_minute: int = 0  # 0: unpaced

    def accepts(self, severity: str, office: str | None, drill: bool) -> bool:
        if drill != self.drill:
            return False
        if SEVERITIES.index(severity) < SEVERITIES.index(self.min_severity):
            return False
        return self.offices is None or office in self.offices


@dataclass(frozen=True, slots=True)
class Retry:
    attempts: int = 5
    base_delay_s: float = 1.0
    max_delay_s: float = 60.0


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    targets: tuple[Target, ...] = ()
    base_url: str | None = None
    link_template: str = DEFAULT_LINK
    timeout_s: float = 5.0
    queue_size: int = 500
    retry: Retry = Retry()
    dead_letter_path: Path | None = None

    @classmethod
    def from_dict(cls, raw: dict) -> NotifyConfig:
        return _parse(raw)


def load_config(path: str | Path) -> NotifyConfig:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
        raw = tomllib.loads(text) if p.suffix == ".toml" else json.loads(text)
    except (OSError, ValueError) as e:
        raise NotifyConfigError(f"{p}: {e}") from e
    try:
        return _parse(raw)
    except NotifyConfigError as e:
        raise NotifyConfigError(f"{p}: {e}") from None


_TOP = {"targets", "base_url", "link_template", "timeout_s", "queue_size", "retry",
        "dead_letter_path"}
_TARGET = {"name", "url", "format", "offices", "min_severity", "drill", "secret",
           "rate_per_minute"}
_RETRY = {"attempts", "base_delay_s", "max_delay_s"}


def _unknown(raw: dict, allowed: set, where: str) -> None:
    extra = sorted(set(raw) - allowed)
    if extra:
        raise NotifyConfigError(f"{where}: unknown field {extra[0]!r} (known: {sorted(allowed)})")


def _number(raw: dict, key: str, default, where: str, minimum: float, integer=False):
    v = raw.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int if integer else (int, float)) or v < minimum:
        kind = "an integer" if integer else "a number"
        raise NotifyConfigError(f"{where}: field {key!r} must be {kind} >= {minimum}, got {v!r}")
    return v


def _http_url(v, where: str, key: str) -> str:
    if not isinstance(v, str) or not v.startswith(("http://", "https://")):
        raise NotifyConfigError(f"{where}: field {key!r} must be an http(s) URL")
    return v


def _parse(raw: dict) -> NotifyConfig:
    if not isinstance(raw, dict):
        raise NotifyConfigError("the configuration must be an object")
    _unknown(raw, _TOP, "(top level)")
    retry_raw = raw.get("retry", {})
    if not isinstance(retry_raw, dict):
        raise NotifyConfigError("retry: must be an object")
    _unknown(retry_raw, _RETRY, "retry")
    retry = Retry(
        attempts=_number(retry_raw, "attempts", 5, "retry", 1, integer=True),
        base_delay_s=_number(retry_raw, "base_delay_s", 1.0, "retry", 0),
        max_delay_s=_number(retry_raw, "max_delay_s", 60.0, "retry", 0),
    )
    base_url = raw.get("base_url")
    if base_url is not None:
        base_url = _http_url(base_url, "(top level)", "base_url").rstrip("/")
    link = raw.get("link_template", DEFAULT_LINK)
    try:
        if "{alert_id}" not in link:
            raise ValueError
        link.format(base_url="", alert_id="", drill="")
    except (TypeError, ValueError, KeyError, IndexError):
        raise NotifyConfigError("(top level): field 'link_template' must contain {alert_id} "
                                "and may use only {base_url}, {alert_id}, {drill}") from None
    targets_raw = raw.get("targets", [])
    if not isinstance(targets_raw, list):
        raise NotifyConfigError("targets: must be a list")
    targets = tuple(_target(t, i) for i, t in enumerate(targets_raw))
    names = [t.name for t in targets]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup is not None:
        raise NotifyConfigError(f"targets: name {dup!r} is used twice (names key dead letters)")
    dl = raw.get("dead_letter_path")
    return NotifyConfig(
        targets=targets,
        base_url=base_url,
        link_template=link,
        timeout_s=_number(raw, "timeout_s", 5.0, "(top level)", 0.001),
        queue_size=_number(raw, "queue_size", 500, "(top level)", 1, integer=True),
        retry=retry,
        dead_letter_path=Path(dl) if dl else None,
    )


def _target(raw, i: int) -> Target:
    where = f"targets[{i}]"
    if not isinstance(raw, dict):
        raise NotifyConfigError(f"{where}: must be an object")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise NotifyConfigError(f"{where}: field 'name' is required")
    where = f"targets[{i}] ({name})"
    _unknown(raw, _TARGET, where)
    fmt = raw.get("format")
    if fmt not in FORMATS:
        raise NotifyConfigError(f"{where}: field 'format' must be one of {list(FORMATS)}")
    url = raw.get("url")
    # "env:NAME" keeps the webhook key out of a file that may end up in version control
    if isinstance(url, str) and url.startswith("env:"):
        url = os.environ.get(url[4:])
        if not url:
            raise NotifyConfigError(f"{where}: field 'url' names an unset environment variable")
    url = _http_url(url, where, "url")
    offices = raw.get("offices")
    if offices is not None:
        if not isinstance(offices, list) or not all(isinstance(o, str) for o in offices):
            raise NotifyConfigError(f"{where}: field 'offices' must be a list of office ids or null")
        if not offices:
            raise NotifyConfigError(f"{where}: field 'offices' is empty, which matches nothing; "
                                    "use null for every office")
        offices = frozenset(offices)
    sev = raw.get("min_severity", "low")
    if sev not in SEVERITIES:
        raise NotifyConfigError(f"{where}: field 'min_severity' must be one of {list(SEVERITIES)}")
    drill = raw.get("drill", False)
    if not isinstance(drill, bool):
        raise NotifyConfigError(f"{where}: field 'drill' must be true or false")
    secret = raw.get("secret")
    if secret is not None and (fmt != "dingtalk" or not isinstance(secret, str)):
        raise NotifyConfigError(f"{where}: field 'secret' is a DingTalk signing key (a string)")
    rate_default = ROBOT_RATE_PER_MINUTE if fmt != "json" else 0
    rate = _number(raw, "rate_per_minute", rate_default, where, 0, integer=True)
    return Target(name, url, fmt, offices, sev, drill, secret, rate)
