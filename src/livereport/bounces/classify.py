"""Classify one returned mail: bounce (DSN or text), auto-reply, feedback report, or other.

Entry point of automatic return processing and of `livereport bounces classify`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import Message
from enum import StrEnum

from livereport.bounces.arf import is_arf, read_arf
from livereport.bounces.attribution import Attribution, attribute
from livereport.bounces.autoreply import read_auto_reply
from livereport.bounces.dsn import is_dsn, read_dsn
from livereport.bounces.mail import (
    address_domain,
    header,
    original_headers,
    parse_message,
    redact,
    report_text,
    strip_addresses,
)
from livereport.bounces.qualify import Qualification, qualify, read_code, read_status
from livereport.bounces.rules import DEFAULT_CATEGORY, DEFAULT_RULES, Category, Reason, Rule
from livereport.bounces.textbounce import read_text_bounce, report_diagnostic


class ReturnKind(StrEnum):
    """What a returned mail is."""

    BOUNCE = "bounce"  # a failed delivery (DSN or a non-standard bounce)
    AUTO_REPLY = "auto-reply"  # counted as a bounce of reason Auto-Reply, category ignored
    DELAY = "delay"  # a warning that delivery is still being retried: not a bounce yet
    DELIVERED = "delivered"  # a success DSN (Action: delivered, relayed, expanded)
    COMPLAINT = "complaint"  # an ARF feedback report: a spam complaint
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Classification:
    """The verdict on one returned mail, with what it was read from."""

    kind: ReturnKind
    category: Category | None
    reason: str | None
    status: str | None  # enhanced status code found, if any
    rule: str  # which rule decided: "dsn+status:5.1.1", "autoreply:subject", "none"…
    code: int | None = None  # SMTP reply code found, if any
    diagnostic: str | None = None
    recipient_domain: str | None = None  # only the domain of the failed recipient (SPEC §2)
    attribution: Attribution = field(default_factory=Attribution)

    @property
    def is_bounce(self) -> bool:
        """Bounces and auto-replies become bounce events; the other kinds do not."""
        return self.kind in (ReturnKind.BOUNCE, ReturnKind.AUTO_REPLY)


def classify_message(raw: bytes, rules: Sequence[Rule] = DEFAULT_RULES) -> Classification:
    """Classify a raw RFC 5322 message with a rule table (an org's rules first, then the
    defaults: bounces/org.py); never raises on malformed input."""
    message = parse_message(raw)
    who = attribute(message, original_headers(message))
    if is_arf(message):
        feedback = read_arf(message)
        domain = address_domain(feedback.recipient)
        return Classification(
            ReturnKind.COMPLAINT,
            None,
            None,
            None,
            "arf:feedback-report",
            recipient_domain=domain,
            attribution=who,
        )
    if is_dsn(message):
        verdict = _from_dsn(message, who, rules)
        if verdict is not None:
            return verdict
    text = report_text(message)
    bounce = read_text_bounce(message, text)
    if bounce is not None:
        domain = address_domain(bounce.recipient)
        if bounce.delayed:
            status = read_status(bounce.diagnostic)
            return Classification(
                ReturnKind.DELAY,
                None,
                None,
                status,
                f"{bounce.format}:delayed",
                read_code(bounce.diagnostic),
                _clean(bounce.diagnostic),
                domain,
                who,
            )
        code = read_code(bounce.diagnostic) or bounce.code
        found = qualify(code=code, diagnostic=strip_addresses(bounce.diagnostic), rules=rules)
        if found.rule == "fallback:undetermined":
            # No code and no telling words, but the server gave up and returned the mail
            # (a delay warning was told apart above): a permanent failure, cause unsaid.
            reason = Reason.GENERIC_BOUNCE
            found = Qualification(
                reason.value, DEFAULT_CATEGORY[reason], found.status, "fallback:returned"
            )
        return Classification(
            ReturnKind.BOUNCE,
            found.category,
            found.reason,
            found.status,
            f"{bounce.format}+{found.rule}",
            code,
            _clean(bounce.diagnostic),
            domain,
            who,
        )
    signal = read_auto_reply(message)
    if signal is not None:
        sender = address_domain(header(message, "From").rpartition("<")[2].strip(">"))
        reason = Reason.AUTO_REPLY
        return Classification(
            ReturnKind.AUTO_REPLY,
            DEFAULT_CATEGORY[reason],
            reason.value,
            None,
            f"autoreply:{signal}",
            recipient_domain=sender,
            attribution=who,
        )
    return Classification(ReturnKind.OTHER, None, None, None, "none", attribution=who)


def _from_dsn(message: Message, who: Attribution, rules: Sequence[Rule]) -> Classification | None:
    reports = read_dsn(message)
    if not reports:
        return None
    first = reports[0]
    domain = address_domain(first.recipient)
    code = read_code(first.diagnostic or "")
    status = read_status(first.status or "")
    if first.action in ("delivered", "relayed", "expanded"):
        return Classification(
            ReturnKind.DELIVERED,
            None,
            None,
            status,
            f"dsn:{first.action}",
            code,
            _clean(first.diagnostic),
            domain,
            who,
        )
    if first.action == "delayed" and not _expired(status):
        return Classification(
            ReturnKind.DELAY,
            None,
            None,
            status,
            "dsn:delayed",
            code,
            _clean(first.diagnostic),
            domain,
            who,
        )
    found = qualify(
        status=first.status, diagnostic=strip_addresses(first.diagnostic or ""), rules=rules
    )
    rule = f"dsn+{found.rule}"
    if found.rule.startswith(_VAGUE) and not first.diagnostic:
        # The machine-readable part names no cause (Exim's "Status: 5.0.0" without a
        # Diagnostic-Code, a bare "550"): the report's own text may, in the MTA's words.
        said = report_diagnostic(report_text(message))
        better = qualify(status=first.status, diagnostic=strip_addresses(said), rules=rules)
        if not better.rule.startswith(_VAGUE):
            found, rule = better, f"dsn+text+{better.rule}"
    return Classification(
        ReturnKind.BOUNCE,
        found.category,
        found.reason,
        found.status,
        rule,
        code,
        _clean(first.diagnostic),
        domain,
        who,
    )


def _expired(status: str | None) -> bool:
    """X.4.7, delivery time expired (RFC 3463): the server gave up, whatever the report's
    Action says (OpenSMTPD reports an expired envelope as "delayed")."""
    return status is not None and status.endswith(".4.7")


#: Decisions that say no more than "it failed": the fallbacks and the bare reply codes.
_VAGUE = ("fallback:", "code:")


def _clean(diagnostic: str | None) -> str | None:
    """The diagnostic as kept: addresses reduced to their domain (SPEC §2)."""
    return redact(diagnostic) if diagnostic else None
