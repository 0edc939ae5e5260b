"""Property-based tests of ingest: the event decoder and ``POST /v1/events`` get arbitrary
and adversarial bodies (random bytes, odd JSON, events with hostile fields, mutated valid
bodies, compressed or not). Nothing is ever a 5xx, and every refusal says what is wrong."""

from __future__ import annotations

import asyncio
import gzip
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tenants import Tenants, start_tenants

from livereport.errors import LivereportError
from livereport.ingest.decode import NDJSON_TYPES, decode_events, read_body

LIMIT = 1 << 20
MEDIA = ["application/json", "application/x-ndjson"]

# JSON values of every kind, a few levels deep, with the numbers and strings that hurt.
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=40)
    | st.sampled_from(
        ["", "\x00", "\u0000nul", "\ud7ff", "é" * 300, "x" * 2000, "2026-01-01T00:00:00Z"]
    )
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = [
    "id",
    "time",
    "campaign",
    "type",
    "profile",
    "channel",
    "execution",
    "variant",
    "reason",
    "code",
    "bounce",
    "smtp",
    "recipient",
    "recipient_domain",
    "platform",
    "interaction",
    "element",
    "url",
    "machine",
    "user_agent",
]


def _valid() -> dict[str, Any]:
    return {
        "id": uuid.uuid4().hex,
        "time": datetime.now(UTC).isoformat(),
        "campaign": "props",
        "type": "sent",
        "channel": "email",
        "profile": "p-1",
    }


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    """A valid event with some fields replaced by anything, dropped, or added."""
    event = _valid()
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=4)):
        if draw(st.booleans()):
            event[name] = draw(values)
        else:
            event.pop(name, None)
    event.update(draw(st.dictionaries(st.text(max_size=8), values, max_size=2)))
    return event


@st.composite
def bodies(draw: st.DrawFn) -> tuple[bytes, str]:
    """(body, media type): random bytes, any JSON, event lists, or a mutated valid body."""
    media = draw(st.sampled_from(MEDIA))
    kind = draw(st.sampled_from(["bytes", "json", "events", "mutated"]))
    if kind == "bytes":
        return draw(st.binary(max_size=600)), media
    if kind == "json":
        return json.dumps(draw(values)).encode(), media
    batch = draw(st.lists(events(), min_size=1, max_size=5))
    if media in NDJSON_TYPES:
        body = b"\n".join(json.dumps(e, ensure_ascii=draw(st.booleans())).encode() for e in batch)
    else:
        body = json.dumps(batch, ensure_ascii=draw(st.booleans())).encode()
    if kind == "mutated":
        raw = bytearray(body)
        for _ in range(draw(st.integers(1, 5))):
            at = draw(st.integers(0, len(raw)))
            raw[at : at + draw(st.integers(0, 3))] = draw(st.binary(max_size=3))
        body = bytes(raw)
    return body, media


def _decode(body: bytes, media: str) -> Any:
    """The ingest decoding steps, as the app runs them."""

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 97):  # odd chunk sizes split characters
            yield body[start : start + 97]

    text = asyncio.run(read_body(chunks(), None, LIMIT, utf8=True))
    now = datetime.now(UTC)
    return decode_events(text, media, 10_000, now=now, retention=timedelta(days=30))


@settings(max_examples=400, deadline=None, database=None)
@given(bodies())
def test_the_decoder_accounts_for_every_event_or_says_what_is_wrong(
    case: tuple[bytes, str],
) -> None:
    body, media = case
    try:
        batch = _decode(body, media)
    except LivereportError as exc:
        assert 400 <= exc.status < 500 and len(exc.message) > 10
        return
    except RecursionError:  # only for nesting past the interpreter's depth; the app says 400
        return
    for rejected in batch.rejected:
        assert rejected.errors and all(isinstance(e, str) and len(e) > 3 for e in rejected.errors)
    indexes = sorted([i for i, _ in batch.events] + [r.index for r in batch.rejected])
    assert indexes == list(range(batch.size))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tenants]:
    env = {"LIVEREPORT_KEY_REQUESTS_PER_S": "0", "LIVEREPORT_MAX_BODY_BYTES": str(LIMIT)}
    tenants = start_tenants(tmp_path_factory.mktemp("properties") / "data", env)
    try:
        yield tenants
    finally:
        tenants.server.stop()


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(case=bodies(), compress=st.sampled_from([None, "gzip", "truncated-gzip", "zstd-claimed"]))
def test_post_events_never_fails_with_5xx_and_explains_every_refusal(
    site: Tenants, case: tuple[bytes, str], compress: str | None
) -> None:
    body, media = case
    headers = {"Content-Type": media}
    if compress is not None:
        headers["Content-Encoding"] = "zstd" if compress == "zstd-claimed" else "gzip"
        if compress == "gzip":
            body = gzip.compress(body)
        elif compress == "truncated-gzip":
            body = gzip.compress(body)[:-5]
    with httpx.Client(base_url=site.url, timeout=60) as client:
        response = client.post(
            "/v1/events",
            content=body,
            headers={**headers, "Authorization": f"Bearer {site.keys['a']}"},
        )
    assert response.status_code < 500, response.text
    answer = response.json()
    if response.status_code == 200:
        for rejected in answer["rejected"]:
            assert rejected["errors"] and all(len(e) > 3 for e in rejected["errors"])
    else:
        assert 400 <= response.status_code < 500 and len(answer["error"]) > 10
