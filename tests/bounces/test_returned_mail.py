"""Returned mails: DSN parsing, text bounces, auto-replies, ARF reports and attribution."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from livereport.bounces.attribution import read_verp, verp_address
from livereport.bounces.classify import ReturnKind, classify_message
from livereport.bounces.dsn import read_dsn
from livereport.bounces.mail import parse_message
from livereport.bounces.rules import Category

ORIGINAL = (
    "From: Shop <news@shop.example>\nTo: <ana@Example.COM>\nSubject: Offers\n"
    "Message-ID: <m-1@shop.example>\nX-Livereport-Campaign: spring-sale\n"
    "X-Livereport-Profile: p-42\nX-Livereport-Event: evt-9\n"
)


def dsn(
    action: str = "failed", status: str = "5.1.1", diagnostic: str = "", original: str = ORIGINAL
) -> bytes:
    return (
        "From: MAILER-DAEMON@mta.example (Mail Delivery System)\n"
        "To: <bounces+spring-sale=p-42@bounce.shop.example>\n"
        "Subject: Undelivered Mail Returned to Sender\nAuto-Submitted: auto-replied\n"
        'MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n'
        "--B\nContent-Type: text/plain\n\nThe mail system\n\n"
        "--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mta.example\n\n"
        f"Final-Recipient: rfc822; ana@Example.COM\nAction: {action}\nStatus: {status}\n"
        f"Diagnostic-Code: smtp; {diagnostic}\n\n"
        f"--B\nContent-Type: text/rfc822-headers\n\n{original}\n--B--\n"
    ).encode()


def plain(headers: str, body: str = "Hello.\n") -> bytes:
    return f"From: Kim <kim@example.org>\nTo: <news@shop.example>\n{headers}\n{body}".encode()


# RFC 3464 DSNs


def test_dsn_status_and_diagnostic_decide_with_their_rule() -> None:
    found = classify_message(
        dsn(diagnostic="550 5.1.1 <ana@example.com>: Recipient address\n rejected: User unknown")
    )
    assert found.kind == ReturnKind.BOUNCE and found.is_bounce
    assert (found.category, found.reason, found.status) == (
        Category.HARD,
        "Invalid Recipient",
        "5.1.1",
    )
    assert found.rule == "dsn+diagnostic:user-unknown" and found.code == 550


def test_dsn_status_alone_decides_when_the_diagnostic_says_nothing() -> None:
    found = classify_message(dsn(status="5.2.2", diagnostic="x-unix; input/output error"))
    assert (found.reason, found.rule) == ("Mailbox Full", "dsn+status:5.2.2")


def test_dsn_keeps_only_the_recipient_domain() -> None:
    found = classify_message(dsn(diagnostic="550 5.1.1 <ana@example.com>... User unknown"))
    assert found.recipient_domain == "example.com"
    assert found.diagnostic is not None and "ana@" not in found.diagnostic
    assert "*@example.com" in found.diagnostic


def test_dsn_blocks_are_read_failed_first_and_folded_fields_unfolded() -> None:
    raw = dsn(diagnostic="550 5.1.1 no such\n    user").replace(
        b"Final-Recipient: rfc822; ana@Example.COM\nAction: failed",
        b"Final-Recipient: rfc822; bo@example.org\nAction: delayed\nStatus: 4.4.1\n\n"
        b"Final-Recipient: rfc822; ana@Example.COM\nAction: failed",
    )
    reports = read_dsn(parse_message(raw))
    assert [r.action for r in reports] == ["failed", "delayed"]
    assert reports[0].diagnostic == "550 5.1.1 no such user"
    assert reports[0].recipient == "ana@Example.COM"


@pytest.mark.parametrize(
    ("action", "kind", "rule"),
    [
        ("delayed", ReturnKind.DELAY, "dsn:delayed"),
        ("relayed", ReturnKind.DELIVERED, "dsn:relayed"),
    ],
)
def test_delay_and_success_reports_are_not_bounces(
    action: str, kind: ReturnKind, rule: str
) -> None:
    found = classify_message(dsn(action=action, status="4.4.1", diagnostic="connect timed out"))
    assert (found.kind, found.is_bounce, found.category, found.rule) == (kind, False, None, rule)


# Non-standard bounces


def test_exim_text_bounce_is_read_from_its_quoted_reply() -> None:
    raw = (
        "From: Mail Delivery System <Mailer-Daemon@mta.example>\nTo: <bounces+c1=p1@b.example>\n"
        "Subject: Mail delivery failed: returning message to sender\n"
        "X-Failed-Recipients: ana@example.net\n\n"
        "This message was created automatically by mail delivery software.\n\n"
        "A message that you sent could not be delivered to one or more of its\nrecipients. "
        "This is a permanent error. The following address(es) failed:\n\n  ana@example.net\n"
        "    host mx.example.net [192.0.2.1]\n    SMTP error from remote mail server after "
        "RCPT TO:<ana@example.net>:\n    552 5.2.2 Mailbox full\n\n"
        "------ This is a copy of the message, including all the headers. ------\n\n" + ORIGINAL
    ).encode()
    found = classify_message(raw)
    assert (found.reason, found.category, found.status, found.code) == (
        "Mailbox Full",
        Category.SOFT,
        "5.2.2",
        552,
    )
    assert found.rule.startswith("exim+") and found.recipient_domain == "example.net"
    assert found.attribution.campaign == "spring-sale" and found.attribution.source == "headers"


def test_qmail_bounce_without_reply_code_reads_the_status_in_its_text() -> None:
    raw = (
        "From: MAILER-DAEMON@mta.example\nSubject: failure notice\n\n"
        "Hi. This is the qmail-send program at mta.example.\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
        "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
        "<bo@example.org>:\nSorry, no mailbox here by that name. (#5.1.1)\n\n"
        "--- Below this line is a copy of the message.\n\n" + ORIGINAL
    ).encode()
    found = classify_message(raw)
    assert (found.reason, found.status, found.recipient_domain) == (
        "Invalid Recipient",
        "5.1.1",
        "example.org",
    )
    assert found.rule.startswith("qmail+")


def test_a_person_writing_about_errors_is_not_a_bounce() -> None:
    found = classify_message(plain("Subject: a permanent error\n", "This is a permanent error.\n"))
    assert (found.kind, found.is_bounce, found.rule) == (ReturnKind.OTHER, False, "none")


# Auto-replies (RFC 3834 and variants)


@pytest.mark.parametrize(
    ("headers", "signal"),
    [
        ("Auto-Submitted: auto-replied\nSubject: Re: Offers\n", "auto-submitted"),
        ("X-Autoreply: yes\nSubject: Away\n", "x-autoreply"),
        ("Precedence: auto_reply\nSubject: Re: Offers\n", "precedence"),
        ("Subject: Automatic reply: Offers\n", "subject"),
        ("Subject: Out of Office: Offers\n", "subject"),
    ],
)
def test_auto_replies_are_ignored_bounces_of_reason_auto_reply(headers: str, signal: str) -> None:
    found = classify_message(plain(headers))
    assert (found.kind, found.is_bounce, found.category, found.reason, found.rule) == (
        ReturnKind.AUTO_REPLY,
        True,
        Category.IGNORED,
        "Auto-Reply",
        f"autoreply:{signal}",
    )


def test_auto_generated_notifications_are_not_auto_replies() -> None:
    found = classify_message(plain("Auto-Submitted: auto-generated\nSubject: Your invoice\n"))
    assert found.kind == ReturnKind.OTHER


def test_a_bounce_marked_auto_replied_stays_a_bounce() -> None:
    assert classify_message(dsn(diagnostic="550 5.1.1 User unknown")).kind == ReturnKind.BOUNCE


# Feedback-loop reports (RFC 5965)


def test_arf_report_is_a_complaint_attributed_to_its_send() -> None:
    raw = (
        "From: fbl@isp.example\nTo: fbl@shop.example\nSubject: FW: Offers\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="F"\n\n'
        "--F\nContent-Type: text/plain\n\nThis is an email abuse report.\n"
        "--F\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\nVersion: 1\n"
        "Original-Rcpt-To: <ana@example.com>\n\n"
        f"--F\nContent-Type: message/rfc822\n\n{ORIGINAL}\nHello\n--F--\n"
    ).encode()
    found = classify_message(raw)
    assert (found.kind, found.is_bounce, found.category, found.reason) == (
        ReturnKind.COMPLAINT,
        False,
        None,
        None,
    )
    assert found.rule == "arf:feedback-report" and found.recipient_domain == "example.com"
    assert (found.attribution.campaign, found.attribution.profile) == ("spring-sale", "p-42")


# Attribution


def test_attribution_from_the_returned_headers() -> None:
    who = classify_message(dsn(diagnostic="550 5.1.1 User unknown")).attribution
    assert (who.campaign, who.profile, who.event, who.source) == (
        "spring-sale",
        "p-42",
        "evt-9",
        "headers",
    )


def test_attribution_from_verp_when_the_original_has_no_tags() -> None:
    raw = dsn(
        diagnostic="550 5.1.1 User unknown",
        original="From: news@shop.example\nMessage-ID: <m-7@shop.example>\n",
    )
    who = classify_message(raw).attribution
    assert (who.campaign, who.profile, who.event, who.source) == (
        "spring-sale",
        "p-42",
        "m-7@shop.example",
        "verp",
    )


def test_unattributed_returns_say_so() -> None:
    raw = dsn(diagnostic="550 5.1.1 User unknown", original="From: news@shop.example\n")
    raw = raw.replace(b"bounces+spring-sale=p-42@", b"returns@")
    assert classify_message(raw).attribution.source is None


@pytest.mark.parametrize(
    ("campaign", "profile"),
    [("spring-sale", "p-42"), ("promo ß/2026", "user=7+x@y"), ("a~b", "~41")],
)
def test_verp_round_trips_any_ids(campaign: str, profile: str) -> None:
    address = verp_address(campaign, profile, "bounce.shop.example")
    local = address.partition("@")[0]
    assert local.isascii() and "@" not in local and local.count("=") == 1
    assert read_verp(address) == (campaign, profile)
    assert read_verp(f"<{address.upper()}>") is not None


def test_verp_format_is_the_documented_one() -> None:
    assert verp_address("promo ß", "p-1", "b.example") == "bounces+promo~20~C3~9F=p-1@b.example"
    assert read_verp("news@shop.example") is None


# Robustness


@pytest.mark.parametrize("raw", [b"", b"\x00\xff\xfe garbage", b"Subject: =?bad?=\n\n\xff"])
def test_malformed_input_is_classified_not_raised(raw: bytes) -> None:
    assert classify_message(raw).kind == ReturnKind.OTHER


def test_damaged_corpus_messages_never_raise() -> None:
    rng = random.Random(5965)
    files = sorted((Path(__file__).resolve().parent / "corpus").rglob("*.eml"))
    for path in rng.sample(files, 60):
        raw = path.read_bytes()
        for _ in range(8):
            damaged = bytearray(raw[: rng.randrange(len(raw) + 1)])
            for _ in range(rng.randrange(10)):
                if damaged:
                    damaged[rng.randrange(len(damaged))] = rng.randrange(256)
            assert classify_message(bytes(damaged)).kind in ReturnKind
