"""The compiled bundle cache: a checked bundle, and what is built from it, kept on disk.

Checking a province's bundle and compiling its zones and persons takes seconds; the service,
each Kafka worker and every replay would pay them again on each start, during which nobody
is watched. After a bundle has passed every check, the loader keeps what it built (and the
engine, decoder and coverage report keep what they build from it) in the user's cache folder
(~/.cache/lookout/bundles), or in the folder `LOOKOUT_BUNDLE_CACHE` names (`off`: no cache).
Not in the bundle folder: that belongs to whoever edits the bundle (and `lookout admin`).

An entry is found by a key over the bytes of every bundle file (their digest remembered by
stat, see _files_digest), the settings in force (the
environment included) and the code that builds and reads it (its source files, Python's and
the libraries' versions): any change to any of them is a different key, so an entry is never
used for anything but the exact bundle it was checked from. A bundle that fails its checks
writes nothing. An entry that cannot be read (cut short, corrupted, an older format) is
ignored and rebuilt; one that cannot be written (a read-only folder) is simply not kept.

The files are pickles: whoever can write to the cache folder can run code in Lookout, so it
must be private to the account Lookout runs as (the user's own cache folder is). Each file carries the SHA-256 of its
contents, checked before it is read, so damage is caught rather than half-read.
"""

from __future__ import annotations

import gc
import hashlib
import importlib.util
import os
import pickle
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from config.model import Bundle

ENV = "LOOKOUT_BUNDLE_CACHE"
BUNDLE_FILES = ("zones.geojson", "persons.jsonl", "officers.json", "permits.jsonl",
                "settings.toml")
# What builds or reads the cached objects: a change to any of these files is a new key.
_CODE = ("config", "geofences", "alerts.caseload", "alerts.coverage", "alerts.routing",
         "stream.decode")
_FORMAT = b"lookout-bundle-cache 1\n"
# Entries kept: the newest few (the bundles in use, their last versions, a trial of settings)
# and any used within the last days; a province's entry is about 60 MB.
_KEEP = 8
_KEEP_USED_S = 2 * 86400

T = TypeVar("T")


class Compiled:
    """What was built from one loaded bundle: remembered in memory, and on disk when the
    bundle came from load_bundle with the cache on."""

    __slots__ = ("folder", "sources", "_memo")

    def __init__(self, folder: Path | None = None, sources: tuple = ()) -> None:
        self.folder = folder
        self.sources = sources  # the objects it was built from, to tell if they were swapped
        self._memo: dict[str, Any] = {}

    def __reduce__(self) -> tuple:
        return Compiled, ()  # a copy starts empty: what it would carry is in the cache

    def get(self, name: str, build: Callable[[], T]) -> T:
        """The object called `name`: remembered, else read from the cache, else built (and
        kept)."""
        if name in self._memo:
            return self._memo[name]
        path = None if self.folder is None else self.folder / _file_name(name)
        found = None if path is None else _read(path)
        if found is None:
            found = build()
            if path is not None:
                _write(path, found)
        self._memo[name] = found
        return found


def compiled(bundle: Bundle) -> Compiled:
    """The bundle's compiled objects, or a fresh store when the bundle is not (or no longer)
    what the loader made: built by hand, or with an attribute swapped since."""
    store = bundle.compiled
    now = _sources(bundle)
    if len(store.sources) == len(now) and all(a is b for a, b in zip(store.sources, now,
                                                                   strict=True)):
        return store
    return Compiled()


def _sources(bundle: Bundle) -> tuple:
    return (bundle.settings, bundle.zones, bundle.persons, bundle.officers, bundle.shifts,
            bundle.permits, bundle.offices)


def attach(bundle: Bundle, folder: Path | None) -> Bundle:
    bundle.compiled = Compiled(folder, _sources(bundle))
    return bundle


# -- where entries live, and their keys -------------------------------------------------------


def entry_folder(bundle_dir: Path, settings_json: bytes) -> Path | None:
    """The cache entry for this bundle as it is on disk now, or None with the cache off.
    Where the folder is does not matter: a copy of the bundle (the scratch copy an admin edit
    is checked on, the demo's copy) finds the entry of the original."""
    root = cache_root()
    if root is None:
        return None
    files = _files_digest(root, bundle_dir)
    if files is None:
        return None  # unreadable: the loader says what is wrong
    digest = hashlib.sha256(_code_version())
    digest.update(settings_json)
    digest.update(files)
    return root / digest.hexdigest()[:32]


# A file changed less than this before it was hashed may change again within the same
# timestamp tick without its stat changing: its digest is not remembered ("racy git").
_RACY_NS = 2_000_000_000


def _files_digest(root: Path, bundle_dir: Path) -> bytes | None:
    """SHA-256 over the bundle files' names and bytes. Reading and hashing a province's 37 MB
    cost ~50 ms of every start, so the digest is remembered beside the entries with each file's
    size, inode, mtime and ctime; a file whose stat differs in any of them is read again."""
    stats: list[tuple] = []  # (name,) for a missing file
    for name in BUNDLE_FILES:
        try:
            st = os.stat(bundle_dir / name)
        except FileNotFoundError:
            stats.append((name,))
            continue
        except OSError:
            return None
        stats.append((name, st.st_size, st.st_ino, st.st_dev, st.st_mtime_ns, st.st_ctime_ns))
    memo = root / f"files-{hashlib.sha256(os.fsencode(bundle_dir.resolve())).hexdigest()[:32]}"
    remembered = _read(memo)
    if isinstance(remembered, tuple) and len(remembered) == 2 and remembered[0] == stats:
        return remembered[1]
    digest = hashlib.sha256()
    for name in BUNDLE_FILES:
        try:
            data = (bundle_dir / name).read_bytes()
        except FileNotFoundError:
            digest.update(b"\0missing " + name.encode())
            continue
        except OSError:
            return None
        digest.update(b"\0%s %d\0" % (name.encode(), len(data)))
        digest.update(data)
    files = digest.digest()
    settled = time.time_ns() - _RACY_NS
    if all(len(st) == 1 or max(st[4], st[5]) < settled for st in stats):
        _write(memo, (stats, files))
    return files


def cache_root() -> Path | None:
    """The folder of all entries: LOOKOUT_BUNDLE_CACHE, else the user's cache folder
    ($XDG_CACHE_HOME or ~/.cache, then lookout/bundles); None when the setting is off."""
    setting = os.environ.get(ENV, "")
    if setting.lower() in ("off", "0", "no", "false"):
        return None
    if setting:
        return Path(setting)
    home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(home) / "lookout" / "bundles"


_code_digest: bytes | None = None


def _code_version() -> bytes:
    global _code_digest
    if _code_digest is None:
        import numpy
        import shapely

        digest = hashlib.sha256(_FORMAT)
        digest.update(f"{sys.version} {numpy.__version__} {shapely.__version__}".encode())
        for path in _code_files():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
        _code_digest = digest.digest()
    return _code_digest


def _code_files() -> Iterator[Path]:
    for module in _CODE:
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin)
        if spec.submodule_search_locations:  # a package: all its modules, its subpackages too
            yield from sorted(origin.parent.rglob("*.py"))
        else:
            yield origin


# -- entry files --------------------------------------------------------------------------------


def read_bundle(folder: Path | None) -> Any:
    return None if folder is None else _read(folder / _file_name("bundle"))


def write_bundle(folder: Path | None, parts: Any) -> None:
    if folder is None:
        return
    _write(folder / _file_name("bundle"), parts)
    _prune(folder)


def _file_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name) + ".pickle"


@contextmanager
def no_gc_pauses() -> Iterator[None]:
    # A province's bundle is a million small objects that all live on: the cyclic collector
    # would scan them again and again while they are made, for nothing (a third of the time).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _read(path: Path) -> Any:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    head = len(_FORMAT) + 32
    if data[:len(_FORMAT)] != _FORMAT or hashlib.sha256(data[head:]).digest() != data[
            len(_FORMAT):head]:
        return None  # damaged or of another format: built again, and overwritten
    try:
        with no_gc_pauses():
            return pickle.loads(memoryview(data)[head:])
    except Exception:  # a checked file that still fails to load: rebuilt, never a stop
        return None


def _write(path: Path, value: Any) -> None:
    try:
        payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(_FORMAT + hashlib.sha256(payload).digest())
            fh.write(payload)
        os.chmod(tmp, 0o644)  # as readable as the bundle: mkstemp makes it the owner's only
        os.replace(tmp, path)
    except (OSError, pickle.PicklingError, TypeError, AttributeError):
        return  # not kept: the next start builds it again


def _prune(folder: Path) -> None:
    """Drops entries beyond the newest _KEEP that were not used for _KEEP_USED_S."""
    try:
        entries = sorted(((e.stat().st_mtime, e) for e in folder.parent.iterdir() if e.is_dir()),
                         reverse=True)
    except OSError:
        return
    now = time.time()
    for used, old in entries[_KEEP:]:
        if old != folder and now - used > _KEEP_USED_S:
            shutil.rmtree(old, ignore_errors=True)


def touch(folder: Path | None) -> None:
    """Marks an entry as used, so that pruning keeps it."""
    if folder is not None:
        with suppress(OSError):
            os.utime(folder)
