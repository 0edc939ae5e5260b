"""What an alert notification says, and how it goes out: the signed webhook body, the Slack
text, the email, the pause call, and the SMTP send.

Everything here is pure formatting except ``send_email``; HTTP deliveries go through
targets.TargetPool (or targets.post), which connects only to addresses the guard allows.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import smtplib
import socket
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import msgspec

from livereport import __version__
from livereport.alerts.targets import (
    DeliveryFailed,
    TargetRefused,
    check_email,
    check_smtp_host,
    checked_addresses,
)
from livereport.errors import BadRequest
from livereport.report.catalogue import METRICS, Format

EVENTS = frozenset({"fired", "resolved", "test"})
SMTP_SECURITY = ("starttls", "tls", "none")
SMTP_TIMEOUT = 10.0
#: The alert fields an email lists under its summary, in this order (those that are set).
EMAIL_FIELDS = (
    "id",
    "rule",
    "campaign",
    "channel",
    "execution",
    "dimension",
    "key",
    "state",
    "severity",
    "metric",
    "condition",
    "threshold",
    "span_minutes",
    "value",
    "volume",
    "baseline",
    "fired_at",
    "resolved_at",
    "resolved_value",
    "resolved_volume",
    "acknowledged_by",
    "acknowledged_at",
)
_DELIVERY_ID = re.compile(r"[A-Za-z0-9._:-]{1,200}")
#: Control characters, and the Unicode line and paragraph separators, which some mail and
#: chat clients break lines on: none of them may reach a header or a one-line summary.
_BREAKS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")


def _user_agent() -> str:
    try:
        return f"livereport/{version('livereport')}"
    except PackageNotFoundError:
        return f"livereport/{__version__}"


USER_AGENT = _user_agent()


# --- webhooks and pause calls -------------------------------------------------------------


def sign(body: bytes, secret: str) -> str:
    """The X-Livereport-Signature of ``body``: receivers recompute it with the same secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_request(
    alert: Mapping[str, Any], event: str, secret: str, delivery_id: str
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a webhook notification: the alert plus ``event``, signed with
    the org's alert secret."""
    if event not in EVENTS:
        raise ValueError(f"event {event!r}: expected one of {', '.join(sorted(EVENTS))}")
    body = msgspec.json.encode({**alert, "event": event})
    return body, _headers(body, secret, delivery_id, event)


def pause_request(
    alert: Mapping[str, Any], secret: str, delivery_id: str
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a rule's pause call, signed with the rule's pause secret."""
    body = msgspec.json.encode(
        {
            "action": "pause",
            "campaign": alert.get("campaign"),
            "channel": alert.get("channel"),
            "execution": alert.get("execution"),
            "alert": alert,
        }
    )
    return body, _headers(body, secret, delivery_id, "pause")


def _headers(body: bytes, secret: str, delivery_id: str, event: str) -> dict[str, str]:
    if not _DELIVERY_ID.fullmatch(delivery_id):
        raise ValueError(
            f"delivery id {delivery_id[:50]!r}: expected 1 to 200 of A-Z a-z 0-9 . _ : -"
        )
    return {
        "Content-Type": "application/json",
        "X-Livereport-Signature": sign(body, secret),
        "X-Livereport-Delivery": delivery_id,
        "X-Livereport-Event": event,
        "User-Agent": USER_AGENT,
    }


# --- the words of an alert ----------------------------------------------------------------


def describe(alert: Mapping[str, Any]) -> str:
    """The alert in one line, e.g. "FIRING critical · complaint_rate 0.42 % (above 0.3 %)
    over 60 min on campaign spring-sale / email · 2,381 delivered"; a resolved alert gives
    the numbers it resolved on."""
    resolved = alert.get("state") == "resolved"
    head = f"{'RESOLVED' if resolved else 'FIRING'} {_text(alert.get('severity'))}"
    span = _text(alert.get("span_minutes"))
    where = _scope(alert)
    if alert.get("condition") == "stall" or alert.get("metric") == "stall":
        sent = _count(alert.get("volume"))
        if resolved:
            return f"{head} · deliveries resumed {where} (none in {span} min while {sent} sent)"
        return f"{head} · no deliveries in {span} min while {sent} sent, {where}"
    value, volume = alert.get("value"), alert.get("volume")
    if resolved and alert.get("resolved_volume") is not None:
        value, volume = alert.get("resolved_value"), alert.get("resolved_volume")
    metric = str(alert.get("metric") or "")
    condition = _text(alert.get("condition") or "above")
    threshold, baseline = alert.get("threshold"), alert.get("baseline")
    reading = f"{_text(metric or alert.get('rule'))} {_value(metric, value)}"
    if baseline is not None and isinstance(value, int | float):
        reading += f", {_change(metric, value - baseline)} on {_value(metric, baseline)} before"
        judged = f"(change {condition} {_limit(metric, threshold, change=True)})"
    else:
        judged = f"({condition} {_limit(metric, threshold)})"
    line = f"{head} · {reading} {judged} over {span} min {where}"
    found = METRICS.get(metric)
    if found is not None and found.ratio is not None:
        line += f" · {_count(volume)} {found.ratio[1].replace('_', ' ')}"
    return line


def _scope(alert: Mapping[str, Any]) -> str:
    where = f"on campaign {_text(alert.get('campaign'))} / {_text(alert.get('channel'))}"
    if alert.get("execution") is not None:
        where += f", execution {_text(alert['execution'])}"
    if alert.get("dimension") is not None:
        where += f", {_text(alert['dimension'])} {_text(alert.get('key') or 'any')}"
    return where


def _is_rate(metric: str) -> bool:
    found = METRICS.get(metric)
    return found is not None and found.format == Format.RATE


def _value(metric: str, value: Any) -> str:
    if not isinstance(value, int | float):
        return "n/a"
    if _is_rate(metric):
        return f"{value * 100:.2f} %"
    return _count(value)


def _limit(metric: str, threshold: Any, *, change: bool = False) -> str:
    if not isinstance(threshold, int | float):
        return "n/a"
    if _is_rate(metric):
        return f"{threshold * 100:.4g} {'pt' if change else '%'}"
    return _count(threshold)


def _change(metric: str, delta: float) -> str:
    if _is_rate(metric):
        return f"{delta * 100:+.2f} pt"
    return f"{delta:+,.0f}" if float(delta).is_integer() else f"{delta:+,.2f}"


def _count(value: Any) -> str:
    if not isinstance(value, int | float):
        return "n/a"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _text(value: Any, limit: int = 200) -> str:
    """``value`` as one line of at most ``limit`` characters: an id may hold anything."""
    return _BREAKS.sub(" ", str(value)).strip()[:limit]


def _headline(alert: Mapping[str, Any], event: str) -> str:
    return ("[test] " if event == "test" else "") + describe(alert)


# --- Slack and email ----------------------------------------------------------------------


def slack_request(alert: Mapping[str, Any], event: str) -> bytes:
    """The body of a Slack incoming-webhook message: the summary, then the rule, the alert
    and its times. Every character Slack reads as markup (& < >) is escaped, so a campaign
    id cannot mention @channel or forge a link."""
    details = [
        f"rule {_text(alert.get('rule'))}",
        f"alert #{_text(alert.get('id'))}",
        f"fired {_text(alert.get('fired_at'))}",
    ]
    for name, label in (("resolved_at", "resolved"), ("acknowledged_by", "acknowledged by")):
        if alert.get(name) is not None:
            details.append(f"{label} {_text(alert[name])}")
    text = _headline(alert, event) + "\n" + " · ".join(details)
    return msgspec.json.encode({"text": slack_escape(text)})


def slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def email_message(alert: Mapping[str, Any], event: str, sender: str, to: str) -> EmailMessage:
    """A plain-text alert email. ``sender`` and ``to`` must each be one plain address
    (BadRequest otherwise); nothing of the alert can add a header, as every value put in
    one is cut to a single line first."""
    check_email(sender, "sender")
    check_email(to, "to")
    state = "RESOLVED" if alert.get("state") == "resolved" else "FIRING"
    test = "TEST " if event == "test" else ""
    subject = (
        f"[livereport] {test}{state} {_text(alert.get('severity'), 20)}: "
        f"{_text(alert.get('metric') or alert.get('rule'), 60)} on {_text(alert.get('campaign'), 100)} "
        f"({_text(alert.get('channel'), 20)})"
    )
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = to
    message["Date"] = formatdate(usegmt=True)
    # A domain of our own, so that make_msgid does not look up this machine's name in DNS.
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    message["X-Livereport-Event"] = _text(event, 20)
    lines = [_headline(alert, event), ""]
    lines += [
        f"{name}: {_text(alert[name])}" for name in EMAIL_FIELDS if alert.get(name) is not None
    ]
    message.set_content("\n".join(lines) + "\n")
    return message


def send_email(smtp: Mapping[str, Any], message: EmailMessage, *, allow_private: bool) -> None:
    """Send ``message`` through the org's SMTP server ``smtp`` ({host, port, security,
    username?, password?}), blocking for at most about SMTP_TIMEOUT seconds per step; raises
    DeliveryFailed (TargetRefused when the guard says no) with what went wrong."""
    host, port, security = (
        smtp.get("host", ""),
        smtp.get("port", 0),
        smtp.get("security", "starttls"),
    )
    if security not in SMTP_SECURITY:
        raise DeliveryFailed(
            f"the SMTP security {security!r} is unknown; expected one of {', '.join(SMTP_SECURITY)}"
        )
    try:
        host = check_smtp_host(host, port, allow_private=allow_private, resolve=False)
    except BadRequest as exc:
        raise TargetRefused(f"the SMTP server: {exc.message}") from None
    where = f"the SMTP server {host}:{port}"
    context = ssl.create_default_context()
    step = "connecting"
    try:
        client: smtplib.SMTP
        if security == "tls":
            client = _GuardedSMTPS(host, port, allow_private=allow_private, context=context)
        else:
            client = _GuardedSMTP(host, port, allow_private=allow_private)
        with client:
            if security == "starttls":
                step = "starting TLS"
                client.starttls(context=context)
            if smtp.get("username"):
                step = "logging in"
                client.login(smtp["username"], smtp.get("password") or "")
            step = "sending"
            client.send_message(message)
    except DeliveryFailed:
        raise
    except smtplib.SMTPNotSupportedError as exc:
        raise DeliveryFailed(f"{where} does not support {step}: {exc}") from exc
    except smtplib.SMTPRecipientsRefused as exc:
        refused = "; ".join(
            f"{to}: {code} {_reply(text)}" for to, (code, text) in exc.recipients.items()
        )
        raise DeliveryFailed(f"{where} refused the recipient ({refused})") from exc
    except smtplib.SMTPResponseException as exc:
        raise DeliveryFailed(
            f"{where} answered {exc.smtp_code} {_reply(exc.smtp_error)} while {step}"
        ) from exc
    except TimeoutError as exc:
        raise DeliveryFailed(
            f"{where} did not answer within {SMTP_TIMEOUT:g} s while {step}"
        ) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryFailed(
            f"{where} failed while {step}: {_text(exc) or type(exc).__name__}"
        ) from exc


def _reply(text: bytes | str) -> str:
    return _text(text.decode(errors="replace") if isinstance(text, bytes) else text)


def _connect(host: str, port: int, timeout: float, *, allow_private: bool) -> socket.socket:
    """A connection to a checked address of ``host`` (see targets.checked_addresses)."""
    failure: OSError = OSError(f"{host} resolves to no address")
    for address in checked_addresses(host, port, allow_private=allow_private):
        try:
            return socket.create_connection((address, port), timeout)
        except OSError as exc:
            failure = exc
    raise failure


class _GuardedSMTP(smtplib.SMTP):
    """smtplib's client on a checked address; STARTTLS still verifies the server's name,
    which smtplib keeps from the constructor."""

    def __init__(self, host: str, port: int, *, allow_private: bool) -> None:
        self._allow_private = allow_private
        super().__init__(host, port, timeout=SMTP_TIMEOUT)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return _connect(host, port, timeout, allow_private=self._allow_private)


class _GuardedSMTPS(smtplib.SMTP_SSL):
    """``_GuardedSMTP`` over TLS from the first byte (port 465)."""

    def __init__(
        self, host: str, port: int, *, allow_private: bool, context: ssl.SSLContext
    ) -> None:
        self._allow_private = allow_private
        super().__init__(host, port, timeout=SMTP_TIMEOUT, context=context)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        connection = _connect(host, port, timeout, allow_private=self._allow_private)
        return self.context.wrap_socket(connection, server_hostname=host)
