"""Returned mails for the tests of tests/returns: a DSN, an auto-reply and an ARF report,
attributed by the returned original's headers, by a VERP address, or not at all."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime


def _now() -> str:
    """The reports cover the last 24 hours: returns are dated now."""
    return format_datetime(datetime.now(UTC))


def original(campaign: str | None, profile: str | None) -> str:
    ids = ""
    if campaign and profile:
        ids = (
            f"X-Livereport-Campaign: {campaign}\nX-Livereport-Profile: {profile}\n"
            "X-Livereport-Execution: morning\n"
        )
    return (
        "From: Shop <news@shop.example>\nTo: <ana@example.com>\nSubject: Offers\n"
        f"Message-ID: <orig-{campaign}-{profile}@shop.example>\n{ids}"
    )


def dsn(
    message_id: str,
    campaign: str | None = None,
    profile: str | None = None,
    *,
    status: str = "5.1.1",
    diagnostic: str = "smtp; 550 5.1.1 <ana@example.com>: Recipient address rejected: User unknown",
    to: str = "<bounces@bounce.shop.example>",
    action: str = "failed",
) -> bytes:
    """An RFC 3464 report of a failed (or delayed) delivery to ana@example.com."""
    return (
        "From: MAILER-DAEMON@mx.example.com (Mail Delivery System)\n"
        f"To: {to}\nSubject: Undelivered Mail Returned to Sender\n"
        f"Date: {_now()}\nMessage-ID: <{message_id}@mx.example.com>\n"
        "Auto-Submitted: auto-replied\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n'
        "--B\nContent-Type: text/plain\n\nThe mail system could not deliver your message.\n\n"
        "--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.com\n\n"
        f"Final-Recipient: rfc822; ana@example.com\nAction: {action}\nStatus: {status}\n"
        f"Diagnostic-Code: {diagnostic}\n\n"
        f"--B\nContent-Type: text/rfc822-headers\n\n{original(campaign, profile)}\n--B--\n"
    ).encode()


def auto_reply(message_id: str, to: str) -> bytes:
    return (
        f"From: Ana <ana@example.com>\nTo: {to}\nSubject: Out of office: Offers\n"
        f"Date: {_now()}\nMessage-ID: <{message_id}@example.com>\n"
        "Auto-Submitted: auto-replied\nX-Autoreply: yes\n\nI am away until Monday.\n"
    ).encode()


def arf(message_id: str, campaign: str, profile: str) -> bytes:
    return (
        "From: feedback@isp.example\nTo: fbl@shop.example\nSubject: Abuse report\n"
        f"Date: {_now()}\nMessage-ID: <{message_id}@isp.example>\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="F"\n\n'
        "--F\nContent-Type: text/plain\n\nA user marked this message as spam.\n\n"
        "--F\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\n"
        "User-Agent: isp-fbl/1.0\nVersion: 1\nOriginal-Rcpt-To: ana@example.com\n\n"
        f"--F\nContent-Type: message/rfc822\n\n{original(campaign, profile)}\nHello\n\n--F--\n"
    ).encode()


def ordinary(message_id: str) -> bytes:
    return (
        "From: Bo <bo@example.org>\nTo: bounces@bounce.shop.example\nSubject: Lunch?\n"
        f"Message-ID: <{message_id}@example.org>\n\nShall we have lunch on Friday?\n"
    ).encode()
