"""RFC 3464 delivery status notifications: the per-recipient Action, Status and Diagnostic-Code.

Read from a `message/delivery-status` part (RFC 6533's `message/global-delivery-status` too).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

from livereport.bounces.mail import part_text

DSN_TYPES = ("message/delivery-status", "message/global-delivery-status")
_FIELD = re.compile(r"^([A-Za-z0-9-]+)[ \t]*:[ \t]*(.*)$")
_ACTION_ORDER = ("failed", "delayed", "delivered", "relayed", "expanded")


@dataclass(frozen=True, slots=True)
class RecipientReport:
    """One per-recipient block of a DSN."""

    recipient: str | None  # the address of Final-Recipient (else Original-Recipient)
    action: str  # failed, delayed, delivered, relayed, expanded ("" when missing)
    status: str | None
    diagnostic: str | None  # Diagnostic-Code without its type ("smtp;")
    remote_mta: str | None


def is_dsn(message: Message) -> bool:
    """Whether a message is a delivery report or carries a delivery-status part."""
    if message.get_content_type() == "multipart/report":
        report_type = str(message.get_param("report-type", "") or "").lower()
        if report_type in ("delivery-status", "global-delivery-status"):
            return True
    return any(part.get_content_type() in DSN_TYPES for part in message.walk())


def read_dsn(message: Message) -> list[RecipientReport]:
    """Every per-recipient block of every delivery-status part, the most telling action first."""
    reports: list[RecipientReport] = []
    for part in message.walk():
        if part.get_content_type() in DSN_TYPES:
            for block in _blocks(part)[1:] or _blocks(part):
                report = _recipient(block)
                if report is not None:
                    reports.append(report)
    return sorted(reports, key=lambda r: _rank(r.action))


def _rank(action: str) -> int:
    return _ACTION_ORDER.index(action) if action in _ACTION_ORDER else len(_ACTION_ORDER)


def _blocks(part: Message) -> list[dict[str, str]]:
    """The field groups of a delivery-status part: per-message first, then per-recipient."""
    payload = part.get_payload()
    if isinstance(payload, list) and payload:
        return [
            {name.lower(): " ".join(str(value).split()) for name, value in block.items()}
            for block in payload
            if isinstance(block, Message)
        ]
    return _parse_fields(part_text(part) if not isinstance(payload, str) else payload)


def _parse_fields(text: str) -> list[dict[str, str]]:
    """Field groups from raw text, for parts the MIME parser left as one string."""
    blocks: list[dict[str, str]] = [{}]
    last = ""
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            if blocks[-1]:
                blocks.append({})
            continue
        if line[0] in " \t" and last:
            blocks[-1][last] += " " + line.strip()
            continue
        match = _FIELD.match(line)
        if match:
            last = match.group(1).lower()
            blocks[-1][last] = match.group(2).strip()
    return [block for block in blocks if block]


def _recipient(block: dict[str, str]) -> RecipientReport | None:
    recipient = block.get("final-recipient") or block.get("original-recipient")
    if recipient is None and "action" not in block and "status" not in block:
        return None
    diagnostic = _typed_value(block.get("diagnostic-code"))
    return RecipientReport(
        recipient=_typed_value(recipient),
        action=block.get("action", "").split()[0].lower() if block.get("action") else "",
        status=block.get("status") or None,
        diagnostic=diagnostic or None,
        remote_mta=_typed_value(block.get("remote-mta")),
    )


def _typed_value(value: str | None) -> str | None:
    """ "rfc822; a@b" → "a@b", "smtp; 550 …" → "550 …" (an untyped value is kept whole)."""
    if value is None:
        return None
    kind, sep, rest = value.partition(";")
    if sep and re.fullmatch(r"[A-Za-z0-9-]+", kind.strip()):
        return rest.strip()
    return value.strip()
