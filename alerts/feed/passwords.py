"""Passwords: the one policy for setting them and logging in, and the scrypt hash, computed
away from the server's threads."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import threading
import time
import unicodedata
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from contextlib import suppress

# One password policy, for setting a password (admin API, CLI) and for logging in. The upper
# bound keeps a login request from feeding scrypt megabytes.
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 256
# At most this many password hashes at once (each ~50 ms of a core and 16 MiB), in processes
# niced to HASH_NICE, so that a flood of logins cannot take the cores and memory
# ingest needs. A login whose hash is not done within HASH_WAIT_S, or that finds
# HASH_MAX_WAITING others waiting, is answered "busy" without being counted.
# One: scrypt is memory-hard, and a second one at once on a 2-core machine tripled ingest's
# median latency under a flood (benchmarks/login_flood.py); one still checks 20 logins a second.
HASH_SLOTS = 1
HASH_NICE = 10
HASH_WAIT_S = 3.0
HASH_MAX_WAITING = 16
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


def _hash_process_start(service_pid: int) -> None:
    # the hash process yields the cores to ingest and the engine whenever those want them...
    with suppress(OSError):
        os.nice(HASH_NICE)
    # ...and does not outlive the service, even one killed with SIGKILL
    threading.Thread(target=_exit_with, args=(service_pid,), daemon=True).start()


def _exit_with(service_pid: int) -> None:
    while os.getppid() == service_pid:
        time.sleep(1.0)
    os._exit(0)


class Hasher:
    """Password hashes run in `slots` processes of their own, at a low CPU priority. Not
    threads: CPython's scrypt holds the GIL for its whole ~50 ms, which stalled every other
    thread of the service (ingest included) behind each login. So: never more than `slots`
    hashes at once whatever the number of requests, scrypt's 16 MiB lives in those processes
    only, and the server's threads never wait for a hash to give the GIL back. A caller waits
    at most `wait_s`, and not at all when `max_waiting` are already waiting: then `HashBusy`
    (the login is answered "busy", nothing counted)."""

    def __init__(self, slots: int, wait_s: float, max_waiting: int):
        self.slots, self.wait_s, self.max_waiting = slots, wait_s, max_waiting
        self._pool: ProcessPoolExecutor | None = None
        self._waiting = 0
        self._lock = threading.Lock()

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:  # started on the first login, not at import
                self._pool = ProcessPoolExecutor(
                    self.slots, mp_context=multiprocessing.get_context("spawn"),
                    initializer=_hash_process_start, initargs=(os.getpid(),))
            return self._pool

    def warm(self) -> None:
        """Start the processes now, so that the first logins do not pay for it."""
        self._executor().submit(int)

    def _done(self, _future) -> None:
        with self._lock:
            self._waiting -= 1

    def run(self, fn: Callable[..., bytes], *args) -> bytes:
        pool = self._executor()
        with self._lock:
            if self._waiting >= self.max_waiting:
                raise HashBusy
            self._waiting += 1
        try:
            future = pool.submit(fn, *args)
        except BrokenProcessPool:  # a hash process was killed: start over next time
            self._waiting -= 1
            with self._lock:
                self._pool = None
            raise HashBusy from None
        future.add_done_callback(self._done)
        try:
            return future.result(timeout=self.wait_s)
        except FutureTimeout:
            future.cancel()  # not started yet: never will; started: its answer is dropped
            raise HashBusy from None
        except BrokenProcessPool:
            with self._lock:
                self._pool = None
            raise HashBusy from None


hasher = Hasher(HASH_SLOTS, HASH_WAIT_S, HASH_MAX_WAITING)
