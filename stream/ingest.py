"""HTTP ingest for location gateways: `POST /v1/events` (SPEC §1).

The body is a JSON array of events or JSONL, at most 1 MiB (a UTF-8 byte order mark at its
start is allowed), with `Authorization: Bearer <gateway token>`. Rejected records go to the
dead letters, the first `dead_letters_per_request` of a request verbatim, the rest counted. The answer, 202, comes only once the accepted events are committed to the
runtime's inbox, so a gateway may forget whatever it was answered 202 for; on any other
answer (or none) it should send again: duplicates are counted and ignored by the engine.
"""

from __future__ import annotations

import secrets

import msgspec
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from alerts.service import OfficerService
from alerts.store import StoreWriteError
from alerts.timefmt import wall_ms

MAX_BODY = 1 << 20
RETRY_AFTER_S = 5  # the engine retries the store faster; a gateway need not hammer it
UTF8_BOM = b"\xef\xbb\xbf"
_ARRAY = msgspec.json.Decoder(list[msgspec.Raw])


class IngestResult(BaseModel):
    accepted: int
    rejected: int
    rejected_by_reason: dict[str, int]


def error(status: int, code: str, zh: str, en: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "message": {"zh": zh, "en": en}}, status, headers)


class _TooLarge(Exception):
    pass


async def _body(request: Request) -> bytes:
    """The body, refused as soon as it is known to pass MAX_BODY (before reading it all)."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_BODY:
        raise _TooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def split_records(body: bytes, content_type: str) -> list[bytes]:
    """One raw text per record. A body that is not declared JSONL and starts with "[" is a
    JSON array; a malformed one raises ValueError."""
    if "ndjson" in content_type or "jsonl" in content_type or body.lstrip()[:1] != b"[":
        return body.split(b"\n")
    try:
        items = _ARRAY.decode(body)
    except msgspec.DecodeError as exc:
        raise ValueError(str(exc)) from None
    # Each element's original text; a line break in it can only be JSON whitespace.
    return [bytes(item).replace(b"\r", b" ").replace(b"\n", b" ") for item in items]


def build_ingest_router(runtime: OfficerService) -> APIRouter:
    router = APIRouter(tags=["ingest 数据接入"])
    tokens = [t.encode() for t in runtime.gateway_tokens]

    def authorised(header: str | None) -> bool:
        if not header or not header.lower().startswith("bearer "):
            return False
        given = header[7:].strip().encode()
        # compare against every token so the time taken does not tell which one nearly matched
        return sum(secrets.compare_digest(given, t) for t in tokens) > 0

    @router.post(
        "/v1/events", status_code=202, response_model=IngestResult,
        summary="Send location events / 上报定位事件",
        description="A JSON array of SPEC §1 events (application/json) or JSONL "
                    "(application/x-ndjson), at most 1 MiB. Rejected records go to the dead "
                    "letters with a reason; they never fail the request.",
        responses={400: {"description": "malformed JSON array"}, 401: {"description": "bad token"},
                   413: {"description": "body over 1 MiB"},
                   503: {"description": "not running, or the store cannot write (Retry-After)"}},
        openapi_extra={"requestBody": {"required": True, "content": {
            "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
            "application/x-ndjson": {"schema": {"type": "string"}}}}},
    )
    async def post_events(request: Request):
        if not authorised(request.headers.get("authorization")):
            return error(401, "unauthorized", "网关令牌缺失或无效", "missing or invalid gateway token",
                         {"WWW-Authenticate": "Bearer"})
        try:
            body = await _body(request)
        except _TooLarge:
            return error(413, "payload_too_large", "请求体超过 1 MiB，请分批发送",
                         "body over 1 MiB: send smaller batches")
        received_at = wall_ms()
        # Windows tools (Notepad, PowerShell's UTF8 encoding) start a file with a BOM
        body = body.removeprefix(UTF8_BOM)
        try:
            lines = split_records(body, request.headers.get("content-type", "").lower())
        except ValueError as exc:
            return error(400, "malformed_body", f"JSON 数组格式错误：{exc}",
                         f"malformed JSON array: {exc}")
        try:
            accepted, by_reason = await run_in_threadpool(runtime.submit_events, lines, received_at)
        except StoreWriteError:
            return error(503, "store_unwritable", "存储暂时无法写入（磁盘已满或读写错误），请稍后重发",
                         "the store cannot write now (disk full or I/O error): send again later",
                         {"Retry-After": str(RETRY_AFTER_S)})
        except RuntimeError:
            return error(503, "unavailable", "服务正在停止或出错，请稍后重发",
                         "the service is stopping or failed: send again later")
        return JSONResponse({"accepted": accepted, "rejected": sum(by_reason.values()),
                             "rejected_by_reason": by_reason}, 202)

    return router
