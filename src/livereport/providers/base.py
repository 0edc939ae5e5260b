"""What a provider module provides: verify a delivery's authentication, then parse its body
into canonical event dicts (SPEC §2) plus a count of the items it does not know."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from livereport.errors import BadRequest
from livereport.events import is_ip_address


@dataclass(frozen=True)
class Fields:
    """The names under which an org's senders put our ids in the provider's custom metadata."""

    campaign: str = "campaign"
    profile: str = "profile"
    execution: str = "execution"
    variant: str = "variant"

    def apply(self, metadata: Mapping[str, Any], event: dict[str, Any]) -> dict[str, Any]:
        """Copy campaign, profile, execution and variant from ``metadata`` into ``event``."""
        for ours, theirs in (
            ("campaign", self.campaign),
            ("profile", self.profile),
            ("execution", self.execution),
            ("variant", self.variant),
        ):
            value = metadata.get(theirs)
            if value is not None and value != "":
                event[ours] = value if isinstance(value, str) else str(value)
        return event


@dataclass(frozen=True)
class Delivery:
    """One HTTP delivery from a provider, as received."""

    url: str
    headers: Mapping[str, str]
    body: bytes
    now: datetime


@dataclass(frozen=True)
class Kept:
    """A provider notice that names no campaign and profile: kept for admins beside the
    unattributed returned mails (GET /v1/returns/unattributed), never dropped.

    ``digest`` keeps one copy per org when the provider re-delivers it; ``raw`` is the notice
    as received, so an admin can still act on it.
    """

    digest: str
    kind: str  # "bounce", "complaint" or "delivered", as for returned mails
    category: str | None
    reason: str | None
    status: str | None
    rule: str  # what decided the reason, e.g. "ses:Permanent/General"
    subject: str
    why: str
    raw: bytes


@dataclass
class Parsed:
    """Events in our contract, and how many provider items had no counterpart.

    ``unknown``: items of a type the module does not know (kept in the count, reported);
    ``ignored``: documented items that carry no event of ours (e.g. an intermediate status);
    ``notes``: what an admin must act on (an SNS subscription's confirmation URL);
    ``kept``: notices without attribution, stored for admins instead of events.
    """

    events: list[dict[str, Any]] = field(default_factory=list)
    unknown: int = 0
    ignored: int = 0
    notes: list[str] = field(default_factory=list)
    kept: list[Kept] = field(default_factory=list)


class Provider(Protocol):
    name: str

    def verify(self, delivery: Delivery, secret: str) -> None:
        """Raise Unauthorized unless the delivery carries the provider's valid signature."""

    def parse(self, delivery: Delivery, fields: Fields) -> Parsed:
        """Map the delivery's body to our events; raise BadRequest if it cannot be read."""


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two secrets or signatures."""
    return hmac.compare_digest(a.encode(), b.encode())


def epoch_ms(seconds: Any, what: str = "timestamp") -> int:
    """Epoch seconds (a number or its text) as epoch milliseconds; BadRequest otherwise."""
    try:
        return round(float(seconds) * 1000)
    except (TypeError, ValueError, OverflowError):
        raise BadRequest(f"{what}: expected epoch seconds, got {str(seconds)[:40]!r}") from None


def rfc3339(value: Any, what: str) -> str:
    """A provider's timestamp as RFC 3339; BadRequest when it is not one."""
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{what}: expected an RFC 3339 timestamp")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"{what}: {value[:40]!r} is not an RFC 3339 timestamp") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.isoformat()


def text(value: Any, limit: int) -> str | None:
    """A string value cut to ``limit`` characters, None when absent or empty."""
    if value is None or value == "":
        return None
    return str(value)[:limit]


def client_ip(value: Any) -> str | None:
    """A provider's client address of an open or click when the ``ip`` field accepts it, else
    None: a value that is no address is left out rather than making the event rejected."""
    return value if isinstance(value, str) and is_ip_address(value) else None
