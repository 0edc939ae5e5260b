"""`livereport ingest --format ajo`: records exported from the reference product's message
feedback and message tracking datasets (JSON lines) mapped to our events.

A record may be nested (``{"_experience": {"customerJourneyManagement": {...}}}``) or use
dotted keys (``"_experience.customerJourneyManagement.messageDeliveryfeedback.feedbackStatus"``).
Records that carry no event of ours are skipped and counted by reason; the mapping is in
docs/bounces.md.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

from livereport.ingest.load import post_patiently
from livereport.ingest.pipeline import Context, Items, run_blocking
from livereport.ingest.writer import Writer
from livereport.store.base import Store

CJM = "_experience.customerJourneyManagement"
CHANNELS = {
    "email": "email",
    "sms": "sms",
    "push": "push",
    "inapp": "inapp",
    "in-app": "inapp",
    "web": "web",
    "directmail": "directmail",
    "direct-mail": "directmail",
}
PLATFORMS = {"apns": "ios", "apnssandbox": "ios", "fcm": "android", "web": "web"}
#: Feedback status → our event type; None: documented, but no event of ours.
FEEDBACK = {
    "sent": "sent",
    "delivered": "delivered",
    "bounce": "bounce",
    "delay": "retry",
    "exclude": "excluded",
    "denylist": "excluded",
    "error": "error",
    "duplicate": None,
}
INTERACTIONS = {
    "open": "open",
    "opened": "open",
    "click": "click",
    "clicked": "click",
    "unsubscribe": "unsubscribe",
    "unsubscribed": "unsubscribe",
    "spamcomplaint": "spam_complaint",
    "complaint": "spam_complaint",
}
#: Top-level eventType of push and in-app / web tracking records → (type, interaction).
EVENT_TYPES = {
    "pushtracking.applicationopened": ("open", None),
    "pushtracking.customaction": ("action", None),
    "decisioning.propositiondisplay": ("impression", None),
    "decisioning.propositioninteract": ("interaction", "click"),
    "decisioning.propositiondismiss": ("interaction", "dismiss"),
}


class Skip(Exception):
    """A record that carries no event of ours; the message is the reason, counted."""


def get(record: Mapping[str, Any], path: str) -> Any:
    """A field by its dotted path, nested or written as one dotted key; None when absent."""
    if path in record:
        return record[path]
    head, dot, rest = path.partition(".")
    while dot:
        inner = record.get(head)
        if isinstance(inner, Mapping):
            return get(inner, rest)
        more, dot, rest = rest.partition(".")
        head = f"{head}.{more}"
    return record.get(head)


def to_event(record: Mapping[str, Any]) -> dict[str, Any]:
    """Map one exported record to an event of our contract; raise Skip when it carries none."""
    channel = _channel(record)
    status = _text(get(record, f"{CJM}.messageDeliveryfeedback.feedbackStatus"))
    interaction = _text(get(record, f"{CJM}.messageInteraction.interactionType"))
    kind = _text(get(record, "eventType")).lower()
    event: dict[str, Any] = {}
    if status:
        type_ = FEEDBACK.get(status.lower(), "unknown")
        if type_ == "unknown":
            raise Skip(f"feedback status {status[:40]!r} unknown")
        if type_ is None:
            raise Skip(f"feedback status {status}: no event")
        if type_ == "retry" and channel != "email":
            raise Skip(f"feedback status delay on {channel}: no event")
        event.update(_feedback(record, status.lower(), type_))
    elif interaction:
        type_ = INTERACTIONS.get(interaction.lower().replace(" ", "").replace("_", ""))
        if type_ is None:
            raise Skip(f"interaction type {interaction[:40]!r} unknown")
        event["type"] = type_
    elif kind in EVENT_TYPES:
        type_, how = EVENT_TYPES[kind]
        event.update(type=type_, interaction=how)
    else:
        raise Skip("neither a feedback status, an interaction type nor a tracking eventType")
    record_id = _text(get(record, "_id"))
    if not record_id:
        raise Skip("no _id")
    event.update(
        id=f"ajo:{record_id}"[:128],
        time=get(record, "timestamp"),
        campaign=_campaign(record),
        profile=_profile(record),
        channel=channel,
        platform=_platform(record),
        recipient=_text(get(record, f"{CJM}.emailChannelContext.address")) or None,
    )
    return {k: v for k, v in event.items() if v is not None and v != ""}


def _feedback(record: Mapping[str, Any], status: str, type_: str) -> dict[str, Any]:
    feedback = f"{CJM}.messageDeliveryfeedback"
    if type_ == "excluded":
        if status == "denylist":
            return {"type": type_, "reason": "Denylisted address", "code": "denylist"}
        # The export's exclusion code is the top-level reason; its "reason" is the sub-code.
        code = _text(get(record, f"{feedback}.messageExclusion.code"))
        detail = _text(get(record, f"{feedback}.messageExclusion.reason"))
        return {
            "type": type_,
            "reason": (code or detail)[:256] or None,
            "code": detail[:64] or None,
        }
    if type_ in ("bounce", "error"):
        failure = f"{feedback}.messageFailure"
        found: dict[str, Any] = {
            "type": type_,
            "reason": _text(get(record, f"{failure}.reason"))[:256] or None,
            "code": _text(get(record, f"{failure}.code"))[:64] or None,
        }
        category = _text(get(record, f"{failure}.type")).lower()
        if type_ == "bounce" and category in ("hard", "soft", "ignored"):
            found["bounce"] = category
        return found
    return {"type": type_}


def _channel(record: Mapping[str, Any]) -> str:
    raw = _text(get(record, f"{CJM}.messageProfile.channel._id"))
    name = raw.rstrip("/").rpartition("/")[2].lower()
    if name not in CHANNELS:
        raise Skip(f"channel {raw[:60]!r} unknown" if raw else "no channel")
    return CHANNELS[name]


def _campaign(record: Mapping[str, Any]) -> str:
    execution = f"{CJM}.messageExecution"
    for path in (f"{execution}.campaignID", f"{execution}.journeyVersionID"):
        found = _text(get(record, path))
        if found:
            return found
    raise Skip("no campaignID or journeyVersionID")


def _profile(record: Mapping[str, Any]) -> str:
    """The primary identity of identityMap, else its first one, else the interaction's profile."""
    identities = get(record, "identityMap")
    if isinstance(identities, Mapping):
        found = [
            item
            for items in identities.values()
            if isinstance(items, list)
            for item in items
            if isinstance(item, Mapping) and _text(item.get("id"))
        ]
        primary = [item for item in found if item.get("primary") is True]
        if primary or found:
            return _text((primary or found)[0]["id"])
    profile = _text(get(record, f"{CJM}.messageInteraction.profileID"))
    if profile:
        return profile
    raise Skip("no identity in identityMap")


def _platform(record: Mapping[str, Any]) -> str | None:
    raw = _text(get(record, f"{CJM}.pushChannelContext.platform")).lower()
    return PLATFORMS.get(raw, "other") if raw else None


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else str(value) if isinstance(value, int) else ""


@dataclass
class AjoSummary:
    lines: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: list[tuple[str, list[str]]] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)


def read_records(path: Path) -> Iterator[tuple[int, Any, int]]:
    """(line number, parsed JSON or why the line is not JSON, bytes read so far) of a JSON lines
    file, plain or .gz."""
    raw = path.open("rb")
    with raw, gzip.open(raw, "rb") if path.suffix == ".gz" else raw as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line), raw.tell()
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                yield number, f"not JSON ({exc})", raw.tell()


def load_ajo_files(
    files: Sequence[Path],
    *,
    batch: int = 5000,
    url: str | None = None,
    key: str | None = None,
    store: Store | None = None,
    org: int | None = None,
    retention_days: int = 30,
) -> AjoSummary:
    """Map and store every record of the files, into a server (url, key) or a store (org)."""
    summary = AjoSummary()
    writer = Writer(store, linger_s=0, retention_s=retention_days * 86_400) if store else None
    if writer is not None:
        writer.start()
    pending: list[tuple[str, dict[str, Any]]] = []

    def flush() -> None:
        if writer is not None:
            assert org is not None
            _store(writer, org, pending, summary, retention_days)
        else:
            assert url is not None and key is not None
            _post(client, url, key, pending, summary)
        pending.clear()

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn())
    try:
        with (
            Progress(*columns, console=Console(stderr=True)) as progress,
            httpx.Client(timeout=60) as client,
        ):
            for path in files:
                task = progress.add_task(path.name, total=path.stat().st_size)
                for number, record, position in read_records(path):
                    summary.lines += 1
                    where = f"{path.name}:{number}"
                    if not isinstance(record, dict):
                        problem = record if isinstance(record, str) else "not a JSON object"
                        summary.rejected.append(
                            (where, [f"record: {problem}; expected one JSON object per line"])
                        )
                        continue
                    try:
                        pending.append((where, to_event(record)))
                    except Skip as skip:
                        summary.skipped[str(skip)] = summary.skipped.get(str(skip), 0) + 1
                    if len(pending) >= batch:
                        flush()
                        progress.update(task, completed=position)
                if pending:
                    flush()
                progress.update(task, completed=path.stat().st_size)
    finally:
        if writer is not None:
            writer.stop()
    return summary


def _store(
    writer: Writer,
    org: int,
    pending: list[tuple[str, dict[str, Any]]],
    summary: AjoSummary,
    retention_days: int,
) -> None:
    ctx = Context(org, datetime.now(UTC), timedelta(days=retention_days))
    result = run_blocking(writer, Items([raw for _, raw in pending]), ctx)
    summary.accepted += result.accepted
    summary.duplicates += result.duplicates
    for r in result.rejected:
        summary.rejected.append((pending[r.index][0], r.errors))


def _post(
    client: httpx.Client,
    url: str,
    key: str,
    pending: list[tuple[str, dict[str, Any]]],
    summary: AjoSummary,
) -> None:
    body = "".join(json.dumps(raw) + "\n" for _, raw in pending).encode()
    headers = {"Content-Type": "application/x-ndjson"}
    result = post_patiently(client, f"{url}/v1/events", key, body, headers)
    summary.accepted += result["accepted"]
    summary.duplicates += result["duplicates"]
    for r in result["rejected"]:
        summary.rejected.append((pending[r["index"]][0], r["errors"]))
