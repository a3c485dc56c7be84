"""One-time tickets: a short-lived, single-use stand-in for a session token, for the requests a
browser cannot send an Authorization header with (a summary opened in a new tab, an
EventSource). A URL is kept by browser history and proxy logs; a ticket found there is useless:
it was spent when the page used it, and it dies after `TICKET_TTL_S` anyway."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable

TICKET_TTL_S = 60.0


class Tickets:
    def __init__(self, clock: Callable[[], float] = time.monotonic, ttl_s: float = TICKET_TTL_S):
        self._tickets: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self.clock = clock
        self.ttl_s = ttl_s

    def issue(self, token: str, ttl_s: float | None = None) -> str:
        """`ttl_s`: longer than the default for a ticket a person fills a form with."""
        ticket = secrets.token_urlsafe(24)
        now = self.clock()
        with self._lock:
            self._tickets = {k: v for k, v in self._tickets.items() if v[1] > now}
            self._tickets[ticket] = (token, now + (ttl_s or self.ttl_s))
        return ticket

    def redeem(self, ticket: str | None) -> str | None:
        """The session token the ticket stands for, once; None when unknown, spent or old."""
        if not ticket:
            return None
        with self._lock:
            token, expires = self._tickets.pop(ticket, (None, 0.0))
        return token if expires > self.clock() else None
