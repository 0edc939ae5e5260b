"""The decode and validate steps of the ingest pipeline (ingest/pipeline.py): decompress a
body, split it, decode each event into its typed fields and apply the contract.

Each step is small and pure; an event that fails a step is rejected with its index, why
(``reason``, a DropReason value), the fields at fault and a message per field, and never
stops the events around it. What the sender wrote of a bounce's or error's reason and
category is noted on the way (``Batch.given``), so that no later step reads the body again.
"""

from __future__ import annotations

import codecs
import zlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import msgspec
import zstandard

from livereport.errors import BadRequest, InvalidEvent, PayloadTooLarge, UnsupportedMediaType
from livereport.events import Event, IncomingEvent, decode_incoming, normalise

JSON_TYPES = frozenset({"application/json"})
NDJSON_TYPES = frozenset({"application/x-ndjson", "application/ndjson", "application/jsonl"})


@dataclass
class Rejection:
    index: int
    id: str | None
    errors: list[str]
    reason: str = "invalid"
    fields: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, index: int, id_: str | None, exc: InvalidEvent) -> Rejection:
        return cls(index, id_, exc.errors, exc.reason, exc.fields)


#: What a sender wrote itself of a bounce's or error's qualification: {"reason": True, …}.
Given = dict[str, bool]
#: What an open or click says of the client that made it, (user agent, IP), "" when not given:
#: read by the machine step (ingest/machine.py), never stored.
Client = tuple[str, str]


@dataclass
class Batch:
    """What one request carried: the valid events (with their index), the rejections, for
    bounces and errors what the sender gave of their reason and category, and for opens and
    clicks the client's user agent and IP, by index."""

    events: list[tuple[int, Event]] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    given: dict[int, Given] = field(default_factory=dict)
    clients: dict[int, Client] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.events) + len(self.rejected)

    def add(
        self, index: int, incoming: IncomingEvent, *, now: datetime, retention: timedelta
    ) -> None:
        """Validate one decoded event into the batch (or its rejections)."""
        try:
            event = normalise(incoming, now=now, retention=retention)
        except InvalidEvent as exc:
            self.rejected.append(Rejection.of(index, incoming.id, exc))
            return
        self.events.append((index, event))
        if event.type in ("bounce", "error"):
            self.given[index] = {"reason": bool(incoming.reason), "bounce": bool(incoming.bounce)}
        elif (incoming.user_agent or incoming.ip) and event.type in ("open", "click"):
            self.clients[index] = (incoming.user_agent or "", incoming.ip or "")


async def read_body(
    chunks: AsyncIterator[bytes], encoding: str | None, max_bytes: int, *, utf8: bool = False
) -> bytes:
    """Read and decompress a body, refusing it as soon as either size passes ``max_bytes``;
    with ``utf8``, also as soon as it is not UTF-8 (JSON text must be, RFC 8259 §8.1)."""
    inflate = _decompressor(encoding, max_bytes)
    text = _Utf8() if utf8 else None
    out = bytearray()
    received = 0
    async for chunk in chunks:
        received += len(chunk)
        if received > max_bytes:
            raise PayloadTooLarge(f"the request body is larger than {max_bytes} bytes; send less")
        piece = chunk if inflate is None else inflate.feed(chunk, max_bytes - len(out))
        if text is not None:
            text.check(piece)
        out += piece
    if inflate is not None:
        inflate.finish()
    if text is not None:
        text.check(b"", final=True)
    return bytes(out)


class _Utf8:
    """Checks a body piece by piece as it arrives; says at which byte it stops being UTF-8."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._fed = 0

    def check(self, piece: bytes, final: bool = False) -> None:
        pending = len(self._decoder.getstate()[0])
        try:
            self._decoder.decode(piece, final)
        except UnicodeDecodeError as exc:
            where = self._fed - pending + exc.start
            raise BadRequest(
                f"the body is not valid UTF-8 at byte {where} ({exc.reason}); "
                "expected JSON text in UTF-8"
            ) from None
        self._fed += len(piece)


_ZSTD_SLICE = 128


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the decoded request body is larger than {limit} bytes; split it into smaller requests"
    )


class _Inflate:
    """A streaming decompressor that stops as soon as its output passes the limit.

    A body may hold several gzip members or zstd frames one after another (RFC 1952 §2.2,
    RFC 8878 §3): each is inflated in turn, and a body that ends inside one is refused.
    """

    def __init__(self, encoding: str, limit: int) -> None:
        self.encoding = encoding
        self.limit = limit
        self._member = self._new()

    def _new(self) -> Any:
        if self.encoding == "gzip":
            return zlib.decompressobj(wbits=47)
        return zstandard.ZstdDecompressor().decompressobj()

    def feed(self, data: bytes, room: int) -> bytes:
        out = bytearray()
        try:
            while data:
                if self._member.eof:
                    self._member = self._new()
                data = self._feed_member(data, room, out)
        except (zlib.error, zstandard.ZstdError) as exc:
            raise BadRequest(
                f"the body is not valid {self.encoding} data ({exc}); "
                "expected a body compressed as Content-Encoding says"
            ) from None
        return bytes(out)

    def _feed_member(self, data: bytes, room: int, out: bytearray) -> bytes:
        """Inflate into ``out`` until ``data`` is used up or the member ends; return the rest."""
        if self.encoding == "gzip":
            out += self._member.decompress(data, room - len(out) + 1)
            if len(out) > room or self._member.unconsumed_tail:
                raise _too_large(self.limit)
            return bytes(self._member.unused_data) if self._member.eof else b""
        # The zstd decompressor has no output bound: feed it in small slices, so a bomb
        # (up to 32 KB out per input byte) overshoots the limit by a few MB at most.
        for start in range(0, len(data), _ZSTD_SLICE):
            out += self._member.decompress(data[start : start + _ZSTD_SLICE])
            if len(out) > room:
                raise _too_large(self.limit)
            if self._member.eof:
                return bytes(self._member.unused_data) + data[start + _ZSTD_SLICE :]
        return b""

    def finish(self) -> None:
        if not self._member.eof:
            raise BadRequest(
                f"the {self.encoding} body ends early; expected a complete {self.encoding} stream"
            )


def _decompressor(encoding: str | None, limit: int) -> _Inflate | None:
    value = (encoding or "identity").strip().lower()
    if value == "identity":
        return None
    if value in ("gzip", "zstd"):
        return _Inflate(value, limit)
    raise UnsupportedMediaType(
        f"Content-Encoding {value!r} is not supported; expected gzip, zstd or none"
    )


def media_type(content_type: str | None) -> str:
    value = (content_type or "").split(";")[0].strip().lower()
    if value in JSON_TYPES or value in NDJSON_TYPES:
        return value
    raise UnsupportedMediaType(
        f"Content-Type {value or '(none)'!r} is not supported; expected application/json "
        "(an array of events) or application/x-ndjson (one event per line)"
    )


_WHOLE_BODY = msgspec.json.Decoder(list[IncomingEvent])
_LINES = msgspec.json.Decoder(IncomingEvent)


def decode_events(
    body: bytes, media: str, max_events: int, *, now: datetime, retention: timedelta
) -> Batch:
    """:func:`split_events` then :func:`validate_all`, in one decode of the whole body when
    it is a JSON array (or NDJSON lines) of events of the right types (the common case, and
    2× faster). When it is not, the event-by-event path finds and explains each bad event."""
    if media in JSON_TYPES or media in NDJSON_TYPES:
        try:
            # NDJSON: blank lines are skipped, as split_events does, so indexes agree.
            incoming = (
                _WHOLE_BODY.decode(body) if media in JSON_TYPES else _LINES.decode_lines(body)
            )
        except msgspec.DecodeError:  # msgspec.ValidationError too: explained event by event
            incoming = None
        if incoming is not None:
            _check_count(len(incoming), max_events)
            batch = Batch()
            for index, e in enumerate(incoming):
                batch.add(index, e, now=now, retention=retention)
            return batch
    return validate_all(split_events(body, media, max_events), now=now, retention=retention)


def _check_count(count: int, max_events: int) -> None:
    if count > max_events:
        raise PayloadTooLarge(
            f"the request holds {count} events; at most {max_events} are accepted per "
            "request, split it"
        )


def split_events(body: bytes, media: str, max_events: int) -> list[bytes | Rejection]:
    """Cut a body into one raw JSON document per event; a bad NDJSON line is a rejection."""
    items: list[bytes | Rejection] = []
    if media in NDJSON_TYPES:
        for line in body.split(b"\n"):
            if line.strip():
                items.append(line)
    else:
        try:
            raws = msgspec.json.decode(body, type=list[msgspec.Raw])
        except msgspec.ValidationError:
            raise BadRequest(
                "the body is JSON but not an array; expected a JSON array of event objects"
            ) from None
        except msgspec.DecodeError as exc:
            # msgspec names the byte of most errors, but not of a body that ends too early.
            where = "" if "(byte " in str(exc) else f" (byte {len(body)}, the end of the body)"
            raise BadRequest(f"the body is not valid JSON: {exc}{where}") from None
        items.extend(bytes(raw) for raw in raws)
    _check_count(len(items), max_events)
    return items


def _id_of(raw: bytes | Mapping[str, Any]) -> str | None:
    """The id of an event that could not be decoded, when it has a readable one."""
    if isinstance(raw, Mapping):
        value: Any = raw
    else:
        try:
            value = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            return None
    found = value.get("id") if isinstance(value, Mapping) else None
    return found[:128] if isinstance(found, str) else None


def validate_all(
    items: Sequence[bytes | Mapping[str, Any] | Rejection], *, now: datetime, retention: timedelta
) -> Batch:
    """Decode and validate items one by one: raw JSON documents, or mappings a door made
    (a provider's delivery, a returned mail, an AJO record)."""
    batch = Batch()
    for index, item in enumerate(items):
        if isinstance(item, Rejection):
            item.index = index
            batch.rejected.append(item)
            continue
        try:
            incoming = decode_incoming(item, now=now, retention=retention)
        except InvalidEvent as exc:
            batch.rejected.append(Rejection.of(index, _id_of(item), exc))
            continue
        batch.add(index, incoming, now=now, retention=retention)
    return batch
