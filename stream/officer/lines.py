"""Event lines as gateways hand them in (str or bytes, blank lines between records)."""

from __future__ import annotations

from collections.abc import Iterable


def nonblank(lines: Iterable[str | bytes | bytearray | memoryview]) -> list[bytes]:
    """Each line as bytes, as it came (surrounding white space kept), blank ones left out."""
    out = [ln.encode() if isinstance(ln, str) else bytes(ln) for ln in lines]
    return [ln for ln in out if ln.strip()]
