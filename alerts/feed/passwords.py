"""Passwords: the one policy for setting them and logging in, and the scrypt hash, computed
away from the server's threads."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import select
import subprocess
import sys
import threading
import time
import unicodedata
from contextlib import suppress
from pathlib import Path

log = logging.getLogger(__name__)

# One password policy, for setting a password (admin API, CLI) and for logging in. The upper
# bound keeps a login request from feeding scrypt megabytes.
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 256
# One password hash at a time, in a process niced to HASH_NICE (see Hasher): a flood of logins
# cannot take the cores and memory ingest needs. A login not hashed within HASH_WAIT_S is
# answered "busy" without being counted. One: scrypt is memory-hard, and two at once on a
# 2-core machine tripled ingest's median latency under a flood (benchmarks/login_flood.py);
# one still checks ~20 logins a second.
HASH_NICE = 10
HASH_WAIT_S = 3.0
# scrypt cost: ~50 ms and 16 MiB per check. Stored per row, so it can be raised later and
# old hashes still verify.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
_MAXMEM = 64 * 1024 * 1024


def scrypt_hash(password: str, salt: bytes, n: int = SCRYPT_N, r: int = SCRYPT_R,
                p: int = SCRYPT_P) -> bytes:
    # NFC: the same characters typed through different input methods must match
    secret = unicodedata.normalize("NFC", password).encode("utf-8")
    return hashlib.scrypt(secret, salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=32)


def check_password(password) -> None:
    """The password policy: ValueError (中文 and English) when `password` breaks it."""
    if not isinstance(password, str) or not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise ValueError(f"密码须为 {MIN_PASSWORD_CHARS}–{MAX_PASSWORD_CHARS} 个字符 / password: "
                         f"{MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters")


class HashBusy(Exception):
    pass


class Hasher:
    """Password hashes run in a process of its own (`python -m alerts.feed.passwords`), at a
    low CPU priority, one at a time. Not a thread: CPython's scrypt holds the GIL for its whole
    ~50 ms, which stalled every other thread of the service (ingest included) behind each
    login, and each thread that ever hashed kept 16 MiB. Not multiprocessing either: its
    "spawn" re-imports the service's main module in the child. The process reads one request
    per line and exits when its input closes, so it dies with the service, however that ends.

    A caller waits at most `wait_s` for its turn and its answer: then `HashBusy` (the login is
    answered "busy", nothing counted). If the process cannot be started, the hash runs in the
    service, one at a time, rather than refuse every login (the admin's included)."""

    def __init__(self, wait_s: float):
        self.wait_s = wait_s
        self._proc: subprocess.Popen | None = None
        self._turn = threading.Lock()
        self._inline = False

    def warm(self) -> None:
        """Start the process now, so that the first login does not pay for it."""
        with self._turn:
            self._process()

    def _process(self) -> subprocess.Popen | None:
        if self._proc is None or self._proc.poll() is not None:
            try:
                self._proc = subprocess.Popen(
                    [sys.executable, "-m", "alerts.feed.passwords"], stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE, cwd=Path(__file__).resolve().parents[2])
            except OSError:
                if not self._inline:
                    log.warning("password hash process cannot start; hashing in the service "
                                "/ 密码哈希进程无法启动，改在服务进程内计算")
                self._inline, self._proc = True, None
        return self._proc

    def hash(self, password: str, salt: bytes, n: int = SCRYPT_N, r: int = SCRYPT_R,
             p: int = SCRYPT_P) -> bytes:
        deadline = time.monotonic() + self.wait_s
        if not self._turn.acquire(timeout=self.wait_s):
            raise HashBusy
        try:
            proc = self._process()
            if proc is None:
                return scrypt_hash(password, salt, n, r, p)
            request = json.dumps({"password": password, "salt": salt.hex(), "n": n, "r": r,
                                  "p": p}).encode() + b"\n"
            stdin, stdout = proc.stdin, proc.stdout
            assert stdin is not None and stdout is not None  # opened with PIPE
            try:
                stdin.write(request)
                stdin.flush()
                ready, _, _ = select.select([stdout], [], [],
                                            max(0.0, deadline - time.monotonic()))
                line = stdout.readline() if ready else b""
            except (OSError, ValueError):
                line = b""
            if not line:  # too slow, or gone: a fresh process for the next one
                proc.kill()
                proc.wait()
                self._proc = None
                raise HashBusy
            return bytes.fromhex(line.decode())
        finally:
            self._turn.release()


def _serve() -> None:
    """The hash process: one JSON request per line in, the hex digest per line out."""
    with suppress(OSError):
        os.nice(HASH_NICE)
    for line in sys.stdin.buffer:
        req = json.loads(line)
        digest = scrypt_hash(req["password"], bytes.fromhex(req["salt"]), req["n"], req["r"],
                             req["p"])
        sys.stdout.write(digest.hex() + "\n")
        sys.stdout.flush()


hasher = Hasher(HASH_WAIT_S)


if __name__ == "__main__":
    _serve()
