"""Bulk loading of NDJSON event files (plain or .gz), into a server or a local data directory."""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import httpx
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from livereport.bounces.org import RuleStore, org_rules
from livereport.errors import StorageUnavailable
from livereport.ingest.decode import NDJSON_TYPES
from livereport.ingest.machine import SettingsStore, disabled_rules
from livereport.ingest.pipeline import Body, Context, run_blocking
from livereport.ingest.writer import Writer
from livereport.store.base import Store


@dataclass
class Summary:
    lines: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: list[tuple[str, list[str]]] = field(default_factory=list)


def _chunks(
    path: Path, size: int, progress: Progress, task: Any
) -> Iterator[tuple[list[int], list[bytes]]]:
    """(the file line number of each line, the chunk's non-blank lines), advancing the progress bar."""
    raw = path.open("rb")
    with raw, gzip.open(raw, "rb") if path.suffix == ".gz" else raw as f:
        lines: list[bytes] = []
        numbers: list[int] = []
        for number, line in enumerate(f, start=1):
            if line.strip():
                numbers.append(number)  # blank lines are skipped: keep each line's own number
                lines.append(line)
            if len(lines) >= size:
                progress.update(task, completed=raw.tell())
                yield numbers, lines
                lines, numbers = [], []
        if lines:
            yield numbers, lines
        progress.update(task, completed=raw.tell())


def load_files(
    files: Sequence[Path],
    *,
    batch: int = 5000,
    url: str | None = None,
    key: str | None = None,
    store: Store | None = None,
    org: int | None = None,
    retention_days: int = 30,
    metadata: OrgSettings | None = None,
) -> Summary:
    """Load files through a server (``url``, ``key``) or into ``store`` for ``org``; with
    ``metadata``, the org's own bounce rules apply as on the server (bounces/org.py)."""
    summary = Summary()
    writer: Writer | None = None
    if store is not None:
        writer = Writer(store, linger_s=0, retention_s=retention_days * 86_400)
        writer.start()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
    )
    try:
        with (
            Progress(*columns, console=Console(stderr=True)) as progress,
            httpx.Client(timeout=60) as client,
        ):
            for path in files:
                task = progress.add_task(path.name, total=path.stat().st_size)
                for numbers, lines in _chunks(path, batch, progress, task):
                    summary.lines += len(lines)
                    if writer is not None:
                        assert org is not None
                        result = _store_lines(writer, org, lines, retention_days, metadata)
                    else:
                        assert url is not None and key is not None
                        result = _post_lines(client, url, key, lines)
                    summary.accepted += result["accepted"]
                    summary.duplicates += result["duplicates"]
                    for r in result["rejected"]:
                        summary.rejected.append((f"{path.name}:{numbers[r['index']]}", r["errors"]))
    finally:
        if writer is not None:
            writer.stop()
    return summary


class OrgSettings(RuleStore, SettingsStore, Protocol):
    """What ingest reads of an org's own settings: its bounce rules and machine rules."""


def _store_lines(
    writer: Writer,
    org: int,
    lines: list[bytes],
    retention_days: int,
    metadata: OrgSettings | None = None,
) -> dict[str, Any]:
    rules = (lambda: org_rules(metadata, org)) if metadata is not None else tuple
    ctx = Context(org, datetime.now(UTC), timedelta(days=retention_days), rules)
    if metadata is not None:  # the machine rules the org turned off, as over HTTP
        ctx = replace(ctx, machine_off=lambda: disabled_rules(metadata, org))
    body = Body(b"\n".join(lines), next(iter(NDJSON_TYPES)), len(lines))
    return run_blocking(writer, body, ctx).answer(ids=False)


def _post_lines(client: httpx.Client, url: str, key: str, lines: list[bytes]) -> dict[str, Any]:
    body = b"".join(line if line.endswith(b"\n") else line + b"\n" for line in lines)
    headers = {"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"}
    return post_patiently(client, f"{url}/v1/events", key, gzip.compress(body, 1), headers)


def post_patiently(
    client: httpx.Client, url: str, key: str, content: bytes, headers: dict[str, str]
) -> dict[str, Any]:
    """POST to a server that may be saturated: its 429 and 503 answers are waited out as
    their Retry-After says, 30 times at most; its JSON answer, else StorageUnavailable."""
    headers = {"Authorization": f"Bearer {key}", **headers}
    for _attempt in range(30):
        response = client.post(url, content=content, headers=headers)
        if response.status_code in (429, 503):
            time.sleep(float(response.headers.get("Retry-After", "1")))
            continue
        if response.status_code != 200:
            raise StorageUnavailable(
                f"the server answered {response.status_code}: {response.text[:300]}"
            )
        result: dict[str, Any] = response.json()
        return result
    raise StorageUnavailable("the server stayed saturated for 30 attempts; try again later")
