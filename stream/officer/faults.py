"""Store writes the disk refused (disk full, I/O error): counted in
`lookout_store_errors_total`, and shown (/healthz `store_fault`, the page's ops banner) from the
first failure until a write succeeds again."""

from __future__ import annotations

from alerts.timefmt import wall_ms
from stream.metrics import LookoutMetrics


class StoreFaults:
    def __init__(self, metrics: LookoutMetrics):
        self.metrics = metrics
        self.current: dict | None = None

    def failed(self, exc: BaseException) -> None:
        """The store's write-error hook (`Store(on_write_error=...)`)."""
        self.metrics.observe_store_error("write")
        fault = self.current or {"since_ms": wall_ms(), "failures": 0}
        fault["failures"] += 1
        fault["error"] = str(exc)
        self.current = fault

    def cleared(self) -> dict | None:
        """A write succeeded: the fault that ended (None when there was none)."""
        fault, self.current = self.current, None
        return fault
