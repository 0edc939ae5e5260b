"""Limits on what a caller may send: requests per API key, and the size of request heads.

A key may send ``burst`` requests at once, then ``rate`` per second; past that it gets
``429`` with ``Retry-After`` saying when the next request will be taken. The buckets live
in the process (each app node limits on its own). Oversized headers or URLs are refused
before any route runs. (Body sizes are limited where bodies are read: ingest/decode.py.)
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

import msgspec
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from livereport.errors import LivereportError, PayloadTooLarge

#: Buckets kept at most; full buckets are forgotten first when there are more.
MAX_BUCKETS = 100_000


class TooManyRequests(LivereportError):
    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class _Bucket:
    tokens: float
    updated: float


class KeyBuckets:
    """One token bucket per key id; ``rate`` 0 turns the limit off."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self._buckets: dict[int, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key_id: int, now: float | None = None) -> None:
        """Spend one token of the key's bucket, or raise TooManyRequests."""
        if self.rate <= 0:
            return
        now = time.monotonic() if now is None else now
        with self._lock:
            bucket = self._buckets.get(key_id)
            if bucket is None:
                if len(self._buckets) >= MAX_BUCKETS:
                    self._forget_full(now)
                bucket = self._buckets[key_id] = _Bucket(float(self.burst), now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return
            wait = math.ceil((1 - bucket.tokens) / self.rate)
        raise TooManyRequests(
            f"this API key sent more than {self.rate:g} requests per second (bursts of "
            f"{self.burst}); retry in {wait} s, or send more events per request",
            wait,
        )

    def _forget_full(self, now: float) -> None:
        full = [
            k
            for k, b in self._buckets.items()
            if b.tokens + (now - b.updated) * self.rate >= self.burst
        ]
        for k in full or list(self._buckets)[: MAX_BUCKETS // 10]:
            del self._buckets[k]


#: Largest request head accepted: all header names and values together, and their count.
MAX_HEADER_BYTES = 32 * 1024
MAX_HEADERS = 100
#: Longest path plus query string.
MAX_TARGET_BYTES = 8 * 1024
#: How much of a request head the HTTP server reads before giving up on it: well above the
#: two limits above, so that a head too large gets their answer (431, 414), not a reset.
HEAD_READ_BYTES = 256 * 1024
#: Largest body (as sent) of routes that take small JSON documents (sign-in, layouts, admin).
SMALL_BODY_BYTES = 1024 * 1024
#: Routes that take large bodies: up to the ``max_body_bytes`` setting as sent, and decoded
#: (ingest/decode.py); every other route gets SMALL_BODY_BYTES.
LARGE_BODY_PREFIXES = ("/v1/events", "/v1/returns", "/v1/webhooks/")
#: Sent with every answer; pages add their Content-Security-Policy (web/pages.py).
BASELINE_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
)


class RequestLimits:
    """ASGI middleware: refuses oversized request heads and targets before any route runs,
    stops reading a body past its route's limit (so no route ever buffers more), and adds
    the baseline security headers to every response."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        size = sum(len(name) + len(value) for name, value in headers)
        target = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
        if len(headers) > MAX_HEADERS or size > MAX_HEADER_BYTES:
            await _refuse(
                send,
                431,
                (
                    f"the request headers are too large ({len(headers)} headers, {size} bytes); "
                    f"expected at most {MAX_HEADERS} headers and {MAX_HEADER_BYTES} bytes"
                ),
            )
            return
        if target > MAX_TARGET_BYTES:
            await _refuse(
                send,
                414,
                (
                    f"the URL is {target} bytes long; expected at most {MAX_TARGET_BYTES} "
                    "(send long lists in fewer requests)"
                ),
            )
            return

        path: str = scope.get("path", "")
        limit = self.max_body_bytes if path.startswith(LARGE_BODY_PREFIXES) else SMALL_BODY_BYTES
        declared = dict(headers).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await _refuse(send, 413, f"the request body is larger than {limit} bytes; send less")
            return
        received = 0

        async def receive_limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLarge(
                        f"the request body is larger than {limit} bytes; send less"
                    )
            return message

        async def send_hardened(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in BASELINE_HEADERS if n not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive_limited, send_hardened)


async def _refuse(send: Send, status: int, message: str) -> None:
    body = msgspec.json.encode({"error": message})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *BASELINE_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
