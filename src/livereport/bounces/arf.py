"""Feedback-loop reports (RFC 5965 ARF): a recipient marked a message as spam.

They are spam complaints, not bounces; the reported message still says which send it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message


@dataclass(frozen=True, slots=True)
class FeedbackReport:
    """The machine-readable part of an ARF report."""

    feedback_type: str  # abuse, fraud, virus, other, not-spam…
    recipient: str | None  # Original-Rcpt-To


def is_arf(message: Message) -> bool:
    """Whether a message is a `multipart/report; report-type=feedback-report`."""
    if message.get_content_type() == "multipart/report":
        if str(message.get_param("report-type", "") or "").lower() == "feedback-report":
            return True
    return any(p.get_content_type() == "message/feedback-report" for p in message.walk())


def read_arf(message: Message) -> FeedbackReport:
    """The feedback type and reported recipient of an ARF report (fields are per RFC 5965)."""
    for part in message.walk():
        if part.get_content_type() != "message/feedback-report":
            continue
        # Same "Name: value" grammar as a DSN's blocks.
        fields = _fields(part)
        recipient = fields.get("original-rcpt-to") or fields.get("removal-recipient")
        return FeedbackReport(fields.get("feedback-type", "abuse").lower(), recipient)
    return FeedbackReport("abuse", None)


def _fields(part: Message) -> dict[str, str]:
    payload = part.get_payload()
    found: dict[str, str] = {}
    if isinstance(payload, list):
        for block in payload:
            if isinstance(block, Message):
                found.update({k.lower(): " ".join(str(v).split()) for k, v in block.items()})
        return found
    for line in str(payload).splitlines():
        name, sep, value = line.partition(":")
        if sep and name and " " not in name.strip():
            found.setdefault(name.strip().lower(), value.strip())
    return found
