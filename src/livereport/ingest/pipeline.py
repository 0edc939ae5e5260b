"""The one way events are stored, whichever door they came through.

Every door turns what it received into a :class:`Source` and hands it to :func:`prepare`
then :func:`store` (or :func:`run` / :func:`run_blocking`, which do both):

    POST /v1/events              a JSON or NDJSON body                  Body
    provider webhooks            the provider's items, mapped to events Items
    POST /v1/returns, `returns import`, `returns smtp`
                                 the events of the returned mails       Items
    `ingest FILE`                NDJSON lines                           Body
    `ingest --format ajo`        AJO records, mapped to events          Items

The steps, in :data:`STEPS` order, each working on the whole batch:

decode     the body, or the door's mapped items, into typed incoming events
validate   the event contract (events.py)
qualify    a bounce's reason and category from its SMTP data, by the org's own rules before
           the defaults, keeping what the sender gave (bounces/org.py)
codes      a push or SMS failure's provider code to its reason
machine    which opens and clicks a machine made, and by which rule: the sender's or provider's
           flag, Apple's proxy, a scanner's user agent, too soon after delivery, every link at
           once; the org may turn rules off (ingest/machine.py)
store      the writer drops what the org sent before (same id) and stores the rest

An event dropped by a step is accounted for with a :class:`DropReason`, which the metrics
count as is, and, when rejected, with its index, its id and a message per field at fault.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from starlette.concurrency import run_in_threadpool

from livereport.bounces.org import apply_provider_codes, qualify_bounces
from livereport.bounces.rules import Rule
from livereport.ingest import machine as machines
from livereport.ingest.decode import Batch, Rejection, decode_events, validate_all
from livereport.ingest.writer import Writer


class DropReason(StrEnum):
    """Why an event that reached a door is not stored."""

    #: Not JSON, not an object, or a field of the wrong JSON type.
    UNREADABLE = "unreadable"
    #: A value breaks the contract: unknown type or channel, a pair the matrix forbids…
    INVALID = "invalid"
    #: Only its time is wrong: older than the retention, or more than 5 minutes ahead.
    OUT_OF_TIME = "out_of_time"
    #: The org sent an event with this id before; the first one is kept.
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class Body:
    """A request body as the sender wrote it (decompressed): JSON array or NDJSON."""

    body: bytes
    media: str
    max_events: int


@dataclass(frozen=True)
class Items:
    """Events a door mapped from its own input, one document (mapping or JSON) each."""

    items: Sequence[Mapping[str, Any] | bytes]


Source = Body | Items


class Counts(Protocol):
    """What the pipeline tells the metrics (observe.py ``IngestMetrics``)."""

    def count_dropped(self, reason: str, fields: Sequence[str] = (), count: int = 1) -> None: ...


@dataclass
class IngestResult:
    """What became of each event of a source: stored (``flags[i]`` True), a duplicate
    (False), or rejected; ``indexes`` gives the source index of each flag."""

    indexes: list[int] = field(default_factory=list)
    flags: list[bool] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return sum(self.flags)

    @property
    def duplicates(self) -> int:
        return len(self.flags) - self.accepted

    def outcomes(self) -> dict[int, str]:
        """By source index: "accepted", "duplicate" or "rejected"."""
        found = {r.index: "rejected" for r in self.rejected}
        for index, new in zip(self.indexes, self.flags, strict=True):
            found[index] = "accepted" if new else "duplicate"
        return found

    def answer(self, *, ids: bool = True) -> dict[str, Any]:
        """The API's answer: counts, and each rejection with its index (and id) and errors."""
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": [
                {"index": r.index, **({"id": r.id} if ids else {}), "errors": r.errors}
                for r in sorted(self.rejected, key=lambda r: r.index)
            ],
        }


@dataclass(frozen=True)
class Context:
    """Who the events are for and the rules they are checked against."""

    org: int
    now: datetime
    retention: timedelta
    #: The org's own bounce rules (called at most once, and only when a bounce needs them).
    rules: Callable[[], Sequence[Rule]] = tuple
    metrics: Counts | None = None
    #: The names of the machine rules the org turned off (called at most once, and only when
    #: the batch has an open or click): ``lambda: machine.disabled_rules(metadata, org)``.
    machine_off: Callable[[], Collection[str]] = frozenset
    #: The deliveries and clicks seen lately; the process's own unless a test brings one.
    memory: machines.Memory = machines.PROCESS_MEMORY


def decode(source: Source, ctx: Context) -> Batch:
    """decode + validate: typed, normalised events and the rejections."""
    if isinstance(source, Body):
        return decode_events(
            source.body, source.media, source.max_events, now=ctx.now, retention=ctx.retention
        )
    return validate_all(source.items, now=ctx.now, retention=ctx.retention)


def qualify(batch: Batch, ctx: Context) -> Batch:
    qualify_bounces(batch.events, batch.given.get, ctx.rules)
    return batch


def codes(batch: Batch, ctx: Context) -> Batch:
    apply_provider_codes(batch.events, batch.given.get)
    return batch


def machine(batch: Batch, ctx: Context) -> Batch:
    machines.detect(batch.events, batch.clients, ctx.org, ctx.machine_off, ctx.memory)
    return batch


#: The steps before the store, in order; each takes the batch and returns it.
STEPS: tuple[tuple[str, Callable[[Batch, Context], Batch]], ...] = (
    ("qualify", qualify),
    ("codes", codes),
    ("machine", machine),
)


def prepare(source: Source, ctx: Context) -> Batch:
    """Every step but the store (CPU only: run it off the event loop)."""
    batch = decode(source, ctx)
    for _name, step in STEPS:
        batch = step(batch, ctx)
    if ctx.metrics is not None:
        for rejection in batch.rejected:
            ctx.metrics.count_dropped(DropReason(rejection.reason), rejection.fields)
    return batch


def _result(batch: Batch, flags: list[bool], ctx: Context) -> IngestResult:
    duplicates = len(flags) - sum(flags)
    if ctx.metrics is not None and duplicates:
        ctx.metrics.count_dropped(DropReason.DUPLICATE, count=duplicates)
    return IngestResult([i for i, _ in batch.events], flags, batch.rejected)


async def store(writer: Writer, batch: Batch, ctx: Context) -> IngestResult:
    """The store step from the event loop: wait until the writer has stored the batch."""
    flags = await writer.submit(ctx.org, [e for _, e in batch.events])
    return _result(batch, flags, ctx)


def store_blocking(writer: Writer, batch: Batch, ctx: Context) -> IngestResult:
    """The store step from a worker thread or a command."""
    events = [e for _, e in batch.events]
    flags = writer.submit_nowait(ctx.org, events).result() if events else []
    return _result(batch, flags, ctx)


async def run(writer: Writer, source: Source, ctx: Context) -> IngestResult:
    """The whole pipeline for a door on the event loop."""
    batch = await run_in_threadpool(prepare, source, ctx)
    return await store(writer, batch, ctx)


def run_blocking(writer: Writer, source: Source, ctx: Context) -> IngestResult:
    """The whole pipeline for a door in a worker thread or a command."""
    return store_blocking(writer, prepare(source, ctx), ctx)
