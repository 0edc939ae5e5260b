"""`livereport returns`: returned mails into events, from mailboxes or by SMTP, through a
server or into the data directory opened in this process; and those that made no event."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from livereport import instance
from livereport.cli.common import (
    Failure,
    config_of,
    data_option,
    err,
    failures,
    made,
    place_options,
    print_table,
    printable,
    server_to_ask,
)
from livereport.report.render import Column


@click.group()
def returns() -> None:
    """Returned mails into events: import mailboxes, listen by SMTP, list unattributed ones."""


@contextmanager
def _return_sink(
    data: Path | None, url: str | None, key: str | None, org: str | None
) -> Iterator[Any]:
    """A running server's POST /v1/returns, else the data directory opened in this process."""
    from livereport.returns.inbox import LocalSink, ServerSink

    server = server_to_ask(data, url, key, org, running=True)
    if server is not None:
        yield ServerSink(*server)
        return
    from livereport.store.schema import migrate

    config, metadata = made(data)
    store = instance.open_store(config)
    migrate(store)
    sink = LocalSink(store, metadata, metadata.org(org).id, config.retention_days)
    try:
        yield sink
    finally:
        sink.close()


@returns.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@place_options("ingest", org_help="Org to store into (with --data; default: the first org).")
def returns_import(
    paths: tuple[Path, ...], data: Path | None, org: str | None, url: str | None, key: str | None
) -> None:
    """Read maildir folders, mbox files or single message files of returned mails."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from livereport.returns.inbox import MailboxTally, count_messages, read_messages

    tally = MailboxTally()
    with failures(), _return_sink(data, url, key, org) as sink:
        total = sum(count_messages(p) for p in paths)
        columns = (TextColumn("returned mails"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, console=err) as progress:
            task = progress.add_task("returns", total=total)
            chunk: list[tuple[str, bytes]] = []
            for path in paths:
                for found in read_messages(path):
                    chunk.append(found)
                    if len(chunk) == 200 or sum(len(raw) for _, raw in chunk) > 20_000_000:
                        _take_chunk(sink, chunk, tally)
                        progress.advance(task, len(chunk))
                        chunk = []
            _take_chunk(sink, chunk, tally)
            progress.advance(task, len(chunk))
    counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(tally.outcomes.items()))
    err.print(f"{tally.messages} returned mails: {counts or 'none'}", markup=False)
    for where, problem in tally.problems[:20]:
        err.print(f"  {where}: {problem}", markup=False)
    if tally.outcomes.get("kept"):
        err.print("Kept returns are listed by `livereport returns unattributed`.")


def _take_chunk(sink: Any, chunk: list[tuple[str, bytes]], tally: Any) -> None:
    """Store a chunk of returned mails at once (one insert), tallying each one's outcome."""
    if chunk:
        for (where, _), answer in zip(
            chunk, sink.take_many([raw for _, raw in chunk]), strict=True
        ):
            tally.add(where, answer)


@returns.command("unattributed")
@data_option
@click.option("--org", default=None)
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option(
    "--message",
    "message_id",
    type=int,
    default=None,
    help="Print the raw message of this kept return.",
)
def returns_unattributed(
    data: Path | None, org: str | None, limit: int, as_json: bool, message_id: int | None
) -> None:
    """Returned mails that made no event (no campaign and profile, or not a return), newest first."""
    import json

    from livereport.web.returns import kept_json

    with failures():
        metadata = instance.open_metadata(config_of(data))
        org_id = metadata.org(org).id
        if message_id is not None:
            raw = metadata.kept_return_message(org_id, message_id)
            if raw is None:
                raise Failure(f"no kept return {message_id}; see `livereport returns unattributed`")
            sys.stdout.buffer.write(raw)
            return
        kept = [kept_json(k) for k in metadata.kept_returns(org_id, limit)]
    if as_json:
        for row in kept:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    fields = ("id", "received", "kind", "reason", "status", "subject", "why")
    columns = [
        Column(
            f, "right" if f == "id" else "left", wrap=f in ("received", "reason", "subject", "why")
        )
        for f in fields
    ]
    print_table(columns, [[printable(str(row[k] or "")) for k in fields] for row in kept])


@returns.command("smtp")
@click.option(
    "--listen", default="127.0.0.1:2525", show_default=True, help="HOST:PORT to accept mail on."
)
@place_options("ingest", org_help=None, url_help="A server's base URL (else the data directory).")
@click.option(
    "--max-size",
    default=10_000_000,
    show_default=True,
    type=click.IntRange(1000, 100_000_000),
    help="Largest message accepted, in bytes.",
)
def returns_smtp(
    listen: str, data: Path | None, org: str | None, url: str | None, key: str | None, max_size: int
) -> None:
    """Accept returned mails for a bounce address over SMTP until stopped (Ctrl-C, SIGTERM)."""
    from aiosmtpd.controller import Controller

    from livereport.returns.inbox import SmtpHandler

    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise click.BadParameter(
            f"{listen!r}; expected HOST:PORT, e.g. 127.0.0.1:2525", param_hint="--listen"
        )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with failures(), _return_sink(data, url, key, org) as sink:
        controller = Controller(
            SmtpHandler(sink), hostname=host, port=int(port), data_size_limit=max_size
        )
        try:
            controller.start()
        except (OSError, RuntimeError) as exc:
            raise Failure(
                f"cannot listen on {listen} ({exc}); is the port in use? try --listen"
            ) from None
        err.print(f"livereport takes returned mails by SMTP on {listen}")
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        finally:
            controller.stop()
