"""One HTTP POST and what its answer means for retrying; the backoff between tries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import random
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import quote_plus

from alerts.notify.config import Retry

MAX_ANSWER = 64 * 1024  # a robot answers in a few dozen bytes; never read a runaway body whole


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    retryable: bool = False
    detail: str = "ok"
    retry_after_s: float | None = None


def post(opener: urllib.request.OpenerDirector, url: str, body: bytes, headers: dict,
         timeout_s: float, robot: bool) -> Outcome:
    """POST `body`; `robot`: the answer is WeCom/DingTalk JSON whose errcode must be 0.

    Details never include the URL: a robot's webhook key is in it."""
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with opener.open(req, timeout=timeout_s) as resp:
            answer = resp.read(MAX_ANSWER)
    except urllib.error.HTTPError as e:
        code = e.code
        e.close()
        if code == 429 or code >= 500:
            return Outcome(False, True, f"http {code}", _retry_after(e.headers))
        # any other 4xx will be refused the same way next time: wrong URL, bad key, bad body
        return Outcome(False, False, f"http {code}")
    except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
        why = getattr(e, "reason", None) or e
        return Outcome(False, True, f"network: {type(why).__name__}: {why}"[:200])
    if not robot:
        return Outcome(True)
    try:
        doc = json.loads(answer)
    except ValueError:
        # a 200 that is not the robot's JSON is a proxy or portal page: nothing was delivered
        return Outcome(False, True, "answer is not JSON")
    code = doc.get("errcode", 0) if isinstance(doc, dict) else 0
    if code != 0:
        # rate limits and "system busy" are errcodes under HTTP 200; retry them all, since a
        # lane only holds up its own target
        return Outcome(False, True, f"errcode {code}: {str(doc.get('errmsg', ''))[:120]}")
    return Outcome(True)


def _retry_after(headers) -> float | None:
    if headers is None:
        return None
    try:
        value = float(headers.get("Retry-After", ""))
    except (TypeError, ValueError):
        return None
    return value if value >= 0 else None


def backoff_s(tries: int, retry: Retry, rng: random.Random, retry_after_s: float | None = None) -> float:
    """Wait before try number tries + 1: exponential, capped, with "equal jitter" (half fixed,
    half random), so that retries from many alerts spread out but never come back at once."""
    cap = min(retry.max_delay_s, retry.base_delay_s * 2 ** (tries - 1))
    delay = rng.uniform(cap / 2, cap)
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, retry.max_delay_s))
    return delay


def dingtalk_signed(url: str, secret: str, now_s: float) -> str:
    """DingTalk's 加签: HMAC-SHA256 over "timestamp\\nsecret", valid for an hour, so it is
    computed afresh for every try."""
    ts = str(int(now_s * 1000))
    digest = hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}timestamp={ts}&sign={quote_plus(base64.b64encode(digest))}"
