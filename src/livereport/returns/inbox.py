"""Where returned mails come from besides HTTP: maildir folders, mbox files, single message
files, and an SMTP listener; and where they go: a running server, or a data directory.

`livereport returns import` and `livereport returns smtp` are built from these parts.
"""

from __future__ import annotations

import asyncio
import logging
import mailbox
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import httpx

from livereport.bounces.org import org_rules
from livereport.errors import BadRequest
from livereport.ingest.load import post_patiently
from livereport.ingest.pipeline import Context
from livereport.ingest.writer import Writer
from livereport.returns.intake import take_returns
from livereport.store.base import Store
from livereport.store.metadata import Metadata

log = logging.getLogger(__name__)


class Sink(Protocol):
    def take(self, raw: bytes) -> dict[str, Any]:
        """Store one returned mail; the answer of POST /v1/returns (with its ``outcome``)."""
        ...

    def take_many(self, raws: Sequence[bytes]) -> list[dict[str, Any]]:
        """Store several returned mails (faster than one by one); their answers, in order."""
        ...


@dataclass
class ServerSink:
    """Returned mails posted to a running server's POST /v1/returns."""

    url: str
    key: str
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=60))

    def take_many(self, raws: Sequence[bytes]) -> list[dict[str, Any]]:
        # The server's writer gathers concurrent requests into one insert.
        with ThreadPoolExecutor(max_workers=8) as pool:
            return list(pool.map(self.take, raws))

    def take(self, raw: bytes) -> dict[str, Any]:
        headers = {"Content-Type": "message/rfc822"}
        return post_patiently(self.client, f"{self.url}/v1/returns", self.key, raw, headers)


class LocalSink:
    """Returned mails stored into a data directory opened in this process."""

    def __init__(self, store: Store, metadata: Metadata, org: int, retention_days: int) -> None:
        self.metadata = metadata
        self.org = org
        self.retention = timedelta(days=retention_days)
        self.writer = Writer(store, linger_s=0, retention_s=retention_days * 86_400)
        self.writer.start()

    def take(self, raw: bytes) -> dict[str, Any]:
        return self.take_many([raw])[0]

    def take_many(self, raws: Sequence[bytes]) -> list[dict[str, Any]]:
        metadata, org = self.metadata, self.org
        ctx = Context(org, datetime.now(UTC), self.retention, lambda: org_rules(metadata, org))
        return take_returns(raws, metadata=metadata, writer=self.writer, ctx=ctx)

    def close(self) -> None:
        self.writer.stop()


def count_messages(path: Path) -> int:
    """How many messages `read_messages` will yield for a path (for a progress bar)."""
    if path.is_dir():
        return len(_maildir(path))
    if _is_mbox(path):
        box = mailbox.mbox(path, create=False)
        try:
            return len(box)
        finally:
            box.close()
    return 1


def read_messages(path: Path) -> Iterator[tuple[str, bytes]]:
    """(where, raw message) of a maildir folder, an mbox file, or a file of one message."""
    if path.is_dir():
        folder = _maildir(path)
        for key in sorted(folder.keys()):
            yield f"{path}/{key}", folder.get_bytes(key)
    elif _is_mbox(path):
        box = mailbox.mbox(path, create=False)
        try:
            for number, key in enumerate(box.keys(), start=1):
                yield f"{path}#{number}", box.get_bytes(key)
        finally:
            box.close()
    else:
        yield str(path), path.read_bytes()


def _maildir(path: Path) -> mailbox.Maildir:
    if not all((path / sub).is_dir() for sub in ("cur", "new", "tmp")):
        raise BadRequest(
            f"{path} is a folder but not a maildir; expected cur/, new/ and tmp/ in it"
        )
    return mailbox.Maildir(path, factory=None, create=False)


def _is_mbox(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(5) == b"From "


@dataclass
class MailboxTally:
    """Outcomes of an import, as POST /v1/returns names them."""

    messages: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    problems: list[tuple[str, str]] = field(default_factory=list)

    def add(self, where: str, answer: dict[str, Any]) -> None:
        self.messages += 1
        outcome = str(answer.get("outcome"))
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        if outcome == "rejected":
            self.problems.append((where, "; ".join(answer.get("errors", []))))


class SmtpHandler:
    """aiosmtpd handler: every message received becomes a return; the SMTP reply says whether
    it was stored (250) or should be sent again later (451)."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.lock = asyncio.Lock()  # one sink call at a time: sinks are not thread-safe

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        try:
            async with self.lock:
                await asyncio.get_running_loop().run_in_executor(None, self.sink.take, raw)
        except Exception:
            log.exception("returned mail from %s not stored", envelope.mail_from)
            return "451 4.3.0 The return could not be stored; try again later"
        return "250 2.0.0 Return taken"
