"""The officer service: what the officers' page, API and admin tools ask of a running Lookout.

Two backends play this role: the in-process engine with its inbox (`stream/live.py`) and the
Kafka producer plus alerts reader (`stream/kafka/officer.py`). Callers depend on this Protocol
only. What one backend cannot do it refuses explicitly with `NotInThisMode`, never by a
missing attribute.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from alerts.store import Store
    from config.loader import Bundle
    from config.model import PersonSpec

BundleTexts = dict[str, str | None]


class NotInThisMode(RuntimeError):
    """The running backend cannot do this (e.g. person state or bundle changes in Kafka mode,
    where the engine state lives in the workers). The message says so in 中文 and English:
    `en` and `zh` apart for an API's bilingual answer, `code` a stable word for it."""

    def __init__(self, en: str, zh: str = "", *, code: str = "not_in_this_mode"):
        super().__init__(f"{en} / {zh}" if zh else en)
        self.en, self.zh, self.code = en, zh, code


class Subscription(Protocol):
    """New alert versions for one listener, in the order they were stored."""

    def get(self, timeout: float | None = None) -> dict | None: ...

    def close(self) -> None: ...


class Metrics(Protocol):
    """The service's Prometheus metrics, as the HTTP shell exposes them."""

    def starlette_endpoint(self) -> Callable[..., Any]: ...


class OfficerService(Protocol):
    """One running Lookout as the officers' side sees it."""

    bundle: Bundle
    bundle_dir: Path
    store: Store

    @property
    def metrics(self) -> Metrics: ...

    @property
    def gateway_tokens(self) -> tuple[str, ...]: ...

    @property
    def bundle_invalid(self) -> dict | None:
        """The bundle on disk that was refused (file, where, field, since_ms), while it stays
        there and the service runs on the last good one."""
    @property
    def alive(self) -> bool: ...

    @property
    def bundle_texts(self) -> BundleTexts: ...

    @property
    def former_persons(self) -> dict[str, PersonSpec]: ...

    def start(self) -> OfficerService: ...

    def stop(self) -> None: ...

    def stats(self) -> dict: ...

    def office_of(self, person_id: str | None) -> str | None: ...

    def person_status(self, person_id: str) -> dict | None: ...

    def submit_events(self, lines, received_at_ms: int | None = None) -> tuple[int, dict[str, int]]: ...

    def submit_action(self, action: dict, timeout: float = 30.0) -> list[dict]: ...

    def change_bundle(self, texts: BundleTexts, *, audit: tuple | None = None,
                      timeout: float = 120.0) -> Bundle: ...

    def subscribe(self, maxsize: int = 10_000) -> Subscription: ...

    def purge_now(self, now_ms: int | None = None, who: str = "lookout") -> dict: ...
