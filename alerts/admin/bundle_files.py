"""The bundle's files as text, and changes to them that survive a crash at any moment.

A change to reference data travels through the runtime's inbox (stream/live.py) as one row:
the new text of every file it touches and the text each replaces. The row is committed
before any file is written, and the files are written when the engine reaches the row, so:

* a crash before the commit changes nothing;
* a crash after it finds the row on restart: the files go back to the texts the last
  snapshot was taken with (the earliest `before` of each file among the rows still in the
  inbox), inputs before the row re-run against that bundle, and the row writes its files
  again, so inputs after it re-run against the new one;
* a change that touches two files (releasing a person also drops their permits) can never
  be left half-written: the row holds both.

Each file is replaced atomically (a temporary file, fsync, os.replace, fsync of the folder).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zlib
from pathlib import Path

import orjson

from config.loader import load_bundle
from config.model import Bundle

BUNDLE_FILES = ("zones.geojson", "persons.jsonl", "officers.json", "permits.jsonl",
                "settings.toml")

Texts = dict[str, str | None]  # file name -> text, None: the file is absent


def read_texts(folder: Path) -> Texts:
    out: Texts = {}
    for name in BUNDLE_FILES:
        try:
            # bytes, not read_text(): a \r\n or a BOM must come back exactly as it was
            out[name] = (Path(folder) / name).read_bytes().decode("utf-8")
        except FileNotFoundError:
            out[name] = None
    return out


def write_texts(folder: Path, texts: Texts) -> list[str]:
    """Make the folder hold `texts`; returns the names that had to change."""
    folder = Path(folder)
    changed = []
    for name, text in texts.items():
        if name not in BUNDLE_FILES:
            raise ValueError(f"not a bundle file: {name}")
        path = folder / name
        try:
            current = path.read_bytes().decode("utf-8")
        except FileNotFoundError:
            current = None
        except UnicodeDecodeError:
            current = ""  # unreadable as it is: replaced whatever `text` is
        if current == text:
            continue
        changed.append(name)
        if text is None:
            path.unlink(missing_ok=True)
            continue
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(text.encode("utf-8"))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    if changed:
        _fsync_dir(folder)
    return changed


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # not every file system lets a folder be opened; the rename is still atomic
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load_with(folder: Path, texts: Texts) -> Bundle:
    """The bundle the folder would hold with `texts` written over it, loaded from a scratch
    copy: BundleError (file:line:field) comes back without the real folder being touched."""
    scratch = Path(tempfile.mkdtemp(prefix="lookout-bundle-"))
    try:
        for name in BUNDLE_FILES:
            if name in texts:
                text = texts[name]
                if text is not None:
                    (scratch / name).write_bytes(text.encode("utf-8"))
            elif (Path(folder) / name).exists():
                shutil.copyfile(Path(folder) / name, scratch / name)
        return load_bundle(scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def pack(change: dict) -> bytes:
    # persons.jsonl of a province is tens of MB and compresses ~10x: the row stays small
    return zlib.compress(orjson.dumps(change), 6)


def unpack(payload: bytes) -> dict:
    return orjson.loads(zlib.decompress(payload))


def base_texts(current: Texts, pending: list[dict]) -> Texts:
    """The texts the snapshot was taken with: the current ones, with each file pending
    changes touch taken back to the `before` of the first of them."""
    base = dict(current)
    for change in reversed(pending):
        base.update(change["before"])
    return base
