"""A returned mail as one of our events: classify it, attribute it, and derive the event id from
the mail itself, so a return received twice (re-sent, imported again) is counted once.

Used by every door for returned mails: POST /v1/returns, `livereport returns import` and the
SMTP listener (web/returns.py stores what this module decides).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

from livereport.bounces.classify import Classification, ReturnKind, classify_message
from livereport.bounces.mail import header, parse_message, redact
from livereport.bounces.rules import DEFAULT_RULES, Rule
from livereport.ingest.pipeline import Context, Items, run_blocking
from livereport.ingest.writer import Writer
from livereport.store.metadata import KeptReturn, Metadata

#: The event each kind of return becomes, once attributed.
EVENT_TYPES: dict[ReturnKind, str] = {
    ReturnKind.BOUNCE: "bounce",
    ReturnKind.AUTO_REPLY: "bounce",
    ReturnKind.COMPLAINT: "spam_complaint",
    ReturnKind.DELAY: "retry",  # the sender's MTA keeps trying: the message is back in a retry queue
}

UNATTRIBUTED = (
    "no campaign and profile: the returned original has no X-Livereport-Campaign and "
    "X-Livereport-Profile headers, and no VERP address was found"
)
NOT_A_RETURN = "not recognised as a bounce, auto-reply, delay warning or feedback report"


@dataclass(frozen=True, slots=True)
class Return:
    """What one returned mail amounts to.

    ``event``: our event (a dict of the contract) when the return makes one and is attributed;
    ``kept_because``: why it is kept for an admin instead (None: nothing to keep, e.g. a DSN
    that reports a successful delivery).
    """

    digest: str  # sha256 of the return's identity: its Message-ID, else its whole content
    verdict: Classification
    subject: str
    event: dict[str, Any] | None
    kept_because: str | None


def read_return(raw: bytes, now: datetime, rules: Sequence[Rule] = DEFAULT_RULES) -> Return:
    """Classify (with ``rules``: the org's, then the defaults) and attribute a raw RFC 5322
    message; never raises on malformed input."""
    message = parse_message(raw)
    verdict = classify_message(raw, rules)
    message_id = header(message, "Message-ID").strip().strip("<>")
    identity = b"message-id:" + message_id.encode() if message_id else b"content:" + raw
    digest = hashlib.sha256(identity).hexdigest()
    subject = redact(header(message, "Subject"))[:200]
    kind = EVENT_TYPES.get(verdict.kind)
    if kind is None:
        because = NOT_A_RETURN if verdict.kind == ReturnKind.OTHER else None
        return Return(digest, verdict, subject, None, because)
    who = verdict.attribution
    if not (who.campaign and who.profile):
        return Return(digest, verdict, subject, None, UNATTRIBUTED)
    event: dict[str, Any] = {
        "id": f"return:{digest[:40]}",
        "time": _when(header(message, "Date"), now),
        "campaign": who.campaign[:128],
        "profile": who.profile[:256],
        "channel": "email",
        "type": kind,
        "execution": (who.execution or "")[:64] or None,
        "variant": (who.variant or "")[:64] or None,
        "recipient_domain": verdict.recipient_domain,
    }
    if kind == "bounce":
        event["reason"] = str(verdict.reason) if verdict.reason else None
        event["bounce"] = verdict.category.value if verdict.category else None
        smtp = {
            "status": verdict.status,
            "code": verdict.code if verdict.code and 200 <= verdict.code <= 599 else None,
            "diagnostic": (verdict.diagnostic or "")[:1000] or None,
        }
        event["smtp"] = {k: v for k, v in smtp.items() if v is not None} or None
    return Return(digest, verdict, subject, {k: v for k, v in event.items() if v is not None}, None)


#: Stores events for one org; returns, per event, True when new and False for a duplicate.
def take_return(raw: bytes, *, metadata: Metadata, writer: Writer, ctx: Context) -> dict[str, Any]:
    """Classify, attribute and store one returned mail; say what became of it.

    The answer's ``outcome``: ``accepted`` (a new event), ``duplicate`` (that return was
    taken before), ``rejected`` (its event breaks the contract, e.g. older than the retention),
    ``kept`` / ``kept-already`` (no event: kept for admins), ``ignored`` (nothing to count,
    e.g. a report of a successful delivery).
    """
    (answer,) = take_returns([raw], metadata=metadata, writer=writer, ctx=ctx)
    return answer


def take_returns(
    raws: Sequence[bytes], *, metadata: Metadata, writer: Writer, ctx: Context
) -> list[dict[str, Any]]:
    """`take_return` for many mails, their events going through the ingest pipeline as one
    batch (one insert)."""
    answers: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    waiting: list[int] = []  # the answers that wait for their event's outcome
    own = ctx.rules()
    rules = (*own, *DEFAULT_RULES) if own else DEFAULT_RULES
    ctx = replace(ctx, rules=lambda: own)  # the qualify step asks again: read them once
    for raw in raws:
        found = read_return(raw, ctx.now, rules)
        answer = describe(found)
        answers.append(answer)
        if found.event is not None:
            events.append(found.event)
            waiting.append(len(answers) - 1)
        elif found.kept_because is None:
            answer["outcome"] = "ignored"
        else:
            v = found.verdict
            kept = KeptReturn(
                found.digest,
                ctx.now.timestamp(),
                v.kind.value,
                v.category.value if v.category else None,
                v.reason,
                v.status,
                v.rule,
                found.subject,
                found.kept_because,
            )
            first = metadata.keep_return(ctx.org, kept, raw)
            answer.update(outcome="kept" if first else "kept-already", why=found.kept_because)
    if events:
        result = run_blocking(writer, Items(events), ctx)
        outcomes = result.outcomes()
        errors = {r.index: r.errors for r in result.rejected}
        for position, index in enumerate(waiting):
            answers[index]["outcome"] = outcomes[position]
            if position in errors:
                answers[index]["errors"] = errors[position]
    return answers


def describe(found: Return) -> dict[str, Any]:
    """The verdict on a return as JSON (SPEC §8's fields, plus attribution and the event)."""
    v = found.verdict
    return {
        "kind": v.kind.value,
        "is_bounce": v.is_bounce,
        "category": v.category.value if v.category else None,
        "reason": v.reason,
        "status": v.status,
        "rule": v.rule,
        "campaign": v.attribution.campaign,
        "profile": v.attribution.profile,
        "attributed_by": v.attribution.source,
        "event": {k: found.event[k] for k in ("id", "type")} if found.event else None,
    }


def _when(date: str, now: datetime) -> int:
    """The return's Date (when the failure was reported), never later than now; else now."""
    try:
        when = parsedate_to_datetime(date) if date else None
    except (TypeError, ValueError, IndexError):
        when = None
    if when is None or when.tzinfo is None or when > now:
        when = now
    return round(when.timestamp() * 1000)
