"""A proposed settings file on top of a bundle: the bundle as it would load with those settings.

    current, proposed, changes = proposed_bundle("bundle/", "new.toml")

`new.toml` holds only the settings to change (keys of `config/settings.py`). A mistake raises
BundleError naming the file, the line and the setting, like a bad bundle does. The proposed
bundle is loaded by the ordinary loader from a folder that links to the bundle's files with a
merged `settings.toml`, so everything derived from settings at load (default buffers, silence
timeouts) follows the proposal exactly as it would in production.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tempfile
import tomllib
from contextlib import contextmanager
from pathlib import Path

from pydantic import ValidationError

from config.loader import BundleError, load_bundle
from config.model import Bundle
from config.settings import Settings


def _line_of(text: str, key: str) -> str:
    """'line N' of the setting's assignment (a dotted key or a [table] header), or ''."""
    top = re.escape(key.split(".")[0])
    pattern = re.compile(rf"^\s*(?:{top}\s*[.=]|\[\s*{top}\s*\])")
    for n, line in enumerate(text.splitlines(), 1):
        if pattern.match(line):
            return f"line {n}"
    return ""


def read_proposal(path: str | Path, current: Settings) -> tuple[Settings, dict]:
    """The proposed Settings (current ones overlaid with the file) and {key: (old, new)}."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise BundleError(name, "", "(file)", f"cannot read: {e}") from None
    try:
        toml = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"line (\d+)", str(e))
        raise BundleError(name, f"line {m[1]}" if m else "", "(toml)",
                          f"malformed TOML: {e}") from None
    for key in toml:
        if key not in Settings.model_fields:
            close = difflib.get_close_matches(key, list(Settings.model_fields), n=1)
            hint = f' (did you mean "{close[0]}"?)' if close else ""
            raise BundleError(name, _line_of(text, key), key, "unknown setting" + hint)
    merged = current.model_dump() | toml
    if isinstance(toml.get("escalate_after_s"), dict):
        merged["escalate_after_s"] = current.escalate_after_s.model_dump() | toml["escalate_after_s"]
    try:
        proposed = Settings(**merged)
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(x) for x in err["loc"])
        problem = err["msg"].replace("Input should be ", "must be ").replace(
            "Extra inputs are not permitted", "unknown setting")
        raise BundleError(name, _line_of(text, field), field,
                          f"{problem}, got {json.dumps(err.get('input'), default=repr)}") from None
    old, new = current.model_dump(), proposed.model_dump()
    changes = {k: (old[k], new[k]) for k in new if old[k] != new[k]}
    return proposed, changes


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)  # a TOML basic string
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"no TOML form for {type(v).__name__}")


@contextmanager
def _without_env(keys):
    """The environment outranks settings.toml; a proposal must not be overruled by it."""
    saved = {}
    for k in keys:
        var = f"LOOKOUT_{k}".upper()
        for name in [n for n in os.environ if n.upper() == var]:
            saved[name] = os.environ.pop(name)
    try:
        yield
    finally:
        os.environ.update(saved)


def proposed_bundle(bundle_dir: str | Path, settings_path: str | Path
                    ) -> tuple[Bundle, Bundle, dict]:
    """(current bundle, proposed bundle, {setting: (current, proposed)})."""
    current = load_bundle(bundle_dir)
    settings, changes = read_proposal(settings_path, current.settings)
    src = Path(bundle_dir).resolve()
    with tempfile.TemporaryDirectory(prefix="lookout-proposed-") as tmp:
        for f in src.iterdir():
            if f.name != "settings.toml":
                (Path(tmp) / f.name).symlink_to(f)
        (Path(tmp) / "settings.toml").write_text(
            "".join(f"{k} = {_toml_value(v)}\n" for k, v in settings.model_dump().items()),
            encoding="utf-8")
        with _without_env(changes):
            proposed = load_bundle(tmp)
    proposed.path = current.path
    return current, proposed, changes
